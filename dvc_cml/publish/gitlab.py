"""The only module that talks to GitLab (through python-gitlab).

One sticky comment per merge request (found again by a hidden marker across every page of
notes), charts uploaded with the project uploads API, transient failures retried with a
bounded budget, and every failure turned into one actionable line that never holds the token.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dvc_cml.model import RenderedPlot, Report
from dvc_cml.publish.common import (
    RETRIES,
    Posted,
    PublishError,
    capped_retry,
    refuse_secrets,
    transport_failure,
)
from dvc_cml.publish.local import HTML_FILE
from dvc_cml.render import comment
from dvc_cml.render.mdtext import code
from dvc_cml.settings import GitLabSettings

if TYPE_CHECKING:
    import requests
    from gitlab.v4.objects import Project, ProjectMergeRequest

T = TypeVar("T")
log = logging.getLogger(__name__)

BACKOFF = 0.5  # seconds, doubled per retry (urllib3), capped by MAX_WAIT
MAX_WAIT = 30.0  # the longest a Retry-After may make us wait, per retry
TRANSIENT = (429, 500, 502, 503, 504)
UPLOAD_WORKERS = 4


def _session() -> requests.Session:
    """HTTP with a count-bound retry of 429/5xx and connection errors (each with a timeout).

    Not for uploads: python-gitlab streams multipart bodies, and a retry (its own or
    urllib3's) re-sends an already consumed stream and hangs until the timeout.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = capped_retry(Retry, MAX_WAIT)(
        total=RETRIES,
        backoff_factor=BACKOFF,
        backoff_max=MAX_WAIT,
        status_forcelist=TRANSIENT,
        allowed_methods=None,  # POST too: a duplicate note is removed after creation
        respect_retry_after_header=True,
        raise_on_status=True,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class GitLab:
    """A connection to one project, with errors translated for the user."""

    def __init__(self, settings: GitLabSettings, report_path: Path) -> None:
        self.settings = settings
        self.report_path = report_path
        self._check_config()
        import gitlab
        import requests

        assert settings.url and settings.token.value  # _check_config

        def client(session: requests.Session) -> gitlab.Gitlab:
            return gitlab.Gitlab(
                settings.url,
                private_token=settings.token.value,
                timeout=settings.timeout,
                ssl_verify=settings.ca_file or True,
                session=session,
                retry_transient_errors=False,  # the session retries
                user_agent="dvc-cml",
            )

        self.gl = client(_session())
        self.uploads = client(requests.Session())  # no transport retries: see upload()

    def fail(self, reason: str) -> PublishError:
        return PublishError(reason, self.report_path)

    def _check_config(self) -> None:
        s = self.settings
        if not s.token.value:
            if s.token.job_token_only:
                raise self.fail(
                    "only CI_JOB_TOKEN is available, and GitLab does not let a job token write "
                    "comments or upload files; create a project access token with the `api` "
                    "scope and store it as a masked (not protected) CI/CD variable named "
                    "DVC_CML_TOKEN"
                )
            raise self.fail(
                f"no GitLab token: looked at {', '.join('$' + n for n in s.token.looked_at)}; "
                "set one to a token with the `api` scope (or pass --token-env NAME)"
            )
        if not s.url:
            raise self.fail("no GitLab URL: pass --gitlab-url, or run in GitLab CI (CI_API_V4_URL)")
        if not s.project:
            raise self.fail(
                "no GitLab project: pass --project ID, or run in GitLab CI "
                "(CI_MERGE_REQUEST_PROJECT_ID / CI_PROJECT_ID)"
            )

    def call(self, what: str, fn: Callable[[], T], not_found: str | None = None) -> T:
        """Run one python-gitlab call, translating its failures into one line."""
        log.info("%s", what)
        try:
            return fn()
        except Exception as exc:
            raise self.translate(what, exc, not_found) from None

    def translate(self, what: str, exc: Exception, not_found: str | None = None) -> Exception:
        """The PublishError for a python-gitlab/requests failure (others are bugs: as is)."""
        import gitlab

        url, token = self.settings.url, self.settings.token
        if isinstance(exc, gitlab.exceptions.GitlabAuthenticationError):
            return self.fail(
                f"GitLab rejected the token in {token} while trying to {what} "
                "(401 Unauthorized: invalid, expired or revoked)"
            )
        if isinstance(exc, gitlab.exceptions.GitlabError):
            return self._http_failure(what, exc, not_found)
        reason = transport_failure(
            exc,
            forge="GitLab",
            url=str(url),
            what=what,
            timeout=self.settings.timeout,
            ca_hint="point CI_SERVER_TLS_CA_FILE or REQUESTS_CA_BUNDLE at the CA bundle of "
            "your GitLab",
        )
        return self.fail(reason) if reason else exc

    def _http_failure(self, what: str, exc: Any, not_found: str | None) -> PublishError:
        code = getattr(exc, "response_code", None)
        message = _scrub(str(getattr(exc, "error_message", "") or ""), self.settings)
        if code == 403:
            if "scope" in message or "insufficient" in message:
                return self.fail(
                    f"the token in {self.settings.token} lacks the `api` scope needed to "
                    f"{what} (403 insufficient_scope)"
                )
            return self.fail(
                f"the token in {self.settings.token} may not {what} (403 Forbidden: "
                "its user needs at least the Reporter role on the project)"
            )
        if code == 404:
            return self.fail(
                f"{not_found or 'not found'} while trying to {what} (404; with a valid "
                f"token this also means the token's user cannot see it) at {self.settings.url}"
            )
        if code == 413:
            return self.fail(f"GitLab refused to {what}: too large (413)")
        return self.fail(f"GitLab refused to {what} ({code}: {message[:200]})")

    def upload(self, project_id: int, name: str, data: bytes) -> str:
        """Upload one file, retrying transient failures with fresh bytes; return its URL."""
        import gitlab
        import requests

        project = self.uploads.projects.get(project_id, lazy=True)
        for attempt in range(RETRIES + 1):
            log.info("upload %s (attempt %d)", name, attempt + 1)
            try:
                return str(project.upload(name, filedata=data, obey_rate_limit=False)["url"])
            except (gitlab.exceptions.GitlabError, requests.exceptions.RequestException) as exc:
                code = getattr(exc, "response_code", None)
                transient = code in TRANSIENT or isinstance(
                    exc, requests.exceptions.RequestException
                )
                if not transient or attempt == RETRIES:
                    raise self.translate(f"upload {name}", exc) from None
            time.sleep(min(BACKOFF * 2**attempt, MAX_WAIT))
        raise AssertionError("unreachable")


def _scrub(text: str, settings: GitLabSettings) -> str:
    token = settings.token.value
    return text.replace(token, "[token]") if token else text


def upload_name(rel: str) -> str:
    """GitLab upload file names: only [A-Za-z0-9._-] (spaces break Markdown links)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(rel).name) or "plot.png"


def _upload_all(
    api: GitLab, project: Project, plots: Sequence[RenderedPlot], files: Mapping[str, bytes]
) -> list[RenderedPlot]:
    """Upload every image the report shows and point the plots at the uploaded URLs.

    An upload that fails leaves a readable note instead of a broken image.
    """
    wanted = [p.png for p in plots if p.png] + [rel for p in plots for _, rel in p.images]

    def upload(rel: str) -> tuple[str, str | None, str | None]:
        try:
            return rel, api.upload(project.id, upload_name(rel), files[rel]), None
        except PublishError as exc:
            return rel, None, exc.reason

    # A few at a time: dozens of charts upload in seconds, without tripping rate limits.
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
        results = list(pool.map(upload, wanted))
    uploaded = {rel: url for rel, url, _ in results if url is not None}
    failed = {rel: reason for rel, _, reason in results if reason is not None}

    out = []
    for plot in plots:
        notes = list(plot.notes)
        for rel in [plot.png or "", *(r for _, r in plot.images)]:
            if rel in failed:
                notes.append(f"{Path(rel).name} could not be uploaded: {failed[rel]}.")
        out.append(
            dataclasses.replace(
                plot,
                png=uploaded.get(plot.png) if plot.png else None,
                spec=None,  # the spec stays in the job artifacts
                images=tuple((rev, uploaded[rel]) for rev, rel in plot.images if rel in uploaded),
                notes=tuple(notes),
            )
        )
    return out


def artifact_path(path: Path, project_dir: str | None) -> str | None:
    """`path` as the job's `artifacts:paths` name it: relative to $CI_PROJECT_DIR, else to the
    directory the job runs in (gitlab-ci-local's shell executor runs jobs outside the
    $CI_PROJECT_DIR it reports).  None outside both: GitLab keeps no artifact from there."""
    path = path.resolve()
    for base in (Path(project_dir) if project_dir else None, Path.cwd()):
        if base is not None and path.is_relative_to(base.resolve()):
            return path.relative_to(base.resolve()).as_posix()
    return None


def _page_url(settings: GitLabSettings, report_path: Path) -> str | None:
    """report.html in the job's artifacts (GitLab shows it in the browser where Pages is on)."""
    rel = artifact_path(report_path.with_name(HTML_FILE), settings.project_dir)
    if not (settings.job_url and rel):
        return None
    return f"{settings.job_url}/artifacts/file/{rel}"


def _full_report_location(settings: GitLabSettings, report_path: Path) -> str:
    # The page, not report.md: the CI template keeps only report.html, to link it directly.
    if url := _page_url(settings, report_path):
        return f"[the job's artifacts]({url})"
    return code(str(report_path))


def _find_mr(api: GitLab, project: Project) -> ProjectMergeRequest | None:
    s = api.settings
    if s.mr_iid is not None:
        iid = s.mr_iid
        return api.call(
            f"read merge request !{iid}",
            lambda: project.mergerequests.get(iid),
            not_found=f"merge request !{iid} of project {s.project}",
        )
    if not s.commit_sha:
        raise api.fail(
            "no merge request to comment on: pass --mr IID (or run in a merge request "
            "pipeline, which sets CI_MERGE_REQUEST_IID)"
        )
    sha = s.commit_sha
    # A branch pipeline: the open MR whose source is this commit, if any.
    mrs = api.call(
        f"find merge requests of commit {sha[:8]}",
        lambda: project.commits.get(sha, lazy=True).merge_requests(get_all=True),
        not_found=f"commit {sha[:8]} in project {s.project}",
    )
    opened = [m for m in mrs if m.get("state") == "opened"]
    if not opened:
        return None
    iid = int(opened[0]["iid"])
    return api.call(f"read merge request !{iid}", lambda: project.mergerequests.get(iid))


def _our_notes(api: GitLab, mr: ProjectMergeRequest, user_id: int | None) -> list[Any]:
    marker = api.settings.marker
    # Every page: a busy MR has hundreds of notes and the API returns 20 per page by default.
    notes = api.call(
        f"read the notes of merge request !{mr.iid}",
        lambda: list(mr.notes.list(iterator=True, per_page=100, sort="asc")),
    )
    return [
        n
        for n in notes
        if not n.system
        and marker in (n.body or "")
        and (user_id is None or n.author.get("id") == user_id)
    ]


def _post_to_mr(api: GitLab, mr: ProjectMergeRequest, body: str, user_id: int | None) -> str:
    where = f"merge request !{mr.iid}"
    if not api.settings.new_comment:
        existing = _our_notes(api, mr, user_id)
        if existing:
            note = existing[-1]  # the most recent one we wrote
            note.body = body
            api.call(f"update the comment on {where}", note.save)
            return "updated"
    created = api.call(f"comment on {where}", lambda: mr.notes.create({"body": body}))
    if not api.settings.new_comment:
        _dedupe(api, mr, created, body, user_id)
    return "created"


def _dedupe(
    api: GitLab, mr: ProjectMergeRequest, created: Any, body: str, user_id: int | None
) -> None:
    """Two jobs may have created a comment at once: keep the oldest, with our body."""
    ours = _our_notes(api, mr, user_id)
    if len(ours) <= 1:
        return
    keep = min(ours, key=lambda n: n.id)
    if keep.id != created.id:
        keep.body = body
        api.call("update the comment", keep.save)
    for note in ours:
        if note.id != keep.id:
            api.call("remove a duplicate comment", lambda note=note: _delete(mr, note.id))  # type: ignore[misc]


def _delete(mr: ProjectMergeRequest, note_id: int) -> None:
    """Delete a note; one already gone is fine (the other job's dedupe removed it first)."""
    import gitlab

    try:
        mr.notes.delete(note_id)
    except gitlab.exceptions.GitlabDeleteError as exc:
        if exc.response_code != 404:
            raise


def _body(
    settings: GitLabSettings,
    report: Report,
    plots: Sequence[RenderedPlot],
    report_path: Path,
) -> str:
    footer = comment.footer(
        report,
        (settings.pipeline_id, settings.pipeline_url),
        (settings.job_id, settings.job_url, settings.job_name),
    )
    return comment.body(
        report,
        plots,
        marker=settings.marker,
        footer_text=footer,
        full_report=_full_report_location(settings, report_path),
        page_url=_page_url(settings, report_path),
    )


def publish(
    settings: GitLabSettings,
    report: Report,
    plots: Sequence[RenderedPlot],
    files: Mapping[str, bytes],
    report_path: Path,
    out_dir: Path,
) -> Posted:
    """Post (or update) the report comment; the report must already be on disk.

    With `settings.dry_run`, only read calls are made (none at all without a token), and the
    body that would be posted is returned.
    """
    if settings.dry_run and not (settings.token.value and settings.url and settings.project):
        body = _body(settings, report, plots, report_path)
        where = "GitLab not contacted (no token, URL or project)"
        return Posted("dry run", where, None, body, dry_run=True)

    if not settings.dry_run:
        # Every file, the charts' specs too (their text is drawn into the PNGs).
        refuse_secrets(
            settings.token.value,
            report_path,
            _body(settings, report, plots, report_path),
            *files.values(),
        )
    api = GitLab(settings, report_path)
    project_id = settings.project
    assert project_id is not None
    # By path, fetch the project for its numeric id: a lazy project addressed by path
    # double-encodes the path in upload URLs.
    project = api.call(
        f"open project {project_id}",
        lambda: api.gl.projects.get(project_id),
        not_found=f"project {project_id!r}",
    )
    mr = _find_mr(api, project)
    posted_plots = list(plots) if settings.dry_run else _upload_all(api, project, plots, files)
    body = _body(settings, report, posted_plots, report_path)
    if mr is None:
        sha = settings.commit_sha or report.head.sha or ""
        where = f"commit {sha[:8]} of {project.path_with_namespace}"
        if settings.dry_run:
            return Posted("dry run", where, None, body, dry_run=True)
        commit = project.commits.get(sha, lazy=True)
        api.call(f"comment on commit {sha[:8]}", lambda: commit.comments.create({"note": body}))
        return Posted("commit comment", where, f"{project.web_url}/-/commit/{sha}", body)

    where = f"merge request !{mr.iid} of {project.path_with_namespace}"
    if settings.dry_run:
        return Posted("dry run", where, mr.web_url, body, dry_run=True)
    user = api.call("identify the token's user", lambda: api.gl.http_get("/user"))
    user_id = user.get("id") if isinstance(user, dict) else None
    action = _post_to_mr(api, mr, body, user_id)
    return Posted(action, where, mr.web_url, body)
