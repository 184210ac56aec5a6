"""The only module that talks to GitHub (through PyGithub).

One sticky comment per pull request, found again by a hidden marker across every page of
its comments and only among the token's own; the charts committed to a dedicated branch of
the same repository through the Git Data API (blobs, tree, commit, ref: no clone) and linked
by commit, so they render for everyone who can read the repository and no third-party host
sees them.  Rate limits and server errors are retried within a bounded budget, and every
failure becomes one actionable line that never holds the token.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from dvc_cml.model import RenderedPlot, Report
from dvc_cml.publish.common import (
    RETRIES,
    Posted,
    PublishError,
    capped_retry,
    refuse_secrets,
    transport_failure,
)
from dvc_cml.render import comment
from dvc_cml.render.mdtext import code
from dvc_cml.settings import GitHubSettings

if TYPE_CHECKING:
    from github.Commit import Commit
    from github.IssueComment import IssueComment
    from github.MainClass import Github
    from github.PullRequest import PullRequest
    from github.Repository import Repository

T = TypeVar("T")
log = logging.getLogger(__name__)

BACKOFF = 0.5  # seconds, doubled per retry (urllib3), capped by MAX_WAIT
# GitHub asks to wait at least a minute after a secondary rate limit that names no time.
MAX_WAIT = 60.0
TRANSIENT = (429, 500, 502, 503, 504)  # PyGithub's retry adds 403 when it is a rate limit
# Comments written with the Actions token are by this bot; that token cannot call GET /user.
ACTIONS_BOT = "github-actions[bot]"
# GitHub's secondary limit allows about 80 content-creating requests a minute: a burst is
# fine, a hundred charts are paced.
BURST_WRITES = 20
WRITE_INTERVAL = 0.75
REF_ATTEMPTS = 3  # another job moved the images branch meanwhile: commit again on top

ASSETS_README = """\
# dvc-cml report images

Charts shown in dvc-cml's pull-request comments, one folder per workflow run. Each commit
holds one run's files; earlier runs stay reachable through the history, so earlier comments
keep their images. Nothing else is ever written here.

To prune: delete this branch (`git push origin --delete {branch}`). Comments posted before
then lose their images; the next run starts the branch again.
"""


class Refused(PublishError):
    """GitHub answered with an error status (kept, so callers can fall back on a 403)."""

    def __init__(self, reason: str, report_path: Path, status: int | None) -> None:
        super().__init__(reason, report_path)
        self.status = status


class Pacer:
    """Spaces content-creating requests once a burst is spent (GitHub's secondary limit)."""

    def __init__(
        self,
        burst: int = BURST_WRITES,
        interval: float = WRITE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.burst, self.interval, self.clock, self.sleep = burst, interval, clock, sleep
        self.count = 0
        self.last: float | None = None

    def wait(self) -> None:
        self.count += 1
        now = self.clock()
        if self.count > self.burst and self.last is not None:
            delay = self.last + self.interval - now
            if delay > 0:
                self.sleep(delay)
                now += delay
        self.last = now


def _quiet_pygithub() -> None:
    """`import github` logs INFO to the stderr of the moment (each retried 403, say): keep
    only --verbose's handler (it carries a redacting filter), and warnings otherwise."""
    logger = logging.getLogger("github")
    for handler in [h for h in logger.handlers if not h.filters]:
        logger.removeHandler(handler)
    logger.setLevel(logging.INFO if logger.handlers else logging.WARNING)


def _client(settings: GitHubSettings) -> Github:
    """PyGithub with a bounded retry: 429/5xx, rate-limit 403s (honouring Retry-After, at
    most MAX_WAIT), connection errors; its own request spacing is replaced by `Pacer`."""
    import github
    from github.GithubRetry import GithubRetry

    _quiet_pygithub()

    retry = capped_retry(GithubRetry, MAX_WAIT)(
        total=RETRIES,
        backoff_factor=BACKOFF,
        backoff_max=MAX_WAIT,
        status_forcelist=list(TRANSIENT),
        allowed_methods=None,  # POST too: a duplicate comment is removed after creation
        respect_retry_after_header=True,
        raise_on_status=True,
        secondary_rate_wait=MAX_WAIT,
        max_rate_limit_wait=MAX_WAIT,  # a primary limit resetting later fails instead
    )
    assert settings.token.value  # checked by GitHub._check_config
    return github.Github(
        auth=github.Auth.Token(settings.token.value),
        base_url=settings.api_url,
        timeout=int(settings.timeout),
        user_agent="dvc-cml",
        per_page=100,  # GitHub's maximum: a busy pull request is read in few requests
        verify=settings.ca_file or True,
        retry=retry,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


class GitHub:
    """A connection to one repository, with errors translated for the user."""

    def __init__(self, settings: GitHubSettings, report_path: Path) -> None:
        self.settings = settings
        self.report_path = report_path
        self._check_config()
        self.gh = _client(settings)
        self.pacer = Pacer()

    def fail(self, reason: str, status: int | None = None) -> Refused:
        return Refused(reason, self.report_path, status)

    def _check_config(self) -> None:
        s = self.settings
        if not s.token.value:
            names = ", ".join("$" + n for n in s.token.looked_at)
            hint = (
                "GitHub Actions does not put its token in the environment by itself: add "
                "`env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step"
                if s.in_actions
                else "set one to a token that may write the repository's pull requests"
            )
            raise self.fail(
                f"no GitHub token: looked at {names}; {hint} (or pass --token-env NAME)"
            )
        if not s.repo or not re.fullmatch(r"[\w.-]+/[\w.-]+", s.repo):
            raise self.fail(
                "no GitHub repository: pass --repo OWNER/NAME, or run in GitHub Actions "
                "(GITHUB_REPOSITORY)"
            )

    def call(
        self, what: str, fn: Callable[[], T], not_found: str | None = None, write: bool = False
    ) -> T:
        """Run one PyGithub call, translating its failures into one line."""
        log.info("%s", what)
        if write:
            self.pacer.wait()
        try:
            return fn()
        except Exception as exc:
            raise self.translate(what, exc, not_found) from None

    def translate(self, what: str, exc: Exception, not_found: str | None = None) -> Exception:
        """The Refused for a PyGithub/requests failure (others are bugs: as is)."""
        import github

        s = self.settings
        if isinstance(exc, github.BadCredentialsException) or (
            isinstance(exc, github.GithubException) and exc.status == 401
        ):
            return self.fail(
                f"GitHub rejected the token in {s.token} while trying to {what} "
                "(401 Bad credentials: invalid, expired or revoked)",
                401,
            )
        if isinstance(exc, github.RateLimitExceededException):
            return self.fail(
                f"the GitHub API rate limit of the token in {s.token} is used up{_reset(exc)} "
                f"while trying to {what}",
                exc.status,
            )
        if isinstance(exc, github.GithubException):
            return self._http_failure(what, exc, not_found)
        reason = transport_failure(
            exc,
            forge="GitHub",
            url=s.api_url,
            what=what,
            timeout=s.timeout,
            ca_hint="point REQUESTS_CA_BUNDLE at the CA bundle of your GitHub Enterprise Server",
        )
        return self.fail(reason) if reason else exc

    def _http_failure(self, what: str, exc: Any, not_found: str | None) -> Refused:
        s = self.settings
        code = exc.status
        message = _scrub(_message(exc.data), s)
        if code == 403:
            if s.fork and s.event_name == "pull_request":
                return self.fail(
                    f"the token in {s.token} may not {what} (403 {message}): GitHub gives "
                    "`pull_request` runs from forks a read-only token. To comment on pull "
                    "requests from forks, run dvc-cml on `pull_request_target` (check out "
                    "refs/pull/N/merge and run none of the pull request's code in that job) "
                    "or in a `workflow_run` job that follows this workflow; see 'Pull "
                    "requests from forks' in dvc-cml's docs/github.md",
                    403,
                )
            need = (
                "give the workflow `permissions: pull-requests: write` (and `contents: write` "
                "for the charts)"
                if s.in_actions
                else "the token needs write access to the repository's pull requests "
                "(fine-grained: Pull requests and Contents, read and write; classic: `repo`)"
            )
            return self.fail(f"the token in {s.token} may not {what} (403 {message}): {need}", 403)
        if code == 404:
            return self.fail(
                f"{not_found or 'not found'} while trying to {what} (404; with a valid token "
                f"this also means the token cannot see it) at {s.api_url}",
                404,
            )
        return self.fail(f"GitHub refused to {what} ({code}: {message[:300]})", code)


def _message(data: Any) -> str:
    """GitHub's error text: `message`, plus the validation errors' own messages."""
    if not isinstance(data, Mapping):
        return str(data or "").strip()[:300]
    parts = [str(data.get("message") or "").strip()]
    for error in data.get("errors") or []:
        text = error.get("message") if isinstance(error, Mapping) else error
        if text and str(text) not in parts:
            parts.append(str(text))
    return ": ".join(p for p in parts if p)


def _reset(exc: Any) -> str:
    value = (exc.headers or {}).get("x-ratelimit-reset") or ""
    if not str(value).isdigit():
        return ""
    when = datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc)
    return f" until {when:%H:%M} UTC"


def _scrub(text: str, settings: GitHubSettings) -> str:
    token = settings.token.value
    return text.replace(token, "[token]") if token else text


def _too_long(error: Refused) -> bool:
    return error.status == 422 and "too long" in error.reason.lower()


# ---------------------------------------------------------------------- images


def git_blob_sha(data: bytes) -> str:
    """The id git gives these bytes: identical images are sent once."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def run_folder(settings: GitHubSettings, pr_number: int | None, sha: str | None) -> str:
    """A folder unique to this run (and --id) on the images branch."""
    scope = f"pr-{pr_number}" if pr_number else f"commit-{(sha or 'unknown')[:12]}"
    if settings.run_id:
        run = f"run-{settings.run_id}-{settings.run_attempt or '1'}"
    else:  # outside Actions: a time stamp, and a nonce against two runs in one second
        now = datetime.datetime.now(datetime.timezone.utc)
        run = f"local-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    return f"{scope}/{run}" + (f"/{settings.report_id}" if settings.report_id else "")


def _commit_images(
    api: GitHub,
    repo: Repository,
    files: Mapping[str, bytes],
    folder: str,
    protected: set[str],
    message: str,
) -> dict[str, str]:
    """Commit `files` under `folder` on the images branch; their raw URLs by relative path.

    The commit's tree holds this run's files only; its parent is the branch's previous head,
    so every earlier run stays reachable (and its comment's images with it).
    """
    from github import GithubException, InputGitTreeElement

    branch = api.settings.images_branch
    assert branch
    if branch in protected:
        raise api.fail(
            f"refusing to commit charts to branch {branch!r}: it is the default branch or a "
            "branch of the pull request; pick another --images-branch"
        )
    blobs: dict[str, str] = {}  # git sha -> created blob sha
    elements = [
        InputGitTreeElement(
            "README.md", "100644", "blob", content=ASSETS_README.format(branch=branch)
        )
    ]
    paths: dict[str, str] = {}
    for rel, data in files.items():
        sha = git_blob_sha(data)
        if sha not in blobs:
            content = base64.b64encode(data).decode("ascii")
            blob = api.call(
                f"store {PurePosixPath(rel).name} in the repository",
                lambda content=content: repo.create_git_blob(content, "base64"),  # type: ignore[misc]
                write=True,
            )
            blobs[sha] = blob.sha
        paths[rel] = f"{folder}/{rel}"
        elements.append(InputGitTreeElement(paths[rel], "100644", "blob", sha=blobs[sha]))
    tree = api.call("build the charts' tree", lambda: repo.create_git_tree(elements), write=True)

    ref_name = f"heads/{branch}"
    for _ in range(REF_ATTEMPTS):
        try:
            log.info("read branch %s", branch)
            ref: Any = repo.get_git_ref(ref_name)
        except Exception as exc:
            if not (isinstance(exc, GithubException) and exc.status == 404):
                raise api.translate(f"read branch {branch}", exc) from None
            ref = None  # the first run: an orphan branch
        commit = _commit_on(api, repo, tree, ref.object.sha if ref else None, message)
        try:
            log.info("move branch %s to %s", branch, commit.sha[:8])
            api.pacer.wait()
            if ref is None:
                repo.create_git_ref(f"refs/{ref_name}", commit.sha)
            else:
                ref.edit(commit.sha, force=False)
        except Exception as exc:
            # Created meanwhile (422 "Reference already exists") or moved (422 "not a fast
            # forward"): another job won the race; commit again on top of its head.
            if isinstance(exc, GithubException) and exc.status == 422:
                continue
            raise api.translate(f"update branch {branch}", exc) from None
        server, name = api.settings.server_url, api.settings.repo
        return {
            rel: f"{server}/{name}/raw/{commit.sha}/{quote(path)}" for rel, path in paths.items()
        }
    raise api.fail(f"branch {branch} kept moving while the charts were committed to it")


def _commit_on(api: GitHub, repo: Repository, tree: Any, parent: str | None, message: str) -> Any:
    """A commit of `tree` whose parent is `parent` (None: an orphan, the branch's first)."""
    parents = []
    if parent is not None:
        parents = [api.call(f"read commit {parent[:8]}", lambda: repo.get_git_commit(parent))]
    branch = api.settings.images_branch
    return api.call(
        f"commit the charts to branch {branch}",
        lambda: repo.create_git_commit(message, tree, parents),
        write=True,
    )


def _with_images(
    api: GitHub,
    repo: Repository,
    plots: Sequence[RenderedPlot],
    files: Mapping[str, bytes],
    pr: PullRequest | None,
    where: str,
) -> tuple[list[RenderedPlot], str]:
    """The plots pointing at committed images, or (failing that) at the artifacts, and a
    line for the top of the comment saying why images are not shown."""
    s = api.settings
    wanted = [p.png for p in plots if p.png] + [rel for p in plots for _, rel in p.images]
    if not wanted:
        return list(plots), ""
    # Plot notes are plain text: they name the place, the note at the top links it.
    place = "the run's artifacts" if s.run_url else "the report directory"
    if s.images_branch is None:
        note = f"Charts are not shown here (--no-images-branch): they are in {where}."
        return comment.without_images(plots, place), note
    sha = s.commit_sha or ""
    folder = run_folder(s, pr.number if pr else None, sha)
    protected = {repo.default_branch}
    if pr is not None:
        protected |= {pr.head.ref, pr.base.ref}
    what = f"pull request #{pr.number}" if pr else f"commit {sha[:8]}"
    message = f"dvc-cml: charts for {what}" + (f" (run {s.run_id})" if s.run_id else "")
    try:
        urls = _commit_images(
            api, repo, {rel: files[rel] for rel in wanted}, folder, protected, message
        )
    except Refused as exc:
        reason = exc.reason
        if exc.status in (403, 404):
            reason = (
                f"the token in {s.token} may not write to the repository (branch "
                f"{s.images_branch}, {exc.status}); that needs `contents: write`"
                + (", which pull requests from forks do not get" if s.fork else "")
            )
        log.info("charts not committed: %s", reason)
        return comment.without_images(plots, place), (
            f"Charts are not shown here: {reason}. They are in {where}."
        )
    out = []
    for plot in plots:
        out.append(
            dataclasses.replace(
                plot,
                png=urls[plot.png] if plot.png else None,
                spec=None,  # the spec stays in the run's artifacts
                images=tuple((rev, urls[rel]) for rev, rel in plot.images),
            )
        )
    return out, ""


# ---------------------------------------------------------------------- comments


def _full_report_location(settings: GitHubSettings, report_path: Path) -> str:
    if settings.run_url:
        return f"[the run's artifacts]({settings.run_url}#artifacts)"
    return code(str(report_path))


def _body(
    settings: GitHubSettings,
    report: Report,
    plots: Sequence[RenderedPlot],
    report_path: Path,
    intro: str = "",
    limit: int | None = None,
) -> str:
    footer = comment.footer(
        report,
        (settings.run_id, settings.run_url),
        (None, None, settings.job_name),
        run_noun="workflow run",
    )
    return comment.body(
        report,
        plots,
        marker=settings.marker,
        footer_text=footer,
        full_report=_full_report_location(settings, report_path),
        limit=limit,
        rules=comment.GITHUB,
        intro=intro,
    )


def _find_pr(api: GitHub, repo: Repository) -> PullRequest | None:
    """The pull request to comment on: --pr or the event's; else the open one of the commit."""
    s = api.settings
    if s.pr_number is not None:
        number = s.pr_number
        return api.call(
            f"read pull request #{number}",
            lambda: repo.get_pull(number),
            not_found=f"pull request #{number} of {s.repo}",
        )
    found: list[PullRequest] = []
    if s.head_label:
        # A fork's head commit is not in this repository: find its PR by owner:branch.
        label = s.head_label
        found = api.call(
            f"find the open pull request of {label}",
            lambda: list(repo.get_pulls(state="open", head=label)),
        )
        found = [p for p in found if not s.commit_sha or p.head.sha == s.commit_sha] or found
    if not found and s.commit_sha:
        sha = s.commit_sha
        commit: Commit = api.call(
            f"read commit {sha[:8]}",
            lambda: repo.get_commit(sha),
            not_found=f"commit {sha[:8]} in {s.repo}",
        )
        found = api.call(
            f"find pull requests of commit {sha[:8]}",
            lambda: [p for p in commit.get_pulls() if p.state == "open"],
        )
    if found:
        return found[0]
    if not s.commit_sha:
        raise api.fail(
            "no pull request to comment on: pass --pr N (or run on `pull_request` events, "
            "whose payload names it)"
        )
    return None


def _identity(api: GitHub) -> str:
    """The login whose comments are ours.  The Actions token may not call GET /user."""
    from github import GithubException

    log.info("identify the token's user")
    try:
        return str(api.gh.get_user().login)
    except GithubException as exc:
        if exc.status == 403:  # "Resource not accessible by integration"
            log.info("GET /user is forbidden: an app token, commenting as %s", ACTIONS_BOT)
            return ACTIONS_BOT
        raise api.translate("identify the token's user", exc) from None
    except Exception as exc:
        raise api.translate("identify the token's user", exc) from None


def _our_comments(api: GitHub, pr: PullRequest, login: str) -> list[IssueComment]:
    marker = api.settings.marker

    def mine() -> list[IssueComment]:
        # Every page (100 a page, following `Link`): a busy pull request has hundreds.
        return [
            c
            for c in pr.get_issue_comments()
            if marker in (c.body or "") and c.user is not None and c.user.login == login
        ]

    return api.call(f"read the comments of pull request #{pr.number}", mine)


def _post_to_pr(api: GitHub, pr: PullRequest, body: str, login: str) -> str:
    where = f"pull request #{pr.number}"
    if not api.settings.new_comment:
        existing = _our_comments(api, pr, login)
        if existing:
            note = existing[-1]  # the most recent one we wrote
            api.call(f"update the comment on {where}", lambda: note.edit(body), write=True)
            return "updated"
    created = api.call(f"comment on {where}", lambda: pr.create_issue_comment(body), write=True)
    if not api.settings.new_comment:
        _dedupe(api, pr, created, body, login)
    return "created"


def _dedupe(api: GitHub, pr: PullRequest, created: IssueComment, body: str, login: str) -> None:
    """Two jobs may have created a comment at once: keep the oldest, with our body."""
    ours = _our_comments(api, pr, login)
    if len(ours) <= 1:
        return
    keep = min(ours, key=lambda c: c.id)
    if keep.id != created.id:
        api.call("update the comment", lambda: keep.edit(body), write=True)
    for other in ours:
        if other.id != keep.id:
            api.call("remove a duplicate comment", other.delete)


def _post(api: GitHub, render: Callable[[int | None], str], post: Callable[[str], T]) -> T:
    """Post the rendered body; if GitHub counts it over the limit (422), once more at half."""
    try:
        return post(render(None))
    except Refused as exc:
        if not _too_long(exc):
            raise
        log.info("GitHub measured the comment as too long: trimming to half the limit")
        return post(render(comment.GITHUB.limit // 2))


def publish(
    settings: GitHubSettings,
    report: Report,
    plots: Sequence[RenderedPlot],
    files: Mapping[str, bytes],
    report_path: Path,
    out_dir: Path,
) -> Posted:
    """Post (or update) the report comment; the report must already be on disk.

    With `settings.dry_run`, only read calls are made (none at all without a token or a
    repository), and the body that would be posted is returned.
    """
    if settings.dry_run and not (settings.token.value and settings.repo):
        body = _body(settings, report, plots, report_path)
        return Posted(
            "dry run", "GitHub not contacted (no token or repository)", None, body, dry_run=True
        )

    if not settings.dry_run:
        # Every file, the charts' specs too (their text is drawn into the PNGs).
        refuse_secrets(
            settings.token.value,
            report_path,
            _body(settings, report, plots, report_path),
            *files.values(),
        )
    api = GitHub(settings, report_path)
    name = settings.repo
    assert name is not None  # _check_config
    repo = api.call(
        f"open repository {name}", lambda: api.gh.get_repo(name), not_found=f"repository {name!r}"
    )
    pr = _find_pr(api, repo)
    if settings.dry_run:
        posted_plots, intro = list(plots), ""
    else:
        where = _full_report_location(settings, report_path)
        posted_plots, intro = _with_images(api, repo, plots, files, pr, where)

    def render(limit: int | None) -> str:
        return _body(settings, report, posted_plots, report_path, intro, limit)

    if pr is None:
        sha = settings.commit_sha or report.head.sha or ""
        where = f"commit {sha[:8]} of {repo.full_name}"
        if settings.dry_run:
            return Posted("dry run", where, None, render(None), dry_run=True)
        commit = api.call(f"read commit {sha[:8]}", lambda: repo.get_commit(sha))
        posted = _post(
            api,
            render,
            lambda body: (
                api.call(
                    f"comment on commit {sha[:8]}", lambda: commit.create_comment(body), write=True
                ),
                body,
            ),
        )
        url = f"{settings.server_url}/{name}/commit/{sha}"
        return Posted("commit comment", where, url, posted[1])

    where = f"pull request #{pr.number} of {repo.full_name}"
    if settings.dry_run:
        return Posted("dry run", where, pr.html_url, render(None), dry_run=True)
    login = _identity(api)
    action, body = _post(api, render, lambda body: (_post_to_pr(api, pr, body, login), body))
    return Posted(action, where, pr.html_url, body)
