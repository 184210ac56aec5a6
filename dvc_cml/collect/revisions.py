"""Revisions as users name them: branches, tags, SHAs, `HEAD~N`, experiments, `workspace`.

What a shallow CI clone lacks is fetched from origin into a real ref, with a bounded depth.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dvc_cml import git
from dvc_cml.ci import BaseHint
from dvc_cml.collect import internals
from dvc_cml.collect.project import WORKSPACE
from dvc_cml.errors import UserError
from dvc_cml.model import Revision

if TYPE_CHECKING:
    from dvc.repo import Repo


def default_base(repo: Repo, hint: BaseHint) -> str:
    """The branch CI names (MR target, default branch), else `main` or `master`."""
    for name in (*hint.branches, "main", "master"):
        for ref in (name, f"origin/{name}"):
            if _try_resolve(repo, ref):
                return ref
    if hint.branches:
        return hint.branches[0]  # not here yet: resolve_revision fetches it
    raise UserError(
        "no BASE revision given and neither `main` nor `master` exists; "
        "name the branch to compare against, e.g. `dvc-cml diff develop`"
    )


def _try_resolve(repo: Repo, name: str) -> str | None:
    from scmrepo.exceptions import SCMError

    try:
        return str(repo.scm.resolve_rev(name))
    except SCMError:
        return None


def _experiment(repo: Repo, name: str) -> str | None:
    """The commit of a DVC experiment named as `dvc exp show` lists it."""
    refs = internals.experiment_refs(repo, name)
    if len(refs) > 1:
        baselines = ", ".join(ref.baseline_sha[:7] for ref in refs)
        raise UserError(
            f"experiment name {name!r} is ambiguous (baselines {baselines}); use its SHA"
        )
    return str(repo.scm.get_ref(str(refs[0]))) if refs else None


def resolve_revision(
    repo: Repo, name: str, sha: str | None = None, deeper: str = BaseHint.deeper
) -> Revision:
    """A revision by name (branch, tag, SHA, HEAD~N, experiment, workspace).

    What is not in the clone is fetched from origin into a real ref, with a bounded depth.
    `sha`, when given, pins the commit (the MR's merge base) while keeping the name;
    `deeper` says how to deepen a shallow clone that cannot reach it, in the CI's terms.
    """
    if name == WORKSPACE:
        return Revision(WORKSPACE, _try_resolve(repo, "HEAD"))
    wanted = sha or name
    found = _try_resolve(repo, wanted) or (None if sha else _experiment(repo, name))
    root = Path(repo.root_dir)
    if found is None and git.has_origin(root):
        problem = git.fetch(root, wanted)
        if problem and sha:  # not every server serves a bare SHA: its branch brings it along
            problem = git.fetch(root, name)
        found = _try_resolve(repo, wanted) or _try_resolve(repo, f"origin/{wanted}")
        if found is None and git.is_shallow(root):
            raise UserError(
                f"revision {wanted!r} is not in {repo.root_dir} (this clone is shallow) and "
                f"fetching it from origin failed ({problem}); {deeper}"
            )
        if found is None:  # a full clone lacks nothing: more history would not help
            raise UserError(
                f"revision {wanted!r} does not exist in {repo.root_dir} or on origin (no "
                f"branch, tag, commit or experiment by that name; fetching it said: {problem})"
            )
    if found is None:
        raise UserError(
            f"revision {wanted!r} does not exist in {repo.root_dir} "
            "(no branch, tag, commit or experiment by that name)"
        )
    return Revision(name, found)


def rev_key(rev: Revision) -> str:
    """The string DVC switches to: the full SHA, so names like `HEAD~1` stay unambiguous."""
    return WORKSPACE if rev.name == WORKSPACE or rev.sha is None else rev.sha
