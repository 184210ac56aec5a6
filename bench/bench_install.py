"""Install time: the plain `pip install` of our wheel against the CI templates' own install.

Each side starts from a fresh environment and empty caches, as the first pipeline of a
project does, and reaches the package index (PyPI) itself:

- baseline: `pip install --no-cache-dir WHEEL` into a new venv (what the GitLab template and
  the Action did before: the job's own Python, every package downloaded and installed by pip);
- gitlab: the install lines of templates/dvc-cml.gitlab-ci.yml (everything before the
  `dvc-cml diff` line), run by bash in a new job directory with DVC_CML_INSTALL=WHEEL: the
  job's pip fetches uv into a folder, uv makes dvc-cml a venv of its own and installs into it;
- action: the `setup` and `install` steps of action.yml, run by bash as a runner would (from
  the action's files, so dvc-cml is built from source as on GitHub);
- gitlab, cache restored: the GitLab install again in another new job directory, with the
  cache folder the first one left (what GitLab's `cache:` brings to the next pipeline).

Creating the venvs that stand in for the job image's Python is not timed.  pip and uv see no
configuration of this machine (no local mirrors).  Prints each time (median of --runs), the
ratio to the baseline (target <= 0.2) and what each leaves on disk.

    .venv/bin/python bench/bench_install.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "templates" / "dvc-cml.gitlab-ci.yml"
ACTION = ROOT / "action.yml"
TARGET = 0.2
MB = 1000**2


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without pip's and uv's settings (no local mirrors, no caches)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "CI", "GITLAB", "GITHUB", "DVC_CML", "VIRTUAL_ENV"))
    }
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def sh(*command: str | Path, cwd: Path, env: dict[str, str]) -> float:
    """Run `command`, fail loudly, return its wall time."""
    start = time.perf_counter()
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"failed: {command}\n{done.stdout.decode()}\n{done.stderr.decode()}")
    return seconds


def size(path: Path) -> int:
    """Bytes on disk under `path`, each hard-linked file once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            stat = (Path(root) / name).lstat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def job_python(where: Path) -> Path:
    """A new venv with pip: the job image's python3, first on PATH (not timed)."""
    sh(sys.executable, "-m", "venv", where, cwd=where.parent, env=clean_env())
    return where / "bin"


def build_source(where: Path) -> Path:
    """This repository's files, as a runner fetches the action's (no tests, no venv)."""
    where.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "action.yml"):
        shutil.copy(ROOT / name, where)
    shutil.copytree(
        ROOT / "dvc_cml", where / "dvc_cml", ignore=shutil.ignore_patterns("__pycache__")
    )
    return where


def build_wheel(where: Path) -> Path:
    source = build_source(where / "source")
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    sh(*pip, "-w", where / "dist", ".", cwd=source, env=clean_env())
    [wheel] = (where / "dist").glob("dvc_cml-*.whl")
    return wheel


def baseline(work: Path, wheel: Path) -> tuple[float, int]:
    venv = work / "baseline"
    python = job_python(venv) / "python"
    site = venv / "lib"
    before = size(site)
    seconds = sh(
        python, "-m", "pip", "install", "-q", "--no-cache-dir", wheel, cwd=work, env=clean_env()
    )
    return seconds, size(site) - before


def gitlab_install_script() -> str:
    script: list[str] = yaml.safe_load(TEMPLATE.read_text())[".dvc-cml"]["script"]
    [run] = [i for i, line in enumerate(script) if " diff " in line and "dvc-cml" in line]
    return "\n".join(script[:run]) + "\n"


def gitlab(
    work: Path, wheel: Path, name: str, cache_from: Path | None = None
) -> tuple[float, int, Path]:
    job = work / name
    job.mkdir()
    bin_dir = job_python(work / f"{name}-python")
    if cache_from is not None:  # what GitLab restores before the script
        shutil.copytree(cache_from, job / ".cache" / "dvc-cml" / "cache", symlinks=True)
    (job / "install.sh").write_text(gitlab_install_script())
    env = clean_env(
        PATH=os.pathsep.join([str(bin_dir), os.environ["PATH"]]),
        DVC_CML_INSTALL=str(wheel),
        DVC_CML_UV="uv",
    )
    seconds = sh("bash", "-eo", "pipefail", "install.sh", cwd=job, env=env)
    home = job / ".cache" / "dvc-cml"
    return seconds, size(home / "venv") + size(home / "uv"), home / "cache"


def action(work: Path, source: Path) -> tuple[float, int]:
    steps = {s.get("id"): s for s in yaml.safe_load(ACTION.read_text())["runs"]["steps"]}
    temp, workspace, output = work / "action-temp", work / "action-workspace", work / "output"
    temp.mkdir()
    workspace.mkdir()
    bin_dir = job_python(work / "action-python")
    env = clean_env(
        PATH=os.pathsep.join([str(bin_dir), os.environ["PATH"]]),
        GITHUB_ACTION_PATH=str(source),
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_OUTPUT=str(output),
        RUNNER_TEMP=str(temp),
        RUNNER_OS="Linux",
        RUNNER_ARCH="X64",
        DVC_CML_PACKAGES="",
        DVC_CML_PYTHON=">=3.10",
    )
    seconds = sh("bash", "-eo", "pipefail", "-c", steps["setup"]["run"], cwd=workspace, env=env)
    home = temp / "dvc-cml"
    env.update(DVC_CML_HOME=str(home), UV_PYTHON_INSTALL_DIR=str(home / "python"))
    seconds += sh("bash", "-eo", "pipefail", "-c", steps["install"]["run"], cwd=workspace, env=env)
    return seconds, size(home / "venv") + size(home / "uv")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default: 3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="dvc-cml-bench-install-"))
    try:
        wheel = build_wheel(work / "build")
        source = build_source(work / "action-source")
        times: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        for number in range(args.runs):
            run = work / f"run-{number}"
            run.mkdir()
            # Alternate which goes first: the machine's load drifts.
            order = ["baseline", "gitlab", "action"]
            for name in order if number % 2 == 0 else order[::-1]:
                if name == "baseline":
                    seconds, sizes[name] = baseline(run, wheel)
                elif name == "gitlab":
                    seconds, sizes[name], cache = gitlab(run, wheel, "gitlab")
                    warm, _, _ = gitlab(run, wheel, "gitlab-warm", cache_from=cache)
                    times.setdefault("gitlab-warm", []).append(warm)
                    sizes["gitlab cache"] = size(cache)
                else:
                    seconds, sizes[name] = action(run, source)
                times.setdefault(name, []).append(seconds)
                print(f"run {number + 1}: {name} {seconds:.1f} s", file=sys.stderr, flush=True)
            shutil.rmtree(run)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"Installing {wheel.name} and its dependencies, fresh environment, empty caches")
    print(
        f"(median of {args.runs} runs, the ratio the median of the runs' own ratios; every "
        f"run: {', '.join(f'{n} {v}' for n, v in _runs(times))})"
    )
    rows = [
        ("pip install --no-cache-dir (the old templates)", "baseline"),
        ("GitLab template: pip fetches uv, uv installs", "gitlab"),
        ("Action: the same, dvc-cml built from source", "action"),
    ]
    ok = True
    for label, name in rows:
        verdict = ""
        if name != "baseline":
            # Each run's two sides ran back to back: their ratio is steadier than the medians'.
            ratio = statistics.median(
                ours / base for ours, base in zip(times[name], times["baseline"], strict=True)
            )
            verdict = f"  ratio {ratio:.3f} (target <= {TARGET})"
            verdict += " ok" if ratio <= TARGET else " MISSED"
            ok = ok and ratio <= TARGET
        print(f"  {label:<48} {median[name]:6.1f} s  {sizes[name] / MB:5.0f} MB installed{verdict}")
    print(
        f"  {'GitLab template, the cache restored':<48} {median['gitlab-warm']:6.1f} s"
        f"  (the cache GitLab keeps: {sizes['gitlab cache'] / MB:.0f} MB)"
    )
    return 0 if ok else 1


def _runs(times: dict[str, list[float]]) -> list[tuple[str, str]]:
    return [(name, "/".join(f"{v:.1f}" for v in values)) for name, values in times.items()]


if __name__ == "__main__":
    raise SystemExit(main())
