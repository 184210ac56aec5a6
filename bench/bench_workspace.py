"""Benchmark: what reading the workspace as it is on disk costs a report.

Run with `python bench/bench_workspace.py [--runs N] [--files N] [--size BYTES] [--keep]`.

When the head is the workspace (the default), dvc-cml hashes the DVC-tracked outputs on disk
as `dvc diff` does (DVC's own workspace indexing, through its state database) and checks
every pipeline stage against its dvc.lock entry as `dvc status` does.  This times that step
(the tracked outputs and stages as the files on disk are) against the same step for a
commit (from dvc.lock only), each in a fresh process with the repository opened and its
index built first (as a report has them), on:

(a), (b) bench_diff.py's two projects, built the same way (their outputs were written by
    `dvc repro` / `dvc add`, so the state database knows them: the everyday case);
(c) a directory of `--files` files of `--size` bytes each (default 10,000 x 100 kB = 1 GB)
    tracked with `dvc add`, and a stage that depends on it, committed on `main`, measured
    - cold: DVC's state database emptied first, so every file is read and hashed (as after
      copying a project, or touching every file); the files are in the OS page cache, so
      this is hashing, not disk reads;
    - warm: the run after it, every file only stat'ed;
    - one file changed: 100 bytes appended to one file, warm otherwise.
    The whole `dvc-cml diff main --no-post` is timed on (c) too, cold and warm.

Printed: the median over `--runs` of each step per case (cold: each run empties the state
database first).  Exit code 0 (a measurement, not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_diff import get_started_project, own_project
from benchlib import BIN, DVC_CML, child_env, commit_all, init_project, measure, run, scratch

DVC = str(BIN / "dvc")


def measure_steps(root: Path) -> dict[str, float]:
    """In this process: open the project and build its index, then time what the report
    reads of the tracked outputs and stages, from dvc.lock only (a commit) and from the
    files on disk (the workspace)."""
    from dvc.repo import Repo

    from dvc_cml.collect import snapshot
    from dvc_cml.collect.project import chdir, quiet_dvc

    quiet_dvc()
    with Repo(str(root)) as repo, chdir(root):
        started = time.perf_counter()
        repo.index.data_keys  # noqa: B018  (built once, as a report has it)
        opened = time.perf_counter() - started
        snapshot._tracked(repo, snapshot.Snapshot())  # lazy imports, not timed
        seen = snapshot.Snapshot()
        started = time.perf_counter()
        snapshot._tracked(repo, seen)
        locked = time.perf_counter() - started
        started = time.perf_counter()
        snapshot._on_disk(repo, seen)  # what the workspace adds to it
        on_disk = time.perf_counter() - started
    return {
        "index": opened,
        "dvc.lock only": locked,
        "files on disk, added": on_disk,
        "outputs": len(seen.outputs),
        "stages": len(seen.lock),
        "not reproduced": len(seen.stale),
    }


def steps_in_child(root: Path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--measure", str(root)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def state_dir(root: Path) -> Path:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return Path(repo.site_cache_dir) / "hashes"


def data_project(root: Path, env: dict[str, str], files: int, size: int) -> None:
    init_project(root)
    data = root / "data"
    data.mkdir()
    block = os.urandom(size)
    for n in range(files):  # distinct contents: every file has its own hash
        (data / f"f{n:05d}.bin").write_bytes(n.to_bytes(8, "little") + block[8:])
    run([DVC, "add", "data"], root, env)
    # A stage that depends on the directory, as a pipeline's first stage does.
    (root / "dvc.yaml").write_text(
        "stages:\n  count:\n    cmd: ls data | wc -l > count.txt\n"
        "    deps:\n      - data\n    outs:\n      - count.txt\n"
    )
    run([DVC, "repro"], root, env)
    commit_all(root, "data")


def show(case: str, runs: list[dict[str, float]]) -> None:
    keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
    counts = {k: runs[0][k] for k in runs[0] if k not in keys}
    cells = ", ".join(f"{k} {statistics.median(r[k] for r in runs):.3f} s" for k in keys)
    print(f"  {case}: {cells}  ({', '.join(f'{v} {k}' for k, v in counts.items())})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=100_000, help="bytes per file")
    parser.add_argument("--keep", action="store_true", help="keep the fixture projects")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_steps(Path(args.measure))))
        return 0

    env = child_env()
    with scratch(args.keep, "dvc-cml-bench-ws-") as base:
        for key, build in (("a", own_project), ("b", get_started_project)):
            root = base / f"project-{key}"
            build(root, env)
            print(f"({key}) bench_diff's project {key}, workspace as `dvc repro` left it:")
            show("warm", [steps_in_child(root, env) for _ in range(args.runs)])

        root = base / "project-c"
        started = time.perf_counter()
        data_project(root, env, args.files, args.size)
        total = args.files * args.size
        print(
            f"(c) {args.files:,} files, {total / 1e9:.2f} GB, tracked with `dvc add` "
            f"(built in {time.perf_counter() - started:.0f} s):"
        )
        hashes = state_dir(root)
        cold = []
        for _ in range(args.runs):
            shutil.rmtree(hashes, ignore_errors=True)
            cold.append(steps_in_child(root, env))
        show("cold (state database emptied)", cold)
        show("warm", [steps_in_child(root, env) for _ in range(args.runs)])

        whole: dict[str, list[float]] = {"cold": [], "warm": []}
        for _ in range(args.runs):
            shutil.rmtree(hashes, ignore_errors=True)
            for case in ("cold", "warm"):
                out = base / "out"
                proc = measure([DVC_CML, "diff", "main", "--no-post", "--out", str(out)], root, env)
                if not proc.ok:
                    sys.exit(f"dvc-cml failed: {proc.failure()}: {proc.stderr}")
                whole[case].append(proc.seconds)
        for case, seconds in whole.items():
            print(f"  whole `dvc-cml diff main`, {case}: {statistics.median(seconds):.2f} s")

        with (root / "data" / "f00000.bin").open("ab") as f:
            f.write(b"x" * 100)
        changed: list[dict[str, Any]] = [steps_in_child(root, env) for _ in range(args.runs)]
        show("one file changed, warm", changed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
