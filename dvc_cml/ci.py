"""What the CI environment says about the comparison: which branch is the base, and which
commit of it to compare against.  Pure: an environment mapping in, a `BaseHint` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class BaseHint:
    """Where the base revision is, as far as CI knows."""

    branches: tuple[str, ...] = ()  # to try in order, before `main` and `master`
    target: str | None = None  # the merge/pull request's target branch
    # The commit of `target` to compare against: the merge base, so the report shows what
    # the merge request changes, not what the target branch gained since.
    merge_base: str | None = None

    def pin(self, base_name: str) -> str | None:
        """The commit to use for `base_name`, when it names the target branch."""
        if self.target and self.merge_base and base_name in (self.target, f"origin/{self.target}"):
            return self.merge_base
        return None


def base_hint(env: Mapping[str, str]) -> BaseHint:
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") or None
    branches = tuple(filter(None, (target, env.get("CI_DEFAULT_BRANCH"))))
    return BaseHint(
        branches=branches,
        target=target,
        merge_base=env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA") or None,
    )
