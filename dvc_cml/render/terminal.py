"""The terminal view: rich tables with coloured changes, plots with sparklines.

On a terminal it is coloured; piped or redirected it has no colour codes, ASCII table borders
and a fixed width, so logs and tests see the same stable characters.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
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
from dvc_cml.render import summary

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 32
PLAIN_WIDTH = 100
MAX_ROWS = 40  # metrics shown on a terminal; the report file has them all
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


def sparklines(plot: DataPlot, labels: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(revision, series, sparkline, last value) per series and revision of a line plot."""
    numeric = [
        p for p in plot.points if isinstance(p.x, (int, float)) and isinstance(p.y, (int, float))
    ]
    if not numeric:
        return []
    lo = min(float(p.y) for p in numeric)
    hi = max(float(p.y) for p in numeric)
    out = []
    for series in sorted({p.series for p in numeric}):
        for rev in plot.revs():
            pts = sorted((p.x, float(p.y)) for p in numeric if p.rev == rev and p.series == series)
            if pts:
                ys = [y for _, y in pts]
                out.append((labels[rev], series, sparkline(ys, lo, hi), fmt.number(ys[-1])))
    return out


def _table(title: str, rows: Sequence[Row], report: Report, noun: str, plain: bool) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, box=box.ASCII if plain else box.SIMPLE_HEAD, title_justify="left")
    # Text cells, never markup strings: a value like "[/tmp]" must print as itself.
    table.add_column(Text("Path"))
    table.add_column(Text(noun))
    table.add_column(Text(report.base.name), justify="right")
    table.add_column(Text(report.head.name), justify="right")
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
            *(Text(cell) for cell in cells),
            Text(change, style="" if plain else style),
            Text(fmt.percent(row)),
        )
    return table


def _plain_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], plain: bool
) -> Any:
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
            stage.name,
            fmt.stage_change(stage),
            "changed" if stage.command else "",
            "\n".join(stage.deps),
            "\n".join(
                f"{p.name}: {fmt.value(p.base)} -> {fmt.value(p.head)}" for p in stage.params
            ),
            "\n".join(stage.outs),
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
            [path, fmt.data_change(change), fmt.output(change.base), fmt.output(change.head)]
        )
    title = f"Data ({len(report.data)} of {report.tracked} DVC-tracked outputs changed)"
    header = ["Path", "Change", report.base.name, report.head.name]
    return [_plain_table(title, header, rows, plain)]


def renderables(
    report: Report, plots: Sequence[RenderedPlot], out_dir: Path, plain: bool
) -> list[RenderableType]:
    from rich.text import Text

    labels = {"base": report.base.label, "head": report.head.label}
    items: list[Any] = [Text(f"DVC report: {labels['base']} -> {labels['head']}", style="bold")]
    items.append(Text(summary.line(report.summary(plots))))
    if done := report.reproduced:
        ran, fresh = ", ".join(done.ran) or "none", ", ".join(done.up_to_date) or "none"
        items.append(Text(f"Pipeline reproduced first: ran {ran}; up to date {fresh}."))
    for problem in report.problems:
        where = f"{problem.path} at {problem.rev.label}"
        items.append(Text(f"Not read: {where}: {problem.reason}", style="yellow"))
    if len(report.metrics) > MAX_ROWS:
        # A terminal is no place for thousands of rows: the biggest changes, and a count.
        changed = [r for r in report.metrics if r.status is not Status.UNCHANGED]
        shown = sorted(changed, key=biggest_change)[:MAX_ROWS]
        title = f"Metrics ({len(changed)} of {len(report.metrics)} changed, biggest first)"
        items.append(_table(title, shown, report, "Metric", plain))
        items.append(
            Text(f"… {len(report.metrics) - len(shown)} more metrics, all in the report file")
        )
    elif report.metrics:
        items.append(_table("Metrics", report.metrics, report, "Metric", plain))
    else:
        items.append(Text("No metrics at either revision."))
    changed_params = report.changed_params()
    if changed_params:
        title = f"Params ({len(changed_params)} of {len(report.params)} changed)"
        items.append(_table(title, changed_params, report, "Param", plain))
    elif report.params:
        items.append(Text(f"Params: none of {len(report.params)} changed."))
    items += _stages(report, plain) + _data(report, plain)
    data_plots = {p.name: p for p in report.plots if isinstance(p, DataPlot)}
    if plots:
        items.append(Text("Plots", style="bold"))
    for plot in plots:
        if not (plot.changed or plot.drawn):
            continue  # counted below
        status = "" if plot.changed else " (unchanged)"
        items.append(Text(f"  {plot.title} [{plot.kind.value}]{status}"))
        files = [plot.png] if plot.png else [path for _, path in plot.images]
        for rel in files:
            items.append(Text(f"    {out_dir / rel}" if rel else "", style="dim"))
        for note in plot.notes:
            items.append(Text(f"    {note}", style="yellow"))
        data = data_plots.get(plot.name)
        if data is not None and data.kind in (PlotKind.LINE, PlotKind.SMOOTH):
            for rev, series, spark, last in sparklines(data, labels):
                items.append(Text(f"    {rev:<22} {series:<28} {spark} {last}"))
    if skipped := sum(not (p.changed or p.drawn) for p in plots):
        items.append(Text(f"  {skipped} unchanged plot(s) not drawn (--all-plots draws them)"))
    return items


def show(
    report: Report,
    plots: Sequence[RenderedPlot],
    out_dir: Path,
    report_path: Path,
    stream: TextIO,
) -> None:
    console = make_console(stream)
    plain = not console.is_terminal
    from rich.text import Text

    # Lines of text (paths above all) are never wrapped: they must stay copy-pasteable.
    for item in renderables(report, plots, out_dir, plain):
        console.print(item, soft_wrap=isinstance(item, Text))
    console.print(Text(f"Report written to {report_path}"), soft_wrap=True)


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

    console = Console(stderr=True)
    with console.status("starting") as status:
        yield lambda text: status.update(text)
