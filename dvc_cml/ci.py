"""What the CI environment says about the comparison: which branch is the base, and which
commit of it to compare against.  An environment mapping in, a `BaseHint` out; the only I/O
is reading GitHub's event payload (the file at GITHUB_EVENT_PATH), parsed by a pure function.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BaseHint:
    """Where the base revision is, as far as CI knows."""

    branches: tuple[str, ...] = ()  # to try in order, before `main` and `master`
    target: str | None = None  # the merge/pull request's target branch
    # The commit of `target` to compare against: the merge base, so the report shows what
    # the merge request changes, not what the target branch gained since.
    merge_base: str | None = None
    # What to change when a shallow clone cannot reach the base, in this CI's terms.
    deeper: str = "fetch more history (e.g. `git fetch --unshallow`)"

    def pin(self, base_name: str) -> str | None:
        """The commit to use for `base_name`, when it names the target branch."""
        if self.target and self.merge_base and base_name in (self.target, f"origin/{self.target}"):
            return self.merge_base
        return None


@dataclass(frozen=True)
class GitHubEvent:
    """The parts of a GitHub Actions event payload that say what to compare and where to post."""

    name: str | None = None  # GITHUB_EVENT_NAME: pull_request, push, workflow_run, ...
    pr_number: int | None = None
    base_ref: str | None = None  # the pull request's target branch
    # The target branch's commit the pull request was tested against: the first parent of
    # the merge commit actions/checkout checks out on `pull_request` events.
    base_sha: str | None = None
    head_sha: str | None = None  # the pull request's head (or the pushed commit)
    head_label: str | None = None  # "owner:branch" of the head, to find a fork's PR by
    fork: bool = False  # the head lives in another repository
    default_branch: str | None = None


PR_EVENTS = frozenset(
    {"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment"}
)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_github_event(name: str | None, payload: Mapping[str, Any]) -> GitHubEvent:
    """The event's pull request, base and head, from the payload GitHub wrote for the run."""
    default_branch = _str(_get(payload, "repository", "default_branch"))
    repo_name = _get(payload, "repository", "full_name")
    pr = _get(payload, "pull_request")
    if name in PR_EVENTS or (name is None and isinstance(pr, Mapping)):
        head_repo = _get(pr, "head", "repo", "full_name")
        base_repo = _get(pr, "base", "repo", "full_name")
        return GitHubEvent(
            name=name,
            pr_number=_number(_get(pr, "number")) or _number(_get(payload, "number")),
            base_ref=_str(_get(pr, "base", "ref")),
            base_sha=_str(_get(pr, "base", "sha")),
            head_sha=_str(_get(pr, "head", "sha")),
            head_label=_str(_get(pr, "head", "label")),
            # A deleted fork has no head repo: it was a fork all the same.
            fork=bool(base_repo) and head_repo != base_repo,
            default_branch=default_branch,
        )
    if name == "issue_comment" and _get(payload, "issue", "pull_request") is not None:
        return GitHubEvent(
            name=name,
            pr_number=_number(_get(payload, "issue", "number")),
            default_branch=default_branch,
        )
    if name == "workflow_run":
        run = _get(payload, "workflow_run")
        prs = _get(run, "pull_requests")
        first = prs[0] if isinstance(prs, list) and prs else None  # empty for forks
        head_repo = _get(run, "head_repository", "full_name")
        owner = _get(run, "head_repository", "owner", "login")
        branch = _get(run, "head_branch")
        return GitHubEvent(
            name=name,
            pr_number=_number(_get(first, "number")),
            base_ref=_str(_get(first, "base", "ref")),
            base_sha=_str(_get(first, "base", "sha")),
            head_sha=_str(_get(run, "head_sha")),
            head_label=f"{owner}:{branch}" if _str(owner) and _str(branch) else None,
            fork=bool(repo_name and head_repo) and head_repo != repo_name,
            default_branch=default_branch,
        )
    return GitHubEvent(
        name=name,
        head_sha=_str(_get(payload, "after")) if name == "push" else None,
        default_branch=default_branch,
    )


def github_event(env: Mapping[str, str]) -> GitHubEvent:
    """The run's event, read from GITHUB_EVENT_PATH; empty when absent or unreadable."""
    name = env.get("GITHUB_EVENT_NAME") or None
    path = env.get("GITHUB_EVENT_PATH")
    payload: Any = {}
    if path:
        try:
            with Path(path).open(encoding="utf-8") as fd:
                payload = json.load(fd)
        except (OSError, ValueError):
            payload = {}  # no payload: branch names and flags still work
    return parse_github_event(name, payload if isinstance(payload, Mapping) else {})


def _github_hint(env: Mapping[str, str]) -> BaseHint:
    event = github_event(env)
    target = env.get("GITHUB_BASE_REF") or event.base_ref
    return BaseHint(
        branches=tuple(dict.fromkeys(filter(None, (target, event.default_branch)))),
        target=target,
        # actions/checkout checks out the PR's merge commit: its first parent is base.sha,
        # so comparing with it shows exactly what the pull request changes.
        merge_base=event.base_sha if target else None,
        deeper="give actions/checkout `fetch-depth: 0` (or deep enough to reach it)",
    )


def base_hint(env: Mapping[str, str]) -> BaseHint:
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") or None
    in_actions = (env.get("GITHUB_ACTIONS") or "").strip().lower() == "true"
    if not target and not env.get("CI_DEFAULT_BRANCH") and in_actions:
        return _github_hint(env)
    branches = tuple(filter(None, (target, env.get("CI_DEFAULT_BRANCH"))))
    hint = BaseHint(
        branches=branches,
        target=target,
        merge_base=env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA") or None,
    )
    if (env.get("GITLAB_CI") or "").strip().lower() == "true":
        deeper = "set GIT_DEPTH to 0 (or deep enough to reach it) in the job's variables"
        return replace(hint, deeper=deeper)
    return hint
