"""A project with real DVC experiments, made the way users make them, and DVC's CLI as the
oracle for what a many-revision report must show.

The packaged example project (`dvc-cml demo`'s training script) with every output in the DVC
cache (`fixtures/scenarios/cached`), a baseline on `main` reproduced with `dvc repro`, then:

- `dvc exp run -S ... -n NAME` for `exp-a`, `lr_small` and `exp-c` (names with `-` and `_`);
- `no_metrics`: an experiment whose code writes its scores elsewhere, so `metrics.json` is
  missing there (and `scores.json` exists only there);
- `live_run`: a script logging with dvclive and saving itself with `save_dvc_exp=True`;
- one experiment queued with `dvc exp run --queue` and never run: `dvc exp show` lists it
  as queued, and a report leaves it out.

Everything cached is pushed to a local-directory DVC remote, and the git repository to a
bare `origin` with `git push` and `dvc exp push origin`, so a CI clone can be made from it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvc_cml.demo import copy_example
from tests.conftest import SCENARIOS, clean_env, git

DVC = str(Path(sys.executable).parent / "dvc")
PYTHON = sys.executable

# (name, `dvc exp run -S` arguments), in the order they are run.
RUNS = (
    ("exp-a", ("train.lr=0.2",)),
    ("lr_small", ("train.lr=0.01",)),
    ("exp-c", ("train.epochs=5", "train.l2=0.01")),
)
QUEUED = "waiting_one"

LIVE_SCRIPT = """\
from dvclive import Live

with Live(save_dvc_exp=True, exp_name="live_run") as live:
    live.log_param("lr", 0.3)
    for step, loss in enumerate([0.9, 0.6, 0.45]):
        live.log_metric("loss", loss)
        live.next_step()
    live.log_metric("test.accuracy", 0.71, plot=False)
"""


@dataclass(frozen=True)
class Experiments:
    root: Path  # the project, on main, its workspace as the baseline left it
    origin: Path  # a bare repository holding main and the pushed experiments
    remote: Path  # the DVC remote
    names: tuple[str, ...]  # every experiment that ran, as `dvc exp show` orders them
    show: list[dict[str, Any]]  # `dvc exp show --json`


def dvc(root: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [DVC, *args], cwd=root, env=clean_env(), capture_output=True, text=True, timeout=600
    )
    if check and done.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _back_to_baseline(root: Path) -> None:
    """After `dvc exp run` in the workspace: the baseline's files again."""
    git(root, "checkout", "--", ".")
    dvc(root, "checkout", "--force")


def _no_metrics_run(root: Path) -> None:
    """An experiment whose code and dvc.yaml write `scores.json` instead of `metrics.json`."""
    for rel, old, new in (
        ("train.py", 'Path("metrics.json")', 'Path("scores.json")'),
        ("dvc.yaml", "- metrics.json:", "- scores.json:"),
    ):
        path = root / rel
        text = path.read_text()
        assert old in text, f"{rel} no longer holds {old}"
        path.write_text(text.replace(old, new))
    dvc(root, "exp", "run", "-n", "no_metrics")
    (root / "scores.json").unlink()
    _back_to_baseline(root)


def _live_run(root: Path) -> None:
    """dvclive writes its files and saves them as an experiment (`dvc exp save`)."""
    script = root / "live.py"
    script.write_text(LIVE_SCRIPT)
    subprocess.run(
        [PYTHON, str(script)], cwd=root, env=clean_env(), check=True, capture_output=True
    )
    script.unlink()
    shutil.rmtree(root / "dvclive")
    _back_to_baseline(root)


def sha(root: Path, name: str) -> str:
    """The commit of a branch, or of an experiment by the name `dvc exp show` gives it."""
    refs = git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps")
    found = [line.split()[1] for line in refs.splitlines() if line.split()[0].endswith("/" + name)]
    return found[0] if found else git(root, "rev-parse", name).strip()


def build(where: Path) -> Experiments:
    root, origin, remote = where / "project", where / "origin.git", where / "remote"
    copy_example(root)
    shutil.copyfile(SCENARIOS / "cached" / "base" / "dvc.yaml", root / "dvc.yaml")
    git(root, "init", "-q", "-b", "main")
    dvc(root, "init", "-q")
    (root / ".dvc" / "config").write_text(
        "[core]\n    analytics = false\n    remote = store\n"
        f"['remote \"store\"']\n    url = {remote}\n"
    )
    dvc(root, "repro", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline")
    dvc(root, "push", "-q")

    for name, sets in RUNS:
        dvc(root, "exp", "run", "-n", name, *(a for s in sets for a in ("-S", s)))
        _back_to_baseline(root)
    _no_metrics_run(root)
    _live_run(root)
    dvc(root, "exp", "run", "--queue", "-n", QUEUED, "-S", "train.lr=0.3")
    _back_to_baseline(root)
    assert git(root, "status", "--porcelain") == "", "the experiments left files behind"

    git(where, "init", "-q", "--bare", str(origin))
    git(root, "remote", "add", "origin", f"file://{origin}")
    git(root, "push", "-q", "origin", "main")
    show = json.loads(dvc(root, "exp", "show", "--json"))
    names = tuple(
        exp["name"]
        for baseline in show
        if baseline["rev"] != "workspace"
        for exp in baseline.get("experiments") or []
        if exp["executor"] is None  # queued, running or failed ones have an executor
    )
    assert QUEUED not in names and len(names) == len(RUNS) + 2, names
    dvc(root, "exp", "push", "origin", *names)
    return Experiments(root, origin, remote, names, show)
