"""Vega-Lite chart specs built with altair from the collected data, and PNGs via vl-convert.

DVC's own Vega templates cannot be loaded by altair, and its `confusion` template sums
counts over revisions when diffing, so every chart is built here from the datapoints.
Both functions are pure: a spec dict in, PNG bytes out; nothing touches the disk.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from dvc_cml.model import BASE, DataPlot, PlotKind, Point
from dvc_cml.render import palette
from dvc_cml.render.confusion import class_order as _class_order
from dvc_cml.render.confusion import counts as confusion_counts
from dvc_cml.render.controls import HIDDEN_CLASS, NOT_XML_CLASS

WIDTH, HEIGHT = 560, 300
PANEL = 220
SMALL_PANEL = 150  # confusion panels with more than three heads
FACET_COLUMNS = 6  # several heads: confusion panels per row
DIFFERENCE = "difference (head − base)"


class ChartError(Exception):
    """vl-convert could not render a spec."""


# What a chart cannot hold.  vl-convert measures text through an SVG parser and aborts the
# whole process (exit 134) on characters XML cannot hold: C0 controls, lone surrogates,
# U+FFFE and U+FFFF.  Vega-Lite writes titles into tooltip expressions without escaping a
# backslash, so `a\x02b` becomes a control character there (the same abort), and `\"` or a
# line break ends the expression (the chart fails).  The other hidden characters (C1, the
# bidirectional overrides: see `controls`) a chart could hold, but no reader should get.
_CHART_TEXT = re.compile(f"[{HIDDEN_CLASS}{NOT_XML_CLASS}\\\\]")
_SPACES = dict.fromkeys("\t\n\r\x0b\x0c\u2028\u2029", " ")
_REPLACEMENT = "\ufffd"  # what cannot be shown
_BACKSLASH = "\u2216"  # SET MINUS: drawn as a backslash, and means nothing to Vega


def _chart_char(found: re.Match[str]) -> str:
    char = found.group()
    return _BACKSLASH if char == "\\" else _SPACES.get(char, _REPLACEMENT)


@functools.lru_cache(maxsize=4096)
def chart_text(text: str) -> str:
    """`text` as a chart can hold it: line breaks and tabs as spaces, a backslash as `∖`,
    other characters a chart cannot hold as U+FFFD (the replacement character).

    The one escaping function for text going into a chart: names, labels, titles, notes,
    revisions and category values all pass through it in `chart_spec`.
    """
    return _CHART_TEXT.sub(_chart_char, text)


def _chart_safe(plot: DataPlot) -> DataPlot:
    """`plot` with every string a chart shows passed through `chart_text`.

    The points are rebuilt only when one of their strings needs it: most plots are numbers
    under a few series names, and this runs on every chart (10,000 points: ~2 ms).
    """
    points = plot.points
    texts = {p.series for p in points}
    texts.update(v for p in points for v in (p.x, p.y) if v.__class__ is str)
    unsafe = {text: chart_text(text) for text in texts if _CHART_TEXT.search(text)}
    if unsafe:
        points = tuple(
            Point(
                p.rev,
                unsafe.get(p.series, p.series),
                unsafe.get(p.x, p.x) if p.x.__class__ is str else p.x,
                unsafe.get(p.y, p.y) if p.y.__class__ is str else p.y,
                p.count,
            )
            for p in points
        )
    return dataclasses.replace(
        plot,
        name=chart_text(plot.name),
        title=chart_text(plot.title),
        x_label=chart_text(plot.x_label),
        y_label=chart_text(plot.y_label),
        points=points,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _title(plot: DataPlot, notes: list[str]) -> dict[str, Any]:
    subtitle = [plot.name] if plot.name != plot.title else []
    return {"text": plot.title, "subtitle": subtitle + notes, "anchor": "start"}


def _is_base(labels: Mapping[str, str], value: float) -> dict[str, Any]:
    """A condition on the base's rows, for a value the base draws differently."""
    return {"test": f"datum.revision === {json.dumps(labels[BASE])}", "value": value}


def _xy_chart(plot: DataPlot, labels: Mapping[str, str], notes: list[str]) -> Any:
    import altair as alt

    rows = [
        {"revision": labels[p.rev], "series": p.series, "x": p.x, "y": p.y} for p in plot.points
    ]
    numeric_x = all(_is_number(p.x) for p in plot.points)
    revisions = [labels[r] for r in plot.revs()]
    colours = palette.colours(list(labels))
    colour = alt.Color(
        "revision:N",
        title="revision",
        scale=alt.Scale(domain=revisions, range=[colours[r] for r in plot.revs()]),
        sort=revisions,
    )
    x = alt.X("x:Q" if numeric_x else "x:O", title=plot.x_label)
    y = alt.Y("y:Q", title=plot.y_label, scale=alt.Scale(zero=False))
    tooltip = [
        alt.Tooltip("revision:N"),
        alt.Tooltip("series:N"),
        alt.Tooltip("x:Q" if numeric_x else "x:O", title=plot.x_label),
        alt.Tooltip("y:Q", title=plot.y_label),
    ]
    chart = alt.Chart({"values": rows})
    # Zoom (wheel) and pan (drag) in a browser; a PNG ignores it.  Named,
    # so a spec is the same bytes on every run.
    zoom = alt.selection_interval(bind="scales", name="zoom")

    if plot.kind is PlotKind.BAR:
        # DVC's horizontal bar templates: the value on x, the category on y; `_sorted` orders
        # the bars by value, largest first, as DVC's template does (`sort: -x`).
        by_value = plot.template == "bar_horizontal_sorted"
        mark = (
            chart.mark_bar()
            .encode(
                x=alt.X("x:Q", title=plot.x_label),
                y=alt.Y("y:N", title=plot.y_label, sort="-x" if by_value else "ascending"),
                yOffset=alt.YOffset("revision:N", sort=revisions),
                color=colour,
                tooltip=[
                    alt.Tooltip("revision:N"),
                    alt.Tooltip("y:N", title=plot.y_label),
                    alt.Tooltip("x:Q", title=plot.x_label),
                ],
            )
            .add_params(alt.selection_interval(bind="scales", encodings=["x"], name="zoom"))
        )
    elif plot.kind is PlotKind.SCATTER:
        mark = (
            chart.mark_point(filled=True, opacity=0.7)
            .encode(
                x=x, y=y, color=colour, shape=alt.Shape("series:N", title="series"), tooltip=tooltip
            )
            .add_params(zoom)
        )
    elif plot.kind is PlotKind.SMOOTH and numeric_x:
        raw = (
            chart.mark_point(opacity=0.25, size=12)
            .encode(x=x, y=y, color=colour, tooltip=tooltip)
            .add_params(zoom)
        )
        smooth = (
            chart.transform_loess("x", "y", groupby=["revision", "series"], bandwidth=0.3)
            .mark_line()
            .encode(x=x, y=y, color=colour, strokeDash=alt.StrokeDash("series:N", title="series"))
        )
        mark = alt.layer(raw, smooth)
    else:
        # Several heads: the base's line is wider and paler, drawn first, so it shows as the
        # reference even where a head's line runs on top of it.
        reference = (
            {
                "strokeWidth": alt.StrokeWidthValue(2, condition=_is_base(labels, 5)),
                "opacity": alt.OpacityValue(1, condition=_is_base(labels, 0.6)),
            }
            if len(labels) > 2
            else {}
        )
        mark = (
            chart.mark_line(point=len(rows) <= 60)
            .encode(
                x=x,
                y=y,
                color=colour,
                strokeDash=alt.StrokeDash("series:N", title="series"),
                detail="series:N",
                tooltip=tooltip,
                **reference,
            )
            .add_params(zoom)
        )
    return mark.properties(width=WIDTH, height=HEIGHT, title=_title(plot, notes))


def _normalise(counter: Counter[tuple[str, str]]) -> dict[tuple[str, str], float]:
    # DVC's confusion_normalized divides each cell by the total of its x (actual) value.
    totals: Counter[str] = Counter()
    for (x, _), n in counter.items():
        totals[x] += n
    return {(x, y): round(n / totals[x], 4) for (x, y), n in counter.items()}


def _grid(panel_rows: list[list[dict[str, Any]]], title: dict[str, Any]) -> dict[str, Any]:
    """Panels (each a spec altair built) as one spec: a row per file, independent colours.

    Assembled here rather than with `alt.hconcat`/`alt.vconcat`, which deep-copy every
    subchart at every level: 0.2-0.35 s for a two-file matrix, the slowest chart of a report.
    """
    independent = {"scale": {"color": "independent"}}
    top: dict[str, Any] = {}
    datasets: dict[str, Any] = {}
    for panel in (panel for row in panel_rows for panel in row):
        datasets.update(panel.pop("datasets", {}))  # altair hoists each panel's rows
        for key in ("$schema", "config"):
            top[key] = panel.pop(key, top.get(key))
    rows = [{"hconcat": row, "resolve": independent} for row in panel_rows]
    spec = {**top, "vconcat": rows, "resolve": independent, "title": title}
    return {**spec, "datasets": datasets} if datasets else spec


def _confusion_spec(plot: DataPlot, labels: Mapping[str, str]) -> dict[str, Any]:
    """Two revisions: per file a panel each and their difference, side by side.  Several
    heads: per file a facet of every revision's counts and one of each head's difference
    from the base (one colour scale each; a panel apiece cost too much time to draw)."""
    import altair as alt

    counts = confusion_counts(plot)
    classes_x = sorted({x for c in counts.values() for x, _ in c}, key=_class_order)
    classes_y = sorted({y for c in counts.values() for _, y in c}, key=_class_order)
    files = sorted({file for _, file in counts})
    value_format = ".2f" if plot.normalized else "d"
    several = len(labels) > 2
    size = PANEL if len(labels) <= 4 else SMALL_PANEL

    def marks(chart: Any, rows: list[dict[str, Any]], diff: bool) -> tuple[Any, Any]:
        """The cells and their labels (of `chart`, which holds the data), with tooltips."""
        x = alt.X("x:N", title=plot.x_label, sort=classes_x)
        y = alt.Y("y:N", title=plot.y_label, sort=classes_y)
        tooltip = [alt.Tooltip("revision:N")] if several else []
        tooltip += [alt.Tooltip("x:N", title=plot.x_label), alt.Tooltip("y:N", title=plot.y_label)]
        if diff:
            # Coloured by what the change means, not by its sign: more on the diagonal (right
            # answers) or less off it (mistakes) is better.  A symmetric domain keeps white at
            # "no change" and equal shades for equal amounts.
            spread = max((abs(r["gain"]) for r in rows), default=0) or 1
            colour = alt.Color(
                "gain:Q",
                scale=alt.Scale(scheme="redblue", domain=[-spread, spread]),
                legend=alt.Legend(
                    title="head vs base",
                    values=[-spread, 0, spread],
                    labelExpr=(
                        "datum.value > 0 ? 'better' : datum.value < 0 ? 'worse' : 'no change'"
                    ),
                    gradientLength=size - 40,
                ),
            )
            tooltip += [alt.Tooltip("label:N", title="change"), alt.Tooltip("effect:N")]
        else:
            colour = alt.Color("value:Q", scale=alt.Scale(scheme="blues"), legend=None)
            tooltip.append(alt.Tooltip("label:N", title="share" if plot.normalized else "count"))
        cells = chart.mark_rect().encode(x=x, y=y, color=colour, tooltip=tooltip)
        # White text on dark cells.  A typed value, not `alt.condition`'s dict, which altair
        # would validate against the schema on every panel (25 ms each).
        ink = alt.ColorValue("black", condition={"test": "datum.dark", "value": "white"})
        # The label sits where a reader points: it carries the cell's tooltip too.
        text = chart.mark_text(fontSize=13).encode(
            x=x, y=y, text=alt.Text("label:N"), color=ink, tooltip=tooltip
        )
        return cells, text

    def panel(rows: list[dict[str, Any]], title: str, diff: bool) -> dict[str, Any]:
        cells, text = marks(alt.Chart({"values": rows}, title=title), rows, diff)
        layered = alt.layer(cells, text).properties(width=size, height=size)
        built: dict[str, Any] = layered.to_dict(validate=False)
        return built

    def facet(panels: Mapping[str, list[dict[str, Any]]], diff: bool, title: str) -> Any:
        """The panels (by revision label) as one facet, each under a bar of its revision's
        colour, as on the line charts and in the tables."""
        rows = [{**row, "revision": name} for name, cells in panels.items() for row in cells]
        darkest = max((abs(r["value"]) for r in rows), default=0) or 1
        for row in rows:  # one colour scale: dark as the facet's darkest
            row["dark"] = abs(row["value"]) > 0.6 * darkest
        colours = palette.colours(list(labels))
        order = list(panels)
        by_label = {labels[rev]: colours[rev] for rev in labels}
        stripe = (
            alt.Chart()
            .mark_rule(strokeWidth=5)
            .encode(
                x={"value": 0},
                x2={"value": size},
                y={"value": -4},
                stroke=alt.Stroke(
                    "revision:N",
                    scale=alt.Scale(domain=order, range=[by_label[n] for n in order]),
                    legend=None,
                ),
            )
        )
        header = alt.Header(title=title or None, labelFontWeight="bold", labelFontSize=12)
        cells, text = marks(alt.Chart(), rows, diff)
        layered = alt.layer(cells, text, stripe, data={"values": rows})
        return (
            layered.properties(width=size, height=size)
            .facet(
                facet=alt.Facet("revision:N", sort=order, header=header),
                columns=min(len(panels), FACET_COLUMNS),
            )
            # Each panel its own axes: a wrapped facet would draw the last row's axes under
            # empty places too.
            .resolve_axis(x="independent")
            .to_dict(validate=False)
        )

    def cell_rows(values: Mapping[tuple[str, str], float], diff: bool) -> list[dict[str, Any]]:
        rows = []
        # White text on the darkest cells keeps the counts readable.
        darkest = max((abs(v) for v in values.values()), default=0) or 1
        for x in classes_x:
            for y in classes_y:
                value = values.get((x, y), 0)
                row: dict[str, Any] = {"x": x, "y": y, "value": value}
                if diff:
                    label = f"{value:+.2f}" if plot.normalized else f"{int(value):+d}"
                    row["label"] = "0" if value == 0 else label
                    # Right answers (the diagonal) should go up, mistakes down.
                    row["gain"] = value if x == y else -value
                    row["effect"] = (
                        "better" if row["gain"] > 0 else "worse" if row["gain"] < 0 else "no change"
                    )
                else:
                    row["label"] = format(value, value_format)
                row["dark"] = abs(value) > 0.6 * darkest
                rows.append(row)
        return rows

    panel_rows: list[list[dict[str, Any]]] = []
    blocks: list[dict[str, Any]] = []  # several heads: facets, one under the other
    revs = plot.revs()
    for file in files:
        per_rev: dict[str, Mapping[tuple[str, str], float]] = {}
        for rev in revs:
            counter = counts.get((rev, file), Counter())
            per_rev[rev] = _normalise(counter) if plot.normalized else dict(counter)

        def delta(rev: str) -> list[dict[str, Any]]:
            head, base = per_rev[rev], per_rev[BASE]  # noqa: B023
            values = {key: head.get(key, 0) - base.get(key, 0) for key in head.keys() | base}
            return cell_rows(values, diff=True)

        if several:
            named = f"{file}: " if len(files) > 1 else ""
            counted = {labels[rev]: cell_rows(per_rev[rev], False) for rev in revs}
            blocks.append(facet(counted, False, named.rstrip(": ")))
            heads = [rev for rev in revs if rev != BASE]
            if BASE in per_rev and heads:
                deltas = {labels[rev]: delta(rev) for rev in heads}
                blocks.append(facet(deltas, True, f"{named}difference from the base"))
            continue
        panels = []
        for rev in revs:
            caption = f"{labels[rev]}" + (f" — {file}" if len(files) > 1 else "")
            panels.append(panel(cell_rows(per_rev[rev], diff=False), caption, diff=False))
        if len(per_rev) == 2:
            panels.append(panel(delta(revs[1]), DIFFERENCE, True))
        panel_rows.append(panels)
    return _stack(blocks, _title(plot, [])) if several else _grid(panel_rows, _title(plot, []))


def _stack(blocks: list[dict[str, Any]], title: dict[str, Any]) -> dict[str, Any]:
    """Facets one under the other, as one spec (see `_grid`)."""
    top: dict[str, Any] = {}
    datasets: dict[str, Any] = {}
    for block in blocks:
        datasets.update(block.pop("datasets", {}))
        for key in ("$schema", "config"):
            top[key] = block.pop(key, top.get(key))
    independent = {"scale": {"color": "independent"}}
    spec = {**top, "vconcat": blocks, "resolve": independent, "title": title}
    return {**spec, "datasets": datasets} if datasets else spec


def area(plot: DataPlot, labels: Mapping[str, str]) -> int:
    """About how many pixels the plot's chart covers, axes and legends included, before
    drawing it: what rasterising it costs (see `report.render_plots`).  A confusion matrix
    has a panel per file and revision, and one per head's difference; every other chart is
    one plot area and its legend."""
    if plot.kind is not PlotKind.CONFUSION:
        return (WIDTH + 200) * (HEIGHT + 60)
    revisions = len(plot.revs())
    files = len({p.series for p in plot.points})
    size = PANEL if len(labels) <= 4 else SMALL_PANEL  # as `_confusion_spec` draws them
    return files * (2 * revisions - 1) * (size + 80) ** 2


def chart_spec(
    plot: DataPlot, labels: Mapping[str, str], notes: list[str] | None = None
) -> dict[str, Any]:
    """The Vega-Lite spec (a plain dict, data inline) for one data plot."""
    plot = _chart_safe(plot)
    labels = {rev: chart_text(label) for rev, label in labels.items()}
    notes = [chart_text(note) for note in notes or []]
    if plot.kind is PlotKind.CONFUSION:
        spec = _confusion_spec(plot, labels)
    else:
        spec = _xy_chart(plot, labels, list(notes or [])).to_dict(validate=False)
    spec.setdefault("background", "white")
    return spec


SCALE = 1.5  # PNG pixels per chart pixel: sharp on high-density screens


def static(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec without its zoom and pan (selections bound to the scales): an image cannot
    use them, and they clip every mark, which made rasterising a chart of many lines up to
    six times slower (0.64 s against 0.10 s for 22 series of 250 points)."""

    def strip(view: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(view)
        params = [p for p in view.get("params", []) if p.get("bind") != "scales"]
        if params:
            out["params"] = params
        else:
            out.pop("params", None)
        for key in _VIEWS:  # the composed views inside; never the data
            if isinstance(view.get(key), list):
                out[key] = [strip(v) for v in view[key]]
            elif isinstance(view.get(key), dict):
                out[key] = strip(view[key])
        return out

    return strip(spec)


_VIEWS = ("layer", "hconcat", "vconcat", "concat", "spec")


def to_svg(spec: Mapping[str, Any]) -> str:
    """Draw a Vega-Lite spec as SVG with vl-convert's engine, in this process."""
    import vl_convert

    try:
        # allowed_base_urls=[]: a spec that points at http(s) data fails instead of fetching
        # it; ours always carries its data inline.
        svg: str = vl_convert.vegalite_to_svg(vl_spec=dict(spec), allowed_base_urls=[])
    except (ValueError, RuntimeError) as exc:
        raise ChartError(" ".join(str(exc).split())[:300]) from exc
    return svg


def svg_to_png(svg: str, scale: float = SCALE) -> bytes:
    """Rasterise a chart's SVG.  No JavaScript engine is involved (resvg, with vl-convert's
    fonts), so any process can do it: the main process does while the drawing worker draws
    the next chart.  The bytes equal `vegalite_to_png`'s for the same spec."""
    import vl_convert

    try:
        png: bytes = vl_convert.svg_to_png(svg, scale=scale)
    except (ValueError, RuntimeError) as exc:
        raise ChartError(" ".join(str(exc).split())[:300]) from exc
    return png


def to_png(spec: Mapping[str, Any], scale: float = SCALE) -> bytes:
    """Render a Vega-Lite spec to PNG in this process (no Node, no browser), as the report's
    charts are drawn: without zoom and pan (`static`)."""
    return svg_to_png(to_svg(static(spec)), scale)


WARM_UP = {"mark": "point", "data": {"values": [{}]}}  # the smallest spec: starts the engine
