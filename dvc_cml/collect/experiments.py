"""DVC experiments of a baseline commit, named and ordered as `dvc exp show` lists them.

An experiment that ran to the end is a git ref, `refs/exps/<baseline sha>/<name>`; queued and
failed ones have none (they live in DVC's queue), so listing the refs leaves them out, as
`dvc exp show --hide-queued --hide-failed` does.  A CI clone has no `refs/exps/` at all:
`dvc exp push origin` put them on the server, and they are fetched from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dvc_cml import git
from dvc_cml.errors import UserError

if TYPE_CHECKING:
    from dvc.repo import Repo


def _baseline(repo: Repo, rev: str) -> str:
    from scmrepo.exceptions import SCMError

    try:
        return str(repo.scm.resolve_rev(rev))
    except SCMError:
        raise UserError(
            f"--experiments {rev}: no such revision in {repo.root_dir} (name the commit the "
            "experiments were run from, e.g. a branch)"
        ) from None


def _local(repo: Repo, sha: str) -> list[tuple[str, str]]:
    """(name, commit) of each experiment of baseline `sha`, newest first."""
    found = repo.experiments.ls(rev=sha).get(sha, [])
    dated = []
    for name, exp_sha in found:
        if exp_sha:
            when = repo.scm.resolve_commit(exp_sha).commit_time
            dated.append((when, exp_sha, name))
    # `dvc exp show`'s order: by commit time, then by SHA, newest first.
    return [(name, exp_sha) for _, exp_sha, name in sorted(dated, reverse=True)]


def listed(repo: Repo, baseline: str = "HEAD") -> list[tuple[str, str]]:
    """(name, commit) of the experiments run from `baseline`'s commit, as `dvc exp show`
    shows them; fetched from origin when the clone has none (CI)."""
    sha = _baseline(repo, baseline)
    found = _local(repo, sha)
    root = Path(repo.root_dir)
    if not found and git.has_origin(root):
        git.fetch_experiments(root, sha)
        found = _local(repo, sha)
    if not found:
        raise UserError(
            f"--experiments: no experiments of {baseline} ({sha[:7]}) here or on origin "
            "(run some with `dvc exp run`; in CI, push them with `dvc exp push origin`)"
        )
    return found
