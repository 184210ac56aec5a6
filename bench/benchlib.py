"""What both benchmarks share: timing a process tree with its peak RSS, and fixture scaffolding.

`bench_diff.py` and `bench_scale.py` import this module by name (they run as scripts, so
their own directory is on `sys.path`).
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
DVC_CML = str(BIN / "dvc-cml")
DVC = str(BIN / "dvc")
MIB = 1024**2
GIB = 1024**3
# Variables that would make dvc-cml post, or find a token: none reaches the children.
SCRUB_PREFIXES = ("CI_", "GITLAB_", "GITHUB_")
SCRUB_NAMES = {"CI", "DVC_CML_TOKEN", "GITLAB_TOKEN", "REPO_TOKEN"}


# --- measuring one process -----------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    """One finished (or stopped) command."""

    seconds: float
    max_rss: int  # bytes: wait4's ru_maxrss, the largest single process of the tree
    sum_rss: int  # bytes: the largest sampled sum over the session (0 when not sampled)
    code: int | None  # exit code; None when the bench stopped it
    why: str = ""  # "timeout", "rss limit" or "" when it ran to the end
    stderr: str = ""  # its last lines, when it failed
    steps: tuple[Proc, ...] = ()  # for a chain of commands: each one
    cpu: float = 0.0  # user + system seconds of the process and the descendants it reaped

    @property
    def ok(self) -> bool:
        return self.code == 0 and not self.why

    def failure(self) -> str:
        return self.why or f"exit {self.code}"


def session_rss(sid: int, page: int) -> int:
    """Summed RSS of every process in session `sid` (Linux: /proc/PID/stat, fields 6, 24)."""
    total = 0
    with contextlib.suppress(OSError):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:  # gone meanwhile
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()
            if int(fields[3]) == sid:
                total += int(fields[21]) * page
    return total


class Watch(threading.Thread):
    """Samples a session's summed RSS; kills the session on a timeout or an RSS limit."""

    INTERVAL = 0.1

    def __init__(self, pid: int, timeout: float, rss_limit: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.timeout, self.rss_limit = pid, timeout, rss_limit
        self.peak = 0
        self.stopped = ""
        self._done = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while not self._done.wait(self.INTERVAL):
            rss = session_rss(self.pid, self._page)
            self.peak = max(self.peak, rss)
            if rss > self.rss_limit:
                self.kill("rss limit")
            elif time.monotonic() > deadline:
                self.kill("timeout")

    def kill(self, why: str) -> None:
        if not self.stopped and not self._done.is_set():
            self.stopped = why
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)  # the child and whatever it started

    def finish(self) -> None:
        self._done.set()
        self.join()


def measure(
    cmd: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    *,
    timeout: float | None = None,
    rss_limit: int | None = None,
    stdout: Path | None = None,
) -> Proc:
    """Run `cmd` to the end (or until stopped): wall time, peak RSS, exit code.

    The child runs in its own session and is reaped with `os.wait4`, whose ru_maxrss is the
    largest resident set of the child *or any descendant it reaped* (a shell script's
    commands, dvc-cml's forked chart worker).  With a `timeout` or an `rss_limit`, a thread
    also samples the summed RSS of the session every 0.1 s and stops it on either; without,
    nothing runs beside the child (the sampler costs CPU on a 2-core machine).
    """
    rss_scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
        err = stack.enter_context(tempfile.TemporaryFile())
        start = time.perf_counter()
        child = subprocess.Popen(
            cmd, cwd=cwd, env=dict(env), stdout=out, stderr=err, start_new_session=True
        )
        watch = None
        if timeout is not None or rss_limit is not None:
            watch = Watch(child.pid, timeout or float("inf"), rss_limit or sys.maxsize)
            watch.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if watch is not None:
            watch.finish()
        child.returncode = code = os.waitstatus_to_exitcode(status)  # so Popen won't wait
        tail = ""
        if code != 0:
            err.seek(0)
            tail = "\n".join(err.read().decode(errors="replace").strip().splitlines()[-8:])
    stopped = watch.stopped if watch is not None else ""
    return Proc(
        seconds=seconds,
        max_rss=usage.ru_maxrss * rss_scale,
        sum_rss=watch.peak if watch is not None else 0,
        code=None if stopped else code,
        why=stopped,
        stderr=tail,
        cpu=usage.ru_utime + usage.ru_stime,
    )


def chain(procs: Sequence[Proc]) -> Proc:
    """Commands run one after the other, as one measurement."""
    failed = next((p for p in procs if not p.ok), None)
    return Proc(
        seconds=sum(p.seconds for p in procs),
        max_rss=max(p.max_rss for p in procs),
        sum_rss=max(p.sum_rss for p in procs),
        code=failed.code if failed else 0,
        why=failed.why if failed else "",
        stderr=failed.stderr if failed else "",
        steps=tuple(procs),
        cpu=sum(p.cpu for p in procs),
    )


def child_env(path_first: Sequence[Path] = ()) -> dict[str, str]:
    """This environment without CI or token variables, analytics off; `path_first` on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(SCRUB_PREFIXES) and k not in SCRUB_NAMES
    }
    env["DVC_NO_ANALYTICS"] = "1"
    # Byte-code is cached, as for a pip-installed package (pip compiles at install time).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PATH"] = os.pathsep.join([*map(str, path_first), env.get("PATH", "")])
    return env


# --- fixtures ------------------------------------------------------------------------------


def run(cmd: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
    """A fixture step; fail loudly, with its stderr, on non-zero."""
    done = subprocess.run(
        cmd,
        cwd=cwd,
        env=None if env is None else dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        sys.exit(f"fixture step failed (exit {done.returncode}): {' '.join(cmd)}\n{err}")


def git(root: Path, *args: str) -> None:
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@dvc-cml.invalid"]
    run(["git", *ident, "-c", "commit.gpgsign=false", *args], root)


def init_project(root: Path) -> None:
    """A fresh git repository on `main` with DVC initialised, never checking for updates."""
    from dvc_cml.pipeline import init_project as dvc_init

    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    dvc_init(root)
    with (root / ".dvc" / "config").open("a") as config:
        config.write("    check_update = false\n")


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def build_project(root: Path, dvc_yaml: str, write_rev: Callable[[Path, int], None]) -> None:
    """Data files in git: `main` holds revision 0; branch `changed` (checked out) revision 1."""
    init_project(root)
    (root / "dvc.yaml").write_text(dvc_yaml)
    write_rev(root, 0)
    commit_all(root, "Baseline")
    git(root, "checkout", "-q", "-b", "changed")
    write_rev(root, 1)
    commit_all(root, "Changed")


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@contextlib.contextmanager
def scratch(keep: bool, prefix: str) -> Iterator[Path]:
    """A temp directory for the fixtures, removed at the end unless `keep`."""
    if keep:  # mkdtemp: a TemporaryDirectory would still be removed at exit
        base = Path(tempfile.mkdtemp(prefix=prefix))
        print(f"keeping the fixtures: {base}")
        yield base
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as name:
            yield Path(name)
