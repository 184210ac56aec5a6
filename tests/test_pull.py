"""`--pull` against real DVC remotes: what it counts, how long it waits, and what it says
when the remote cannot be reached, refuses us, or lacks the objects.

Remotes are a local directory and HTTP servers on 127.0.0.1 (a refused port, one that answers
401 or 403, one that accepts connections and never answers).  `dvc pull`, the CLI, is the
oracle for what a pull counts.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.errors import EXIT_NOT_PULLED
from dvc_cml.pipeline import init_project, reproduce
from dvc_cml.render.mdtext import escape
from tests.conftest import clean_env, git, run_cli, write_tree

BIN = Path(sys.executable).parent

# A stage writing a directory output: metrics and eight plot files, all DVC-cached.
EIGHT_PLOTS = {
    "dvc.yaml": """\
stages:
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py]
    params: [scale]
    outs: [eval]
metrics:
- eval/metrics.json
plots:
- eval/plots:
    x: step
""",
    "evaluate.py": """\
import json, os
scale = float(open("params.yaml").read().split(":")[1])
os.makedirs("eval/plots", exist_ok=True)
for n in range(8):
    rows = "".join(f"{step},{scale * n / (step + 1):.4f}\\n" for step in range(5))
    open(f"eval/plots/part{n}.csv", "w").write("step,loss\\n" + rows)
json.dump({"loss": scale / 10}, open("eval/metrics.json", "w"))
""",
    "params.yaml": "scale: 1\n",
}


def set_remote(root: Path, url: str) -> None:
    remote = f"['remote \"store\"']\n    url = {url}\n"
    (root / ".dvc" / "config").write_text(
        f"[core]\n    analytics = false\n    remote = store\n{remote}"
    )


def push(root: Path) -> None:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        repo.push()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """main: the stage run and pushed to a local-directory remote; `feature`: scale 2, also
    pushed.  The remote is at tmp_path/remote."""
    root = tmp_path / "origin"
    write_tree(root, EIGHT_PLOTS)
    git(root, "init", "-q")
    init_project(root)
    set_remote(root, str(tmp_path / "remote"))
    reproduce(root, say=lambda _: None)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline")
    push(root)
    git(root, "checkout", "-q", "-b", "feature")
    (root / "params.yaml").write_text("scale: 2\n")
    reproduce(root, say=lambda _: None)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "scale 2")
    push(root)
    return root


def clone(origin: Path, dest: Path) -> Path:
    """What a merge-request pipeline has: the feature branch, one commit deep, no cache."""
    git(
        origin.parent,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "feature",
        f"file://{origin}",
        str(dest),
    )
    return dest


def dvc_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dvc"), *args], cwd=root, env=clean_env(), capture_output=True, text=True
    )


def test_pull_counts_files_as_dvc_pull_does(
    origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = clone(origin, tmp_path / "ours")
    code, out, err = run_cli(capsys, "diff", "main", "--pull", "-C", str(ours), "--json")
    assert code == 0, err
    assert "dvc-cml: pulling eval\n" in err
    theirs = clone(origin, tmp_path / "theirs")
    done = dvc_cli(theirs, "pull", "eval")
    assert done.returncode == 0, done.stderr
    said = done.stdout.strip().splitlines()[-1]
    # Nine files added (eight plots and the metrics), ten fetched (and the directory's listing).
    assert said == "10 files fetched and 9 files added"
    assert f"dvc-cml: pulled: {said}\n" in err
    assert len(list((ours / "eval" / "plots").iterdir())) == 8
    loss = next(m for m in json.loads(out)["metrics"] if m["metric"] == "loss")
    assert (loss["base"], loss["head"]) == (0.1, 0.2)


# --- remotes that fail ----------------------------------------------------------------------


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Answers every request with the server's `status` (401, 403)."""

    def do_GET(self) -> None:
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def answering(status: int) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 answering `status` to everything; its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    server.status = status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent() -> Iterator[int]:
    """A server on 127.0.0.1 that accepts connections and never answers; its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_pull(
    capsys: pytest.CaptureFixture[str], root: Path, tmp_path: Path, *flags: str
) -> tuple[int, dict[str, Any], str, str]:
    """`dvc-cml diff main --pull --json` as a GitHub job would run it (the summary file set,
    not posting): (exit code, the JSON document, stderr, the job summary)."""
    summary = tmp_path / "step-summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    code, out, err = run_cli(
        capsys, "diff", "main", "--pull", "-C", str(root), "--json", *flags, env=env
    )
    assert out, err
    return code, json.loads(out), err, summary.read_text()


def problems(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(p["path"], p["rev"], p["reason"]) for p in doc["problems"]]


@pytest.mark.parametrize("case", ["refused", "401", "403", "silent"])
def test_a_remote_that_fails_the_pull_still_gets_a_report(
    case: str, origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = clone(origin, tmp_path / "ours")
    with contextlib.ExitStack() as stack:
        if case == "refused":
            port = closed_port()
        elif case == "silent":
            port = stack.enter_context(silent())
        else:
            port = stack.enter_context(answering(int(case)))
        where = f"the DVC remote 'store' (http://127.0.0.1:{port}/store)"
        # Credentials in the URL (as a fork's misconfigured job might have) are never shown.
        set_remote(ours, f"http://ci-user:s3cret-pass@127.0.0.1:{port}/store")
        code, doc, err, summary = run_pull(capsys, ours, tmp_path, "--pull-timeout", "3")
    why = {
        "refused": f"cannot reach {where}: connection refused",
        "401": f"not authorised by {where} (HTTP 401): check its credentials",
        "403": f"not authorised by {where} (HTTP 403): check its credentials",
        "silent": f"the pull from {where} did not finish within 3 s (--pull-timeout)",
    }[case]
    assert code == EXIT_NOT_PULLED == 7
    assert f"dvc-cml: not pulled: {why}\n" in err
    report = ours / "dvc-cml-report" / "report.md"
    assert err.endswith(
        f"dvc-cml: error: 1 output(s) not pulled: {why}; the report was made from what "
        f"could be read ({report})\n"
    )
    assert "s3cret" not in err + json.dumps(doc) + summary + report.read_text()
    # What was not pulled, and the base's files the remote could not be asked for: its
    # metrics, and its plot directory (whose files DVC cannot even list).
    assert problems(doc) == [("eval", "workspace", f"not pulled: {why}")] + [
        (path, "main", f"not read: not in the local cache, and {why}")
        for path in ("eval/metrics.json", "eval")
    ]
    # Everything else is there: params from git, data and pipeline from dvc.lock.
    scale = next(p for p in doc["params"] if p["param"] == "scale")
    assert (scale["base"], scale["head"]) == (1, 2)
    assert doc["data"]["changed"][0]["path"] == "eval/"
    assert "### Not read" in summary and escape(f"not pulled: {why}") in summary


def test_objects_missing_from_a_reachable_remote_are_named(
    origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The remote answers, but the head's directory listing was never pushed there."""
    import yaml

    lock = yaml.safe_load((origin / "dvc.lock").read_text())
    listing = lock["stages"]["evaluate"]["outs"][0]["md5"]  # eval's `<md5>.dir`
    assert listing.endswith(".dir")
    (tmp_path / "remote" / "files" / "md5" / listing[:2] / listing[2:]).unlink()
    ours = clone(origin, tmp_path / "ours")
    code, doc, err, summary = run_pull(capsys, ours, tmp_path)
    where = f"the DVC remote 'store' ({tmp_path / 'remote'})"
    why = f"not in {where} (was `dvc push` run where it was produced?)"
    assert code == EXIT_NOT_PULLED
    assert f"dvc-cml: not pulled: {why}\n" in err
    assert problems(doc) == [("eval", "workspace", f"not pulled: {why}")]
    # eval/metrics.json is not read at head: its rows say so (main's value beside it), none
    # says "removed".
    assert [(m["path"], m["base"], m["head"], m["status"]) for m in doc["metrics"]] == [
        ("eval/metrics.json", 0.1, None, "not read")
    ]
    assert escape(f"not pulled: {why}") in summary


def test_nothing_is_reproduced_on_a_failed_pull(
    origin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = clone(origin, tmp_path / "ours")
    port = closed_port()
    set_remote(ours, f"http://127.0.0.1:{port}/store")
    (ours / "params.yaml").write_text("scale: 3\n")  # the stage would run
    code, doc, err, _ = run_pull(capsys, ours, tmp_path, "--repro")
    why = f"cannot reach the DVC remote 'store' (http://127.0.0.1:{port}/store): connection refused"
    assert code == EXIT_NOT_PULLED
    assert doc["reproduced"] == {"stages": [], "skipped": f"the pull failed ({why})"}
    assert "dvc-cml: not reproducing: the pull failed\n" in err
    assert not (ours / "eval").exists()  # the stage did not run
