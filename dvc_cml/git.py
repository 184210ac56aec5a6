"""The git command line, for what DVC's Python API does not do: shallow fetches.

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
