"""Benchmark at scale: `dvc-cml diff` on big plots, many plots and many metrics.

Run with
`python bench/bench_scale.py [--runs N] [--cases 1,1b,2,2h,3,4] [--baseline-subset N] [--keep]`.

For each case a fixture project (git + DVC) is generated in a temp dir: a baseline commit on
`main`, then a branch with changed numbers, checked out, so the workspace is the branch head
and every diff is against `main`.  Plot data are plain CSV files in git (top-level `plots:`
definitions), metrics a JSON file in git (top-level `metrics:`): nothing is in a DVC cache.

Cases (all timed as separate processes, the way a CI job script runs them):

1   one linear plot (`x: step`, `y: loss`), 100,000 points per revision.
    (a) `dvc-cml diff main --no-post --out DIR`;
    (b) the baseline: `dvc plots diff main workspace --show-vega --targets loss`, then a
        one-shot `python -c "...vl_convert.vegalite_to_png..."` on its output.
    The baseline takes tens of seconds here, so it runs once by default
    (`--case1-baseline-runs`) and is stopped after `--baseline-timeout` s ("timeout").
    Target: (a) <= 1/10 of (b).
1b  the same plot with 1,000,000 points per revision; (a) alone (the baseline cannot finish).
    Target: under 10 s and a peak RSS under 1 GiB.
2   100 plot definitions (`plots/p000.csv` ...), 1,000 points each, every one changed.
    (a) one `dvc-cml diff`; (b) per plot the two baseline commands of case 1.  The baseline
    loop runs on the first `--baseline-subset` plots (default 20) and is extrapolated
    linearly to 100; the output says so.  Target: (a) at least 3x faster than (b).
2h  as 2, but only the 50 even-numbered plots changed (dvc-cml may skip unchanged plots; the
    shell loop renders all 100 anyway, so its baseline is case 2's).  Reported, same target.
3   5,000 metrics (nested groups in metrics.json, every other one changed):
    `dvc-cml diff main --dry-run --md` without any GitLab token or CI variable, which writes
    the report, builds the comment body and prints it on stdout after the Markdown; the body
    is what follows the marker `<!-- dvc-cml:report -->`.  Target: under 3 s, and a body
    under GitLab's 1,000,000-character limit.
4   peak RSS: not a case of its own but the `peak RSS` columns of every row.

Each command runs via `subprocess.Popen` in its own session and is reaped with `os.wait4`,
whose rusage gives wall time's companion: ru_maxrss, the largest resident set of the process
*or any descendant it reaped* (dvc-cml's forked chart workers included) -- a maximum over the
processes, not their sum.  So a thread also samples, every 0.1 s, the summed RSS of all the
processes in the session ("RSS sum", Linux /proc only); it also stops a run that goes over
`--rss-limit-gib`.  Times are medians over `--runs` (default 3), sides alternating per run so
drift hits both alike.  The script exits 0 whatever the numbers: it is a measurement, not a
test (a fixture that cannot be built is an error, though).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (
    DVC,
    DVC_CML,
    GIB,
    MIB,
    Proc,
    build_project,
    chain,
    child_env,
    measure,
    scratch,
    write_csv,
)

TO_PNG = (
    "import sys, vl_convert; "
    "open(sys.argv[2], 'wb').write(vl_convert.vegalite_to_png(open(sys.argv[1]).read()))"
)
MARKER = "<!-- dvc-cml:report"
NOTE_LIMIT = 1_000_000  # GitLab's limit on a note, in characters
ALL_CASES = ("1", "1b", "2", "2h", "3", "4")

CASE1_POINTS = 100_000
CASE1B_POINTS = 1_000_000
CASE2_PLOTS = 100
CASE2_POINTS = 1_000
CASE3_METRICS = 5_000  # 5 groups x 10 subgroups x 100 leaves
CASE1_RATIO = 0.10
CASE1B_SECONDS = 10.0
CASE1B_RSS = GIB
CASE2_RATIO = 1 / 3
CASE3_SECONDS = 3.0


# --- fixtures ------------------------------------------------------------------------------


def loss_rows(points: int, rev: int, shift: float = 0.0) -> Iterable[tuple[int, float]]:
    """A decaying, wiggling loss curve; `rev` changes every value."""
    scale = points / (4 + rev)
    return (
        (s, round(math.exp(-s / scale) + shift + 0.02 * math.sin(s * 0.7 + rev), 6))
        for s in range(points)
    )


def single_plot_project(root: Path, points: int) -> None:
    dvc_yaml = """\
plots:
  - loss:
      title: Loss per step
      template: linear
      x: step
      y:
        plots/loss.csv: loss
"""

    def write_rev(at: Path, rev: int) -> None:
        (at / "plots").mkdir(exist_ok=True)
        write_csv(at / "plots" / "loss.csv", ("step", "loss"), loss_rows(points, rev))

    build_project(root, dvc_yaml, write_rev)


def plot_name(number: int) -> str:
    return f"p{number:03d}"


def many_plots_project(root: Path, changed: Callable[[int], bool]) -> None:
    """CASE2_PLOTS definitions over one CSV each; `changed(n)` says which differ at rev 1."""
    lines = ["plots:"]
    for n in range(CASE2_PLOTS):
        lines += [
            f"  - {plot_name(n)}:",
            "      template: linear",
            "      x: step",
            "      y:",
            f"        plots/{plot_name(n)}.csv: loss",
        ]

    def write_rev(at: Path, rev: int) -> None:
        (at / "plots").mkdir(exist_ok=True)
        for n in range(CASE2_PLOTS):
            data_rev = rev if changed(n) else 0
            write_csv(
                at / "plots" / f"{plot_name(n)}.csv",
                ("step", "loss"),
                loss_rows(CASE2_POINTS, data_rev, shift=n / 100),
            )

    build_project(root, "\n".join(lines) + "\n", write_rev)


def metrics_project(root: Path) -> None:
    """CASE3_METRICS numeric leaves in nested groups; every other one changes at rev 1."""
    kinds = ("loss", "accuracy", "f1", "latency_ms", "count")

    def write_rev(at: Path, rev: int) -> None:
        data: dict[str, dict[str, dict[str, float | int]]] = {}
        number = 0
        for g in range(5):
            group = data.setdefault(f"group_{g}", {})
            for s in range(10):
                leaves = group.setdefault(f"sub_{s:02d}", {})
                for i in range(CASE3_METRICS // 50):
                    kind = kinds[i % len(kinds)]
                    moved = rev if number % 2 == 0 else 0
                    if kind == "count":
                        leaves[f"{kind}_{i:03d}"] = 1000 + number + 7 * moved
                    else:
                        value = 0.5 + 0.4 * math.sin(number) + 0.01 * moved
                        leaves[f"{kind}_{i:03d}"] = round(value, 6)
                    number += 1
        (at / "metrics.json").write_text(json.dumps(data, indent=2) + "\n")

    build_project(root, "metrics:\n  - metrics.json\n", write_rev)


# --- the two sides -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    args: argparse.Namespace
    base: Path
    env: dict[str, str]

    def dvc_cml(self, root: Path, out: Path, *flags: str, stdout: Path | None = None) -> Proc:
        cmd = [DVC_CML, "diff", "main", *(flags or ("--no-post",)), "--out", str(out)]
        return measure(
            cmd, root, self.env, timeout=self.args.timeout, rss_limit=self.rss_limit, stdout=stdout
        )

    def shell_plot(self, root: Path, work: Path, target: str, timeout: float) -> Proc:
        """The two lines a CI script has per plot: DVC prints the spec, vl-convert draws it."""
        work.mkdir(parents=True, exist_ok=True)
        spec, png = work / f"{target}.vl.json", work / f"{target}.png"
        cmd = [DVC, "plots", "diff", "main", "workspace", "--show-vega", "--targets", target]
        vega = measure(cmd, root, self.env, timeout=timeout, rss_limit=self.rss_limit, stdout=spec)
        if not vega.ok:
            return vega
        if not spec.read_bytes().strip():  # DVC exits 0 and prints nothing for a bad target
            return Proc(vega.seconds, vega.max_rss, vega.sum_rss, 1, "no spec printed")
        left = max(1.0, timeout - vega.seconds)
        draw = measure(
            [sys.executable, "-c", TO_PNG, str(spec), str(png)],
            root,
            self.env,
            timeout=left,
            rss_limit=self.rss_limit,
        )
        if draw.ok and not png.read_bytes().startswith(b"\x89PNG"):
            draw = Proc(draw.seconds, draw.max_rss, draw.sum_rss, 1, "no PNG written")
        return chain([vega, draw])

    def shell_loop(self, root: Path, work: Path, targets: Sequence[str]) -> Proc:
        """The per-plot lines for every target, within one --baseline-timeout overall."""
        procs: list[Proc] = []
        for target in targets:
            left = self.args.baseline_timeout - sum(p.seconds for p in procs)
            procs.append(self.shell_plot(root, work, target, max(1.0, left)))
            if not procs[-1].ok:
                break
        return chain(procs)

    @property
    def rss_limit(self) -> int:
        return int(self.args.rss_limit_gib * GIB)


def pngs(out: Path) -> int:
    return sum(p.read_bytes().startswith(b"\x89PNG") for p in (out / "plots").glob("*.png"))


def alternate(
    runs: int, ours: Callable[[int], None], theirs: Callable[[int], bool] | None, their_runs: int
) -> None:
    """`runs` of ours and up to `their_runs` of theirs, alternating who goes first.

    `theirs` returns False to stop repeating (a timeout is not worth waiting for twice).
    """
    repeat = theirs is not None
    for i in range(runs):
        order = ("a", "b") if i % 2 == 0 else ("b", "a")
        for side in order:
            if side == "a":
                ours(i)
            elif repeat and theirs is not None and i < their_runs:
                repeat = theirs(i)


# --- results -------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    what: str
    ours: list[Proc] = field(default_factory=list)
    theirs: list[Proc] = field(default_factory=list)
    their_scale: float = 1.0  # the baseline measured a subset: multiply to extrapolate
    their_note: str = ""
    ratio: str = "-"
    target: str = ""
    verdict: str = ""
    details: list[str] = field(default_factory=list)

    def our_seconds(self) -> float | None:
        return median_seconds(self.ours)

    def their_seconds(self) -> float | None:
        s = median_seconds(self.theirs)
        return None if s is None else s * self.their_scale


def median_seconds(procs: Sequence[Proc]) -> float | None:
    if not procs or not all(p.ok for p in procs):
        return None
    return statistics.median(p.seconds for p in procs)


def first_failure(procs: Sequence[Proc]) -> Proc | None:
    return next((p for p in procs if not p.ok), None)


def fmt_time(procs: Sequence[Proc], scale: float = 1.0) -> str:
    if not procs:
        return "-"
    if failed := first_failure(procs):
        return f"{failed.failure()} {failed.seconds:.0f}s" if failed.why else failed.failure()
    return f"{statistics.median(p.seconds for p in procs) * scale:.2f} s"


def fmt_rss(procs: Sequence[Proc]) -> str:
    return f"{max(p.max_rss for p in procs) / MIB:.0f} MiB" if procs else "-"


def fmt_sum(procs: Sequence[Proc]) -> str:
    peak = max((p.sum_rss for p in procs), default=0)
    return f"{peak / MIB:.0f} MiB" if peak else "n/a"


def ratio_verdict(row: Row, limit: float) -> tuple[str, bool | None]:
    """(ratio text, pass?) -- a baseline that timed out still bounds the ratio from above."""
    ours, theirs = row.our_seconds(), row.their_seconds()
    if ours is None:
        return "-", False
    if theirs is not None:
        return f"{ours / theirs:.3f}", ours / theirs <= limit
    failed = first_failure(row.theirs)
    if failed is not None and failed.why == "timeout":
        bound = ours / (failed.seconds * row.their_scale)
        return f"< {bound:.3f}", bound <= limit
    return "-", None


def note_failures(row: Row) -> None:
    for side, procs in (("dvc-cml", row.ours), ("baseline", row.theirs)):
        if (failed := first_failure(procs)) is not None:
            row.details.append(
                f"{side} failed ({failed.failure()} after {failed.seconds:.1f} s)"
                + (f": {failed.stderr}" if failed.stderr else "")
            )


def verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[ok]


# --- cases ---------------------------------------------------------------------------------


def case_single(b: Bench, name: str, points: int, with_baseline: bool) -> Row:
    root = b.base / f"case{name}"
    started = time.perf_counter()
    single_plot_project(root, points)
    what = f"1 plot, {points:,} pts/rev"
    row = Row(name, what)
    row.details.append(f"fixture built in {time.perf_counter() - started:.1f} s")

    def ours(i: int) -> None:
        out = b.base / f"out{name}" / f"a{i}"
        row.ours.append(b.dvc_cml(root, out))
        if row.ours[-1].ok and pngs(out) != 1:
            row.details.append(f"run {i + 1}: dvc-cml wrote {pngs(out)} PNG charts, expected 1")

    def theirs(i: int) -> bool:
        proc = b.shell_plot(root, b.base / f"out{name}" / f"b{i}", "loss", b.args.baseline_timeout)
        row.theirs.append(proc)
        return proc.ok

    runs = b.args.case1_baseline_runs
    alternate(b.args.runs, ours, theirs if with_baseline else None, runs)
    note_failures(row)
    spec = b.base / f"out{name}" / "a0" / "plots" / "loss.vl.json"
    if spec.exists():
        row.details.append(f"dvc-cml's chart spec: {spec.stat().st_size / 1e6:.2f} MB")
    if row.theirs and len(row.theirs[0].steps) == 2:
        vega, draw = row.theirs[0].steps
        size = (b.base / f"out{name}" / "b0" / "loss.vl.json").stat().st_size
        stopped = "" if draw.ok else f", stopped: {draw.failure()}"
        row.details.append(
            f"baseline run 1: dvc plots diff --show-vega {vega.seconds:.1f} s "
            f"(peak RSS {vega.max_rss / MIB:.0f} MiB, spec {size / 1e6:.1f} MB), "
            f"vl-convert {draw.seconds:.1f} s (peak RSS {draw.max_rss / MIB:.0f} MiB{stopped})"
        )
    ours_s = row.our_seconds()
    if with_baseline:
        n = len(row.theirs)
        row.their_note = f"{n} run" + ("s" if n != 1 else "")
        row.target = f"ratio <= {CASE1_RATIO:.2f}"
        row.ratio, ok = ratio_verdict(row, CASE1_RATIO)
        row.details.append(
            f"baseline ran {n} time(s) (--case1-baseline-runs {runs}), "
            f"timeout {b.args.baseline_timeout:.0f} s"
        )
    else:
        row.target = f"< {CASE1B_SECONDS:.0f} s, RSS < 1 GiB"
        rss = max((p.max_rss for p in row.ours), default=0)
        ok = ours_s is not None and ours_s < CASE1B_SECONDS and rss < CASE1B_RSS
        peak_sum = max((p.sum_rss for p in row.ours), default=0)
        if peak_sum >= CASE1B_RSS:
            row.details.append(
                f"note: the summed RSS of dvc-cml's processes peaked at "
                f"{peak_sum / MIB:.0f} MiB (>= 1 GiB)"
            )
    row.verdict = verdict(ok)
    return row


def case_many(b: Bench, name: str, changed: Callable[[int], bool], shared: dict[str, Row]) -> Row:
    root = b.base / f"case{name}"
    started = time.perf_counter()
    many_plots_project(root, changed)
    n_changed = sum(changed(n) for n in range(CASE2_PLOTS))
    what = f"{CASE2_PLOTS} plots x {CASE2_POINTS:,} pts, {n_changed} changed"
    row = Row(name, what)
    row.details.append(f"fixture built in {time.perf_counter() - started:.1f} s")
    subset = max(1, min(b.args.baseline_subset, CASE2_PLOTS))
    targets = [plot_name(n) for n in range(subset)]
    charts: list[int] = []

    def ours(i: int) -> None:
        out = b.base / f"out{name}" / f"a{i}"
        row.ours.append(b.dvc_cml(root, out))
        charts.append(pngs(out))

    def theirs(i: int) -> bool:
        row.theirs.append(b.shell_loop(root, b.base / f"out{name}" / f"b{i}", targets))
        return row.theirs[-1].ok

    reuse = shared.get("loop")  # the shell loop renders every plot, changed or not
    alternate(b.args.runs, ours, None if reuse else theirs, b.args.runs)
    if reuse:
        row.theirs = reuse.theirs
        row.details.append(f"baseline: case {reuse.case}'s (the shell loop renders every plot)")
    else:
        shared["loop"] = row
    row.their_scale = CASE2_PLOTS / subset
    row.their_note = f"extrapolated from {subset}" if subset < CASE2_PLOTS else "all plots"
    note_failures(row)
    row.target = "ratio <= 0.33 (3x faster)"
    row.ratio, ok = ratio_verdict(row, CASE2_RATIO)
    ours_s, theirs_s = row.our_seconds(), row.their_seconds()
    if charts:
        row.details.append(
            f"dvc-cml wrote {'/'.join(map(str, sorted(set(charts))))} PNG "
            f"charts ({n_changed} plots changed, {CASE2_PLOTS} defined)"
        )
        if min(charts) < n_changed:
            ok = False
            row.details.append(f"FAIL: fewer charts than changed plots ({min(charts)})")
    if ours_s is not None and charts and max(charts):
        row.details.append(
            f"dvc-cml per chart drawn: {ours_s / max(charts) * 1000:.0f} ms; "
            f"per plot defined: {ours_s / CASE2_PLOTS * 1000:.0f} ms"
        )
    plots = [plot for loop in row.theirs if loop.ok for plot in loop.steps]
    if not reuse and plots and all(len(plot.steps) == 2 for plot in plots):
        vega = statistics.mean(plot.steps[0].seconds for plot in plots)
        draw = statistics.mean(plot.steps[1].seconds for plot in plots)
        row.details.append(
            f"baseline per plot: dvc plots diff --show-vega {vega * 1000:.0f} ms + "
            f"vl-convert {draw * 1000:.0f} ms (mean over {len(plots)} commands each)"
        )
    if theirs_s is not None:
        row.details.append(
            f"baseline per plot: {theirs_s / CASE2_PLOTS * 1000:.0f} ms "
            f"(measured on {subset} plots, EXTRAPOLATED to {CASE2_PLOTS})"
        )
    row.verdict = verdict(ok)
    return row


def case_metrics(b: Bench) -> Row:
    root = b.base / "case3"
    started = time.perf_counter()
    metrics_project(root)
    row = Row("3", f"{CASE3_METRICS:,} metrics, half changed")
    row.details.append(f"fixture built in {time.perf_counter() - started:.1f} s")
    bodies: list[int] = []

    def ours(i: int) -> None:
        out = b.base / "out3" / f"a{i}"
        printed = b.base / "out3" / f"a{i}.stdout"
        printed.parent.mkdir(parents=True, exist_ok=True)
        row.ours.append(b.dvc_cml(root, out, "--dry-run", "--md", stdout=printed))
        text = printed.read_text(encoding="utf-8", errors="replace")
        at = text.find(MARKER)
        if row.ours[-1].ok and at < 0:
            row.details.append(f"run {i + 1}: no `{MARKER} -->` in the --dry-run output")
        elif at >= 0:
            bodies.append(len(text[at:]))
            if i == 0:
                md = (out / "report.md").read_text(encoding="utf-8")
                row.details.append(
                    f"report.md: {len(md):,} characters, {md.count(chr(10)):,} "
                    f"lines; stdout Markdown before the body: {at:,}"
                )

    alternate(b.args.runs, ours, None, 0)
    note_failures(row)
    ours_s = row.our_seconds()
    row.target = f"< {CASE3_SECONDS:.0f} s, body < {NOTE_LIMIT:,} chars"
    ok = ours_s is not None and ours_s < CASE3_SECONDS and bool(bodies)
    if bodies:
        ok = ok and max(bodies) < NOTE_LIMIT
        row.details.append(f"comment body: {max(bodies):,} characters (limit {NOTE_LIMIT:,})")
    row.details.append("timed: `dvc-cml diff main --dry-run --md` (report + comment body)")
    row.verdict = verdict(ok)
    return row


# --- main ----------------------------------------------------------------------------------


def print_table(rows: Sequence[Row], runs: int) -> None:
    head = (
        "case",
        "what",
        "dvc-cml",
        "baseline",
        "ratio",
        "peak RSS",
        "RSS sum",
        "RSS base",
        "target",
        "result",
    )
    table: list[tuple[str, ...]] = [head]
    for r in rows:
        base = fmt_time(r.theirs, r.their_scale) if r.theirs else "-"
        if r.theirs and r.their_note:
            base += f" ({r.their_note})"
        table.append(
            (
                r.case,
                r.what,
                fmt_time(r.ours),
                base,
                r.ratio,
                fmt_rss(r.ours),
                fmt_sum(r.ours),
                fmt_rss(r.theirs),
                r.target,
                r.verdict,
            )
        )
    widths = [max(len(line[c]) for line in table) for c in range(len(head))]
    print()
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(
        f"\ndvc-cml: median of {runs} run(s). peak RSS = wait4 ru_maxrss (largest single "
        "process, chart workers included); RSS sum = sampled sum over the process tree; "
        "RSS base = the baseline's largest process."
    )
    for r in rows:
        each = ", ".join(f"{p.seconds:.2f}" if p.ok else p.failure() for p in r.ours)
        print(f"  [{r.case}] dvc-cml runs: {each} s")
        for detail in r.details:
            print(f"  [{r.case}] {detail}")


def parse_cases(text: str) -> list[str]:
    cases = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in cases if c not in ALL_CASES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown case(s) {','.join(unknown)}; choose from {','.join(ALL_CASES)}"
        )
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per case (default: 3)")
    parser.add_argument(
        "--cases",
        type=parse_cases,
        default=list(ALL_CASES),
        help="comma-separated, of 1,1b,2,2h,3,4 (default: all; 4 = the RSS columns, always shown)",
    )
    parser.add_argument(
        "--baseline-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="stop one baseline run after S seconds (default: 300)",
    )
    parser.add_argument(
        "--case1-baseline-runs",
        type=int,
        default=1,
        metavar="N",
        help="baseline runs for case 1, slow (default: 1)",
    )
    parser.add_argument(
        "--baseline-subset",
        type=int,
        default=20,
        metavar="N",
        help="case 2: run the per-plot baseline on N plots, extrapolate to "
        f"{CASE2_PLOTS} (default: 20)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="stop one dvc-cml run after S seconds (default: 300)",
    )
    parser.add_argument(
        "--rss-limit-gib",
        type=float,
        default=8.0,
        metavar="G",
        help="stop any run whose processes together exceed G GiB (default: 8)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the fixture projects")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.case1_baseline_runs < 0 or args.baseline_subset < 1:
        parser.error(
            "--runs and --baseline-subset must be at least 1, --case1-baseline-runs at least 0"
        )

    rows: list[Row] = []
    with scratch(args.keep, "dvc-cml-scale-") as base:
        bench = Bench(args, base, child_env())
        shared: dict[str, Row] = {}
        steps: dict[str, Callable[[], Row]] = {
            "1": lambda: case_single(bench, "1", CASE1_POINTS, with_baseline=True),
            "1b": lambda: case_single(bench, "1b", CASE1B_POINTS, with_baseline=False),
            "2": lambda: case_many(bench, "2", lambda n: True, shared),
            "2h": lambda: case_many(bench, "2h", lambda n: n % 2 == 0, shared),
            "3": lambda: case_metrics(bench),
        }
        for case in ALL_CASES:  # in this order: 2h reuses case 2's baseline
            if case in args.cases and case in steps:
                started = time.perf_counter()
                print(f"case {case} ...", flush=True, end=" ")
                rows.append(steps[case]())
                print(f"{time.perf_counter() - started:.0f} s", flush=True)
    print_table(rows, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
