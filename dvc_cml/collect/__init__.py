"""The only package that reads from DVC: revisions in, a `Report` out.

Everything runs in this process through `dvc.repo.Repo` (no `dvc` subprocess), in one pass
per revision (`snapshot`), and DVC's exceptions become `UserError`s that name the file and
the revision.  Layout, along the data flow:

- `project`: opening the repository once, finding its root, translating DVC's errors;
- `revisions`: what the user (or CI) names, as commits, fetched into shallow clones;
- `snapshot`: one revision's metrics, params and plot data from one DVC index;
- `values`, `plotdata` and `changes`: two snapshots as table rows, plots, and the data and
  pipeline changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from dvc_cml.ci import base_hint
from dvc_cml.collect.project import WORKSPACE, find_root, open_project
from dvc_cml.downsample import DEFAULT_MAX_POINTS
from dvc_cml.model import Problem, Report

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
) -> Report:
    """Diff metrics, params and plots of an open project between two revisions."""
    from dvc_cml.collect import changes, plotdata, revisions, snapshot, values

    hint = base_hint(env)
    base_name = base or revisions.default_base(repo, hint)
    base_rev = revisions.resolve_revision(repo, base_name, hint.pin(base_name), hint.deeper)
    head_rev = revisions.resolve_revision(repo, head or WORKSPACE, deeper=hint.deeper)
    keys = {"base": revisions.rev_key(base_rev), "head": revisions.rev_key(head_rev)}
    labels = {"base": base_rev, "head": head_rev}

    snapshots: dict[str, snapshot.Snapshot] = {}
    for side, key in keys.items():
        if key not in snapshots:  # `diff main main` reads main once
            step(f"reading {labels[side].label}")
            snapshots[key] = snapshot.read(repo, key, max_points)
    base_snap, head_snap = snapshots[keys["base"]], snapshots[keys["head"]]
    # The workspace with uncommitted changes is named so: it is not its commit.
    labels = {s: replace(labels[s], dirty=snapshots[keys[s]].dirty) for s in keys}
    base_rev, head_rev = labels["base"], labels["head"]

    # A file that cannot be read at a revision (half-written by a training run, say) is
    # a Problem: its rows are "not read" there, and everything else is reported.
    metrics = {
        s: values.file_values("metrics", snapshots[keys[s]].metrics, labels[s]) for s in keys
    }
    params = {s: values.file_values("params", snapshots[keys[s]].params, labels[s]) for s in keys}
    step("matching plots")
    plots, plot_problems = plotdata.plots(
        {"base": base_snap.plots, "head": head_snap.plots},
        labels,
        {**base_snap.thinned, **head_snap.thinned},
        max_points,
        Path(repo.root_dir) / ".dvc" / "plots",
        {"base": base_snap.cut, "head": head_snap.cut},
    )
    stages, stages_unchanged = changes.stage_changes(base_snap, head_snap)
    refused = {
        s: [Problem(path, labels[s], reason) for path, reason in snapshots[keys[s]].refused]
        for s in keys
    }
    # A file not read at a revision (it does not parse, DVC could not get its data, or the
    # guard refused it): its values there are "not read", never "removed" or "new", and
    # the problem says why.
    unread = {s: {p.path for p in (*metrics[s][1], *params[s][1], *refused[s])} for s in keys}
    problems = dict.fromkeys(p for s in keys for p in (*refused[s], *metrics[s][1], *params[s][1]))
    return Report(
        base=base_rev,
        head=head_rev,
        metrics=values.rows(
            metrics["base"][0], metrics["head"][0], True, (unread["base"], unread["head"])
        ),
        params=values.rows(
            params["base"][0], params["head"][0], False, (unread["base"], unread["head"])
        ),
        plots=plots,
        data=changes.data_changes(base_snap, head_snap),
        tracked=len(base_snap.outputs.keys() | head_snap.outputs.keys()),
        stages=stages,
        stages_unchanged=stages_unchanged,
        problems=(*problems, *plot_problems),
    )


def collect(
    path: Path,
    base: str | None,
    head: str | None,
    env: Mapping[str, str],
    step: Step = lambda _: None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Report:
    """`collect_in` on the project at `path`, opened for this call only."""
    step("opening the DVC project")
    with open_project(path) as repo:
        return collect_in(repo, base, head, env, step, max_points)
