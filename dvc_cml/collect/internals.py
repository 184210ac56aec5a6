"""The one door to DVC's private names.

DVC's public Python API (`dvc.api`) shows metrics and params of one revision and opens
files; it does not diff data indexes, collect plots without writing them, read dvc.lock
entries, or list experiments by name.  What dvc-cml needs beyond it lives here, name by
name, each with what the public API lacks.  A DVC release that moves one of them is a
change to this file only: nothing else in dvc_cml imports a private DVC name.

Every name below says the DVC versions it was checked on: the shape, collect and pipeline
tests (which run every line of this module) passed on each.  .ci/run runs them on the oldest
DVC that pyproject.toml admits and the whole suite on the newest; a name added here is
checked on both before it lands.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from dvc.repo import Repo


@contextlib.contextmanager
def skip_graph_checks(repo: Repo) -> Iterator[None]:
    """`Repo._skip_graph_checks`: reading needs no validated pipeline graph, and building one
    costs networkx's import.  The public API has no switch for it (DVC sets it itself while
    collecting experiments).
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    old = getattr(repo, "_skip_graph_checks", False)
    repo._skip_graph_checks = True
    try:
        yield
    finally:
        repo._skip_graph_checks = old


def gather_metrics(repo: Repo) -> Any:
    """`dvc.repo.metrics.show._gather_metrics`: the metrics of the revision the repo is
    switched to, per file ({"data"} or {"error"}).  `repo.metrics.show` walks revisions and
    rebuilds the index for each; this reads the current one.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.repo.metrics.show import _gather_metrics

    return _gather_metrics(repo, on_error="return")


def gather_params(repo: Repo) -> Any:
    """`dvc.repo.params.show._gather_params`: as `gather_metrics`, for params.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.repo.params.show import _gather_params

    return _gather_params(repo, on_error="return")


def plot_definitions(repo: Repo) -> Any:
    """`dvc.repo.plots._collect_definitions` (with `onerror_collect`): the plot definitions of
    the current revision, errors kept per file.  `repo.plots.show` collects data for every
    revision at once and has no way to thin large files while loading.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.repo.plots import _collect_definitions, onerror_collect

    return _collect_definitions(repo, targets=[], onerror=onerror_collect)


def drop_absolute_plot_ids(repo: Repo) -> list[tuple[str, str]]:
    """`Index._plots`: take the top-level plot entries whose id is an absolute path out of
    the current revision's index; (dvc.yaml path, id) of each.  One such entry fails the
    collection of every plot of the revision ("Can't mix absolute and relative paths"), and
    `_collect_definitions` has no way to skip one entry.
    Checked on DVC 3.63.0 and 3.67.1.
    """
    import posixpath

    index = repo.index
    dropped: list[tuple[str, str]] = []
    kept: dict[str, list[Any]] = {}
    for dvcfile, entries in index._plots.items():
        kept[dvcfile] = []
        for entry in entries:
            plot_id = entry if isinstance(entry, str) else next(iter(entry or {}), "")
            if posixpath.isabs(str(plot_id)):
                dropped.append((dvcfile, str(plot_id)))
            else:
                kept[dvcfile].append(entry)
    index._plots = kept
    return dropped


def plot_sources(repo: Repo, definitions: Any) -> Any:
    """`Plots._collect_data_sources` over `dvc.repo.plots._get_data_targets`: the data files
    the definitions name, with lazy loaders (`data_source`) that `thinned` can wrap.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.repo.plots import _get_data_targets, onerror_collect

    return repo.plots._collect_data_sources(
        repo, targets=_get_data_targets(definitions), onerror=onerror_collect
    )


def resolve_plot_sources(data: Mapping[str, Any], pool: Executor) -> None:
    """`dvc.repo.plots._resolve_data_sources`: run the loaders (`data_source`), in place,
    as `plots.show` does after collecting; in `pool`, which the caller keeps for every
    revision.  DVC's own starts a pool of up to 16 threads per call: 0.1 s of a report of
    ten experiments.  Threads still, for the files DVC streams from a remote.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    todo: list[Any] = [data]
    sources = []
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            if "data_source" in value:
                sources.append(value)
            todo.extend(value.values())

    def resolve(value: dict[str, Any]) -> None:
        value.update(value.pop("data_source")(cache=True))

    futures = [pool.submit(resolve, source) for source in sources]
    try:
        for future in futures:
            future.result()
    except BaseException:  # as DVC's pool (`cancel_on_error`): the rest are not started
        for future in futures:
            future.cancel()
        raise


def plot_metric_type_error() -> type[Exception]:
    """`dvc.repo.plots.PlotMetricTypeError`: a definition DVC cannot read as data (say, an
    id that names no file).  Not exported by `dvc.exceptions`.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.repo.plots import PlotMetricTypeError

    return PlotMetricTypeError  # type: ignore[no-any-return]


def directory_listing_error() -> type[Exception]:
    """`dvc_data.index.index.DataIndexDirError`: DVC could not load a directory output's
    listing (`<md5>.dir`) from the cache or the remote.  Not exported by `dvc_data.index`;
    the only sign that a file in a directory output has no data here.
    Checked on DVC 3.63.0 and 3.67.1.
    """
    from dvc_data.index.index import DataIndexDirError

    return DataIndexDirError


def infer_plot_sources(plot_id: str, props: Any) -> list[str]:
    """`dvc.repo.plots.infer_data_sources`: the files a top-level plot entry reads (its id,
    or the files of its `x`/`y`).  Called with `props=None` for a plain-path entry, which
    DVC before 3.63 does not accept: then the entry names its own file.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.repo.plots import infer_data_sources

    if props is None:
        return [plot_id]
    return list(infer_data_sources(plot_id, props))


def top_level_files(repo: Repo) -> tuple[Any, Any, Any]:
    """`Index._plots`, `Index._metrics`, `Index._params`: the top-level `plots:`, `metrics:`
    and `params:` entries of every dvc.yaml, by file.  The public index exposes the outputs
    and stages only.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    index = repo.index
    return index._plots, index._metrics, index._params


def lockfile_of(stage: Any) -> Any:
    """`ProjectFile._lockfile`: the dvc.lock of a pipeline stage (None for a .dvc file).
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    return getattr(stage.dvcfile, "_lockfile", None)


def data_diff(old: Any, new: Any, keys: set[Any]) -> Any:
    """`dvc.repo.diff._diff`: `dvc diff` between two data indexes that are already built.
    `Repo.diff` builds both revisions' indexes again.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.repo.diff import _diff

    return _diff(old, new, keys)


def workspace_data_index(repo: Repo, skip: Collection[str] = ()) -> Any:
    """`dvc.repo.index.build_data_index(..., compute_hash=True)`: the DVC-tracked outputs as
    they are on disk, hashed as `dvc diff` hashes the workspace (through `repo.state`, so a
    file hashed before and unchanged since is not read again), but for the outputs in
    `skip` (paths from the root).  The public API hashes the workspace only inside
    `Repo.diff`, which also rebuilds the other revision's index.
    Checked on DVC 3.63.0 and 3.67.1.
    """
    from dvc.repo.index import build_data_index

    index: Any = repo.index
    if skip:
        index = index.targets_view(
            None, outs_filter=lambda out: "/".join(out.index_key[1]) not in skip
        )
    return build_data_index(index, repo.root_dir, repo.fs, compute_hash=True)


def squash_plot_properties(group: Any) -> Any:
    """`dvc.render.match._squash_plots_properties`: one plot id's properties, merged over its
    definitions as `dvc plots diff` merges them.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.render.match import _squash_plots_properties

    return _squash_plots_properties(group)


def find_template(name: str, templates_dir: str) -> str | None:
    """`dvc_render.vega_templates._find_template`: where a custom template's file is (by name
    in .dvc/plots, or by path); the public `get_template` parses it as DVC's own kind.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc_render.vega_templates import _find_template

    found = _find_template(name, templates_dir)
    return str(found) if found is not None else None


def experiment_refs(repo: Repo, name: str) -> list[Any]:
    """`dvc.repo.experiments.utils.exp_refs_by_names`: the refs of an experiment by the name
    `dvc exp show` lists; `dvc.api.exp_show` returns whole tables, not commits.
    Checked on DVC 3.63.0 and 3.67.1 (and 3.44.0-3.50.0).
    """
    from dvc.repo.experiments.utils import exp_refs_by_names

    return list(exp_refs_by_names(repo.scm, {name}).get(name, []))


def reproduce_stage(stage: Any, **kwargs: Any) -> Any:
    """`dvc.repo.reproduce._reproduce_stage`: what `Repo.reproduce` does to one stage (run,
    restore or skip it, then write dvc.lock).  Passed back through `Repo.reproduce`'s
    `repro_fn` hook, as `dvc exp run` does, to see each stage in the order DVC takes them:
    the public call returns the stages that ran or were restored, in no telling which.
    Checked on DVC 3.63.0 and 3.67.1.
    """
    from dvc.repo.reproduce import _reproduce_stage

    return _reproduce_stage(stage, **kwargs)


# `StageCache.restore` logs this (dvc/stage/cache.py) when it checks a stage's outputs out
# of the run-cache instead of running its command; `dvc repro` prints it.
_RESTORED = "Stage '%s' is cached - skipping run, checking out outputs"


class _Restored(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.stages: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _RESTORED and isinstance(record.args, tuple) and record.args:
            self.stages.add(str(record.args[0]))


@contextlib.contextmanager
def run_cache_restores() -> Iterator[set[str]]:
    """The stages (by address) that DVC restores from its run-cache meanwhile.

    DVC says so only in its log (logger `dvc.stage.cache`, the message above): `Repo.reproduce`
    returns restored and run stages alike.  The logger is opened at INFO for this block, and
    kept from DVC's own handlers (which would print to stdout).
    Checked on DVC 3.63.0 and 3.67.1.
    """
    logger = logging.getLogger("dvc.stage.cache")
    handler = _Restored()
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler.stages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
