"""What `--pull` fetches: every DVC-cached output that holds a file the diff reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvc_cml.collect.project import chdir
from dvc_cml.pipeline import diff_outputs
from tests.conftest import dvc_add, dvc_commit, git, write_tree


def outputs(root: Path) -> list[str]:
    from dvc.repo import Repo

    with Repo(str(root)) as repo, chdir(root):
        return diff_outputs(repo)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    from dvc_cml.pipeline import init_project

    git(tmp_path, "init", "-q")
    init_project(tmp_path)
    return tmp_path


# example-get-started's dvc.yaml: `outs: - eval`, top-level metrics and plots inside it, and a
# plain-path image entry at the end of `plots:`.
GET_STARTED = """\
stages:
  train:
    cmd: python src/train.py
    outs:
    - model.pkl
  evaluate:
    cmd: python src/evaluate.py
    outs:
    - eval
metrics:
- eval/metrics.json
plots:
- ROC:
    template: simple
    x: fpr
    y:
      eval/plots/sklearn/roc/train.json: tpr
      eval/plots/sklearn/roc/test.json: tpr
- eval/plots/images/importance.png
"""


def test_plain_path_entries_and_files_inside_a_directory_output(repo: Path) -> None:
    write_tree(
        repo,
        {
            "dvc.yaml": GET_STARTED,
            "model.pkl": "weights",
            "eval/metrics.json": '{"avg_prec": {"test": 0.9}}',
            "eval/plots/sklearn/roc/train.json": '{"roc": [{"fpr": 0, "tpr": 0}]}',
            "eval/plots/sklearn/roc/test.json": '{"roc": [{"fpr": 0, "tpr": 0}]}',
            "eval/plots/images/importance.png": b"\x89PNG\r\n\x1a\n",
        },
    )
    dvc_commit(repo)
    # `eval` holds what the diff reads; the model does not.
    assert outputs(repo) == ["eval"]


def test_plain_path_entry_alone(repo: Path) -> None:
    write_tree(
        repo,
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: x\n    outs:\n    - loss.csv\n"
            "plots:\n- loss.csv\n",
            "loss.csv": "step,loss\n0,1\n",
        },
    )
    dvc_commit(repo)
    assert outputs(repo) == ["loss.csv"]


def test_a_plot_directory_that_holds_outputs_and_params_inside_outputs(repo: Path) -> None:
    """example-get-started-experiments: params, metrics, step TSVs and images in stage outs."""
    write_tree(
        repo,
        {
            "dvc.yaml": """\
params:
- results/train/params.yaml
metrics:
- results/train/metrics.json
- results/evaluate/metrics.json
plots:
- results/train/plots/metrics:
    x: step
- results/evaluate/plots/images
stages:
  train:
    cmd: python src/train.py
    outs:
    - models/model.pkl
    - results/train
  evaluate:
    cmd: python src/evaluate.py
    outs:
    - results/evaluate
  report:
    cmd: python src/report.py
    outs:
    - report/plots/a.csv
""",
            "models/model.pkl": "weights",
            "results/train/params.yaml": "lr: 0.1\n",
            "results/train/metrics.json": '{"loss": 0.1}',
            "results/train/plots/metrics/train/loss.tsv": "step\tloss\n0\t1\n",
            "results/evaluate/metrics.json": '{"dice": 0.5}',
            "results/evaluate/plots/images/a.png": b"\x89PNG\r\n\x1a\n",
            "report/plots/a.csv": "x,y\n0,1\n",
        },
    )
    dvc_commit(repo)
    assert outputs(repo) == ["results/evaluate", "results/train"]


def test_nested_dvc_yaml_paths_are_relative_to_its_folder(repo: Path) -> None:
    """What dvclive writes (`dvclive/dvc.yaml`); `Live(cache_images=True)` runs
    `dvc add dvclive/plots/images`."""
    write_tree(
        repo,
        {
            "dvclive/dvc.yaml": """\
params:
- params.yaml
metrics:
- metrics.json
plots:
- plots/metrics:
    x: step
- plots/images
- plots/sklearn/roc/test.json:
    template: simple
    x: fpr
    y: tpr
""",
            "dvclive/params.yaml": "lr: 0.1\n",
            "dvclive/metrics.json": '{"step": 1, "train": {"loss": 0.1}}',
            "dvclive/plots/metrics/train/loss.tsv": "step\tloss\n0\t1\n1\t0.5\n",
            "dvclive/plots/images/sample.png": b"\x89PNG\r\n\x1a\n",
            "dvclive/plots/sklearn/roc/test.json": '{"roc": [{"fpr": 0, "tpr": 0}]}',
            "sub/dvc.yaml": """\
stages:
  eval:
    cmd: python eval.py
    outs:
    - out/scores.csv
    - out/unused.bin
plots:
- out/scores.csv:
    x: step
    y: score
""",
            "sub/out/scores.csv": "step,score\n0,1\n",
            "sub/out/unused.bin": "x",
        },
    )
    dvc_commit(repo)
    dvc_add(repo, "dvclive/plots/images")
    assert outputs(repo) == ["dvclive/plots/images", "sub/out/scores.csv"]


def test_git_tracked_plots_need_no_pull(repo: Path) -> None:
    write_tree(
        repo,
        {
            "dvc.yaml": "stages:\n  s:\n    cmd: x\n    outs:\n    - model.pkl\n"
            "plots:\n- loss.csv\n- Acc:\n    x: step\n    y:\n      acc.csv: acc\n",
            "model.pkl": "weights",
            "loss.csv": "step,loss\n0,1\n",
            "acc.csv": "step,acc\n0,1\n",
        },
    )
    dvc_commit(repo)
    assert outputs(repo) == []
