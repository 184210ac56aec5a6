"""What both forges share: the failure that keeps the report on disk, what was posted, and
the words for HTTP transport failures."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvc_cml.errors import EXIT_NOT_POSTED, UserError, holds_secret, register_secret
from dvc_cml.publish.local import HTML_FILE


class PublishError(UserError):
    """Posting failed; the report is on disk all the same, and the message says where.

    It names report.html, the whole report on one offline page: the file the CI templates
    keep (GitLab's keeps only it), where report.md would need the charts beside it.
    """

    exit_code = EXIT_NOT_POSTED

    def __init__(self, reason: str, report_path: Path) -> None:
        page = report_path.with_name(HTML_FILE)
        super().__init__(f"{reason}. The report was not posted; it is at {page}")
        self.reason = reason


def refuse_secrets(token: str | None, report_path: Path, *payloads: str | bytes) -> None:
    """Defence in depth, before anything is sent: no upload or comment may carry the token's
    value.  The report is built from what a branch committed, and a stage it ran or a file
    it linked may have read the job's environment; then nothing at all is posted.  Every
    secret registered counts (the job's other tokens too), not only the one posting."""
    register_secret(token)
    if any(holds_secret(p) for p in payloads):
        raise PublishError(
            "the report holds the value of the token, so nothing was sent (a file of the "
            "branch, or a stage it ran, read the job's environment?); the files on disk "
            "have it masked",
            report_path,
        )


def capped_retry(base: Any, max_wait: float) -> Any:
    """urllib3's `Retry` (or PyGithub's subclass of it) honouring a Retry-After header for at
    most `max_wait` seconds: a server asking for an hour must not hang the job."""

    class CappedRetry(base):  # type: ignore[misc]
        def get_retry_after(self, response: Any) -> float | None:
            wait = super().get_retry_after(response)
            return None if wait is None else min(wait, max_wait)

    return CappedRetry


RETRIES = 4  # after the first try: 5 attempts in all, on both forges


def transport_failure(
    exc: Exception, *, forge: str, url: str, what: str, timeout: float, ca_hint: str
) -> str | None:
    """What went wrong with HTTP itself (retries used up, TLS, a timeout, no connection), in
    the same words for every forge; None when `exc` is something else.

    `forge` names the server ("GitLab", "GitHub"); `ca_hint` says where its CA bundle goes.
    """
    import requests

    if isinstance(exc, requests.exceptions.RetryError):
        found = re.search(r"too many (\d+) error responses", str(exc))
        reason = f"HTTP {found.group(1)}" if found else "connection errors"
        return (
            f"{forge} kept failing while trying to {what} ({reason}) after {RETRIES + 1} attempts"
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS verification failed for {url}; {ca_hint}"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{forge} at {url} did not answer within {timeout:g} s while trying to {what}"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"cannot reach {forge} at {url} to {what} ({type(exc).__name__})"
    return None


@dataclass(frozen=True)
class Posted:
    action: str  # "created", "updated", "commit comment", "dry run"
    where: str  # "merge request !12 of grp/proj", "pull request #7 of owner/repo"
    url: str | None
    body: str
    dry_run: bool = False  # `body` links local files: nothing was uploaded
