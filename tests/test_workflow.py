"""The CI workflow: --pull into shallow clones, --repro, revisions as users name them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dvc_cml.cli import main
from dvc_cml.errors import EXIT_STAGE_FAILED
from dvc_cml.pipeline import reproduce
from tests.conftest import Project, clean_env, git, run_cli

MakeProject = Callable[[str], Project]
QUIET: Callable[[str], None] = lambda _: None  # noqa: E731


def add_remote(project: Project, remote: Path) -> None:
    """A local-directory DVC remote, committed in .dvc/config like a real project's."""
    config = project.root / ".dvc" / "config"
    config.write_text(
        f"[core]\n    analytics = false\n    remote = store\n"
        f"['remote \"store\"']\n    url = {remote}\n"
    )


def push(project: Project) -> None:
    from dvc.repo import Repo

    with Repo(str(project.root)) as repo:
        repo.push()


@pytest.fixture
def pushed(make_project: MakeProject, tmp_path: Path) -> Project:
    """`cached`: every output in the DVC cache, pushed; main = baseline, feature = tuned."""
    project = make_project("cached")
    add_remote(project, tmp_path / "remote")
    reproduce(project.root, say=QUIET)
    project.commit("baseline")
    push(project)
    project.branch("feature")
    project.apply_head()
    reproduce(project.root, say=QUIET)
    project.commit("tune")
    push(project)
    return project


def shallow_clone(project: Project, dest: Path) -> Path:
    """What a GitLab MR pipeline has: the feature branch, one commit deep, no DVC cache."""
    git(
        project.root.parent,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "feature",
        f"file://{project.root}",
        str(dest),
    )
    return dest


def specs(report_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((report_dir / "plots").glob("*.vl.json"))}


def test_shallow_clone_with_an_empty_cache_gives_the_full_clone_report(
    pushed: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full_out = tmp_path / "full-report"
    code, out, err = run_cli(
        capsys, "diff", "main", "-C", str(pushed.root), "--json", "--out", str(full_out)
    )
    assert code == 0, err
    full = json.loads(out)

    clone = shallow_clone(pushed, tmp_path / "clone")
    assert not (clone / "metrics.json").exists()
    assert git(clone, "branch", "-a").split() == [
        "*",
        "feature",
        "remotes/origin/HEAD",
        "->",
        "origin/feature",
        "remotes/origin/feature",
    ]
    head_before = git(clone, "rev-parse", "HEAD")
    shallow_out = tmp_path / "shallow-report"
    code, out, err = run_cli(
        capsys, "diff", "main", "--pull", "-C", str(clone), "--json", "--out", str(shallow_out)
    )
    assert code == 0, err
    shallow = json.loads(out)

    assert shallow["base"] == full["base"]
    assert shallow["head"]["sha"] == full["head"]["sha"]
    assert shallow["metrics"] == full["metrics"]
    assert shallow["params"] == full["params"]
    assert [p["name"] for p in shallow["plots"]] == [p["name"] for p in full["plots"]]
    assert specs(shallow_out) == specs(full_out)  # same data, same charts, byte for byte
    for image in ("plots-decision-png.base.png", "plots-decision-png.head.png"):
        assert (shallow_out / "plots" / image).read_bytes() == (
            full_out / "plots" / image
        ).read_bytes()
    # --pull checked the workspace's metrics and plots out; the clone is otherwise untouched.
    assert (clone / "metrics.json").read_text() == (pushed.root / "metrics.json").read_text()
    assert "pulling metrics.json, plots/confusion.csv" in err
    assert git(clone, "status", "--porcelain") == ""
    assert git(clone, "rev-parse", "HEAD") == head_before
    assert "remotes/origin/main" in git(clone, "branch", "-a")


def test_base_data_missing_from_the_remote_is_named(
    pushed: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_lock = git(pushed.root, "show", "main:dvc.lock")
    md5 = base_lock.split("path: metrics.json")[1].split("md5: ")[1].split()[0]
    for store in (tmp_path / "remote", pushed.root / ".dvc" / "cache"):
        (store / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    code, out, err = run_cli(capsys, "diff", "main", "-C", str(pushed.root), "--json")
    assert (code, err) == (0, "")  # it costs that file, not the report
    doc = json.loads(out)
    sha = git(pushed.root, "rev-parse", "main").strip()
    assert doc["problems"] == [
        {
            "path": "metrics.json",
            "rev": "main",
            "sha": sha,
            "reason": "not read: its data is in neither the local cache nor the DVC remote "
            "(was `dvc push` run where it was produced?)",
        }
    ]
    # Its rows say "not read" at main (the workspace's value beside it), never "new".
    rows = [m for m in doc["metrics"] if m["path"] == "metrics.json"]
    assert rows and all((m["base"], m["status"]) == (None, "not read") for m in rows)
    assert all(m["head"] is not None for m in rows)
    assert {p["name"] for p in doc["plots"]} >= {"loss", "accuracy"}


@pytest.mark.parametrize(
    ("ci", "advice"),
    [
        (
            {"GITLAB_CI": "true"},
            "set GIT_DEPTH to 0 (or deep enough to reach it) in the job's variables",
        ),
        (
            {"GITHUB_ACTIONS": "true"},
            "give actions/checkout `fetch-depth: 0` (or deep enough to reach it)",
        ),
        ({}, "fetch more history (e.g. `git fetch --unshallow`)"),
    ],
)
def test_base_that_cannot_be_fetched_says_how_to_deepen_the_clone(
    pushed: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ci: dict[str, str],
    advice: str,
) -> None:
    clone = shallow_clone(pushed, tmp_path / "clone")
    code = main(["diff", "no-such-branch", "-C", str(clone), "--no-post"], env=ci)
    err = capsys.readouterr().err
    assert code == 1
    assert "revision 'no-such-branch' is not in" in err
    assert "(this clone is shallow)" in err
    assert err.rstrip().endswith(advice)


@pytest.mark.parametrize("ci", [{"GITLAB_CI": "true"}, {"GITHUB_ACTIONS": "true"}, {}])
def test_a_mistyped_revision_in_a_full_clone_is_not_told_to_deepen_it(
    pushed: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str], ci: dict[str, str]
) -> None:
    clone = tmp_path / "full-clone"
    git(tmp_path, "clone", "-q", f"file://{pushed.root}", str(clone))
    code = main(["diff", "mian", "-C", str(clone), "--no-post"], env=ci)
    err = capsys.readouterr().err
    assert code == 1
    assert err == (
        f"dvc-cml: error: revision 'mian' does not exist in {clone} or on origin (no branch, "
        "tag, commit or experiment by that name; fetching it said: fatal: couldn't find remote "
        "ref refs/heads/mian; fatal: couldn't find remote ref refs/tags/mian)\n"
    )


@pytest.fixture
def pipeline(make_project: MakeProject) -> Project:
    project = make_project("pipeline")
    (project.root / ".gitignore").write_text("/data.txt\n")
    reproduce(project.root, say=QUIET)
    project.commit("baseline")
    return project


def test_repro_runs_exactly_the_dependent_stages(
    pipeline: Project, capfd: pytest.CaptureFixture[str]
) -> None:
    pipeline.write("params.yaml", "prepare:\n  size: 50\ntrain:\n  lr: 0.5\n")
    head = git(pipeline.root, "rev-parse", "HEAD")
    capfd.readouterr()
    code, out, err = run_cli(capfd, "diff", "main", "--repro", "-C", str(pipeline.root), "--md")
    assert code == 0, err
    assert "Pipeline reproduced first, in pipeline order: `prepare` up to date, `train` ran." in out
    assert "| metrics.json | score | 0.83333 | 0.96154 | +0.12821 | +15.4% |" in out
    assert "dvc-cml: reproduced, in pipeline order: prepare up to date, train ran" in err
    assert "trained on 50 rows" in err  # the stage's own output, kept off stdout
    assert "prepared" not in err
    assert git(pipeline.root, "rev-parse", "HEAD") == head


def test_repro_targets(pipeline: Project, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline.write("params.yaml", "prepare:\n  size: 80\ntrain:\n  lr: 0.1\n")
    code, out, err = run_cli(
        capsys, "diff", "main", "--repro-targets", "prepare", "-C", str(pipeline.root), "--md"
    )
    assert code == 0, err
    # Only what the target needs: train, downstream, is not looked at (nor called up to date).
    assert "Pipeline reproduced first, in pipeline order: `prepare` ran." in out
    assert len((pipeline.root / "data.txt").read_text().split()) == 80


def test_a_failing_stage_fails_the_run_with_a_code_of_its_own(
    pipeline: Project, capfd: pytest.CaptureFixture[str]
) -> None:
    """The stage exits 3, dvc-cml's "internal error": passed on, it would read as ours."""
    pipeline.write("params.yaml", "prepare:\n  size: 50\ntrain:\n  lr: 0\n")
    capfd.readouterr()
    code, out, err = run_cli(capfd, "diff", "main", "--repro", "-C", str(pipeline.root))
    assert code == EXIT_STAGE_FAILED == 6
    assert out == ""
    assert err.strip().splitlines()[-1] == (
        "dvc-cml: error: stage 'train' failed (exit status 3): failed to run: python train.py, "
        "exited with 3; before it: prepare up to date; no report was made from a half-run pipeline"
    )
    assert "learning rate must be positive" in err
    assert not (pipeline.root / "dvc-cml-report" / "report.md").exists()


def test_an_experiment_as_head(pipeline: Project, capsys: pytest.CaptureFixture[str]) -> None:
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir

    with chdir(pipeline.root), Repo(str(pipeline.root)) as repo:
        repo.experiments.run(params=["train.lr=0.3"], name="faster")
    git(pipeline.root, "checkout", "--", ".")  # `exp run` leaves its result in the workspace
    code, out, err = run_cli(capsys, "diff", "main", "faster", "-C", str(pipeline.root), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["head"]["rev"] == "faster"
    score = next(m for m in doc["metrics"] if m["metric"] == "score")
    assert (score["base"], score["head"]) == (0.83333, 0.9375)


def test_merge_request_pipelines_compare_with_the_merge_base(
    pipeline: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    fork_point = git(pipeline.root, "rev-parse", "HEAD").strip()
    pipeline.branch("feature")
    pipeline.write("params.yaml", "prepare:\n  size: 50\ntrain:\n  lr: 0.2\n")
    reproduce(pipeline.root, say=QUIET)
    pipeline.commit("feature work")
    git(pipeline.root, "checkout", "-q", "main")
    pipeline.write("params.yaml", "prepare:\n  size: 50\ntrain:\n  lr: 0.9\n")
    reproduce(pipeline.root, say=QUIET)
    pipeline.commit("main moved on")
    git(pipeline.root, "checkout", "-q", "feature")

    env = {
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": fork_point,
    }
    code = main(["diff", "-C", str(pipeline.root), "--json"], env=env)
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["base"] == {"rev": "main", "sha": fork_point, "dirty": False}
    lr = next(p for p in doc["params"] if p["param"] == "train.lr")
    assert (lr["base"], lr["head"]) == (0.1, 0.2)  # not 0.9: main's later change is not ours


def test_console_script_in_a_fresh_process_with_pull(pushed: Project, tmp_path: Path) -> None:
    clone = shallow_clone(pushed, tmp_path / "clone")
    done = subprocess.run(
        [sys.executable, "-m", "dvc_cml", "diff", "main", "--pull", "--md"],
        cwd=clone,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "| metrics.json | test.loss | 0.795 | 0.7139 | -0.0811 ✅ | -10.2% |" in done.stdout
