"""Plot data of the base and its heads as `DataPlot`s and `ImagePlot`s.

DVC's own renderer matching (`dvc.render.match`) pairs definitions with data, as `dvc plots
diff` does; the datapoints are then turned into numbers (CSV values arrive as strings),
stripped of NaN/Infinity, and downsampled for drawing.  Custom Vega templates are drawn as
the nearest built-in kind, which the chart says.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from dvc_cml.collect import guard, internals
from dvc_cml.collect.project import (
    WORKSPACE,
    EmptyFile,
    describe,
    missing_directory,
    no_data,
    no_data_reason,
    not_produced,
    unreadable,
    why_unread,
)
from dvc_cml.model import (
    BASE,
    TEMPLATE_KINDS,
    DataPlot,
    ImagePlot,
    Plot,
    PlotKind,
    Point,
    Problem,
    Revision,
)


def _to_number(value: Any) -> Any:
    """CSV/TSV values come back from DVC as strings; make numbers numbers."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def _finite(value: Any) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


@dataclass
class _Series:
    """One series of one revision, as it leaves DVC: raw values, strings for CSV."""

    xs: list[Any] = field(default_factory=list)
    ys: list[Any] = field(default_factory=list)
    ns: list[int] = field(default_factory=list)  # confusion rows: how many each stands for


def _floats(values: list[Any]) -> Any:
    """A float64 array of the values, or None if one of them is not a number."""
    import numpy as np

    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _written_as_int(raw: list[Any]) -> bool:
    """Keep integers integers (steps, epochs, class ids) when the source wrote them so."""
    first = raw[0] if raw else None
    return isinstance(first, int) or (isinstance(first, str) and first.strip().isdigit())


def _integral(raw: list[Any], array: Any) -> bool:
    import numpy as np

    whole = np.all(array == np.round(array)) and np.all(abs(array) < 2**53)
    return bool(_written_as_int(raw) and whole)


def _small_series(
    rev: str, name: str, series: _Series, values: tuple[list[float], list[float]]
) -> tuple[list[Point], int, int, object]:
    """`_series_points` for a series short enough to keep whole, without numpy (whose
    import alone costs an everyday report about a tenth of a second)."""
    from array import array

    xs, ys = values
    finite = [(a, b) for a, b in zip(xs, ys, strict=True) if math.isfinite(a) and math.isfinite(b)]
    ordered = sorted(finite)  # the order of numpy's lexsort: the same digest either way
    digest = tuple(array("d", [pair[i] for pair in ordered]).tobytes() for i in (0, 1))
    keep_x, keep_y = [a for a, _ in finite], [b for _, b in finite]
    if _written_as_int(series.xs) and all(_whole(a) for a in keep_x):
        keep_x = [int(a) for a in keep_x]
    if _written_as_int(series.ys) and all(_whole(b) for b in keep_y):
        keep_y = [int(b) for b in keep_y]
    points = [Point(rev, name, a, b) for a, b in zip(keep_x, keep_y, strict=True)]
    return points, len(xs) - len(finite), 0, digest


def _whole(value: float) -> bool:
    return value == round(value) and abs(value) < 2**53


def _labelled_series(rev: str, name: str, series: _Series) -> tuple[list[Point], int, int, object]:
    """A series with text on an axis (class labels, categories): kept whole, as written."""
    pairs = [(_to_number(a), _to_number(b)) for a, b in zip(series.xs, series.ys, strict=True)]
    finite = [(a, b) for a, b in pairs if _finite(a) and _finite(b)]
    points = [Point(rev, name, a, b) for a, b in finite]
    return points, len(pairs) - len(finite), 0, sorted((str(a), str(b)) for a, b in finite)


def _cells(rev: str, name: str, series: _Series) -> tuple[list[Point], int, int, object]:
    """A confusion matrix's rows counted per (actual, predicted) cell: a test set of tens of
    thousands of rows becomes a few dozen points, each with its count."""
    counts: Counter[tuple[Any, Any]] = Counter()
    dropped = 0
    # Count the values as written first (in C), then convert each distinct pair once.
    written: Counter[tuple[Any, Any]] = Counter()
    if any(n != 1 for n in series.ns):  # rows counted already (`count_confusion_rows`)
        for pair, n in zip(zip(series.xs, series.ys, strict=True), series.ns, strict=True):
            written[pair] += n
    else:
        written.update(zip(series.xs, series.ys, strict=True))
    for (a, b), n in written.items():
        pair = (_to_number(a), _to_number(b))
        if _finite(pair[0]) and _finite(pair[1]):
            counts[pair] += n
        else:
            dropped += n
    points = [Point(rev, name, a, b, n) for (a, b), n in counts.items()]
    return points, dropped, 0, sorted((str(a), str(b), n) for (a, b), n in counts.items())


def _plain_floats(values: list[Any]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def _series_points(
    rev: str, name: str, series: _Series, sample: bool, max_points: int
) -> tuple[list[Point], int, int, object]:
    """(points, dropped non-finite, length before sampling or 0, a digest of the data).

    Long series go through numpy, so a million points cost milliseconds, and Python objects
    are made only for the points that are kept.
    """
    if len(series.xs) <= max_points:
        x_plain, y_plain = _plain_floats(series.xs), _plain_floats(series.ys)
        if x_plain is None or y_plain is None or not x_plain:
            return _labelled_series(rev, name, series)
        return _small_series(rev, name, series, (x_plain, y_plain))
    import numpy as np

    from dvc_cml.downsample import keep

    x, y = _floats(series.xs), _floats(series.ys)
    if x is None or y is None or not len(x):
        return _labelled_series(rev, name, series)
    ok = np.isfinite(x) & np.isfinite(y)
    dropped = int(len(x) - ok.sum())
    x, y = x[ok], y[ok]
    order = np.lexsort((y, x))
    digest = (x[order].tobytes(), y[order].tobytes())
    sampled = 0
    if sample and len(x) > max_points:
        by_x = np.argsort(x, kind="stable")
        x, y = x[by_x], y[by_x]
        kept = keep(x, y, max_points)
        sampled, x, y = len(series.xs), x[kept], y[kept]  # counted as the file has them
    xs = x.astype(np.int64).tolist() if _integral(series.xs, x) else x.tolist()
    ys = y.astype(np.int64).tolist() if _integral(series.ys, y) else y.tolist()
    points = [Point(rev, name, a, b) for a, b in zip(xs, ys, strict=True)]
    return points, dropped, sampled, digest


SAMPLED_KINDS = (PlotKind.LINE, PlotKind.SCATTER, PlotKind.SMOOTH)  # drawn downsampled
MIN_SERIES_POINTS = 150  # several heads: no series is cut below this


def series_budget(max_points: int, revisions: int, series: int) -> int:
    """Points per series and revision worth drawing.  Two revisions: `max_points` each.
    More: the chart as a whole keeps to `max_points`, shared by every series of every
    revision, with a floor.  A chart 560 pixels wide shows no more, and every point costs
    drawing time (22 series of 700 points took 0.4 s to draw, of 150 points 0.15 s)."""
    if revisions <= 2 or not series:
        return max_points
    return min(max_points, max(MIN_SERIES_POINTS, max_points // series))


def _label(explicit: Any, inferred: Any, fields: set[str], default: str) -> str:
    """An axis title: the definition's own label, else the field, else the fields' names
    (DVC says "x"/"y" when a definition maps several fields onto one axis)."""
    if explicit:
        return str(explicit)
    if inferred and inferred not in ("x", "y", "dvc_inferred_x_value", "dvc_inferred_y_value"):
        return str(inferred)
    return ", ".join(sorted(fields)) or default


def _data_plot(
    renderer: Any,
    user_props: Mapping[str, Any],
    problems: tuple[str, ...],
    notes: tuple[str, ...],
    max_points: int,
    thinned: Mapping[str, int],
    revs: Sequence[str],
) -> DataPlot:
    """A DataPlot from a dvc_render VegaRenderer whose revisions are named by their keys
    (`revs`: "base", "head", "head2", ...)."""
    props = renderer.properties
    template = str(props.get("template") or "linear")
    x_field, y_field = props.get("x"), props.get("y")
    confusion = template.startswith("confusion")
    by_source: dict[tuple[str, Any, Any], _Series] = {}  # (rev, file, field): its values
    for dp in renderer.datapoints:  # one pass: a confusion matrix has a datapoint per row
        key = (dp["rev"], dp.get("filename", ""), dp.get("field", ""))
        series = by_source.get(key) or by_source.setdefault(key, _Series())
        series.xs.append(dp.get(x_field))
        series.ys.append(dp.get(y_field))
        if confusion:
            series.ns.append(dp.get(ROWS, 1))
    files = {filename for _, filename, _ in by_source}
    y_fields = {str(field_name) for _, _, field_name in by_source if field_name}
    columns: dict[tuple[str, str], _Series] = {}
    for (rev, filename, field_name), values in by_source.items():
        if confusion:
            name = str(filename)
        else:
            name = f"{filename}: {field_name}" if len(files) > 1 else str(field_name)
        series = columns.setdefault((rev, name), _Series())
        series.xs += values.xs
        series.ys += values.ys
        series.ns += values.ns

    sample = TEMPLATE_KINDS.get(template, PlotKind.LINE) in SAMPLED_KINDS
    points: list[Point] = []
    dropped = sampled_from = 0
    digests: dict[str, dict[str, object]] = {rev: {} for rev in revs}
    budget = series_budget(max_points, len(revs), len(columns))
    for (rev, name), series in columns.items():
        if confusion:
            kept, lost, sampled, digest = _cells(rev, name, series)
        else:
            kept, lost, sampled, digest = _series_points(rev, name, series, sample, budget)
        points += kept
        dropped += lost
        sampled_from = max(sampled_from, sampled)
        digests[rev][name] = digest
    # Files thinned while loading: the chart says from how many rows.
    for path, rows in thinned.items():
        if any(path.endswith(str(f)) for f in files if f):
            sampled_from = max(sampled_from, rows)
    x_fields = _axis_fields(user_props.get("x"))
    return DataPlot(
        name=renderer.name,
        title=str(user_props.get("title") or props.get("title") or renderer.name),
        template=template,
        x_label=_label(user_props.get("x_label"), x_field, x_fields, "step"),
        y_label=_label(user_props.get("y_label"), y_field, y_fields, "y"),
        points=tuple(points),
        dropped=dropped,
        problems=problems,
        notes=notes,
        changed=any(digests[rev] != digests[BASE] for rev in revs),
        sampled_from=sampled_from,
    )


def _axis_fields(axis: Any) -> set[str]:
    """The field names an `x`/`y` definition maps ({file: field or [fields]})."""
    if isinstance(axis, str):
        return {axis}
    fields: set[str] = set()
    if isinstance(axis, dict):
        for value in axis.values():
            fields.update([value] if isinstance(value, str) else map(str, value or []))
    return fields


def _image_plot(renderer: Any, revs: Sequence[str]) -> ImagePlot:
    images: dict[str, bytes] = {}
    for dp in renderer.datapoints:
        src = str(dp.get("src", ""))
        if src.startswith("data:"):  # dvc_render inlines images as data URIs when out=None
            images[dp["rev"]] = base64.b64decode(src.split(",", 1)[1])
    base, head, *more = (images.get(rev) for rev in revs)
    return ImagePlot(renderer.name, base, head, tuple(more))


THIN_BYTES = 4 * 1024 * 1024  # CSV/TSV plot files larger than this are read column-wise


def thinned(loader: Any, sampled: dict[str, int], max_points: int, cache: bool = False) -> Any:
    """Load a plot's CSV/TSV source like DVC does, but keep only the rows worth drawing.

    DVC holds every row as a dict of strings, several times over while matching plots:
    about 1.3 GiB for a million rows per revision.  A large file is read here as columns
    instead, and only the rows that some numeric column's downsampling keeps (plus every
    non-finite one, so they are still counted) become dicts; `sampled` notes the file.
    """
    import csv

    fs, path = loader.args
    props = loader.keywords.get("props") or {}
    try:
        if not props.get("header", True) or fs.info(path).get("size", 0) < THIN_BYTES:
            return loader(cache=cache)
        with fs.open(path, mode="r", encoding="utf8", newline="") as fd:
            reader = csv.reader(fd, delimiter="\t" if path.endswith(".tsv") else ",")
            header = next(reader)
            columns: list[list[str]] = [[] for _ in header]
            for row in reader:
                for column, value in zip(columns, row, strict=False):
                    column.append(value)
    except Exception:  # DVC's own loader reports the problem the way the rest of DVC does
        return loader(cache=cache)
    import numpy as np

    from dvc_cml.downsample import keep

    rows = min((len(c) for c in columns), default=0)
    wanted: set[int] = set()
    for column in columns:
        values = _floats(column[:rows])
        if values is None:
            continue
        finite = np.isfinite(values)
        index = np.flatnonzero(finite)
        wanted.update(np.flatnonzero(~finite).tolist())
        wanted.update(index[keep(index.astype(np.float64), values[finite], max_points)].tolist())
    if not wanted:  # nothing numeric to sample by: DVC's way
        return loader(cache=cache)
    sampled[path] = rows
    chosen = sorted(wanted)
    return {"data": [{name: columns[j][i] for j, name in enumerate(header)} for i in chosen]}


def drop_cut_rows(sources: Mapping[str, Any], workspace: bool) -> dict[str, int]:
    """Drop the rows of CSV/TSV plot files that were cut short; {path: rows dropped}.

    A file being written ends mid-row (dvclive appends one row per step): DVC keeps a row
    `15` with no tab as `{"step": "15", "acc": None}`, which would be drawn as a point
    without a value.  A row with fewer fields than the header is cut; in the `workspace`,
    so is a last row whose last field is empty (`15<TAB>`).  The chart says how many rows
    were left out.  A row cut inside its last value (`15<TAB>0.8` of `15<TAB>0.81`) cannot
    be told from a whole one, and is kept, as DVC keeps it.
    """
    cut: dict[str, int] = {}
    for path, source in sources.items():
        rows = source.get("data") if isinstance(source, dict) else None
        if not path.endswith((".csv", ".tsv")) or not isinstance(rows, list) or not rows:
            continue
        kept = [r for r in rows if not (isinstance(r, dict) and _short(r))]
        last = kept[-1] if kept else None
        ends_empty = isinstance(last, dict) and list(last.values())[-1:] == [""]
        if workspace and last is rows[-1] and ends_empty:
            kept.pop()
        if len(kept) < len(rows):
            cut[path] = len(rows) - len(kept)
            source["data"] = kept
    return cut


def mark_empty(sources: Mapping[str, Any]) -> None:
    """Mark the plot files that hold nothing (no bytes, or a header and no rows: DVC keeps
    no data for them) as `EmptyFile`, so the chart says so instead of drawing the other
    revisions as if this one had never had the file.  Before `drop_cut_rows`: a file whose
    one row was cut short is not empty, and the chart says what was cut."""
    for source in sources.values():
        if isinstance(source, dict) and not source.keys() & {"data", "error", "data_source"}:
            source["error"] = EmptyFile()


def _short(row: dict[Any, Any]) -> bool:
    """csv.DictReader fills the fields a row lacks with None."""
    return any(value is None for value in row.values())


def _cut_notes(
    files: set[str], cut: Mapping[str, Mapping[str, int]], labels: Mapping[str, Revision]
) -> tuple[str, ...]:
    notes = []
    for side, counts in cut.items():
        for path, rows in sorted(counts.items()):
            # DVC names a definition's files as written there (relative to its dvc.yaml).
            if any(path == f or path.endswith(f"/{f}") for f in files):
                noun = "row" if rows == 1 else "rows"
                why = (
                    "the file may still be being written"
                    if labels[side].name == WORKSPACE
                    else "fewer fields than its header"
                )
                notes.append(
                    f"{rows} {noun} of {path} at {labels[side].label} cut short, left out ({why})."
                )
    return tuple(notes)


def whole_files(rev_data: Mapping[str, Any]) -> set[str]:
    """Files the downsampling while loading (`thinned`) must leave whole: those a definition
    joins row by row (`x` from one file, `y` from another: each would keep different rows),
    and those of every chart that draws each row (a confusion matrix counts them, a bar
    chart shows each; a custom template is not matched to a kind yet)."""
    whole: set[str] = set()
    for content in rev_data.get("definitions", {}).get("data", {}).values():
        for plot_id, props in content.get("data", {}).items():
            given = props if isinstance(props, dict) else {}
            kind = TEMPLATE_KINDS.get(str(given.get("template") or "linear"))
            if isinstance(given.get("x"), dict) or kind not in SAMPLED_KINDS:
                # DVC names the files from the project root, whichever dvc.yaml names them.
                whole.update(internals.infer_plot_sources(plot_id, props))
    return whole


# What a Vega-Lite mark looks like as one of the kinds dvc-cml draws, for custom templates.
_MARK_TEMPLATES = {
    "rect": "confusion",
    "line": "linear",
    "area": "linear",
    "trail": "linear",
    "bar": "bar_horizontal",
    "point": "scatter",
    "circle": "scatter",
    "square": "scatter",
    "tick": "scatter",
}


def _marks(spec: Any) -> Iterator[str]:
    """Every mark in a Vega-Lite spec, however deep (without recursion: the branch wrote it)."""
    todo = [spec]
    while todo:
        here = todo.pop()
        if isinstance(here, dict):
            mark = here.get("mark")
            if isinstance(mark, str):
                yield mark
            elif isinstance(mark, dict) and isinstance(mark.get("type"), str):
                yield mark["type"]
            todo.extend(reversed(list(here.values())))
        elif isinstance(here, list):
            todo.extend(reversed(here))


def nearest_template(content: Any) -> str:
    """The built-in template closest to a custom one, judged by its marks (a heatmap is a
    confusion matrix, lines beat points, points beat bars); linear when nothing matches."""
    found = {_MARK_TEMPLATES[m] for m in _marks(content) if m in _MARK_TEMPLATES}
    for template in ("confusion", "linear", "scatter", "bar_horizontal"):
        if template in found:
            return template
    return "linear"


def _custom_template(name: str, templates_dir: Path) -> tuple[str, str]:
    """(built-in template to draw with, the note saying so) for a template DVC does not ship."""
    path = internals.find_template(name, str(templates_dir))
    if path is None:
        return "linear", f"Template `{name}` was not found; drawn as a line chart."
    if reason := guard.outside(path, str(templates_dir.parent.parent)):
        return "linear", f"Template `{name}` {reason}; drawn as a line chart."
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return "linear", f"Template `{name}` could not be read ({exc}); drawn as a line chart."
    except RecursionError:  # the parser's own stack: the file nests deeper than it goes
        return (
            "linear",
            f"Template `{name}` could not be read (nested too deep); drawn as a line chart.",
        )
    kind = nearest_template(content)
    return kind, f"Custom template `{name}` drawn as the nearest built-in kind: {kind}."


def _builtin_templates(data: Mapping[str, Any], templates_dir: Path) -> dict[str, str]:
    """Point every definition at a built-in template; {template as written: note}.

    dvc-cml draws every chart itself, so a custom template (by name from .dvc/plots, or by
    path) only tells it which kind of chart is meant.
    """
    notes: dict[str, str] = {}
    for rev_data in data.values():
        for content in rev_data.get("definitions", {}).get("data", {}).values():
            for props in content.get("data", {}).values():
                template = props.get("template") if isinstance(props, dict) else None
                if not template or template in TEMPLATE_KINDS:
                    continue
                kind, notes[template] = _custom_template(str(template), templates_dir)
                props["template"] = kind
                props["dvc_cml_template"] = template  # which note belongs to this plot
    return notes


class _Rows:
    """The key of a counted confusion row's count (see `count_confusion_rows`): an object,
    so that no file can hold it (a branch could write any string, a count of 10**12 too)."""

    def __repr__(self) -> str:
        return "<rows>"


ROWS: Any = _Rows()


def _confusion_fields(props: Mapping[str, Any]) -> tuple[str, str] | None:
    """(x field, y field) of a confusion matrix that reads one field on each axis."""
    if TEMPLATE_KINDS.get(str(props.get("template"))) is not PlotKind.CONFUSION:
        return None
    x, y = props.get("x"), props.get("y")
    if isinstance(y, dict) and len(set(map(repr, y.values()))) == 1:
        y = next(iter(y.values()))
    return (x, y) if isinstance(x, str) and isinstance(y, str) else None


def _rows_at(source: Any) -> tuple[Any, Any] | None:
    """(container, key) of the one list in a loaded file, where DVC's converter looks for
    rows (`_lists`: the file's own list, or any value of its dicts, however deep)."""
    content = source.get("data") if isinstance(source, dict) else None
    if isinstance(content, list):
        return source, "data"
    found: list[tuple[Any, Any]] = []
    todo = [content]
    while todo and len(found) < 2:
        here = todo.pop()
        for key, value in here.items() if isinstance(here, dict) else ():
            if isinstance(value, list):
                found.append((here, key))
            elif isinstance(value, dict):
                todo.append(value)
    return found[0] if len(found) == 1 else None


def _counted(rows: Any, x: str, y: str) -> list[dict[Any, Any]] | None:
    """The rows as one row per distinct (x, y) with its count, or None if they are not
    rows DVC would read alike: dicts of one set of keys, holding both fields as scalars."""
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        return None
    keys = rows[0].keys()
    if not {x, y} <= keys:
        return None
    try:  # in C: dict.keys fails on a row that is not a dict, hashing on a list or dict
        if not all(map(keys.__eq__, map(dict.keys, rows))):
            return None
        counts = Counter(map(itemgetter(x, y), rows))
    except TypeError:
        return None
    return [{x: a, y: b, ROWS: n} for (a, b), n in counts.items()]


def _uncounted(rows: list[dict[Any, Any]]) -> list[dict[Any, Any]]:
    """Counted rows as the rows they stand for (of the two fields counted, cell by cell)."""
    return [{k: v for k, v in row.items() if k != ROWS} for row in rows for _ in range(row[ROWS])]


def count_confusion_rows(data: Mapping[str, Any]) -> None:
    """Replace, in place, the rows of each file that only confusion matrices read by one row
    per cell and its count (`ROWS`), before DVC's matching copies every row several times.

    example-get-started writes one row per test sample (18,000 rows a revision in the
    benchmark's project, 0.3 s of matching for 11 revisions; real test sets can have a
    million).  A file another plot reads, one whose matrices name different fields, or rows
    of mixed keys are left as they are.  Run on each revision as it is read (so its rows are
    not all held until every revision is), and again on all of them, as DVC merges each
    plot's definitions over the revisions: rows counted for a definition that, merged, is
    not a confusion matrix after all are made rows again.
    """
    from dvc.render.match import PlotsData

    fields: dict[tuple[str, str], set[tuple[str, str] | None]] = {}
    for group in PlotsData(data).group_definitions().values():
        pair = _confusion_fields(internals.squash_plot_properties(group))
        for side, inner_id, definition in group:
            for source in internals.infer_plot_sources(inner_id, definition):
                fields.setdefault((side, source), set()).add(pair)
    for (side, source), pairs in fields.items():
        where = _rows_at(data[side].get("sources", {}).get("data", {}).get(source))
        if where is None:
            continue
        holder, key = where
        rows, pair = holder[key], (next(iter(pairs)) if len(pairs) == 1 else None)
        if rows and isinstance(rows[0], dict) and ROWS in rows[0]:  # counted already
            if pair is None or set(pair) != rows[0].keys() - {ROWS}:
                holder[key] = _uncounted(rows)
        elif pair is not None and (counted := _counted(rows, *pair)) is not None:
            holder[key] = counted


def plots(
    data: Mapping[str, Any],
    labels: Mapping[str, Revision],
    thinned_files: Mapping[str, int],
    max_points: int,
    templates_dir: Path,
    cut: Mapping[str, Mapping[str, int]] | None = None,
) -> tuple[tuple[Plot, ...], tuple[Problem, ...]]:
    """Plots from {revision key: plots data} (DVC's `plots.collect` shape), the base first,
    and the plot files that could not be read (each once, however many plots use it): that
    do not parse, or whose data DVC could not get.  `cut`: per revision, the CSV/TSV files
    whose last rows were cut short (`drop_cut_rows`).
    """
    from dvc.render.match import PlotsData, match_defs_renderers

    revs = list(data)
    template_notes = _builtin_templates(data, templates_dir)
    user_props = {
        plot_id: internals.squash_plot_properties(group)
        for plot_id, group in PlotsData(data).group_definitions().items()
    }
    count_confusion_rows(data)
    out: dict[str, Plot] = {}
    not_read: dict[tuple[str, str], Problem] = {}
    unreadable_type = internals.plot_metric_type_error()
    for side, rev_data in data.items():
        # DVC lists a plot directory inside a directory output from the output's listing:
        # without it, no plot of that revision is known (not one file to name).
        error = rev_data.get("definitions", {}).get("error")
        if error is not None and no_data(error):
            path = missing_directory(error) or "plots"
            not_read[(side, path)] = Problem(path, labels[side], no_data_reason(error))

    for found in match_defs_renderers(data=data):
        unread = []
        for side, errors in found.source_errors.items():
            for src, exc in errors.items():
                if isinstance(exc, unreadable_type):
                    # Not a data file DVC reads (say, an id that names no file): like `dvc
                    # plots diff`, list the plot with the reason and draw the rest.
                    unread.append(f"Not drawn for {labels[side].label}: {describe(exc)}")
                elif no_data(exc):
                    # Not pulled, and not in the remote (or it could not be asked): the
                    # other revision is drawn, the file is listed with the report's problems.
                    not_read.setdefault(
                        (side, src), Problem(src, labels[side], no_data_reason(exc))
                    )
                    unread.append(f"Not drawn for {labels[side].label}: {src} was not read.")
                elif isinstance(exc, EmptyFile):
                    # In the workspace, a file a training run has just opened for writing:
                    # listed with the files not read.  At a commit, a plot with no rows.
                    reason = why_unread(exc, labels[side])
                    if labels[side].name == WORKSPACE:
                        not_read.setdefault((side, src), Problem(src, labels[side], reason))
                    unread.append(f"Not drawn for {labels[side].label}: {src} is {reason}.")
                elif not not_produced(exc, src, labels[side]):
                    # A file that does not parse (say, half-written by a training run)
                    # costs its own data only: the other revision is drawn, and the file
                    # is listed with the report's problems.
                    not_read.setdefault((side, src), unreadable(src, labels[side], exc))
                    unread.append(
                        f"Not drawn for {labels[side].label}: {src} was not read "
                        "(see the files not read)."
                    )
        # A definition that does not fit one revision's data (say, a field renamed in this
        # merge request) still draws the other revision; the chart says what is missing.
        problems = tuple(unread) + tuple(
            f"Not drawn for {labels[side].label}: {describe(exc)}"
            for side, exc in found.definition_errors.items()
        )
        renderer = found.renderer
        if renderer.TYPE == "image":
            image = _image_plot(renderer, revs)
            # One file under several definitions (dvclive's nested dvc.yaml beside the root
            # one: each id is qualified by its file, but an image keeps its own path as its
            # name): DVC lists it once, so does the report, with each revision's image.
            if isinstance(seen := out.get(image.name), ImagePlot):
                image = ImagePlot(
                    image.name,
                    seen.base or image.base,
                    seen.head or image.head,
                    tuple(a or b for a, b in zip(seen.more, image.more, strict=True)),
                )
            out[image.name] = image
            continue
        props = user_props.get(renderer.name, {})
        written = props.get("dvc_cml_template")
        notes: tuple[str, ...] = (template_notes[written],) if written in template_notes else ()
        if cut and any(cut.values()):  # the files of every datapoint: only when needed
            files = {str(dp.get("filename")) for dp in renderer.datapoints} | {renderer.name}
            notes += _cut_notes(files, cut, labels)
        plot = _data_plot(renderer, props, problems, notes, max_points, thinned_files, revs)
        if plot.points or problems:
            out[plot.name] = plot  # with no drawable data at all, listed with the reason
    return tuple(out.values()), tuple(not_read.values())
