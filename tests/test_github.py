"""Posting to GitHub, end to end: real repos, the real PyGithub, a fake GitHub over HTTP.

Each run is a GitHub Actions job as GitHub sets it up: its variables and the event payload
at GITHUB_EVENT_PATH.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.cli import main
from tests.conftest import FakeGitHub, FakeGitLab, Project, git

MakeProject = Callable[[str], Project]
TOKEN = "ghs_ActionsToken0123456789abcdefXYZ"  # the Actions GITHUB_TOKEN: an app token
PAT = "github_pat_11AAAAAAA0_personalToken9876543210"
REPO = "octo-org/models"
HEAD_SHA = "a" * 40  # the pull request's head commit
MERGE_SHA = "e" * 40  # GITHUB_SHA on pull_request events: the temporary merge commit
MARKER = "<!-- dvc-cml:report -->"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")
READ_ONLY = {"contents": "read", "pull_requests": "read", "issues": "read"}


@pytest.fixture
def plots_project(make_project: MakeProject) -> Project:
    project = make_project("plots")
    project.apply_head()
    return project


def main_sha(project: Project) -> str:
    return git(project.root, "rev-parse", "main").strip()


@pytest.fixture
def metrics_project(make_project: MakeProject) -> Project:
    """Metrics and params only: no charts to draw, for the tests about failures."""
    project = make_project("nested")
    project.apply_head()
    return project


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(REPO)
    fake_github.add_pull(REPO, 7, head_ref="tune-lr", head_sha=HEAD_SHA)
    fake_github.add_token(TOKEN, app=True)
    return fake_github


def pr_event(base_sha: str, number: int = 7, head_repo: str = REPO) -> dict[str, Any]:
    """What GitHub writes to GITHUB_EVENT_PATH for a `pull_request` event (the parts read)."""
    owner = head_repo.split("/")[0]
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {
                "ref": "tune-lr",
                "sha": HEAD_SHA,
                "label": f"{owner}:tune-lr",
                "repo": {"full_name": head_repo},
            },
            "base": {"ref": "main", "sha": base_sha, "repo": {"full_name": REPO}},
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }


def actions_env(
    fake: FakeGitHub,
    tmp_path: Path,
    event: dict[str, Any],
    event_name: str = "pull_request",
    **extra: str,
) -> dict[str, str]:
    path = tmp_path / f"event-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(event))
    env = {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_API_URL": fake.api_url,
        "GITHUB_SERVER_URL": fake.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_SHA": MERGE_SHA,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_BASE_REF": "main" if event_name == "pull_request" else "",
        "GITHUB_RUN_ID": "555",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_JOB": "report",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_TOKEN": TOKEN,
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v}


@pytest.fixture
def env(github: FakeGitHub, plots_project: Project, tmp_path: Path) -> dict[str, str]:
    return actions_env(github, tmp_path, pr_event(main_sha(plots_project)))


def run(
    capsys: pytest.CaptureFixture[str], project: Project, env: dict[str, str], *args: str
) -> tuple[int, str, str]:
    code = main(["diff", "main", "-C", str(project.root), "--md", *args], env=env)
    out, err = capsys.readouterr()
    return code, out, err


def ours(fake: FakeGitHub, number: int = 7) -> list[dict[str, Any]]:
    return [c for c in fake.comments(REPO, number) if "<!-- dvc-cml:report" in c["body"]]


def fetch(url: str) -> bytes:
    assert url.startswith("http://127.0.0.1:"), url  # nothing leaves the machine
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
        return data


def assert_no_token(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert PAT not in text
        assert "ghs_forkReadOnly" not in text


def writes(fake: FakeGitHub) -> int:
    return sum(fake.count(m) for m in ("POST", "PATCH", "PUT", "DELETE"))


def test_first_run_comments_with_every_image_committed_to_the_assets_branch(
    github: FakeGitHub,
    plots_project: Project,
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, plots_project, env)
    assert code == 0, err
    comments = ours(github)
    assert len(comments) == 1
    body = comments[0]["body"]
    assert comments[0]["user"]["login"] == "github-actions[bot]"
    assert body.startswith(f"{MARKER}\n## DVC report: **main**")
    assert "Posted by dvc-cml, for workflow run [#555]" in body
    assert f"({github.url}/{REPO}/actions/runs/555), job report:" in body

    # Every chart and image plot links a file committed on the assets branch; fetched the way
    # a browser does, each is byte for byte the PNG in the report directory.
    links = IMAGE.findall(body)
    report_dir = plots_project.root / "dvc-cml-report"
    on_disk = sorted(p.name for p in (report_dir / "plots").iterdir() if p.suffix == ".png")
    assert len(links) == len(on_disk) == 7  # 4 charts, 2 + 1 images
    head = github.history(REPO, "dvc-cml-assets")
    assert len(head) == 1  # an orphan branch: its first commit has no parent
    for link in links:
        prefix = f"{github.url}/{REPO}/raw/{head[0]}/pr-7/run-555-1/plots/"
        assert link.startswith(prefix), link
        name = link.removeprefix(prefix)
        assert fetch(link) == (report_dir / "plots" / name).read_bytes()
    files = github.branch_files(REPO, "dvc-cml-assets")
    assert sorted(files) == ["README.md", *(f"pr-7/run-555-1/plots/{n}" for n in on_disk)]
    assert b"To prune: delete this branch" in files["README.md"]
    # Only the assets branch was ever written: never the PR's branches nor the default one.
    refs = [
        r.path for r in github.requests if r.method in ("POST", "PATCH") and "/git/ref" in r.path
    ]
    assert refs == [f"/api/v3/repos/{REPO}/git/refs"]
    assert list(github.git[REPO].refs) == ["refs/heads/dvc-cml-assets"]
    assert "](plots/" not in body  # no local paths left
    assert f"created on pull request #7 of {REPO}: {github.url}/{REPO}/pull/7" in err

    summary = (tmp_path / "summary.md").read_text()
    assert summary.strip() == body.strip()  # the job summary shows the same, images included
    assert_no_token(out, err, body, summary)


def test_rerun_among_150_comments_updates_the_same_comment(
    github: FakeGitHub,
    plots_project: Project,
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(capsys, plots_project, env)[0] == 0
    first = ours(github)[0]
    first_images = IMAGE.findall(first["body"])
    # Someone quoting the report (marker included) is not us: never edited.
    quote = github.add_comment(REPO, 7, f"> {MARKER}\n> quoting the report", author="reviewer")
    for i in range(150):
        github.add_comment(REPO, 7, f"review comment {i}")
    plots_project.write("logs/train.csv", "step,loss\n0,0.3\n1,0.2\n")
    rerun = {**env, "GITHUB_RUN_ID": "556"}

    code, _, err = run(capsys, plots_project, rerun)
    assert code == 0, err
    comments = ours(github)
    assert [c["id"] for c in comments] == [first["id"], quote["id"]]
    assert "workflow run [#556]" in comments[0]["body"]
    assert comments[1]["body"] == quote["body"]
    assert f"updated on pull request #7 of {REPO}" in err
    assert len(github.comments(REPO, 7)) == 152
    assert github.count("PATCH", r"/issues/comments/\d+$") == 1
    assert github.count("POST", r"/issues/7/comments$") == 1  # the first run's
    # Every page was read, 100 at a time, following GitHub's Link header.
    listing = [
        r.path for r in github.requests if r.method == "GET" and "/issues/7/comments" in r.path
    ]
    assert all("per_page=100" in path for path in listing)
    assert sum("page=2" in path for path in listing) == 1
    # The second run's charts are a second commit on the branch; the first run's images
    # (linked from the old version of the comment) are still served.
    history = github.history(REPO, "dvc-cml-assets")
    assert len(history) == 2
    new_images = IMAGE.findall(comments[0]["body"])
    assert all(f"/raw/{history[0]}/pr-7/run-556-1/" in url for url in new_images)
    for url in first_images:
        assert f"/raw/{history[1]}/pr-7/run-555-1/" in url
        assert fetch(url)


def test_separate_ids_keep_separate_comments_and_new_comment_adds_one(
    github: FakeGitHub,
    metrics_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = actions_env(github, tmp_path, pr_event(main_sha(metrics_project)))
    assert run(capsys, metrics_project, env)[0] == 0
    assert run(capsys, metrics_project, env, "--id", "model-b")[0] == 0
    assert run(capsys, metrics_project, env, "--id", "model-b")[0] == 0
    firsts = [c["body"].splitlines()[0] for c in ours(github)]
    assert firsts == [MARKER, "<!-- dvc-cml:report:model-b -->"]
    assert run(capsys, metrics_project, env, "--new-comment")[0] == 0
    assert len(ours(github)) == 3
    # The metrics scenario has no charts: nothing was committed.
    assert github.count("POST", r"/git/") == 0


def test_push_finds_the_open_pull_request_of_the_commit(
    github: FakeGitHub,
    metrics_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sha = "b0" * 20
    github.add_pull(REPO, 3, head_ref="old", head_sha=sha, state="closed")
    github.add_pull(REPO, 9, head_ref="tune", head_sha=sha)
    event = {"ref": "refs/heads/tune", "after": sha, "repository": {"default_branch": "main"}}
    env = actions_env(github, tmp_path, event, event_name="push", GITHUB_SHA=sha)
    code, _, err = run(capsys, metrics_project, env)
    assert code == 0, err
    assert len(ours(github, 9)) == 1
    assert ours(github, 3) == []
    assert f"/commits/{sha}/pulls" in " ".join(r.path for r in github.requests)


def test_no_pull_request_for_the_commit_posts_a_commit_comment(
    github: FakeGitHub,
    plots_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sha = "c1" * 20
    github.add_commit(REPO, sha)
    event = {"ref": "refs/heads/main", "after": sha, "repository": {"default_branch": "main"}}
    env = actions_env(github, tmp_path, event, event_name="push", GITHUB_SHA=sha)
    code, _, err = run(capsys, plots_project, env)
    assert code == 0, err
    comments = github.commit_comments(REPO, sha)
    assert len(comments) == 1
    assert comments[0]["body"].startswith(MARKER)
    assert f"commit comment on commit {sha[:8]} of {REPO}" in err
    links = IMAGE.findall(comments[0]["body"])
    assert len(links) == 7
    assert all(f"/commit-{sha[:12]}/run-555-1/plots/" in link for link in links)


def test_workflow_run_after_a_fork_pull_request_finds_it_by_head_label(
    github: FakeGitHub,
    metrics_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The documented fix for forks: a follow-up `workflow_run` job with a write token."""
    fork_sha = "f0" * 20
    github.add_pull(REPO, 11, head_ref="idea", head_sha=fork_sha, head_repo="someone/models")
    event = {
        "action": "completed",
        "workflow_run": {
            "event": "pull_request",
            "head_sha": fork_sha,
            "head_branch": "idea",
            "head_repository": {"full_name": "someone/models", "owner": {"login": "someone"}},
            "pull_requests": [],  # GitHub leaves it empty for forks
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
    }
    env = actions_env(github, tmp_path, event, event_name="workflow_run", GITHUB_SHA=fork_sha)
    code, _, err = run(capsys, metrics_project, env)
    assert code == 0, err
    assert len(ours(github, 11)) == 1
    assert any("head=someone%3Aidea" in r.path for r in github.requests)


def big_metrics(project: Project, count: int = 2000) -> None:
    metrics = ", ".join(f'"metric_{i:05d}_with_a_long_name": {i}.5' for i in range(count))
    project.write("metrics.json", "{" + metrics + "}")


def test_a_report_over_65536_characters_is_trimmed(
    github: FakeGitHub,
    metrics_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    big_metrics(metrics_project)
    env = actions_env(github, tmp_path, pr_event(main_sha(metrics_project)))
    code, _, err = run(capsys, metrics_project, env)
    assert code == 0, err
    body = ours(github)[0]["body"]
    assert 60_000 < len(body) <= 65_536
    assert "This report is too long for a GitHub comment" in body
    assert f"[the run's artifacts]({github.url}/{REPO}/actions/runs/555#artifacts)" in body
    # The biggest changes come first and are kept.
    assert "| eval/scores.yaml | per\\_class.cat.precision | 0.9 | 0.92 |" in body
    full = (metrics_project.root / "dvc-cml-report" / "report.md").read_text()
    assert len(full) > 100_000
    assert github.count("POST", r"/issues/7/comments$") == 1


def test_when_github_counts_the_body_longer_it_is_trimmed_once_more(
    github: FakeGitHub,
    metrics_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    github.comment_limit = 60_000  # as if GitHub counted some characters twice
    big_metrics(metrics_project)
    env = actions_env(github, tmp_path, pr_event(main_sha(metrics_project)))
    code, _, err = run(capsys, metrics_project, env)
    assert code == 0, err
    assert github.count("POST", r"/issues/7/comments$") == 2  # 422 "Body is too long", then ok
    body = ours(github)[0]["body"]
    assert len(body) <= 65_536 // 2
    assert "This report is too long for a GitHub comment" in body


def expect_failure(
    capsys: pytest.CaptureFixture[str],
    project: Project,
    env: dict[str, str],
    *fragments: str,
    args: tuple[str, ...] = (),
) -> str:
    code, out, err = run(capsys, project, env, *args)
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


def test_fork_pull_request_with_a_read_only_token_is_explained(
    github: FakeGitHub,
    plots_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`pull_request` from a fork: GitHub gives the run a read-only GITHUB_TOKEN."""
    github.add_token("ghs_forkReadOnly000000000000", app=True, permissions=READ_ONLY)
    event = pr_event(main_sha(plots_project), head_repo="someone/models")
    env = actions_env(github, tmp_path, event, GITHUB_TOKEN="ghs_forkReadOnly000000000000")
    line = expect_failure(
        capsys,
        plots_project,
        env,
        "the token in $GITHUB_TOKEN may not comment on pull request #7 "
        "(403 Resource not accessible by integration)",
        "GitHub gives `pull_request` runs from forks a read-only token",
        "run dvc-cml on `pull_request_target`",
        "or in a `workflow_run` job that follows this workflow; see 'Pull requests from "
        "forks' in dvc-cml's docs/github.md",
    )
    assert "ghs_forkReadOnly" not in line
    assert ours(github) == []
    assert github.git[REPO].refs == {}  # nothing written anywhere
    # The job summary still shows the report on the run's page, and why it is not posted.
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("> ⚠️ Not posted: the token in $GITHUB_TOKEN may not comment")
    assert "## DVC report: **main**" in summary
    assert "> Not shown here: loss.png, in the report directory." in summary
    assert "(plots/" not in summary  # no broken local image links
    assert_no_token(summary)


def test_a_token_that_cannot_write_contents_posts_the_tables_and_links_the_artifacts(
    github: FakeGitHub,
    plots_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    no_contents = {"contents": "read", "pull_requests": "write"}
    github.add_token("ghs_noContents00000000000000", app=True, permissions=no_contents)
    env = actions_env(
        github,
        tmp_path,
        pr_event(main_sha(plots_project)),
        GITHUB_TOKEN="ghs_noContents00000000000000",
    )
    code, _, err = run(capsys, plots_project, env)
    assert code == 0, err
    body = ours(github)[0]["body"]
    artifacts = f"[the run's artifacts]({github.url}/{REPO}/actions/runs/555#artifacts)"
    assert (
        "> Charts are not shown here: the token in $GITHUB_TOKEN may not write to the "
        "repository (branch dvc-cml-assets, 403); that needs `contents: write`. "
        f"They are in {artifacts}." in body
    )
    assert "> Not shown here: loss.png, in the run's artifacts." in body
    assert IMAGE.findall(body) == []
    assert github.count("POST", r"/git/blobs$") == 1  # the first refusal stops the attempt


def test_no_images_branch_commits_nothing(
    github: FakeGitHub,
    plots_project: Project,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, plots_project, env, "--no-images-branch")
    assert code == 0, err
    body = ours(github)[0]["body"]
    assert "> Charts are not shown here (--no-images-branch): they are in [the run's" in body
    assert IMAGE.findall(body) == []
    assert github.count(None, r"/git/") == 0


def test_bad_credentials(
    github: FakeGitHub, metrics_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = actions_env(
        github, tmp_path, pr_event(main_sha(metrics_project)), GITHUB_TOKEN="ghp_revoked000000000"
    )
    line = expect_failure(
        capsys,
        metrics_project,
        env,
        "GitHub rejected the token in $GITHUB_TOKEN while trying to open repository "
        "octo-org/models (401 Bad credentials: invalid, expired or revoked)",
    )
    assert "ghp_revoked" not in line


def test_no_token_in_actions_says_how_to_pass_it(
    github: FakeGitHub, metrics_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = actions_env(github, tmp_path, pr_event(main_sha(metrics_project)), GITHUB_TOKEN="")
    expect_failure(
        capsys,
        metrics_project,
        env,
        "no GitHub token: looked at $DVC_CML_TOKEN, $GITHUB_TOKEN, $REPO_TOKEN",
        "add `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step",
    )
    assert github.requests == []
    assert "⚠️ Not posted: no GitHub token" in (tmp_path / "summary.md").read_text()


def test_unknown_pull_request(
    github: FakeGitHub, metrics_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = actions_env(github, tmp_path, pr_event(main_sha(metrics_project)))
    expect_failure(
        capsys,
        metrics_project,
        env,
        f"pull request #12 of {REPO} while trying to read pull request #12 (404",
        args=("--pr", "12"),
    )


def test_retries_secondary_rate_limits_429_and_5xx(
    github: FakeGitHub,
    plots_project: Project,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    github.secondary_rate_limit("POST", r"/git/blobs$", retry_after=1)
    github.secondary_rate_limit("POST", r"/issues/7/comments$", retry_after=1, status=429)
    github.fail("GET", rf"/repos/{REPO}$", 502)
    github.fail("POST", r"/git/trees$", 503, times=2)
    code, _, err = run(capsys, plots_project, env)
    assert code == 0, err
    assert len(ours(github)) == 1
    assert github.count("POST", r"/git/blobs$") == 7 + 1
    assert github.count("POST", r"/git/trees$") == 1 + 2
    # Retry-After was honoured: the retry came a second after the rate-limited request.
    blob_times = github.times("POST", r"/git/blobs$")
    assert blob_times[1] - blob_times[0] >= 0.95
    comment_times = github.times("POST", r"/issues/7/comments$")
    assert len(comment_times) == 2
    assert comment_times[1] - comment_times[0] >= 0.95


def test_github_keeps_failing(
    github: FakeGitHub, metrics_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    github.fail("GET", rf"/repos/{REPO}$", 502, times=10)
    env = actions_env(github, tmp_path, pr_event(main_sha(metrics_project)))
    expect_failure(
        capsys,
        metrics_project,
        env,
        f"GitHub kept failing while trying to open repository {REPO} (HTTP 502) after 5 attempts",
    )
    assert github.count("GET", rf"/repos/{REPO}$") == 5


def test_a_personal_token_edits_only_its_own_comment(
    github: FakeGitHub, metrics_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    github.add_token(PAT, login="ml-bot")
    theirs = github.add_comment(REPO, 7, f"{MARKER}\nan older report by a colleague", "colleague")
    env = actions_env(
        github, tmp_path, pr_event(main_sha(metrics_project)), GITHUB_TOKEN="", DVC_CML_TOKEN=PAT
    )
    assert run(capsys, metrics_project, env)[0] == 0
    assert run(capsys, metrics_project, env)[0] == 0
    comments = ours(github)
    assert [c["user"]["login"] for c in comments] == ["colleague", "ml-bot"]
    assert comments[0]["body"] == theirs["body"]
    assert github.count("GET", r"/user$") == 2
    assert github.count("PATCH", r"/issues/comments/") == 1
    assert all(r.headers["authorization"] == f"token {PAT}" for r in github.requests)


def test_github_enterprise_from_github_api_url(
    github: FakeGitHub,
    plots_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GitHub Enterprise Server: the API under /api/v3, raw files on the server itself."""
    env = actions_env(github, tmp_path, pr_event(main_sha(plots_project)), GITHUB_SERVER_URL="")
    assert "GITHUB_SERVER_URL" not in env
    code, _, err = run(capsys, plots_project, env)
    assert code == 0, err
    links = IMAGE.findall(ours(github)[0]["body"])
    assert links
    assert all(link.startswith(f"{github.url}/{REPO}/raw/") for link in links)
    assert all(r.path.startswith(("/api/v3/", f"/{REPO}/raw/")) for r in github.requests)
    assert len({fetch(link) for link in links}) == len(links)


def test_from_a_laptop_with_flags(
    github: FakeGitHub, metrics_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    github.add_token(PAT, login="ml-engineer")
    env = {"GITHUB_TOKEN": PAT}
    flags = ["--post", "--github-url", github.url, "--repo", REPO, "--pr", "7"]
    code, _, err = run(capsys, metrics_project, env, *flags)
    assert code == 0, err
    comments = ours(github)
    assert [c["user"]["login"] for c in comments] == ["ml-engineer"]
    assert "Posted by dvc-cml: main" in comments[0]["body"]  # no workflow run to name
    assert f"created on pull request #7 of {REPO}" in err


def test_outside_actions_or_with_no_post_nothing_is_posted(
    github: FakeGitHub,
    metrics_project: Project,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = actions_env(github, tmp_path, pr_event(main_sha(metrics_project)))
    assert run(capsys, metrics_project, {**env, "GITHUB_ACTIONS": ""})[0] == 0
    assert run(capsys, metrics_project, env, "--no-post")[0] == 0
    assert github.requests == []
    # The job summary is written all the same (twice: once per run, appended).
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("## DVC report: **main**") == 2
    assert "Not posted" not in summary


def test_dry_run_makes_no_write_calls(
    github: FakeGitHub,
    plots_project: Project,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, plots_project, env, "--dry-run")
    assert code == 0, err
    assert writes(github) == 0
    assert f"--- dry run: the comment for pull request #7 of {REPO} ---" in err
    assert out.count(MARKER) == 1
    assert ours(github) == []


def test_flags_of_the_other_forge_are_refused(
    github: FakeGitHub,
    metrics_project: Project,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, metrics_project, env, "--project", "42")
    assert code == 2
    assert "--project is a GitLab flag, but this run posts to GitHub" in err
    assert github.requests == []


def test_verbose_logs_requests_but_never_the_token(
    github: FakeGitHub,
    plots_project: Project,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, plots_project, env, "--verbose")
    assert code == 0, err
    assert f'"POST /api/v3/repos/{REPO}/git/blobs HTTP/1.1" 201' in err
    assert "dvc-cml: dvc_cml.publish.github: comment on pull request #7" in err
    assert "commenting as github-actions[bot]" in err
    assert_no_token(out, err)
    for request in github.requests:
        if request.path.startswith("/api/v3/"):
            assert request.headers["authorization"] == f"token {TOKEN}"  # sent only to GitHub


def test_a_branch_moved_by_another_job_is_committed_on_top(
    github: FakeGitHub,
    plots_project: Project,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two jobs (say, two --id) commit charts at once: neither loses its images."""
    store = github.git[REPO]
    earlier = github.make_commit(REPO, {"README.md": b"earlier run\n"}, [], "earlier run")
    store.refs["refs/heads/dvc-cml-assets"] = earlier
    moved: list[str] = []

    def other_job() -> None:
        sha = github.make_commit(REPO, {"other/x.png": b"png"}, [earlier], "other job")
        store.refs["refs/heads/dvc-cml-assets"] = sha
        moved.append(sha)

    github.before("PATCH", r"/git/refs/heads/dvc-cml-assets$", other_job)
    code, _, err = run(capsys, plots_project, env)
    assert code == 0, err
    history = github.history(REPO, "dvc-cml-assets")
    assert history[1:] == [*moved, earlier]  # ours on top of the other job's, nothing lost
    assert github.count("PATCH", r"/git/refs/heads/dvc-cml-assets$") == 2  # 422, then ok
    links = IMAGE.findall(ours(github)[0]["body"])
    assert links and all(f"/raw/{history[0]}/" in link for link in links)
    assert all(fetch(link) for link in links)


def test_concurrent_jobs_leave_one_comment(github: FakeGitHub, tmp_path: Path) -> None:
    """Two jobs that both found no comment and both created one: the oldest stays, with our
    body; a reviewer's comment quoting the marker is left alone."""
    from dvc_cml.publish.github import GitHub, _dedupe
    from dvc_cml.settings import github_settings

    other = github.add_comment(REPO, 7, f"{MARKER}\nfrom the other job", "github-actions[bot]")
    quoting = github.add_comment(REPO, 7, f"{MARKER}\nsomeone quoting the report", "reviewer")
    mine = github.add_comment(REPO, 7, f"{MARKER}\nfrom this job", "github-actions[bot]")
    env = actions_env(github, tmp_path, pr_event("b" * 40))
    api = GitHub(github_settings(env), tmp_path / "report.md")
    pr = api.gh.get_repo(REPO).get_pull(7)
    created = next(c for c in pr.get_issue_comments() if c.id == mine["id"])

    _dedupe(api, pr, created, f"{MARKER}\nfrom this job", "github-actions[bot]")

    assert [(c["id"], c["body"]) for c in ours(github)] == [
        (other["id"], f"{MARKER}\nfrom this job"),
        (quoting["id"], quoting["body"]),
    ]


def test_help_stays_light() -> None:
    """`dvc-cml --help` imports neither forge's client library (nor DVC)."""
    code = (
        "import sys\n"
        "from dvc_cml.cli import main\n"
        "assert main(['diff', '--help'], env={}) == 0\n"
        "heavy = [m for m in ('github', 'gitlab', 'dvc', 'altair') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for flag in ("--forge {gitlab,github}", "--repo OWNER/NAME", "--pr N", "--no-images-branch"):
        assert flag in done.stdout


def test_the_pull_request_gets_the_report_a_merge_request_gets(
    github: FakeGitHub,
    fake_gitlab: FakeGitLab,
    plots_project: Project,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Same project, both forges: the same comment but for where the images live and the
    footer's run and job."""
    fake_gitlab.add_project(42, "grp/proj")
    fake_gitlab.add_mr(42, 7)
    fake_gitlab.add_token("glpat-same-report-0000", username="dvc-bot")
    gitlab_env = {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": fake_gitlab.api_url,
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "DVC_CML_TOKEN": "glpat-same-report-0000",
    }
    assert run(capsys, plots_project, gitlab_env)[0] == 0
    assert run(capsys, plots_project, env)[0] == 0
    note = next(n["body"] for n in fake_gitlab.notes(42, 7) if n["body"].startswith(MARKER))
    comment = ours(github)[0]["body"]

    def same(body: str) -> str:
        body = IMAGE.sub(
            lambda m: m.group(0).replace(m.group(1), m.group(1).rsplit("/", 1)[1]), body
        )
        return body.rsplit("\n<sub>Posted by dvc-cml", 1)[0]

    assert len(IMAGE.findall(note)) == len(IMAGE.findall(comment)) == 7
    assert same(comment) == same(note)


def test_an_exhausted_rate_limit_fails_at_once_saying_until_when(
    github: FakeGitHub, metrics_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reset = int(time.time()) + 3600
    github.fail(
        "GET",
        rf"/repos/{REPO}$",
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
        body={
            "message": "API rate limit exceeded for installation ID 1.",
            "documentation_url": "x",
        },
    )
    env = actions_env(github, tmp_path, pr_event(main_sha(metrics_project)))
    started = time.monotonic()
    until = time.strftime("%H:%M", time.gmtime(reset))
    expect_failure(
        capsys,
        metrics_project,
        env,
        f"the GitHub API rate limit of the token in $GITHUB_TOKEN is used up until {until} UTC "
        f"while trying to open repository {REPO}",
    )
    assert time.monotonic() - started < 30  # no hour-long wait for the reset


def test_unreachable_github(metrics_project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeGitHub()  # bound but never started: connections are refused
    url = fake.url
    fake.stop()
    env = {"GITHUB_TOKEN": PAT}
    code, _, err = run(
        capsys, metrics_project, env, "--post", "--github-url", url, "--repo", REPO, "--pr", "7"
    )
    assert code == 4
    assert f"cannot reach GitHub at {url}/api/v3 to open repository {REPO} (ConnectionError)" in err
    assert len(err.strip().splitlines()) == 1
