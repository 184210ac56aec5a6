"""The body of the GitLab comment: the report, a hidden marker, a footer, within the limit.

Pure: strings in, a string out.  GitLab rejects a note over 1,000,000 characters; a report
that would exceed it is cut step by step, keeping the header, changed metrics and plots.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dvc_cml.model import RenderedPlot, Report
from dvc_cml.render import markdown
from dvc_cml.render.mdtext import escape

NOTE_LIMIT = 1_000_000


def neutralize_quick_actions(text: str) -> str:
    r"""A line starting with `/` would run as a quick action (`/close`, `/merge`): escape it.

    `\/close` renders as "/close" but GitLab does not execute it.
    """
    return re.sub(r"(?m)^(\s*)/", r"\1\\/", text)


def footer(
    report: Report,
    pipeline: tuple[str | None, str | None],
    job: tuple[str | None, str | None, str | None],
) -> str:
    """Who wrote the comment: the pipeline and job, and the two commits compared."""
    pipeline_id, pipeline_url = pipeline
    job_id, job_url, job_name = job
    parts = ["Posted by dvc-cml"]
    if pipeline_id:
        ref = f"[#{pipeline_id}]({pipeline_url})" if pipeline_url else f"#{pipeline_id}"
        parts.append(f"for pipeline {ref}")
    if job_id:
        name = f" {escape(job_name)}" if job_name else ""
        ref = f"[#{job_id}{name}]({job_url})" if job_url else f"#{job_id}{name}"
        parts.append(f"job {ref}")
    revs = " → ".join(
        f"{escape(r.name)} `{r.short_sha}`" if r.short_sha else escape(r.name)
        for r in (report.base, report.head)
    )
    return f"<sub>{', '.join(parts)}: {revs}</sub>"


def body(
    report: Report,
    plots: Sequence[RenderedPlot],
    *,
    marker: str,
    footer_text: str,
    full_report: str,
    limit: int = NOTE_LIMIT,
) -> str:
    """The comment, cut to `limit` characters if needed, saying what was left out and where."""

    def assemble(text: str, notice: str = "") -> str:
        parts = [marker, text.rstrip("\n"), "", footer_text]
        if notice:
            parts[1:1] = [f"> ✂️ {notice}", ""]
        return neutralize_quick_actions("\n".join(parts) + "\n")

    full = assemble(markdown.render(report, plots))
    if len(full) <= limit:
        return full

    where = f"The full report is at {full_report}."
    notice = (
        "This report is too long for a GitLab comment: unchanged metrics and the full "
        f"params table are left out. {where}"
    )
    trim = markdown.Trim(only_changed=True)
    candidate = assemble(markdown.render(report, plots, trim), notice)
    if len(candidate) <= limit:
        return candidate

    # Still too long: cut every table to the largest row count that fits.
    notice = (
        "This report is too long for a GitLab comment: unchanged metrics, the full params "
        f"table and the longest tables' last rows are left out. {where}"
    )
    low, high = 0, max(len(report.metrics), len(report.params))
    best = None
    while low <= high:
        rows = (low + high) // 2
        trim = markdown.Trim(only_changed=True, max_rows=rows)
        candidate = assemble(markdown.render(report, plots, trim), notice)
        if len(candidate) <= limit:
            best, low = candidate, rows + 1
        else:
            high = rows - 1
    if best is not None:
        return best
    # Pathological (e.g. thousands of plots): a hard cut, keeping the marker and the notice.
    smallest = assemble(markdown.render(report, plots, markdown.Trim(True, max_rows=0)), notice)
    tail = f"\n\n> ✂️ Cut at GitLab's comment limit. {where}\n\n{footer_text}\n"
    return smallest[: limit - len(tail)] + tail
