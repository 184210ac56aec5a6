"""Metrics and params of two revisions as table rows, with DVC's errors named by file."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from dvc_cml.collect import guard
from dvc_cml.collect.project import describe, no_data, no_data_reason, not_produced, unreadable
from dvc_cml.errors import UserError
from dvc_cml.model import (
    MISSING,
    UNREAD,
    Direction,
    Problem,
    Revision,
    Row,
    Value,
    metric_direction,
)

Files = dict[str, dict[str, Value]]  # {path: {dotted key: value}}


def flatten(data: Any, prefix: str = "") -> dict[str, Value]:
    """Nested dicts to dotted keys, as DVC prints them; lists stay values."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    flat: dict[str, Value] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def _culprit(exc: BaseException) -> str:
    """Which file a revision-wide failure came from (dvc.yaml interpolation reads params)."""
    path = getattr(exc, "path", None)  # dvc.utils.serialize.ParseError
    if not path:
        return ""
    return str(path).lstrip("./") if str(path).startswith("..") else str(path)


def file_values(
    kind: str, result: Mapping[str, Any], rev: Revision
) -> tuple[Files, tuple[Problem, ...]]:
    """{path: {dotted key: value}} from one revision's metrics or params result, and the
    files that could not be read there: a file that does not parse (say, a metrics.json
    half-written by a training run) or whose data DVC could not get (neither in the cache
    nor from the remote) costs that file only.

    A revision DVC cannot load at all (dvc.yaml interpolating a broken params.yaml) is a
    UserError naming the file: there is nothing of that revision to report.
    """
    if error := result.get("error"):
        if refusal := guard.refused(error):  # dvc.yaml reads it (`vars`, or params.yaml)
            raise UserError(
                f"{refusal.name} at {rev.label}: {refusal.reason}, and DVC cannot load "
                "the revision without it"
            )
        if culprit := _culprit(error):
            raise UserError(f"{culprit} does not parse at {rev.label}: {describe(error)}")
        raise UserError(f"could not read {kind} at {rev.label}: {describe(error)}")
    files: Files = {}
    problems: list[Problem] = []
    for path, file_result in (result.get("data") or {}).items():
        if error := file_result.get("error"):
            if not_produced(error, path, rev):
                continue  # a file declared in dvc.yaml but not produced at this revision
            if no_data(error):
                problems.append(Problem(path, rev, no_data_reason(error)))
            else:
                problems.append(unreadable(path, rev, error))
            continue
        files[path] = flatten(file_result.get("data", {}))
    return files, tuple(problems)


def rows(
    base: Files,
    head: Files,
    with_direction: bool,
    unread: tuple[Collection[str], Collection[str]] = ((), ()),
) -> tuple[Row, ...]:
    """One row per key of either revision; `unread`: the files not read at base and at
    head, whose keys there are UNREAD rather than MISSING (not removed, not new)."""
    out = []
    for path in sorted(base.keys() | head.keys()):
        old, new = base.get(path, {}), head.get(path, {})
        absent = tuple(UNREAD if path in side else MISSING for side in unread)
        for key in sorted(old.keys() | new.keys()):
            out.append(
                Row(
                    path=path,
                    key=key,
                    base=old.get(key, absent[0]),
                    head=new.get(key, absent[1]),
                    direction=metric_direction(key) if with_direction else Direction.UNKNOWN,
                )
            )
    return tuple(out)
