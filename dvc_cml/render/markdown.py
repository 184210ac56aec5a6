"""GitLab-flavoured Markdown for a Report.  Pure: returns a string."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dvc_cml.model import PlotKind, RenderedPlot, Report, Reproduced, Row, Status, Verdict
from dvc_cml.render import format as fmt

# HTML-significant characters and the table separator become entities; Markdown punctuation
# is backslash-escaped, so a metric called `a|b<script>` is shown as text, not markup.  A
# zero-width joiner after `@` keeps `@all` or `@alice` in a name from notifying anyone: it
# renders as typed, but GitLab's (and GitHub's) mention pattern no longer matches.
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "|": "&#124;",
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "~": "\\~",
        "\r": "",
        "\n": "<br>",
        "@": "@\u200d",
    }
)


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def table(header: Sequence[str], align: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GFM table; `align` holds "l" or "r" per column.  Cells must already be escaped."""
    rule = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule[a] for a in align) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def _value_table(rows: Sequence[Row], noun: str, report: Report, with_markers: bool) -> str:
    header = ["Path", noun, escape(report.base.name), escape(report.head.name), "Change"]
    align = ["l", "l", "r", "r", "r"]
    if with_markers:
        header.append("%")
        align.append("r")
    body = []
    for row in rows:
        change = fmt.change(row)
        if with_markers and (mark := fmt.marker(row)):
            change = f"{change} {mark}"
        cells = [row.path, row.key, fmt.value(row.base), fmt.value(row.head)]
        line = [escape(c) for c in cells] + [escape(change)]
        if with_markers:
            line.append(fmt.percent(row))
        body.append(line)
    return table(header, align, body)


def _header(report: Report) -> str:
    parts = []
    for r in (report.base, report.head):
        sha = f" (`{r.short_sha}`)" if r.short_sha else ""
        parts.append(f"**{escape(r.name)}**{sha}")
    return f"## DVC report: {parts[0]} → {parts[1]}"


def _pipeline(done: Reproduced) -> str:
    def names(stages: Sequence[str]) -> str:
        return ", ".join(f"`{escape(s)}`" for s in stages) or "none"

    return f"Pipeline reproduced first: ran {names(done.ran)}; up to date {names(done.up_to_date)}."


@dataclass(frozen=True)
class Trim:
    """How to shrink a report that is too long for a GitLab comment."""

    only_changed: bool = False  # drop unchanged metrics and the all-params table
    max_rows: int | None = None  # cut every table to this many rows


def _cut(rows: Sequence[Row], trim: Trim) -> tuple[Sequence[Row], int]:
    if trim.max_rows is None or len(rows) <= trim.max_rows:
        return rows, 0
    return rows[: trim.max_rows], len(rows) - trim.max_rows


def _left_out(count: int) -> list[str]:
    return [f"… and {count} more rows, left out here to fit.", ""] if count else []


INLINE_METRICS = 25  # more than this: changed metrics first, unchanged ones folded
GROUP_PLOTS = 10  # more changed plots than this: grouped by the folder of their file


def biggest_change(row: Row) -> tuple[int, float, str, str]:
    """Sort key: largest relative change first, then absolute; added/removed/text last."""
    if (rel := row.relative_change) is not None:
        return (0, -abs(rel), row.path, row.key)
    if (delta := row.change) is not None:
        return (1, -abs(delta), row.path, row.key)
    return (2, 0.0, row.path, row.key)


def _metrics(report: Report, trim: Trim) -> list[str]:
    out = ["### Metrics", ""]
    if not report.metrics:
        return [*out, "No metrics at either revision.", ""]
    changed = [r for r in report.metrics if r.status is not Status.UNCHANGED]
    unchanged = [r for r in report.metrics if r.status is Status.UNCHANGED]
    many = len(report.metrics) > INLINE_METRICS
    # Many metrics: the biggest changes first, the unchanged ones folded away.
    shown = sorted(changed, key=biggest_change) if many else report.metrics
    rows, cut = _cut(changed if trim.only_changed else shown, trim)
    if rows:
        out += [_value_table(rows, "Metric", report, with_markers=True), ""]
    out += _left_out(cut)
    if many and unchanged and not trim.only_changed:
        out += [
            f"<details><summary>{len(unchanged)} unchanged metrics</summary>",
            "",
            _value_table(_cut(unchanged, trim)[0], "Metric", report, with_markers=True),
            "",
            "</details>",
            "",
        ]
    summary = f"{len(changed)} of {len(report.metrics)} metrics changed."
    if any(r.verdict is not Verdict.NEUTRAL for r in report.metrics):
        summary += " ✅ better, ❌ worse (direction guessed from the metric's name)."
    out += [summary, ""]
    return out


def _params(report: Report, trim: Trim) -> list[str]:
    out = ["### Params", ""]
    if not report.params:
        return [*out, "No params at either revision.", ""]
    changed, cut = _cut(report.changed_params(), trim)
    if changed:
        out += [_value_table(changed, "Param", report, with_markers=False), ""]
    else:
        out += ["No params changed.", ""]
    out += _left_out(cut)
    if trim.only_changed:
        return out
    out += [
        "<details><summary>All params (" + str(len(report.params)) + ")</summary>",
        "",
        _value_table(report.params, "Param", report, with_markers=False),
        "",
        "</details>",
        "",
    ]
    return out


def _plot(plot: RenderedPlot, report: Report, level: int = 4) -> list[str]:
    title = escape(plot.title)
    out = [f"{'#' * level} {title}", ""]
    if plot.name != plot.title:
        out += [f"<sub>{escape(plot.name)}</sub>", ""]
    if plot.kind is PlotKind.IMAGE:
        labels = {"base": report.base.label, "head": report.head.label}
        if plot.images:
            out.append(
                table(
                    [escape(labels[rev]) for rev, _ in plot.images],
                    ["l"] * len(plot.images),
                    [[f"![{escape(labels[rev])}]({path})" for rev, path in plot.images]],
                )
            )
            out.append("")
    elif plot.png:
        out += [f"![{title}]({plot.png})", ""]
        if plot.spec:
            out += [f"<sub>[Vega-Lite spec]({plot.spec})</sub>", ""]
    out += [f"> {escape(note)}" for note in plot.notes]
    if plot.notes:
        out.append("")
    return out


def _group(name: str) -> str:
    folder = name.rsplit("/", 1)[0] if "/" in name else ""
    return f"{folder}/" if folder else "dvc.yaml plots"


def _plots(report: Report, plots: Sequence[RenderedPlot]) -> list[str]:
    out = ["### Plots", ""]
    if not plots:
        return [*out, "No plots at either revision.", ""]
    changed = [p for p in plots if p.changed]
    unchanged = [p for p in plots if not p.changed]
    if len(changed) > GROUP_PLOTS:
        groups: dict[str, list[RenderedPlot]] = {}
        for plot in changed:
            groups.setdefault(_group(plot.name), []).append(plot)
        for group, members in groups.items():
            out += [f"#### {escape(group)} ({len(members)})", ""]
            for plot in members:
                out += _plot(plot, report, level=5)
    else:
        for plot in changed:
            out += _plot(plot, report)
    if unchanged:
        out += [
            f"<details><summary>{len(unchanged)} unchanged "
            f"plot{'s' if len(unchanged) > 1 else ''}</summary>",
            "",
        ]
        for plot in unchanged:
            if plot.drawn:  # unchanged, but drawn anyway (--all-plots)
                out += _plot(plot, report)
            else:
                name = f" <sub>{escape(plot.name)}</sub>" if plot.name != plot.title else ""
                out.append(f"- {escape(plot.title)}{name}")
        out += ["", "</details>", ""]
    return out


def render(report: Report, plots: Sequence[RenderedPlot], trim: Trim | None = None) -> str:
    """The whole report as Markdown (`trim` shrinks it, for GitLab's comment size limit)."""
    trim = trim or Trim()
    out = [_header(report), ""]
    if report.reproduced:
        out += [_pipeline(report.reproduced), ""]
    if report.gates:
        from dvc_cml.render import gates  # imports this module: import it late

        out += [gates.markdown(report.gates)]
    out += _metrics(report, trim)
    out += _params(report, trim)
    out += _plots(report, plots)
    return "\n".join(out).rstrip("\n") + "\n"
