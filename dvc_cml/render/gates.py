"""Gate results as a Markdown section and as plain lines for a terminal or CI log.  Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dvc_cml import format as fmt
from dvc_cml.model import GateResult
from dvc_cml.render.mdtext import escape, table

MARKERS = {"pass": "✅ pass", "fail": "❌ fail", "missing": "⚠️ missing"}
LABELS = {"pass": "PASS", "fail": "FAIL", "missing": "MISS"}  # one width, for aligned logs


def summary(results: Sequence[GateResult], heads: int = 1) -> str:
    passed = sum(result.status == "pass" for result in results)
    if heads > 1:  # each gate judged at every head
        return f"{passed} of {len(results)} gate checks passed ({len(results) // heads} × {heads})."
    noun = "gate" if len(results) == 1 else "gates"
    return f"{passed} of {len(results)} {noun} passed."


def _cells(result: GateResult) -> list[str]:
    gate, row = result.gate, result.row
    if row is None:
        return [gate.text, gate.metric, fmt.DASH, fmt.DASH, "", MARKERS[result.status]]
    change = fmt.change(row) or "unchanged"
    if gate.relative and (percent := fmt.percent(row)):
        change = f"{change} ({percent})"
    metric = f"{row.path}:{row.key}"
    base, head = fmt.value(row.base), fmt.value(row.head)
    return [gate.text, metric, base, head, change, MARKERS[result.status]]


def markdown(results: Sequence[GateResult], heads: Mapping[str, str] | None = None) -> str:
    """A `### Gates` section: one row per gate, a summary, and why each failing gate failed.

    With several heads (`heads`: {key: heading}), a row per gate and head, saying which.
    Empty when there are no gates, so a report without gates shows no section.
    """
    if not results:
        return ""
    header = ["Gate", "Metric", "base", "head", "Change", "Result"]
    rows = [[escape(cell) for cell in _cells(result)] for result in results]
    align = ["l", "l", "r", "r", "r", "l"]
    if heads and len(heads) > 1:
        header[2:4] = ["base", "Revision", "Value"]
        align[2:4] = ["r", "l", "r"]
        for row, result in zip(rows, results, strict=True):
            row.insert(3, heads.get(result.rev, ""))
    out = ["### Gates", "", table(header, align, rows), ""]
    out += [summary(results, len(heads or ())), ""]
    failures = [r for r in results if r.status != "pass"]
    out += [f"- {escape(r.gate.text)}: {escape(r.detail)}" for r in failures]
    return "\n".join(out).rstrip("\n") + "\n"


def lines(results: Sequence[GateResult]) -> list[str]:
    """One line per gate: `FAIL  test.auc<-0.01: test.auc changed by -0.02 (...)`."""
    return [f"{LABELS[r.status]}  {r.gate.text}: {r.detail}" for r in results]
