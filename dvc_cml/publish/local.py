"""The report directory: report.md, report.html, and the charts and specs they link to.

dvc-cml replaces and removes only the files it wrote there, as its manifest lists them; a
directory that holds anything else is refused.  Nothing is written through a symlink (see
`dvc_cml.files`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from dvc_cml import files as fs
from dvc_cml.errors import LOG_NAME, UserError

REPORT_FILE = "report.md"
HTML_FILE = "report.html"
PLOTS_DIR = "plots"
GITIGNORE = ".gitignore"
# What dvc-cml wrote in the directory, one path a line: the only files it will replace or
# remove there, and how it knows the directory as a report of its own.
MANIFEST = ".dvc-cml-manifest"
MANIFEST_HEADER = "# dvc-cml: the files it wrote here, and the only ones it replaces or removes"
# A manifest lists names dvc-cml makes: file-name-safe parts, nothing else is believed.
_PART = r"(?!\.{1,2}(?:/|$))[A-Za-z0-9._-]+"  # never "." or ".."
_OURS = re.compile(rf"{_PART}(?:/{_PART})*")
_ALWAYS_OURS = {LOG_NAME}  # appended by the error boundary, never replaced or removed
GITIGNORE_TEXT = b"# written by dvc-cml\n*\n"
# Where the GitLab template writes --metrics-report: in the report directory.
METRICS_FILE = "metrics.txt"
# A report of a dvc-cml from before the manifest: the files it wrote, nothing else.  Chart
# and image names are those `report._slugs` makes, with a revision's key for images.
_OLDER_TOP = {REPORT_FILE, HTML_FILE, GITIGNORE, METRICS_FILE, LOG_NAME}
_OLDER_PLOT = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)?\.(?:png|jpe?g|gif|svg|vl\.json)")
# An OpenMetrics file as dvc-cml writes it (render/openmetrics.py): its families, then EOF.
_OPENMETRICS_LINE = re.compile(r"# (?:HELP|TYPE) dvc_\w+ .*|dvc_\w+\{.*\} \S+")


def _previous(root: int) -> set[str] | None:
    """The files an earlier run wrote (from its manifest); None if it is not a report."""
    data = fs.read(root, PurePosixPath(MANIFEST), 4 << 20)
    if data is None:
        return None
    lines = data.decode("utf-8", "replace").splitlines()
    if not lines or lines[0] != MANIFEST_HEADER:
        return None
    return {line for line in lines[1:] if _OURS.fullmatch(line) and line != MANIFEST}


def openmetrics_of_ours(data: bytes | None) -> bool:
    """Whether `data` is an OpenMetrics file as dvc-cml writes it (`--metrics-report`)."""
    try:
        lines = (data or b"").decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return False
    return lines[-2:] == ["# EOF", ""] and all(map(_OPENMETRICS_LINE.fullmatch, lines[:-2]))


def _older(root: int) -> set[str] | None:
    """The files of a report an older dvc-cml wrote (before the manifest), to replace or
    remove: None unless the directory holds report.md and nothing but plain files it wrote
    (report.md, report.html, .gitignore as it writes it, plots/ of its charts, and the
    metrics report and error log, which are never replaced or removed here)."""
    names = set(os.listdir(root))
    if REPORT_FILE not in names or not names <= _OLDER_TOP | {PLOTS_DIR}:
        return None
    found = names - {PLOTS_DIR}
    if any(fs.entry(root, PurePosixPath(name)) != "file" for name in found):
        return None
    if GITIGNORE in names and fs.read(root, PurePosixPath(GITIGNORE), 64) != GITIGNORE_TEXT:
        return None
    metrics = PurePosixPath(METRICS_FILE)
    if METRICS_FILE in names and not openmetrics_of_ours(fs.read(root, metrics, 64 << 20)):
        return None
    if PLOTS_DIR in names:
        charts = fs.listing(root, PurePosixPath(PLOTS_DIR))
        if charts is None:
            return None
        for name in charts:
            rel = PurePosixPath(PLOTS_DIR, name)
            if not _OLDER_PLOT.fullmatch(name) or fs.entry(root, rel) != "file":
                return None
            found.add(str(rel))
    return found - {METRICS_FILE, LOG_NAME}


def _manifest(paths: set[str]) -> bytes:
    return "\n".join([MANIFEST_HEADER, *sorted(paths), ""]).encode()


def _check(root: int, out_dir: Path, before: set[str] | None, wanted: list[str]) -> set[str]:
    """What an earlier run wrote here; a UserError, before anything is written, if the
    directory is not empty and not a report, or a file to write is not one of ours."""
    if before is None:
        others = sorted(set(os.listdir(root)) - _ALWAYS_OURS)
        if others:
            shown = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
            raise UserError(
                f"{out_dir} is not empty and is not a dvc-cml report ({shown}); dvc-cml only "
                "writes a report into a new or empty directory, or over its own earlier report"
            )
        before = set()
    for rel in wanted:
        kind = fs.entry(root, PurePosixPath(rel))
        if kind is not None and (rel not in before or kind == "dir"):
            raise UserError(
                f"{out_dir / rel} exists and dvc-cml did not write it: not replacing it"
            )
    return before


def _named(folder: Path, exc: OSError, itself: str | None = None) -> str:
    """The path a SymlinkError names: absolute as found, or inside `folder`; `itself` when
    it is `folder`."""
    name = Path(str(exc.filename))
    if itself and name == Path(os.path.normpath(folder.absolute())):
        return itself
    return str(name if name.is_absolute() else folder / name)


def write_report_dir(
    out_dir: Path, markdown: str, files: Mapping[str, bytes], page: str | None = None
) -> Path:
    """Write report.md, report.html (`page`) and `files` (paths relative to `out_dir`).

    Returns report.md's path.  The charts of an earlier run that this one did not draw are
    removed, so the directory never links stale images; only files listed in the earlier
    run's manifest are replaced or removed.  Each file is written whole, then renamed into
    place: report.md and report.html last, the manifest first and last.
    """
    new = dict(files)
    if page is not None:
        new[HTML_FILE] = page.encode("utf-8")
    new[REPORT_FILE] = markdown.encode("utf-8")
    # Keep the default report dir, which lives inside the project, out of `git status`.
    new[GITIGNORE] = GITIGNORE_TEXT
    try:
        with fs.directory(out_dir) as root:
            earlier = _previous(root)
            before = _check(root, out_dir, _older(root) if earlier is None else earlier, list(new))
            fs.write(root, PurePosixPath(MANIFEST), _manifest(before | set(new)))
            for rel, data in new.items():
                fs.write(root, PurePosixPath(rel), data)
            for rel in sorted(before - set(new)):
                fs.remove(root, PurePosixPath(rel))
            fs.write(root, PurePosixPath(MANIFEST), _manifest(set(new)))
    except fs.SymlinkError as exc:
        raise UserError(
            f"cannot write the report to {out_dir}: {_named(out_dir, exc, 'it')} is a symlink or "
            "not a directory, and dvc-cml never writes through one"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from None
    return out_dir / REPORT_FILE


def write_metrics_report(path: Path, text: str) -> None:
    """The OpenMetrics file, as the report directory's files are written: a new file, or
    one dvc-cml wrote before (an OpenMetrics file as it writes them) replaced; anything
    else there (a file of the user's, a symlink) is refused, and nothing is written through
    a symlink.  Written whole under a temporary name, then renamed into place."""
    name = PurePosixPath(path.name)
    try:
        with fs.directory(path.parent) as folder:
            kind = fs.entry(folder, name)
            if kind == "dir":
                raise IsADirectoryError(21, "is a directory")
            if kind is not None and not openmetrics_of_ours(fs.read(folder, name, 64 << 20)):
                raise UserError(f"{path} exists and dvc-cml did not write it: not replacing it")
            fs.write(folder, name, text.encode("utf-8"))
    except fs.SymlinkError as exc:
        raise UserError(
            f"cannot write the metrics report {path}: {_named(path.parent, exc)} is a symlink "
            "or not a directory, and dvc-cml never writes through one"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot write the metrics report {path}: {exc.strerror or exc}") from None


def open_in_browser(page: Path, env: Mapping[str, str]) -> str:
    """Open report.html like `dvc plots diff --open`; what happened, as a line for the user.

    Never in CI (nobody is looking there); with no browser, the path is the answer.  Python's
    webbrowser honours $BROWSER.
    """
    if env.get("CI"):
        return f"not opening a browser in CI ($CI is set); the report is at {page}"
    import webbrowser

    try:
        opened = webbrowser.open(page.absolute().as_uri())
    except webbrowser.Error:
        opened = False
    if opened:
        return f"opened {page} in the web browser"
    return f"no web browser found; open {page}"


def append_summary(path: Path, text: str) -> None:
    """Append to GitHub's job summary file (a step may write it more than once)."""
    try:
        fs.append(path, text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the job summary {path}: {exc.strerror or exc}") from None
