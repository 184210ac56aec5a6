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
from typing import TYPE_CHECKING, Any

from dvc_cml.collect import internals
from dvc_cml.collect.project import describe, open_project, quiet_dvc
from dvc_cml.errors import EXIT_STAGE_FAILED, UserError
from dvc_cml.format import stages_taken
from dvc_cml.model import Reproduced, StageOutcome, StageRun
from dvc_cml.pull import Pulled, pull
from dvc_cml.settings import DEFAULT_PULL_TIMEOUT

if TYPE_CHECKING:
    from dvc.repo import Repo

Say = Callable[[str], None]


class StageFailed(UserError):
    """A stage's command failed: one exit code of dvc-cml's own (the stage's status is in the
    message), so a stage exiting 1, 4 or 5 is never read as dvc-cml's error, "not posted" or
    "gate failed"."""

    exit_code = EXIT_STAGE_FAILED


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


def reproduce(root: Path, targets: list[str] | None = None, say: Say = print) -> Reproduced:
    """`dvc repro` in the project at `root` (the demo's and the tests' way in)."""
    with open_project(root) as repo:
        return reproduce_in(repo, targets, say)


def reproduce_in(
    repo: Repo, targets: list[str] | None = None, say: Say = print, pull: bool = False
) -> Reproduced:
    """`dvc repro` (of `targets`, or the whole pipeline), streaming the stages' output.

    Stages run exactly as `dvc repro` runs them from the same shell: same environment, same
    PATH, so `python` is the user's, not dvc-cml's.  Each stage DVC takes is recorded in its
    order with what happened to it.  With `pull`, missing dependencies and outputs come from
    the DVC remote (`dvc repro --pull`).
    """
    from dvc.exceptions import DvcException, ReproductionError

    taken: list[StageRun] = []
    failed: list[str] = []

    def each(stage: Any, **kwargs: Any) -> Any:
        try:
            done = internals.reproduce_stage(stage, **kwargs)
        except Exception:
            failed.append(stage.addressing)
            raise
        if done is None:
            outcome: StageOutcome = "up to date"
        else:
            outcome = "restored" if stage.addressing in restored else "ran"
        taken.append(StageRun(stage.addressing, outcome))
        return done

    say(f"reproducing {', '.join(targets) if targets else 'the pipeline'}")
    with internals.run_cache_restores() as restored:
        try:
            with _stage_output_to_stderr():
                repo.reproduce(targets=targets or None, pull=pull, repro_fn=each)
        except ReproductionError as exc:
            raise _stage_failure(exc, failed, taken) from None
        except DvcException as exc:  # unknown target, cycles, missing dependencies, ...
            raise UserError(f"dvc repro failed: {describe(exc)}") from None
    done = Reproduced(tuple(taken))
    say(f"reproduced, in pipeline order: {stages_taken(done)}")
    return done


def _stage_failure(exc: Exception, failed: list[str], taken: list[StageRun]) -> UserError:
    stage = failed[0] if failed else "a stage"
    cause = str(exc.__cause__ or "")
    status = re.search(r"exited with (-?\d+)", cause)
    code = f"exit status {status.group(1)}" if status else "did not complete"
    before = f"; before it: {stages_taken(Reproduced(tuple(taken)))}" if taken else ""
    return StageFailed(
        f"stage '{stage}' failed ({code}): {' '.join(cause.split())}{before}; "
        "no report was made from a half-run pipeline"
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
    (DVC checks them out through the link), at the output's root or anywhere inside a
    directory output."""
    from dvc_cml.collect import workspace

    root = repo.root_dir
    outputs = targets
    if outputs is None:
        outputs = [os.path.relpath(out.fs_path, root) for out in repo.index.outs if out.use_cache]
    blocked = workspace.leading_outside(repo, outputs)
    for path, reason in blocked.items():
        say(f"not pulling {path}: {reason.removeprefix('not read: ')}")
    return targets if not blocked else [path for path in outputs if path not in blocked]


def pull_in(
    repo: Repo, everything: bool, say: Say = print, timeout: float | None = DEFAULT_PULL_TIMEOUT
) -> Pulled | None:
    """Fetch and check out what the diff reads (or everything), for at most `timeout`
    seconds; None when nothing the diff reads is DVC-cached.

    A failure is said here and returned, not raised: the report is still made from what
    can be read.
    """
    from dvc_cml.collect import guard

    if links := guard.committed_into_stores(repo):
        more = f" and {len(links) - 1} more" if len(links) > 1 else ""
        say(
            f"not pulling: the branch commits symlinks where DVC keeps data ({links[0]}{more}); "
            "a pull would copy what they lead to"
        )
        return None
    try:
        # DVC's index reads dvc.yaml, params.yaml and the .dvc files: through the guard, as
        # the diff reads them (a link leading outside, an alias bomb).
        with guard.guarded(repo):
            targets = None if everything else diff_outputs(repo)
            if targets == []:
                say("nothing to pull: no metrics or plots are DVC-cached")
                return None
            targets = _inside_only(repo, targets, say)
    except Exception as exc:
        if refusal := guard.refused(exc):
            say(f"not pulling: {refusal}")  # reading the revision says it again, and ends
            return None
        raise
    if targets == []:
        return None
    say(f"pulling {'everything' if targets is None else ', '.join(targets)}")
    done = pull(repo, targets, timeout)
    if done.failure is None:
        say(f"pulled: {done.summary()}")
        return done
    say(f"not pulled: {done.failure.reason}")
    return done
