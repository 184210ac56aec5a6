"""The terminal view: rich tables with coloured changes, plots with sparklines and counts.

On a terminal it is coloured and as wide as the terminal; piped or redirected it has no
colour codes, ASCII table borders and a fixed width (`PLAIN_WIDTH`), so logs and tests see
the same stable characters.  Lines that hold a path are never cut or wrapped (they must stay
copy-pasteable); the plot lines are laid out to fit the width, their columns computed from
what they hold.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dvc_cml import format as fmt
from dvc_cml.model import (
    DataPlot,
    PlotKind,
    RenderedPlot,
    Report,
    Row,
    Status,
    Verdict,
    biggest_change,
)
from dvc_cml.render import confusion, multi, palette, summary
from dvc_cml.render.termtext import visible

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 32  # at most; less on a narrow terminal, never under MIN_SPARK
MIN_SPARK = 16
MIN_NAME = 8  # a revision or series name is shortened to no less than this, with "…"
PLAIN_WIDTH = 80  # piped or redirected output
INDENT = "    "
MAX_ROWS = 40  # metrics shown on a terminal; the report file has them all
MAX_CLASSES = 8  # confusion matrices with more classes are summarised, not drawn as a grid
CLASS_WIDTH = 12  # a class name as a grid's row label, at most (a column's: MIN_NAME)
_STYLES = {Verdict.BETTER: "green", Verdict.WORSE: "red", Verdict.NEUTRAL: "yellow"}


def sparkline(values: Sequence[float], lo: float, hi: float, width: int = SPARK_WIDTH) -> str:
    """One character per bucket (mean of the bucket), scaled to [lo, hi]."""
    if not values:
        return ""
    buckets = min(width, len(values))
    chars = []
    for i in range(buckets):
        chunk = values[i * len(values) // buckets : (i + 1) * len(values) // buckets]
        mean = sum(chunk) / len(chunk)
        level = 0 if hi == lo else round((mean - lo) / (hi - lo) * (len(BARS) - 1))
        chars.append(BARS[max(0, min(len(BARS) - 1, level))])
    return "".join(chars)


def is_steps(xs: Sequence[float]) -> bool:
    """A step series: every x a whole number (a step, an epoch, an iteration), none twice.

    Its last point is where training ended, so its y there means something ("the loss at the
    last epoch").  A ROC or precision-recall curve's x is a rate: its "last" point is only
    the one that sorts last, and says nothing.
    """
    return len(set(xs)) == len(xs) and all(float(x).is_integer() for x in xs)


Series = tuple[str, str, list[float], str]  # revision label, series, ys by x, last value


def _series(plot: DataPlot, labels: Mapping[str, str]) -> tuple[list[Series], float, float]:
    """Each series at each revision with numbers on both axes, and one scale for all."""
    numeric = [
        p
        for p in plot.points
        if isinstance(p.x, (int, float))
        and isinstance(p.y, (int, float))
        and not isinstance(p.x, bool)
    ]
    if not numeric:
        return [], 0.0, 0.0
    out: list[Series] = []
    for series in sorted({p.series for p in numeric}):
        for rev in plot.revs():
            if rev not in labels:
                continue
            pts = sorted((p.x, float(p.y)) for p in numeric if p.rev == rev and p.series == series)
            if pts:
                xs, ys = [x for x, _ in pts], [y for _, y in pts]
                last = fmt.number(ys[-1]) if is_steps(xs) else ""
                out.append((labels[rev], series, ys, last))
    ys = [float(p.y) for p in numeric]
    return out, min(ys), max(ys)


def sparklines(
    plot: DataPlot, labels: Mapping[str, str], width: int = SPARK_WIDTH
) -> list[tuple[str, str, str, str]]:
    """(revision, series, sparkline, value at the last step) per series and revision of a
    line plot; the value is "" unless the series is a step series (`is_steps`)."""
    rows, lo, hi = _series(plot, labels)
    return [(rev, name, sparkline(ys, lo, hi, width), last) for rev, name, ys, last in rows]


def _fit(text: str, width: int) -> str:
    """`text` cut to `width` at its end: "workspace (22…"."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _fit_end(text: str, width: int) -> str:
    """`text` cut to `width` at its start, for a series, whose field comes last:
    "…/train/loss.tsv: loss"."""
    return text if len(text) <= width else "…" + text[len(text) - max(width - 1, 0) :]


def spark_lines(plot: DataPlot, labels: Mapping[str, str], width: int) -> list[str]:
    """The sparklines laid out in `width` columns: revision, series, sparkline, last value.

    Columns are as wide as what they hold; on a narrow terminal the names give way (cut
    with "…", a series from its start) before the sparkline gets shorter than MIN_SPARK.
    """
    rows, lo, hi = _series(plot, labels)
    if not rows:
        return []
    rev_w = max(len(r[0]) for r in rows)
    name_w = max(len(r[1]) for r in rows)
    value_w = max(len(r[3]) for r in rows)
    tail = value_w + 1 if value_w else 0

    def room() -> int:
        return width - len(INDENT) - rev_w - 1 - name_w - 1 - tail

    # A narrow terminal: the names give way, the series first, before the sparkline does.
    name_w -= min(max(MIN_SPARK - room(), 0), max(name_w - MIN_NAME, 0))
    rev_w -= min(max(MIN_SPARK - room(), 0), max(rev_w - MIN_NAME, 0))
    spark_w = max(1, min(SPARK_WIDTH, room()))
    sparks = [sparkline(ys, lo, hi, spark_w) for _, _, ys, _ in rows]
    drawn_w = max(map(len, sparks))
    lines = []
    for (rev, name, _, last), spark in zip(rows, sparks, strict=True):
        line = f"{INDENT}{_fit(rev, rev_w):<{rev_w}} {_fit_end(name, name_w):<{name_w}} "
        lines.append(f"{line}{spark:<{drawn_w}} {last}".rstrip())
    return lines


def confusion_lines(plot: DataPlot, labels: Mapping[str, str], width: int) -> list[str]:
    """Each revision's counts (and each file's, with several): a grid of actual (rows) by
    predicted (columns) when it fits `width` and has at most MAX_CLASSES classes, else the
    largest mistakes; always how many fall on the diagonal."""
    counted = confusion.counts(plot)
    classes = sorted(
        {c for cells in counted.values() for pair in cells for c in pair}, key=confusion.class_order
    )
    files = sorted({file for _, file in counted})
    order = [rev for rev in plot.revs() if rev in labels]
    lines = [f"{INDENT}rows: {plot.x_label}, columns: {plot.y_label}"]
    for rev in order:
        for file in files:
            cells = counted.get((rev, file))
            if not cells:
                continue
            total = sum(cells.values())
            right = sum(n for (a, b), n in cells.items() if a == b)
            share = f"{100 * right / total:.1f}%" if total else "-"
            where = f" {file}" if len(files) > 1 else ""
            lines.append(
                f"{INDENT}{labels[rev]}{where}: {right} of {total} on the diagonal ({share})"
            )
            lines += _grid(cells, classes, width) or _mistakes(cells, width)
    return lines


def _grid(cells: Mapping[tuple[str, str], int], classes: list[str], width: int) -> list[str]:
    """The counts as a grid, or [] when it would not fit."""
    if len(classes) > MAX_CLASSES:
        return []
    label_w = max(len(_fit(c, CLASS_WIDTH)) for c in classes)
    cell_w = max([len(_fit(c, MIN_NAME)) for c in classes] + [len(str(n)) for n in cells.values()])
    indent = INDENT + "  "
    if len(indent) + label_w + len(classes) * (cell_w + 1) > width:
        return []
    header = " ".join(f"{_fit(c, MIN_NAME):>{cell_w}}" for c in classes)
    lines = [f"{indent}{'':<{label_w}} {header}"]
    for actual in classes:
        counts = " ".join(f"{cells.get((actual, p), 0):>{cell_w}}" for p in classes)
        lines.append(f"{indent}{_fit(actual, CLASS_WIDTH):<{label_w}} {counts}")
    return lines


def _mistakes(cells: Mapping[tuple[str, str], int], width: int, top: int = 3) -> list[str]:
    """The largest off-diagonal counts, as many as fit in `width` (at least one)."""
    wrong = sorted(((n, a, b) for (a, b), n in cells.items() if a != b and n), reverse=True)
    line = f"{INDENT}  most often mistaken:"
    for count, (n, a, b) in enumerate(wrong[:top]):
        item = f"{' ' if count == 0 else ', '}{a} as {b}: {n}"
        if count and len(line) + len(item) > width:
            break
        line += item
    return [line] if wrong else []


def _table(title: str, rows: Sequence[Row], report: Report, noun: str, plain: bool) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, box=box.ASCII if plain else box.SIMPLE_HEAD, title_justify="left")
    # Text cells, never markup strings: a value like "[/tmp]" must print as itself.
    table.add_column(Text("Path"))
    table.add_column(Text(noun))
    table.add_column(Text(visible(report.base.name)), justify="right")
    table.add_column(Text(visible(report.head.name)), justify="right")
    table.add_column("Change", justify="right")
    table.add_column("%", justify="right")
    words = {Verdict.BETTER: " better", Verdict.WORSE: " worse"}
    for row in rows:
        # Words as well as colours: readable in logs and for colour-blind reviewers.
        change = fmt.change(row) + words.get(row.verdict, "")
        style = _STYLES[row.verdict] if row.status is Status.CHANGED else ""
        if row.status in (Status.ADDED, Status.REMOVED):
            style = "cyan"
        cells = [row.path, row.key, fmt.value(row.base), fmt.value(row.head)]
        table.add_row(
            *(Text(visible(cell)) for cell in cells),
            Text(change, style="" if plain else style),
            Text(fmt.percent(row)),
        )
    return table


def _plain_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], plain: bool
) -> Any:
    """A table of cells already made `visible` (a cell's own line breaks are kept)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, box=box.ASCII if plain else box.SIMPLE_HEAD, title_justify="left")
    for name in header:
        table.add_column(Text(name))
    for cells in rows:
        table.add_row(*(Text(cell) for cell in cells))
    return table


def _stages(report: Report, plain: bool) -> list[Any]:
    from rich.text import Text

    total = len(report.stages) + report.stages_unchanged
    if not report.stages:
        return [Text(f"Pipeline: none of {total} stages changed.")] if total else []
    rows = [
        [
            visible(stage.name),
            fmt.stage_change(stage),
            "changed" if stage.command else "",
            "\n".join(visible(dep) for dep in stage.deps),
            "\n".join(
                visible(f"{p.name}: {fmt.value(p.base)} -> {fmt.value(p.head)}")
                for p in stage.params
            ),
            "\n".join(visible(out) for out in stage.outs),
        ]
        for stage in report.stages
    ]
    title = f"Pipeline ({len(report.stages)} of {total} stages changed)"
    header = ["Stage", "Change", "Command", "Dependencies", "Params", "Outputs"]
    return [_plain_table(title, header, rows, plain)]


def _data(report: Report, plain: bool) -> list[Any]:
    from rich.text import Text

    if not report.data:
        return [Text("Data: no DVC-tracked output changed.")] if report.tracked else []
    rows = []
    for change in report.data:
        path = f"{change.old_path} -> {change.path}" if change.old_path else change.path
        rows.append(
            [
                visible(path),
                fmt.data_change(change),
                fmt.output(change.base),
                fmt.output(change.head),
            ]
        )
    title = f"Data ({len(report.data)} of {report.tracked} DVC-tracked outputs changed)"
    header = ["Path", "Change", visible(report.base.name), visible(report.head.name)]
    return [_plain_table(title, header, rows, plain)]


def _opening(report: Report, plots: Sequence[RenderedPlot], plain: bool, width: int) -> list[Any]:
    """The header and the verdict line (with several heads wrapped to `width`, then the
    revisions' legend), what --repro did, and the files not read."""
    from rich.text import Text

    verdict = summary.line(report.summary(plots))
    base = visible(report.base.label)
    if report.multi:
        items: list[Any] = [
            Text(f"DVC report: {base} -> {len(report.heads)} revisions", style="bold"),
            *_wrapped(verdict, width, indent=""),
            *_legend(report, plain),
        ]
    else:
        head = visible(report.head.label)
        items = [Text(f"DVC report: {base} -> {head}", style="bold"), Text(verdict)]
    if report.reproduced:
        items.append(Text(visible(fmt.reproduced(report.reproduced))))
    for problem in report.problems:
        said = visible(f"{problem.path} at {problem.rev.label}: {problem.reason}")
        items.append(Text(f"Not read: {said}", style="yellow"))
    return items


def _shown_metrics(report: Report) -> tuple[Sequence[Row], int]:
    """The metrics a terminal shows, and how many changed: all of them, or, when there are
    more than MAX_ROWS (a terminal is no place for thousands of rows), the biggest changes
    (at the first head)."""
    changed = [r for r in report.metrics if r.status is not Status.UNCHANGED]
    if len(report.metrics) > MAX_ROWS:
        return sorted(changed, key=biggest_change)[:MAX_ROWS], len(changed)
    return report.metrics, len(changed)


def _more_metrics(report: Report, shown: Sequence[Row]) -> list[Any]:
    """A count of the metrics left out (`_shown_metrics`)."""
    from rich.text import Text

    left = len(report.metrics) - len(shown)
    return [Text(f"… {left} more metrics, all in the report file")] if left else []


# --- several heads ---------------------------------------------------------------------------

NAME_WIDTH = 10  # longer revision names are shortened in the tables; the legend has them whole
METRIC_WIDTH = 26
MARKS = {Verdict.BETTER: " ✓", Verdict.WORSE: " ✗"}


def short_names(report: Report, width: int = NAME_WIDTH) -> dict[str, str]:
    """{revision key: its name, shortened to `width` with "…"; unique}."""
    out: dict[str, str] = {}
    for key, rev in zip(report.keys, report.revisions, strict=True):
        whole = visible(rev.name)
        name = whole if len(whole) <= width else whole[: width - 1] + "…"
        number = 2
        while name in out.values():  # two long names with the same beginning
            tail = f"…{number}"
            name, number = whole[: width - len(tail)] + tail, number + 1
        out[key] = name
    return out


def _styles(report: Report) -> dict[str, str]:
    """Each revision's colour, as on the charts (base grey)."""
    return palette.colours(palette.drawn_keys(report))


def _chunks(widths: Sequence[int], fixed: int, limit: int) -> list[list[int]]:
    """Column indexes in groups whose table fits `limit` (ASCII: 3 characters per column and
    one more), each group after the `fixed` leading width."""
    groups: list[list[int]] = [[]]
    used = fixed
    for index, width in enumerate(widths):
        if groups[-1] and used + width + 3 > limit:
            groups.append([])
            used = fixed
        groups[-1].append(index)
        used += width + 3
    return groups


def _multi_tables(
    title: str,
    noun: str,
    rows: Sequence[Row],
    report: Report,
    plain: bool,
    marks: bool,
    width: int,
) -> list[Any]:
    """The rows with a column per revision; the heads split over as many tables as it takes
    to fit `width`, each with the row's name and the base again."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    names, styles = short_names(report), _styles(report)
    many_files = len({row.path for row in rows}) > 1
    labels = [visible(f"{row.path}:{row.key}" if many_files else row.key) for row in rows]
    cells: list[list[Text]] = []  # per row: a cell per revision
    for row in rows:
        best = set(row.best()) if marks else set()
        line = []
        for index, value in enumerate(row.values):
            verdict = row.against(index - 1).verdict if index and marks else Verdict.NEUTRAL
            text = visible(fmt.value(value)) + MARKS.get(verdict, "")
            text += "*" if index in best else ""
            style = _STYLES[verdict] if verdict is not Verdict.NEUTRAL and not plain else ""
            line.append(Text(text, style=style))
        cells.append(line)
    keys = report.keys
    widths = [max([len(names[k]), *(len(c[i].plain) for c in cells)]) for i, k in enumerate(keys)]
    name_width = min(METRIC_WIDTH, max([len(noun), *map(len, labels)]))
    groups = _chunks(widths[1:], fixed=1 + (name_width + 3) + (widths[0] + 3), limit=width)
    tables = []
    for number, group in enumerate(groups, start=1):
        columns = [0, *(i + 1 for i in group)]
        part = f" ({number}/{len(groups)})" if len(groups) > 1 else ""
        table = Table(
            title=f"{title}{part}",
            box=box.ASCII if plain else box.SIMPLE_HEAD,
            title_justify="left",
        )
        table.add_column(Text(noun), max_width=name_width, overflow="fold")
        for i in columns:
            style = "" if plain else f"bold {styles.get(keys[i], '')}".strip()
            table.add_column(Text(names[keys[i]], style=style), justify="right")
        for label, line in zip(labels, cells, strict=True):
            table.add_row(Text(label), *(line[i] for i in columns))
        tables.append(table)
    return tables


def _legend(report: Report, plain: bool) -> list[Any]:
    """Each revision: its short name (coloured as on the charts), commit, full name when
    shortened, and how it compares with the base."""
    from rich.text import Text

    names, styles = short_names(report), _styles(report)
    counts = dict(report.summary().per_head)
    best = set(report.best())
    width = max(map(len, names.values()))
    lines = []
    for index, (key, rev) in enumerate(zip(report.keys, report.revisions, strict=True)):
        against = "base" if index == 0 else summary.buckets(counts.get(rev.name, ()))
        if index in best and report.primary:
            against += f"; best {visible(report.primary[1])}"
        if key not in styles:
            against += "; not drawn on the charts"
        full = f"{visible(rev.name)}: " if names[key] != visible(rev.name) else ""
        line = Text(f"  {names[key]:<{width}}", style="" if plain else styles.get(key, ""))
        line.append(f"  {rev.short_sha or '       '}  {full}{against}")
        lines.append(line)
    return lines


def _wrapped(text: str, width: int, indent: str = "      ", items: Sequence[str] = ()) -> list[Any]:
    """A long line as lines of `width`, broken between words (never inside a path) and,
    when `items` are given (joined with ", " after `text`), only between items."""
    import textwrap

    from rich.text import Text

    whole = NBSP if items else " "
    line = visible(text) + ", ".join(visible(item).replace(" ", whole) for item in items)
    lines = textwrap.wrap(
        line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )
    return [Text(part.replace(NBSP, " ")) for part in lines]


NBSP = "\u00a0"  # textwrap breaks at ASCII spaces only


def _multi_changes(report: Report, width: int) -> list[Any]:
    """Pipeline and data, a line per stage and per output, however many heads changed it."""
    from rich.text import Text

    items: list[Any] = []
    merged = multi.merged_stages(report.stages)
    total = len(merged) + report.stages_unchanged
    if total:
        items.append(Text(f"Pipeline ({len(merged)} of {total} stages changed)", style="bold"))
    for name, stage in merged.items():
        how, command, deps, params, outs = multi.stage_summary(report, stage)
        items += _wrapped(f"  {name}: {'; '.join(how)}", width)
        for label, values in (("command", command), ("deps", deps), ("outs", outs)):
            if values:
                items += _wrapped(f"    {label}: ", width, items=values)
        for line in params:
            items += _wrapped(f"    param {line}", width)
    grouped = multi.by_path(report.data)
    if grouped:
        title = f"Data ({len(grouped)} of {report.tracked} DVC-tracked outputs changed)"
        items.append(Text(title, style="bold"))
    elif report.tracked:
        items.append(Text("Data: no DVC-tracked output changed."))
    for data in grouped.values():
        first = data[0]
        path = f"{first.old_path} -> {first.path}" if first.old_path else first.path
        at = [
            f"{report.revision(c.rev).name} {fmt.data_change(c)} ({fmt.output(c.head)})"
            for c in data
        ]
        items += _wrapped(f"  {path} ({fmt.output(first.base)}): ", width, items=at)
    return items


def _multi_renderables(
    report: Report, plots: Sequence[RenderedPlot], out_dir: Path, plain: bool, width: int
) -> list[Any]:
    from rich.text import Text

    items = _opening(report, plots, plain, width)
    if report.metrics:
        shown, changed = _shown_metrics(report)
        title = f"Metrics ({changed} of {len(report.metrics)} changed)"
        items += _multi_tables(title, "Metric", shown, report, plain, True, width)
        items.append(Text(f"✓ better, ✗ worse than {visible(report.base.name)}; * the best value"))
        items += _more_metrics(report, shown)
    else:
        items.append(Text("No metrics at any revision."))
    changed_params = report.changed_params()
    if changed_params:
        title = f"Params ({len(changed_params)} of {len(report.params)} differ)"
        items += _multi_tables(title, "Param", changed_params, report, plain, False, width)
    elif report.params:
        items.append(Text(f"Params: none of {len(report.params)} differ."))
    items += _multi_changes(report, width)
    drawn = palette.drawn_keys(report)
    names = {key: name for key, name in short_names(report).items() if key in drawn}
    items += _plot_lines(report, plots, out_dir, names, width)
    return items


def renderables(
    report: Report,
    plots: Sequence[RenderedPlot],
    out_dir: Path,
    plain: bool,
    width: int = PLAIN_WIDTH,
) -> list[RenderableType]:
    from rich.text import Text

    if report.multi:
        return _multi_renderables(report, plots, out_dir, plain, width)
    items = _opening(report, plots, plain, width)
    if report.metrics:
        shown, changed = _shown_metrics(report)
        title = "Metrics"
        if len(report.metrics) > MAX_ROWS:
            title = f"Metrics ({changed} of {len(report.metrics)} changed, biggest first)"
        items.append(_table(title, shown, report, "Metric", plain))
        items += _more_metrics(report, shown)
    else:
        items.append(Text("No metrics at either revision."))
    changed_params = report.changed_params()
    if changed_params:
        title = f"Params ({len(changed_params)} of {len(report.params)} changed)"
        items.append(_table(title, changed_params, report, "Param", plain))
    elif report.params:
        items.append(Text(f"Params: none of {len(report.params)} changed."))
    items += _stages(report, plain) + _data(report, plain)
    labels = {"base": visible(report.base.label), "head": visible(report.head.label)}
    items += _plot_lines(report, plots, out_dir, labels, width)
    return items


def _plot_lines(
    report: Report,
    plots: Sequence[RenderedPlot],
    out_dir: Path,
    labels: Mapping[str, str],
    width: int,
) -> list[Any]:
    """Each plot drawn: its files, its notes, a sparkline per series and revision of a line
    plot, and each revision's counts of a confusion matrix (revisions named by `labels`)."""
    from rich.text import Text

    items: list[Any] = []
    data_plots = {p.name: p for p in report.plots if isinstance(p, DataPlot)}
    if plots:
        items.append(Text("Plots", style="bold"))
    for plot in plots:
        if not (plot.changed or plot.drawn):
            continue  # counted below
        status = "" if plot.changed else " (unchanged)"
        items.append(Text(f"  {visible(plot.title)} [{plot.kind.value}]{status}"))
        files = [plot.png] if plot.png else [path for _, path in plot.images]
        for rel in files:
            items.append(Text(f"    {visible(str(out_dir / rel))}" if rel else "", style="dim"))
        for note in plot.notes:
            items.append(Text(f"    {visible(note)}", style="yellow"))
        data = data_plots.get(plot.name)
        if data is not None and data.kind in (PlotKind.LINE, PlotKind.SMOOTH):
            items += [Text(visible(line)) for line in spark_lines(data, labels, width)]
        elif data is not None and data.kind is PlotKind.CONFUSION:
            items += [Text(visible(line)) for line in confusion_lines(data, labels, width)]
    if skipped := sum(not (p.changed or p.drawn) for p in plots):
        items.append(Text(f"  {skipped} unchanged plot(s) not drawn (--all-plots draws them)"))
    return items


def show(
    report: Report,
    plots: Sequence[RenderedPlot],
    out_dir: Path,
    report_path: Path,
    stream: TextIO,
    width: int | None = None,
) -> None:
    """The view on `stream`, `width` columns wide (default: the terminal's, or PLAIN_WIDTH
    when piped)."""
    console = make_console(stream, width)
    plain = not console.is_terminal
    from rich.text import Text

    # Lines of text (paths above all) are never wrapped: they must stay copy-pasteable.
    for item in renderables(report, plots, out_dir, plain, console.width):
        console.print(item, soft_wrap=isinstance(item, Text))
    console.print(Text(f"Report written to {visible(str(report_path))}"), soft_wrap=True)


def make_console(stream: TextIO, width: int | None = None) -> Console:
    from rich.console import Console

    terminal = stream.isatty()
    return Console(
        file=stream,
        force_terminal=terminal,
        no_color=not terminal,
        highlight=False,
        width=width or (None if terminal else PLAIN_WIDTH),
        emoji=False,
    )


@contextlib.contextmanager
def progress() -> Iterator[Callable[[str], None]]:
    """A spinner with the current step on stderr, only when stderr is an interactive terminal."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(stderr=True)
    with console.status("starting") as status:
        # Text, not a string: rich would read `[link=…]` in a name as markup.
        yield lambda text: status.update(Text(visible(text)))
