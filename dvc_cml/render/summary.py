"""The report's first line: better or worse, in one sentence.  Pure.

Every count comes from `Report.summary()`, i.e. from the rows the tables below show.
"""

from __future__ import annotations

from dvc_cml import format as fmt
from dvc_cml.model import Summary


def _n(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def buckets(counts: tuple[tuple[str, int], ...]) -> str:
    """`2 better, 1 worse`: how one head's metrics compare with the base's."""
    return ", ".join(f"{n} {bucket}" for bucket, n in counts) or "no metrics"


def _best(summary: Summary) -> str:
    """`best: exp-b (test.acc 0.91)`: the revisions with the primary metric's best value."""
    if not summary.best:
        return f"best by {summary.primary}: none stands out"
    value = fmt.value(summary.best_value)
    return f"best: {', '.join(summary.best)} ({summary.primary} {value})"


def line(summary: Summary) -> str:
    """`2 metrics better, 1 worse, 3 unchanged · gates 2/2 passed · 3 of 4 plots changed ·
    data: 2 files changed · pipeline: 1 of 4 stages changed`.  With several heads the
    metrics part names the best revision (`primary:`), else counts per head:
    `exp-a: 2 better, 1 worse; exp-b: 3 better`."""
    parts = []
    if summary.per_head and summary.primary:
        parts.append(_best(summary))
    elif any(counts for _, counts in summary.per_head):
        parts.append("; ".join(f"{name}: {buckets(counts)}" for name, counts in summary.per_head))
    elif summary.metrics:
        (first, n), *rest = summary.metrics
        words = [f"{_n(n, 'metric')} {first}"] + [f"{n} {bucket}" for bucket, n in rest]
        parts.append(", ".join(words))
    if summary.params_changed:
        parts.append(f"{_n(summary.params_changed, 'param')} changed")
    if summary.gates:
        parts.append(f"gates {summary.gates_passed}/{summary.gates} passed")
    if summary.plots:
        parts.append(f"{summary.plots_changed} of {_n(summary.plots, 'plot')} changed")
    if summary.dirs_changed or summary.files_changed:
        changed = []
        if summary.dirs_changed:
            changed.append(_n(summary.dirs_changed, "directory", "directories"))
        if summary.files_changed:
            changed.append(_n(summary.files_changed, "file"))
        parts.append(f"data: {' and '.join(changed)} changed")
    elif summary.tracked:
        parts.append("data unchanged")
    if summary.stages:
        parts.append(f"pipeline: {summary.stages_changed} of {_n(summary.stages, 'stage')} changed")
    if summary.problems:
        parts.append(f"{_n(summary.problems, 'file')} not read")
    return " · ".join(parts) or "nothing changed"
