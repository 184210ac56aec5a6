"""A metrics, params or plot file that does not parse costs that file only: it is listed
with its revision and the reason (for the workspace: it may still be being written) in
report.md, report.html, the terminal and `--json`, its rows say "not read" instead of
"removed" or "new", a gate on one of its metrics fails as missing, every other row and
chart is there, and the run exits 0.  A revision DVC cannot load at all (dvc.yaml reads a
broken params.yaml) is still one clear line and exit 1 (tests/test_cli.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.pipeline import init_project
from tests.conftest import Project, git, run_cli, write_tree

MakeProject = Callable[[str], Project]
TRUNCATED = '{"train": {"loss": 0.4,'
REASON = "does not parse: Expecting property name enclosed in double quotes at line 1, column 24"


def report(
    capsys: pytest.CaptureFixture[str], project: Project, *args: str
) -> tuple[dict[str, Any], str]:
    code, out, err = run_cli(capsys, "diff", "main", "-C", str(project.root), "--json", *args)
    assert code == 0, err
    assert "Traceback" not in out + err
    md = (project.root / "dvc-cml-report" / "report.md").read_text()
    return json.loads(out), md


def rows(doc: dict[str, Any], section: str, path: str) -> dict[str, tuple[Any, Any, str]]:
    return {
        r["key"]: (r["base"], r["head"], r["status"]) for r in doc[section] if r["path"] == path
    }


def test_a_metrics_file_cut_short_in_the_workspace(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("nested")
    project.apply_head()
    clean, _ = report(capsys, project)
    project.write("metrics.json", TRUNCATED)
    doc, md = report(capsys, project)
    sha = git(project.root, "rev-parse", "HEAD").strip()
    reason = f"{REASON} (it may still be being written)"
    assert doc["problems"] == [
        {"path": "metrics.json", "rev": "workspace", "sha": sha, "reason": reason}
    ]
    # Its rows: the base value, and "not read" at the workspace (not "removed").
    assert rows(doc, "metrics", "metrics.json") == {
        "epochs_run": (10, None, "not read"),
        "test.accuracy": (0.75, None, "not read"),
        "test.auc": (0.81, None, "not read"),
        "test.loss": (0.6, None, "not read"),
        "train.accuracy": (0.8, None, "not read"),
        "train.loss": (0.5, None, "not read"),
    }
    # Everything else is a clean run's.
    assert rows(doc, "metrics", "eval/scores.yaml") == rows(clean, "metrics", "eval/scores.yaml")
    assert doc["params"] == clean["params"]
    assert doc["summary"]["problems"] == 1
    assert doc["summary"]["metrics"]["not read"] == 6
    label = f"workspace ({sha[:7]} + uncommitted changes)"
    assert f"| metrics.json | {label} | {reason} |" in md.splitlines()
    assert "| metrics.json | epochs\\_run | 10 | not read |  |  |" in md.splitlines()
    assert "3 of 11 metrics changed, 6 not read." in md
    page = (project.root / "dvc-cml-report" / "report.html").read_text()
    assert f'<td align="left">{reason}</td>' in page

    code, out, _ = run_cli(capsys, "diff", "main", "-C", str(project.root))
    assert code == 0
    assert f"Not read: metrics.json at {label}: {reason}" in out.splitlines()


def test_a_metrics_file_broken_in_the_base_commit(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("nested")
    project.write("eval/scores.yaml", "per_class: [unclosed\n")
    sha = project.commit("broken yaml")
    project.write("eval/scores.yaml", "per_class: {cat: {recall: 0.9}}\n")
    doc, md = report(capsys, project)
    (problem,) = doc["problems"]
    assert (problem["path"], problem["rev"], problem["sha"]) == ("eval/scores.yaml", "main", sha)
    assert problem["reason"].startswith("does not parse: ")
    assert "being written" not in problem["reason"]  # a commit is not being written
    # Known at the workspace only: "not read" at main, not "new".
    assert rows(doc, "metrics", "eval/scores.yaml") == {
        "per_class.cat.recall": (None, 0.9, "not read")
    }
    assert f"| eval/scores.yaml | main ({sha[:7]}) | does not parse: " in md

    # A gate on it fails as missing at main instead of passing as a new metric.
    code, out, _ = run_cli(
        capsys, "check", "main", "-C", str(project.root), "--fail-on", "per_class.cat.recall<0"
    )
    assert code == 5
    assert out.splitlines()[1] == (
        f"MISS  per_class.cat.recall<0: per_class.cat.recall is missing at main ({sha[:7]}): "
        f"eval/scores.yaml was not read ({problem['reason']})"
    )


def test_a_gate_names_the_files_not_read_when_it_finds_nothing(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("nested")
    project.write("metrics.json", "")
    code, out, _ = run_cli(
        capsys, "check", "main", "-C", str(project.root), "--fail-on", "valid.f1<0"
    )
    assert code == 5
    sha7 = git(project.root, "rev-parse", "HEAD")[:7]
    assert out.splitlines()[1] == (
        "MISS  valid.f1<0: valid.f1 was not found; not read: metrics.json at "
        f"workspace ({sha7} + uncommitted changes)"
    )


def test_a_params_file_that_does_not_parse(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    """eval.yaml is a stage's params file; only the root params.yaml is read by dvc.yaml's
    interpolation, so this one costs itself only (and its stage's status)."""
    project = make_project("nested")
    project.write("eval.yaml", "threshold: [0.5\n")
    doc, _ = report(capsys, project)
    (problem,) = doc["problems"]
    assert (problem["path"], problem["rev"]) == ("eval.yaml", "workspace")
    assert rows(doc, "params", "eval.yaml") == {"threshold": (0.5, None, "not read")}
    assert {r["path"] for r in doc["params"]} == {"eval.yaml", "params.yaml"}
    assert doc["summary"]["params_changed"] == 0  # not read is not a change


def test_a_plot_file_cut_short(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    project = make_project("plots")
    project.apply_head()
    clean, _ = report(capsys, project)
    whole = (project.root / "curves" / "pr.json").read_text()
    project.write("curves/pr.json", whole[: len(whole) // 2])
    doc, md = report(capsys, project)
    (problem,) = doc["problems"]
    assert (problem["path"], problem["rev"]) == ("curves/pr.json", "workspace")
    assert problem["reason"].startswith("does not parse: ")
    sha7 = doc["head"]["sha"][:7]
    plots = {p["name"]: p for p in doc["plots"]}
    assert plots["curves/pr.json"]["png"]  # main's curve is still drawn
    assert (
        f"Not drawn for workspace ({sha7} + uncommitted changes): curves/pr.json was not read "
        "(see the files not read)." in plots["curves/pr.json"]["notes"]
    )
    # Every other plot is a clean run's (same data, drawn the same way).
    for name, plot in plots.items():
        if name == "curves/pr.json":
            continue
        before = next(p for p in clean["plots"] if p["name"] == name)
        assert (plot["kind"], plot["changed"], plot["notes"]) == (
            before["kind"],
            before["changed"],
            before["notes"],
        ), name
    assert [p["name"] for p in doc["plots"]] == [p["name"] for p in clean["plots"]]
    assert (doc["metrics"], doc["params"]) == (clean["metrics"], clean["params"])
    assert "### Not read" in md


def test_a_short_row_in_a_committed_csv(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row with fewer fields than its header is left out at any revision (it would be a
    point without a value); the chart says so, and why."""
    project = make_project("plots")
    train = project.root / "logs" / "train.csv"
    train.write_bytes(train.read_bytes() + b"20\r\n")
    sha = project.commit("a short row")
    project.apply_head()
    doc, _ = report(capsys, project)
    (loss,) = [p for p in doc["plots"] if p["name"] == "loss"]
    assert (
        f"1 row of logs/train.csv at main ({sha[:7]}) cut short, left out "
        "(fewer fields than its header)." in loss["notes"]
    )
    assert doc["problems"] == []
    spec = json.loads(Path(loss["spec"]).read_text())
    rows = [r for data in spec["datasets"].values() for r in data]
    assert all(r["y"] is not None for r in rows)
    assert (
        sum(r["revision"].startswith("main") and r["series"].startswith("train") for r in rows)
        == 20
    )


# --- one file, listed once; empty files -----------------------------------------------------

TRAINING = {
    "dvc.yaml": (
        "metrics:\n  - m.yaml\n  - scores.json\nparams:\n  - live/params.yaml\n"
        "plots:\n  - loss.tsv:\n      x: step\n      y: loss\n"
        "  - scores.json:\n      x: step\n      y: f1\n"
    ),
    "m.yaml": "acc: 0.5\nloss: 0.3\n",
    # A metrics file that is plot data too: `f1` is a metric, `curve` the plot's rows.
    "scores.json": '{"f1": 0.7, "curve": [{"step": 0, "f1": 0.5}, {"step": 1, "f1": 0.7}]}\n',
    "live/params.yaml": "lr: 0.1\nepochs: 3\n",
    "loss.tsv": "step\tloss\n0\t1.0\n1\t0.5\n",
}


@pytest.fixture
def training(tmp_path: Path) -> Project:
    """A project whose metrics (YAML, JSON), params and plot data (TSV, JSON) a training
    run writes, committed on `main` as it left them."""
    root = tmp_path / "training"
    write_tree(root, TRAINING)
    git(root, "init", "-q")
    init_project(root)
    project = Project(root, root)
    project.commit("trained")
    return project


def problems(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p["path"], p["rev"], p["reason"]) for p in doc["problems"]]


def notes(doc: dict[str, Any], plot: str) -> list[str]:
    (found,) = [p for p in doc["plots"] if p["name"] == plot]
    listed: list[str] = found["notes"]
    return listed


def test_a_file_that_is_metrics_and_plot_data_is_listed_once(
    training: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    training.write("scores.json", TRAINING["scores.json"][:30])
    doc, md = report(capsys, training)
    reason = "does not parse: Expecting value at line 1, column 31 (it may still be being written)"
    assert problems(doc) == [("scores.json", "workspace", reason)]
    assert doc["summary"]["problems"] == 1
    assert "1 file not read" in doc["summary"]["text"]
    assert md.count("| scores.json | workspace (") == 1


def test_json_s_own_words_are_not_doubled(
    training: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """json says "Invalid control character at", meaning "at" the position that follows."""
    training.write("scores.json", '{"f1": "\x01"}\n')
    doc, md = report(capsys, training)
    label = f"workspace ({doc['head']['sha'][:7]} + uncommitted changes)"
    assert (
        f"| scores.json | {label} | does not parse: Invalid control character at line 1, "
        "column 9 (it may still be being written) |"
    ) in md.splitlines()
    assert problems(doc) == [
        (
            "scores.json",
            "workspace",
            "does not parse: Invalid control character at line 1, column 9 "
            "(it may still be being written)",
        )
    ]


WRITING = "empty (it may still be being written)"


@pytest.mark.parametrize(
    ("path", "text", "reason"),
    [
        ("m.yaml", "", WRITING),
        ("m.yaml", "# written next\n", WRITING),
        ("m.yaml", "ac", "holds no values (it may still be being written)"),
        ("live/params.yaml", "", WRITING),
        ("scores.json", "", WRITING),  # json's own "Expecting value" at line 1, column 1
    ],
    ids=["yaml-empty", "yaml-comment", "yaml-one-word", "params-empty", "json-empty"],
)
def test_an_empty_metrics_or_params_file_in_the_workspace(
    path: str, text: str, reason: str, training: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """`open("w")` empties a file before a training run writes it again: its values are not
    read there (never "removed"), and the file is listed."""
    clean, _ = report(capsys, training)
    training.write(path, text)
    doc, _ = report(capsys, training)
    assert problems(doc) == [(path, "workspace", reason)]
    section = "params" if path.startswith("live/") else "metrics"
    before = rows(clean, section, path)
    assert before  # the file has rows at main
    assert rows(doc, section, path) == {
        k: (old, None, "not read") for k, (old, _, _) in before.items()
    }
    for other in ("metrics", "params"):
        assert [r for r in doc[other] if r["path"] != path] == [
            r for r in clean[other] if r["path"] != path
        ]


@pytest.mark.parametrize("text", ["", "step\tloss\n"], ids=["empty", "header-only"])
def test_an_empty_plot_file_in_the_workspace(
    text: str, training: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    training.write("loss.tsv", text)
    doc, _ = report(capsys, training)
    assert problems(doc) == [("loss.tsv", "workspace", WRITING)]
    label = f"workspace ({doc['head']['sha'][:7]} + uncommitted changes)"
    assert f"Not drawn for {label}: loss.tsv is {WRITING}." in notes(doc, "loss.tsv")


def test_an_empty_plot_file_at_a_commit_is_said_on_its_chart(
    training: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plot file with a header and no rows, committed: a legitimately empty plot, not a
    file being written, nor one that could not be read."""
    training.write("loss.tsv", "step\tloss\n")
    sha = training.commit("no rows yet")
    training.write("loss.tsv", TRAINING["loss.tsv"])
    doc, _ = report(capsys, training)
    assert problems(doc) == []
    assert f"Not drawn for main ({sha[:7]}): loss.tsv is empty." in notes(doc, "loss.tsv")


def test_an_empty_metrics_file_at_a_commit(
    training: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    training.write("m.yaml", "")
    training.commit("emptied")
    training.write("m.yaml", TRAINING["m.yaml"])
    doc, _ = report(capsys, training)
    assert problems(doc) == [("m.yaml", "main", "empty")]
    assert rows(doc, "metrics", "m.yaml") == {
        "acc": (None, 0.5, "not read"),
        "loss": (None, 0.3, "not read"),
    }
