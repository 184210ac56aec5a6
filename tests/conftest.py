"""Test helpers: real git + DVC repositories in temp dirs, built from fixtures/scenarios."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from dvc_cml.demo import copy_example
from dvc_cml.pipeline import init_project

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCENARIOS = FIXTURES / "scenarios"
# `cached` is the example project that ships in the package (`dvc-cml demo`'s), with every
# output in the DVC cache.
BUILT_ON = {"cached": copy_example}


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


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Project]:
    def make(name: str) -> Project:
        return build_project(name, tmp_path / name)

    return make


from tests.fake_github import FakeGitHub, fake_github  # noqa: E402, F401  (fixture re-export)
from tests.fake_gitlab import FakeGitLab, fake_gitlab  # noqa: E402, F401  (fixture re-export)
