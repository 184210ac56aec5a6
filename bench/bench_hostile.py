"""What one hostile input costs: wall time and peak memory of `dvc-cml diff main`.

Run with `python bench/bench_hostile.py [--code DIR] [--cases bomb,keys] [--keep]`.

Each case is a project whose `main` is clean and whose checked-out branch commits one small
or large hostile file (issue 15, finding 9):

bomb  params.yaml is a YAML alias bomb of a few hundred bytes (9 nested lists of 9 aliases
      each): its aliases stand for 9**8 values, which DVC's `vars` would expand (params.yaml
      is always loaded for dvc.yaml's interpolation).
keys  metrics.json holds 1,000,000 keys (18.8 MB).

Each run is `python -m dvc_cml diff main --md --no-post` as its own process, measured with
benchlib: wall time, the peak RSS of its process tree, the exit code, report.html's size.
`--code DIR` runs another checkout's package instead (PYTHONPATH=DIR, e.g. a worktree of an
older commit) for a before/after table.  A run is stopped past `--rss-limit-gib` (default 4)
or `--timeout` seconds (default 300): the machine is shared.  The script exits 0 whatever the
numbers: it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from benchlib import GIB, MIB, child_env, commit_all, git, init_project, measure, scratch


def alias_bomb(levels: int = 8, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ",".join(['"lol"'] * width) + "]"]
    lines += [f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * width) + "]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def project(root: Path, hostile: Callable[[Path], str]) -> str:
    """A clean `main` (a metric and a param), then a branch with the hostile file."""
    init_project(root)
    (root / "dvc.yaml").write_text("metrics:\n  - metrics.json\nparams:\n  - params.yaml\n")
    (root / "metrics.json").write_text('{"acc": 0.5}\n')
    (root / "params.yaml").write_text("lr: 0.1\n")
    commit_all(root, "clean")
    git(root, "checkout", "-q", "-b", "hostile")
    what = hostile(root)
    commit_all(root, "hostile")
    return what


def bomb(root: Path) -> str:
    text = alias_bomb()
    (root / "params.yaml").write_text(text)
    return f"params.yaml: an alias bomb of {len(text)} bytes (9**8 values)"


def keys(root: Path) -> str:
    path = root / "metrics.json"
    path.write_text(json.dumps({f"m{i}": i for i in range(1_000_000)}))
    return f"metrics.json: 1,000,000 keys, {path.stat().st_size / MIB:.1f} MiB"


CASES = {"bomb": bomb, "keys": keys}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, help="run this checkout's dvc_cml (PYTHONPATH)")
    parser.add_argument("--cases", default="bomb,keys")
    parser.add_argument("--rss-limit-gib", type=float, default=4.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--keep", action="store_true", help="keep the fixture projects")
    args = parser.parse_args()

    env = child_env()
    if args.code:
        env["PYTHONPATH"] = str(args.code.resolve())
    cmd = [sys.executable, "-m", "dvc_cml", "diff", "main", "--md", "--no-post"]
    print(f"code: {args.code or 'this checkout'}")
    print(f"{'case':<6} {'exit':>10} {'wall s':>8} {'peak RSS':>10} {'report.html':>12}  input")
    with scratch(args.keep, "bench-hostile-") as base:
        for name in args.cases.split(","):
            root = base / name
            what = project(root, CASES[name])
            proc = measure(
                cmd,
                root,
                env,
                timeout=args.timeout,
                rss_limit=int(args.rss_limit_gib * GIB),
            )
            page = root / "dvc-cml-report" / "report.html"
            size = f"{page.stat().st_size / MIB:.1f} MiB" if page.exists() else "-"
            code = proc.why or str(proc.code)
            rss = max(proc.max_rss, proc.sum_rss) / MIB
            print(f"{name:<6} {code:>10} {proc.seconds:>8.1f} {rss:>7.0f} MiB {size:>12}  {what}")
            if proc.stderr:
                print("       " + proc.stderr.splitlines()[-1][:150])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
