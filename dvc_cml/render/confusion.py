"""Confusion matrices as counts, shared by the charts and the terminal view.  Pure."""

from __future__ import annotations

from collections import Counter

from dvc_cml.model import DataPlot


def counts(plot: DataPlot) -> dict[tuple[str, str], Counter[tuple[str, str]]]:
    """{(rev, file): Counter({(x value, y value): n})}, counted per revision and per file."""
    out: dict[tuple[str, str], Counter[tuple[str, str]]] = {}
    for p in plot.points:
        out.setdefault((p.rev, p.series), Counter())[(str(p.x), str(p.y))] += p.count
    return out


def class_order(label: str) -> tuple[int, float, str]:
    """Numeric class labels in numeric order (2 before 10), then the rest alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
