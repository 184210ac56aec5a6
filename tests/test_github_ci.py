"""What GitHub Actions tells dvc-cml: the event payload, the base revision, the settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.ci import base_hint, github_event, parse_github_event
from dvc_cml.cli import main
from dvc_cml.publish.github import Pacer, git_blob_sha, run_folder
from dvc_cml.settings import github_settings
from tests.conftest import Project, git

MakeProject = Callable[[str], Project]


def write_event(tmp_path: Path, payload: dict[str, Any]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return str(path)


PULL_REQUEST = {
    "number": 7,
    "pull_request": {
        "number": 7,
        "head": {
            "ref": "idea",
            "sha": "h" * 40,
            "label": "someone:idea",
            "repo": {"full_name": "someone/models"},
        },
        "base": {"ref": "develop", "sha": "b" * 40, "repo": {"full_name": "octo/models"}},
    },
    "repository": {"full_name": "octo/models", "default_branch": "main"},
}


def test_pull_request_event_names_pr_base_head_and_fork() -> None:
    event = parse_github_event("pull_request", PULL_REQUEST)
    assert (event.pr_number, event.base_ref, event.base_sha, event.head_sha) == (
        7,
        "develop",
        "b" * 40,
        "h" * 40,
    )
    assert (event.head_label, event.fork, event.default_branch) == ("someone:idea", True, "main")
    same_repo = json.loads(json.dumps(PULL_REQUEST))
    same_repo["pull_request"]["head"]["repo"]["full_name"] = "octo/models"
    assert not parse_github_event("pull_request_target", same_repo).fork


def test_workflow_run_issue_comment_and_push_events() -> None:
    run = {
        "workflow_run": {
            "head_sha": "f" * 40,
            "head_branch": "idea",
            "head_repository": {"full_name": "someone/models", "owner": {"login": "someone"}},
            "pull_requests": [],
        },
        "repository": {"full_name": "octo/models", "default_branch": "main"},
    }
    event = parse_github_event("workflow_run", run)
    assert (event.pr_number, event.head_sha, event.head_label, event.fork) == (
        None,
        "f" * 40,
        "someone:idea",
        True,
    )
    run["workflow_run"]["pull_requests"] = [{"number": 4, "base": {"ref": "main", "sha": "c" * 40}}]
    event = parse_github_event("workflow_run", run)
    assert (event.pr_number, event.base_ref, event.base_sha) == (4, "main", "c" * 40)

    comment = {"issue": {"number": 12, "pull_request": {"url": "x"}}}
    assert parse_github_event("issue_comment", comment).pr_number == 12
    assert parse_github_event("issue_comment", {"issue": {"number": 12}}).pr_number is None
    push = parse_github_event("push", {"after": "d" * 40})
    assert (push.pr_number, push.head_sha) == (None, "d" * 40)


def test_a_missing_or_broken_payload_is_an_empty_event(tmp_path: Path) -> None:
    assert github_event({"GITHUB_EVENT_NAME": "push"}).head_sha is None
    assert github_event({"GITHUB_EVENT_PATH": str(tmp_path / "nope.json")}).pr_number is None
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert github_event({"GITHUB_EVENT_PATH": str(broken)}).pr_number is None
    odd = parse_github_event("pull_request", {"pull_request": {"number": "7", "base": []}})
    assert (odd.pr_number, odd.base_ref) == (None, None)


def test_base_hint_in_github_actions(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_BASE_REF": "develop",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": write_event(tmp_path, PULL_REQUEST),
    }
    hint = base_hint(env)
    assert hint.branches == ("develop", "main")
    assert hint.pin("develop") == hint.pin("origin/develop") == "b" * 40
    assert hint.pin("main") is None
    # A push: no target, so no pin; the default branch from the payload is tried first.
    push = {**env, "GITHUB_BASE_REF": "", "GITHUB_EVENT_NAME": "push"}
    push["GITHUB_EVENT_PATH"] = write_event(tmp_path, {"repository": {"default_branch": "trunk"}})
    assert base_hint(push).branches == ("trunk",)
    assert base_hint(push).pin("trunk") is None
    # GitLab CI's variables are read as before.
    gitlab = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_MERGE_REQUEST_DIFF_BASE_SHA": "x"}
    assert base_hint(gitlab).pin("main") == "x"


def test_settings_from_a_pull_request_run(tmp_path: Path) -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "octo/models",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": write_event(tmp_path, PULL_REQUEST),
        "GITHUB_SHA": "e" * 40,  # the merge commit
        "GITHUB_RUN_ID": "99",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_JOB": "report",
        "GITHUB_TOKEN": "ghs_secret-1",
        "REPO_TOKEN": "ghp_secret-2",
    }
    s = github_settings(env)
    assert (s.api_url, s.server_url, s.repo, s.pr_number) == (
        "https://api.github.com",
        "https://github.com",
        "octo/models",
        7,
    )
    assert s.commit_sha == "h" * 40  # the PR's head, not the merge commit
    assert (s.token.value, s.token.source) == ("ghs_secret-1", "GITHUB_TOKEN")
    assert s.token.looked_at == ("DVC_CML_TOKEN", "GITHUB_TOKEN", "REPO_TOKEN")
    assert (s.fork, s.event_name, s.images_branch) == (True, "pull_request", "dvc-cml-assets")
    assert s.run_url == "https://github.com/octo/models/actions/runs/99"
    assert "ghs_secret" not in repr(s)
    assert github_settings({**env, "DVC_CML_TOKEN": "mine"}).token.source == "DVC_CML_TOKEN"
    assert github_settings(env, pr=3, images_branch=None).pr_number == 3
    assert run_folder(s, 7, s.commit_sha) == "pr-7/run-99-2"
    assert run_folder(github_settings(env, report_id="model-b"), None, "ab" * 20) == (
        "commit-abababababab/run-99-2/model-b"
    )


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({}, None, ("https://api.github.com", "https://github.com")),
        (
            {"GITHUB_API_URL": "https://ghe.example.com/api/v3"},
            None,
            ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ),
        (
            {"GITHUB_SERVER_URL": "https://ghe.example.com/"},
            None,
            ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ),
        (
            {},
            "https://ghe.example.com/",
            ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ),
        ({}, "https://github.com", ("https://api.github.com", "https://github.com")),
    ],
)
def test_enterprise_server_urls(
    env: dict[str, str], url: str | None, expected: tuple[str, str]
) -> None:
    s = github_settings(env, url=url)
    assert (s.api_url, s.server_url) == expected


def test_pacer_lets_a_burst_through_then_spaces_writes() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(burst=3, interval=0.75, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert slept == []
    pacer.wait()
    now[0] += 0.25
    pacer.wait()
    now[0] += 5
    pacer.wait()
    assert slept == [0.75, 0.5]


def test_git_blob_sha_is_gits(tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n binary \x00 data"
    (tmp_path / "x.png").write_bytes(data)
    assert git_blob_sha(data) == git(tmp_path, "hash-object", "x.png").strip()


def test_pull_request_merge_commit_is_compared_with_the_prs_base_commit(
    make_project: MakeProject, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """actions/checkout on `pull_request`: refs/pull/N/merge, one commit deep.  The report
    compares it with its first parent, the base commit the event names, not with whatever
    the target branch has become since, nor with the fork point."""
    upstream = make_project("nested")
    root = upstream.root
    upstream.branch("feature")
    upstream.apply_head()  # metrics and params change on the branch
    upstream.commit("feature work")
    git(root, "checkout", "-q", "main")
    upstream.write("eval.yaml", "threshold: 0.6\n")  # main moved on before the event...
    base_sha = upstream.commit("main moved on")
    git(root, "checkout", "-q", "--detach", base_sha)
    git(
        root,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "merge",
        "-q",
        "--no-ff",
        "feature",
        "-m",
        "Merge",
    )
    merge_sha = git(root, "rev-parse", "HEAD").strip()
    git(root, "update-ref", "refs/pull/7/merge", merge_sha)
    git(root, "checkout", "-q", "main")
    upstream.write("eval.yaml", "threshold: 0.7\n")  # ... and again after it
    upstream.commit("main moved again")

    clone = tmp_path / "checkout"
    clone.mkdir()
    git(clone, "init", "-q")
    git(clone, "remote", "add", "origin", f"file://{root}")
    git(clone, "fetch", "-q", "--depth=1", "origin", "+refs/pull/7/merge:refs/remotes/pull/7/merge")
    git(clone, "checkout", "-q", "--detach", "refs/remotes/pull/7/merge")
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"

    event = {
        "number": 7,
        "pull_request": {
            "number": 7,
            "base": {"ref": "main", "sha": base_sha, "repo": {"full_name": "o/r"}},
            "head": {"ref": "feature", "sha": "0" * 40, "repo": {"full_name": "o/r"}},
        },
        "repository": {"full_name": "o/r", "default_branch": "main"},
    }
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_BASE_REF": "main",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": write_event(tmp_path, event),
    }

    def params(env: dict[str, str]) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
        code = main(["diff", "-C", str(clone), "--json", "--no-post"], env=env)
        out, err = capsys.readouterr()
        assert code == 0, err
        doc = json.loads(out)
        return doc, {p["param"]: (p["base"], p["head"]) for p in doc["params"]}

    doc, values = params(env)
    assert doc["base"] == {"rev": "main", "sha": base_sha, "dirty": False}
    assert doc["head"]["sha"] == merge_sha
    assert values["threshold"] == (0.6, 0.6)  # main's own change is not the PR's
    assert values["train.lr"] == (0.01, 0.02)  # the PR's change
    train_loss = next(m for m in doc["metrics"] if m["metric"] == "train.loss")
    assert (train_loss["base"], train_loss["head"]) == (0.5, 0.4)

    # Without the event's base commit, the moving branch tip would be the base.
    _, values = params({**env, "GITHUB_EVENT_PATH": ""})
    assert values["threshold"] == (0.7, 0.6)
