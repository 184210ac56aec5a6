"""`--pull`: DVC's fetch and checkout, bounded in time, with its failures named.

`Repo.pull` has no timeout, and a remote that accepts connections and never answers keeps it
waiting for many minutes (dvc-http retries each request 5 times, 60 s apiece) or for good.
A thread cannot be stopped; a process can: the pull runs in a worker process (a fresh
interpreter started as `dvc_cml.child` says, so nothing of this one's threads or locks is
copied) that is killed when the time is up.  Everything it needs is the project's path and
the targets; it sends back DVC's own counts and, when it failed, why: DVC itself reports a
refused connection, a 401 and a missing object alike ("Some of the cache files do not exist
neither locally nor on remote"), so the worker asks the remote about its own root and reads
the answer.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from dvc_cml import child
from dvc_cml.collect.project import describe, quiet_dvc

if TYPE_CHECKING:
    from dvc.repo import Repo

Kind = Literal["unreachable", "unauthorised", "missing", "timeout", "no remote", "error"]


@dataclass(frozen=True)
class PullFailure:
    kind: Kind
    reason: str  # one line: "cannot reach the DVC remote 'store' (http://…): connection refused"
    paths: tuple[str, ...]  # the outputs not pulled; empty: all the targets

    @property
    def remote_down(self) -> bool:
        """The remote did not serve this run: do not ask it again for every file."""
        return self.kind in ("unreachable", "unauthorised", "timeout")


@dataclass(frozen=True)
class Pulled:
    targets: tuple[str, ...] | None  # None: everything (--pull-all)
    stats: tuple[tuple[str, int], ...]  # DVC's counts of files: fetched, added, modified, ...
    failure: PullFailure | None = None

    @property
    def not_pulled(self) -> tuple[str, ...]:
        """What the failed pull did not check out: the outputs DVC named, else every target."""
        if self.failure is None:
            return ()
        return self.failure.paths or self.targets or ("all DVC-tracked data",)

    def summary(self) -> str:
        """In `dvc pull`'s own words: "8 files fetched and 8 files added"."""
        from dvc.utils.humanize import get_summary

        return str(get_summary(self.stats)) or "everything was up to date"


def pull(repo: Repo, targets: Sequence[str] | None, timeout: float | None) -> Pulled:
    """`dvc pull TARGETS` (everything with None) in a worker process, for at most `timeout`
    seconds (None: no limit)."""
    wanted = tuple(targets) if targets is not None else None
    # A fresh interpreter that never imports from the working directory (see dvc_cml.child):
    # the job (root, targets) on its stdin, the answer as JSON on its stdout.  DVC's warnings
    # and progress go to stderr, the caller's own.  A session of its own: Ctrl-C at the
    # terminal reaches this process, which ends the worker, and no traceback of its shows.
    worker = subprocess.Popen(
        child.command(WORK, str(os.getpid())),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        try:
            out, _ = worker.communicate(json.dumps([repo.root_dir, wanted]).encode(), timeout)
        except subprocess.TimeoutExpired:
            where = _where(repo)
            failure = PullFailure(
                "timeout",
                f"the pull from {where} did not finish within {timeout:g} s (--pull-timeout)",
                wanted or (),
            )
            return Pulled(wanted, (), failure)
        try:
            stats, failed = json.loads(out)
        except ValueError:  # the worker died before it could say why
            failure = PullFailure(
                "error", f"the pull ended unexpectedly (exit status {worker.returncode})", ()
            )
            return Pulled(wanted, (), failure)
        stats = tuple((str(name), int(count)) for name, count in stats)
        if failed:
            kind, reason, paths = failed
            return Pulled(wanted, stats, PullFailure(kind, reason, tuple(paths)))
        return Pulled(wanted, stats)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()


# --- the worker process -------------------------------------------------------------------

WORK = "from dvc_cml.pull import _work; _work()"


def _work() -> None:
    """Pull, then print [DVC's stats, null] or [stats, [kind, reason, paths]] as JSON."""
    child.end_with(int(sys.argv[1]))
    answer = os.fdopen(os.dup(1), "w")  # and nothing else writes there:
    os.dup2(2, 1)  # DVC prints nothing on stdout here: it holds the caller's --json
    root, targets = json.load(sys.stdin)
    from dvc.exceptions import CheckoutError
    from dvc.repo import Repo

    quiet_dvc()
    os.chdir(root)
    message: list[Any]
    with Repo(root) as repo:
        try:
            result = repo.pull(targets=targets)
            message = [_stats(result), None]
        except CheckoutError as exc:
            kind, reason = _diagnose(repo, None)
            paths = sorted(_relative(root, str(p)) for p in exc.target_infos)
            message = [_stats(exc.result), [kind, reason, paths]]
        except Exception as exc:  # DownloadError, NoRemoteError, a remote's own errors, ...
            kind, reason = _diagnose(repo, exc)
            message = [[], [kind, reason, []]]
        answer.write(json.dumps(message))
        answer.flush()


def _relative(root: str, path: str) -> str:
    return Path(os.path.relpath(path, root)).as_posix() if Path(path).is_absolute() else path


def _stats(result: Any) -> list[tuple[str, int]]:
    """DVC's own file counts (3.63 and later); before that, its lists of changed outputs."""
    stats = result.get("stats") if isinstance(result, dict) else None
    if isinstance(stats, dict):
        return [(str(k), int(v)) for k, v in stats.items() if isinstance(v, int)]
    if not isinstance(result, dict):
        return []
    return [(k, len(result[k])) for k in ("added", "modified", "deleted") if result.get(k)]


def _where(repo: Repo) -> str:
    """`the DVC remote 'store' (https://host/path)`, without any credentials in the URL."""
    try:
        remote = repo.cloud.get_remote()
        url = str(remote.fs.unstrip_protocol(remote.path))
    except Exception:  # no default remote, or one DVC cannot even build
        return "the DVC remote"
    return f"the DVC remote {remote.name!r} ({safe_url(url)})"


def safe_url(url: str) -> str:
    """The URL without a user or password in it."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    if "@" not in netloc:
        return url
    return urlunsplit((scheme, netloc.rsplit("@", 1)[1], path, query, fragment))


def _diagnose(repo: Repo, error: BaseException | None) -> tuple[Kind, str]:
    """Why the pull failed: the remote cannot be reached, refuses us, or lacks the objects.

    The remote is asked about its own root, as DVC checks it before a fetch: a connection
    error or a 401/403 there is the remote's; an answer (even a 404: an HTTP server need not
    list a folder) means the remote is there and the objects are what is missing.
    """
    from dvc.config import NoRemoteError

    try:
        remote = repo.cloud.get_remote()
    except NoRemoteError:
        return "no remote", "no DVC remote is configured (`dvc remote add --default NAME URL`)"
    except Exception as exc:  # a remote DVC cannot build: its config is wrong
        return "error", f"the DVC remote is misconfigured: {describe(exc)}"
    where = _where(repo)
    try:
        remote.fs.info(remote.path)
    except Exception as exc:
        kind, why = classify(exc)
        if kind == "unreachable":
            return kind, f"cannot reach {where}: {why}"
        if kind == "unauthorised":
            return kind, f"not authorised by {where} ({why}): check its credentials"
        if isinstance(exc, FileNotFoundError) and remote.fs.protocol == "local":
            return "unreachable", f"cannot reach {where}: no such directory"
    if error is not None and not _missing(error):
        return "error", f"dvc pull failed: {describe(error)}"
    return "missing", f"not in {where} (was `dvc push` run where it was produced?)"


def _missing(error: BaseException) -> bool:
    from dvc.exceptions import DownloadError

    return isinstance(error, DownloadError)


_AUTH_NAMES = re.compile(r"credential|unauthori[sz]ed|forbidden|accessdenied|authenticat", re.I)
_REACH_NAMES = re.compile(r"connect|timeout|unreachable|nameresolution|dns", re.I)
_REACH_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _status(exc: BaseException) -> int | None:
    """An HTTP status on the exception, as aiohttp, requests, google and azure put it."""
    for name in ("status", "status_code", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def classify(exc: BaseException) -> tuple[Kind | None, str]:
    """("unreachable" | "unauthorised" | None, a short why) for a remote filesystem's error,
    looking through its causes: fsspec's HTTP filesystem, for one, answers a refused
    connection and a 401 alike with FileNotFoundError, the real error as its cause."""
    import socket

    for link in _chain(exc):
        status = _status(link)
        if isinstance(link, PermissionError) or status in (401, 403):
            return "unauthorised", f"HTTP {status}" if status else describe(link)
        if _AUTH_NAMES.search(type(link).__name__):
            return "unauthorised", describe(link)
    for link in reversed(_chain(exc)):  # the innermost cause says it plainest
        if isinstance(link, ConnectionRefusedError):
            return "unreachable", "connection refused"
        if isinstance(link, socket.gaierror):
            return "unreachable", f"host not found ({describe(link)})"
        if isinstance(link, (TimeoutError, ConnectionError)) or (
            isinstance(link, OSError) and link.errno in _REACH_ERRNOS
        ):
            return "unreachable", describe(link)
        if _REACH_NAMES.search(type(link).__name__):
            return "unreachable", describe(link)
    return None, describe(exc)
