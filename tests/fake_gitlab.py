"""A fake GitLab REST v4 server for tests, spoken to by the real python-gitlab over real HTTP.

Stdlib only: a `ThreadingHTTPServer` on 127.0.0.1 in a daemon thread. It models the few
endpoints dvc-cml uses, with GitLab's status codes, error bodies and pagination headers:

- `GET /api/v4/user`, `GET /api/v4/version`
- `GET /api/v4/projects/:id` (numeric id or URL-encoded path)
- `GET /api/v4/projects/:id/merge_requests` and `.../merge_requests/:iid`
- `GET|POST .../merge_requests/:iid/notes`, `GET|PUT|DELETE .../notes/:note_id`
- `GET .../repository/commits/:sha`, `.../commits/:sha/merge_requests`,
  `GET|POST .../commits/:sha/comments`
- `POST .../uploads` (multipart/form-data, field `file`), and the uploaded files themselves
  under `/<group>/<project>/uploads/<secret>/<name>` and `/-/project/<id>/uploads/...`.

Every project is private: each API request needs a valid token (`PRIVATE-TOKEN`,
`Authorization: Bearer` or, for a CI job token, `JOB-TOKEN`).  As on GitLab, a request with no
token at all gets 404 for anything under a project (it is hidden) and 401 elsewhere; a token
GitLab does not accept gets 401. Job tokens may read but never
write (404, GitLab hides the project); a `read_api` token gets 403 `insufficient_scope` on
writes. `fail()` injects faults (429, 5xx, ...) ahead of everything else.

Records returned by `add_*` are the live state: mutate them to change what the server serves
(e.g. `mr["state"] = "merged"`). Accessors such as `notes()` return copies. The socket is bound
at construction, so `url` is valid before `start()`. `requests` logs every request as
`(method, raw path with query, headers with lower-cased names)`; `request_bodies` runs parallel.
"""

from __future__ import annotations

import contextlib
import copy
import email.message
import json
import mimetypes
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import pytest

JSONDict = dict[str, Any]

API_PREFIX = "/api/v4/"
GITLAB_VERSION = {"version": "17.5.0", "revision": "abc"}
NOTE_MAX_CHARS = 1_000_000
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MiB = 1024 * 1024
# Extensions GitLab renders inline (`![alt](url)`); anything else is a plain link.
INLINE_EXTENSIONS = frozenset(
    {"png", "jpg", "jpeg", "apng", "gif", "bmp", "tiff", "ico", "webp", "svg"}
    | {"mp4", "m4v", "mov", "webm", "ogv", "mp3", "oga", "ogg", "spx", "wav"}
)

UNAUTHORIZED: JSONDict = {"message": "401 Unauthorized"}
FORBIDDEN: JSONDict = {"message": "403 Forbidden"}
NOT_FOUND: JSONDict = {"message": "404 Not Found"}
PROJECT_NOT_FOUND: JSONDict = {"message": "404 Project Not Found"}
INSUFFICIENT_SCOPE: JSONDict = {
    "error": "insufficient_scope",
    "error_description": (
        "The request requires higher privileges than provided by the access token."
    ),
    "scope": "api",
}


class RecordedRequest(NamedTuple):
    """One request as the server saw it. Header names are lower-cased."""

    method: str
    path: str  # raw path with query string, as sent (still percent-encoded)
    headers: dict[str, str]


@dataclass
class Token:
    token: str
    scopes: tuple[str, ...]
    kind: str  # "personal", "project" or "job"
    user: JSONDict


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    headers: dict[str, str]
    body: bytes | None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class HTTPError(Exception):
    """Raised by route handlers to answer with an error status."""

    def __init__(self, status: int, payload: JSONDict) -> None:
        super().__init__(status, payload)
        self.status = status
        self.payload = payload


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, "application/json", dict(headers or {}))


@dataclass
class Context:
    method: str
    raw_path: str  # path without query, percent-encoded as sent
    query: list[tuple[str, str]]
    params: dict[str, Any]  # query string merged with the JSON / form body
    route: dict[str, str]  # decoded route captures
    token: Token
    body: bytes
    content_type: str
    project: JSONDict = field(default_factory=dict)


Handler = Callable[["FakeGitLab", Context], Response]


def _seg(name: str) -> str:
    return rf"(?P<{name}>[^/]+)"


_PROJECT = "projects/" + _seg("pid")
_MR = _PROJECT + "/merge_requests/" + _seg("iid")
_COMMIT = _PROJECT + "/repository/commits/" + _seg("sha")


AnyServer = TypeVar("AnyServer", bound="FakeServer")


class FakeServer:
    """What the fake forges share: a socket bound on 127.0.0.1 at construction (so `url` is
    known), served from a thread by `start()`, every request recorded, ids and counts."""

    def __init__(self, upload_limit: int) -> None:
        self.upload_limit = upload_limit  # the request handler reads bodies up to this
        self.requests: list[RecordedRequest] = []
        self.request_bodies: list[bytes] = []  # parallel to `requests`
        self.request_times: list[float] = []  # time.monotonic() at arrival, parallel
        self.errors: list[BaseException] = []  # bugs in the fake itself (answered with 500)
        self.tokens: dict[str, Any] = {}  # each forge's own Token
        self._faults: list[Any] = []  # and Fault
        self._lock = threading.RLock()
        self._ids: dict[str, int] = {}
        self._last_ms = 0
        self._server: _Server | None = _Server(("127.0.0.1", 0), _RequestHandler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self: AnyServer) -> AnyServer:
        if self._server is None or self._thread is not None:
            raise RuntimeError(f"a {type(self).__name__} can be started once")
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self: AnyServer) -> AnyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ state helpers

    def _next_id(self, kind: str) -> int:
        with self._lock:
            self._ids[kind] = self._ids.get(kind, 0) + 1
            return self._ids[kind]

    def count(self, method: str | None = None, path_regex: str | None = None) -> int:
        """How many requests were received, optionally filtered like `fail()`."""
        pattern = re.compile(path_regex) if path_regex else None
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (pattern is None or pattern.search(r.path.split("?", 1)[0]))
            )

    def _record(self, method: str, path: str, headers: dict[str, str]) -> int:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers))
            self.request_bodies.append(b"")
            self.request_times.append(time.monotonic())
            return len(self.requests) - 1


class FakeGitLab(FakeServer):
    """In-process fake of the GitLab REST API v4 (see the module docstring)."""

    def __init__(self, upload_limit: int = 100 * MiB) -> None:
        super().__init__(upload_limit)
        self.uploads: dict[str, bytes] = {}  # keyed by the returned `url`
        self.projects: dict[int, JSONDict] = {}
        self.merge_requests: dict[tuple[int, int], JSONDict] = {}
        self._users: dict[str, JSONDict] = {}
        self._notes: dict[tuple[int, int], list[JSONDict]] = {}
        self._commits: dict[tuple[int, str], JSONDict] = {}
        self._commit_comments: dict[tuple[int, str], list[JSONDict]] = {}
        self._upload_meta: dict[str, JSONDict] = {}
        self._meetings: list[tuple[str, re.Pattern[str], threading.Barrier]] = []
        self._arrived: dict[int, int] = {}

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v4"

    # ------------------------------------------------------------------ state helpers

    def _timestamp(self) -> str:
        """ISO 8601 UTC with milliseconds, strictly increasing across calls."""
        with self._lock:
            now_ms = max(int(time.time() * 1000), self._last_ms + 1)
            self._last_ms = now_ms
        dt = datetime.fromtimestamp(now_ms // 1000, tz=timezone.utc)
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{now_ms % 1000:03d}Z"

    def user(self, username: str) -> JSONDict:
        """The user called `username`, created on first use."""
        with self._lock:
            if username not in self._users:
                self._users[username] = {
                    "id": self._next_id("user"),
                    "username": username,
                    "name": username.replace("_", " ").replace("-", " ").title(),
                    "state": "active",
                    "locked": False,
                    "avatar_url": None,
                    "web_url": f"{self.url}/{username}",
                }
            return self._users[username]

    def add_token(
        self,
        token: str,
        scopes: Sequence[str] = ("api",),
        kind: str = "personal",
        username: str | None = None,
    ) -> JSONDict:
        """Register a token; returns its user. kind: "personal", "project" or "job"."""
        if kind not in ("personal", "project", "job"):
            raise ValueError(f"unknown token kind {kind!r}")
        default_user = {"personal": "tester", "project": "project_bot", "job": "ci_user"}[kind]
        with self._lock:
            user = self.user(username or default_user)
            self.tokens[token] = Token(token, tuple(scopes), kind, user)
            return user

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)

    def add_project(self, id: int, path: str, default_branch: str = "main") -> JSONDict:
        namespace, _, name = path.rpartition("/")
        project: JSONDict = {
            "id": id,
            "name": name,
            "name_with_namespace": " / ".join(path.split("/")),
            "path": name,
            "path_with_namespace": path,
            "namespace": {"name": namespace, "path": namespace, "full_path": namespace},
            "default_branch": default_branch,
            "visibility": "private",
            "web_url": f"{self.url}/{path}",
            "http_url_to_repo": f"{self.url}/{path}.git",
            "created_at": self._timestamp(),
        }
        with self._lock:
            self.projects[id] = project
        return project

    def add_mr(
        self,
        project_id: int,
        iid: int,
        source_branch: str = "feature",
        target_branch: str = "main",
        sha: str = "0123456789abcdef0123456789abcdef01234567",
        state: str = "opened",
        source_project_id: int | None = None,
        title: str | None = None,
    ) -> JSONDict:
        with self._lock:
            project = self.projects[project_id]
            mr: JSONDict = {
                "id": self._next_id("mr") + 1000,
                "iid": iid,
                "project_id": project_id,
                "title": title or f"Merge {source_branch} into {target_branch}",
                "description": "",
                "state": state,
                "draft": False,
                "source_project_id": source_project_id or project_id,
                "target_project_id": project_id,
                "source_branch": source_branch,
                "target_branch": target_branch,
                "sha": sha,
                "web_url": f"{project['web_url']}/-/merge_requests/{iid}",
                "created_at": self._timestamp(),
            }
            self.merge_requests[(project_id, iid)] = mr
            self._notes.setdefault((project_id, iid), [])
            self.add_commit(project_id, sha)
            if mr["source_project_id"] in self.projects:
                self.add_commit(mr["source_project_id"], sha)
            return mr

    def add_commit(self, project_id: int, sha: str, title: str = "Commit") -> JSONDict:
        with self._lock:
            key = (project_id, sha)
            if key not in self._commits:
                web_url = self.projects[project_id]["web_url"]
                self._commits[key] = {
                    "id": sha,
                    "short_id": sha[:8],
                    "title": title,
                    "message": title,
                    "author_name": "Tester",
                    "created_at": self._timestamp(),
                    "parent_ids": [],
                    "web_url": f"{web_url}/-/commit/{sha}",
                }
            return self._commits[key]

    def _note_json(self, mr: JSONDict, body: str, system: bool, author: JSONDict) -> JSONDict:
        stamp = self._timestamp()
        return {
            "id": self._next_id("note") + 500,
            "type": None,
            "body": body,
            "attachment": None,
            "author": {k: author[k] for k in ("id", "username", "name", "state", "web_url")},
            "created_at": stamp,
            "updated_at": stamp,
            "system": system,
            "noteable_id": mr["id"],
            "noteable_type": "MergeRequest",
            "project_id": mr["project_id"],
            "noteable_iid": mr["iid"],
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }

    def add_note(
        self, project_id: int, mr_iid: int, body: str, system: bool = False, author: str = "someone"
    ) -> JSONDict:
        with self._lock:
            mr = self.merge_requests[(project_id, mr_iid)]
            note = self._note_json(mr, body, system, self.user(author))
            self._notes[(project_id, mr_iid)].append(note)
            return note

    def notes(self, project_id: int, mr_iid: int) -> list[JSONDict]:
        """Copies of the MR's notes, oldest first (creation order)."""
        with self._lock:
            return copy.deepcopy(self._notes.get((project_id, mr_iid), []))

    def commit_comments(self, project_id: int, sha: str) -> list[JSONDict]:
        with self._lock:
            return copy.deepcopy(self._commit_comments.get((project_id, sha), []))

    def upload_bytes(self, url: str) -> bytes:
        """Bytes of an upload given its `url`, its `full_path`, or either prefixed by a host."""
        path = urlsplit(url).path if "://" in url else url
        with self._lock:
            for key, meta in self._upload_meta.items():
                if path in (key, meta["full_path"]) or path.endswith(meta["web_suffix"]):
                    return self.uploads[key]
        raise KeyError(url)

    def rendezvous(self, method: str, path_regex: str, parties: int = 2) -> threading.Barrier:
        """Hold matching requests until `parties` of them have arrived, then serve them all.

        For races: `rendezvous("GET", r"/notes$")` makes two concurrent clients both read the
        notes before either can write.  Once met, later requests pass straight through; a
        party that never comes breaks the barrier after 60 s instead of hanging the suite.
        """
        barrier = threading.Barrier(parties, timeout=60)
        with self._lock:
            self._meetings.append((method.upper(), re.compile(path_regex), barrier))
        return barrier

    def _meet(self, method: str, path: str) -> None:
        with self._lock:
            found = None
            for meeting in self._meetings:
                want, pattern, barrier = meeting
                if want in ("*", method) and pattern.search(path):
                    found = barrier
                    self._arrived[id(barrier)] = self._arrived.get(id(barrier), 0) + 1
                    if self._arrived[id(barrier)] == barrier.parties:
                        self._meetings.remove(meeting)  # everyone is here: later ones pass
                    break
        if found is not None:
            found.wait()

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: str | bytes | None = None,
    ) -> None:
        """Answer the next `times` requests matching with `status` instead of serving them.

        `method` is an HTTP method or "*"; `path_regex` is searched in the raw request path
        (percent-encoded as sent, without the query string). Without `body`: 429 gets the
        text "Retry later", anything else `{"message": "<status> <reason>"}`.
        """
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            fault = Fault(method.upper(), re.compile(path_regex), status, times, {}, raw)
            fault.headers.update(headers or {})
            self._faults.append(fault)

    # ------------------------------------------------------------------ request handling

    def _take_fault(self, method: str, path: str) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining <= 0:
                    continue
                if fault.method not in ("*", method) or not fault.pattern.search(path):
                    continue
                fault.remaining -= 1
                break
            else:
                return None
            self._faults = [f for f in self._faults if f.remaining > 0]
        body = fault.body
        headers = dict(fault.headers)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        if body is None:
            if fault.status == 429:
                body = b"Retry later"
            else:
                phrase = HTTPStatus(fault.status).phrase if fault.status in _STATUSES else ""
                return json_response(fault.status, {"message": f"{fault.status} {phrase}"}, headers)
        if content_type is None:
            start = body.lstrip()[:1]
            content_type = (
                "application/json"
                if start in (b"{", b"[")
                else "text/html; charset=utf-8"
                if start == b"<"
                else "text/plain; charset=utf-8"
            )
        return Response(fault.status, body, content_type, headers)

    def _authenticate(self, headers: dict[str, str]) -> Token | None:
        with self._lock:
            if "private-token" in headers:
                token = self.tokens.get(headers["private-token"])
                return token if token and token.kind != "job" else None
            if "job-token" in headers:
                token = self.tokens.get(headers["job-token"])
                return token if token and token.kind == "job" else None
            auth = headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                token = self.tokens.get(auth[7:].strip())
                return token if token and token.kind != "job" else None
            return None

    def _dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None
    ) -> Response:
        """Serve one request (body None: larger than the server accepts)."""
        split = urlsplit(target)
        raw_path = split.path
        self._meet(method, raw_path)
        fault = self._take_fault(method, raw_path)
        if fault is not None:
            return fault
        if body is None:
            return json_response(413, {"message": "413 Request Entity Too Large"})
        if not raw_path.startswith(API_PREFIX):
            return self._serve_web(method, raw_path)
        rel = raw_path[len(API_PREFIX) :]
        for pattern, handlers in _ROUTES:
            match = pattern.fullmatch(rel)
            if match is None:
                continue
            handler = handlers.get(method)
            if handler is None:
                return json_response(405, {"message": "405 Method Not Allowed"})
            break
        else:
            return json_response(404, NOT_FOUND)

        token = self._authenticate(headers)
        if token is None:
            anonymous = not {"private-token", "job-token", "authorization"} & headers.keys()
            if anonymous and "pid" in match.groupdict():
                # GitLab hides a private project from anonymous requests: 404, not 401
                # (401 is for a token it does not accept).
                return json_response(404, PROJECT_NOT_FOUND)
            return json_response(401, UNAUTHORIZED)
        write = method != "GET"
        if token.kind != "job":
            needed = ("api",) if write else ("api", "read_api")
            if not set(needed) & set(token.scopes):
                return json_response(403, INSUFFICIENT_SCOPE)
        elif rel in ("user",):
            return json_response(401, UNAUTHORIZED)

        query = parse_qsl(split.query, keep_blank_values=True)
        content_type = headers.get("content-type", "")
        params: dict[str, Any] = dict(query)
        if not content_type.startswith("multipart/") and body:
            try:
                params.update(_parse_body(body, content_type))
            except ValueError:
                return json_response(400, {"message": "400 Bad request - invalid request body"})
        ctx = Context(
            method=method,
            raw_path=raw_path,
            query=query,
            params=params,
            route={k: unquote(v) for k, v in match.groupdict().items()},
            token=token,
            body=body,
            content_type=content_type,
        )
        try:
            if "pid" in ctx.route:
                ctx.project = self._project(ctx.route["pid"])
                if write and token.kind == "job":
                    return json_response(404, NOT_FOUND)
            return handler(self, ctx)
        except HTTPError as e:
            return json_response(e.status, e.payload)

    # ------------------------------------------------------------------ lookups

    def _project(self, ref: str) -> JSONDict:
        with self._lock:
            if ref.isdigit() and int(ref) in self.projects:
                return self.projects[int(ref)]
            for project in self.projects.values():
                if project["path_with_namespace"].lower() == ref.lower():
                    return project
        raise HTTPError(404, {"message": "404 Project Not Found"})

    def _mr(self, ctx: Context) -> JSONDict:
        iid = _int_param(ctx.route["iid"], "merge_request_iid")
        with self._lock:
            mr = self.merge_requests.get((ctx.project["id"], iid))
        if mr is None:
            raise HTTPError(404, {"message": "404 Not found"})
        return mr

    def _note(self, ctx: Context, mr: JSONDict) -> JSONDict:
        note_id = _int_param(ctx.route["nid"], "note_id")
        with self._lock:
            for note in self._notes[(mr["project_id"], mr["iid"])]:
                if note["id"] == note_id:
                    return note
        raise HTTPError(404, {"message": "404 Not found"})

    def _commit(self, ctx: Context) -> JSONDict:
        ref = ctx.route["sha"]
        pid = ctx.project["id"]
        with self._lock:
            if (pid, ref) in self._commits:
                return self._commits[(pid, ref)]
            if len(ref) >= 7:
                prefix = ref.lower()
                found = [
                    c for (p, s), c in self._commits.items() if p == pid and s.startswith(prefix)
                ]
                if len(found) == 1:
                    return found[0]
            for mr in self.merge_requests.values():
                if mr["source_project_id"] == pid and mr["source_branch"] == ref:
                    return self._commits[(pid, mr["sha"])]
        raise HTTPError(404, {"message": "404 Commit Not Found"})

    # ------------------------------------------------------------------ pagination

    def _paginate(self, ctx: Context, items: list[JSONDict]) -> Response:
        page = _int_param(ctx.params.get("page", "1") or "1", "page")
        per_page = _int_param(ctx.params.get("per_page", str(DEFAULT_PER_PAGE)) or "0", "per_page")
        page = max(page, 1)
        if per_page < 1:
            per_page = DEFAULT_PER_PAGE
        per_page = min(per_page, MAX_PER_PAGE)
        total = len(items)
        total_pages = max(1, -(-total // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        next_page = page + 1 if page < total_pages else None
        prev_page = page - 1 if page > 1 else None
        others = [(k, v) for k, v in ctx.query if k not in ("page", "per_page")]

        def link(n: int) -> str:
            query = urlencode([*others, ("page", str(n)), ("per_page", str(per_page))])
            return f"{self.url}{ctx.raw_path}?{query}"

        rels = [("prev", prev_page), ("next", next_page), ("first", 1), ("last", total_pages)]
        headers = {
            "Link": ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels if n is not None),
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(next_page or ""),
            "X-Prev-Page": str(prev_page or ""),
            "X-Total": str(total),
            "X-Total-Pages": str(total_pages),
        }
        return json_response(200, chunk, headers)

    # ------------------------------------------------------------------ route handlers

    def _get_user(self, ctx: Context) -> Response:
        return json_response(200, ctx.token.user)

    def _get_version(self, ctx: Context) -> Response:
        return json_response(200, GITLAB_VERSION)

    def _get_project(self, ctx: Context) -> Response:
        return json_response(200, ctx.project)

    def _list_mrs(self, ctx: Context) -> Response:
        pid = ctx.project["id"]
        state = ctx.params.get("state", "all")
        if state not in ("opened", "closed", "locked", "merged", "all"):
            raise HTTPError(400, {"error": "state does not have a valid value"})
        with self._lock:
            mrs = [
                copy.deepcopy(mr)
                for (p, _), mr in self.merge_requests.items()
                if p == pid
                and state in ("all", mr["state"])
                and ctx.params.get("source_branch", mr["source_branch"]) == mr["source_branch"]
                and ctx.params.get("target_branch", mr["target_branch"]) == mr["target_branch"]
            ]
        mrs.sort(key=lambda mr: (mr["created_at"], mr["id"]), reverse=True)
        return self._paginate(ctx, mrs)

    def _get_mr(self, ctx: Context) -> Response:
        with self._lock:
            return json_response(200, self._mr(ctx))

    def _list_notes(self, ctx: Context) -> Response:
        mr = self._mr(ctx)
        sort = ctx.params.get("sort", "desc")
        order_by = ctx.params.get("order_by", "created_at")
        if sort not in ("asc", "desc"):
            raise HTTPError(400, {"error": "sort does not have a valid value"})
        if order_by not in ("created_at", "updated_at"):
            raise HTTPError(400, {"error": "order_by does not have a valid value"})
        with self._lock:
            notes = copy.deepcopy(self._notes[(mr["project_id"], mr["iid"])])
        notes.sort(key=lambda n: (n[order_by], n["id"]), reverse=sort == "desc")
        return self._paginate(ctx, notes)

    def _get_note(self, ctx: Context) -> Response:
        with self._lock:
            return json_response(200, self._note(ctx, self._mr(ctx)))

    def _create_note(self, ctx: Context) -> Response:
        mr = self._mr(ctx)
        body = _note_body(ctx.params)
        with self._lock:
            note = self._note_json(mr, body, False, ctx.token.user)
            self._notes[(mr["project_id"], mr["iid"])].append(note)
            return json_response(201, note)

    def _update_note(self, ctx: Context) -> Response:
        mr = self._mr(ctx)
        with self._lock:
            note = self._note(ctx, mr)
            if note["system"] or note["author"]["id"] != ctx.token.user["id"]:
                raise HTTPError(403, FORBIDDEN)
            body = _note_body(ctx.params)
            note["body"] = body
            note["updated_at"] = self._timestamp()
            return json_response(200, note)

    def _delete_note(self, ctx: Context) -> Response:
        mr = self._mr(ctx)
        with self._lock:
            note = self._note(ctx, mr)
            if note["system"]:
                raise HTTPError(403, FORBIDDEN)
            self._notes[(mr["project_id"], mr["iid"])].remove(note)
        return Response(204)

    def _get_commit(self, ctx: Context) -> Response:
        with self._lock:
            return json_response(200, self._commit(ctx))

    def _commit_mrs(self, ctx: Context) -> Response:
        pid = ctx.project["id"]
        with self._lock:
            sha = self._commit(ctx)["id"]
            mrs = [
                copy.deepcopy(mr)
                for (p, _), mr in self.merge_requests.items()
                if p == pid and mr["sha"] == sha
            ]
        mrs.sort(key=lambda mr: mr["id"], reverse=True)
        return self._paginate(ctx, mrs)

    def _list_commit_comments(self, ctx: Context) -> Response:
        pid = ctx.project["id"]
        with self._lock:
            sha = self._commit(ctx)["id"]
            comments = copy.deepcopy(self._commit_comments.get((pid, sha), []))
        return self._paginate(ctx, comments)

    def _create_commit_comment(self, ctx: Context) -> Response:
        pid = ctx.project["id"]
        note = ctx.params.get("note")
        if note is None:
            raise HTTPError(400, {"error": "note is missing"})
        if not isinstance(note, str) or not note.strip():
            raise HTTPError(400, {"message": {"note": ["can't be blank"]}})
        with self._lock:
            sha = self._commit(ctx)["id"]
            user = ctx.token.user
            comment: JSONDict = {
                "note": note,
                "path": ctx.params.get("path"),
                "line": ctx.params.get("line"),
                "line_type": ctx.params.get("line_type"),
                "author": {k: user[k] for k in ("id", "username", "name", "state", "web_url")},
                "created_at": self._timestamp(),
            }
            self._commit_comments.setdefault((pid, sha), []).append(comment)
            return json_response(201, comment)

    def _upload(self, ctx: Context) -> Response:
        project = ctx.project
        try:
            fields = _parse_multipart(ctx.body, ctx.content_type)
        except ValueError:
            raise HTTPError(400, {"error": "file is missing"}) from None
        if "file" not in fields or fields["file"][0] is None:
            raise HTTPError(400, {"error": "file is missing"})
        filename, data = fields["file"]
        assert filename is not None
        if len(data) > self.upload_limit:
            raise HTTPError(413, {"message": "413 Request Entity Too Large"})
        if not data:
            raise HTTPError(400, {"error": "file is invalid"})
        name = _sanitize_filename(filename)
        secret = secrets.token_hex(16)
        url = f"/uploads/{secret}/{name}"
        alt, _, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
        markdown = f"![{alt}]({url})" if ext.lower() in INLINE_EXTENSIONS else f"[{name}]({url})"
        result = {
            "id": self._next_id("upload"),
            "alt": alt,
            "url": url,
            "full_path": f"/-/project/{project['id']}/uploads/{secret}/{name}",
            "markdown": markdown,
        }
        with self._lock:
            self.uploads[url] = data
            self._upload_meta[url] = {
                "project_id": project["id"],
                "full_path": result["full_path"],
                "web_suffix": f"/{project['path_with_namespace']}{url}",
            }
        return json_response(201, result)

    def _serve_web(self, method: str, raw_path: str) -> Response:
        """The uploaded files, as a browser would fetch them (no authentication modelled)."""
        path = unquote(raw_path)
        if method == "GET":
            with self._lock:
                for key, meta in self._upload_meta.items():
                    if path in (meta["full_path"], meta["web_suffix"]):
                        data = self.uploads[key]
                        ctype = mimetypes.guess_type(key)[0] or "application/octet-stream"
                        headers = {}
                        if key.lower().endswith(".svg"):
                            headers["Content-Disposition"] = "attachment"
                        return Response(200, data, ctype, headers)
        return Response(404, b"Not Found", "text/plain; charset=utf-8")


_STATUSES = {s.value for s in HTTPStatus}

_ROUTE_TABLE: list[tuple[str, dict[str, Handler]]] = [
    ("user", {"GET": FakeGitLab._get_user}),
    ("version", {"GET": FakeGitLab._get_version}),
    (_PROJECT, {"GET": FakeGitLab._get_project}),
    (_PROJECT + "/merge_requests", {"GET": FakeGitLab._list_mrs}),
    (_MR, {"GET": FakeGitLab._get_mr}),
    (_MR + "/notes", {"GET": FakeGitLab._list_notes, "POST": FakeGitLab._create_note}),
    (
        _MR + "/notes/" + _seg("nid"),
        {
            "GET": FakeGitLab._get_note,
            "PUT": FakeGitLab._update_note,
            "DELETE": FakeGitLab._delete_note,
        },
    ),
    (_COMMIT, {"GET": FakeGitLab._get_commit}),
    (_COMMIT + "/merge_requests", {"GET": FakeGitLab._commit_mrs}),
    (
        _COMMIT + "/comments",
        {"GET": FakeGitLab._list_commit_comments, "POST": FakeGitLab._create_commit_comment},
    ),
    (_PROJECT + "/uploads", {"POST": FakeGitLab._upload}),
]
_ROUTES = [(re.compile(pattern), handlers) for pattern, handlers in _ROUTE_TABLE]


# ---------------------------------------------------------------------- parsing helpers


def _int_param(value: Any, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise HTTPError(400, {"error": f"{name} is invalid"}) from None


def _note_body(params: dict[str, Any]) -> str:
    body = params.get("body")
    if body is None:
        raise HTTPError(400, {"error": "body is missing"})
    if not isinstance(body, str):
        raise HTTPError(400, {"error": "body is invalid"})
    if not body.strip():
        raise HTTPError(400, {"message": {"note": ["can't be blank"]}})
    if len(body) > NOTE_MAX_CHARS:
        raise HTTPError(
            400, {"message": {"note": [f"is too long (maximum is {NOTE_MAX_CHARS} characters)"]}}
        )
    return body


def _parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        data = json.loads(body.decode())
        if not isinstance(data, dict):
            raise ValueError("JSON body is not an object")
        return data
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    return {}


def _header_params(value: str) -> email.message.Message:
    msg = email.message.Message()
    msg["Content-Type"] = value
    return msg


def _parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """multipart/form-data → {field name: (filename or None, bytes)}."""
    ctype = _header_params(content_type)
    boundary = ctype.get_param("boundary")
    if ctype.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise ValueError("not multipart/form-data")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2 or not chunks[-1].startswith(b"--"):
        raise ValueError("unterminated multipart body")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for chunk in chunks[1:-1]:
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("part without header")
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value.strip()
        msg = email.message.Message()
        msg["Content-Disposition"] = disposition
        field_name = msg.get_param("name", header="content-disposition")
        if isinstance(field_name, str):
            fields[field_name] = (msg.get_filename(), data)
    return fields


def _sanitize_filename(filename: str) -> str:
    """CarrierWave's sanitising, as GitLab applies it to uploads."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\-+]", "_", name)
    if re.fullmatch(r"\.+", name):
        name = "_" + name
    return name or "unnamed"


# ---------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer  # FakeGitLab or FakeGitHub: the same hooks

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client hang-ups and timeouts are normal here (e.g. a retried, already consumed
        # multipart body); real bugs are answered with 500 and kept in `fake.errors`.
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 30  # a stuck read (client sent less than Content-Length) ends eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) < n:
            raise ConnectionAbortedError("client sent less than announced")
        return data

    def _read_body(self, limit: int) -> bytes | None:
        """The request body; None (after draining it) when longer than `limit`."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionAbortedError("client hung up mid-body")
                n = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunk = self._read_exact(n)
                self._read_exact(2)
                size += n
                if size <= limit:
                    parts.append(chunk)
            return b"".join(parts) if size <= limit else None
        length = int(self.headers.get("Content-Length") or 0)
        if length <= limit:
            return self._read_exact(length)
        while length > 0:
            length -= len(self._read_exact(min(length, MiB)))
        return None

    def _handle(self) -> None:
        fake = self.server.fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        index = fake._record(self.command, self.path, headers)
        try:
            # Room for multipart framing, and for a 1,000,000-character note in JSON.
            body = self._read_body(max(fake.upload_limit, 16 * MiB) + MiB)
        except (OSError, ValueError):
            self.close_connection = True
            return
        with fake._lock:
            fake.request_bodies[index] = body if body is not None else b""
        try:
            response = fake._dispatch(self.command, self.path, headers, body)
        except Exception as e:  # a bug in the fake: make it visible
            with fake._lock:
                fake.errors.append(e)
            response = json_response(500, {"message": "500 Internal Server Error"})
        self._send(response)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            if response.status != 204:
                if response.content_type:
                    self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if response.status != 204 and self.command != "HEAD":
                self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


@pytest.fixture
def fake_gitlab() -> Iterator[FakeGitLab]:
    """A started FakeGitLab; fails the test if the fake itself raised while serving."""
    server = FakeGitLab().start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, f"the fake GitLab crashed: {server.errors!r}"
