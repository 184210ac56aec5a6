"""Metrics and params of the base and its heads as table rows, with DVC's errors named by file."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dvc_cml.collect import guard
from dvc_cml.collect.project import (
    EmptyFile,
    describe,
    no_data,
    no_data_reason,
    not_produced,
    unreadable,
)
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

if TYPE_CHECKING:
    from dvc.repo import Repo

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


def mark_empty(repo: Repo, result: Mapping[str, Any]) -> None:
    """Mark the files of one revision's metrics or params `result` (DVC's shape, changed in
    place) that hold no values at all (`EmptyFile`), so that their rows read "not read"
    there, not "removed" or "new", and the file is listed with the reason.

    DVC reads an empty YAML file, or one holding only a comment, as no values, and one cut
    to a single word (`ep` of `epochs: 12`) as that word.  A file with values that DVC
    leaves out (a stage tracks `train` and the file has no such section; a metrics file
    of text only) is not empty: read whole again here to tell, which costs a file only
    when DVC found nothing in it.
    """
    from dvc.utils.serialize import load_path

    for path, file_result in (result.get("data") or {}).items():
        data = file_result.get("data")
        if "error" in file_result or (isinstance(data, dict) and data):
            continue
        if data == {}:
            try:
                data = load_path("/" + path.replace(os.sep, "/"), repo.dvcfs)
            except Exception:  # DVC read it a moment ago: keep what it read
                continue
        if isinstance(data, dict) and data:
            continue
        file_result.pop("data", None)
        nothing = data is None or data in ("", [], {})
        file_result["error"] = EmptyFile("empty" if nothing else "holds no values")


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
    files: Sequence[Files],
    with_direction: bool,
    unread: Sequence[Collection[str]] = (),
) -> tuple[Row, ...]:
    """One row per key of any file: its value at the base (`files[0]`), then at each head.
    `unread`: per revision, the files not read there, whose keys are UNREAD rather than
    MISSING there (not removed, not new)."""
    unread = list(unread) or [()] * len(files)
    out = []
    for path in sorted(set().union(*files)):
        per_rev = [f.get(path, {}) for f in files]
        absent = [UNREAD if path in side else MISSING for side in unread]
        for key in sorted(set().union(*per_rev)):
            base, head, *more = (
                values.get(key, gone) for values, gone in zip(per_rev, absent, strict=True)
            )
            out.append(
                Row(
                    path=path,
                    key=key,
                    base=base,
                    head=head,
                    direction=metric_direction(key) if with_direction else Direction.UNKNOWN,
                    more=tuple(more),
                )
            )
    return tuple(out)
