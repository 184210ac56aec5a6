"""Test helpers: real git + DVC repositories in temp dirs, built from fixtures/scenarios."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from dvc_cml.cli import main
from dvc_cml.demo import copy_example
from dvc_cml.pipeline import init_project

# The suite runs as a user with this venv activated: the fixtures' stages say `python` and
# import yaml, and find this interpreter on PATH as `dvc repro` would.  dvc-cml itself never
# changes PATH (tests/test_repro.py runs it with another venv first on PATH).
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCENARIOS = FIXTURES / "scenarios"
# `cached` is the example project that ships in the package (`dvc-cml demo`'s), with every
# output in the DVC cache.
BUILT_ON = {"cached": copy_example}


# Variables that would make a run think it is in CI (and post to a real GitLab, or compare
# with a CI-chosen base): no test inherits them from the machine running the suite.
_CI_PREFIXES = ("CI", "GITLAB", "GITHUB", "DVC_CML_")
_TOKEN_VARS = ("REPO_TOKEN",)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without CI*/GITLAB*/GITHUB*/DVC_CML_* variables, plus `extra`.

    For every subprocess and in-process CLI run; a test that wants CI sets it here.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_CI_PREFIXES) and name not in _TOKEN_VARS
    }
    env.update(extra)
    return env


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        [
            "git",
            "-c", "user.name=dvc-cml tests",
            "-c", "user.email=tests@dvc-cml.invalid",
            "-c", "commit.gpgsign=false",
            "-c", "init.defaultBranch=main",
            *args,
        ],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout  # fmt: skip


def git_bytes(root: Path, *args: str) -> bytes:
    """`git ARGS` in `root`, stdout as bytes (for `git show REV:binary.png`)."""
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True).stdout


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write `{relative path: text or bytes}` under `root`, making folders as needed."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def dvc_commit(root: Path) -> None:
    """`dvc commit --force`: record and cache every stage output as it is on disk.

    Fixtures ship their outputs' data; this stands in for running the stages.
    """
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir, quiet_dvc

    quiet_dvc()
    with Repo(str(root)) as repo, chdir(root):
        repo.commit(force=True)


def dvc_add(root: Path, *paths: str) -> None:
    """`dvc add PATH...`: track files or folders with a `.dvc` file (and .gitignore them)."""
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir, quiet_dvc

    quiet_dvc()
    with Repo(str(root)) as repo, chdir(root):
        repo.add(list(paths))


class Project:
    """A scenario checked in on `main`; `head/` of the scenario is applied on demand."""

    def __init__(self, root: Path, scenario: Path) -> None:
        self.root = root
        self.scenario = scenario

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def apply_head(self) -> None:
        """Overlay the scenario's head/ files on the workspace (uncommitted)."""
        head = self.scenario / "head"
        for src in head.rglob("*"):
            if src.is_file() and src.name != ".delete":
                dest = self.root / src.relative_to(head)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
        for rel in (head / ".delete").read_text().split() if (head / ".delete").exists() else []:
            (self.root / rel).unlink()

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        return git(self.root, "rev-parse", "HEAD").strip()

    def branch(self, name: str) -> None:
        git(self.root, "checkout", "-q", "-b", name)

    def status(self) -> str:
        return git(self.root, "status", "--porcelain")


def build_project(name: str, root: Path) -> Project:
    """The scenario's base/ committed on `main` in a new git + DVC repo at `root`."""
    scenario = SCENARIOS / name
    if name in BUILT_ON:  # the scenario's base/ only holds what differs
        BUILT_ON[name](root)
    shutil.copytree(scenario / "base", root, dirs_exist_ok=True)
    git(root, "init", "-q")
    init_project(root)
    project = Project(root, scenario)
    project.commit("base")
    return project


def build_changes(root: Path) -> Project:
    """`changes` at `root`, reproduced on `main` and on `feature` (checked out and committed):
    new raw data, lr, a command and stages changed."""
    from dvc_cml.pipeline import reproduce

    scenario = SCENARIOS / "changes"
    shutil.copytree(scenario / "base", root)
    git(root, "init", "-q")
    init_project(root)
    project = Project(root, scenario)
    dvc_add(root, "data/raw", "data/labels.csv")
    reproduce(root, say=lambda _: None)
    project.commit("baseline")
    project.branch("feature")
    project.apply_head()
    dvc_add(root, "data/raw", "data/labels.csv")
    reproduce(root, say=lambda _: None)
    project.commit("feature")
    return project


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Project]:
    def make(name: str) -> Project:
        return build_project(name, tmp_path / name)

    return make


from tests.fake_github import FakeGitHub, fake_github  # noqa: E402, F401  (fixture re-export)


def run_cli(
    capsys: pytest.CaptureFixture[str], *argv: str, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """`dvc-cml ARGV` in this process, with an explicit environment (none of the machine's
    CI variables): (exit code, stdout, stderr)."""
    code = main(list(argv), env=dict(env) if env is not None else {})
    out, err = capsys.readouterr()
    return code, out, err


from tests.fake_gitlab import FakeGitLab, fake_gitlab  # noqa: E402, F401  (fixture re-export)
from tests.runners import dvc_cml_wheel, job_python  # noqa: E402, F401  (fixture re-export)
