"""The `--json` document: the report model as one JSON object.

Every revision's values are keyed by its name (`values`, `against_base`), whatever the number
of heads; `base` and `head` (the first head) stay for scripts written for two revisions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dvc_cml import format as fmt
from dvc_cml.model import (
    MISSING,
    UNREAD,
    DataChange,
    Output,
    RenderedPlot,
    Report,
    Reproduced,
    Revision,
    Row,
    StageChange,
    Value,
)
from dvc_cml.render import summary


def _value(v: Value) -> Any:
    if v is MISSING or v is UNREAD:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return fmt.number(v)  # JSON has no NaN/Infinity: "NaN", "Infinity", "-Infinity"
    return v


def _against(row: Row) -> dict[str, Any]:
    return {
        "change": row.change,
        "relative_change": row.relative_change,
        "status": row.status.value,
        "verdict": row.verdict.value,
    }


def _row(row: Row, noun: str, report: Report) -> dict[str, Any]:
    names = [rev.name for rev in report.revisions]
    return {
        "path": row.path,
        noun: row.key,
        "key": row.key,
        "base": _value(row.base),
        "head": _value(row.head),
        **_against(row),  # its "status" is the row's over every head
        "values": {name: _value(v) for name, v in zip(names, row.values, strict=True)},
        "against_base": {
            name: _against(row.against(i)) for i, name in enumerate(names[1:]) if row.at(i)
        },
        "best": [names[i] for i in row.best()],
    }


def _revision(rev: Revision) -> dict[str, Any]:
    return {"rev": rev.name, "sha": rev.sha, "dirty": rev.dirty}


_SUMMARY_FIELDS = (
    "params_changed",
    "gates_passed",
    "gates",
    "plots_changed",
    "plots",
    "dirs_changed",
    "files_changed",
    "tracked",
    "stages_changed",
    "stages",
    "problems",
)


def _output(out: Output | None) -> dict[str, Any] | None:
    return None if out is None else {"size": out.size, "files": out.files, "hash": out.digest}


def _data(change: DataChange, report: Report) -> dict[str, Any]:
    return {
        "rev": report.revision(change.rev).name,
        "path": change.path,
        "status": change.status,
        "old_path": change.old_path,
        "base": _output(change.base),
        "head": _output(change.head),
        "inside": dict(change.inside),
    }


def _stage(stage: StageChange, report: Report) -> dict[str, Any]:
    return {
        "rev": report.revision(stage.rev).name,
        "stage": stage.name,
        "status": stage.status,
        "not_reproduced": stage.not_reproduced,  # the workspace differs from dvc.lock
        "command_changed": stage.command,
        "deps": list(stage.deps),
        "params": [
            {"name": p.name, "base": _value(p.base), "head": _value(p.head)} for p in stage.params
        ],
        "outs": list(stage.outs),
    }


def _reproduced(done: Reproduced | None) -> dict[str, Any] | None:
    """`--repro`: every stage DVC took, in its order, and what happened to it (null without
    --repro)."""
    if done is None:
        return None
    return {
        "stages": [{"stage": s.name, "outcome": s.outcome} for s in done.stages],
        "skipped": done.skipped or None,
    }


def render(report: Report, plots: Sequence[RenderedPlot], out_dir: Path) -> str:
    def path(rel: str | None) -> str | None:
        return str(out_dir / rel) if rel else None

    counts = report.summary(plots)
    doc = {
        "base": _revision(report.base),
        "head": _revision(report.head),
        "revisions": [
            {**_revision(rev), "key": key}
            for key, rev in zip(report.keys, report.revisions, strict=True)
        ],
        "report": str(out_dir / "report.md"),
        "html": str(out_dir / "report.html"),
        "summary": {
            "text": summary.line(counts),
            **{field: getattr(counts, field) for field in _SUMMARY_FIELDS},
            "metrics": dict(counts.metrics),
            "per_revision": {name: dict(buckets) for name, buckets in counts.per_head},
            "primary": counts.primary,
            "best": list(counts.best),
        },
        "problems": [
            {"path": p.path, "rev": p.rev.name, "sha": p.rev.sha, "reason": p.reason}
            for p in report.problems
        ],
        "reproduced": _reproduced(report.reproduced),
        "metrics": [_row(r, "metric", report) for r in report.metrics],
        "params": [_row(r, "param", report) for r in report.params],
        "data": {"tracked": report.tracked, "changed": [_data(c, report) for c in report.data]},
        "pipeline": {
            "changed": [_stage(s, report) for s in report.stages],
            "unchanged": report.stages_unchanged,
        },
        "plots": [
            {
                "name": p.name,
                "title": p.title,
                "kind": p.kind.value,
                "changed": p.changed,
                "png": path(p.png),
                "spec": path(p.spec),
                # By key ("base", "head", "head2", ...): see "revisions".
                "images": {rev: path(rel) for rev, rel in p.images},
                "notes": list(p.notes),
            }
            for p in plots
        ],
    }
    return json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n"
