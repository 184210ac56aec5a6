"""What `dvc-cml diff` takes from a CI job's environment: the extra arguments of the templates
($DVC_CML_ARGS, split as a shell would), the line saying why a merge-request pipeline posts
nothing, and where the job's artifacts hold the report."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, build_project, run_cli

MakeProject = Callable[[str], Project]


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """test.auc 0.81 -> 0.79 (-0.02), train.loss 0.5 -> 0.4: read by every test, built once."""
    project = build_project("nested", tmp_path_factory.mktemp("ci-env") / "nested")
    project.apply_head()
    return project


def diff(
    capsys: pytest.CaptureFixture[str], project: Project, env: dict[str, str], *args: str
) -> tuple[int, str, str]:
    return run_cli(capsys, "diff", "main", "-C", str(project.root), "--md", *args, env=env)


# --- $DVC_CML_ARGS: the templates' `args` / DVC_CML_ARGS, split as a shell would -------------


def test_quoted_gate_in_dvc_cml_args_reaches_the_gate_as_written(
    nested: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"DVC_CML_ARGS": "--fail-on 'test.auc<-0.01' --no-post"}
    code, out, err = diff(capsys, nested, env)
    assert code == 5, err  # the gate failed: test.auc fell by 0.02
    # The gate as written, without the quotes: `'test.auc<-0.01'` would be a bad gate.
    assert "FAIL  test.auc<-0.01: test.auc changed by -0.02" in err
    assert "| metrics.json | test.auc | 0.81 | 0.79 |" in out

    env = {"DVC_CML_ARGS": '--fail-on "test.auc<-0.05"'}
    code, _, err = diff(capsys, nested, env)
    assert code == 0, err
    assert "bad gate" not in err


def test_dvc_cml_args_come_after_the_command_line(
    nested: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """The templates put their own flags first; the user's (--id, a BASE) follow them."""
    out_dir = nested.root.parent / "args-out"
    env = {"DVC_CML_ARGS": f"--out '{out_dir}'"}
    code, _, err = diff(capsys, nested, env)
    assert code == 0, err
    assert (out_dir / "report.md").is_file()
    shutil.rmtree(out_dir)


def test_unbalanced_quote_in_dvc_cml_args_is_a_usage_error(
    nested: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = diff(capsys, nested, {"DVC_CML_ARGS": "--fail-on 'test.auc<-0.01"})
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "dvc-cml: error: $DVC_CML_ARGS: No closing quotation: --fail-on 'test.auc<-0.01"
    ]


def test_bad_flag_in_dvc_cml_args_says_where_it_came_from(
    nested: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = diff(capsys, nested, {"DVC_CML_ARGS": "--no-such-flag"})
    assert code == 2
    assert "unrecognized arguments: --no-such-flag" in err
    assert err.strip().splitlines()[-1] == (
        "dvc-cml: (the arguments included $DVC_CML_ARGS: --no-such-flag)"
    )


# --- a merge-request pipeline that does not post ---------------------------------------------

MR = {
    "CI_PROJECT_ID": "42",
    "CI_MERGE_REQUEST_IID": "7",
    "CI_MERGE_REQUEST_PROJECT_ID": "42",
    "CI_SERVER_URL": "http://127.0.0.1:9",
}


def test_merge_request_variables_without_gitlab_ci_say_why_nothing_is_posted(
    nested: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """gitlab-ci-local sets the MR variables a run is given but never GITLAB_CI: one line."""
    code, out, err = diff(capsys, nested, dict(MR))
    assert code == 0, err
    assert err.strip().splitlines() == [
        "dvc-cml: not posting to merge request !7: GITLAB_CI is not true (a runner other "
        "than GitLab's?); pass --post to post"
    ]
    assert "| metrics.json | test.auc |" in out


def test_no_line_when_posting_is_turned_off_on_purpose_or_there_is_no_mr(
    nested: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert diff(capsys, nested, dict(MR), "--no-post")[2] == ""
    assert diff(capsys, nested, {"CI_PROJECT_ID": "42"})[2] == ""


# --- the report in the job's artifacts -------------------------------------------------------


def test_comment_links_the_page_where_the_job_keeps_it_with_dash_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-C proj` in a monorepo: the link names proj/dvc-cml-report/ inside $CI_PROJECT_DIR."""
    job_dir = tmp_path / "job"
    project = build_project("nested", job_dir / "proj")
    project.apply_head()
    env = {
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(job_dir),
        "CI_JOB_URL": "http://127.0.0.1:9/grp/proj/-/jobs/5",
        "CI_JOB_ID": "5",
    }
    code, out, err = diff(capsys, project, env, "--dry-run")
    assert code == 0, err
    page = "http://127.0.0.1:9/grp/proj/-/jobs/5/artifacts/file/proj/dvc-cml-report/report.html"
    assert f"[Interactive report]({page})" in out
    assert (job_dir / "proj" / "dvc-cml-report" / "report.html").is_file()


def test_no_artifact_link_for_a_report_outside_the_job_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GitLab keeps artifacts from inside $CI_PROJECT_DIR only: a page elsewhere has no URL."""
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    project = build_project("nested", tmp_path / "elsewhere")
    project.apply_head()
    env = {
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": str(job_dir),
        "CI_JOB_URL": "http://127.0.0.1:9/grp/proj/-/jobs/5",
    }
    code, out, err = diff(capsys, project, env, "--dry-run")
    assert code == 0, err
    assert "/artifacts/file/" not in out
