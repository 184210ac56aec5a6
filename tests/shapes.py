"""The project shapes of fixtures/shapes, built as real git + DVC repositories, and DVC's own
CLI as the oracle for what dvc-cml must report on them.

Each shape has `base/` (committed on `main`) and `head/` (overlaid on it and committed on the
branch `head`; `head/.delete` lists files removed there).  Stage outputs are recorded and
cached with `dvc commit --force` (the fixtures ship the outputs' data instead of running the
stages), files listed in `Shape.add` with `dvc add`, and everything cached is pushed to a
local-directory DVC remote, so a shallow clone can get it back as CI does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES, clean_env, dvc_add, dvc_commit, git

SHAPES_DIR = FIXTURES / "shapes"
DVC = str(Path(sys.executable).parent / "dvc")


@dataclass(frozen=True)
class Shape:
    name: str
    project: str = ""  # the DVC project's folder inside the git repository ("" = its root)
    add: tuple[str, ...] = ()  # `dvc add` at both revisions
    add_head: tuple[str, ...] = ()  # `dvc add` at head only
    xfail: str = ""  # a known failure, left for a fix elsewhere: the reason


SHAPES = [
    Shape("get-started", add=("data/data.xml",)),
    Shape("dvclive", add=("dvclive/plots/images",)),
    Shape("stage-plots"),
    Shape("plot-dir"),
    Shape("custom-templates"),
    Shape("templates"),
    Shape("foreach"),
    Shape("formats"),
    Shape("subdir", project="proj"),
    Shape("one-rev", add_head=("plots/roc.png",)),
    Shape("multi-y"),
    Shape("data-formats"),
    Shape("nested-ids"),
    Shape("experiments"),
]


@dataclass
class Oracle:
    """What DVC's CLI says about the head branch against main, in the full repository."""

    metrics: dict[str, dict[str, dict[str, Any]]]  # `dvc metrics diff --json --all main`
    params: dict[str, dict[str, dict[str, Any]]]  # `dvc params diff --json --all main`
    plots: dict[str, list[dict[str, Any]]]  # `dvc plots diff --json --split main`["data"]
    plot_errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Built:
    shape: Shape
    root: Path  # the git repository, checked out at `head`
    remote: Path  # the DVC remote everything was pushed to
    oracle: Oracle

    @property
    def project(self) -> Path:
        return self.root / self.shape.project


def _overlay(src: Path, dest: Path) -> None:
    for path in sorted(src.rglob("*")):
        if path.is_file() and path.name != ".delete":
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    if (src / ".delete").exists():
        for rel in (src / ".delete").read_text().split():
            (dest / rel).unlink()


def _push(project: Path) -> None:
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir

    with Repo(str(project)) as repo, chdir(project):
        repo.push()


def dvc_cli(project: Path, *args: str) -> Any:
    """`dvc ARGS` in `project` (a separate process, as a user would run it): its JSON output."""
    done = subprocess.run(
        [DVC, *args],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def build(shape: Shape, where: Path, source: Path | None = None) -> Built:
    """The shape's repository under `where` (from `source`, by default its fixtures folder)."""
    from dvc.repo import Repo

    from dvc_cml.collect.project import quiet_dvc

    quiet_dvc()
    root, remote = where / "repo", where / "remote"
    root.mkdir(parents=True)
    git(root, "init", "-q")
    project = root / shape.project
    project.mkdir(exist_ok=True)
    Repo.init(str(project), subdir=bool(shape.project)).close()
    (project / ".dvc" / "config").write_text(
        "[core]\n    analytics = false\n    remote = store\n"
        f"['remote \"store\"']\n    url = {remote}\n"
    )
    source = source or SHAPES_DIR / shape.name
    _overlay(source / "base", root)
    dvc_commit(project)
    if shape.add:
        dvc_add(project, *shape.add)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"{shape.name}: base")
    _push(project)

    git(root, "checkout", "-q", "-b", "head")
    _overlay(source / "head", root)
    dvc_commit(project)
    if shape.add or shape.add_head:
        dvc_add(project, *shape.add, *shape.add_head)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"{shape.name}: head")
    _push(project)
    assert git(root, "status", "--porcelain") == "", "the fixture left files uncommitted"

    plots = dvc_cli(
        project, "plots", "diff", "--json", "--split", "-o", str(where / "dvc-plots"), "main"
    )
    oracle = Oracle(
        metrics=dvc_cli(project, "metrics", "diff", "--json", "--all", "main"),
        params=dvc_cli(project, "params", "diff", "--json", "--all", "main"),
        plots=plots.get("data", {}),
        plot_errors=plots.get("errors", []),
    )
    assert git(root, "status", "--porcelain") == "", "DVC's CLI changed the repository"
    return Built(shape, root, remote, oracle)


# --- projects whose files dvclive writes ------------------------------------------------

TRAIN = FIXTURES / "dvclive-train" / "train.py"

# The runs of fixtures/dvclive-train/train.py on `main` and on `head`, per layout.  `default`
# is dvclive's own: the plots, metrics and params in the root dvc.yaml.  `nested` is a
# project that moved to `Live(dvcyaml="dvclive/dvc.yaml")` after a first run in the default
# layout, as the project did: dvclive appends its entries to dvclive/dvc.yaml on
# every run, and the root dvc.yaml still defines the same plots (DVC then qualifies each id
# by its file, and lists the image that both define once).
DVCLIVE_RUNS: dict[str, tuple[list[list[str]], list[list[str]]]] = {
    "default": ([["--lr", "0.05"]], [["--lr", "0.1"]]),
    "nested": (
        [["--lr", "0.05"], ["--lr", "0.05", "--nested"], ["--lr", "0.05", "--nested"]],
        [["--lr", "0.1", "--nested"]],
    ),
}


def train(root: Path, *args: str) -> None:
    """The fixture's training script in `root`, with this venv's Python and dvclive."""
    done = subprocess.run(
        [sys.executable, str(TRAIN), *args],
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def build_dvclive(layout: str, where: Path) -> Built:
    """A project trained with dvclive: `main` and the branch `head` (checked out), each
    committed as the training script left it, pushed to a local DVC remote (dvclive caches
    the images itself), with DVC's CLI as the oracle."""
    from dvc.repo import Repo

    from dvc_cml.collect.project import quiet_dvc

    quiet_dvc()
    root, remote = where / "repo", where / "remote"
    root.mkdir(parents=True)
    git(root, "init", "-q")
    Repo.init(str(root)).close()
    (root / ".dvc" / "config").write_text(
        "[core]\n    analytics = false\n    remote = store\n"
        f"['remote \"store\"']\n    url = {remote}\n"
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "dvc init")  # dvclive wants a commit to start from
    base_runs, head_runs = DVCLIVE_RUNS[layout]
    for args in base_runs:
        train(root, *args)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "train: lr 0.05")
    _push(root)
    git(root, "checkout", "-q", "-b", "head")
    for args in head_runs:
        train(root, *args)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "train: lr 0.1")
    _push(root)
    assert git(root, "status", "--porcelain") == "", "the training left files uncommitted"

    plots = dvc_cli(root, "plots", "diff", "--json", "--split", "-o", str(where / "dvc"), "main")
    oracle = Oracle(
        metrics=dvc_cli(root, "metrics", "diff", "--json", "--all", "main"),
        params=dvc_cli(root, "params", "diff", "--json", "--all", "main"),
        plots=plots.get("data", {}),
        plot_errors=plots.get("errors", []),
    )
    assert git(root, "status", "--porcelain") == "", "DVC's CLI changed the repository"
    return Built(Shape(f"dvclive-{layout}"), root, remote, oracle)


def shallow_clone(built: Built, dest: Path) -> Path:
    """What a merge-request pipeline has: `head`, one commit deep, an empty DVC cache."""
    git(
        dest.parent,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "head",
        f"file://{built.root}",
        str(dest),
    )
    return dest


# --- what DVC's plot data says -----------------------------------------------------------


def dvc_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The datapoints of a vega plot from `dvc plots diff --json --split`."""
    [entry] = [e for e in entries if e["type"] == "vega"]
    rows: list[dict[str, Any]] = entry["anchor_definitions"]["<DVC_METRIC_DATA>"]
    return rows


def dvc_series(entries: list[dict[str, Any]]) -> dict[str, Counter[tuple[str, str]]]:
    """{DVC revision: Counter({(file, field): rows})}."""
    out: dict[str, Counter[tuple[str, str]]] = {}
    for row in dvc_rows(entries):
        key = (str(row.get("filename", "")), str(row.get("field", "")))
        out.setdefault(row["rev"], Counter())[key] += 1
    return out
