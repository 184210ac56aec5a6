"""How values are written: numbers, cells, changes and verdict marks.

Shared by the renderers and by the messages the logic writes (gate details), so it lives
outside render/."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

from dvc_cml.model import (
    MISSING,
    UNREAD,
    DataChange,
    Gate,
    Output,
    Reproduced,
    Row,
    StageChange,
    Status,
    Value,
    Verdict,
)

SIGNIFICANT = 5
DASH = "—"
MARKERS = {Verdict.BETTER: "✅", Verdict.WORSE: "❌", Verdict.NEUTRAL: ""}


def number(value: float, sign: bool = False) -> str:
    """Five significant digits in fixed notation (scientific only for tiny or huge values)."""
    if isinstance(value, int):
        return f"{value:+d}" if sign else str(value)
    if not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    prefix = "+" if sign and value > 0 else ""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e15 or magnitude < 1e-4:
        return f"{prefix}{value:.{SIGNIFICANT - 1}e}"
    decimals = max(0, SIGNIFICANT - 1 - math.floor(math.log10(magnitude)))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return prefix + text


def value(v: Value) -> str:
    if v is MISSING:
        return DASH
    if v is UNREAD:
        return "not read"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float)):
        return number(v)
    if isinstance(v, str):
        return v
    return str(json.dumps(v, sort_keys=True))


def change(row: Row) -> str:
    """The Change cell: a signed difference, or what happened to a non-numeric value."""
    status = row.status
    if status in (Status.ADDED, Status.REMOVED):
        return str(status.value)
    if status in (Status.UNCHANGED, Status.UNREAD):
        return ""
    delta = row.change
    return "changed" if delta is None else number(delta, sign=True)


def percent(row: Row) -> str:
    rel = row.relative_change
    if rel is None or rel == 0:
        return ""
    return f"{rel:+.1f}%" if abs(rel) >= 0.1 else f"{rel:+.2g}%"


def marker(row: Row) -> str:
    return MARKERS[row.verdict]


def threshold(gate: Gate) -> str:
    """A gate's threshold as the user would write it: "-0.01", "+5%"."""
    return number(gate.threshold, sign=True) + ("%" if gate.relative else "")


def size(n: int | None) -> str:
    """Bytes as people read them: "512 B", "14.4 MB" (decimal units, as `du --si` and most
    file browsers show them)."""
    if n is None:
        return DASH
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def output(out: Output | None) -> str:
    """A tracked output's size, and file count for a directory: "3 files, 18 B"."""
    if out is None:
        return DASH
    if out.files is not None:
        noun = "file" if out.files == 1 else "files"
        return f"{out.files} {noun}, {size(out.size)}"
    return size(out.size)


def data_change(change: DataChange) -> str:
    """ "modified (1 added, 1 deleted inside)": what happened to a tracked output."""
    inside = ", ".join(f"{n} {status}" for status, n in change.inside)
    return f"{change.status} ({inside} inside)" if inside else change.status


NOT_REPRODUCED = "changed since dvc.lock: not reproduced"


def stage_change(stage: StageChange) -> str:
    """A stage's Change cell: added, removed, changed, or (the workspace) changed on disk
    since dvc.lock, as `dvc status` says."""
    return NOT_REPRODUCED if stage.not_reproduced else stage.status


OUTCOMES = {
    "ran": "ran",
    "restored": "restored from the run-cache (not run)",
    "up to date": "up to date",
}


def stages_taken(done: Reproduced, name: Callable[[str], str] = str) -> str:
    """`prepare up to date, train restored from the run-cache (not run), evaluate ran`: each
    stage `dvc repro` took, in its order (the pipeline's), as `dvc repro` says it."""
    return ", ".join(f"{name(s.name)} {OUTCOMES[s.outcome]}" for s in done.stages) or "no stage"


def reproduced(done: Reproduced, name: Callable[[str], str] = str) -> str:
    """The report's sentence on `--repro`."""
    if done.skipped:
        return f"Pipeline not reproduced: {done.skipped}."
    return f"Pipeline reproduced first, in pipeline order: {stages_taken(done, name)}."
