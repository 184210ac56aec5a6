"""Gate results as a Markdown section and as plain lines for a terminal or CI log.  Pure."""

from __future__ import annotations

from collections.abc import Sequence

from dvc_cml import format as fmt
from dvc_cml.model import GateResult
from dvc_cml.render.mdtext import escape, table

MARKERS = {"pass": "✅ pass", "fail": "❌ fail", "missing": "⚠️ missing"}
LABELS = {"pass": "PASS", "fail": "FAIL", "missing": "MISS"}  # one width, for aligned logs


def summary(results: Sequence[GateResult]) -> str:
    passed = sum(result.status == "pass" for result in results)
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


def markdown(results: Sequence[GateResult]) -> str:
    """A `### Gates` section: one row per gate, a summary, and why each failing gate failed.

    Empty when there are no gates, so a report without gates shows no section.
    """
    if not results:
        return ""
    header = ["Gate", "Metric", "base", "head", "Change", "Result"]
    rows = [[escape(cell) for cell in _cells(result)] for result in results]
    out = ["### Gates", "", table(header, ["l", "l", "r", "r", "r", "l"], rows), ""]
    out += [summary(results), ""]
    failures = [r for r in results if r.status != "pass"]
    out += [f"- {escape(r.gate.text)}: {escape(r.detail)}" for r in failures]
    return "\n".join(out).rstrip("\n") + "\n"


def lines(results: Sequence[GateResult]) -> list[str]:
    """One line per gate: `FAIL  test.auc<-0.01: test.auc changed by -0.02 (...)`."""
    return [f"{LABELS[r.status]}  {r.gate.text}: {r.detail}" for r in results]
