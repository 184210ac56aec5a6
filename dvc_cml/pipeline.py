"""DVC's pipeline side, in this process: init, pull and reproduce (no `dvc` subprocess).

Reading metrics, params and plots is `collect`'s job; this module changes the workspace,
and only in the ways the user asked for (--pull, --repro).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dvc_cml.collect import internals
from dvc_cml.collect.project import describe, open_project, quiet_dvc
from dvc_cml.errors import UserError
from dvc_cml.model import Reproduced

if TYPE_CHECKING:
    from dvc.repo import Repo

Say = Callable[[str], None]


class StageFailed(UserError):
    """A stage's command failed: dvc-cml exits with the command's own status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.exit_code = status


@contextlib.contextmanager
def _python_on_path() -> Iterator[None]:
    """Stage commands say `python`; make that this interpreter even outside an active venv."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), old])
    try:
        yield
    finally:
        os.environ["PATH"] = old


@contextlib.contextmanager
def _stage_output_to_stderr() -> Iterator[None]:
    """Stage commands write to fd 1; keep stdout for the report (--md, --json)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def init_project(root: Path) -> None:
    """`dvc init` in an existing git repository, with analytics off."""
    from dvc.repo import Repo

    quiet_dvc()
    Repo.init(str(root)).close()
    (root / ".dvc" / "config").write_text("[core]\n    analytics = false\n")


def _stage_names(repo: Repo) -> list[str]:
    return sorted(stage.addressing for stage in repo.index.stages)


def reproduce(root: Path, targets: list[str] | None = None, say: Say = print) -> Reproduced:
    """`dvc repro` in the project at `root` (the demo's and the tests' way in)."""
    with open_project(root) as repo:
        return reproduce_in(repo, targets, say)


def reproduce_in(
    repo: Repo, targets: list[str] | None = None, say: Say = print, pull: bool = False
) -> Reproduced:
    """`dvc repro` (of `targets`, or the whole pipeline), streaming the stages' output.

    With `pull`, missing dependencies and outputs come from the DVC remote (`dvc repro --pull`).
    """
    from dvc.exceptions import DvcException, ReproductionError

    with _python_on_path():
        say(f"reproducing {', '.join(targets) if targets else 'the pipeline'}")
        try:
            with _stage_output_to_stderr():
                stages = repo.reproduce(targets=targets or None, pull=pull)
        except ReproductionError as exc:
            raise _stage_failure(exc) from None
        except DvcException as exc:  # unknown target, cycles, missing dependencies, ...
            raise UserError(f"dvc repro failed: {describe(exc)}") from None
        ran = tuple(sorted(stage.addressing for stage in stages))
        up_to_date = tuple(name for name in _stage_names(repo) if name not in ran)
    say(f"stages run: {', '.join(ran) or 'none'}; up to date: {', '.join(up_to_date) or 'none'}")
    return Reproduced(ran, up_to_date)


def _stage_failure(exc: Exception) -> UserError:
    names = re.findall(r"'([^']+)'", str(exc))
    stage = names[0] if names else "a stage"
    cause = str(exc.__cause__ or "")
    status = re.search(r"exited with (\d+)", cause)
    code = int(status.group(1)) if status else 1
    return StageFailed(
        f"stage '{stage}' failed (exit status {code}): {' '.join(cause.split())}; "
        "no report was made from a half-run pipeline",
        code if 0 < code < 256 else 1,
    )


def _read_paths(repo: Repo) -> set[str]:
    """Absolute paths of the files and folders the diff reads in the workspace.

    Top-level plots (a `- path` entry or `- id: {x, y: {file: field}}`), metrics and params of
    every dvc.yaml, each relative to its own dvc.yaml's folder, plus the stages' params files.
    """

    def under(dvcfile: str, rel: str) -> str:
        return os.path.normpath(Path(dvcfile).parent / rel)

    paths = {str(Path(repo.root_dir) / "params.yaml")}
    top_plots, top_metrics, top_params = internals.top_level_files(repo)
    for dvcfile, definitions in top_plots.items():
        for definition in definitions:
            # example-get-started ends its `plots:` with `- eval/plots/images/importance.png`.
            entries = {definition: None} if isinstance(definition, str) else definition
            for plot_id, props in entries.items():
                paths.update(
                    under(dvcfile, src) for src in internals.infer_plot_sources(plot_id, props)
                )
    for table in (top_metrics, top_params):
        for dvcfile, files in table.items():
            paths.update(under(dvcfile, f) for f in files if isinstance(f, str))
    for stage in repo.index.stages:
        paths.update(str(dep.fs_path) for dep in stage.params)
    return paths


def _overlap(a: str, b: str) -> bool:
    """One path is the other or inside it (a plot file in a directory output, or the reverse)."""
    return a == b or a.startswith(b + os.sep) or b.startswith(a + os.sep)


def diff_outputs(repo: Repo) -> list[str]:
    """DVC-cached outputs the diff reads: metrics and plots outputs, and every output that
    holds (or lies inside) a top-level plot, metrics or params path, e.g. `outs: - eval`."""
    root = repo.root_dir
    read = _read_paths(repo)
    return sorted(
        Path(os.path.relpath(out.fs_path, root)).as_posix()
        for out in repo.index.outs
        if out.use_cache
        and (out.metric or out.plot or any(_overlap(str(out.fs_path), p) for p in read))
    )


def _inside_only(repo: Repo, targets: list[str] | None, say: Say) -> list[str] | None:
    """The outputs to pull, less those a committed symlink would take outside the repository
    (DVC checks them out through the link)."""
    from dvc_cml.collect import guard

    root = repo.root_dir
    outputs = targets
    if outputs is None:
        outputs = [os.path.relpath(out.fs_path, root) for out in repo.index.outs if out.use_cache]
    blocked = guard.leading_outside(repo, outputs)
    for path, reason in blocked.items():
        say(f"not pulling {path}: {reason}")
    return targets if not blocked else [path for path in outputs if path not in blocked]


def pull_in(repo: Repo, everything: bool, say: Say = print) -> int:
    """Fetch and check out what the diff needs (or everything); the number of files changed."""
    from dvc.exceptions import CheckoutError, DvcException

    targets = None if everything else diff_outputs(repo)
    if targets == []:
        say("nothing to pull: no metrics or plots are DVC-cached")
        return 0
    targets = _inside_only(repo, targets, say)
    if targets == []:
        return 0
    say(f"pulling {'everything' if targets is None else ', '.join(targets)}")
    try:
        result = repo.pull(targets=targets)
    except CheckoutError as exc:
        missing = ", ".join(sorted(exc.target_infos)) or "some files"
        raise UserError(
            f"could not pull {missing} for the workspace: not in the DVC remote "
            "(was `dvc push` run where they were produced?)"
        ) from None
    except DvcException as exc:
        raise UserError(f"dvc pull failed: {describe(exc)}") from None
    changed = sum(len(result.get(k, [])) for k in ("added", "modified"))
    say(f"pulled: {changed} file(s) changed in the workspace")
    return changed
