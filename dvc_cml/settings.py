"""Posting settings, built once from flags and the GitLab CI environment.

Nothing here talks to the network or raises for missing values: the report is written first,
and the publisher explains what is missing (with the report's path) when it needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

TOKEN_VARS = ("DVC_CML_TOKEN", "GITLAB_TOKEN", "REPO_TOKEN")
REPORT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def in_gitlab_ci(env: Mapping[str, str]) -> bool:
    return truthy(env.get("GITLAB_CI"))


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
    timeout: float = 30.0

    @property
    def marker(self) -> str:
        """The hidden tag that makes the comment findable (and per --id, one per job)."""
        suffix = f":{self.report_id}" if self.report_id else ""
        return f"<!-- dvc-cml:report{suffix} -->"


def _api_base(env: Mapping[str, str]) -> str | None:
    api = env.get("CI_API_V4_URL", "").rstrip("/")
    if api.endswith("/api/v4"):
        return api[: -len("/api/v4")]  # keeps a sub-path: https://host/gitlab
    return env.get("CI_SERVER_URL", "").rstrip("/") or None


def find_token(env: Mapping[str, str], token_env: str | None) -> Token:
    names = (token_env,) if token_env else TOKEN_VARS
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
    )


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None
