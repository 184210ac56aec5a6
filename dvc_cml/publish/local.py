"""The report directory: report.md, report.html, and the charts and specs they link to."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from dvc_cml.errors import UserError

REPORT_FILE = "report.md"
HTML_FILE = "report.html"
PLOTS_DIR = "plots"


def write_report_dir(
    out_dir: Path, markdown: str, files: Mapping[str, bytes], page: str | None = None
) -> Path:
    """Write report.md, report.html (`page`) and `files` (paths relative to `out_dir`).

    Returns report.md's path.  Charts from an earlier run are removed first so the directory
    never links stale images; only a directory that already holds a report.md is treated as
    ours to clean.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        plots = out_dir / PLOTS_DIR
        ours = (out_dir / REPORT_FILE).exists()
        if ours and plots.is_dir():
            shutil.rmtree(plots)
        if ours and page is None:
            (out_dir / HTML_FILE).unlink(missing_ok=True)
        for rel, data in files.items():
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        report = out_dir / REPORT_FILE
        report.write_text(markdown, encoding="utf-8")
        if page is not None:
            (out_dir / HTML_FILE).write_text(page, encoding="utf-8")
        # Keep the default report dir, which lives inside the project, out of `git status`.
        (out_dir / ".gitignore").write_text("# written by dvc-cml\n*\n")
    except OSError as exc:
        raise UserError(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from None
    return report


def write_metrics_report(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
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
        with path.open("a", encoding="utf-8") as fd:
            fd.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the job summary {path}: {exc.strerror or exc}") from None
