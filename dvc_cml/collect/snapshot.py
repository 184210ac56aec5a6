"""One pass over one revision: metrics, params and plot data from a single DVC index.

`repo.metrics.show`, `repo.params.show` and `repo.plots.show` each walk the revisions and
rebuild DVC's index (parsing every dvc.yaml and dvc.lock again) for every revision; here the
repository is switched to a revision once and all three are read from the same index.  The
per-file shapes are DVC's own (`{"data": ...}` or `{"error": exc}`), so errors are reported
exactly as `dvc metrics show` would meet them.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from dvc_cml.collect import guard, internals, values, workspace
from dvc_cml.collect.plotdata import (
    count_confusion_rows,
    drop_cut_rows,
    mark_empty,
    thinned,
    whole_files,
)
from dvc_cml.collect.project import WORKSPACE, describe
from dvc_cml.model import Output

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from dvc.repo import Repo

Result = dict[str, Any]  # DVC's {"data": ...} / {"error": exception}


@dataclass
class Snapshot:
    """What one revision holds, in the shapes DVC's show commands use."""

    metrics: Result = field(default_factory=dict)
    params: Result = field(default_factory=dict)
    plots: Result = field(default_factory=dict)  # {"definitions": ..., "sources": ...}
    thinned: dict[str, int] = field(default_factory=dict)  # plot file -> rows before thinning
    cut: dict[str, int] = field(default_factory=dict)  # CSV/TSV plot file -> rows cut short
    # For `dvc diff`: DVC's data index of the tracked outputs, its roots, and each output
    # as its .dvc file or dvc.lock describes it (no data is read or downloaded).
    data_index: Any = None
    data_keys: set[Any] = field(default_factory=set)
    outputs: dict[str, Output] = field(default_factory=dict)
    lock: dict[str, Any] = field(default_factory=dict)  # stage address -> its dvc.lock entry
    # Files the guard kept DVC from reading (or cut short), taken out of the results above:
    # (path from the project root, the reason), for the report's "Not read" list.
    refused: list[tuple[str, str]] = field(default_factory=list)
    # The workspace only: its outputs hashed on disk, and the stages whose files differ
    # from their dvc.lock entries (not reproduced since).
    on_disk: workspace.DataOnDisk | None = None
    stale: dict[str, workspace.Stale] = field(default_factory=dict)
    dirty: bool = False  # uncommitted changes in what the report reads
    stages: dict[str, Any] = field(default_factory=dict)  # stage address -> DVC's stage


def _result(read: Callable[[], Any]) -> Result:
    """A revision-wide failure (say, dvc.yaml interpolating a broken params.yaml) is kept
    as DVC keeps it, so the caller can name the file."""
    try:
        return {"data": read()}
    except Exception as exc:  # DVC raises anything from parsers and filesystems here
        return {"error": exc}


def _plots(
    repo: Repo, max_points: int, snapshot: Snapshot, on_disk: bool, pool: Executor
) -> Result:
    """`repo.plots.collect` for the current revision, with large CSV/TSV sources thinned as
    they load (see `plotdata.thinned`) and rows cut short left out (`drop_cut_rows`;
    `on_disk`: the workspace, whose files may be being written); loaded in `pool`."""
    sampled, refused = snapshot.thinned, snapshot.refused
    definitions = internals.plot_definitions(repo)
    if _mixed_paths(definitions.get("error")):
        # One absolute plot id costs DVC every plot of the revision: name it, draw the rest.
        error = definitions["error"]
        for dvcfile, plot_id in internals.drop_absolute_plot_ids(repo):
            where = repo.fs.relpath(dvcfile, repo.root_dir)
            refused.append((where, f"plot {plot_id} not read: DVC says: {describe(error)}"))
        definitions = internals.plot_definitions(repo)
    if not definitions:
        return {}
    sources = internals.plot_sources(repo, definitions)
    data = {"definitions": definitions, "sources": sources}
    whole = whole_files(data)
    for path, source in sources.get("data", {}).items():
        loader = source.get("data_source")
        if loader is not None and path.endswith((".csv", ".tsv")) and path not in whole:
            source["data_source"] = partial(thinned, loader, sampled, max_points)
    # DVC prints a progress bar and its own summary of failures; we report each file ourselves.
    with contextlib.redirect_stderr(io.StringIO()):
        internals.resolve_plot_sources(data, pool)
    mark_empty(sources.get("data", {}))
    snapshot.cut.update(drop_cut_rows(sources.get("data", {}), on_disk))
    count_confusion_rows({"this revision": data})
    return data


def _mixed_paths(error: BaseException | None) -> bool:
    """DVC's error for a plot id that is an absolute path among relative ones."""
    return isinstance(error, ValueError) and "absolute and relative" in str(error)


def _tracked(repo: Repo, snapshot: Snapshot) -> None:
    """The DVC-tracked outputs and the dvc.lock entries of the current revision."""
    index = repo.index
    snapshot.data_index = index.data["repo"]
    snapshot.data_keys = set(index.data_keys["repo"])
    for out in index.outs:
        if not out.use_cache:
            continue  # git tracks it: not data as `dvc diff` sees it
        meta = out.meta
        path = "/".join(out.index_key[1]) + ("/" if meta and meta.isdir else "")
        snapshot.outputs[path] = Output(
            path,
            size=meta.size if meta else None,
            files=meta.nfiles if meta else None,
            digest=out.hash_info.value if out.hash_info else None,
        )
    # The pipeline's stages with what dvc.lock recorded for them ({} when never run); a
    # lock entry left behind by a stage removed from dvc.yaml is not a stage any more.
    locks: dict[str, dict[str, Any]] = {}
    for stage in index.stages:
        lockfile = internals.lockfile_of(stage)
        if lockfile is None:  # a .dvc file: data, not a pipeline stage
            continue
        if lockfile.path not in locks:
            locks[lockfile.path] = _lock_stages(repo, lockfile)
        # Addressed as `dvc repro` takes it: `train`, `sub/dvc.yaml:train`, `train@model1`.
        where = repo.fs.relpath(stage.dvcfile.path, repo.root_dir)
        address = stage.name if where == "dvc.yaml" else f"{where}:{stage.name}"
        snapshot.lock[address] = locks[lockfile.path].get(stage.name) or {}
        snapshot.stages[address] = stage


def _on_disk(repo: Repo, snapshot: Snapshot) -> None:
    """The workspace's outputs and stages as the files on disk are (`dvc diff`, `dvc
    status`), after `_tracked` read them from dvc.lock.

    Hashing reads whole files of any size and kind, so it runs outside `guard` (which
    bounds what a parser may read); an output or dependency that leads outside the
    repository (a symlink, at its root or inside it) is not hashed: an output is compared
    as dvc.lock records it, and either is listed as not read.  The stages' params files
    are read through the guard (`workspace.stale`).
    """
    outside = workspace.leading_outside(repo, list(snapshot.outputs))
    for path, reason in outside.items():
        snapshot.refused.append((path, reason))
    keys = {key for key in snapshot.data_keys if "/".join(key) not in outside}
    disk = snapshot.on_disk = workspace.data_on_disk(repo, keys, set(outside))
    for key in disk.on_disk:
        entry = disk.index[key]
        path = "/".join(key) + ("/" if entry.meta and entry.meta.isdir else "")
        recorded = snapshot.outputs.pop(path.rstrip("/"), None)
        recorded = snapshot.outputs.pop(path.rstrip("/") + "/", None) or recorded
        now = snapshot.outputs[path] = Output(
            path,
            size=entry.meta.size if entry.meta else None,
            files=entry.meta.nfiles if entry.meta else None,
            digest=entry.hash_info.value if entry.hash_info else None,
        )
        # Whether the workspace is dirty, from the comparison made here anyway.
        disk.differ = disk.differ or recorded is None or recorded.digest != now.digest
    unread = {path for path, _ in snapshot.refused}
    unread.update(p for p, r in (snapshot.params.get("data") or {}).items() if "error" in r)
    seen = set(unread)
    for address, stage in snapshot.stages.items():
        if not snapshot.lock.get(address):
            continue
        found = workspace.stale(repo, stage, disk, unread)
        if found:
            snapshot.stale[address] = found
        for path, reason in found.not_read:
            if path not in seen:  # a dependency of several stages is listed once
                seen.add(path)
                snapshot.refused.append((path, reason))


def _uncommitted(repo: Repo, snapshot: Snapshot) -> bool:
    """The workspace has uncommitted changes in what the report reads."""
    reads = {*snapshot.metrics.get("data", {}), *snapshot.params.get("data", {})}
    reads |= set(snapshot.plots.get("sources", {}).get("data", {}))
    reads |= {path for path, _ in snapshot.refused}
    changed = bool(snapshot.stale) or bool(snapshot.on_disk and snapshot.on_disk.differ)
    return workspace.uncommitted(repo, reads, changed)


def _lock_stages(repo: Repo, lockfile: Any) -> dict[str, Any]:
    """The `stages:` of one dvc.lock."""
    import yaml

    from dvc_cml.collect import yaml12

    if not repo.fs.exists(lockfile.path):
        return {}
    try:
        with repo.fs.open(lockfile.path, encoding="utf-8") as fd:
            # libyaml reads a large dvc.lock in milliseconds, DVC's round-trip parser in
            # tens of them; as YAML 1.2, as DVC does.  DVC's own reading is the fallback.
            data = yaml12.load(fd)
    except yaml.YAMLError:
        data = lockfile.load()
    stages = data.get("stages") if isinstance(data, dict) else None
    return stages if isinstance(stages, dict) else {}


def _take_refused(snapshot: Snapshot) -> None:
    """Move the files `guard` refused out of DVC's results into `snapshot.refused`, so the
    rest of the revision is compared as if they were not there."""
    per_file = [
        (snapshot.metrics.get("data") or {}),
        (snapshot.params.get("data") or {}),
        snapshot.plots.get("sources", {}).get("data", {}),
    ]
    for results in per_file:
        for path, result in list(results.items()):
            if isinstance(result, dict) and (error := guard.refused(result.get("error"))):
                del results[path]
                snapshot.refused.append((path, error.reason))
    # Metrics and params files with too many values (the first ones are kept) or too deep.
    for results in per_file[:2]:
        for path, result in list(results.items()):
            if isinstance(result, dict) and "data" in result:
                result["data"], cut = guard.bounded(result["data"])
                if cut:
                    snapshot.refused.append((path, cut))
                if result["data"] is None:
                    del results[path]
    # A directory of plots refused while DVC listed it: the error is the dvc.yaml's.
    for content in snapshot.plots.get("definitions", {}).get("data", {}).values():
        if isinstance(content, dict) and (error := guard.refused(content.get("error"))):
            del content["error"]
            snapshot.refused.append((error.name, error.reason))


def read(repo: Repo, key: str, max_points: int, pool: Executor) -> Snapshot:
    """Everything the diff needs from revision `key` (a full SHA or "workspace"); the plot
    files are loaded in `pool` (see `internals.resolve_plot_sources`)."""
    from dvc.exceptions import NotDvcRepoError

    snapshot = Snapshot()
    try:
        with repo.switch(key), internals.skip_graph_checks(repo):
            with guard.guarded(repo):
                snapshot.metrics = _result(lambda: internals.gather_metrics(repo))
                snapshot.params = _result(lambda: internals.gather_params(repo))
                snapshot.plots = _plots(repo, max_points, snapshot, key == WORKSPACE, pool)
                _take_refused(snapshot)
                for result in (snapshot.metrics, snapshot.params):
                    values.mark_empty(repo, result)
                if "error" not in snapshot.metrics:  # else the index is broken: reported later
                    _tracked(repo, snapshot)
            if key == WORKSPACE:
                if snapshot.data_index is not None:
                    _on_disk(repo, snapshot)
                snapshot.dirty = _uncommitted(repo, snapshot)
    except NotDvcRepoError:
        pass  # a commit from before `dvc init --subdir`: nothing to compare there, as in DVC
    return snapshot
