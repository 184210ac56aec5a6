"""The body of a forge comment: the report, a hidden marker, a footer, within the limit.

Pure: strings in, a string out.  Every forge caps a comment (GitLab at 1,000,000
characters, GitHub at 65,536); a report that would exceed it is cut step by step, keeping the
header, changed metrics and plots.  GitHub's job summary is rendered the same way.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from dvc_cml.model import RenderedPlot, Report
from dvc_cml.render import markdown
from dvc_cml.render.mdtext import code, escape


@dataclass(frozen=True)
class Rules:
    """What a forge accepts in one comment."""

    what: str  # "a GitLab comment": how the trim notice names it
    limit: int  # characters
    escape_quick_actions: bool  # GitLab runs lines starting with "/" as commands


GITLAB = Rules("a GitLab comment", 1_000_000, escape_quick_actions=True)
GITHUB = Rules("a GitHub comment", 65_536, escape_quick_actions=False)
# GitHub caps a step's summary at 1 MiB; 4 bytes a character at most in UTF-8.
JOB_SUMMARY = Rules("GitHub's job summary", 1_048_576 // 4, escape_quick_actions=False)
NOTE_LIMIT = GITLAB.limit


def neutralize_quick_actions(text: str) -> str:
    r"""A line starting with `/` would run as a quick action (`/close`, `/merge`): escape it.

    `\/close` renders as "/close" but GitLab does not execute it.
    """
    return re.sub(r"(?m)^(\s*)/", r"\1\\/", text)


def footer(
    report: Report,
    pipeline: tuple[str | None, str | None],
    job: tuple[str | None, str | None, str | None],
    run_noun: str = "pipeline",
) -> str:
    """Who wrote the comment: the pipeline (or workflow run) and job, and the two commits."""
    pipeline_id, pipeline_url = pipeline
    job_id, job_url, job_name = job
    parts = ["Posted by dvc-cml"]
    if pipeline_id:
        ref = f"[#{pipeline_id}]({pipeline_url})" if pipeline_url else f"#{pipeline_id}"
        parts.append(f"for {run_noun} {ref}")
    if job_id:
        name = f" {escape(job_name)}" if job_name else ""
        ref = f"[#{job_id}{name}]({job_url})" if job_url else f"#{job_id}{name}"
        parts.append(f"job {ref}")
    elif job_name:  # GitHub Actions names its jobs but gives them no id of their own
        parts.append(f"job {escape(job_name)}")
    revs = " → ".join(
        f"{escape(r.name)} {code(r.short_sha)}{' + uncommitted changes' if r.dirty else ''}"
        if r.short_sha
        else escape(r.name)
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
    limit: int | None = None,
    rules: Rules = GITLAB,
    intro: str = "",
    page_url: str | None = None,
) -> str:
    """The comment, cut to `limit` characters if needed, saying what was left out and where.

    `limit` defaults to the forge's; `intro` is a note shown above the report (e.g. why the
    charts are not shown); `page_url` links report.html (every chart interactive) above the
    footer.
    """
    limit = rules.limit if limit is None else limit
    forge = rules.what
    page = [f"[Interactive report]({page_url}): every chart with tooltips, zoom and pan.", ""]

    def assemble(text: str, notice: str = "") -> str:
        parts = [text.rstrip("\n"), "", *(page if page_url else []), footer_text]
        if notice:
            parts[0:0] = [f"> ✂️ {notice}", ""]
        if intro:
            parts[0:0] = [f"> {intro}", ""]
        if marker:  # the job summary has none
            parts.insert(0, marker)
        joined = "\n".join(parts) + "\n"
        return neutralize_quick_actions(joined) if rules.escape_quick_actions else joined

    full = assemble(markdown.render(report, plots))
    if len(full) <= limit:
        return full

    where = f"The full report is at {full_report}."
    notice = (
        f"This report is too long for {forge}: unchanged metrics and the full "
        f"params table are left out. {where}"
    )
    trim = markdown.Trim(only_changed=True)
    candidate = assemble(markdown.render(report, plots, trim), notice)
    if len(candidate) <= limit:
        return candidate

    # Still too long: cut every table to the largest row count that fits.
    notice = (
        f"This report is too long for {forge}: unchanged metrics, the full params "
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
    tail = f"\n\n> ✂️ Cut at the size limit of {forge}. {where}\n\n{footer_text}\n"
    return smallest[: limit - len(tail)] + tail


def without_images(plots: Sequence[RenderedPlot], where: str) -> list[RenderedPlot]:
    """The plots with every chart and image replaced by a line naming its file and `where`."""
    out = []
    for plot in plots:
        files = [plot.png] if plot.png else []
        files += [path for _, path in plot.images]
        notes = list(plot.notes)
        if files:
            names = ", ".join(f"{PurePosixPath(f).name}" for f in files)
            notes.append(f"Not shown here: {names}, in {where}.")
        out.append(dataclasses.replace(plot, png=None, spec=None, images=(), notes=tuple(notes)))
    return out


def summary(
    report: Report,
    plots: Sequence[RenderedPlot],
    *,
    full_report: str,
    problem: str | None = None,
) -> str:
    """GitHub's job summary: the report without images (they are in the artifacts)."""
    intro = f"⚠️ Not posted: {problem}" if problem else ""
    return body(
        report,
        without_images(plots, "the report directory"),
        marker="",
        footer_text="<sub>Written by dvc-cml</sub>",
        full_report=full_report,
        rules=JOB_SUMMARY,
        intro=intro,
    )
