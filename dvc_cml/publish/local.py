"""The report directory: report.md, and the charts and specs it links to."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from dvc_cml.errors import UserError

REPORT_FILE = "report.md"
PLOTS_DIR = "plots"


def write_report_dir(out_dir: Path, markdown: str, files: Mapping[str, bytes]) -> Path:
    """Write report.md and `files` (paths relative to `out_dir`); return report.md's path.

    Charts from an earlier run are removed first so the directory never links stale images;
    only a directory that already holds a report.md is treated as ours to clean.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        plots = out_dir / PLOTS_DIR
        if (out_dir / REPORT_FILE).exists() and plots.is_dir():
            shutil.rmtree(plots)
        for rel, data in files.items():
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        report = out_dir / REPORT_FILE
        report.write_text(markdown, encoding="utf-8")
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


def append_summary(path: Path, text: str) -> None:
    """Append to GitHub's job summary file (a step may write it more than once)."""
    try:
        with path.open("a", encoding="utf-8") as fd:
            fd.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the job summary {path}: {exc.strerror or exc}") from None
