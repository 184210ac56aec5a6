"""Benchmark: one report of ten experiments against the steps users run for it today.

Run with `python bench/bench_experiments.py [--runs N] [--experiments N] [--posts N]
[--node-dir DIR] [--keep]`.

The project is shaped like example-get-started (`bench/get_started/`, as project (b) of
`bench_diff.py`): `dvc repro` on `main`, then ten experiments made with
`dvc exp run -S featurize.max_features=... -S train.n_est=... -n eN`, each reproducing
featurize, train and evaluate (ROC and Precision-Recall over train/test JSON, a confusion
matrix over two JSON files of one row per sample, an image, metrics; all in the DVC-cached
directory `eval/`).

(a) dvc-cml: `dvc-cml diff main e1 ... e10 --no-post --out DIR`, the installed console script:
    Markdown, one chart per plot with every revision overlaid, each revision's image,
    report.html, the terminal view.
(b) the status quo for the same report, as a CI script, one process per line: the table of
    every experiment (`dvc exp show --md`), then per plot definition

        dvc plots diff main e1 ... e10 --show-vega --targets T | json5 > vega.json
        vl2png vega.json > T.png

    (Node's vega-cli and json5 from npm, installed as `bench_diff.py` does), and every
    revision's image (`dvc plots diff main e1 ... e10 --targets IMG --json -o DIR`).

A warm-up pair, then `--runs` pairs alternating which side goes first.  Printed: each pair,
the median times, the median of the paired ratios a/b (target <= 0.30) with its min-max, CPU
time, and the peak RSS of each side (wait4's ru_maxrss: the largest single process, chart
workers and the script's commands included); both sides must draw the same charts.
Exit code: 0 whatever the numbers, 1 if a side fails or they draw different charts, 2 if the
Node tools cannot be installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench_diff import (
    HERE,
    default_node_dir,
    ensure_node_tools,
    is_png,
    slug,
    versions,
    write_posts,
)
from benchlib import (
    BIN,
    DVC_CML,
    MIB,
    Proc,
    child_env,
    commit_all,
    init_project,
    measure,
    run,
    scratch,
)

RATIO_TARGET = 0.30
RSS_TARGET = 300 * MIB
CHARTS = ("ROC", "Precision-Recall", "Confusion-Matrix")
IMAGE = "eval/plots/images/importance.png"


def experiments(count: int) -> list[tuple[str, tuple[str, ...]]]:
    """(name, `-S` overrides) of each experiment: vocabulary size and ensemble size varied."""
    return [
        (f"e{i}", (f"featurize.max_features={100 + 20 * i}", f"train.n_est={40 + 5 * i}"))
        for i in range(1, count + 1)
    ]


def build(root: Path, env: dict[str, str], count: int, posts: int) -> list[str]:
    """The project with `count` experiments of its `main` commit; their names."""
    dvc = str(BIN / "dvc")
    init_project(root)
    shutil.copytree(
        HERE / "get_started", root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    write_posts(root / "data" / "data.xml", posts)
    run([dvc, "add", "data/data.xml"], root, env)
    run([dvc, "repro"], root, env)
    commit_all(root, "Evaluate the unigram model")
    names = []
    for name, sets in experiments(count):
        run([dvc, "exp", "run", "-n", name, *(a for s in sets for a in ("-S", s))], root, env)
        names.append(name)
    # The workspace as main left it (exp run leaves the last experiment's files there).
    run(["git", "checkout", "--", "."], root, env)
    run([dvc, "checkout", "--force"], root, env)
    return names


def script(names: Sequence[str]) -> str:
    revs = " ".join(["main", *names])
    lines = [
        "#!/usr/bin/env bash",
        "# The same report today: exp show for the table, one plots diff + vl2png per chart.",
        "set -euo pipefail",
        'OUT="$1"',
        'dvc exp show --md --no-pager > "$OUT/exp-show.md"',
    ]
    for target in CHARTS:
        lines += [
            f'dvc plots diff {revs} --show-vega --targets {target} | json5 > "$OUT/vega.json"',
            f'vl2png "$OUT/vega.json" > "$OUT/{slug(target)}.png"',
        ]
    lines.append(f'dvc plots diff {revs} --targets {IMAGE} --json -o "$OUT/images" > /dev/null')
    return "\n".join(lines) + "\n"


def drawn(side: str, out: Path) -> tuple[list[str], int]:
    """(chart names, image files) a side wrote, counting only real PNGs."""
    if side == "a":
        files = [p for p in (out / "plots").glob("*.png") if is_png(p)]
        images = [p for p in files if p.name.startswith(slug(IMAGE) + ".")]
        return sorted(p.stem for p in files if p not in images), len(images)
    charts = sorted(p.stem for p in out.glob("*.png") if is_png(p))
    return charts, sum(is_png(p) for p in (out / "images").rglob("*.png"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="paired runs (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="pairs not counted (default: 1)")
    parser.add_argument("--experiments", type=int, default=10, help="how many (default: 10)")
    parser.add_argument(
        "--posts", type=int, default=18_000, help="rows of data.xml (default: 18,000)"
    )
    parser.add_argument("--node-dir", type=Path, default=default_node_dir())
    parser.add_argument("--keep", action="store_true", help="keep the fixture project")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.experiments < 1:
        parser.error("--runs and --experiments must be at least 1, --warmup at least 0")

    node_dir = args.node_dir.expanduser()
    env = child_env([BIN, ensure_node_tools(node_dir)])
    print(versions(env, node_dir))
    with scratch(args.keep, "dvc-cml-bench-exps-") as base:
        root = base / "project"
        started = time.perf_counter()
        names = build(root, env, args.experiments, args.posts)
        print(f"fixture: {len(names)} experiments built in {time.perf_counter() - started:.0f} s")
        baseline = base / "baseline.sh"
        baseline.write_text(script(names))
        want = (sorted(slug(t) for t in CHARTS), len(names) + 1)
        ours: list[Proc] = []
        theirs: list[Proc] = []
        problems: list[str] = []
        load: list[float] = []
        for i in range(-args.warmup, args.runs):
            load.append(os.getloadavg()[0])
            order = ("a", "b") if i % 2 == 0 else ("b", "a")
            procs: dict[str, Proc] = {}
            for side in order:
                out = base / f"out-{side}{i}"
                if side == "a":
                    cmd = [DVC_CML, "diff", "main", *names, "--no-post", "--out", str(out)]
                    procs[side] = measure(cmd, root, env)
                else:
                    out.mkdir(parents=True)
                    procs[side] = measure(["bash", str(baseline), str(out)], root, env)
                if not procs[side].ok:
                    print(f"side {side} failed ({procs[side].failure()}):\n{procs[side].stderr}")
                    return 1
                if (got := drawn(side, out)) != want:
                    problems.append(f"run {i}: side {side} drew {got}, expected {want}")
            label = f"pair {i + 1}" if i >= 0 else "warm-up"
            first = "dvc-cml first" if order[0] == "a" else "baseline first"
            print(f"  {label}: {procs['a'].seconds:.2f} s vs {procs['b'].seconds:.2f} s ({first})")
            if i >= 0:
                ours.append(procs["a"])
                theirs.append(procs["b"])
    return report(ours, theirs, problems, load, len(names))


def report(
    ours: list[Proc], theirs: list[Proc], problems: list[str], load: list[float], count: int
) -> int:
    ratios = [a.seconds / b.seconds for a, b in zip(ours, theirs, strict=True)]
    ratio = statistics.median(ratios)
    rss_a, rss_b = max(p.max_rss for p in ours), max(p.max_rss for p in theirs)
    print(f"\n{count} experiments of the example-get-started-shaped project, against main")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    print(f"  {'pair':>4} {'a: dvc-cml':>11} {'b: status quo':>14} {'a/b':>6}   CPU a / b")
    for n, (a, b, r) in enumerate(zip(ours, theirs, ratios, strict=True), 1):
        cpu = f"{a.cpu:.2f}s / {b.cpu:.2f}s"
        print(f"  {n:>4} {a.seconds:>10.2f}s {b.seconds:>13.2f}s {r:>6.3f}   {cpu}")
    med_a = statistics.median(p.seconds for p in ours)
    med_b = statistics.median(p.seconds for p in theirs)
    print(f"  {'med':>4} {med_a:>10.2f}s {med_b:>13.2f}s {ratio:>6.3f}")
    verdict = "PASS" if ratio <= RATIO_TARGET else "FAIL"
    print(
        f"  median ratio {ratio:.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}) over "
        f"{len(ratios)} pairs; target <= {RATIO_TARGET:.2f}: {verdict}"
    )
    print(
        f"  peak RSS (largest process): dvc-cml {rss_a / MIB:.0f} MiB "
        f"(target < {RSS_TARGET // MIB} MiB: {'PASS' if rss_a < RSS_TARGET else 'FAIL'}), "
        f"status quo {rss_b / MIB:.0f} MiB"
    )
    print(f"  1-minute load average before each pair: {min(load):.1f}-{max(load):.1f}")
    if not problems:
        print(f"  both sides drew {len(CHARTS)} charts and {count + 1} images")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
