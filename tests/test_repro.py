"""`--repro`: stages run as `dvc repro` runs them, and the report says what really happened.

DVC's own CLI is the oracle: the same project, copied before dvc-cml touches it, is
reproduced by `dvc repro`, and its lines ("Running stage", "is cached", "didn't change") are
compared with what dvc-cml reports, stage by stage and in order.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dvc_cml.pipeline import init_project, reproduce
from tests.conftest import clean_env, dvc_commit, git, run_cli, write_tree

BIN = Path(sys.executable).parent  # this venv's: dvc-cml, dvc and its python

# Three stages whose pipeline order (prepare -> train -> evaluate) is not alphabetical.
THREE_STAGES = {
    "dvc.yaml": """\
stages:
  prepare:
    cmd: python prepare.py
    deps: [prepare.py]
    params: [prepare.size]
    outs: [data.txt]
  train:
    cmd: python train.py
    deps: [train.py, data.txt]
    params: [train.lr]
    outs: [model.txt]
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, model.txt]
    params: [evaluate.threshold]
    metrics:
      - metrics.json:
          cache: false
""",
    "prepare.py": """\
import yaml
size = yaml.safe_load(open("params.yaml"))["prepare"]["size"]
open("data.txt", "w").write("".join(f"{i}\\n" for i in range(size)))
""",
    "train.py": """\
import yaml
lr = yaml.safe_load(open("params.yaml"))["train"]["lr"]
rows = len(open("data.txt").read().split())
open("model.txt", "w").write(f"{lr * rows}\\n")
""",
    "evaluate.py": """\
import json, yaml
threshold = yaml.safe_load(open("params.yaml"))["evaluate"]["threshold"]
weight = float(open("model.txt").read())
json.dump({"score": round(weight * threshold, 5)}, open("metrics.json", "w"))
""",
    ".gitignore": "/data.txt\n/model.txt\n",
}


def params(size: int, lr: float, threshold: float) -> str:
    return f"prepare:\n  size: {size}\ntrain:\n  lr: {lr}\nevaluate:\n  threshold: {threshold}\n"


def dvc_repro_says(root: Path) -> list[tuple[str, str]]:
    """(stage, outcome) in the order `dvc repro` (the CLI) prints them."""
    done = subprocess.run(
        [str(BIN / "dvc"), "repro"], cwd=root, env=clean_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    patterns = {
        "ran": r"^Running stage '([^']+)'",
        "restored": r"^Stage '([^']+)' is cached - skipping run",
        "up to date": r"^Stage '([^']+)' didn't change, skipping",
    }
    said = []
    for line in done.stdout.splitlines():
        for outcome, pattern in patterns.items():
            if found := re.match(pattern, line):
                said.append((found.group(1), outcome))
    return said


@pytest.fixture
def three_stages(tmp_path: Path) -> Path:
    """main: the pipeline run with lr 0.1; then lr 0.2 reproduced (not committed): DVC's
    run-cache holds train at both learning rates."""
    root = tmp_path / "three"
    write_tree(root, {**THREE_STAGES, "params.yaml": params(10, 0.1, 0.5)})
    git(root, "init", "-q")
    init_project(root)
    reproduce(root, say=lambda _: None)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline")
    (root / "params.yaml").write_text(params(10, 0.2, 0.5))
    reproduce(root, say=lambda _: None)
    return root


def test_repro_says_which_stages_ran_and_which_were_restored_in_pipeline_order(
    three_stages: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Back to lr 0.1 (train is in the run-cache), and a threshold never run before.
    (three_stages / "params.yaml").write_text(params(10, 0.1, 0.7))
    oracle = tmp_path / "oracle"
    shutil.copytree(three_stages, oracle, symlinks=True)
    expected = dvc_repro_says(oracle)
    assert expected == [("prepare", "up to date"), ("train", "restored"), ("evaluate", "ran")]

    as_markdown = tmp_path / "as-markdown"
    shutil.copytree(three_stages, as_markdown, symlinks=True)

    capfd.readouterr()
    code, out, err = run_cli(capfd, "diff", "main", "--repro", "-C", str(three_stages), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["reproduced"] == {
        "stages": [{"stage": stage, "outcome": outcome} for stage, outcome in expected],
        "skipped": None,
    }
    said = "prepare up to date, train restored from the run-cache (not run), evaluate ran"
    assert f"dvc-cml: reproduced, in pipeline order: {said}\n" in err
    score = next(m for m in doc["metrics"] if m["metric"] == "score")
    assert (score["base"], score["head"]) == (0.5, 0.7)  # 10 rows * lr 0.1 * threshold
    # The restored stage's output is the run-cache's, byte for byte what `dvc repro` restored.
    assert (three_stages / "model.txt").read_text() == (oracle / "model.txt").read_text()

    code, out, _ = run_cli(capfd, "diff", "main", "--repro", "-C", str(as_markdown), "--md")
    assert code == 0
    assert (
        "Pipeline reproduced first, in pipeline order: `prepare` up to date, `train` restored "
        "from the run-cache (not run), `evaluate` ran.\n" in out
    )


def test_json_says_null_without_repro(
    three_stages: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "diff", "main", "-C", str(three_stages), "--json")
    assert code == 0, err
    assert json.loads(out)["reproduced"] is None


def other_venv(where: Path) -> Path:
    """A second virtual environment, without dvc-cml, holding a package only it has
    (`tinydep`, a one-module distribution installed as pip would lay it out)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    write_tree(
        Path(site),
        {
            "tinydep.py": "FACTOR = 3\n",
            "tinydep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinydep\n"
            "Version: 1.0\n",
            "tinydep-1.0.dist-info/RECORD": "",
        },
    )
    return where


def test_repro_runs_stages_with_the_python_on_path_not_dvc_clis(tmp_path: Path) -> None:
    """dvc-cml installed apart (pipx, its own venv, the GitHub Action) and the project's
    dependencies in the user's own venv, which is first on PATH: the stage's `python` is
    the user's, as with `dvc repro` in the same shell."""
    user_venv = other_venv(tmp_path / "user-venv")
    root = tmp_path / "project"
    write_tree(
        root,
        {
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n"
            "    params: [scale]\n    metrics:\n    - metrics.json:\n        cache: false\n",
            "train.py": "import json, sys, tinydep\n"
            "scale = int(open('params.yaml').read().split(':')[1])\n"
            "json.dump({'score': tinydep.FACTOR * scale}, open('metrics.json', 'w'))\n"
            "print('stage python:', sys.prefix)\n",
            "params.yaml": "scale: 1\n",
            "metrics.json": '{"score": 3}',
        },
    )
    git(root, "init", "-q")
    init_project(root)
    dvc_commit(root)  # the baseline's metrics as the stage would write them (scale 1)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline")
    (root / "params.yaml").write_text("scale: 2\n")

    env = clean_env()
    env.pop("VIRTUAL_ENV", None)
    # The user's venv first, then the system's: git, sh; not dvc-cml's venv.
    env["PATH"] = os.pathsep.join([str(user_venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    done = subprocess.run(
        [str(BIN / "dvc-cml"), "diff", "main", "--repro", "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"stage python: {user_venv}" in done.stderr
    doc = json.loads(done.stdout)
    score = next(m for m in doc["metrics"] if m["metric"] == "score")
    assert (score["base"], score["head"]) == (3, 6)
    assert doc["reproduced"]["stages"] == [{"stage": "train", "outcome": "ran"}]
