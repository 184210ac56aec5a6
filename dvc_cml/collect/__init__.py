"""The only package that reads from DVC: revisions in, a `Report` out.

Everything runs in this process through `dvc.repo.Repo` (no `dvc` subprocess), in one pass
per revision (`snapshot`), and DVC's exceptions become `UserError`s that name the file and
the revision.  Layout, along the data flow:

- `project`: opening the repository once, finding its root, translating DVC's errors;
- `revisions`: what the user (or CI) names, as commits, fetched into shallow clones;
- `snapshot`: one revision's metrics, params and plot data from one DVC index;
- `values`, `plotdata` and `changes`: the base's and the heads' snapshots as table rows,
  plots, and the data and pipeline changes (each head against the base).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dvc_cml.ci import base_hint
from dvc_cml.collect.project import WORKSPACE, find_root, open_project
from dvc_cml.downsample import DEFAULT_MAX_POINTS
from dvc_cml.model import BASE, Problem, Report, Revision, head_key

if TYPE_CHECKING:
    from dvc.repo import Repo

__all__ = ["WORKSPACE", "collect", "collect_in", "find_root", "open_project"]

Step = Callable[[str], None]


def collect_in(
    repo: Repo,
    base: str | None,
    head: str | None,
    env: Mapping[str, str],
    step: Step = lambda _: None,
    max_points: int = DEFAULT_MAX_POINTS,
    more: Sequence[str] = (),
    pins: Mapping[str, str] | None = None,
) -> Report:
    """Diff metrics, params and plots of an open project between a base and its heads
    (`head`, then `more`); each revision is read once, however many names it has.

    `pins` gives the commit of a head by its name (the experiments `--experiments` found),
    so that a branch of the same name cannot stand in for it.
    """
    from concurrent.futures import ThreadPoolExecutor

    from dvc_cml.collect import changes, plotdata, revisions, snapshot, values

    hint = base_hint(env)
    base_name = base or revisions.default_base(repo, hint)
    base_rev = revisions.resolve_revision(repo, base_name, hint.pin(base_name), hint.deeper)
    names = list(dict.fromkeys([head or WORKSPACE, *more]))  # a name given twice is one head
    if len(names) > 1 and base_name in names:
        names.remove(base_name)  # the base is there already
    pins = pins or {}
    heads = [
        revisions.resolve_revision(repo, name, pins.get(name), deeper=hint.deeper) for name in names
    ]
    labels = {BASE: base_rev} | {head_key(i): rev for i, rev in enumerate(heads)}
    keys = {side: revisions.rev_key(rev) for side, rev in labels.items()}

    snapshots: dict[str, snapshot.Snapshot] = {}
    # One pool loads the plot files of every revision, as many threads as DVC's own.
    with ThreadPoolExecutor(min(16, 4 * (os.cpu_count() or 1)), "dvc-cml-plots") as pool:
        for side, key in keys.items():
            if key not in snapshots:  # `diff main main` reads main once
                step(f"reading {labels[side].label}")
                snapshots[key] = snapshot.read(repo, key, max_points, pool)
    snaps = {side: snapshots[key] for side, key in keys.items()}
    base_snap = snaps[BASE]
    head_sides = [side for side in snaps if side != BASE]
    # The workspace with uncommitted changes is named so: it is not its commit.
    labels = {s: replace(labels[s], dirty=snaps[s].dirty) for s in keys}
    base_rev, heads = labels[BASE], [labels[s] for s in head_sides]

    # A file that cannot be read at a revision (half-written by a training run, say) is
    # a Problem: its rows are "not read" there, and everything else is reported.
    metrics = {s: values.file_values("metrics", snaps[s].metrics, labels[s]) for s in keys}
    params = {s: values.file_values("params", snaps[s].params, labels[s]) for s in keys}
    step("matching plots")
    thinned: dict[str, int] = {}
    for snap in snaps.values():
        thinned.update(snap.thinned)
    plots, plot_problems = plotdata.plots(
        {side: snap.plots for side, snap in snaps.items()},
        labels,
        thinned,
        max_points,
        Path(repo.root_dir) / ".dvc" / "plots",
        {side: snap.cut for side, snap in snaps.items()},
    )
    data = [c for s in head_sides for c in changes.data_changes(base_snap, snaps[s], s)]
    stages, stages_unchanged = changes.stage_changes(base_snap, [snaps[s] for s in head_sides])
    outputs = set(base_snap.outputs).union(*(snap.outputs for snap in snaps.values()))
    refused = {
        s: [Problem(path, labels[s], reason) for path, reason in snaps[s].refused] for s in keys
    }
    # A file not read at a revision (it does not parse, DVC could not get its data, or the
    # guard refused it): its values there are "not read", never "removed" or "new", and
    # the problem says why.
    unread = [{p.path for p in (*metrics[s][1], *params[s][1], *refused[s])} for s in keys]
    # One file at one revision is listed once: a metrics file that is plot data too, or a
    # file both refused and not parsed, is one file not read.
    problems: dict[tuple[str, Revision], Problem] = {}
    for problem in (
        *(p for s in keys for p in (*refused[s], *metrics[s][1], *params[s][1])),
        *plot_problems,
    ):
        problems.setdefault((problem.path, problem.rev), problem)
    return Report(
        base=base_rev,
        head=heads[0],
        more=tuple(heads[1:]),
        metrics=values.rows([metrics[s][0] for s in keys], True, unread),
        params=values.rows([params[s][0] for s in keys], False, unread),
        plots=plots,
        data=tuple(data),
        tracked=len(outputs),
        stages=stages,
        stages_unchanged=stages_unchanged,
        problems=tuple(problems.values()),
    )


def collect(
    path: Path,
    base: str | None,
    head: str | None,
    env: Mapping[str, str],
    step: Step = lambda _: None,
    max_points: int = DEFAULT_MAX_POINTS,
    more: Sequence[str] = (),
) -> Report:
    """`collect_in` on the project at `path`, opened for this call only."""
    step("opening the DVC project")
    with open_project(path) as repo:
        return collect_in(repo, base, head, env, step, max_points, more)
