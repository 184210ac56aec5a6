"""The CI templates on real runners: what the tests of both need, built once per session.

- `dvc_cml_wheel`: our wheel, built once, what the GitLab template installs in the tests
  (its DVC_CML_INSTALL; the Action installs from its own files, as on GitHub).
- `job_python`: the job's own Python, a venv with pip standing in for the job image's
  `python3` (first on PATH in the jobs): the templates use its pip only to fetch uv into a
  folder of their own, and the tests check that nothing was installed into it.
- `gitlab_ci_local()`: the runner for the GitLab template, gitlab-ci-local from the npm
  registry with Node 22 (`.ci/run` installs both into ~/.cache/dvc-cml-ci/npm, or
  $DVC_CML_CI_TOOLS/npm) and rsync; the reason to skip when they cannot be had.

Installs reach the package index (uv and dvc-cml's dependencies, from PyPI), as the templates
do; everything else stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(os.environ.get("DVC_CML_CI_TOOLS") or Path.home() / ".cache" / "dvc-cml-ci")
NODE_MAJOR = 22  # gitlab-ci-local 4.75 needs Node >= 22
# What a checkout of this repository holds that an install from source needs.
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE", "action.yml")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def copy_source(dest: Path) -> Path:
    """This repository's files as a runner fetches them (no tests, no build leftovers)."""
    dest.mkdir(parents=True)
    for name in SOURCE_FILES:
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dest)
    shutil.copytree(
        ROOT / "dvc_cml", dest / "dvc_cml", ignore=shutil.ignore_patterns("__pycache__")
    )
    return dest


def build_wheel(where: Path) -> Path:
    """Our wheel, built offline from a copy (`--no-build-isolation`: this venv's setuptools)."""
    source = copy_source(where / "source")
    dist = where / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, ".", cwd=source)
    [wheel] = dist.glob("dvc_cml-*.whl")
    return wheel


@pytest.fixture(scope="session")
def dvc_cml_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@dataclass(frozen=True)
class JobPython:
    """The job's own Python: `bin` goes first on the job's PATH."""

    bin: Path

    @property
    def python(self) -> Path:
        return self.bin / "python3"

    def freeze(self) -> list[str]:
        """Every package installed in it, pip included."""
        env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
        return run(self.python, "-m", "pip", "freeze", "--all", cwd=self.bin, env=env).split()


@pytest.fixture(scope="session")
def job_python(tmp_path_factory: pytest.TempPathFactory) -> JobPython:
    venv = tmp_path_factory.mktemp("job-python") / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=venv.parent)
    return JobPython(venv / "bin")


@dataclass(frozen=True)
class GitLabCILocal:
    command: tuple[str, ...]
    path: str  # PATH for it: its own Node first

    def env(self, job_python: JobPython, home: Path) -> dict[str, str]:
        """The runner's environment, which its shell-executor jobs inherit: the job's python
        first on PATH, no CI variables of the machine running the tests."""
        return clean_env(PATH=os.pathsep.join([str(job_python.bin), self.path]), HOME=str(home))


def _node_major(node: str) -> int:
    found = re.match(r"v(\d+)\.", run(node, "--version", cwd=Path.cwd()))
    return int(found.group(1)) if found else 0


def gitlab_ci_local() -> GitLabCILocal | str:
    """gitlab-ci-local with a Node it can run on, or why the tests cannot have it."""
    if shutil.which("rsync") is None:
        return "no rsync (Debian's `rsync` package), which gitlab-ci-local's shell executor uses"
    installed = TOOLS / "npm" / "node_modules" / ".bin"
    path = os.environ.get("PATH", "")
    if (installed / "gitlab-ci-local").exists():
        path = os.pathsep.join([str(installed), path])
    program = shutil.which("gitlab-ci-local", path=path)
    node = shutil.which("node", path=path)
    if program is None or node is None:
        return (
            f"gitlab-ci-local is not installed (bash .ci/run installs it and Node {NODE_MAJOR} "
            f"from the npm registry into {TOOLS / 'npm'})"
        )
    if (major := _node_major(node)) < NODE_MAJOR:
        return f"gitlab-ci-local needs Node >= {NODE_MAJOR}; {node} is Node {major}"
    return GitLabCILocal((node, str(Path(program).resolve())), path)


def job_log_lines(output: str, job: str) -> Iterator[str]:
    """The lines a job printed, from gitlab-ci-local's output (`JOB > line`)."""
    prefix = re.compile(rf"^{re.escape(job)}\s+> ?")
    for line in output.splitlines():
        if prefix.match(line):
            yield prefix.sub("", line, count=1)
