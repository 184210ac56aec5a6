"""Posting settings, built once from flags and the CI environment (GitLab CI, GitHub Actions).

Nothing here talks to the network or raises for missing values: the report is written first,
and the publisher explains what is missing (with the report's path) when it needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dvc_cml.ci import github_event

TOKEN_VARS = ("DVC_CML_TOKEN", "GITLAB_TOKEN", "REPO_TOKEN")
GITHUB_TOKEN_VARS = ("DVC_CML_TOKEN", "GITHUB_TOKEN", "REPO_TOKEN")
REPORT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
GITHUB_COM_API = "https://api.github.com"
DEFAULT_IMAGES_BRANCH = "dvc-cml-assets"
# --pull gives up after this many seconds (fetch and checkout together): a remote that accepts
# connections and never answers would otherwise hold a CI job until the job's own timeout.
DEFAULT_PULL_TIMEOUT = 600


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def in_gitlab_ci(env: Mapping[str, str]) -> bool:
    return truthy(env.get("GITLAB_CI"))


def in_github_actions(env: Mapping[str, str]) -> bool:
    return truthy(env.get("GITHUB_ACTIONS"))


def not_posting(env: Mapping[str, str]) -> str | None:
    """Why a run given a merge request's variables posts nothing, when posting was left to
    detection: a runner other than GitLab's (gitlab-ci-local) does not set GITLAB_CI."""
    iid = env.get("CI_MERGE_REQUEST_IID", "").strip()
    if not iid or in_gitlab_ci(env):
        return None
    return (
        f"not posting to merge request !{iid}: GITLAB_CI is not true (a runner other than "
        "GitLab's?); pass --post to post"
    )


def marker(report_id: str | None) -> str:
    """The hidden tag that makes the comment findable (and per --id, one per job)."""
    suffix = f":{report_id}" if report_id else ""
    return f"<!-- dvc-cml:report{suffix} -->"


@dataclass(frozen=True)
class Token:
    value: str | None = field(repr=False)  # never printed, logged or put in an exception
    source: str | None  # the variable it came from
    looked_at: tuple[str, ...]
    job_token_only: bool  # CI_JOB_TOKEN is set but none of the above

    def __str__(self) -> str:
        return f"${self.source}" if self.source else "no token"


@dataclass(frozen=True)
class GitLabSettings:
    url: str | None
    project: str | None  # numeric id (preferred) or "group/project"
    token: Token
    mr_iid: int | None
    commit_sha: str | None  # what a commit comment attaches to; the MR head in merged results
    ca_file: str | None
    report_id: str | None
    new_comment: bool
    dry_run: bool
    pipeline_id: str | None
    pipeline_url: str | None
    job_id: str | None
    job_url: str | None
    job_name: str | None
    project_dir: str | None = None  # $CI_PROJECT_DIR: where the job's artifacts:paths start
    timeout: float = 30.0

    @property
    def marker(self) -> str:
        return marker(self.report_id)


def _api_base(env: Mapping[str, str]) -> str | None:
    api = env.get("CI_API_V4_URL", "").rstrip("/")
    if api.endswith("/api/v4"):
        return api[: -len("/api/v4")]  # keeps a sub-path: https://host/gitlab
    return env.get("CI_SERVER_URL", "").rstrip("/") or None


def find_token(
    env: Mapping[str, str], token_env: str | None, defaults: tuple[str, ...] = TOKEN_VARS
) -> Token:
    names = (token_env,) if token_env else defaults
    for name in names:
        if value := env.get(name, "").strip():
            return Token(value, name, names, job_token_only=False)
    return Token(None, None, names, job_token_only=bool(env.get("CI_JOB_TOKEN")))


def gitlab_settings(
    env: Mapping[str, str],
    *,
    url: str | None = None,
    project: str | None = None,
    token_env: str | None = None,
    mr: int | None = None,
    report_id: str | None = None,
    new_comment: bool = False,
    dry_run: bool = False,
) -> GitLabSettings:
    mr_iid = mr if mr is not None else _int(env.get("CI_MERGE_REQUEST_IID"))
    return GitLabSettings(
        url=(url or "").rstrip("/") or _api_base(env),
        project=project
        or env.get("CI_MERGE_REQUEST_PROJECT_ID")
        or env.get("CI_PROJECT_ID")
        or None,
        token=find_token(env, token_env),
        mr_iid=mr_iid,
        # In a merged-results pipeline CI_COMMIT_SHA is a temporary merge commit.
        commit_sha=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or env.get("CI_COMMIT_SHA"),
        ca_file=env.get("CI_SERVER_TLS_CA_FILE") or env.get("REQUESTS_CA_BUNDLE") or None,
        report_id=report_id,
        new_comment=new_comment,
        dry_run=dry_run,
        pipeline_id=env.get("CI_PIPELINE_ID"),
        pipeline_url=env.get("CI_PIPELINE_URL"),
        job_id=env.get("CI_JOB_ID"),
        job_url=env.get("CI_JOB_URL"),
        job_name=env.get("CI_JOB_NAME"),
        project_dir=env.get("CI_PROJECT_DIR") or None,
    )


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str  # https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server
    server_url: str  # https://github.com, or https://HOST: where raw files and runs are served
    repo: str | None  # "owner/name"
    token: Token
    pr_number: int | None
    commit_sha: str | None  # the pull request's head, or the pushed commit
    head_label: str | None  # "owner:branch": a fork's pull request is found by it
    fork: bool  # the event says the pull request comes from a fork
    event_name: str | None
    images_branch: str | None  # None: no images committed (tables and an artifacts link)
    report_id: str | None
    new_comment: bool
    dry_run: bool
    run_id: str | None
    run_attempt: str | None
    job_name: str | None
    ca_file: str | None
    in_actions: bool
    timeout: float = 30.0

    @property
    def marker(self) -> str:
        return marker(self.report_id)

    @property
    def run_url(self) -> str | None:
        if not (self.run_id and self.repo):
            return None
        return f"{self.server_url}/{self.repo}/actions/runs/{self.run_id}"


def _github_urls(env: Mapping[str, str], url: str | None) -> tuple[str, str]:
    """(API URL, server URL): from --github-url (the server), else Actions' variables."""
    if url:
        server = url.rstrip("/")
        return _api_of(server), server
    api = (env.get("GITHUB_API_URL") or "").rstrip("/")
    server = (env.get("GITHUB_SERVER_URL") or "").rstrip("/")
    if not api:
        api = _api_of(server) if server else GITHUB_COM_API
    return api, server or _server_of(api)


def _api_of(server: str) -> str:
    host = urlsplit(server).hostname or ""
    return GITHUB_COM_API if host in ("github.com", "www.github.com") else f"{server}/api/v3"


def _server_of(api: str) -> str:
    parts = urlsplit(api)
    if parts.hostname == "api.github.com":
        return "https://github.com"
    path = parts.path.rstrip("/")
    path = path[: -len("/api/v3")] if path.endswith("/api/v3") else path
    return f"{parts.scheme}://{parts.netloc}{path}"


def github_settings(
    env: Mapping[str, str],
    *,
    url: str | None = None,
    repo: str | None = None,
    token_env: str | None = None,
    pr: int | None = None,
    images_branch: str | None = DEFAULT_IMAGES_BRANCH,
    report_id: str | None = None,
    new_comment: bool = False,
    dry_run: bool = False,
) -> GitHubSettings:
    event = github_event(env)
    api_url, server_url = _github_urls(env, url)
    return GitHubSettings(
        api_url=api_url,
        server_url=server_url,
        repo=repo or env.get("GITHUB_REPOSITORY") or None,
        token=find_token(env, token_env, GITHUB_TOKEN_VARS),
        pr_number=pr if pr is not None else event.pr_number,
        # On pull_request events GITHUB_SHA is the temporary merge commit.
        commit_sha=event.head_sha or env.get("GITHUB_SHA") or None,
        head_label=event.head_label,
        fork=event.fork,
        event_name=event.name,
        images_branch=images_branch,
        report_id=report_id,
        new_comment=new_comment,
        dry_run=dry_run,
        run_id=env.get("GITHUB_RUN_ID") or None,
        run_attempt=env.get("GITHUB_RUN_ATTEMPT") or None,
        job_name=env.get("GITHUB_JOB") or None,
        ca_file=env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE") or None,
        in_actions=in_github_actions(env),
    )


ForgeSettings = GitLabSettings | GitHubSettings


@dataclass(frozen=True)
class JobSummary:
    """Where the job summary goes (GitHub's $GITHUB_STEP_SUMMARY) and where the full report is."""

    path: Path
    full_report: str | None  # a Markdown link to the run's artifacts


def job_summary(env: Mapping[str, str]) -> JobSummary | None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    repo, run_id = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    full_report = None
    if repo and run_id:
        server = _github_urls(env, None)[1]
        full_report = f"[the run's artifacts]({server}/{repo}/actions/runs/{run_id}#artifacts)"
    return JobSummary(Path(path), full_report)


def detect_forge(env: Mapping[str, str], explicit: str | None) -> str | None:
    """--forge, else the CI we run in (GitHub Actions, GitLab CI); None outside CI."""
    if explicit:
        return explicit
    if in_github_actions(env):
        return "github"
    if in_gitlab_ci(env):
        return "gitlab"
    return None
