"""A fake GitHub REST API (v3, as GitHub Enterprise Server serves it under /api/v3), spoken
to by the real PyGithub over real HTTP.

Stdlib only: the threaded server and request plumbing of `tests.fake_gitlab`, with GitHub's
routes, JSON shapes, status codes and error bodies:

- `GET /user` (403 "Resource not accessible by integration" for an app token, as the
  Actions GITHUB_TOKEN is), `GET /repos/{o}/{r}`
- `GET .../pulls` (`state`, `head=owner:branch`), `GET .../pulls/{n}`
- `GET|POST .../issues/{n}/comments`, `GET|PATCH|DELETE .../issues/comments/{id}`
- `GET .../commits/{sha}` (422 for an unknown SHA), `GET .../commits/{sha}/pulls` (empty for
  a fork's head commit, which is not in the base repository), `GET|POST .../commits/{sha}/comments`
- the Git Data API: `POST|GET .../git/blobs`, `.../git/trees`, `.../git/commits`,
  `GET .../git/ref/{ref}`, `POST .../git/refs`, `GET|PATCH|DELETE .../git/refs/{ref}`
  (422 "Reference already exists", "Update is not a fast forward")
- the raw files a browser fetches: `GET /{o}/{r}/raw/{commit or branch}/{path}`.

Lists are paginated as GitHub does (`per_page` default 30, at most 100, a `Link` header).
Comment bodies over 65,536 characters get 422 "Body is too long". Every repository is
private: requests need a token (401 "Bad credentials" otherwise). A token has the
permissions of a GITHUB_TOKEN (`contents`, `pull_requests`, `issues`: "read" or "write");
a write it lacks gets 403 "Resource not accessible by integration" (or "... by personal
access token"). Like GitHub, anyone with write access may edit any comment: it is the
client's job to touch only its own. `fail()` injects faults (secondary rate limits with
`Retry-After`, 5xx) ahead of everything; `before()` runs a function before a request is
served (to move a branch under a client's feet).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import mimetypes
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pytest

from tests.fake_gitlab import (
    FakeServer,
    HTTPError,
    Response,
    json_response,
)

JSONDict = dict[str, Any]

API_PREFIX = "/api/v3/"
COMMENT_MAX_CHARS = 65_536
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
MiB = 1024 * 1024
DOCS = "https://docs.github.com/rest"
ACTIONS_BOT_ID = 41898282
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID "
    "0000:1111:2222:3333."
)
WRITE_ALL = {"contents": "write", "pull_requests": "write", "issues": "write"}


def error(code: int, message: str, **extra: Any) -> HTTPError:
    return HTTPError(code, {"message": message, "documentation_url": DOCS, **extra})


def git_sha(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


@dataclass
class Token:
    token: str
    user: JSONDict
    app: bool  # an installation token (GITHUB_TOKEN): no GET /user
    permissions: dict[str, str]


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    headers: dict[str, str]
    body: Any


@dataclass
class Hook:
    method: str
    pattern: re.Pattern[str]
    fn: Callable[[], None]
    remaining: int


@dataclass
class Context:
    method: str
    raw_path: str
    query: list[tuple[str, str]]
    params: dict[str, Any]
    route: dict[str, str]
    token: Token
    repo: JSONDict = field(default_factory=dict)


@dataclass
class GitStore:
    """One repository's git objects, as the Git Data API sees them."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, dict[str, JSONDict]] = field(default_factory=dict)  # flat: path -> entry
    commits: dict[str, JSONDict] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/x" -> commit sha


Handler = Callable[["FakeGitHub", Context], Response]


class FakeGitHub(FakeServer):
    """In-process fake of GitHub's REST API (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(upload_limit=16 * MiB)
        self.comment_limit = COMMENT_MAX_CHARS
        self.repos: dict[str, JSONDict] = {}
        self.pulls: dict[tuple[str, int], JSONDict] = {}
        self.git: dict[str, GitStore] = {}
        self._users: dict[str, JSONDict] = {}
        self._comments: dict[tuple[str, int], list[JSONDict]] = {}
        self._commits: dict[tuple[str, str], JSONDict] = {}
        self._commit_comments: dict[tuple[str, str], list[JSONDict]] = {}
        self._hooks: list[Hook] = []

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v3"

    # ------------------------------------------------------------------ state helpers

    def _timestamp(self) -> str:
        with self._lock:
            now_ms = max(int(time.time() * 1000), self._last_ms + 1000)
            self._last_ms = now_ms
        return datetime.fromtimestamp(now_ms // 1000, tz=timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )

    def user(self, login: str, bot: bool = False) -> JSONDict:
        """The account called `login`, created on first use."""
        with self._lock:
            if login not in self._users:
                uid = ACTIONS_BOT_ID if login == "github-actions[bot]" else self._next_id("user")
                self._users[login] = {
                    "login": login,
                    "id": uid,
                    "node_id": f"U_{uid}",
                    "type": "Bot" if bot or login.endswith("[bot]") else "User",
                    "site_admin": False,
                    "url": f"{self.api_url}/users/{quote(login)}",
                    "html_url": f"{self.url}/{quote(login)}",
                }
            return self._users[login]

    def add_token(
        self,
        token: str,
        login: str = "octocat",
        app: bool = False,
        permissions: Mapping[str, str] | None = None,
    ) -> JSONDict:
        """A personal token of `login`, or (app=True) an installation token like the
        Actions GITHUB_TOKEN, whose comments are by github-actions[bot]."""
        with self._lock:
            user = self.user("github-actions[bot]" if app else login)
            perms = dict(WRITE_ALL if permissions is None else permissions)
            self.tokens[token] = Token(token, user, app, perms)
            return user

    def add_repo(self, full_name: str, default_branch: str = "main") -> JSONDict:
        owner, name = full_name.split("/")
        with self._lock:
            rid = self._next_id("repo")
            repo: JSONDict = {
                "id": rid,
                "node_id": f"R_{rid}",
                "name": name,
                "full_name": full_name,
                "owner": copy.deepcopy(self.user(owner)),
                "private": True,
                "visibility": "private",
                "fork": False,
                "html_url": f"{self.url}/{full_name}",
                "url": f"{self.api_url}/repos/{full_name}",
                "default_branch": default_branch,
            }
            self.repos[full_name.lower()] = repo
            self.git.setdefault(full_name.lower(), GitStore())
            return repo

    def add_commit(self, full_name: str, sha: str, message: str = "Commit") -> JSONDict:
        """A commit of the repository's history (as pushed, not made with the Git Data API)."""
        key = full_name.lower()
        with self._lock:
            self._commits[(key, sha)] = {
                "sha": sha,
                "node_id": f"C_{sha[:10]}",
                "url": f"{self.api_url}/repos/{full_name}/commits/{sha}",
                "html_url": f"{self.url}/{full_name}/commit/{sha}",
                "commit": {"message": message, "tree": {"sha": "0" * 40}},
                "parents": [],
                "author": None,
                "committer": None,
            }
            return self._commits[(key, sha)]

    def add_pull(
        self,
        full_name: str,
        number: int,
        head_ref: str = "feature",
        head_sha: str = "a" * 40,
        base_ref: str = "main",
        base_sha: str = "b" * 40,
        state: str = "open",
        head_repo: str | None = None,
        author: str = "contributor",
    ) -> JSONDict:
        """A pull request; `head_repo` names a fork the head lives in."""
        key = full_name.lower()
        with self._lock:
            repo = self.repos[key]
            fork = head_repo is not None and head_repo.lower() != key
            head_full = head_repo or full_name
            head_owner = head_full.split("/")[0]
            api = f"{self.api_url}/repos/{full_name}"
            pid = self._next_id("pull") + 9000

            def side(label_owner: str, ref: str, sha: str, repo_name: str) -> JSONDict:
                return {
                    "label": f"{label_owner}:{ref}",
                    "ref": ref,
                    "sha": sha,
                    "user": copy.deepcopy(self.user(label_owner)),
                    "repo": {
                        "full_name": repo_name,
                        "name": repo_name.split("/")[1],
                        "fork": repo_name != full_name,
                        "url": f"{self.api_url}/repos/{repo_name}",
                    },
                }

            pull: JSONDict = {
                "url": f"{api}/pulls/{number}",
                "id": pid,
                "node_id": f"PR_{pid}",
                "number": number,
                "state": state,
                "locked": False,
                "title": f"Merge {head_ref} into {base_ref}",
                "user": copy.deepcopy(self.user(author)),
                "body": "",
                "draft": False,
                "merged": state == "merged",
                "html_url": f"{repo['html_url']}/pull/{number}",
                "issue_url": f"{api}/issues/{number}",
                "comments_url": f"{api}/issues/{number}/comments",
                "head": side(head_owner, head_ref, head_sha, head_full),
                "base": side(repo["owner"]["login"], base_ref, base_sha, full_name),
                "created_at": self._timestamp(),
            }
            if state == "merged":
                pull["state"] = "closed"
            self.pulls[(key, number)] = pull
            self._comments.setdefault((key, number), [])
            if not fork:  # a fork's commits are not in this repository
                self.add_commit(full_name, head_sha)
            self.add_commit(full_name, base_sha)
            return pull

    def _comment_json(self, key: str, number: int, body: str, user: JSONDict) -> JSONDict:
        repo = self.repos[key]
        cid = self._next_id("comment") + 100_000
        stamp = self._timestamp()
        api = f"{self.api_url}/repos/{repo['full_name']}"
        return {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{api}/issues/comments/{cid}",
            "html_url": f"{repo['html_url']}/pull/{number}#issuecomment-{cid}",
            "issue_url": f"{api}/issues/{number}",
            "body": body,
            "user": copy.deepcopy(user),
            "created_at": stamp,
            "updated_at": stamp,
            "author_association": "CONTRIBUTOR" if user["type"] == "User" else "NONE",
        }

    def add_comment(
        self, full_name: str, number: int, body: str, author: str = "reviewer"
    ) -> JSONDict:
        key = full_name.lower()
        with self._lock:
            comment = self._comment_json(key, number, body, self.user(author))
            self._comments[(key, number)].append(comment)
            return copy.deepcopy(comment)

    def comments(self, full_name: str, number: int) -> list[JSONDict]:
        """Copies of the pull request's comments, oldest first."""
        with self._lock:
            return copy.deepcopy(self._comments.get((full_name.lower(), number), []))

    def commit_comments(self, full_name: str, sha: str) -> list[JSONDict]:
        with self._lock:
            return copy.deepcopy(self._commit_comments.get((full_name.lower(), sha), []))

    def branch_files(self, full_name: str, branch: str) -> dict[str, bytes]:
        """The files of the branch's head commit, by path."""
        store = self.git[full_name.lower()]
        with self._lock:
            commit = store.commits[store.refs[f"refs/heads/{branch}"]]
            tree = store.trees[commit["tree"]["sha"]]
            return {p: store.blobs[e["sha"]] for p, e in tree.items()}

    def history(self, full_name: str, branch: str) -> list[str]:
        """The branch's commits, newest first (first parents)."""
        store = self.git[full_name.lower()]
        with self._lock:
            sha: str | None = store.refs.get(f"refs/heads/{branch}")
            out = []
            while sha:
                out.append(sha)
                parents = store.commits[sha]["parents"]
                sha = parents[0]["sha"] if parents else None
            return out

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` (a JSON `body`, or
        GitHub's `{"message": ...}` for the status)."""
        with self._lock:
            self._faults.append(
                Fault(
                    method.upper(), re.compile(path_regex), status, times, dict(headers or {}), body
                )
            )

    def secondary_rate_limit(
        self, method: str, path_regex: str, retry_after: int = 1, status: int = 403, times: int = 1
    ) -> None:
        """What GitHub answers to too many content-creating requests."""
        self.fail(
            method,
            path_regex,
            status,
            times,
            headers={"Retry-After": str(retry_after), "X-RateLimit-Remaining": "4000"},
            body={"message": SECONDARY_RATE_LIMIT, "documentation_url": DOCS},
        )

    def before(self, method: str, path_regex: str, fn: Callable[[], None], times: int = 1) -> None:
        """Run `fn` before serving the next `times` matching requests."""
        with self._lock:
            self._hooks.append(Hook(method.upper(), re.compile(path_regex), fn, times))

    def times(self, method: str, path_regex: str) -> list[float]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [
                t
                for r, t in zip(self.requests, self.request_times, strict=True)
                if r.method == method.upper() and pattern.search(r.path.split("?", 1)[0])
            ]

    # ------------------------------------------------------------------ git objects

    def make_commit(
        self, full_name: str, files: Mapping[str, bytes], parents: list[str], message: str
    ) -> str:
        """A commit made as the Git Data API makes it (for tests that set a branch up)."""
        store = self.git[full_name.lower()]
        with self._lock:
            tree = {}
            for path, data in files.items():
                sha = git_sha("blob", data)
                store.blobs[sha] = data
                tree[path] = {"path": path, "mode": "100644", "type": "blob", "sha": sha}
            tree_sha = self._store_tree(store, tree)
            return self._store_commit(full_name, store, tree_sha, parents, message)["sha"]

    def _store_tree(self, store: GitStore, tree: dict[str, JSONDict]) -> str:
        listing = "".join(f"{e['mode']} {p}\0{e['sha']}" for p, e in sorted(tree.items()))
        sha = git_sha("tree", listing.encode())
        store.trees[sha] = tree
        return sha

    def _store_commit(
        self, full_name: str, store: GitStore, tree: str, parents: list[str], message: str
    ) -> JSONDict:
        stamp = self._timestamp()
        text = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        text += f"author dvc-cml <x> {stamp}\n\n{message}"
        sha = git_sha("commit", text.encode())
        api = f"{self.api_url}/repos/{full_name}"
        commit = {
            "sha": sha,
            "node_id": f"C_{sha[:10]}",
            "url": f"{api}/git/commits/{sha}",
            "html_url": f"{self.url}/{full_name}/commit/{sha}",
            "author": {"name": "github-actions[bot]", "email": "bot@example", "date": stamp},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": stamp},
            "message": message,
            "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/git/commits/{p}",
                    "html_url": f"{self.url}/{full_name}/commit/{p}",
                }
                for p in parents
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
            },
        }
        store.commits[sha] = commit
        return commit

    def _descends(self, store: GitStore, sha: str, ancestor: str) -> bool:
        todo, seen = [sha], set()
        while todo:
            current = todo.pop()
            if current == ancestor:
                return True
            if current in seen or current not in store.commits:
                continue
            seen.add(current)
            todo += [p["sha"] for p in store.commits[current]["parents"]]
        return False

    # ------------------------------------------------------------------ request handling

    def _take_fault(self, method: str, path: str) -> Response | None:
        with self._lock:
            for hook in self._hooks:
                if (
                    hook.remaining > 0
                    and hook.method in ("*", method)
                    and hook.pattern.search(path)
                ):
                    hook.remaining -= 1
                    hook.fn()
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
        if body is None:
            phrase = HTTPStatus(fault.status).phrase
            body = {"message": phrase, "documentation_url": DOCS, "status": str(fault.status)}
        return json_response(fault.status, body, fault.headers)

    def _authenticate(self, headers: dict[str, str]) -> Token | None:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        with self._lock:
            return self.tokens.get(value.strip())

    def _dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None
    ) -> Response:
        split = urlsplit(target)
        raw_path = split.path
        fault = self._take_fault(method, raw_path)
        if fault is not None:
            return fault
        if body is None:
            return json_response(413, {"message": "Request body too large"})
        if not raw_path.startswith(API_PREFIX):
            return self._serve_raw(method, raw_path)
        rel = raw_path[len(API_PREFIX) :]
        for pattern, handlers in _ROUTES:
            match = pattern.fullmatch(rel)
            if match is None:
                continue
            handler = handlers.get(method)
            if handler is None:
                return json_response(404, {"message": "Not Found", "documentation_url": DOCS})
            break
        else:
            return json_response(404, {"message": "Not Found", "documentation_url": DOCS})

        token = self._authenticate(headers)
        if token is None:
            return json_response(
                401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            )
        query = parse_qsl(split.query, keep_blank_values=True)
        params: dict[str, Any] = dict(query)
        if body:
            try:
                data = json.loads(body.decode())
            except ValueError:
                return json_response(
                    400, {"message": "Problems parsing JSON", "documentation_url": DOCS}
                )
            if not isinstance(data, dict):
                return json_response(
                    400, {"message": "Problems parsing JSON", "documentation_url": DOCS}
                )
            params.update(data)
        ctx = Context(
            method=method,
            raw_path=raw_path,
            query=query,
            params=params,
            route={k: unquote(v) for k, v in match.groupdict().items()},
            token=token,
        )
        try:
            if "owner" in ctx.route:
                ctx.repo = self._repo(ctx.route["owner"], ctx.route["name"])
            response = handler(self, ctx)
        except HTTPError as e:
            response = json_response(e.status, e.payload)
        response.headers.update(_rate_headers())
        return response

    def _repo(self, owner: str, name: str) -> JSONDict:
        with self._lock:
            repo = self.repos.get(f"{owner}/{name}".lower())
        if repo is None:
            raise error(404, "Not Found", status="404")
        return repo

    def _require(self, ctx: Context, *permissions: str) -> None:
        """403 unless the token may write one of `permissions`."""
        if any(ctx.token.permissions.get(p) == "write" for p in permissions):
            return
        who = "integration" if ctx.token.app else "personal access token"
        raise error(403, f"Resource not accessible by {who}", status="403")

    def _paginate(self, ctx: Context, items: list[JSONDict]) -> Response:
        try:
            page = max(int(ctx.params.get("page") or 1), 1)
            per_page = int(ctx.params.get("per_page") or DEFAULT_PER_PAGE)
        except ValueError:
            raise error(422, "Invalid request.") from None
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        others = [(k, v) for k, v in ctx.query if k not in ("page", "per_page")]

        def link(n: int) -> str:
            return f"{self.url}{ctx.raw_path}?" + urlencode(
                [*others, ("per_page", str(per_page)), ("page", str(n))]
            )

        rels = []
        if page > 1:
            rels += [("prev", page - 1), ("first", 1)]
        if page < last:
            rels += [("next", page + 1), ("last", last)]
        headers = {}
        if rels:
            headers["Link"] = ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels)
        return json_response(200, chunk, headers)

    @staticmethod
    def _body(ctx: Context, limit: int) -> str:
        body = ctx.params.get("body")
        if not isinstance(body, str) or not body.strip():
            raise error(
                422,
                "Validation Failed",
                errors=[{"resource": "IssueComment", "code": "missing_field", "field": "body"}],
            )
        if len(body) > limit:
            raise error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "IssueComment",
                        "code": "custom",
                        "field": "body",
                        "message": f"Body is too long (maximum is {limit} characters)",
                    }
                ],
            )
        return body

    # ------------------------------------------------------------------ route handlers

    def _get_user(self, ctx: Context) -> Response:
        if ctx.token.app:
            raise error(403, "Resource not accessible by integration", status="403")
        return json_response(200, ctx.token.user)

    def _get_repo(self, ctx: Context) -> Response:
        return json_response(200, ctx.repo)

    def _key(self, ctx: Context) -> str:
        return str(ctx.repo["full_name"]).lower()

    def _pull(self, ctx: Context) -> JSONDict:
        with self._lock:
            pull = self.pulls.get((self._key(ctx), int(ctx.route["number"])))
        if pull is None:
            raise error(404, "Not Found", status="404")
        return pull

    def _list_pulls(self, ctx: Context) -> Response:
        state = ctx.params.get("state", "open")
        head = ctx.params.get("head")
        with self._lock:
            pulls = [
                copy.deepcopy(p)
                for (k, _), p in self.pulls.items()
                if k == self._key(ctx)
                and state in ("all", p["state"])
                and (head is None or p["head"]["label"] == head)
            ]
        pulls.sort(key=lambda p: p["number"], reverse=True)
        return self._paginate(ctx, pulls)

    def _get_pull(self, ctx: Context) -> Response:
        return json_response(200, self._pull(ctx))

    def _list_comments(self, ctx: Context) -> Response:
        key, number = self._key(ctx), int(ctx.route["number"])
        with self._lock:
            if (key, number) not in self._comments:
                raise error(404, "Not Found", status="404")
            comments = copy.deepcopy(self._comments[(key, number)])
        return self._paginate(ctx, comments)

    def _create_comment(self, ctx: Context) -> Response:
        key, number = self._key(ctx), int(ctx.route["number"])
        self._require(ctx, "pull_requests", "issues")
        body = self._body(ctx, self.comment_limit)
        with self._lock:
            if (key, number) not in self._comments:
                raise error(404, "Not Found", status="404")
            comment = self._comment_json(key, number, body, ctx.token.user)
            self._comments[(key, number)].append(comment)
            return json_response(201, comment)

    def _comment(self, ctx: Context) -> tuple[list[JSONDict], JSONDict]:
        cid = int(ctx.route["cid"])
        key = self._key(ctx)
        with self._lock:
            for (k, _), comments in self._comments.items():
                for comment in comments:
                    if k == key and comment["id"] == cid:
                        return comments, comment
        raise error(404, "Not Found", status="404")

    def _get_comment(self, ctx: Context) -> Response:
        return json_response(200, self._comment(ctx)[1])

    def _edit_comment(self, ctx: Context) -> Response:
        self._require(ctx, "pull_requests", "issues")
        body = self._body(ctx, self.comment_limit)
        with self._lock:
            _, comment = self._comment(ctx)
            comment["body"] = body
            comment["updated_at"] = self._timestamp()
            return json_response(200, comment)

    def _delete_comment(self, ctx: Context) -> Response:
        self._require(ctx, "pull_requests", "issues")
        with self._lock:
            comments, comment = self._comment(ctx)
            comments.remove(comment)
        return Response(204)

    def _commit(self, ctx: Context) -> JSONDict:
        key, ref = self._key(ctx), ctx.route["sha"]
        with self._lock:
            if (key, ref) in self._commits:
                return self._commits[(key, ref)]
            store = self.git[key]
            if ref in store.commits:
                made = store.commits[ref]
                return {
                    "sha": ref,
                    "url": f"{ctx.repo['url']}/commits/{ref}",
                    "html_url": made["html_url"],
                    "commit": {"message": made["message"], "tree": made["tree"]},
                    "parents": made["parents"],
                    "author": None,
                    "committer": None,
                }
        raise error(422, f"No commit found for SHA: {ref}", status="422")

    def _get_commit(self, ctx: Context) -> Response:
        return json_response(200, self._commit(ctx))

    def _commit_pulls(self, ctx: Context) -> Response:
        sha = self._commit(ctx)["sha"]
        with self._lock:
            pulls = [
                copy.deepcopy(p)
                for (k, _), p in self.pulls.items()
                if k == self._key(ctx) and p["head"]["sha"] == sha
            ]
        return self._paginate(ctx, pulls)

    def _list_commit_comments(self, ctx: Context) -> Response:
        sha = self._commit(ctx)["sha"]
        with self._lock:
            comments = copy.deepcopy(self._commit_comments.get((self._key(ctx), sha), []))
        return self._paginate(ctx, comments)

    def _create_commit_comment(self, ctx: Context) -> Response:
        sha = self._commit(ctx)["sha"]
        self._require(ctx, "contents")
        body = self._body(ctx, self.comment_limit)
        with self._lock:
            cid = self._next_id("comment") + 100_000
            stamp = self._timestamp()
            comment = {
                "id": cid,
                "node_id": f"CC_{cid}",
                "url": f"{ctx.repo['url']}/comments/{cid}",
                "html_url": f"{ctx.repo['html_url']}/commit/{sha}#commitcomment-{cid}",
                "body": body,
                "path": None,
                "position": None,
                "line": None,
                "commit_id": sha,
                "user": copy.deepcopy(ctx.token.user),
                "created_at": stamp,
                "updated_at": stamp,
                "author_association": "NONE",
            }
            self._commit_comments.setdefault((self._key(ctx), sha), []).append(comment)
            return json_response(201, comment)

    # Git Data API

    def _store(self, ctx: Context) -> GitStore:
        return self.git[self._key(ctx)]

    def _create_blob(self, ctx: Context) -> Response:
        self._require(ctx, "contents")
        content, encoding = ctx.params.get("content"), ctx.params.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise error(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
        if encoding == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except ValueError:
                raise error(422, "Invalid request.\n\ncontent is not valid Base64") from None
        elif encoding in ("utf-8", "utf8"):
            data = content.encode()
        else:
            raise error(422, f"encoding {encoding} is not supported")
        sha = git_sha("blob", data)
        with self._lock:
            self._store(ctx).blobs[sha] = data
        return json_response(201, {"sha": sha, "url": f"{ctx.repo['url']}/git/blobs/{sha}"})

    def _get_blob(self, ctx: Context) -> Response:
        sha = ctx.route["sha"]
        with self._lock:
            data = self._store(ctx).blobs.get(sha)
        if data is None:
            raise error(404, "Not Found", status="404")
        return json_response(
            200,
            {
                "sha": sha,
                "node_id": f"B_{sha[:10]}",
                "size": len(data),
                "url": f"{ctx.repo['url']}/git/blobs/{sha}",
                "content": base64.encodebytes(data).decode(),
                "encoding": "base64",
            },
        )

    def _tree_json(self, ctx: Context, sha: str, tree: dict[str, JSONDict]) -> JSONDict:
        entries = []
        for path, entry in sorted(tree.items()):
            size = len(self._store(ctx).blobs.get(entry["sha"], b""))
            entries.append(
                {
                    **entry,
                    "path": path,
                    "size": size,
                    "url": f"{ctx.repo['url']}/git/blobs/{entry['sha']}",
                }
            )
        return {
            "sha": sha,
            "url": f"{ctx.repo['url']}/git/trees/{sha}",
            "tree": entries,
            "truncated": False,
        }

    def _create_tree(self, ctx: Context) -> Response:
        self._require(ctx, "contents")
        items = ctx.params.get("tree")
        if not isinstance(items, list) or not items:
            raise error(422, "Invalid tree info")
        store = self._store(ctx)
        with self._lock:
            tree: dict[str, JSONDict] = {}
            if base := ctx.params.get("base_tree"):
                if base not in store.trees:
                    raise error(422, "base_tree is not a valid tree oid")
                tree = copy.deepcopy(store.trees[base])
            for item in items:
                path, mode, kind = item.get("path"), item.get("mode"), item.get("type")
                if not isinstance(path, str) or not path or path.startswith("/") or "//" in path:
                    raise error(422, "tree.path contains a malformed path component")
                if mode not in ("100644", "100755", "120000") or kind != "blob":
                    raise error(422, f"Must supply a valid tree.mode and tree.type for {path}")
                if "content" in item:
                    data = str(item["content"]).encode()
                    sha = git_sha("blob", data)
                    store.blobs[sha] = data
                else:
                    sha = item.get("sha")
                    if sha not in store.blobs:
                        raise error(422, f"tree.sha {sha} is not a valid blob")
                tree[path] = {"path": path, "mode": mode, "type": "blob", "sha": sha}
            sha = self._store_tree(store, tree)
            return json_response(201, self._tree_json(ctx, sha, tree))

    def _get_tree(self, ctx: Context) -> Response:
        with self._lock:
            tree = self._store(ctx).trees.get(ctx.route["sha"])
            if tree is None:
                raise error(404, "Not Found", status="404")
            return json_response(200, self._tree_json(ctx, ctx.route["sha"], tree))

    def _create_git_commit(self, ctx: Context) -> Response:
        self._require(ctx, "contents")
        store = self._store(ctx)
        message, tree, parents = (ctx.params.get(k) for k in ("message", "tree", "parents"))
        if not isinstance(message, str) or not isinstance(tree, str):
            raise error(422, 'Invalid request.\n\n"message", "tree" weren\'t supplied.')
        parents = parents or []
        with self._lock:
            if tree not in store.trees:
                raise error(422, "Tree SHA does not exist")
            for parent in parents:
                if parent not in store.commits:
                    raise error(422, "Parent SHA does not exist or is not a commit object")
            commit = self._store_commit(ctx.repo["full_name"], store, tree, list(parents), message)
            return json_response(201, commit)

    def _get_git_commit(self, ctx: Context) -> Response:
        with self._lock:
            commit = self._store(ctx).commits.get(ctx.route["sha"])
        if commit is None:
            raise error(404, "Not Found", status="404")
        return json_response(200, commit)

    def _ref_json(self, ctx: Context, ref: str, sha: str) -> JSONDict:
        url = f"{ctx.repo['url']}/git/{ref}"
        return {
            "ref": ref,
            "node_id": f"REF_{hashlib.sha1(ref.encode()).hexdigest()[:10]}",
            "url": url,
            "object": {"sha": sha, "type": "commit", "url": f"{ctx.repo['url']}/git/commits/{sha}"},
        }

    def _get_ref(self, ctx: Context) -> Response:
        ref = "refs/" + ctx.route["ref"]
        with self._lock:
            sha = self._store(ctx).refs.get(ref)
        if sha is None:
            raise error(404, "Not Found", status="404")
        return json_response(200, self._ref_json(ctx, ref, sha))

    def _create_ref(self, ctx: Context) -> Response:
        self._require(ctx, "contents")
        ref, sha = ctx.params.get("ref"), ctx.params.get("sha")
        if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
            raise error(
                422, "Reference name must start with 'refs/' and have at least two slashes."
            )
        store = self._store(ctx)
        with self._lock:
            if sha not in store.commits and not any(k[1] == sha for k in self._commits):
                raise error(422, "Object does not exist")
            if ref in store.refs:
                raise error(422, "Reference already exists")
            store.refs[ref] = sha
            return json_response(201, self._ref_json(ctx, ref, sha))

    def _update_ref(self, ctx: Context) -> Response:
        self._require(ctx, "contents")
        ref = "refs/" + ctx.route["ref"]
        sha, force = ctx.params.get("sha"), bool(ctx.params.get("force", False))
        store = self._store(ctx)
        with self._lock:
            if ref not in store.refs:
                raise error(422, "Reference does not exist")
            if sha not in store.commits:
                raise error(422, "Object does not exist")
            if not force and not self._descends(store, sha, store.refs[ref]):
                raise error(422, "Update is not a fast forward")
            store.refs[ref] = sha
            return json_response(200, self._ref_json(ctx, ref, sha))

    def _delete_ref(self, ctx: Context) -> Response:
        self._require(ctx, "contents")
        ref = "refs/" + ctx.route["ref"]
        with self._lock:
            if self._store(ctx).refs.pop(ref, None) is None:
                raise error(422, "Reference does not exist")
        return Response(204)

    def _serve_raw(self, method: str, raw_path: str) -> Response:
        """`/{owner}/{repo}/raw/{commit or branch}/{path}`, as a browser fetches it."""
        match = re.fullmatch(r"/([^/]+)/([^/]+)/raw/([^/]+)/(.+)", unquote(raw_path))
        not_found = Response(404, b"Not Found", "text/plain; charset=utf-8")
        if method != "GET" or match is None:
            return not_found
        owner, name, ref, path = match.groups()
        with self._lock:
            store = self.git.get(f"{owner}/{name}".lower())
            if store is None:
                return not_found
            sha = store.refs.get(f"refs/heads/{ref}", ref)
            commit = store.commits.get(sha)
            if commit is None:
                return not_found
            entry = store.trees[commit["tree"]["sha"]].get(path)
            if entry is None:
                return not_found
            data = store.blobs[entry["sha"]]
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return Response(200, data, ctype)


def _rate_headers() -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "4999",
        "X-RateLimit-Reset": str(int(time.time()) + 3600),
        "X-RateLimit-Used": "1",
        "X-RateLimit-Resource": "core",
        "X-GitHub-Api-Version-Selected": "2022-11-28",
    }


def _seg(name: str) -> str:
    return rf"(?P<{name}>[^/]+)"


_REPO = "repos/" + _seg("owner") + "/" + _seg("name")
_ROUTE_TABLE: list[tuple[str, dict[str, Handler]]] = [
    ("user", {"GET": FakeGitHub._get_user}),
    (_REPO, {"GET": FakeGitHub._get_repo}),
    (_REPO + "/pulls", {"GET": FakeGitHub._list_pulls}),
    (_REPO + r"/pulls/(?P<number>\d+)", {"GET": FakeGitHub._get_pull}),
    (
        _REPO + r"/issues/(?P<number>\d+)/comments",
        {"GET": FakeGitHub._list_comments, "POST": FakeGitHub._create_comment},
    ),
    (
        _REPO + r"/issues/comments/(?P<cid>\d+)",
        {
            "GET": FakeGitHub._get_comment,
            "PATCH": FakeGitHub._edit_comment,
            "DELETE": FakeGitHub._delete_comment,
        },
    ),
    (_REPO + "/commits/" + _seg("sha"), {"GET": FakeGitHub._get_commit}),
    (_REPO + "/commits/" + _seg("sha") + "/pulls", {"GET": FakeGitHub._commit_pulls}),
    (
        _REPO + "/commits/" + _seg("sha") + "/comments",
        {"GET": FakeGitHub._list_commit_comments, "POST": FakeGitHub._create_commit_comment},
    ),
    (_REPO + "/git/blobs", {"POST": FakeGitHub._create_blob}),
    (_REPO + "/git/blobs/" + _seg("sha"), {"GET": FakeGitHub._get_blob}),
    (_REPO + "/git/trees", {"POST": FakeGitHub._create_tree}),
    (_REPO + "/git/trees/" + _seg("sha"), {"GET": FakeGitHub._get_tree}),
    (_REPO + "/git/commits", {"POST": FakeGitHub._create_git_commit}),
    (_REPO + "/git/commits/" + _seg("sha"), {"GET": FakeGitHub._get_git_commit}),
    (_REPO + r"/git/ref/(?P<ref>.+)", {"GET": FakeGitHub._get_ref}),
    (_REPO + "/git/refs", {"POST": FakeGitHub._create_ref}),
    (
        _REPO + r"/git/refs/(?P<ref>.+)",
        {
            "GET": FakeGitHub._get_ref,
            "PATCH": FakeGitHub._update_ref,
            "DELETE": FakeGitHub._delete_ref,
        },
    ),
]
_ROUTES = [(re.compile(pattern), handlers) for pattern, handlers in _ROUTE_TABLE]


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A started FakeGitHub; fails the test if the fake itself raised while serving."""
    server = FakeGitHub().start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, f"the fake GitHub crashed: {server.errors!r}"
