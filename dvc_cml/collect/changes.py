"""What changed in the data and in the pipeline between the base and each head.

Data: DVC's own `dvc diff` comparison (`internals.data_diff`) of the two revisions' data
indexes, which come from the .dvc files and dvc.lock (hashes, sizes, file counts); a
directory's listing is used when it is in the local cache, never downloaded.  Files inside
a tracked directory are counted under it, not listed.

Pipeline: every stage of dvc.lock at either revision, compared field by field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dvc_cml.collect import internals
from dvc_cml.collect.values import flatten
from dvc_cml.model import HEAD, MISSING, DataChange, ParamChange, StageChange, head_key

if TYPE_CHECKING:
    from dvc_cml.collect.snapshot import Snapshot
    from dvc_cml.collect.workspace import Stale


def _container(path: str, dirs: list[str]) -> str | None:
    """The tracked directory (ending with "/") that holds `path`, the deepest one."""
    holders = [d for d in dirs if path.startswith(d) and path != d]
    return max(holders, key=len) if holders else None


def _raw_diff(base: Snapshot, head: Snapshot) -> dict[str, list[Any]]:
    """`dvc diff`'s result.  The workspace's outputs are compared as they are on disk where
    they are there, and as dvc.lock records them where they are not (not pulled)."""
    keys = base.data_keys | head.data_keys
    if head.on_disk is None:
        return dict(internals.data_diff(base.data_index, head.data_index, keys))
    on_disk = keys & head.on_disk.on_disk
    raw: dict[str, list[Any]] = {}
    for new, roots in ((head.on_disk.index, on_disk), (head.data_index, keys - on_disk)):
        if not roots:  # DVC's diff takes no roots as every root: the other pass has them all
            continue
        for status, entries in internals.data_diff(base.data_index, new, roots).items():
            raw.setdefault(status, []).extend(entries)
    return raw


def data_changes(base: Snapshot, head: Snapshot, rev: str = HEAD) -> tuple[DataChange, ...]:
    """What `dvc diff` reports between two revisions, tagged with the head's key `rev`."""
    if base.data_index is None or head.data_index is None or base is head:
        return ()
    raw = _raw_diff(base, head)
    dirs = [p for p in {*base.outputs, *head.outputs} if p.endswith("/")]
    inside: dict[str, Counter[str]] = {}
    changes: dict[str, DataChange] = {}
    for status in ("added", "deleted", "modified", "renamed"):
        for entry in raw.get(status, []):
            old = new = entry["path"]
            if status == "renamed":
                old, new = entry["path"]["old"], entry["path"]["new"]
            if old in base.outputs or new in head.outputs:
                path = old if status == "deleted" else new
                renamed_from = old if status == "renamed" else None
                before, after = base.outputs.get(old), head.outputs.get(new)
                changes[path] = DataChange(path, status, before, after, renamed_from, rev=rev)
            elif holder := _container(new, dirs):
                inside.setdefault(holder, Counter())[status] += 1
    for holder, counts in inside.items():
        # A directory whose listing changed is reported by DVC too; keep it if not.
        found = changes.get(holder) or DataChange(
            holder, "modified", base.outputs.get(holder), head.outputs.get(holder), rev=rev
        )
        counted = tuple((s, counts[s]) for s in ("added", "deleted", "modified", "renamed"))
        changes[holder] = replace(found, inside=tuple((s, n) for s, n in counted if n))
    return tuple(changes[path] for path in sorted(changes))


def _by_path(items: Any) -> dict[str, Any]:
    """dvc.lock's deps/outs list as {path: everything else (hash, size, files)}."""
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, Mapping) and "path" in item:
            out[str(item["path"])] = {k: v for k, v in item.items() if k != "path"}
    return out


def _differing(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(p for p in base.keys() | head.keys() if base.get(p) != head.get(p)))


def _params(base: Any, head: Any) -> tuple[ParamChange, ...]:
    """Changed params of a stage, named as `dvc params diff` does for params.yaml, with the
    file in front for any other file."""

    def flat(params: Any) -> dict[str, Any]:
        out = {}
        for file, values in (params or {}).items():
            for name, value in flatten(values or {}).items():
                out[name if file == "params.yaml" else f"{file}:{name}"] = value
        return out

    old, new = flat(base), flat(head)
    return tuple(
        ParamChange(name, old.get(name, MISSING), new.get(name, MISSING))
        for name in sorted(old.keys() | new.keys())
        if old.get(name, MISSING) != new.get(name, MISSING)
    )


def _as_on_disk(entry: Mapping[str, Any], stale: Stale) -> dict[str, Any]:
    """A stage's dvc.lock entry with what differs on disk put in: the params as the files
    have them now, and the deps, outputs and command that changed marked as changed."""
    ahead = {"changed since dvc.lock": True}
    params = {file: dict(values or {}) for file, values in (entry.get("params") or {}).items()}
    for file, values in stale.params.items():
        params.setdefault(file, {}).update(values)

    def marked(items: Any, paths: list[str]) -> list[Any]:
        listed = [dict(item) for item in items or [] if isinstance(item, Mapping)]
        for item in listed:
            if item.get("path") in paths:
                item.update(ahead)
        return listed

    return {
        **entry,
        "cmd": ahead if stale.command else entry.get("cmd"),
        "params": params,
        "deps": marked(entry.get("deps"), stale.deps),
        "outs": marked(entry.get("outs"), stale.outs),
    }


def _stage_change(name: str, base: Snapshot, head: Snapshot, rev: str) -> StageChange | None:
    """How stage `name` differs between two revisions' dvc.lock entries (None: not at all).
    A workspace stage whose files differ from its dvc.lock entry (`dvc status`) is compared
    as the files are, and marked as not reproduced."""
    old, new = base.lock.get(name), head.lock.get(name)
    if old is None or new is None:
        return StageChange(name, "added" if old is None else "removed", rev=rev)
    stale = head.stale.get(name) if head is not base else None
    if stale:
        new = _as_on_disk(new, stale)
    change = StageChange(
        name,
        "changed",
        command=old.get("cmd") != new.get("cmd"),
        deps=_differing(_by_path(old.get("deps")), _by_path(new.get("deps"))),
        params=_params(old.get("params"), new.get("params")),
        outs=_differing(_by_path(old.get("outs")), _by_path(new.get("outs"))),
        not_reproduced=bool(stale),
        rev=rev,
    )
    changed = change.command or change.deps or change.params or change.outs or stale
    return change if changed else None


def stage_changes(base: Snapshot, heads: Sequence[Snapshot]) -> tuple[tuple[StageChange, ...], int]:
    """(stages added, removed or changed at each head, tagged with its key; how many stages
    are unchanged at every head): the stages of dvc.yaml at any revision, compared by what
    dvc.lock recorded for them (see `_stage_change`)."""
    changes: list[StageChange] = []
    names = set(base.lock).union(*(head.lock for head in heads))
    unchanged = 0
    for name in sorted(names):
        found = [
            _stage_change(name, base, head, head_key(i))
            for i, head in enumerate(heads)
            if name in base.lock or name in head.lock
        ]
        changes += [change for change in found if change is not None]
        unchanged += not any(found)
    return tuple(changes), unchanged
