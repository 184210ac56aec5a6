"""The git command line, for what DVC's Python API does not do: shallow fetches, and
`git status` of the project's folder.

GitLab clones 20 commits deep and an MR pipeline fetches only its own ref, so the base branch
is often missing; `git fetch origin main` in a single-branch clone would only set FETCH_HEAD,
so the fetch names a real ref (refs/remotes/origin/<branch>).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

FETCH_DEPTH = 50
SHA = re.compile(r"^[0-9a-f]{7,40}$")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=300
    )


def has_origin(root: Path) -> bool:
    return _git(root, "remote", "get-url", "origin").returncode == 0


def is_shallow(root: Path) -> bool:
    return _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"


def fetch(root: Path, name: str, depth: int = FETCH_DEPTH) -> str | None:
    """Fetch `name` (a branch, tag or SHA) from origin; the error text if that failed."""
    if SHA.match(name):
        refspecs = [name]
    elif name.startswith("origin/"):
        branch = name.removeprefix("origin/")
        refspecs = [f"+refs/heads/{branch}:refs/remotes/origin/{branch}"]
    else:
        refspecs = [
            f"+refs/heads/{name}:refs/remotes/origin/{name}",
            f"+refs/tags/{name}:refs/tags/{name}",
        ]
    errors = []
    for refspec in refspecs:
        done = _git(root, "fetch", "--no-tags", f"--depth={depth}", "origin", refspec)
        if done.returncode == 0:
            return None
        errors.append(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    return "; ".join(errors)


def status(root: Path) -> list[tuple[str, str]] | None:
    """`git status` of the folder `root`: (XY code, path from the repository's top) for each
    changed tracked file and each untracked one (`??`); ignored files are left out, as git
    leaves them.  None if git cannot tell."""
    try:
        done = subprocess.run(
            # --no-optional-locks: `git status` would rewrite .git/index to refresh it; a
            # report writes nothing in the repository.
            [
                "git",
                "--no-optional-locks",
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--",
                ".",
            ],
            cwd=root,
            capture_output=True,
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    items = iter(done.stdout.decode("utf-8", "surrogateescape").split("\0"))
    found = []
    for item in items:
        if not item:
            continue
        code, path = item[:2], item[3:]
        if code[0] in "RC":
            next(items, None)  # a rename's or copy's source follows it
        found.append((code, path))
    return found
