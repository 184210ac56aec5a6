"""Opening a DVC project, and turning DVC's exceptions into messages that name the file.

The repository is opened once per run (`open_project`) and shared by --pull, --repro and
the diff; the config file is found without opening it at all (`find_root`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dvc_cml.collect import internals
from dvc_cml.errors import UserError
from dvc_cml.model import Problem, Revision

if TYPE_CHECKING:
    from dvc.repo import Repo

WORKSPACE = "workspace"

# DVC logs INFO to stdout and its own warnings to stderr; we report problems ourselves.
_DVC_LOGGERS = ("dvc", "dvc_data", "dvc_objects", "scmrepo", "dvc_render")


def quiet_dvc() -> None:
    for name in _DVC_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    """DVC resolves dvc.yaml and targets against the working directory, like `git -C`."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def find_root(path: Path) -> Path | None:
    """The DVC project at or above `path`, found as DVC does (a `.dvc/` folder), without
    importing DVC: the config files live there, and `check` with no gates needs nothing else."""
    folder = path.absolute()
    for candidate in (folder, *folder.parents):
        if (candidate / ".dvc").is_dir():
            return candidate
        if candidate.is_mount():
            break
    return None


# What DVC reads (its config) and writes (its state, locks, `btime`) on opening a project:
# a branch commits them, so a link of its own must not lead DVC outside the repository.
_DVC_OWN = {
    ".dvc": "DVC's folder",
    ".dvc/config": "DVC's config",
    ".dvc/config.local": "DVC's local config",
    ".dvc/tmp": "where DVC writes its state files",
}


def refuse_links_out(project: Path, top: str) -> None:
    """A one-line error if a file or folder DVC opens for the `project` leads outside the
    git repository at `top` (a symlink the branch committed)."""
    from dvc_cml.collect import guard

    for rel, what in _DVC_OWN.items():
        if os.path.lexists(full := project / rel) and (reason := guard.outside(str(full), top)):
            why = reason.removeprefix("not read: ")
            raise UserError(f"{rel} ({what}) is {why}: the project is not opened")


@contextlib.contextmanager
def open_project(path: Path, offline: bool = False) -> Iterator[Repo]:
    """The DVC repo at or above `path`, with the working directory at its root.

    Explains what is missing when `path` is not a git + DVC project.  `offline`: without its
    default DVC remote, at every revision, so data not in the local cache is not asked for.
    """
    from dvc.config import ConfigError
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo
    from dvc.scm import SCM as open_scm
    from dvc.scm import NoSCM, SCMError

    quiet_dvc()
    if not path.is_dir():
        raise UserError(f"{path} is not a directory")
    try:
        top = open_scm(str(path)).root_dir
    except SCMError:
        raise UserError(
            f"{path} is not inside a git repository (dvc-cml compares git revisions; "
            "run it from your project's clone or pass -C PATH)"
        ) from None
    if (project := find_root(path)) is not None:
        refuse_links_out(project, top)
    try:
        repo = Repo(str(path), config={"core": {"remote": ""}} if offline else None)
    except NotDvcRepoError:
        raise UserError(
            f"{path} is a git repository but not a DVC project (no .dvc directory found; "
            "run `dvc init` first)"
        ) from None
    except ConfigError:
        # DVC's message quotes the file's lines: a branch's file, said in no output.
        raise UserError(
            "DVC cannot load its config (.dvc/config, .dvc/config.local or a user-level "
            "one): not valid; see `dvc config --list --show-origin`"
        ) from None
    try:
        if isinstance(repo.scm, NoSCM):  # .dvc/config has `core.no_scm`
            raise UserError(f"{repo.root_dir} is a DVC project initialised without git (no_scm)")
        with chdir(Path(repo.root_dir)):
            yield repo
    finally:
        repo.close()


def describe(exc: BaseException) -> str:
    """A short reason from a DVC error: the parser's own words and position when it has them."""
    cause = exc.__cause__ or exc
    line = getattr(cause, "lineno", None)  # json.JSONDecodeError
    if line is not None and hasattr(cause, "msg"):
        # Some of json's messages end in "at", meant to be followed by the position.
        message = str(cause.msg).removesuffix(" at")
        return f"{message} at line {line}, column {getattr(cause, 'colno', '?')}"
    mark = getattr(cause, "problem_mark", None)  # ruamel.yaml's MarkedYAMLError
    if (problem := getattr(cause, "problem", None)) and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    if isinstance(cause, RecursionError):  # the parser's own stack, not a bug in the file
        return "nested too deep to read (Python's recursion limit)"
    text = str(cause) or type(cause).__name__
    return " ".join(text.split())


class EmptyFile(ValueError):
    """A declared metrics, params or plot file that holds nothing: no bytes, only a header,
    or YAML that is no mapping of values (`reason` says which).  DVC reads it as no values
    at all, and every row of it would read "removed"; in the workspace it is most often a
    file a training run has just opened for writing (`open("w")` empties it first)."""

    def __init__(self, reason: str = "empty") -> None:
        super().__init__(reason)
        self.reason = reason


def unreadable(path: str, rev: Revision, exc: BaseException) -> Problem:
    """A file DVC could not read at `rev`, as a Problem: the report goes on without it, as
    `dvc metrics show` warns and goes on.  In the workspace a file that does not parse (or
    is empty) is most often one that a training run (dvclive) is rewriting at that moment."""
    return Problem(path, rev, why_unread(exc, rev))


def why_unread(exc: BaseException, rev: Revision) -> str:
    """The one line `unreadable` gives a file."""
    import csv

    from dvc.utils.serialize import ParseError

    text = getattr(exc.__cause__ or exc, "doc", None)  # json.JSONDecodeError: what it parsed
    if isinstance(exc, EmptyFile):
        reason = exc.reason
    elif isinstance(text, str) and not text.strip():
        reason = "empty"  # JSON says "Expecting value" of an empty text
    else:
        what = "does not parse" if isinstance(exc, (ParseError, csv.Error)) else "not read"
        reason = f"{what}: {describe(exc)}"
    if rev.name == WORKSPACE:
        reason += " (it may still be being written)"
    return reason


# How every "no data" reason ends, so the pull's report can tell them apart (`no_data_reason`).
NO_DATA_END = (
    "in neither the local cache nor the DVC remote (was `dvc push` run where it was produced?)"
)
NO_DATA = f"not read: its data is {NO_DATA_END}"


def no_data_reason(error: BaseException) -> str:
    """Why a `no_data` file was not read; naming the directory whose listing is missing,
    since the file itself may be in the remote."""
    if folder := missing_directory(error):
        where = f"it is inside {folder}/, a DVC-tracked directory"
        return f"not read: {where} whose listing is {NO_DATA_END}"
    return NO_DATA


def no_data(error: BaseException) -> bool:
    """DVC tracks the file at this revision, but has its data in neither the local cache nor
    the remote (or was told not to ask the remote): it costs that file, not the report.

    DVC says so for a file ("No storage files available"), or, for a file in a directory
    output, cannot load the directory's listing (`<md5>.dir`) from either.
    """
    if isinstance(error, internals.directory_listing_error()):
        return isinstance(error.__cause__, FileNotFoundError)
    return isinstance(error, FileNotFoundError) and "No storage files available" in str(error)


def not_produced(error: BaseException, path: str, rev: Revision) -> bool:
    """True for a file that does not exist at `rev` (declared in dvc.yaml, never written)."""
    return isinstance(error, FileNotFoundError) and not no_data(error)


def missing_directory(error: BaseException) -> str | None:
    """The directory output whose listing DVC could not load (`no_data`), as a path."""
    import ast

    found = re.fullmatch(r"failed to load directory (\(.*\))", str(error))
    try:
        key = ast.literal_eval(found.group(1)) if found else None
    except (ValueError, SyntaxError):
        key = None
    return "/".join(map(str, key)) if isinstance(key, tuple) and key else None
