"""Wires the data flow: collect -> render -> publish.  Returns an exit code."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO, cast

from dvc_cml.downsample import DEFAULT_MAX_POINTS
from dvc_cml.errors import (
    EXIT_GATE_FAILED,
    EXIT_NOT_PULLED,
    EXIT_OK,
    Redacting,
    redact,
    redact_bytes,
)
from dvc_cml.gates import Config
from dvc_cml.model import (
    DataPlot,
    Gate,
    ImagePlot,
    PlotKind,
    Problem,
    RenderedPlot,
    Report,
    Reproduced,
    Revision,
)
from dvc_cml.publish.common import Posted
from dvc_cml.publish.local import PLOTS_DIR
from dvc_cml.pull import Pulled
from dvc_cml.render import palette
from dvc_cml.render.drawing import ChartProcess, Drawn, chart_process, draw
from dvc_cml.render.mdtext import code
from dvc_cml.render.termtext import visible
from dvc_cml.settings import DEFAULT_PULL_TIMEOUT, ForgeSettings, JobSummary

if TYPE_CHECKING:
    from dvc.repo import Repo

Output = Literal["terminal", "md", "json"]
Step = Callable[[str], None]


@dataclass(frozen=True)
class DiffOptions:
    path: Path
    base: str | None
    head: str | None
    out_dir: Path
    more: tuple[str, ...] = ()  # further revisions, each compared with the base
    experiments: str | None = None  # add the experiments of this baseline (--experiments)
    output: Output = "terminal"
    env: Mapping[str, str] = field(default_factory=dict)
    forge: ForgeSettings | None = None  # post the report there (GitLab or GitHub)
    summary: JobSummary | None = None  # also write it to GitHub's job summary
    pull: bool = False  # the metrics and plots outputs of the workspace
    pull_all: bool = False
    pull_timeout: float | None = DEFAULT_PULL_TIMEOUT  # for the whole pull; None: no limit
    repro: bool = False
    repro_targets: tuple[str, ...] = ()
    fail_on: tuple[Gate, ...] = ()  # from --fail-on; the config file's are added
    max_points: int = DEFAULT_MAX_POINTS  # per series, before charting
    all_plots: bool = False  # also draw plots whose data did not change
    metrics_report: Path | None = None  # OpenMetrics for GitLab's metrics widget
    open_page: bool = False  # open report.html in a web browser (never in CI)


MAX_SLUG = 64  # characters of a file name's stem: far below any file system's 255 bytes


def _slugs(names: list[str]) -> list[str]:
    """File-name-safe, unique stems: only [a-z0-9_-] (GitLab upload names must be tame), at
    most MAX_SLUG characters; a longer one ends in a hash of the whole name, so it stays
    apart from a name that differs only past the cut, and the same on every run.  Lower case
    (a file system may not tell case apart), and each one taken once: a name that cleans to
    one already taken gets the first free "-N" ("a b", "a-b" and "a-b-2" ->
    "a-b", "a-b-2", "a-b-2-2")."""
    taken: set[str] = set()
    out = []
    for name in names:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "plot"
        if len(slug) > MAX_SLUG - 12:  # room for "-<hash>" and a "-N" of a repeated name
            digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            slug = f"{slug[: MAX_SLUG - 21].rstrip('-')}-{digest}"
        unique, number = slug, 1
        while unique in taken:
            number += 1
            unique = f"{slug}-{number}"
        taken.add(unique)
        out.append(unique)
    return out


def _image_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix in {".png", ".jpg", ".jpeg", ".gif", ".svg"} else ".png"


def _to_chart(report: Report, all_plots: bool) -> list[DataPlot]:
    """The data plots that get a chart: changed ones (all with `all_plots`) with data."""
    return [
        p for p in report.plots if isinstance(p, DataPlot) and p.points and (p.changed or all_plots)
    ]


STEAL_AFTER = 8  # with this many charts, a third worker draws some too (~0.8 s to start)


def render_plots(
    report: Report,
    step: Step | None = None,
    charts: ChartProcess | None = None,
    all_plots: bool = False,
    meanwhile: Callable[[], object] = lambda: None,
) -> tuple[list[RenderedPlot], dict[str, bytes]]:
    """Charts for every plot: what the report links to, and the files' bytes by relative path.

    Plots whose data is the same at both revisions are listed but not drawn, unless
    `all_plots`.  With `charts`, data plots are drawn by those worker processes (with many
    of them, one more takes charts from the end of the queue); `meanwhile` runs here while
    the workers draw.
    """
    from dvc_cml.render.charts import area

    labels = _drawn_labels(report)
    left_out = _left_out_note(report, labels)
    stems = [f"{PLOTS_DIR}/{slug}" for slug in _slugs([p.name for p in report.plots])]
    # The largest charts first: the main process rasterises each chart after a worker
    # has drawn it, and the last one's rasterising is what the run waits for at the end
    # (a confusion matrix of many heads takes 0.2 s; of two, about as long as a line chart).
    shown = {p.name: _only(p, labels) for p in _to_chart(report, all_plots)}
    wanted = sorted((p for p in shown.values() if p.points), key=lambda p: -area(p, labels))
    notes = {id(p): _chart_notes(p, labels, left_out) for p in wanted}
    drawn: dict[int, Drawn] = {}
    if charts and wanted:
        # A few charts: the workers draw SVGs and this process rasterises each one while
        # they draw the next.  Many: whole charts, a third worker taking them from the end.
        # Never drawn here: vl-convert aborts the process on a chart it cannot draw.
        steal = len(wanted) >= STEAL_AFTER
        batch = charts.draw_all(
            [(p, labels, notes[id(p)]) for p in wanted], raster=steal, steal=steal
        )
        meanwhile()
        for index, result in batch.results():
            drawn[id(wanted[index])] = result.rasterised()

    rendered: list[RenderedPlot] = []
    files: dict[str, bytes] = {}
    for number, (plot, stem) in enumerate(zip(report.plots, stems, strict=True), start=1):
        if step:
            step(f"rendering chart {number}/{len(report.plots)}: {plot.name}")
        if isinstance(plot, DataPlot) and plot.points and not shown.get(plot.name, plot).points:
            # Data only at heads no chart draws: the plot is listed, saying why.
            why = (*plot.problems, left_out)
            rendered.append(RenderedPlot(plot.name, plot.title, plot.kind, True, notes=why))
            continue
        if isinstance(plot, DataPlot):
            plot = shown.get(plot.name, plot)
        if isinstance(plot, DataPlot) and not plot.points:
            reasons = tuple(plot.problems)  # nothing to draw at either revision
            rendered.append(RenderedPlot(plot.name, plot.title, plot.kind, True, notes=reasons))
        elif not (plot.changed or all_plots):
            rendered.append(RenderedPlot(plot.name, plot.title, plot.kind, changed=False))
        elif isinstance(plot, ImagePlot):
            rendered.append(_image_files(plot, stem, files, labels))
        else:
            key = id(plot)
            if key not in drawn:
                drawn[key] = draw(plot, labels, notes[key])
            rendered.append(_chart_files(plot, stem, files, notes[key], drawn[key]))
    return rendered, files


def _drawn_labels(report: Report) -> dict[str, str]:
    """{revision key: label} of the revisions every chart draws, base first."""
    labels = report.labels()
    return {key: labels[key] for key in palette.drawn_keys(report)}


def _left_out_note(report: Report, labels: Mapping[str, str]) -> str:
    """Why some heads are on no chart (more than a legend can tell apart), or ""."""
    missing = [
        rev.name
        for key, rev in zip(report.keys, report.revisions, strict=True)
        if key not in labels
    ]
    if not missing:
        return ""
    how = (
        f"the best {palette.MAX_DRAWN} by {report.primary[1]}"
        if report.primary
        else f"the first {palette.MAX_DRAWN} (set `primary:` in .dvc-cml.yaml to draw the best)"
    )
    return (
        f"Not drawn: {', '.join(missing)}. A chart shows {palette.MAX_DRAWN} revisions beside "
        f"the base at most, {how}; the tables have every revision."
    )


def _only(plot: DataPlot, labels: Mapping[str, str]) -> DataPlot:
    """The plot with the points of the revisions in `labels` only."""
    if all(p.rev in labels for p in plot.points):
        return plot
    return dataclasses.replace(plot, points=tuple(p for p in plot.points if p.rev in labels))


def _image_files(
    plot: ImagePlot, stem: str, files: dict[str, bytes], labels: Mapping[str, str]
) -> RenderedPlot:
    suffix = _image_suffix(plot.name)
    images = []
    for rev, data in plot.by_rev():
        if data is not None and rev in labels:
            path = f"{stem}.{rev}{suffix}"
            files[path] = data
            images.append((rev, path))
    notes = []
    if len(labels) == 2 and len(images) == 1:
        missing = "head" if images[0][0] == "base" else "base"
        notes.append(f"Only at {labels[images[0][0]]}: not present at {labels[missing]}.")
    elif absent := [labels[rev] for rev in labels if rev not in dict(images)]:
        notes.append(f"Not present at {', '.join(absent)}.")
    return RenderedPlot(
        name=plot.name,
        title=plot.title,
        kind=PlotKind.IMAGE,
        changed=plot.changed,
        images=tuple(images),
        notes=tuple(notes),
    )


def _chart_notes(plot: DataPlot, labels: Mapping[str, str], left_out: str = "") -> list[str]:
    notes = []
    if len(plot.revs()) == 1:
        notes.append(f"Data only at {labels[plot.revs()[0]]}.")
    elif absent := [label for rev, label in labels.items() if rev not in plot.revs()]:
        notes.append(f"No data at {', '.join(absent)}.")
    if left_out:
        notes.append(left_out)
    notes += plot.problems
    notes += plot.notes
    if plot.dropped:
        notes.append(f"{plot.dropped} NaN/Infinity point(s) left out of the chart.")
    if plot.sampled_from:
        notes.append(
            f"Downsampled for drawing: {plot.sampled_from:,} points per series and revision "
            "cut to a shape-preserving subset (MinMaxLTTB; extremes and last point kept)."
        )
    return notes


def _chart_files(
    plot: DataPlot, stem: str, files: dict[str, bytes], notes: list[str], drawn: Drawn
) -> RenderedPlot:
    files[f"{stem}.vl.json"] = drawn.spec
    if drawn.png is not None:
        files[f"{stem}.png"] = drawn.png
    else:
        notes = [*notes, f"The chart could not be rendered: {drawn.error}"]
    return RenderedPlot(
        name=plot.name,
        title=plot.title,
        kind=plot.kind,
        changed=plot.changed,
        png=f"{stem}.png" if drawn.png is not None else None,
        spec=f"{stem}.vl.json",
        notes=tuple(notes),
    )


def _masked(files: Mapping[str, bytes]) -> dict[str, bytes]:
    return {rel: redact_bytes(data) for rel, data in files.items()}


def say(message: str) -> None:
    """One line per step on stderr: readable in CI logs, out of the way of --md/--json.
    Names in it are the branch's: a control character in one is shown, not obeyed."""
    print(f"dvc-cml: {visible(message)}", file=sys.stderr, flush=True)


def _prepare(
    repo: Repo, options: DiffOptions, step: Step | None = None
) -> tuple[Pulled | None, Reproduced | None]:
    """--pull and --repro, before anything is read: a log line per step, and the spinner.

    A failed pull does not end the run (the report is made from what can be read), but
    nothing is reproduced on top of it: the stages would run on missing data.
    """
    from dvc_cml import pipeline

    def tell(message: str) -> None:
        say(message)
        if step:
            step(message)

    pulling = options.pull or options.pull_all
    pulled = None
    if pulling:
        pulled = pipeline.pull_in(repo, options.pull_all, tell, options.pull_timeout)
    if not options.repro:
        return pulled, None
    if pulled and pulled.failure:
        tell("not reproducing: the pull failed")
        return pulled, Reproduced(skipped=f"the pull failed ({pulled.failure.reason})")
    return pulled, pipeline.reproduce_in(repo, list(options.repro_targets), tell, pull=pulling)


def _not_pulled(report: Report, pulled: Pulled | None) -> Report:
    """What the pull could not check out, as Problems of the workspace: they take the place
    of what the diff met there (a file in neither the workspace nor the local cache)."""
    from dvc_cml.collect import WORKSPACE
    from dvc_cml.collect.project import NO_DATA_END

    if pulled is None or pulled.failure is None:
        return report
    failure, paths = pulled.failure, pulled.not_pulled
    rev = report.head if report.head.name == WORKSPACE else Revision(WORKSPACE, report.head.sha)

    def covered(problem: Problem) -> bool:
        return problem.rev == rev and any(
            problem.path == p or problem.path.startswith(p.rstrip("/") + "/") for p in paths
        )

    def why(problem: Problem) -> Problem:
        # The rest of the run did not ask the remote again: say so, not "was `dvc push` run?"
        if failure.remote_down and problem.reason.endswith(NO_DATA_END):
            reason = f"not read: not in the local cache, and {failure.reason}"
            return dataclasses.replace(problem, reason=reason)
        return problem

    mine = tuple(Problem(path, rev, f"not pulled: {failure.reason}") for path in paths)
    others = tuple(why(p) for p in report.problems if not covered(p))
    return dataclasses.replace(report, problems=mine + others)


def _judge(report: Report, config: Config, options: DiffOptions) -> Report:
    """Directions from the config, then every gate (config first, then --fail-on)."""
    from dvc_cml import gates

    metrics = gates.apply_directions(report.metrics, config.directions)
    revisions = report.revisions if report.multi else ()
    results = gates.evaluate([*config.gates, *options.fail_on], metrics, report.problems, revisions)
    primary = None
    if config.primary and (row := gates.primary_metric(config.primary, metrics)):
        primary = (row.path, row.key)
    elif config.primary:
        say(f"warning: primary metric {config.primary} is at no revision: no best is named")
    return dataclasses.replace(report, metrics=metrics, gates=results, primary=primary)


def _config(options: DiffOptions) -> Config:
    from dvc_cml.collect.project import find_root
    from dvc_cml.gates import load_config

    root = find_root(options.path)
    if root is None:  # not a DVC project: opening it says what is missing
        from dvc_cml.collect import open_project

        with open_project(options.path) as repo:
            root = Path(repo.root_dir)
    return load_config(root)


def _compared(
    options: DiffOptions, config: Config, step: Step | None = None
) -> tuple[Report, Pulled | None]:
    """--pull/--repro, the diff itself, then directions and gates: for diff and check.

    The repository is opened once for all of it.
    """
    from dvc_cml.collect import collect_in, experiments, open_project

    step = step or (lambda _: None)
    step("opening the DVC project")

    heads = [options.head] if options.head else []
    heads += options.more
    pins: dict[str, str] = {}  # --experiments: their commits by name

    def collect(repo: Repo) -> Report:
        head = heads[0] if heads else None
        more = heads[1:]
        return collect_in(
            repo, options.base, head, options.env, step, options.max_points, more, pins
        )

    with open_project(options.path) as repo:
        pulled, reproduced = _prepare(repo, options, step)
        if options.experiments:
            pins.update(experiments.listed(repo, options.experiments))
            heads.extend(pins)
        offline = pulled is not None and pulled.failure is not None and pulled.failure.remote_down
        report = None if offline else collect(repo)
    if report is None:
        # The remote failed the pull (unreachable, refusing us, silent): asked again for each
        # file DVC would stream, it would fail each the same way, or keep each one waiting.
        with open_project(options.path, offline=True) as repo:
            report = collect(repo)
    report = _not_pulled(dataclasses.replace(report, reproduced=reproduced), pulled)
    return _judge(report, config, options), pulled


def _gate_lines(report: Report) -> list[str]:
    from dvc_cml.render import gates as gate_lines

    heads = len(report.heads)
    return [*gate_lines.lines(report.gates), gate_lines.summary(report.gates, heads)]


def _gate_exit(report: Report) -> int:
    from dvc_cml import gates

    return EXIT_GATE_FAILED if gates.failed(report.gates) else EXIT_OK


def _render(
    report: Report, options: DiffOptions, step: Step | None, charts: ChartProcess | None
) -> tuple[list[RenderedPlot], dict[str, bytes], str, str]:
    """Charts, report.md's text and report.html's, from one Markdown rendering."""
    from dvc_cml.render import html, markdown, vegajs

    def meanwhile() -> None:
        # While the workers draw: the page's JavaScript (kept by vegajs), and the libraries
        # the page and the terminal view use, so none of it waits for the last chart.
        vegajs.bundle()
        for name in ("cmarkgfm", "rich.console", "rich.table"):
            importlib.import_module(name)

    plots, files = render_plots(report, step, charts, options.all_plots, meanwhile)
    text = markdown.render(report, plots)
    script = vegajs.bundle() if _to_chart(report, options.all_plots) else ""
    # The page embeds the files as base64, where a secret's bytes no longer read as its text:
    # masked before they are encoded (`files` stays as drawn, for refuse_secrets to see).
    page = html.render(text, plots, _masked(files), script, several=report.multi)
    return plots, files, text, page


def run_diff(
    options: DiffOptions, stdout: TextIO | None = None, charts: ChartProcess | None = None
) -> int:
    from dvc_cml.publish.local import (
        HTML_FILE,
        open_in_browser,
        write_metrics_report,
        write_report_dir,
    )
    from dvc_cml.render import jsondoc, openmetrics, terminal

    stdout = stdout or sys.stdout
    # The chart workers first, unless the caller started them (the CLI does, as early as
    # it can): they fork before DVC is imported or any thread starts.
    started = contextlib.nullcontext(charts) if charts else chart_process()
    with started as charts, terminal.progress() as step:
        config = _config(options)  # a broken config fails before any work
        report, pulled = _compared(options, config, step)
        if report.empty:
            *some, last = (rev.label for rev in report.revisions)
            where = f"{', '.join(some)} or {last}"
            print(
                visible(f"Nothing to compare: no metrics, params or plots at {where}."), file=stdout
            )
            return EXIT_OK
        plots, files, text, page = _render(report, options, step, charts)
        # No file, output or summary carries the token (defence in depth: see refuse_secrets).
        report_path = write_report_dir(options.out_dir, redact(text), _masked(files), redact(page))
        if options.metrics_report:
            write_metrics_report(options.metrics_report, redact(openmetrics.render(report)))

    if options.output == "md":
        stdout.write(redact(text))
    elif options.output == "json":
        stdout.write(redact(jsondoc.render(report, plots, options.out_dir)))
    else:
        terminal.show(report, plots, options.out_dir, report_path, cast(TextIO, Redacting(stdout)))
        print(visible(f"Interactive report: {report_path.with_name(HTML_FILE)}"), file=stdout)
    if options.open_page:
        say(open_in_browser(report_path.with_name(HTML_FILE), options.env))

    posted: Posted | None = None
    problem: str | None = None
    try:
        if options.forge is not None:
            # Only now: the report directory is written before any network call.
            from dvc_cml.publish import publish
            from dvc_cml.publish.common import PublishError

            try:
                posted = publish(options.forge, report, plots, files, report_path, options.out_dir)
            except PublishError as exc:
                problem = exc.reason
                raise
            if posted.dry_run:
                print(visible(f"--- dry run: the comment for {posted.where} ---"), file=sys.stderr)
                stdout.write(redact(posted.body))
            else:
                say(f"{posted.action} on {posted.where}: {posted.url}")
    finally:
        if options.summary is not None:  # also when posting failed: the run's page shows it
            _write_summary(options.summary, report, plots, report_path, posted, problem)
    # Gates decide the exit code only now: reviewers see why the job failed.
    if report.gates:
        for line in _gate_lines(report):
            say(line)
    if pulled is not None and pulled.failure is not None:
        say(
            f"error: {len(pulled.not_pulled)} output(s) not pulled: {pulled.failure.reason}; "
            f"the report was made from what could be read ({report_path})"
        )
        return EXIT_NOT_PULLED
    return _gate_exit(report)


def _write_summary(
    summary: JobSummary,
    report: Report,
    plots: list[RenderedPlot],
    report_path: Path,
    posted: Posted | None,
    problem: str | None,
) -> None:
    """GitHub's job summary: the posted comment (its images render there too), else the
    report without images, saying why it was not posted."""
    from dvc_cml.errors import UserError
    from dvc_cml.publish.local import append_summary
    from dvc_cml.render import comment

    if posted is not None and not posted.dry_run and len(posted.body) <= comment.JOB_SUMMARY.limit:
        text = posted.body
    else:
        where = summary.full_report or code(str(report_path))
        text = comment.summary(report, plots, full_report=where, problem=problem)
    try:
        append_summary(summary.path, redact(text))
    except UserError as exc:
        say(f"warning: {exc}")


def run_check(options: DiffOptions, write: bool, stdout: TextIO | None = None) -> int:
    """The gates alone: no posting, no charts, no files unless `write`."""
    from dvc_cml.publish.local import write_report_dir

    stdout = stdout or sys.stdout
    config = _config(options)
    if not (config.gates or options.fail_on):
        say("no gates to check: add --fail-on METRIC<CHANGE or `fail-on:` to .dvc-cml.yaml")
        return EXIT_OK
    report, _ = _compared(options, config)
    heads = ", ".join(head.label for head in report.heads)
    print(visible(f"Gates: {report.base.label} -> {heads}"), file=stdout)
    for line in _gate_lines(report):
        print(visible(line), file=stdout)
    if write:
        with chart_process() as charts:
            _, files, text, page = _render(report, options, None, charts)
        write_report_dir(options.out_dir, redact(text), _masked(files), redact(page))
    return _gate_exit(report)
