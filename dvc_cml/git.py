"""The git command line, for what DVC's Python API does not do: shallow fetches, and
`git status` of the project's folder.

GitLab clones 20 commits deep and an MR pipeline fetches only its own ref, so the base branch
is often missing; `git fetch origin main` in a single-branch clone would only set FETCH_HEAD,
so the fetch names a real ref (refs/remotes/origin/<branch>).  Experiments pushed with
`dvc exp push origin` live under `refs/exps/<baseline sha>/<name>` on the server, fetched
into the same refs, where DVC finds them.
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


def _entries(root: Path, *args: str) -> list[str] | None:
    """The NUL-separated entries `git ARGS` prints (with -z), names as bytes allow; None if
    git cannot tell.  Optional locks off: `git status` would rewrite .git/index to refresh
    it, and a report writes nothing in the repository."""
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=root,
            capture_output=True,
            check=False,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "surrogateescape").split("\0")


def status(root: Path) -> list[tuple[str, str]] | None:
    """`git status` of the folder `root`: (XY code, path from the repository's top) for each
    changed tracked file and each untracked one (`??`); ignored files are left out, as git
    leaves them.  None if git cannot tell."""
    out = _entries(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
    if out is None:
        return None
    items = iter(out)
    found = []
    for item in items:
        if not item:
            continue
        code, path = item[:2], item[3:]
        if code[0] in "RC":
            next(items, None)  # a rename's or copy's source follows it
        found.append((code, path))
    return found


def tracked_symlinks(root: Path, paths: list[str]) -> list[str] | None:
    """Of what git tracks at or under `paths` (from `root`, taken literally), the symlinks,
    from the repository's top; None if git cannot tell.  What a branch committed as a link,
    as opposed to one the job made."""
    if not paths:
        return []
    entries = _entries(
        root, "--literal-pathspecs", "ls-files", "--stage", "-z", "--full-name", "--", *paths
    )
    if entries is None:
        return None
    # "<mode> <object> <stage>\t<path>"; 120000 is a symlink's mode.
    return [entry.split("\t", 1)[1] for entry in entries if entry.startswith("120000 ")]


EXPS = "refs/exps"


def _experiment_prefix(baseline: str) -> str:
    """Where DVC keeps the experiments of a baseline commit: refs/exps/ab/cdef.../."""
    return f"{EXPS}/{baseline[:2]}/{baseline[2:]}/"


def _fetch_refs(root: Path, refs: list[str], depth: int) -> str | None:
    if not refs:
        return "no such experiment on origin"
    spec = [f"+{ref}:{ref}" for ref in refs]
    done = _git(root, "fetch", "--no-tags", f"--depth={depth}", "origin", *spec)
    if done.returncode == 0:
        return None
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"


def _remote_experiments(root: Path) -> tuple[list[str], str | None]:
    """The experiment refs on origin, or the error text."""
    done = _git(root, "ls-remote", "origin", f"{EXPS}/*")
    if done.returncode != 0:
        return [], done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
    refs = [line.split("\t", 1)[1] for line in done.stdout.splitlines() if "\t" in line]
    # refs/exps/ab/cdef.../name: DVC's own queue refs (refs/exps/celery/...) have fewer parts.
    return [ref for ref in refs if len(ref.split("/")) == 5], None


def fetch_experiment(root: Path, name: str, depth: int = FETCH_DEPTH) -> str | None:
    """Fetch the experiment(s) called `name` from origin; the error text if that failed."""
    refs, problem = _remote_experiments(root)
    return problem or _fetch_refs(root, [r for r in refs if r.rsplit("/", 1)[1] == name], depth)


def fetch_experiments(root: Path, baseline: str, depth: int = FETCH_DEPTH) -> str | None:
    """Fetch every experiment of commit `baseline` from origin; the error text if that failed."""
    refs, problem = _remote_experiments(root)
    prefix = _experiment_prefix(baseline)
    return problem or _fetch_refs(root, [r for r in refs if r.startswith(prefix)], depth)
