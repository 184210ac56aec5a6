"""The workspace as it is on disk, where it differs from what dvc.lock recorded.

A committed revision is read from its .dvc files and dvc.lock alone.  The workspace is read
as `dvc diff` and `dvc status` read it: its DVC-tracked outputs are hashed by DVC's own
workspace indexing, through DVC's state database (a file hashed before and unchanged since
is only stat'ed, not read), and each pipeline stage's dependencies, params, outputs and
command are checked against its dvc.lock entry as `dvc status` checks them.

An output or dependency that is not in the workspace at all (a CI clone that pulled only
what the report reads, a fresh clone before `dvc pull`) counts as dvc.lock records it:
`dvc diff` and `dvc status` would call it deleted, which it is not.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvc_cml import git
from dvc_cml.collect import guard, internals
from dvc_cml.collect.project import describe
from dvc_cml.model import MISSING, Value

if TYPE_CHECKING:
    from dvc.repo import Repo

# What `dvc status` says of a file that is there and differs from dvc.lock.  "deleted" (not
# on disk) and "not in cache" (the cache lacks it, the workspace does not) are not changes
# of the workspace's contents.
_CHANGED = ("modified", "new")


@dataclass
class DataOnDisk:
    """The workspace's DVC-tracked outputs as `dvc diff` hashes them."""

    index: Any  # DVC's data index of the outputs on disk
    on_disk: set[Any]  # the outputs' keys that exist in the workspace
    differ: bool = False  # one of them differs from its .dvc file or dvc.lock entry


def data_on_disk(repo: Repo, keys: set[Any], skip: set[str]) -> DataOnDisk:
    """The outputs `keys` as they are on disk, but for those in `skip` (paths)."""
    index = internals.workspace_data_index(repo, skip)
    return DataOnDisk(index, {key for key in keys if key in index})


def leading_outside(repo: Repo, paths: list[str]) -> dict[str, str]:
    """Of `paths` (outputs or dependencies, from the project root; a trailing "/" is
    ignored), those that lead outside the repository, at their root or through a symlink
    anywhere inside a directory, with the reason: hashing would read whatever they lead to
    (a device that never ends, a file of the machine's), and `dvc pull` would write
    through them.  A link into the DVC cache's objects (`cache.type: symlink` with a
    shared cache) is DVC's own, and fine."""
    found: dict[str, str] = {}
    root = repo.scm.root_dir
    cache = guard.trusted_cache(repo)  # links into it are DVC's own
    for path in paths:
        name = path.rstrip("/")
        full = Path(repo.root_dir, name)
        if reason := guard.outside(str(full), root, cache):
            found[name] = reason
        elif full.is_dir() and (inner := _link_inside(full, root, cache)):
            link, reason = inner
            found[name] = f"{reason}: {Path(os.path.relpath(link, repo.root_dir)).as_posix()}"
    return found


def _link_inside(folder: Path, root: str, cache: str | None) -> tuple[str, str] | None:
    """A symlink somewhere in `folder` that leads outside `root`, and why (links are
    checked, not followed; the directory entries say which are links, no file is opened)."""
    todo = [folder]
    while todo:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                if entry.is_symlink():
                    if reason := guard.outside(entry.path, root, cache):
                        return entry.path, reason
                elif entry.is_dir(follow_symlinks=False):
                    todo.append(Path(entry.path))
    return None


@dataclass
class Stale:
    """What differs on disk from one stage's dvc.lock entry (`dvc status` for the stage):
    the stage was not reproduced since."""

    deps: list[str] = field(default_factory=list)  # paths as dvc.lock writes them
    outs: list[str] = field(default_factory=list)
    params: dict[str, dict[str, Value]] = field(default_factory=dict)  # file -> name -> now
    command: bool = False
    # Dependencies and outputs not hashed, so not known to be unchanged: (path from the
    # project root, why), for the report's "Not read" list.
    not_read: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.deps or self.outs or self.params or self.command)


def stale(repo: Repo, stage: Any, data: DataOnDisk, unread: Collection[str] = ()) -> Stale:
    """`dvc status` for one pipeline stage, entry by entry.

    Dependencies and outputs are hashed as DVC hashes them, whole and of any size, outside
    `guard` (which bounds what a parser may read), once each is known not to lead outside
    the repository; one that does, or that cannot be hashed, is listed as not read.  Params
    files are parsed, so they are read through `guard`; one that is not read here (`unread`:
    it does not parse, is empty or was refused, as the params table says) leaves its entry
    out.
    """
    from dvc.dependency.param import ParamsDependency

    # `always_changed: true` stages are never up to date for `dvc status`; nothing of theirs
    # changed since dvc.lock, so they are not marked.
    found = Stale(command=bool(getattr(stage, "cmd_changed", False)))
    for dep in [] if stage.frozen else stage.deps:
        if isinstance(dep, ParamsDependency):
            if _from_root(repo, dep) not in unread:
                _params_changed(repo, dep, found)
        elif _changed(repo, dep, data, found):
            found.deps.append(dep.def_path)
    for out in stage.outs:
        if _changed(repo, out, data, found):
            found.outs.append(out.def_path)
    return found


def _params_changed(repo: Repo, dep: Any, found: Stale) -> None:
    """The params of `dep` that differ from dvc.lock, with their values now, into `found`."""
    with guard.guarded(repo):
        try:
            status = next(iter(dep.workspace_status().values()), None)
        except Exception:  # does not parse, or refused: the params table lists it
            return
        changed = {name for name, st in (status or {}).items() if st in (*_CHANGED, "deleted")}
        if changed:
            now = _read_params(dep)
            found.params[dep.def_path] = {name: now.get(name, MISSING) for name in sorted(changed)}


def _changed(repo: Repo, entry: Any, data: DataOnDisk, found: Stale) -> bool:
    """Whether a dependency or output differs on disk from dvc.lock, as `dvc status` says
    (changed or new; not "deleted": not in the workspace is not a change of it).

    A tracked output on disk (a stage's output, or a dependency that is one) was hashed
    already for the data section: its hash there is compared with dvc.lock's, instead of
    walking a large directory a second time.
    """
    key = _key(entry)
    if key is not None and key in data.on_disk:
        now, then = data.index[key].hash_info, entry.hash_info
        if now is not None and then is not None and now.name == then.name:
            return bool(now.value != then.value)
    if getattr(entry.fs, "protocol", None) == "local":  # else a URL: DVC asks its storage
        name = _from_root(repo, entry)
        if reason := leading_outside(repo, [name]).get(name):
            found.not_read.append((name, reason))
            return False
    try:
        status = entry.workspace_status()
    except Exception as exc:  # a file DVC cannot hash (a socket, no permission, ...)
        found.not_read.append((_from_root(repo, entry), f"not hashed: {describe(exc)}"))
        return False
    return next(iter(status.values()), None) in _CHANGED


def _from_root(repo: Repo, entry: Any) -> str:
    """A dependency's or output's path as the report names files: from the project root,
    or as written when that is an absolute path."""
    if Path(entry.def_path).is_absolute():
        return str(entry.def_path)
    return Path(os.path.relpath(entry.fs_path, repo.root_dir)).as_posix()


def _read_params(dep: Any) -> dict[str, Value]:
    """A params dependency's tracked values as they are in the file, named as dvc.lock
    names them (`train` for a whole section, `train.lr` for one value)."""
    try:
        values: dict[str, Value] = dep.read_params(flatten=False)
    except Exception:  # does not parse: listed with the params
        return {}
    return values


def _key(entry: Any) -> Any:
    """The data index key of a dependency or output inside the repository, else None."""
    try:
        workspace, key = entry.index_key
    except Exception:  # a params dependency, or a path DVC cannot place
        return None
    return key if workspace == "repo" else None


_DVC_FILES = ("dvc.yaml", "dvc.lock", ".dvcignore")


def uncommitted(repo: Repo, reads: Iterable[str], changed_on_disk: bool) -> bool:
    """Whether the workspace differs from its commit in what the report reads, as `git
    describe --dirty` says it of a tree: a tracked file changed in the project's folder, an
    untracked file that DVC reads (`reads`: metrics, params and plot files; the stages'
    dependencies; any dvc.yaml, dvc.lock or .dvc file), or `changed_on_disk`: a DVC-tracked
    output or a stage that differs on disk from its record (git ignores those).  Untracked
    files DVC does not read, and ignored ones such as the report directory, do not count.
    False when git cannot tell."""
    if changed_on_disk:
        return True
    found = git.status(Path(repo.root_dir))
    if not found:
        return False
    prefix = os.path.relpath(repo.root_dir, repo.scm.root_dir).replace(os.sep, "/")
    read = {posixpath.normpath(path) for path in reads}
    try:
        stages = repo.index.stages
    except Exception:  # a dvc.yaml DVC cannot load: reported with the metrics
        stages = []
    for stage in stages:
        read.update("/".join(key) for dep in stage.deps if (key := _key(dep)))
    for code, path in found:
        if code != "??":
            return True
        rel = path if prefix == "." else posixpath.relpath(path, prefix)
        if posixpath.basename(rel) in _DVC_FILES or rel.endswith(".dvc"):
            return True
        if any(rel == r or rel.startswith(r + "/") for r in read):
            return True
    return False
