"""GitLab-flavoured Markdown for a Report.  Pure: returns a string."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from dvc_cml import format as fmt
from dvc_cml.model import (
    DataChange,
    PlotKind,
    Problem,
    RenderedPlot,
    Report,
    Row,
    StageChange,
    Status,
    Verdict,
    biggest_change,
)
from dvc_cml.render import gates, summary
from dvc_cml.render.mdtext import code, escape, table

T = TypeVar("T")


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
        dirty = " + uncommitted changes" if r.dirty else ""
        sha = f" ({code(r.short_sha)}{dirty})" if r.short_sha else ""
        parts.append(f"**{escape(r.name)}**{sha}")
    return f"## DVC report: {parts[0]} → {parts[1]}"


@dataclass(frozen=True)
class Trim:
    """How to shrink a report that is too long for a GitLab comment."""

    only_changed: bool = False  # drop unchanged metrics and the all-params table
    max_rows: int | None = None  # cut every table to this many rows


def _cut(rows: Sequence[T], trim: Trim) -> tuple[Sequence[T], int]:
    if trim.max_rows is None or len(rows) <= trim.max_rows:
        return rows, 0
    return rows[: trim.max_rows], len(rows) - trim.max_rows


def _left_out(count: int) -> list[str]:
    return [f"… and {count} more rows, left out here to fit.", ""] if count else []


INLINE_METRICS = 25  # more than this: changed metrics first, unchanged ones folded
GROUP_PLOTS = 10  # more changed plots than this: grouped by the folder of their file


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
    unread = sum(r.status is Status.UNREAD for r in changed)
    summary = f"{len(changed) - unread} of {len(report.metrics)} metrics changed"
    summary += f", {unread} not read." if unread else "."
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


FOLD_DATA = 20  # more changed outputs than this: the table is folded


def _data_cells(change: DataChange) -> list[str]:
    path = escape(change.path)
    if change.old_path:
        path = f"{escape(change.old_path)} → {path}"
    return [path, escape(fmt.data_change(change)), fmt.output(change.base), fmt.output(change.head)]


def _data(report: Report, trim: Trim) -> list[str]:
    """DVC-tracked files and directories that changed (`dvc diff`), sizes from dvc.lock."""
    if not report.data:
        return ["### Data", "", "No DVC-tracked data changed.", ""] if report.tracked else []
    rows, cut = _cut(report.data, trim)
    header = ["Path", "Change", escape(report.base.name), escape(report.head.name)]
    body = table(header, ["l", "l", "r", "r"], [_data_cells(c) for c in rows])
    count = f"{len(report.data)} of {report.tracked} DVC-tracked outputs changed."
    if len(rows) > FOLD_DATA:
        body = f"<details><summary>{count}</summary>\n\n{body}\n\n</details>"
        count = ""
    return ["### Data", "", body, "", *_left_out(cut), *([count, ""] if count else [])]


def _stage_cells(stage: StageChange) -> list[str]:
    params = "<br>".join(
        escape(f"{p.name}: {fmt.value(p.base)} → {fmt.value(p.head)}") for p in stage.params
    )
    return [
        escape(stage.name),
        fmt.stage_change(stage),
        "changed" if stage.command else "",
        "<br>".join(escape(d) for d in stage.deps),
        params,
        "<br>".join(escape(o) for o in stage.outs),
    ]


def _stages(report: Report, trim: Trim) -> list[str]:
    """Stages of dvc.lock whose command, dependencies, params or outputs changed."""
    total = len(report.stages) + report.stages_unchanged
    if not total:
        return []
    out = ["### Pipeline", ""]
    if report.stages:
        rows, cut = _cut(report.stages, trim)
        header = ["Stage", "Change", "Command", "Dependencies", "Params", "Outputs"]
        out += [table(header, ["l"] * 6, [_stage_cells(s) for s in rows]), ""]
        out += _left_out(cut)
    unchanged = report.stages_unchanged
    if unchanged:
        out += [f"{unchanged} of {total} stages in dvc.lock unchanged.", ""]
    return out


def _problems(problems: Sequence[Problem], trim: Trim) -> list[str]:
    """Files that could not be read: which, at which revision, and why."""
    if not problems:
        return []
    rows, cut = _cut(problems, trim)
    body = [[escape(p.path), escape(p.rev.label), escape(p.reason)] for p in rows]
    return [
        "### Not read",
        "",
        table(["File", "Revision", "Why"], ["l", "l", "l"], body),
        "",
        *_left_out(cut),
        "Everything else in this report was read; rows and charts from these files are missing.",
        "",
    ]


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
    out = [_header(report), "", f"**{escape(summary.line(report.summary(plots)))}**", ""]
    if report.reproduced:
        out += [fmt.reproduced(report.reproduced, code), ""]
    if report.gates:
        out += [gates.markdown(report.gates)]
    out += _problems(report.problems, trim)
    out += _metrics(report, trim)
    out += _params(report, trim)
    out += _stages(report, trim)
    out += _data(report, trim)
    out += _plots(report, plots)
    return "\n".join(out).rstrip("\n") + "\n"
