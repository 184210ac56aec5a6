"""The two-revision report pinned against golden files (tests/golden/).

The golden files are what dvc-cml printed before several revisions existed (commit c25e260,
before issues 15-18) for `dvc-cml diff main` on two projects built by the test helpers:

- `changes`: fixtures/scenarios/changes, reproduced on `main` and on `feature` (new raw data,
  a lower learning rate, a changed command, one stage swapped for another): the verdict,
  Metrics, Params, Pipeline and Data sections;
- `get-started`: fixtures/shapes/get-started (linear, confusion and image plots, metrics
  inside a cached directory output), checked out at its `head` branch.

The workspace is each project's branch, clean, so HEAD is the workspace.  Outputs are
normalised (`normalise`) before they are compared or written: commit SHAs, the project's
folder and the report folder become placeholders; nothing else changes.

Regenerate (from the repository's root, with any checkout's code):

    git worktree add --detach /tmp/old c25e260
    .venv/bin/python -m tests.golden /tmp/old          # writes tests/golden/*
    git worktree remove /tmp/old

The terminal file `*.terminal.txt` comes from the code of this repository instead (run with
`--terminal-from .`): its plot lines changed on purpose in issue 16 (they fit 80 columns, the
value after a sparkline only for step series, confusion counts), and tests/test_golden.py
compares every other line of it with c25e260's (`*.terminal.c25e260.txt`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests import conftest
from tests.conftest import clean_env, git

GOLDEN = Path(__file__).resolve().parent / "golden"
OUTPUTS = {"md": ("--md",), "json": ("--json",), "terminal": ()}


def build_changes(where: Path) -> Path:
    """`changes` reproduced on `main` and on `feature` (checked out): as tests/test_changes.py
    builds it."""
    return conftest.build_changes(where / "project").root


def build_get_started(where: Path) -> Path:
    """fixtures/shapes/get-started, checked out at `head` (tests/shapes.py)."""
    from tests.shapes import SHAPES, build

    [shape] = [s for s in SHAPES if s.name == "get-started"]
    return build(shape, where).root


PROJECTS: dict[str, Callable[[Path], Path]] = {
    "changes": build_changes,
    "get-started": build_get_started,
}


def normalise(text: str, root: Path, out: Path) -> str:
    """`text` with the commits' SHAs (full, then short) and the folders as placeholders."""
    for ref in ("main", "HEAD"):
        sha = git(root, "rev-parse", ref).strip()
        name = "MAIN" if ref == "main" else "HEAD"
        text = text.replace(sha, f"<{name}-SHA>").replace(sha[:7], f"<{name}-SHA7>")
    # The report folder first: it may lie inside the project.
    for folder, name in ((out, "<OUT>"), (root, "<ROOT>")):
        text = text.replace(str(folder), name).replace(str(folder.resolve()), name)
    return text


def run(code: Path, root: Path, out: Path, output: str) -> str:
    """`dvc-cml diff main -C ROOT --out OUT [--md|--json]` with the code at `code`, in a
    process of its own (stdout piped, so the terminal view is plain, 80 columns)."""
    if out.exists():
        shutil.rmtree(out)
    env = clean_env(PYTHONPATH=str(code), COLUMNS="80")
    argv = ["diff", "main", "-C", str(root), "--out", str(out), *OUTPUTS[output]]
    done = subprocess.run(
        [sys.executable, "-m", "dvc_cml", *argv],
        env=env,
        cwd=tempfile.gettempdir(),  # not the repository: PYTHONPATH alone picks the code
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return normalise(done.stdout, root, out)


def golden_file(project: str, output: str, code: str = "") -> Path:
    suffix = {"md": "md", "json": "json", "terminal": "terminal.txt"}[output]
    if code:
        suffix = suffix.replace(".txt", f".{code}.txt")
    return GOLDEN / f"{project}.{suffix}"


def main() -> None:
    parser = argparse.ArgumentParser(description="write tests/golden/ (see tests/golden.py)")
    parser.add_argument("old", type=Path, help="a checkout of c25e260 (its folder)")
    parser.add_argument(
        "--terminal-from", type=Path, default=Path(), help="code for *.terminal.txt"
    )
    args = parser.parse_args()
    old, new = args.old.resolve(), args.terminal_from.resolve()
    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for project, build in PROJECTS.items():
            where = Path(tmp) / project
            where.mkdir()
            root, out = build(where), where / "report"
            for output in OUTPUTS:
                text = run(old, root, out, output)
                if output == "terminal":
                    golden_file(project, output, "c25e260").write_text(text)
                    text = run(new, root, out, output)
                golden_file(project, output).write_text(text)
                print(f"wrote {golden_file(project, output)}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.pop("PYTHONPATH", None)
    main()
