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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from dvc_cml.collect.plotdata import joined_files, thinned

if TYPE_CHECKING:
    from dvc.repo import Repo

Result = dict[str, Any]  # DVC's {"data": ...} / {"error": exception}


@dataclass
class Snapshot:
    """What one revision holds, in the shapes DVC's show commands use."""

    metrics: Result = field(default_factory=dict)
    params: Result = field(default_factory=dict)
    plots: Result = field(default_factory=dict)  # {"definitions": ..., "sources": ...}
    thinned: dict[str, int] = field(default_factory=dict)  # plot file -> rows before thinning


def _result(read: Callable[[], Any]) -> Result:
    """A revision-wide failure (say, dvc.yaml interpolating a broken params.yaml) is kept
    as DVC keeps it, so the caller can name the file."""
    try:
        return {"data": read()}
    except Exception as exc:  # DVC raises anything from parsers and filesystems here
        return {"error": exc}


@contextlib.contextmanager
def _no_graph_checks(repo: Repo) -> Iterator[None]:
    """Reading needs no validated pipeline graph; building one costs networkx's import."""
    old = getattr(repo, "_skip_graph_checks", False)
    repo._skip_graph_checks = True
    try:
        yield
    finally:
        repo._skip_graph_checks = old


def _plots(repo: Repo, max_points: int, sampled: dict[str, int]) -> Result:
    """`repo.plots.collect` for the current revision, with large CSV/TSV sources thinned as
    they load (see `plotdata.thinned`)."""
    from dvc.repo.plots import (
        _collect_definitions,
        _get_data_targets,
        _resolve_data_sources,
        onerror_collect,
    )

    definitions = _collect_definitions(repo, targets=[], onerror=onerror_collect)
    if not definitions:
        return {}
    sources = repo.plots._collect_data_sources(
        repo, targets=_get_data_targets(definitions), onerror=onerror_collect
    )
    data = {"definitions": definitions, "sources": sources}
    joined = joined_files(data)
    for path, source in sources.get("data", {}).items():
        loader = source.get("data_source")
        if loader is not None and path.endswith((".csv", ".tsv")) and path not in joined:
            source["data_source"] = partial(thinned, loader, sampled, max_points)
    # DVC prints a progress bar and its own summary of failures; we report each file ourselves.
    with contextlib.redirect_stderr(io.StringIO()):
        _resolve_data_sources({"rev": data}, "", cache=True)
    return data


def read(repo: Repo, key: str, max_points: int) -> Snapshot:
    """Everything the diff needs from revision `key` (a full SHA or "workspace")."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo.metrics.show import _gather_metrics
    from dvc.repo.params.show import _gather_params

    snapshot = Snapshot()
    try:
        with repo.switch(key), _no_graph_checks(repo):
            snapshot.metrics = _result(lambda: _gather_metrics(repo, on_error="return"))
            snapshot.params = _result(lambda: _gather_params(repo, on_error="return"))
            snapshot.plots = _plots(repo, max_points, snapshot.thinned)
    except NotDvcRepoError:
        pass  # a commit from before `dvc init --subdir`: nothing to compare there, as in DVC
    return snapshot
