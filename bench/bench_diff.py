"""Benchmark: `dvc-cml diff` against the report step users run in CI today, on two projects.

Run with `python bench/bench_diff.py [--runs N] [--projects a,b] [--node-dir DIR] [--keep]`.

The baseline is the report step of iterative/example-get-started's CI (`.gitlab-ci.yml`,
`.github/workflows/cml.yaml`), run as a bash script, one process per line as a CI job runs it:
per plot definition

    dvc plots diff main workspace --show-vega --targets T | json5 > vega.json
    vl2png vega.json > T.png

(Node: `vl2png` from npm `vega-lite` + `vega-cli`, drawing on node-canvas; `json5` from npm,
because DVC prints sklearn's Infinity thresholds, which are not JSON), for the image plot
`dvc plots diff main workspace --targets IMG --json -o DIR` (both revisions' images; the real
CI copies the file twice around a `git checkout main -- dvc.lock` that never reaches the
image, so it shows the workspace's image twice), then `dvc exp diff main --md`.
example-get-started converts with `vl2svg`; dvc-cml writes PNGs, so the baseline does too.

The npm packages are installed into a cache directory outside the repository
(`--node-dir`, default `~/.cache/dvc-cml-bench/node`) when missing; node-canvas is built from
source when no prebuilt binary can be downloaded (Debian: build-essential libcairo2-dev
libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev).  If they cannot be installed or
`vl2png` cannot draw, the script says why and exits 2: it never falls back to another baseline.

Projects (git + DVC, built in a temp dir: a commit on `main`, a branch checked out whose
numbers differ, so the diff is the branch's workspace against `main`):

(a) the bench's own: a linear plot over one CSV with two fields (300 steps), a confusion
    matrix over two CSVs (600 + 200 rows), an ROC curve (JSON), an image; metrics and params;
    the data files in git.
(b) shaped like example-get-started (`bench/get_started/`: its dvc.yaml's stages, metrics
    and plots sections, stdlib stand-ins for its scripts, run with `dvc repro`): ROC and
    Precision-Recall over train/test JSON, Confusion-Matrix over two JSON files (one row per
    sample: about 14,400 train, 3,600 test), the image `eval/plots/images/importance.png`, metrics
    `eval/metrics.json` (`avg_prec.test`, `roc_auc.train`, ...), all inside the DVC-cached
    directory output `eval`: the base revision's files come from the DVC cache.

Each project gets a warm-up pair, then `--runs` pairs, alternating which side goes first; (a)
is `dvc-cml diff main --no-post --out DIR`, the installed console script in its own process.
Printed: each pair, the medians, the median of the paired ratios a/b with its min-max, the
CPU time of each side (user + system, children included: less sensitive to other load than
wall time, but dvc-cml spreads over two cores, so it is no substitute for the ratio), the
peak RSS of each side (wait4's ru_maxrss: the largest single process, dvc-cml's forked chart
worker and the script's commands included), the baseline's time per line, and a check that
both sides drew the same charts.  Also timed: `dvc-cml --help`.
Exit code: 0 whatever the numbers (a measurement, not a test); 1 if a side fails or the sides
draw different charts; 2 if the Node tools cannot be installed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from benchlib import (
    BIN,
    DVC_CML,
    MIB,
    Proc,
    build_project,
    child_env,
    commit_all,
    git,
    init_project,
    measure,
    run,
    scratch,
    write_csv,
)

RATIO_TARGET = 0.30
RSS_TARGET = 300 * MIB
HELP_TARGET_S = 0.3
HERE = Path(__file__).resolve().parent
# Pinned: the versions the numbers in the README were measured with.
NPM_PACKAGES = ("vega-cli@6.4.0", "vega-lite@6.4.3", "json5@2.2.3")
APT_HINT = "build-essential libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev"
SMOKE_SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": [{"x": 0, "y": 1}, {"x": 1, "y": 3}]},
    "mark": "line",
    "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y"}},
}


# --- the Node tools of the baseline --------------------------------------------------------


def default_node_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dvc-cml-bench" / "node"


def node_tools_fail(message: str) -> NoReturn:
    print(f"bench_diff: cannot run the baseline: {message}", file=sys.stderr)
    print(
        "bench_diff: the baseline is Node's vl2png (npm vega-cli + vega-lite) and npm json5; "
        "no other baseline is substituted.",
        file=sys.stderr,
    )
    raise SystemExit(2)


def vl2png_works(bin_dir: Path, env: dict[str, str]) -> str:
    """'' if vl2png draws a tiny spec to a PNG, else why not."""
    with tempfile.TemporaryDirectory(prefix="dvc-cml-vl2png-") as tmp:
        spec, out = Path(tmp) / "spec.json", Path(tmp) / "out.png"
        spec.write_text(json.dumps(SMOKE_SPEC))
        try:
            done = subprocess.run(
                [str(bin_dir / "vl2png"), str(spec), str(out)], env=env, capture_output=True
            )
        except OSError as exc:
            return str(exc)
        if done.returncode != 0:
            return done.stderr.decode(errors="replace").strip()[-2000:] or "vl2png failed"
        if not out.exists() or not out.read_bytes().startswith(b"\x89PNG"):
            return "vl2png exited 0 but wrote no PNG"
    return ""


def ensure_node_tools(node_dir: Path) -> Path:
    """The bin directory holding `vl2png` and `json5`, installed with npm if missing."""
    if not (shutil.which("node") and shutil.which("npm")):
        node_tools_fail("`node` and `npm` must be on PATH (Node 18 or later)")
    bin_dir = node_dir / "node_modules" / ".bin"
    env = child_env([bin_dir])
    if not all((bin_dir / tool).exists() for tool in ("vl2png", "json5")):
        node_dir.mkdir(parents=True, exist_ok=True)
        log = node_dir / "npm-install.log"
        print(f"installing {' '.join(NPM_PACKAGES)} with npm into {node_dir} (log: {log}) ...")
        print("  node-canvas builds from source when its prebuilt binary cannot be downloaded")
        started = time.perf_counter()
        with log.open("wb") as out:
            cmd = ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(node_dir)]
            done = subprocess.run(
                [*cmd, *NPM_PACKAGES],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        if done.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-15:])
            hint = (
                f"\n(node-canvas needs a C++ toolchain and Cairo/Pango headers: {APT_HINT})"
                if "canvas" in tail or "gyp" in tail
                else ""
            )
            node_tools_fail(f"`npm install` failed (exit {done.returncode}):\n{tail}{hint}")
        print(f"  installed in {time.perf_counter() - started:.0f} s")
    if why := vl2png_works(bin_dir, env):
        node_tools_fail(
            f"vl2png in {bin_dir} cannot draw a PNG:\n{why}\n"
            f"(remove {node_dir} to reinstall; node-canvas needs {APT_HINT})"
        )
    return bin_dir


def versions(env: dict[str, str], node_dir: Path) -> str:
    """What the numbers were measured with: the installed versions, not the pinned ones."""

    def out(cmd: Sequence[str]) -> str:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "?"

    npm = []
    for package in (spec.rsplit("@", 1)[0] for spec in NPM_PACKAGES):
        meta = node_dir / "node_modules" / package / "package.json"
        npm.append(f"{package} {json.loads(meta.read_text()).get('version', '?')}")
    dvc = out([str(BIN / "dvc"), "--version"])
    return f"node {out(['node', '--version'])}, {', '.join(npm)}; dvc {dvc}"


# --- fixture (a): the bench's own project --------------------------------------------------

OWN_DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    params:
      - train
    outs:
      - plots/log.csv:
          cache: false
      - plots/confusion_train.csv:
          cache: false
      - plots/confusion_test.csv:
          cache: false
      - plots/roc.json:
          cache: false
      - plots/decision.png:
          cache: false
    metrics:
      - metrics.json:
          cache: false

plots:
  - loss:
      title: Loss per step
      template: linear
      x: step
      y:
        plots/log.csv: [train_loss, val_loss]
  - confusion:
      title: Confusion matrix
      template: confusion
      x: actual
      y:
        plots/confusion_train.csv: predicted
        plots/confusion_test.csv: predicted
  - roc:
      title: ROC
      template: simple
      x: fpr
      y:
        plots/roc.json: tpr
  - plots/decision.png
"""
STEPS = 300


def png(width: int, height: int, seed: int) -> bytes:
    """An RGB PNG (a colour gradient that depends on `seed`), written with zlib + struct."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\0" + bytes(v for x in range(width) for v in (x % 256, y % 256, (x + y + seed) % 256))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


def write_own_rev(root: Path, rev: int) -> None:
    """Plot data, metrics and params of one 'training run'; `rev` changes every number."""
    lr, plots = 0.1 * (rev + 1), root / "plots"
    rows = [(s, round(math.exp(-lr * s / 30) + 0.02 * math.sin(s + rev), 5),
             round(math.exp(-lr * s / 30) + 0.1 + 0.02 * math.cos(s + rev), 5))
            for s in range(STEPS)]  # fmt: skip
    write_csv(plots / "log.csv", ("step", "train_loss", "val_loss"), rows)
    labels = ("cat", "dog", "bird")
    for split, n in (("train", 600), ("test", 200)):
        wrong = [(i * 7 + rev) % 10 < 3 - rev for i in range(n)]  # 30% errors, then 20%
        pairs = [(labels[i % 3], labels[(i + w) % 3]) for i, w in enumerate(wrong)]
        write_csv(plots / f"confusion_{split}.csv", ("actual", "predicted"), pairs)
    power = 3 + 2 * rev  # a better curve at rev 1
    roc = [{"fpr": i / 200, "tpr": round(1 - (1 - i / 200) ** power, 5),
            "threshold": round(1 - i / 200, 3)} for i in range(201)]  # fmt: skip
    (plots / "roc.json").write_text(json.dumps({"roc": roc}, indent=4) + "\n")
    (plots / "decision.png").write_bytes(png(64, 48, rev))
    metrics = {"train": {"loss": round(0.3 / lr, 4), "accuracy": round(0.8 + lr / 10, 4)},
               "test": {"loss": round(0.35 / lr, 4), "accuracy": round(0.78 + lr / 10, 4),
                        "roc_auc": round(power / (power + 1), 4)}}  # fmt: skip
    (root / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (root / "params.yaml").write_text(f"train:\n  lr: {lr}\n  seed: {rev}\n  epochs: 30\n")
    (root / "train.py").write_text("# never run: the data files are written by the benchmark\n")


def own_project(root: Path, env: dict[str, str]) -> None:
    build_project(root, OWN_DVC_YAML, write_own_rev)


# --- fixture (b): shaped like example-get-started ------------------------------------------

POSTS = 18_000  # 80/20 split: about 14,400 train and 3,600 test rows in the confusion files
COMMON = "the a to is in how of for and with on not from this can value data function use file"
WORDS = [*COMMON.split(" "), "error", "using", "code", "get", "why", "list", "string", "column"]
R_WORDS = ("dataframe", "ggplot2", "dplyr", "vector", "tibble", "rstudio", "lapply", "cran")
PY_WORDS = ("python", "pandas", "numpy", "django", "class", "import", "pip", "flask", "dict")


def write_posts(path: Path, count: int) -> None:
    """StackOverflow-like posts, one XML row per line; about 30% tagged <r>."""
    rng = random.Random(20170428)
    lines = []
    for pid in range(1, count + 1):
        is_r = rng.random() < 0.3
        own, other = (R_WORDS, PY_WORDS) if is_r else (PY_WORDS, R_WORDS)
        words = [rng.choice(WORDS) for _ in range(rng.randint(12, 40))]
        words += rng.choices(own, k=rng.randint(0, 4)) + rng.choices(other, k=rng.randint(0, 2))
        rng.shuffle(words)
        title, body = " ".join(words[:7]), " ".join(words[7:])
        tags = "&lt;r&gt;&lt;dplyr&gt;" if is_r else "&lt;python&gt;&lt;pandas&gt;"
        lines.append(
            f'  <row Id="{pid}" PostTypeId="1" Score="{rng.randint(0, 9)}" '
            f'Title="{title}" Body="&lt;p&gt;{body}&lt;/p&gt;" Tags="{tags}" />'
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def get_started_project(root: Path, env: dict[str, str]) -> None:
    """`dvc repro` on main, then a `bigrams` branch that changes featurize params, reproduced."""
    dvc = str(BIN / "dvc")
    init_project(root)
    source = HERE / "get_started"
    shutil.copytree(source, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    write_posts(root / "data" / "data.xml", POSTS)
    run([dvc, "add", "data/data.xml"], root, env)
    run([dvc, "repro"], root, env)
    commit_all(root, "Evaluate the unigram model")
    git(root, "checkout", "-q", "-b", "bigrams")
    params = root / "params.yaml"
    params.write_text(
        params.read_text()
        .replace("max_features: 100", "max_features: 200")
        .replace("ngrams: 1", "ngrams: 2")
    )
    run([dvc, "repro"], root, env)
    commit_all(root, "Reproduce model using bigrams")


# --- the two sides -------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    key: str
    what: str
    build: Callable[[Path, dict[str, str]], None]
    charts: tuple[str, ...]  # the --targets of the plot definitions drawn as charts
    images: tuple[str, ...]  # image plots: no Vega-Lite, their files are fetched

    def script(self) -> str:
        """The baseline, as a CI job's `script:` would have it (plus a timestamp per line)."""
        lines = [
            "#!/usr/bin/env bash",
            "# The report step of example-get-started's CI, one process per line; PNG, not SVG.",
            "set -euo pipefail",
            'OUT="$1"',
            'mark() { echo "$EPOCHREALTIME $1" >> "$OUT/steps.txt"; }',
            "mark start",
        ]
        for target in self.charts:
            lines += [
                f"dvc plots diff main workspace --show-vega --targets {target} "
                '| json5 > "$OUT/vega.json"',
                f"mark 'plots diff {target}'",
                f'vl2png "$OUT/vega.json" > "$OUT/{slug(target)}.png"',
                f"mark 'vl2png {target}'",
            ]
        for target in self.images:
            lines += [
                f'dvc plots diff main workspace --targets {target} --json -o "$OUT/images" '
                "> /dev/null",
                f"mark 'plots diff {target} (image)'",
            ]
        lines += ['dvc exp diff main --md > "$OUT/exp-diff.md"', "mark 'exp diff --md'"]
        return "\n".join(lines) + "\n"


PROJECTS = {
    "a": Project(
        "a",
        "own: linear 1 CSV x 2 fields, confusion over 2 CSVs, ROC, image",
        own_project,
        charts=("loss", "confusion", "roc"),
        images=("plots/decision.png",),
    ),
    "b": Project(
        "b",
        "example-get-started: ROC, Precision-Recall, Confusion-Matrix, image",
        get_started_project,
        charts=("ROC", "Precision-Recall", "Confusion-Matrix"),
        images=("eval/plots/images/importance.png",),
    ),
}


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower()


def is_png(path: Path) -> bool:
    return path.read_bytes().startswith(b"\x89PNG")


def drawn(side: str, out: Path) -> tuple[list[str], int]:
    """(chart names, image files) a side wrote, counting only real PNGs."""
    if side == "a":
        files = [p for p in (out / "plots").glob("*.png") if is_png(p)]
        images = [p for p in files if p.name.endswith((".base.png", ".head.png"))]
        charts = sorted(p.name[: -len(".png")] for p in files if p not in images)
        return charts, len(images)
    charts = sorted(p.stem for p in out.glob("*.png") if is_png(p))
    return charts, sum(is_png(p) for p in (out / "images").rglob("*.png"))


@dataclass
class Result:
    project: Project
    ours: list[Proc] = field(default_factory=list)
    theirs: list[Proc] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)  # baseline line -> seconds
    problems: list[str] = field(default_factory=list)
    drawn: str = ""
    load: list[float] = field(default_factory=list)  # 1-minute load average before each pair


def read_steps(path: Path, into: dict[str, list[float]]) -> None:
    marks = [line.split(" ", 1) for line in path.read_text().splitlines()]
    for (before, _), (after, name) in itertools.pairwise(marks):
        into.setdefault(name, []).append(float(after) - float(before))


def bench_project(
    project: Project, base: Path, env: dict[str, str], runs: int, warmup: int
) -> Result:
    root = base / f"project-{project.key}"
    started = time.perf_counter()
    project.build(root, env)
    print(f"({project.key}) fixture built in {time.perf_counter() - started:.0f} s: {root}")
    script = base / f"baseline-{project.key}.sh"
    script.write_text(project.script())
    result = Result(project)
    want = (sorted(slug(t) for t in project.charts), 2 * len(project.images))

    def ours(out: Path) -> Proc:
        return measure([DVC_CML, "diff", "main", "--no-post", "--out", str(out)], root, env)

    def theirs(out: Path) -> Proc:
        out.mkdir(parents=True)
        return measure(["bash", str(script), str(out)], root, env)

    for i in range(-warmup, runs):
        result.load.append(os.getloadavg()[0])
        order = ("a", "b") if i % 2 == 0 else ("b", "a")
        procs: dict[str, Proc] = {}
        for side in order:
            out = base / f"out-{project.key}" / f"{side}{i}"
            procs[side] = (ours if side == "a" else theirs)(out)
            if not procs[side].ok:
                result.problems.append(
                    f"run {i}: side {side} failed ({procs[side].failure()}): {procs[side].stderr}"
                )
                return result
            got = drawn(side, out)
            if got != want:
                result.problems.append(f"run {i}: side {side} drew {got}, expected {want}")
            if side == "b" and i >= 0:
                read_steps(out / "steps.txt", result.steps)
        if i >= 0:
            result.ours.append(procs["a"])
            result.theirs.append(procs["b"])
        first = "dvc-cml first" if order[0] == "a" else "baseline first"
        label = f"pair {i + 1}" if i >= 0 else "warm-up"
        print(f"  {label}: {procs['a'].seconds:.2f} s vs {procs['b'].seconds:.2f} s ({first})")
    result.drawn = (
        f"both sides drew {len(want[0])} charts ({', '.join(want[0])}) + {want[1]} image files"
        if not result.problems
        else "the sides drew different charts (see above)"
    )
    return result


# --- report --------------------------------------------------------------------------------


def report(result: Result) -> bool:
    """Print one project's numbers; True if the ratio and RSS targets are met."""
    p = result.project
    print(f"\n({p.key}) {p.what}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    if not result.ours:
        return False
    pairs = list(zip(result.ours, result.theirs, strict=True))
    ratios = [a.seconds / b.seconds for a, b in pairs]
    print(f"  {'pair':>4} {'a: dvc-cml':>11} {'b: baseline':>12} {'a/b':>6}   CPU a / b")
    for n, ((a, b), r) in enumerate(zip(pairs, ratios, strict=True), 1):
        cpu = f"{a.cpu:.2f}s / {b.cpu:.2f}s"
        print(f"  {n:>4} {a.seconds:>10.2f}s {b.seconds:>11.2f}s {r:>6.3f}   {cpu}")
    ours = statistics.median(a.seconds for a in result.ours)
    theirs = statistics.median(b.seconds for b in result.theirs)
    ratio = statistics.median(ratios)
    rss_a = max(a.max_rss for a in result.ours)
    rss_b = max(b.max_rss for b in result.theirs)
    cpu = (
        f"{statistics.median(a.cpu for a in result.ours):.2f}s / "
        f"{statistics.median(b.cpu for b in result.theirs):.2f}s"
    )
    print(f"  {'med':>4} {ours:>10.2f}s {theirs:>11.2f}s {ratio:>6.3f}   {cpu}")
    ok = ratio <= RATIO_TARGET and rss_a < RSS_TARGET and not result.problems
    print(
        f"  median ratio {ratio:.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}) over "
        f"{len(ratios)} pairs; target <= {RATIO_TARGET:.2f}: "
        f"{'PASS' if ratio <= RATIO_TARGET else 'FAIL'}"
    )
    print(
        f"  peak RSS (largest process): dvc-cml {rss_a / MIB:.0f} MiB "
        f"(target < {RSS_TARGET // MIB} MiB: {'PASS' if rss_a < RSS_TARGET else 'FAIL'}), "
        f"baseline {rss_b / MIB:.0f} MiB"
    )
    print(f"  {result.drawn}")
    load = f"{min(result.load):.1f}-{max(result.load):.1f}"
    print(f"  1-minute load average before each pair: {load} on {os.cpu_count()} cores")
    print("  baseline, median seconds per line:")
    for name, seconds in result.steps.items():
        print(f"    {statistics.median(seconds):6.3f}  {name}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="paired runs (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="pairs not counted (default: 1)")
    parser.add_argument("--projects", default="a,b", help="comma-separated, of a,b (default: both)")
    parser.add_argument(
        "--node-dir",
        type=Path,
        default=default_node_dir(),
        help="where npm installs vega-cli, vega-lite and json5 (default: %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the fixture projects")
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.projects.split(",") if k.strip()]
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1, --warmup at least 0")
    if not keys or any(k not in PROJECTS for k in keys):
        parser.error(f"--projects: choose from {','.join(PROJECTS)}")

    node_dir = args.node_dir.expanduser()
    env = child_env([BIN, ensure_node_tools(node_dir)])  # dvc, python (stages), vl2png, json5
    print(versions(env, node_dir))
    results = []
    with scratch(args.keep, "dvc-cml-bench-") as base:
        for key in keys:
            results.append(bench_project(PROJECTS[key], base, env, args.runs, args.warmup))
        helps = [measure([DVC_CML, "--help"], base, env).seconds for _ in range(5)]
    for result in results:
        report(result)
    help_s = statistics.median(helps)
    print(
        f"\ndvc-cml --help: {help_s:.3f} s (target < {HELP_TARGET_S} s: "
        f"{'PASS' if help_s < HELP_TARGET_S else 'FAIL'})"
    )
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
