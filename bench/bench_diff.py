"""Benchmark: `dvc-cml diff` against the shell pipeline users write today for the same report.

Run with `python bench/bench_diff.py [--runs N] [--keep]`.

A fixture project (git + DVC, 4 plot definitions of a few hundred points each, nested
metrics, params) is built in a temp dir: a baseline commit on `main`, then a branch with
different numbers, checked out, so the workspace is the branch head and the diff is against
`main`.  Then, alternating so drift (caches, CPU boost) hits both sides alike, each run times

(a) `dvc-cml diff main --no-post --out DIR`: one process, DVC's Python API in-process,
    Vega-Lite -> PNG with vl-convert in-process;
(b) the baseline: `dvc exp diff main --md`, then per plot definition
    `dvc plots diff main workspace --show-vega --targets NAME` (image plots: `--json`, nothing
    to convert) and a one-shot `python -c "...vl_convert.vegalite_to_png..."` per spec.

Every baseline step is its own process because that is how a CI job script runs them: each
line of `script:` is a fresh `dvc` or `python` invocation that pays interpreter start-up,
imports and repo opening again.  Sharing one process would measure a pipeline nobody writes.

Also timed: `dvc-cml --help` wall time (start-up cost of the CLI; heavy imports are lazy).
The script exits 0 whatever the numbers: it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

BIN = Path(sys.executable).parent
DVC_CML = str(BIN / "dvc-cml")
DVC = str(BIN / "dvc")
RATIO_TARGET = 0.35
HELP_TARGET_S = 0.3
POINTS = 300
TO_PNG = (
    "import sys, vl_convert; "
    "open(sys.argv[2], 'wb').write(vl_convert.vegalite_to_png(open(sys.argv[1]).read()))"
)

DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    params:
      - train
    outs:
      - plots/train_log.csv:
          cache: false
      - plots/test_log.csv:
          cache: false
      - plots/predictions.json:
          cache: false
      - plots/confusion.csv:
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
        plots/train_log.csv: loss
        plots/test_log.csv: loss
  - predictions:
      title: Predicted vs actual
      template: scatter
      x: actual
      y:
        plots/predictions.json: predicted
  - confusion:
      title: Confusion matrix
      template: confusion
      x: actual
      y:
        plots/confusion.csv: predicted
  - plots/decision.png
"""
# (name, is an image plot): the `--targets` of the baseline, one per plot definition.
PLOT_TARGETS = (("loss", False), ("predictions", False), ("confusion", False),
                ("plots/decision.png", True))  # fmt: skip


# --- fixture -----------------------------------------------------------------------------


def run(cmd: Sequence[str], cwd: Path, capture: bool = False) -> bytes:
    """Run a step (stdout captured or discarded); fail loudly, with its stderr, on non-zero."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    done = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()
        sys.exit(f"step failed (exit {done.returncode}): {' '.join(cmd)}\n{err}")
    return done.stdout or b""


def git(root: Path, *args: str) -> None:
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@dvc-cml.invalid",
             "-c", "commit.gpgsign=false"]  # fmt: skip
    run(["git", *ident, *args], root)


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


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_data(root: Path, lr: float, seed: int) -> None:
    """Plot data, metrics and params of one 'training run'; `lr`/`seed` change the numbers."""
    plots = root / "plots"
    plots.mkdir(exist_ok=True)
    for name, offset in (("train_log.csv", 0.0), ("test_log.csv", 0.1)):
        rows = [(s, round(math.exp(-lr * s / 30) + offset + 0.02 * math.sin(s + seed), 5))
                for s in range(POINTS)]  # fmt: skip
        write_csv(plots / name, ("step", "loss"), rows)
    preds = [{"actual": round(i / POINTS, 4),
              "predicted": round(i / POINTS + 0.1 * math.sin(i * lr + seed), 4)}
             for i in range(POINTS)]  # fmt: skip
    (plots / "predictions.json").write_text(json.dumps(preds, indent=1))
    labels = ("cat", "dog", "bird")
    wrong = [(i * 7) % 10 < 4 - seed for i in range(POINTS)]  # 30% errors at seed 1, 20% at 2
    confusion = [(labels[i % 3], labels[(i + w) % 3]) for i, w in enumerate(wrong)]
    write_csv(plots / "confusion.csv", ("actual", "predicted"), confusion)
    (plots / "decision.png").write_bytes(png(64, 48, seed))
    metrics = {"train": {"loss": round(0.3 / lr, 4), "accuracy": round(0.8 + lr / 10, 4)},
               "test": {"loss": round(0.35 / lr, 4), "accuracy": round(0.78 + lr / 10, 4),
                        "f1": round(0.75 + lr / 8, 4)}}  # fmt: skip
    (root / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (root / "params.yaml").write_text(f"train:\n  lr: {lr}\n  seed: {seed}\n  epochs: 30\n")


def build_project(root: Path) -> None:
    from dvc_cml.pipeline import init_project

    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    init_project(root)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "train.py").write_text("# never run: the data files are written by the benchmark\n")
    write_data(root, lr=0.1, seed=1)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Baseline")
    git(root, "checkout", "-q", "-b", "tune")
    write_data(root, lr=0.2, seed=2)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Tuned")


# --- the two pipelines -------------------------------------------------------------------


def dvc_cml_diff(root: Path, work: Path) -> None:
    run([DVC_CML, "diff", "main", "--no-post", "--out", str(work / "report")], root)


def shell_pipeline(root: Path, work: Path) -> None:
    """What a CI job does today: each line its own process, files handed on via disk."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "report.md").write_bytes(run([DVC, "exp", "diff", "main", "--md"], root, capture=True))
    for number, (target, is_image) in enumerate(PLOT_TARGETS):
        if is_image:  # no Vega-Lite for images: DVC writes both revisions' files to -o
            out = str(work / "dvc_plots")
            run([DVC, "plots", "diff", "main", "workspace", "--targets", target, "--json",
                 "-o", out], root)  # fmt: skip
            continue
        spec = run([DVC, "plots", "diff", "main", "workspace", "--show-vega",
                    "--targets", target], root, capture=True)  # fmt: skip
        if not spec.strip():  # DVC exits 0 and prints nothing for an unknown target
            sys.exit(f"`dvc plots diff --show-vega --targets {target}` printed no spec")
        spec_path, png_path = work / f"plot{number}.vl.json", work / f"plot{number}.png"
        spec_path.write_bytes(spec)
        run([sys.executable, "-c", TO_PNG, str(spec_path), str(png_path)], root)


def check_outputs(work: Path) -> None:
    """Both sides must really have produced PNG charts, or the timings compare nothing."""
    want = sum(not image for _, image in PLOT_TARGETS)
    for side, pngs in (("a", (work / "a" / "report" / "plots").glob("*.png")),
                       ("b", (work / "b").glob("plot*.png"))):  # fmt: skip
        real = [p for p in pngs if p.read_bytes().startswith(b"\x89PNG")]
        if len(real) < want:
            sys.exit(f"side {side}: expected {want} PNG charts, got {len(real)}")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- main --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="alternating runs (default: 5)")
    parser.add_argument("--keep", action="store_true", help="keep the fixture project")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    with contextlib.ExitStack() as stack:
        if args.keep:  # mkdtemp: a TemporaryDirectory would still be removed at exit
            base = Path(tempfile.mkdtemp(prefix="dvc-cml-bench-"))
            print(f"keeping the fixture: {base}")
        else:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dvc-cml-bench-")))
        root = base / "project"
        build_project(root)
        print(f"fixture: {root} ({len(PLOT_TARGETS)} plots, {POINTS} points each, diff vs main)")
        pairs = []
        for i in range(args.runs):
            # Alternate which side goes first, so neither always enjoys a warmer cache.
            order = ("a", "b") if i % 2 == 0 else ("b", "a")
            t = {}
            for side in order:
                fn = dvc_cml_diff if side == "a" else shell_pipeline
                t[side] = timed(partial(fn, root, base / side))
            if i == 0:
                check_outputs(base)
            pairs.append((t["a"], t["b"]))
        helps = [timed(partial(run, [DVC_CML, "--help"], base)) for _ in range(max(5, args.runs))]

    print(f"\n{'run':>4} {'a: dvc-cml diff':>16} {'b: shell pipeline':>18} {'a/b':>6}")
    for i, (a, b) in enumerate(pairs, 1):
        print(f"{i:>4} {a:>15.2f}s {b:>17.2f}s {a / b:>6.2f}")
    ratio = statistics.median(a / b for a, b in pairs)
    print(f"{'med':>4} {statistics.median(a for a, _ in pairs):>15.2f}s "
          f"{statistics.median(b for _, b in pairs):>17.2f}s {ratio:>6.2f}")  # fmt: skip
    help_s = statistics.median(helps)
    verdict = {True: "PASS", False: "FAIL"}
    print(
        f"\nmedian ratio a/b   {ratio:.2f}   target <= {RATIO_TARGET}   "
        f"{verdict[ratio <= RATIO_TARGET]}"
    )
    print(
        f"dvc-cml --help     {help_s:.3f} s target < {HELP_TARGET_S} s  "
        f"{verdict[help_s < HELP_TARGET_S]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
