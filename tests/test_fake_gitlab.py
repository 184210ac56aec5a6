"""The fake GitLab server, driven by the real python-gitlab client over real HTTP."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import gitlab
import pytest
import requests
from gitlab.base import RESTObjectList

from tests.fake_gitlab import FakeGitLab, fake_gitlab  # noqa: F401

PID = 7
IID = 3
SHA = "a1b2c3d4" * 5
TOKEN = "glpat-secret-token-123"
JOB_TOKEN = "glcbt-job-token-456"
READ_TOKEN = "glpat-read-only-789"
NOTES_PATH = rf"/projects/{PID}/merge_requests/{IID}/notes$"


@pytest.fixture
def fake(fake_gitlab: FakeGitLab) -> FakeGitLab:  # noqa: F811
    fake_gitlab.add_project(PID, "grp/proj")
    fake_gitlab.add_mr(PID, IID, sha=SHA)
    fake_gitlab.add_token(TOKEN, username="reporter")
    fake_gitlab.add_token(JOB_TOKEN, kind="job")
    fake_gitlab.add_token(READ_TOKEN, scopes=("read_api",))
    return fake_gitlab


@pytest.fixture
def gl(fake: FakeGitLab) -> Iterator[gitlab.Gitlab]:
    with gitlab.Gitlab(fake.url, private_token=TOKEN, timeout=5) as client:
        yield client


def client(fake: FakeGitLab, **kwargs: object) -> gitlab.Gitlab:
    return gitlab.Gitlab(fake.url, timeout=5, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- notes and pagination


def test_list_without_get_all_is_one_page_and_get_all_walks_every_page(
    fake: FakeGitLab, gl: gitlab.Gitlab
) -> None:
    for i in range(45):
        fake.add_note(PID, IID, f"note {i}", system=i % 10 == 0)
    mr = gl.projects.get(PID).mergerequests.get(IID)

    with pytest.warns(UserWarning, match="get_all=True"):
        first = mr.notes.list()
    assert [n.body for n in first] == [f"note {i}" for i in range(44, 24, -1)]  # newest first

    everything = mr.notes.list(get_all=True)
    assert [n.body for n in everything] == [f"note {i}" for i in range(44, -1, -1)]
    assert sum(n.system for n in everything) == 5
    assert fake.count("GET", NOTES_PATH) == 1 + 3


def test_iterator_follows_link_next(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    for i in range(45):
        fake.add_note(PID, IID, f"note {i}")
    mr = gl.projects.get(PID, lazy=True).mergerequests.get(IID, lazy=True)

    pages = mr.notes.list(iterator=True, per_page=10, sort="asc")
    assert isinstance(pages, RESTObjectList)
    assert (pages.total, pages.total_pages, pages.per_page) == (45, 5, 10)
    assert [n.body for n in pages] == [f"note {i}" for i in range(45)]
    walked = [r.path for r in fake.requests if re.search(NOTES_PATH, r.path.split("?")[0])]
    assert len(walked) == 5
    assert walked[-1].endswith("sort=asc&page=5&per_page=10")


def test_pagination_headers_match_gitlab(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    for i in range(45):
        fake.add_note(PID, IID, f"note {i}")
    path = f"/projects/{PID}/merge_requests/{IID}/notes"
    base = f"{fake.url}/api/v4{path}"

    middle = gl.http_request("get", path, query_data={"page": 2})
    assert middle.headers["X-Page"] == "2"
    assert middle.headers["X-Per-Page"] == "20"
    assert middle.headers["X-Next-Page"] == "3"
    assert middle.headers["X-Prev-Page"] == "1"
    assert middle.headers["X-Total"] == "45"
    assert middle.headers["X-Total-Pages"] == "3"
    assert middle.headers["Content-Type"] == "application/json"
    assert {rel: link["url"] for rel, link in middle.links.items()} == {
        "prev": f"{base}?page=1&per_page=20",
        "next": f"{base}?page=3&per_page=20",
        "first": f"{base}?page=1&per_page=20",
        "last": f"{base}?page=3&per_page=20",
    }

    last = gl.http_request("get", path, query_data={"page": 3, "per_page": 20})
    assert last.headers["X-Next-Page"] == ""
    assert "next" not in last.links
    assert len(last.json()) == 5

    capped = gl.http_request("get", path, query_data={"per_page": 1000})
    assert capped.headers["X-Per-Page"] == "100"
    assert len(capped.json()) == 45


def test_create_update_delete_note(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    mr = gl.projects.get(PID).mergerequests.get(IID)

    note = mr.notes.create({"body": "## Report\n\nfirst"})
    assert note.body == "## Report\n\nfirst"
    assert note.author["username"] == "reporter"
    assert (note.noteable_type, note.noteable_iid, note.system) == ("MergeRequest", IID, False)
    assert note.type is None
    assert note.resolvable is False
    assert note.created_at == note.updated_at
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", note.created_at)

    note.body = "## Report\n\nsecond"
    note.save()
    fetched = mr.notes.get(note.id)
    assert fetched.body == "## Report\n\nsecond"
    assert fetched.updated_at > fetched.created_at
    assert [n["body"] for n in fake.notes(PID, IID)] == ["## Report\n\nsecond"]

    fetched.delete()
    assert fake.notes(PID, IID) == []
    assert fake.count("DELETE") == 1
    with pytest.raises(gitlab.GitlabGetError) as excinfo:
        mr.notes.get(note.id)
    assert excinfo.value.response_code == 404


def test_created_at_strictly_increasing_and_sorting(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    mr = gl.projects.get(PID, lazy=True).mergerequests.get(IID, lazy=True)
    created = [mr.notes.create({"body": f"n{i}"}) for i in range(5)]
    stamps = [n.created_at for n in created]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 5

    assert [n.body for n in mr.notes.list(get_all=True)] == ["n4", "n3", "n2", "n1", "n0"]
    assert [n.body for n in mr.notes.list(get_all=True, sort="asc")] == [f"n{i}" for i in range(5)]
    created[1].body = "edited"
    created[1].save()
    by_update = mr.notes.list(get_all=True, order_by="updated_at")
    assert by_update[0].body == "edited"


def test_concurrent_note_creation(fake: FakeGitLab) -> None:
    def post(worker: int) -> list[str]:
        with client(fake, private_token=TOKEN) as gl:
            mr = gl.projects.get(PID, lazy=True).mergerequests.get(IID, lazy=True)
            return [mr.notes.create({"body": f"{worker}-{i}"}).created_at for i in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        stamps = [s for batch in pool.map(post, range(8)) for s in batch]
    notes = fake.notes(PID, IID)
    assert len(notes) == 40
    assert len({n["id"] for n in notes}) == 40
    assert len(set(stamps)) == 40
    assert [n["created_at"] for n in notes] == sorted(stamps)


def test_edit_someone_elses_note_is_forbidden(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    theirs = fake.add_note(PID, IID, "not yours", author="alice")
    mr = gl.projects.get(PID, lazy=True).mergerequests.get(IID, lazy=True)
    note = mr.notes.get(theirs["id"])
    assert note.author["username"] == "alice"
    note.body = "mine now"
    with pytest.raises(gitlab.GitlabUpdateError) as excinfo:
        note.save()
    assert excinfo.value.response_code == 403


def test_note_body_limits(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    mr = gl.projects.get(PID, lazy=True).mergerequests.get(IID, lazy=True)

    with pytest.raises(gitlab.GitlabCreateError) as excinfo:
        mr.notes.create({"body": "x" * 1_000_001})
    assert excinfo.value.response_code == 400
    assert "is too long (maximum is 1000000 characters)" in str(excinfo.value)

    assert len(mr.notes.create({"body": "é" * 1_000_000}).body) == 1_000_000

    with pytest.raises(gitlab.GitlabCreateError) as excinfo:
        mr.notes.create({"body": "  "})
    assert excinfo.value.response_code == 400
    assert "can't be blank" in str(excinfo.value)
    assert len(fake.notes(PID, IID)) == 1


# ---------------------------------------------------------------------- uploads


def test_upload_returns_gitlab_keys_and_stores_bytes(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    data = bytes(range(256)) * 4 + b"\r\n--\r\n\r\n"
    project = gl.projects.get(PID)
    result = project.upload("a.png", filedata=data)

    assert set(result) == {"id", "alt", "url", "full_path", "markdown"}
    match = re.fullmatch(r"/uploads/([0-9a-f]{32})/a\.png", result["url"])
    assert match is not None
    secret = match.group(1)
    assert result["alt"] == "a"
    assert result["full_path"] == f"/-/project/{PID}/uploads/{secret}/a.png"
    assert result["markdown"] == f"![a]({result['url']})"
    assert fake.uploads[result["url"]] == data
    assert fake.upload_bytes(project.web_url + result["url"]) == data
    assert fake.upload_bytes(result["full_path"]) == data

    served = requests.get(project.web_url + result["url"], timeout=5)
    assert (served.status_code, served.content) == (200, data)
    assert served.headers["Content-Type"] == "image/png"

    other = project.upload("my plot.json", filedata=b"{}")
    assert other["url"].endswith("/my_plot.json")
    assert other["markdown"] == f"[my_plot.json]({other['url']})"
    assert other["id"] == result["id"] + 1


def test_upload_over_limit_is_413(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    fake.upload_limit = 1000
    project = gl.projects.get(PID, lazy=True)
    with pytest.raises(gitlab.GitlabUploadError) as excinfo:
        project.upload("big.png", filedata=b"x" * 1001)
    assert excinfo.value.response_code == 413
    assert excinfo.value.error_message == "413 Request Entity Too Large"
    with pytest.raises(gitlab.GitlabUploadError) as excinfo:
        project.upload("huge.png", filedata=b"x" * (2 * 1024 * 1024))
    assert excinfo.value.response_code == 413
    assert project.upload("ok.png", filedata=b"x" * 1000)["alt"] == "ok"
    assert list(fake.uploads.values()) == [b"x" * 1000]


def test_upload_retried_after_5xx_hangs_until_timeout(fake: FakeGitLab) -> None:
    """python-gitlab 8.6 reuses the consumed multipart body when it retries an upload."""
    fake.fail("POST", r"/uploads$", 502, body="<html><body>502 Bad Gateway</body></html>")
    with client(fake, private_token=TOKEN, retry_transient_errors=True) as gl:
        project = gl.projects.get(PID, lazy=True)
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            project.upload("a.png", filedata=b"png", timeout=1, max_retries=1)
        assert time.monotonic() - started >= 1
        assert fake.count("POST", r"/uploads$") == 2
        assert fake.uploads == {}
        # A fresh call (new multipart body) goes through.
        assert project.upload("a.png", filedata=b"png")["alt"] == "a"


def test_upload_retried_after_429_hangs_too_unless_obey_rate_limit_is_off(
    fake: FakeGitLab, gl: gitlab.Gitlab
) -> None:
    """429 retries are on by default (obey_rate_limit=True), with the same consumed body."""
    project = gl.projects.get(PID, lazy=True)
    fake.fail("POST", r"/uploads$", 429, headers={"Retry-After": "0"})
    with pytest.raises(requests.exceptions.ReadTimeout):
        project.upload("a.png", filedata=b"png", timeout=1, max_retries=1)

    fake.fail("POST", r"/uploads$", 429, headers={"Retry-After": "0"})
    with pytest.raises(gitlab.GitlabUploadError) as excinfo:
        project.upload("a.png", filedata=b"png", obey_rate_limit=False)
    assert (excinfo.value.response_code, excinfo.value.error_message) == (429, "Retry later")
    assert fake.uploads == {}


# ---------------------------------------------------------------------- authentication


def test_unknown_token_is_401(fake: FakeGitLab) -> None:
    for auth in ({"private_token": "wrong"}, {"oauth_token": "wrong"}):
        with client(fake, **auth) as gl, pytest.raises(gitlab.GitlabAuthenticationError) as e:
            gl.projects.get(PID)
        assert e.value.response_code == 401
        assert e.value.error_message == "401 Unauthorized"
    with (
        client(fake, private_token=JOB_TOKEN) as gl,
        pytest.raises(gitlab.GitlabAuthenticationError),
    ):
        gl.projects.get(PID)


def test_no_token_sees_a_private_project_as_missing(fake: FakeGitLab) -> None:
    """GitLab answers an anonymous request for a private project with 404, not 401: it does
    not tell strangers the project exists.  /user still needs someone to be."""
    with client(fake) as gl:
        with pytest.raises(gitlab.GitlabGetError) as e:
            gl.projects.get(PID)
        assert (e.value.response_code, e.value.error_message) == (404, "404 Project Not Found")
        with pytest.raises(gitlab.GitlabGetError) as e:
            gl.projects.get(PID, lazy=True).mergerequests.get(IID)
        assert e.value.response_code == 404
        with pytest.raises(gitlab.GitlabUploadError) as created:
            gl.projects.get(PID, lazy=True).upload("a.png", filedata=b"\x89PNG")
        assert created.value.response_code == 404
        with pytest.raises(gitlab.GitlabAuthenticationError) as auth:
            gl.http_get("/user")
        assert auth.value.response_code == 401


def test_bearer_token_is_accepted(fake: FakeGitLab) -> None:
    with client(fake, oauth_token=TOKEN) as gl:
        gl.auth()
        assert gl.user is not None
        assert gl.user.username == "reporter"


def test_job_token_reads_but_cannot_write(fake: FakeGitLab) -> None:
    fake.add_note(PID, IID, "hello")
    with client(fake, job_token=JOB_TOKEN) as gl:
        project = gl.projects.get(PID)
        mr = project.mergerequests.get(IID)
        assert mr.sha == SHA
        assert [n.body for n in mr.notes.list(get_all=True)] == ["hello"]

        with pytest.raises(gitlab.GitlabCreateError) as created:
            mr.notes.create({"body": "report"})
        assert created.value.response_code == 404
        assert created.value.error_message == "404 Not Found"
        with pytest.raises(gitlab.GitlabUploadError) as uploaded:
            project.upload("a.png", filedata=b"png")
        assert uploaded.value.response_code == 404
        with pytest.raises(gitlab.GitlabCreateError) as commented:
            project.commits.get(SHA, lazy=True).comments.create({"note": "x"})
        assert commented.value.response_code == 404
        with pytest.raises(gitlab.GitlabAuthenticationError):
            gl.auth()
    assert fake.requests[-1].headers["job-token"] == JOB_TOKEN
    assert "private-token" not in fake.requests[-1].headers
    assert len(fake.notes(PID, IID)) == 1


def test_read_api_token_gets_insufficient_scope_on_writes(fake: FakeGitLab) -> None:
    with client(fake, private_token=READ_TOKEN) as gl:
        mr = gl.projects.get(PID).mergerequests.get(IID)
        with pytest.raises(gitlab.GitlabCreateError) as excinfo:
            mr.notes.create({"body": "report"})
    assert excinfo.value.response_code == 403
    assert excinfo.value.error_message == "insufficient_scope"
    assert b'"scope":"api"' in (excinfo.value.response_body or b"")


def test_user_and_version(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    assert gl.version() == ("17.5.0", "abc")
    gl.auth()
    assert gl.user is not None
    assert gl.user.username == "reporter"


# ---------------------------------------------------------------------- projects and MRs


def test_project_by_path_and_not_found(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    project = gl.projects.get("grp/proj")
    assert (project.id, project.path_with_namespace) == (PID, "grp/proj")
    assert project.web_url == f"{fake.url}/grp/proj"
    assert project.default_branch == "main"
    assert fake.requests[-1].path == "/api/v4/projects/grp%2Fproj"

    with pytest.raises(gitlab.GitlabGetError) as excinfo:
        gl.projects.get("grp/other")
    assert excinfo.value.response_code == 404
    assert excinfo.value.error_message == "404 Project Not Found"


def test_double_encoded_path_and_lazy_project_upload_are_404(
    fake: FakeGitLab, gl: gitlab.Gitlab
) -> None:
    with pytest.raises(gitlab.GitlabHttpError) as excinfo:
        gl.http_get("/projects/grp%252Fproj")
    assert excinfo.value.response_code == 404
    lazy = gl.projects.get("grp/proj", lazy=True)
    with pytest.raises(gitlab.GitlabUploadError) as upload:
        lazy.upload("a.png", filedata=b"png")
    assert upload.value.response_code == 404
    assert fake.requests[-1].path == "/api/v4/projects/grp%252Fproj/uploads"


def test_merge_request_and_unknown_routes(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    mr = gl.projects.get(PID, lazy=True).mergerequests.get(IID)
    assert (mr.iid, mr.project_id, mr.source_branch, mr.target_branch) == (
        IID,
        PID,
        "feature",
        "main",
    )
    assert mr.web_url == f"{fake.url}/grp/proj/-/merge_requests/{IID}"
    with pytest.raises(gitlab.GitlabGetError) as missing:
        gl.projects.get(PID, lazy=True).mergerequests.get(99)
    assert (missing.value.response_code, missing.value.error_message) == (404, "404 Not found")
    with pytest.raises(gitlab.GitlabHttpError) as unknown:
        gl.http_get("/projects/7/nonsense")
    assert (unknown.value.response_code, unknown.value.error_message) == (404, "404 Not Found")


def test_commit_merge_requests(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    other_sha = "f" * 40
    fake.add_mr(PID, 4, source_branch="old", sha=SHA, state="merged")
    fake.add_mr(PID, 5, source_branch="other", sha=other_sha)
    commit = gl.projects.get(PID, lazy=True).commits.get(SHA)
    assert (commit.id, commit.short_id) == (SHA, SHA[:8])

    mrs = commit.merge_requests(get_all=True)
    assert isinstance(mrs, list)
    assert sorted((m["iid"], m["state"]) for m in mrs) == [(IID, "opened"), (4, "merged")]
    assert [m["iid"] for m in mrs if m["state"] == "opened"] == [IID]
    listed = gl.projects.get(PID, lazy=True).mergerequests.list(
        get_all=True, state="opened", source_branch="other"
    )
    assert [m.iid for m in listed] == [5]

    with pytest.raises(gitlab.GitlabGetError) as excinfo:
        gl.projects.get(PID, lazy=True).commits.get("0" * 40)
    assert excinfo.value.response_code == 404


def test_commit_comments(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    commit = gl.projects.get(PID, lazy=True).commits.get(SHA, lazy=True)
    comment = commit.comments.create({"note": "## Report"})
    assert comment.note == "## Report"
    assert comment.author["username"] == "reporter"
    assert [c.note for c in commit.comments.list(get_all=True)] == ["## Report"]
    assert [c["note"] for c in fake.commit_comments(PID, SHA)] == ["## Report"]


# ---------------------------------------------------------------------- faults and the log


def test_429_is_retried_after_retry_after(fake: FakeGitLab, gl: gitlab.Gitlab) -> None:
    fake.fail("POST", NOTES_PATH, 429, times=2, headers={"Retry-After": "0"})
    mr = gl.projects.get(PID, lazy=True).mergerequests.get(IID, lazy=True)
    assert mr.notes.create({"body": "after rate limit"}).body == "after rate limit"
    assert fake.count("POST", NOTES_PATH) == 3
    assert len(fake.notes(PID, IID)) == 1

    fake.fail("POST", NOTES_PATH, 429, headers={"Retry-After": "0"})
    with pytest.raises(gitlab.GitlabCreateError) as excinfo:
        mr.notes.create({"body": "no retry"}, obey_rate_limit=False)
    assert excinfo.value.response_code == 429
    assert excinfo.value.error_message == "Retry later"


def test_502_is_retried_only_with_retry_transient_errors(fake: FakeGitLab) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    fake.fail("GET", rf"/projects/{PID}$", 502, body=html)
    with client(fake, private_token=TOKEN) as gl, pytest.raises(gitlab.GitlabGetError) as e:
        gl.projects.get(PID)
    assert e.value.response_code == 502
    assert e.value.error_message == html

    fake.fail("GET", rf"/projects/{PID}$", 502, body=html)
    with client(fake, private_token=TOKEN, retry_transient_errors=True) as gl:
        assert gl.projects.get(PID).id == PID
    assert fake.count("GET", rf"/projects/{PID}$") == 3


def test_request_log_never_carries_the_token_outside_its_header(
    fake: FakeGitLab, gl: gitlab.Gitlab
) -> None:
    project = gl.projects.get(PID)
    project.mergerequests.get(IID).notes.create({"body": "report"})
    project.upload("a.png", filedata=b"png")
    assert len(fake.requests) == 4
    assert [r.method for r in fake.requests] == ["GET", "GET", "POST", "POST"]
    for request, body in zip(fake.requests, fake.request_bodies, strict=True):
        assert request.headers["private-token"] == TOKEN
        assert TOKEN not in request.path
        assert TOKEN.encode() not in body
    assert all(TOKEN not in n["body"] for n in fake.notes(PID, IID))
