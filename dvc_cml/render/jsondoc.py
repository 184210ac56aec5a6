"""The `--json` document: the report model as one JSON object."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dvc_cml import format as fmt
from dvc_cml.model import MISSING, RenderedPlot, Report, Revision, Row, Value


def _value(v: Value) -> Any:
    if v is MISSING:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return fmt.number(v)  # JSON has no NaN/Infinity: "NaN", "Infinity", "-Infinity"
    return v


def _row(row: Row, noun: str) -> dict[str, Any]:
    return {
        "path": row.path,
        noun: row.key,
        "key": row.key,
        "base": _value(row.base),
        "head": _value(row.head),
        "change": row.change,
        "relative_change": row.relative_change,
        "status": row.status.value,
        "verdict": row.verdict.value,
    }


def _revision(rev: Revision) -> dict[str, Any]:
    return {"rev": rev.name, "sha": rev.sha}


def render(report: Report, plots: Sequence[RenderedPlot], out_dir: Path) -> str:
    def path(rel: str | None) -> str | None:
        return str(out_dir / rel) if rel else None

    doc = {
        "base": _revision(report.base),
        "head": _revision(report.head),
        "report": str(out_dir / "report.md"),
        "metrics": [_row(r, "metric") for r in report.metrics],
        "params": [_row(r, "param") for r in report.params],
        "plots": [
            {
                "name": p.name,
                "title": p.title,
                "kind": p.kind.value,
                "changed": p.changed,
                "png": path(p.png),
                "spec": path(p.spec),
                "images": {rev: path(rel) for rev, rel in p.images},
                "notes": list(p.notes),
            }
            for p in plots
        ],
    }
    return json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n"
