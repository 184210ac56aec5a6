"""Regression gates from the command line: `diff --fail-on`, config files, `check`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dvc_cml.cli import main
from tests.conftest import FakeGitLab, Project

MakeProject = Callable[[str], Project]


@pytest.fixture
def project(make_project: MakeProject) -> Project:
    """`nested`: test.auc 0.81 -> 0.79, test.loss 0.6 -> 0.65 (+8.3%), train.loss 0.5 -> 0.4."""
    project = make_project("nested")
    project.apply_head()
    return project


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    code = main(list(argv), env=env or {})
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_fails_on_an_absolute_gate_after_writing_the_report(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "diff",
        "main",
        "-C",
        str(project.root),
        "--md",
        "--fail-on",
        "test.auc<-0.01",
        "--fail-on",
        "train.loss>+0.05",
    )
    assert code == 5
    gates = out.split("### Gates")[1].split("### Metrics")[0]
    assert "| test.auc&lt;-0.01 | metrics.json:test.auc | 0.81 | 0.79 | -0.02 | ❌ fail |" in gates
    assert "| train.loss&gt;+0.05 | metrics.json:train.loss | 0.5 | 0.4 | -0.1 | ✅ pass |" in gates
    assert "1 of 2 gates passed." in gates
    assert out.index("### Gates") < out.index("### Metrics")
    assert (
        "dvc-cml: FAIL  test.auc<-0.01: test.auc changed by -0.02 (0.81 → 0.79), below the "
        "allowed -0.01" in err
    )
    assert (project.root / "dvc-cml-report" / "report.md").read_text() == out


def test_diff_passes_a_relative_gate_within_tolerance(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "diff", "main", "-C", str(project.root), "--fail-on", "test.loss>+10%"
    )
    assert code == 0, err
    assert "dvc-cml: PASS  test.loss>+10%: test.loss changed by +8.3% (0.6 → 0.65)" in err
    code, _, err = run(
        capsys, "diff", "main", "-C", str(project.root), "--fail-on", "test.loss>+5%"
    )
    assert code == 5


def test_gates_from_the_config_file_and_directions(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write(".dvc-cml.yaml", "fail-on:\n  - epochs_run<0\nhigher-is-better: [test.loss]\n")
    code, out, _ = run(capsys, "diff", "main", "-C", str(project.root), "--md")
    assert code == 0
    gate = "| epochs\\_run&lt;0 | metrics.json:epochs\\_run | 10 | 10 | unchanged | ✅ pass |"
    assert gate in out
    # The config turned test.loss into higher-is-better: its rise is now better.
    assert "| metrics.json | test.loss | 0.6 | 0.65 | +0.05 ✅ | +8.3% |" in out


def test_a_broken_config_fails_before_any_work(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write(".dvc-cml.yaml", "fail-on: test.auc<0\n")
    code, _, err = run(capsys, "diff", "main", "-C", str(project.root))
    assert code == 1
    assert err.startswith("dvc-cml: error: ")
    assert ".dvc-cml.yaml" in err and "fail-on" in err
    assert not (project.root / "dvc-cml-report").exists()


def test_ambiguous_and_missing_metric_names(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("eval/scores.yaml", "test:\n  auc: 0.5\n")
    code, _, err = run(capsys, "check", "main", "-C", str(project.root), "--fail-on", "test.auc<0")
    assert code == 1
    assert "metric 'test.auc' is ambiguous: found in eval/scores.yaml, metrics.json" in err
    code, out, _ = run(
        capsys,
        "check",
        "main",
        "-C",
        str(project.root),
        "--fail-on",
        "metrics.json:test.auc<-0.1",
        "--fail-on",
        "no.such.metric<0",
    )
    assert code == 5
    assert "PASS  metrics.json:test.auc<-0.1" in out
    assert "MISS  no.such.metric<0: no.such.metric was not found at either revision" in out


def test_a_metric_removed_at_head_fails_its_gate(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "check", "main", "-C", str(project.root), "--fail-on", "old_score<-1"
    )
    assert code == 5
    assert "FAIL  old_score<-1: old_score is missing at head (base 3)" in out


def test_check_writes_nothing_unless_asked(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "check", "-C", str(project.root), "--fail-on", "test.auc<-0.05")
    assert code == 0
    assert out.splitlines()[1:] == [
        "PASS  test.auc<-0.05: test.auc changed by -0.02 (0.81 → 0.79), not below the allowed "
        "-0.05",
        "1 of 1 gate passed.",
    ]
    assert project.status().split() == [
        "M",
        "eval/scores.yaml",
        "M",
        "metrics.json",
        "M",
        "params.yaml",
    ]
    code, _, _ = run(
        capsys,
        "check",
        "-C",
        str(project.root),
        "--fail-on",
        "test.auc<-0.05",
        "--out",
        "gate-report",
    )
    assert "### Gates" in (project.root / "gate-report" / "report.md").read_text()


def test_check_without_gates_passes_and_says_so(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "check", "-C", str(project.root))
    assert (code, out) == (0, "")
    assert "no gates to check" in err


def test_metrics_report_for_the_gitlab_widget(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(
        capsys, "diff", "main", "-C", str(project.root), "--metrics-report", "out/metrics.txt"
    )
    assert code == 0
    text = (project.root / "out" / "metrics.txt").read_text()
    assert 'dvc_test_auc{file="metrics.json"} 0.79' in text.splitlines()
    assert 'dvc_per_class_dog_recall{file="eval/scores.yaml"} 0.8' in text.splitlines()
    assert text.endswith("# EOF\n")


def test_posting_happens_before_the_gate_fails_the_job(
    fake_gitlab: FakeGitLab, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_gitlab.add_project(42, "grp/proj")
    fake_gitlab.add_mr(42, 7)
    fake_gitlab.add_token("token-with-api-scope")
    env = {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": fake_gitlab.api_url,
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "DVC_CML_TOKEN": "token-with-api-scope",
    }
    code, _, _ = run(
        capsys, "diff", "main", "-C", str(project.root), "--fail-on", "test.auc<-0.01", env=env
    )
    assert code == 5
    (note,) = fake_gitlab.notes(42, 7)
    assert (
        "| test.auc&lt;-0.01 | metrics.json:test.auc | 0.81 | 0.79 | -0.02 | ❌ fail |"
        in (note["body"])
    )
