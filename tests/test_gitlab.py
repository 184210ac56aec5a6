"""Posting to GitLab, end to end: real repos, the real python-gitlab, a fake GitLab over HTTP."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dvc_cml.cli import main
from tests.conftest import FakeGitLab, Project, build_project, clean_env

MakeProject = Callable[[str], Project]
TOKEN = "glpat-test-Xy9z8w7v6u5t4s3r2q1p"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


@pytest.fixture
def gitlab(fake_gitlab: FakeGitLab) -> FakeGitLab:
    fake_gitlab.add_project(42, "grp/proj")
    fake_gitlab.add_mr(42, 7, sha="a" * 40)
    fake_gitlab.add_token(TOKEN, username="dvc-bot")
    return fake_gitlab


def ci_env(fake: FakeGitLab, **extra: str) -> dict[str, str]:
    env = {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": fake.api_url,
        "CI_SERVER_URL": fake.url,
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_COMMIT_SHA": "a" * 40,
        "CI_PIPELINE_ID": "1001",
        "CI_PIPELINE_URL": f"{fake.url}/grp/proj/-/pipelines/1001",
        "CI_JOB_ID": "2002",
        "CI_JOB_URL": f"{fake.url}/grp/proj/-/jobs/2002",
        "CI_JOB_NAME": "model-report",
        "DVC_CML_TOKEN": TOKEN,
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v}


def run(
    capsys: pytest.CaptureFixture[str], project: Project, env: dict[str, str], *args: str
) -> tuple[int, str, str]:
    # The project is the job's directory, as a runner checks it out ($CI_PROJECT_DIR).
    env = {"CI_PROJECT_DIR": str(project.root), **env}
    code = main(["diff", "main", "-C", str(project.root), "--md", *args], env=env)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def plots_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Read by every test here (each run rewrites the same report directory): built once."""
    project = build_project("plots", tmp_path_factory.mktemp("gitlab") / "plots")
    project.apply_head()
    return project


def dvc_cml_notes(fake: FakeGitLab, iid: int = 7) -> list[dict]:  # type: ignore[type-arg]
    return [n for n in fake.notes(42, iid) if "<!-- dvc-cml:report" in n["body"]]


def assert_no_token(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text


def test_first_run_creates_one_note_with_every_image_uploaded(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, plots_project, ci_env(gitlab))
    assert code == 0, err
    notes = dvc_cml_notes(gitlab)
    assert len(notes) == 1
    body = notes[0]["body"]
    assert body.startswith("<!-- dvc-cml:report -->\n## DVC report: **main**")
    assert "| metrics" not in body  # the plots scenario has no metrics
    assert "Posted by dvc-cml, for pipeline [#1001]" in body
    assert "job [#2002 model-report]" in body
    # report.html, linked where the CI template keeps it in the job's artifacts.
    page = f"{gitlab.url}/grp/proj/-/jobs/2002/artifacts/file/dvc-cml-report/report.html"
    assert f"\n[Interactive report]({page}): every chart with tooltips" in body
    assert (plots_project.root / "dvc-cml-report" / "report.html").is_file()

    links = IMAGE.findall(body)
    report_dir = plots_project.root / "dvc-cml-report"
    on_disk = sorted(p.name for p in (report_dir / "plots").iterdir() if p.suffix == ".png")
    assert len(links) == len(on_disk) == 7  # 4 charts, 2 + 1 images
    for link in links:
        assert re.fullmatch(r"/uploads/[0-9a-f]{32}/[A-Za-z0-9._-]+", link), link
        name = link.rsplit("/", 1)[1]
        assert gitlab.upload_bytes(link) == (report_dir / "plots" / name).read_bytes()
    assert "plots/loss.png" not in body  # no local paths left in the note
    assert "created on merge request !7 of grp/proj" in err
    assert_no_token(out, err, body)


def test_rerun_on_a_busy_mr_updates_the_same_note(
    gitlab: FakeGitLab, make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    plots_project = make_project("plots")  # its own: this test changes the data
    plots_project.apply_head()
    assert run(capsys, plots_project, ci_env(gitlab))[0] == 0
    first = dvc_cml_notes(gitlab)[0]
    for i in range(45):
        gitlab.add_note(42, 7, f"review comment {i}", system=i % 5 == 0)
    plots_project.write("logs/train.csv", "step,loss\n0,0.3\n1,0.2\n")

    code, _, err = run(capsys, plots_project, ci_env(gitlab, CI_PIPELINE_ID="1002"))
    assert code == 0, err
    notes = dvc_cml_notes(gitlab)
    assert len(notes) == 1
    assert notes[0]["id"] == first["id"]
    assert "pipeline [#1002]" in notes[0]["body"]
    assert "updated on merge request !7" in err
    assert len(gitlab.notes(42, 7)) == 46
    # The listing walked every page (100 per page: one request; the note was the oldest).
    assert gitlab.count("PUT", r"/notes/\d+$") == 1


def test_the_note_is_found_on_a_later_page(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(130):
        gitlab.add_note(42, 7, f"older comment {i}")
    assert run(capsys, plots_project, ci_env(gitlab))[0] == 0
    for i in range(130):
        gitlab.add_note(42, 7, f"newer comment {i}")
    assert run(capsys, plots_project, ci_env(gitlab))[0] == 0
    assert len(dvc_cml_notes(gitlab)) == 1
    assert gitlab.count("GET", r"/merge_requests/7/notes$") >= 3  # 261 notes, 100 a page


def test_separate_ids_keep_separate_notes_and_new_comment_adds_one(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ci_env(gitlab)
    assert run(capsys, plots_project, env)[0] == 0
    assert run(capsys, plots_project, env, "--id", "model-b")[0] == 0
    assert run(capsys, plots_project, env, "--id", "model-b")[0] == 0
    bodies = [n["body"].splitlines()[0] for n in dvc_cml_notes(gitlab)]
    assert bodies == ["<!-- dvc-cml:report -->", "<!-- dvc-cml:report:model-b -->"]
    assert run(capsys, plots_project, env, "--new-comment")[0] == 0
    assert len(dvc_cml_notes(gitlab)) == 3


def test_branch_pipeline_finds_the_open_mr_of_the_commit(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.add_mr(42, 3, sha="b" * 40, state="merged")
    gitlab.add_mr(42, 9, sha="b" * 40, state="opened")
    env = ci_env(
        gitlab, CI_MERGE_REQUEST_IID="", CI_MERGE_REQUEST_PROJECT_ID="", CI_COMMIT_SHA="b" * 40
    )
    code, _, err = run(capsys, plots_project, env)
    assert code == 0, err
    assert len(dvc_cml_notes(gitlab, 9)) == 1
    assert dvc_cml_notes(gitlab, 3) == []


def test_no_mr_for_the_commit_posts_a_commit_comment(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = "c" * 40
    gitlab.add_commit(42, sha)
    env = ci_env(gitlab, CI_MERGE_REQUEST_IID="", CI_COMMIT_SHA=sha)
    code, _, err = run(capsys, plots_project, env)
    assert code == 0, err
    comments = gitlab.commit_comments(42, sha)
    assert len(comments) == 1
    assert comments[0]["note"].startswith("<!-- dvc-cml:report -->")
    assert f"commit comment on commit {sha[:8]} of grp/proj" in err


def test_from_a_laptop_with_flags_and_a_project_path(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"GITLAB_TOKEN": TOKEN}
    flags = ["--post", "--gitlab-url", gitlab.url, "--project", "grp/proj", "--mr", "7"]
    code, _, err = run(capsys, plots_project, env, *flags)
    assert code == 0, err
    notes = dvc_cml_notes(gitlab)
    assert len(notes) == 1
    assert "Interactive report" not in notes[0]["body"]  # no job, no artifacts to link
    assert len(gitlab.uploads) == 7
    # By numeric id: a lazy project by path would double-encode it in the upload URL.
    assert gitlab.count("POST", r"^/api/v4/projects/42/uploads$") == 7


def test_fork_mr_uploads_to_the_mr_project(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ci_env(gitlab, CI_PROJECT_ID="43")  # the fork runs the pipeline
    code, _, err = run(capsys, plots_project, env)
    assert code == 0, err
    assert gitlab.count("POST", r"^/api/v4/projects/42/uploads$") == 7
    assert gitlab.count("*", r"/projects/43") == 0


def test_outside_ci_nothing_is_posted(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ci_env(gitlab, GITLAB_CI="")
    assert run(capsys, plots_project, env)[0] == 0
    assert run(capsys, plots_project, ci_env(gitlab), "--no-post")[0] == 0
    assert gitlab.requests == []


def test_dry_run_makes_no_write_calls(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, plots_project, ci_env(gitlab), "--dry-run")
    assert code == 0, err
    assert gitlab.count("POST") == gitlab.count("PUT") == gitlab.count("DELETE") == 0
    assert "--- dry run: the comment for merge request !7 of grp/proj ---" in err
    assert out.count("<!-- dvc-cml:report -->") == 1
    assert dvc_cml_notes(gitlab) == []


def test_retries_after_429_and_502(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.fail("POST", r"/uploads$", 429, headers={"Retry-After": "0"})
    gitlab.fail("POST", r"/uploads$", 502, times=2)
    gitlab.fail("POST", r"/merge_requests/7/notes$", 502)
    gitlab.fail("GET", r"/projects/42$", 503)
    code, _, err = run(capsys, plots_project, ci_env(gitlab))
    assert code == 0, err
    assert len(dvc_cml_notes(gitlab)) == 1
    assert len(gitlab.uploads) == 7
    assert gitlab.count("POST", r"/uploads$") == 7 + 3


def test_a_failed_upload_leaves_a_note_not_a_broken_image(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.upload_limit = 200  # the image plots are tiny; the charts are not
    code, _, err = run(capsys, plots_project, ci_env(gitlab))
    assert code == 0, err
    body = dvc_cml_notes(gitlab)[0]["body"]
    assert (
        "loss.png could not be uploaded: GitLab refused to upload loss.png: too large (413)" in body
    )
    for link in IMAGE.findall(body):
        assert link in gitlab.uploads


def test_a_report_over_the_size_limit_is_trimmed(
    gitlab: FakeGitLab, make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("nested")
    # 16,000 metrics in two files (one file keeps at most 10,000: docs/security.md).
    metrics = ", ".join(f'"metric_{i:05d}_with_a_long_name": {i}.5' for i in range(8000))
    project.write("metrics.json", "{" + metrics + "}")
    scores = "".join(f"metric_{i:05d}_with_a_long_name: {i}.5\n" for i in range(8000, 16000))
    project.write("eval/scores.yaml", scores)
    code, _, err = run(capsys, project, ci_env(gitlab))
    assert code == 0, err
    body = dvc_cml_notes(gitlab)[0]["body"]
    assert len(body) <= 1_000_000
    assert "This report is too long for a GitLab comment" in body
    page = f"{gitlab.url}/grp/proj/-/jobs/2002/artifacts/file/dvc-cml-report/report.html"
    assert f"The full report is at [the job's artifacts]({page})." in body
    full = (project.root / "dvc-cml-report" / "report.md").read_text()
    assert len(full) > 1_000_000


def expect_failure(
    capsys: pytest.CaptureFixture[str], project: Project, env: dict[str, str], *fragments: str
) -> str:
    shutil.rmtree(project.root / "dvc-cml-report", ignore_errors=True)  # this run's, not older
    code, out, err = run(capsys, project, env)
    assert code == 4, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    report = project.root / "dvc-cml-report" / "report.md"
    page = report.with_name("report.html")  # the file the CI templates keep
    assert lines[0].endswith(f"The report was not posted; it is at {page}")
    assert report.exists() and page.exists()
    for fragment in fragments:
        assert fragment in lines[0]
    assert_no_token(out, err, report.read_text())
    return lines[0]


def test_no_token(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ci_env(gitlab, DVC_CML_TOKEN="")
    expect_failure(
        capsys,
        plots_project,
        env,
        "no GitLab token: looked at $DVC_CML_TOKEN, $GITLAB_TOKEN, $REPO_TOKEN",
    )
    assert gitlab.requests == []


def test_job_token_only(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ci_env(gitlab, DVC_CML_TOKEN="", CI_JOB_TOKEN="job-token-value")
    line = expect_failure(capsys, plots_project, env, "only CI_JOB_TOKEN is available")
    assert "project access token with the `api` scope" in line
    assert "masked (not protected)" in line


def test_invalid_token(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ci_env(gitlab, DVC_CML_TOKEN="glpat-revoked-0000000000")
    line = expect_failure(
        capsys,
        plots_project,
        env,
        "GitLab rejected the token in $DVC_CML_TOKEN",
        "401 Unauthorized",
    )
    assert "glpat-revoked" not in line


def test_read_only_scope(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.add_token("glpat-readonly-111111111111", scopes=("read_api",))
    env = ci_env(gitlab, DVC_CML_TOKEN="glpat-readonly-111111111111")
    expect_failure(capsys, plots_project, env, "lacks the `api` scope", "403 insufficient_scope")


def test_unknown_project(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ci_env(gitlab, CI_MERGE_REQUEST_PROJECT_ID="999")
    expect_failure(
        capsys, plots_project, env, "project '999' while trying to open project 999 (404"
    )


def test_unknown_mr(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ci_env(gitlab, CI_MERGE_REQUEST_IID="12")
    expect_failure(capsys, plots_project, env, "merge request !12 of project 42", "(404")


def test_body_rejected(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.fail(
        "POST", r"/merge_requests/7/notes$", 400, body='{"message": {"note": ["is too long"]}}'
    )
    expect_failure(
        capsys, plots_project, ci_env(gitlab), "GitLab refused to comment on merge request !7 (400"
    )


def test_gitlab_keeps_failing(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.fail("GET", r"/projects/42$", 502, times=10)
    expect_failure(
        capsys,
        plots_project,
        ci_env(gitlab),
        "GitLab kept failing while trying to open project 42 (HTTP 502) after 5 attempts",
    )


def test_unreachable_gitlab(plots_project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeGitLab()  # bound but never started: connections are refused
    url = fake.url
    fake.stop()
    env = {"DVC_CML_TOKEN": TOKEN}
    code, _, err = run(
        capsys, plots_project, env, "--post", "--gitlab-url", url, "--project", "42", "--mr", "7"
    )
    assert code == 4
    assert f"cannot reach GitLab at {url} to open project 42" in err


def test_verbose_logs_requests_but_never_the_token(
    gitlab: FakeGitLab, plots_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, plots_project, ci_env(gitlab), "--verbose")
    assert code == 0, err
    assert '"POST /api/v4/projects/42/uploads HTTP/1.1" 201' in err
    assert "dvc-cml: dvc_cml.publish.gitlab: comment on merge request !7" in err
    assert_no_token(out, err)
    for request in gitlab.requests:
        assert request.headers.get("private-token") == TOKEN  # it was sent, only to GitLab


def test_two_jobs_racing_end_with_one_note(
    gitlab: FakeGitLab, plots_project: Project, tmp_path: Path
) -> None:
    """Two pipelines of the same MR, each in its own clone, run `dvc-cml diff` at once.

    The fake holds each notes listing until both jobs have made it, so both find no note and
    both create one, then both see the two notes and both remove the newer: the real race.
    They must end with one note, ours, and exit 0.
    """
    clones = [tmp_path / "job-1", tmp_path / "job-2"]
    for clone in clones:
        shutil.copytree(plots_project.root, clone, ignore=shutil.ignore_patterns("dvc-cml-report"))
    # Both read the notes before either writes, and both read them again (to find duplicates)
    # before either removes one.
    gitlab.rendezvous("GET", r"/merge_requests/7/notes$")
    gitlab.rendezvous("GET", r"/merge_requests/7/notes$")
    jobs = [
        subprocess.Popen(
            [sys.executable, "-m", "dvc_cml", "diff", "main", "-C", str(clone), "--md"],
            env=clean_env(**ci_env(gitlab, CI_JOB_ID=str(3000 + n))),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, clone in enumerate(clones)
    ]
    outputs = [job.communicate(timeout=300) for job in jobs]
    results = [(job.returncode, out, err) for job, (out, err) in zip(jobs, outputs, strict=True)]
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    assert sorted(err.split(" on merge request")[0] for _, _, err in results) == [
        "dvc-cml: created",
        "dvc-cml: created",
    ]
    # Both listed the notes before either wrote, so both created one...
    methods = [(r.method, r.path.split("?")[0]) for r in gitlab.requests]
    notes = "/api/v4/projects/42/merge_requests/7/notes"
    first_post = methods.index(("POST", notes))
    assert [m for m in methods[:first_post] if m == ("GET", notes)] == [("GET", notes)] * 2
    assert gitlab.count("POST", r"/merge_requests/7/notes$") == 2
    # ...and one note is left, by the bot, with a whole report in it.
    [note] = dvc_cml_notes(gitlab)
    assert note["author"]["username"] == "dvc-bot"
    assert note["body"].startswith("<!-- dvc-cml:report -->\n## DVC report: **main**")
    assert re.search(r"job \[#300[01] model-report\]", note["body"])
