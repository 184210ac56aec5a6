"""The fake GitHub answers as GitHub does: checked over HTTP, with urllib and with PyGithub."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import github
import pytest
from github import InputGitTreeElement

from tests.conftest import FakeGitHub

REPO = "octo/models"
TOKEN = "ghp_fake0000000000000000"


@pytest.fixture
def fake(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(REPO)
    fake_github.add_pull(REPO, 1)
    fake_github.add_token(TOKEN, login="octocat")
    fake_github.add_token("ghs_app", app=True)
    fake_github.add_token("ghs_readonly", app=True, permissions={"contents": "read"})
    return fake_github


def call(
    fake: FakeGitHub, method: str, path: str, token: str | None = TOKEN, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{fake.api_url}{path}", data=data, method=method)
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def client(fake: FakeGitHub, token: str = TOKEN) -> github.Github:
    return github.Github(
        auth=github.Auth.Token(token),
        base_url=fake.api_url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def test_auth_errors(fake: FakeGitHub) -> None:
    status, _, body = call(fake, "GET", f"/repos/{REPO}", token="wrong")
    assert (status, body["message"]) == (401, "Bad credentials")
    status, _, body = call(fake, "GET", "/user", token="ghs_app")
    assert (status, body["message"]) == (403, "Resource not accessible by integration")
    assert call(fake, "GET", "/user")[2]["login"] == "octocat"
    status, _, body = call(fake, "GET", "/repos/octo/other", token="ghs_app")
    assert (status, body["message"]) == (404, "Not Found")


def test_pagination_follows_github(fake: FakeGitHub) -> None:
    for i in range(250):
        fake.add_comment(REPO, 1, f"comment {i}")
    status, headers, page = call(fake, "GET", f"/repos/{REPO}/issues/1/comments")
    assert (status, len(page)) == (200, 30)  # GitHub's default page size
    assert 'rel="next"' in headers["Link"] and 'rel="last"' in headers["Link"]
    _, headers, page = call(fake, "GET", f"/repos/{REPO}/issues/1/comments?per_page=500&page=3")
    assert len(page) == 50  # per_page is capped at 100
    assert 'rel="next"' not in headers["Link"] and 'rel="prev"' in headers["Link"]
    comments = list(client(fake).get_repo(REPO).get_pull(1).get_issue_comments())
    assert [c.body for c in comments] == [f"comment {i}" for i in range(250)]


def test_comment_bodies_are_limited(fake: FakeGitHub) -> None:
    path = f"/repos/{REPO}/issues/1/comments"
    status, _, body = call(fake, "POST", path, body={"body": "x" * 65_537})
    assert status == 422
    assert body["errors"][0]["message"] == "Body is too long (maximum is 65536 characters)"
    status, _, created = call(fake, "POST", path, body={"body": "x" * 65_536})
    assert status == 201
    assert created["user"]["login"] == "octocat"
    status, _, _ = call(fake, "POST", path, token="ghs_readonly", body={"body": "hi"})
    assert status == 403


def test_secondary_rate_limit_answer(fake: FakeGitHub) -> None:
    fake.secondary_rate_limit("GET", f"/repos/{REPO}$", retry_after=7)
    status, headers, body = call(fake, "GET", f"/repos/{REPO}")
    assert (status, headers["Retry-After"]) == (403, "7")
    assert body["message"].startswith("You have exceeded a secondary rate limit")
    assert call(fake, "GET", f"/repos/{REPO}")[0] == 200


def test_git_data_api_builds_a_branch_and_serves_raw_files(fake: FakeGitHub) -> None:
    repo = client(fake).get_repo(REPO)
    png = b"\x89PNG\r\n\x1a\n\x00binary"
    blob = repo.create_git_blob(base64.b64encode(png).decode(), "base64")
    element = InputGitTreeElement("runs/1/a.png", "100644", "blob", sha=blob.sha)
    tree = repo.create_git_tree([element])
    first = repo.create_git_commit("first", tree, [])
    ref = repo.create_git_ref("refs/heads/assets", first.sha)
    with pytest.raises(github.GithubException) as exists:
        repo.create_git_ref("refs/heads/assets", first.sha)
    assert exists.value.status == 422
    assert exists.value.data["message"] == "Reference already exists"

    orphan = repo.create_git_commit("unrelated", tree, [])
    with pytest.raises(github.GithubException) as not_ff:
        ref.edit(orphan.sha, force=False)
    assert not_ff.value.data["message"] == "Update is not a fast forward"
    second = repo.create_git_commit("second", tree, [first])
    ref.edit(second.sha, force=False)
    assert repo.get_git_ref("heads/assets").object.sha == second.sha
    assert fake.history(REPO, "assets") == [second.sha, first.sha]

    for ref_name in (second.sha, "assets"):
        url = f"{fake.url}/{REPO}/raw/{ref_name}/runs/1/a.png"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == png
            assert response.headers["Content-Type"] == "image/png"
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{fake.url}/{REPO}/raw/{second.sha}/missing.png", timeout=10)

    readonly = client(fake, "ghs_readonly").get_repo(REPO)
    with pytest.raises(github.GithubException) as forbidden:
        readonly.create_git_blob("aGk=", "base64")
    assert forbidden.value.status == 403


def test_commit_pulls_and_fork_heads(fake: FakeGitHub) -> None:
    fake.add_pull(REPO, 2, head_sha="c" * 40)
    fake.add_pull(REPO, 3, head_ref="idea", head_sha="f" * 40, head_repo="someone/models")
    repo = client(fake).get_repo(REPO)
    assert [p.number for p in repo.get_commit("c" * 40).get_pulls()] == [2]
    # A fork's head commit is not in the base repository (422), but its PR is found by label.
    status, _, body = call(fake, "GET", f"/repos/{REPO}/commits/{'f' * 40}/pulls")
    assert (status, body["message"]) == (422, f"No commit found for SHA: {'f' * 40}")
    assert [p.number for p in repo.get_pulls(state="open", head="someone:idea")] == [3]
