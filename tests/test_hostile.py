"""Hostile merge requests (issue 15): each case is a branch committed on top of a clean `main`
and run as CI runs it (`dvc-cml diff main`, also posting to the fake GitLab and GitHub).

Every case checks the same invariants (`assert_contained`): no file outside the repository
and the report directory was written or read (canary files with a unique secret, their
bytes, mtimes and atimes), neither the secret nor the token appears in any output, report
file or request the fakes received, and the run exited with a documented code (never 134,
never a traceback).

The helpers are the module's API for more cases:
- `canary` (fixture): files outside the repository holding `canary.secret`;
- `hostile_branch(tmp_path, files, symlinks, ...)`: `main` with the clean `BASE` project,
  then the branch `feature` with the hostile files and links, checked out;
- `run_ci(capsys, root, *args, env=...)` in this process, `run_process(root, *args, env=...)`
  as a separate `dvc-cml` process (whose /proc/self/environ holds the token);
- `gitlab_env(fake)`, `github_env(fake, tmp_path, root)`: a merge-request job's variables;
- `assert_contained(run, canary, *fakes)`.

The reading side comes first (findings 1, 7, 9, 12), then the writing and drawing side
(findings 2-6, 10: the report directory, `--out`, report.html, chart text, file names, the
terminal and the log), then generated names for both.  Where the report directory itself
holds links to the canary, a case checks the canary alone: reading the report would read it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvc_cml.cli import main
from dvc_cml.pipeline import init_project
from dvc_cml.render.termtext import visible
from dvc_cml.report import _slugs
from tests.conftest import FIXTURES, FakeGitHub, FakeGitLab, clean_env, git
from tests.test_browser import ARGS as BROWSER_ARGS
from tests.test_browser import CHROMIUM, _why_no_browser, wait_until_drawn

if TYPE_CHECKING:
    from playwright.sync_api import Page

TOKEN = "glpat-hostile-Q7w8E9r0T1y2U3i4O5p6"  # the job's DVC_CML_TOKEN in every run here
REPO = "octo-org/models"
IMAGE = (FIXTURES / "shapes/get-started/base/eval/plots/images/importance.png").read_bytes()
EXITS = {0, 1, 2, 4, 5}  # docs/usage.md "Exit codes": never 3 (a bug), 134 or a signal

# The clean project on `main`: metrics, params, two plots and an image plot.
BASE: dict[str, str | bytes] = {
    "dvc.yaml": textwrap.dedent(
        """\
        metrics:
          - metrics.json
          - scores.json
        params:
          - params.yaml
          - config.yaml
        plots:
          - loss.csv:
              x: step
              y: loss
          - acc.csv:
              x: step
              y: acc
          - img/conf.png
        """
    ),
    "metrics.json": '{"acc": 0.5, "loss": 0.4}\n',
    "scores.json": '{"f1": 0.7}\n',
    "params.yaml": "lr: 0.1\n",
    "config.yaml": "batch: 32\n",
    "loss.csv": "step,loss\n0,1.0\n1,0.5\n2,0.25\n",
    "acc.csv": "step,acc\n0,0.1\n1,0.5\n2,0.7\n",
    "img/conf.png": IMAGE,
}
# What the clean branch would change, so that a report has something to show.
CHANGED: dict[str, str | bytes] = {
    "scores.json": '{"f1": 0.8}\n',
    "acc.csv": "step,acc\n0,0.2\n1,0.6\n2,0.9\n",
}


# ---------------------------------------------------------------------------- the canary


class Canary:
    """Files outside the repository, each holding `secret`, as a runner's other files would.

    Their bytes and mtimes must not change; their atimes are set to 0 so that a read shows
    (the filesystem updates an atime older than the mtime on the next read, with `relatime`
    as with `strictatime`), where the filesystem records reads at all (`reads_visible`).
    """

    def __init__(self, folder: Path) -> None:
        self.secret = f"CANARY-{uuid.uuid4().hex}"
        self.folder = folder
        s = self.secret
        folder.mkdir(parents=True)
        self.reads_visible = _reads_visible(folder.parent)
        files: dict[str, str | bytes] = {
            "secret.json": json.dumps({s: 1, "stolen": 2}),
            "secret.yaml": f"{s}: 1\nstolen: 2\n",
            "secret.csv": f"step,loss\n{s},1\n0,2\n",
            "secret.png": IMAGE + s.encode(),
            f"dir/{s}.csv": f"step,loss\n{s},1\n",
            "dir/metrics.json": json.dumps({s: 1}),
        }
        for rel, content in files.items():
            self.add(rel, content)

    def add(self, rel: str, content: str | bytes) -> Path:
        """One more file outside (a case's own bait); all of them armed again."""
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        self.paths = sorted(p for p in self.folder.rglob("*"))
        self.before = {p: (p.read_bytes() if p.is_file() else None) for p in self.paths}
        for each in self.paths:
            os.utime(each, ns=(0, each.stat().st_mtime_ns))
        self.mtimes = {p: p.stat().st_mtime_ns for p in self.paths}
        return path

    def path(self, rel: str) -> str:
        return str(self.folder / rel)

    def assert_untouched(self) -> None:
        if self.reads_visible:  # first: looking below reads the files and lists the folders
            read = [p for p in self.paths if p.stat().st_atime_ns != 0]
            assert read == [], "read outside the repository"
        assert sorted(self.folder.rglob("*")) == self.paths, "a file was written outside"
        for path in self.paths:
            if path.is_file():
                assert path.read_bytes() == self.before[path], f"{path} was changed"
            assert path.stat().st_mtime_ns == self.mtimes[path], f"{path} was written"
        for path in self.paths:  # armed again for the next run
            os.utime(path, ns=(0, path.stat().st_mtime_ns))


def _reads_visible(where: Path) -> bool:
    probe = where / f"probe-{uuid.uuid4().hex}"
    probe.write_text("probe")
    os.utime(probe, ns=(0, probe.stat().st_mtime_ns))
    probe.read_text()
    seen = probe.stat().st_atime_ns != 0
    probe.unlink()
    return seen


@pytest.fixture
def canary(tmp_path: Path) -> Canary:
    return Canary(tmp_path / "outside")


# ---------------------------------------------------------------------- the branch and runs


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def hostile_branch(
    tmp_path: Path,
    files: Mapping[str, str | bytes] | None = None,
    symlinks: Mapping[str, str] | None = None,
    *,
    base: Mapping[str, str | bytes] = BASE,
    remove: Iterable[str] = (),
    name: str = "repo",
    remote: Path | None = None,
) -> Path:
    """A git + DVC repository at tmp_path/name: `base` committed on `main`, then on the
    branch `feature` (checked out) `files` written (CHANGED by default), `remove` deleted and
    `symlinks` ({link: target, as written}) made, all committed.

    With a `remote` (a local directory), `main` also has a DVC-cached metrics file,
    `cached/cached.json`, pushed there and then gone from the cache and the workspace, as in a CI
    clone: `--pull` has something to fetch."""
    root = tmp_path / name
    root.mkdir()
    write_files(root, base)
    git(root, "init", "-q")
    init_project(root)
    if remote is not None:
        cached_on_main(root, remote)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    if remote is not None:
        shutil.rmtree(root / ".dvc" / "cache")
        (root / CACHED_PATH).unlink()
    git(root, "checkout", "-q", "-b", "feature")
    write_files(root, CHANGED if files is None else files)
    for rel in remove:
        (root / rel).unlink()
    for link, target in (symlinks or {}).items():
        path = root / link
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    git(root, "add", "-A", "--force", ".", ":!dvc-cml-report")
    git(root, "commit", "-q", "-m", "hostile")
    return root


CACHED = '{"auc": 0.9}\n'
CACHED_PATH = "cached/cached.json"


def cached_on_main(root: Path, remote: Path) -> None:
    """`cached/cached.json`, a metrics file DVC tracks, pushed to `remote` (the default
    remote)."""
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir

    config = root / ".dvc" / "config"
    config.write_text(
        config.read_text() + f"    remote = store\n['remote \"store\"']\n    url = {remote}\n"
    )
    # In a dvc.yaml of its own: a branch that rewrites the root one keeps it.
    write_files(root, {"cached/dvc.yaml": "metrics:\n  - cached.json\n", CACHED_PATH: CACHED})
    with Repo(str(root)) as repo, chdir(root):
        repo.add([CACHED_PATH])
        repo.push()


@dataclass
class Run:
    code: int
    out: str
    err: str
    root: Path  # the repository; the report is in root/dvc-cml-report

    def report_files(self) -> dict[str, bytes]:
        folder = self.root / "dvc-cml-report"
        if not folder.is_dir():
            return {}
        return {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }

    def json(self) -> Any:
        return json.loads(self.out)


def job_env(**extra: str) -> dict[str, str]:
    """A CI job's variables: the token is always there, posting or not."""
    return {"CI": "true", "DVC_CML_TOKEN": TOKEN, **extra}


def run_ci(
    capsys: pytest.CaptureFixture[str], root: Path, *args: str, env: Mapping[str, str] | None = None
) -> Run:
    """`dvc-cml diff main ARGS` in this process, as a job would run it in `root`."""
    argv = ["diff", *(args or ("main",)), "-C", str(root)]
    code = main(argv, env=dict(env if env is not None else job_env()))
    out, err = capsys.readouterr()
    return Run(code, out, err, root)


def run_process(root: Path, *args: str, env: Mapping[str, str] | None = None) -> Run:
    """`dvc-cml diff main ARGS` as its own process, the token in its real environment."""
    done = subprocess.run(
        [sys.executable, "-m", "dvc_cml", "diff", *(args or ("main",))],
        cwd=root,
        env=clean_env(**(env if env is not None else job_env())),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Run(done.returncode, done.stdout, done.stderr, root)


def gitlab_env(fake: FakeGitLab) -> dict[str, str]:
    fake.add_project(42, "grp/proj")
    fake.add_mr(42, 7, sha="a" * 40)
    fake.add_token(TOKEN, username="dvc-bot")
    return job_env(
        GITLAB_CI="true",
        CI_API_V4_URL=fake.api_url,
        CI_SERVER_URL=fake.url,
        CI_PROJECT_ID="42",
        CI_MERGE_REQUEST_PROJECT_ID="42",
        CI_MERGE_REQUEST_IID="7",
        CI_COMMIT_SHA="a" * 40,
        CI_JOB_URL=f"{fake.url}/grp/proj/-/jobs/2002",
    )


def github_env(fake: FakeGitHub, tmp_path: Path, root: Path) -> dict[str, str]:
    fake.add_repo(REPO)
    fake.add_pull(REPO, 7, head_ref="feature", head_sha="a" * 40)
    fake.add_token(TOKEN, app=True)
    event = tmp_path / "event.json"
    base = git(root, "rev-parse", "main").strip()
    event.write_text(
        json.dumps(
            {
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"ref": "feature", "sha": "a" * 40, "repo": {"full_name": REPO}},
                    "base": {"ref": "main", "sha": base, "repo": {"full_name": REPO}},
                },
                "repository": {"full_name": REPO, "default_branch": "main"},
            }
        )
    )
    return job_env(
        GITHUB_ACTIONS="true",
        GITHUB_API_URL=fake.api_url,
        GITHUB_SERVER_URL=fake.url,
        GITHUB_REPOSITORY=REPO,
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_SHA="e" * 40,
        GITHUB_BASE_REF="main",
        GITHUB_RUN_ID="555",
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
    )


def sent(fake: FakeGitLab | FakeGitHub) -> list[bytes]:
    """Everything a fake forge received: paths, bodies, and (GitHub) the blobs decoded."""
    out = [r.path.encode() for r in fake.requests] + list(fake.request_bodies)
    if isinstance(fake, FakeGitHub):
        out += [blob for store in fake.git.values() for blob in store.blobs.values()]
    return out


def assert_contained(
    run: Run,
    canary: Canary,
    *fakes: FakeGitLab | FakeGitHub,
    codes: set[int] = EXITS,
    also: Iterable[str | bytes] = (),
) -> None:
    """The invariants of every hostile case (see the module's docstring)."""
    assert run.code in codes, run.err
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err
    texts: list[bytes] = [run.out.encode(), run.err.encode(), *run.report_files().values()]
    texts += [t.encode() if isinstance(t, str) else t for t in also]
    for fake in fakes:
        texts += sent(fake)
    for secret in (canary.secret, TOKEN):
        leaks = [t[:200] for t in texts if secret.encode() in t]
        assert leaks == [], f"{secret} leaked"
    canary.assert_untouched()


def problems(run: Run) -> list[tuple[str, str, str]]:
    """(path, revision, reason) of the report's "Not read" list (`--json`)."""
    return [(p["path"], p["rev"], p["reason"]) for p in run.json()["problems"]]


def metrics(run: Run) -> dict[tuple[str, str], tuple[Any, Any]]:
    return {(m["path"], m["key"]): (m["base"], m["head"]) for m in run.json()["metrics"]}


def one_line_error(run: Run) -> str:
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("dvc-cml: error: "), run.err
    return lines[0].removeprefix("dvc-cml: error: ")


# ---------------------------------------------------------------------------- finding 1

LINK = "not read: a symlink leading outside the repository"


def outside_links(canary: Canary) -> tuple[dict[str, str | bytes], dict[str, str]]:
    """A branch whose metrics, params, plot data, image, and two folders lead outside: by
    absolute and by relative links, to files and to directories."""
    files = {
        **CHANGED,
        "dvc.yaml": BASE["dvc.yaml"] + "  - curves\n",  # type: ignore[operator]
    }
    files["dvc.yaml"] = str(files["dvc.yaml"]).replace(
        "  - scores.json\n", "  - scores.json\n  - eval/metrics.json\n"
    )
    links = {
        "metrics.json": canary.path("secret.json"),
        "config.yaml": "../outside/secret.yaml",
        "loss.csv": "../outside/secret.csv",
        "img/conf.png": canary.path("secret.png"),
        "eval": "../outside/dir",
        "curves": canary.path("dir"),
    }
    return files, links


# As CI runs it: the GitLab template and the GitHub Action pull by default.
PULLS = pytest.mark.parametrize("pull", [(), ("--pull",)], ids=["", "pull"])


@PULLS
def test_workspace_symlinks_leading_outside_are_listed_and_not_read(
    pull: tuple[str, ...], tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    files, links = outside_links(canary)
    root = hostile_branch(tmp_path, files, links, remote=tmp_path / "remote")
    run = run_ci(capsys, root, "main", "--json", *pull)
    assert_contained(run, canary, codes={0})
    if pull:
        assert "dvc-cml: pulling cached/cached.json\n" in run.err
        assert metrics(run)[(CACHED_PATH, "auc")] == (0.9, 0.9)
    assert sorted(problems(run)) == sorted(
        (path, "workspace", LINK)
        for path in (
            "metrics.json",
            "config.yaml",
            "loss.csv",
            "img/conf.png",
            "eval/metrics.json",
            "curves",
        )
    )
    # The rest of the report is complete.
    found = metrics(run)
    assert found[("scores.json", "f1")] == (0.7, 0.8)
    assert found[("metrics.json", "acc")] == (0.5, None)  # not read at the branch
    plots = {p["name"]: p for p in run.json()["plots"]}
    assert plots["acc.csv"]["changed"] is True
    assert (root / plots["acc.csv"]["png"]).is_file()


@PULLS
def test_an_environment_linked_as_an_image_is_never_uploaded(
    pull: tuple[str, ...], tmp_path: Path, canary: Canary, fake_gitlab: FakeGitLab
) -> None:
    """The critical case: `img/conf.png -> /proc/self/environ` in a job that posts."""
    root = hostile_branch(
        tmp_path,
        {**CHANGED, "img/conf.png": b""},
        {"img/conf.png": "/proc/self/environ", "metrics.json": canary.path("secret.json")},
        remote=tmp_path / "remote",
    )
    run = run_process(root, "main", *pull, env=gitlab_env(fake_gitlab))
    assert run.code == 0, run.err
    [note] = [n for n in fake_gitlab.notes(42, 7) if "dvc-cml:report" in n["body"]]
    assert "| img/conf.png | workspace (" in note["body"]
    assert "not read: a symlink leading outside the repository" in note["body"]
    assert fake_gitlab.count("POST", r"/uploads$") >= 1  # the charts and the base image
    assert not any(b"DVC_CML_TOKEN" in data for data in fake_gitlab.uploads.values())
    assert_contained(run, canary, fake_gitlab, codes={0})


def test_a_hostile_branch_posted_to_github_sends_nothing_from_outside(
    tmp_path: Path, canary: Canary, fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    files, links = outside_links(canary)
    root = hostile_branch(tmp_path, files, links)
    env = github_env(fake_github, tmp_path, root)
    run = run_ci(capsys, root, "main", env=env)
    summary = (tmp_path / "summary.md").read_text()
    assert_contained(run, canary, fake_github, codes={0}, also=[summary])
    [comment] = fake_github.comments(REPO, 7)
    assert "| loss.csv | workspace (" in comment["body"]


@pytest.mark.parametrize("side", ["head", "base"])
@PULLS
def test_symlinks_at_a_commit_are_never_read_as_their_target(
    side: str,
    pull: tuple[str, ...],
    tmp_path: Path,
    canary: Canary,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """HEAD given as a revision, or the links on the base side: DVC would read each link's
    blob, the target's path as text; here it is followed, and refused where it leads out."""
    files, links = outside_links(canary)
    root = hostile_branch(tmp_path, files, links, remote=tmp_path / "remote")
    if side == "head":
        run = run_ci(capsys, root, "main", "feature", "--json", *pull)
    else:
        git(root, "checkout", "-q", "main")
        run = run_ci(capsys, root, "feature", "--json", *pull)
    assert_contained(run, canary, codes={0})
    # Links to files are refused; a directory link at a commit has no files under it.
    assert sorted(problems(run)) == sorted(
        (path, "feature", LINK)
        for path in ("metrics.json", "config.yaml", "loss.csv", "img/conf.png", "eval/metrics.json")
    )
    assert metrics(run)[("scores.json", "f1")] == ((0.7, 0.8) if side == "head" else (0.8, 0.7))


@pytest.mark.parametrize(
    ("link", "extra"),
    [
        ("params.yaml", {}),  # DVC loads it for dvc.yaml's interpolation, always
        ("vars.yaml", {"dvc.yaml": "vars:\n  - vars.yaml\n" + str(BASE["dvc.yaml"])}),
        ("dvc.yaml", {}),
        ("dvc.lock", {"dvc.yaml": "stages:\n  noop:\n    cmd: 'true'\n" + str(BASE["dvc.yaml"])}),
    ],
)
@pytest.mark.parametrize("head", ["workspace", "feature"])
@PULLS
def test_a_link_dvc_cannot_load_the_revision_without_ends_in_one_line(
    link: str,
    extra: dict[str, str],
    head: str,
    pull: tuple[str, ...],
    tmp_path: Path,
    canary: Canary,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = hostile_branch(
        tmp_path, {**CHANGED, **extra}, {link: canary.path("secret.yaml")}, remote=tmp_path / "r"
    )
    run = run_ci(capsys, root, "main", *([head] if head != "workspace" else []), *pull)
    assert_contained(run, canary, codes={1})
    sha = git(root, "rev-parse", "--short=7", "feature").strip()
    why = "not read: a symlink leading outside the repository"
    last = run.err.strip().splitlines()[-1]
    assert last == (
        f"dvc-cml: error: {link} at {head} ({sha}): {why}, and DVC cannot load the revision "
        "without it"
    )
    if pull:  # DVC's index needs the file to know what to pull: nothing is
        assert run.err.strip().splitlines()[:-1] == [f"dvc-cml: not pulling: {link}: {why}"]
    else:
        one_line_error(run)


@pytest.mark.parametrize("swapped", ["eval", "eval/metrics.json"])
def test_a_link_swapped_in_after_the_check_is_not_followed(
    swapped: str, tmp_path: Path, canary: Canary
) -> None:
    """A file checked, then a directory on its path (or the file) replaced by a link to
    the outside before it is opened: what is opened is checked, not only the path."""
    from dvc.fs import LocalFileSystem

    from dvc_cml.collect import guard

    root = tmp_path / "repo"
    write_files(root, {"eval/metrics.json": '{"acc": 1}'})
    target = canary.path("dir") if swapped == "eval" else canary.path("secret.json")

    class Swapping(guard._Workspace):  # the other process, between the check and the open
        def resolve(self, path: str) -> str:
            real = super().resolve(path)
            shutil.rmtree(root / "eval") if swapped == "eval" else (root / swapped).unlink()
            (root / swapped).symlink_to(target)
            return real

    place = Swapping(str(root), lambda: None)
    opening = guard._Guard(place, lambda p: os.path.relpath(p, root)).opening
    with pytest.raises(guard.NotRead) as caught:
        opening(LocalFileSystem().open)(str(root / "eval/metrics.json"), encoding="utf-8")
    assert str(caught.value) == (
        "eval/metrics.json: not read: it changed while it was checked (a symlink swapped in?)"
    )
    canary.assert_untouched()


def test_symlinks_inside_the_repository_keep_working(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In the workspace and at a commit (where DVC itself would read the link's path)."""
    moved = {f"results/{rel}": content for rel, content in {**BASE, **CHANGED}.items()}
    moved.pop("results/dvc.yaml")
    links = {
        "metrics.json": "results/metrics.json",
        "params.yaml": "./results/../results/params.yaml",
        "loss.csv": "results/loss.csv",
        "img": "results/img",  # a directory
        "scores.json": "results/scores.json",
    }
    root = hostile_branch(tmp_path, moved, links)
    for revs in (["main"], ["main", "feature"]):
        run = run_ci(capsys, root, *revs, "--json")
        assert run.code == 0, run.err
        assert problems(run) == []
        assert metrics(run) == {
            ("metrics.json", "acc"): (0.5, 0.5),
            ("metrics.json", "loss"): (0.4, 0.4),
            ("scores.json", "f1"): (0.7, 0.8),
        }
        params = {(p["path"], p["key"]): (p["base"], p["head"]) for p in run.json()["params"]}
        assert params[("params.yaml", "lr")] == (0.1, 0.1)
        plots = {p["name"]: p for p in run.json()["plots"]}
        assert plots["loss.csv"]["changed"] is False  # the same data through the link


@pytest.mark.parametrize("head", ["workspace", "feature"])
@PULLS
def test_a_symlink_loop_is_listed_not_read(
    head: str,
    pull: tuple[str, ...],
    tmp_path: Path,
    canary: Canary,
    capsys: pytest.CaptureFixture[str],
) -> None:
    links = {"loop/a": "b", "loop/b": "a", "metrics.json": "loop/a"}
    root = hostile_branch(tmp_path, None, links, remote=tmp_path / "remote")
    revs = [head] if head != "workspace" else []
    run = run_ci(capsys, root, "main", *revs, "--json", *pull)
    assert_contained(run, canary, codes={0})
    assert problems(run) == [("metrics.json", head, "not read: too many levels of symlinks")]


def test_a_file_larger_than_the_bound_is_listed_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dvc_cml.collect import guard

    monkeypatch.setattr(guard, "MAX_BYTES", 1000)  # 128 MiB, a 2 KB stand-in here
    big = json.dumps({f"k{i}": i for i in range(200)})
    root = hostile_branch(tmp_path, {**CHANGED, "metrics.json": big})
    run = run_ci(capsys, root, "main", "--json")
    assert run.code == 0, run.err
    reason = f"not read: {len(big):,} bytes, more than dvc-cml reads from one file (1,000)"
    assert problems(run) == [("metrics.json", "workspace", reason)]


def test_links_into_a_shared_dvc_cache_keep_working(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cache.type: symlink` with the cache outside the repository: DVC's own links."""
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir

    cache = tmp_path / "shared-cache"
    root = hostile_branch(tmp_path, {}, {}, name="shared")
    git(root, "checkout", "-q", "main")
    config = f"[cache]\n    dir = {cache}\n    type = symlink\n"
    (root / ".dvc" / "config").write_text(config)
    for rev, value in (("main", 0.1), ("feature", 0.2)):
        git(root, "checkout", "-q", rev) if rev == "main" else git(
            root, "checkout", "-q", "-B", rev
        )
        write_files(root, {"scores.json": json.dumps({"f1": value})})
        git(root, "rm", "-q", "--cached", "--ignore-unmatch", "scores.json")
        with Repo(str(root)) as repo, chdir(root):
            repo.add(["scores.json"])
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"scores tracked by DVC: {value}")
    assert (root / "scores.json").is_symlink()
    assert str((root / "scores.json").resolve()).startswith(str(cache))
    run = run_ci(capsys, root, "main", "--json")
    assert run.code == 0, run.err
    assert problems(run) == []
    assert metrics(run)[("scores.json", "f1")] == (0.1, 0.2)


def cached_eval_origin(tmp_path: Path, plot: str, files: dict[str, str | bytes]) -> Path:
    """An origin whose `main` has the folder `eval/` (`files`, `plot` among them and in
    dvc.yaml's plots) as a DVC-cached output pushed to a local remote; `feature` is checked
    out, for the caller to commit its link on."""
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir

    remote = tmp_path / "remote"
    base = {**BASE, "dvc.yaml": str(BASE["dvc.yaml"]) + f"  - {plot}\n"}
    root = hostile_branch(tmp_path, {}, {}, base=base, name="origin")
    git(root, "checkout", "-q", "main")
    config = f"[core]\n    remote = store\n['remote \"store\"']\n    url = {remote}\n"
    (root / ".dvc" / "config").write_text(config)
    write_files(root, files)
    with Repo(str(root)) as repo, chdir(root):
        repo.add(["eval"])
        repo.push()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "eval cached")
    git(root, "checkout", "-q", "-B", "feature")
    shutil.rmtree(root / "eval")
    return root


def ci_clone(tmp_path: Path, origin: Path) -> Path:
    """`feature` of `origin` cloned as CI clones it, with `main` beside it."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "feature", str(origin), str(clone))
    git(clone, "branch", "-q", "main", "origin/main")
    return clone


def test_pull_never_writes_through_a_committed_symlink(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DVC-cached output folder committed as a link to an empty folder outside: `dvc
    pull` would check the output out into it."""
    empty = tmp_path / "outside-empty"
    empty.mkdir()
    root = cached_eval_origin(tmp_path, "eval/plot.csv", {"eval/plot.csv": "step,loss\n0,1\n"})
    (root / "eval").symlink_to(empty)
    git(root, "add", "--force", "eval")
    git(root, "commit", "-q", "-m", "eval leads outside")
    clone = ci_clone(tmp_path, root)
    run = run_ci(capsys, clone, "main", "--pull", "--json")
    assert_contained(run, canary, codes={0})
    assert list(empty.iterdir()) == []
    assert "dvc-cml: not pulling eval: a symlink leading outside the repository" in run.err
    assert ("eval/plot.csv", "workspace", LINK) in problems(run)


def test_pull_never_writes_through_a_symlink_inside_a_directory_output(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same, one level down: `eval/` is the output, and the branch commits the folder
    `eval/sub` inside it as a link to an empty folder outside."""
    empty = tmp_path / "outside-empty"
    empty.mkdir()
    files = {"eval/sub/plot.csv": "step,loss\n0,1\n", "eval/top.csv": "a\n1\n"}
    root = cached_eval_origin(tmp_path, "eval/sub/plot.csv", files)
    (root / "eval").mkdir()
    (root / "eval" / "sub").symlink_to(empty)
    git(root, "add", "--force", "eval/sub")
    git(root, "commit", "-q", "-m", "eval/sub leads outside")
    clone = ci_clone(tmp_path, root)
    assert (clone / "eval" / "sub").is_symlink()
    run = run_ci(capsys, clone, "main", "--pull", "--json")
    assert_contained(run, canary, codes={0})
    assert list(empty.iterdir()) == []
    assert (
        "dvc-cml: not pulling eval: a symlink leading outside the repository: eval/sub"
        in run.err.splitlines()
    )
    assert not (clone / "eval" / "top.csv").exists()  # nothing of that output is pulled
    assert ("eval", "workspace", f"{LINK}: eval/sub") in problems(run)


def test_pull_keeps_links_into_a_shared_dvc_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cache.type: symlink` with the cache outside the repository: a file output that is
    DVC's own link into that cache is pulled like any other."""
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir

    cache, remote = tmp_path / "shared-cache", tmp_path / "remote"
    root = hostile_branch(tmp_path, {}, {}, name="shared")
    config = (
        f"[core]\n    remote = store\n['remote \"store\"']\n    url = {remote}\n"
        f"[cache]\n    dir = {cache}\n    type = symlink\n"
    )
    (root / ".dvc" / "config").write_text(config)
    write_files(root, {"scores.json": json.dumps({"f1": 0.9})})
    git(root, "rm", "-q", "--cached", "scores.json")
    with Repo(str(root)) as repo, chdir(root):
        repo.add(["scores.json"])
        repo.push()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "scores tracked by DVC")
    assert str((root / "scores.json").resolve()).startswith(str(cache))
    run = run_ci(capsys, root, "main", "--pull", "--json")
    assert run.code == 0, run.err
    assert "not pulling" not in run.err
    assert "dvc-cml: pulling scores.json" in run.err.splitlines()
    assert problems(run) == []
    assert metrics(run)[("scores.json", "f1")] == (0.7, 0.9)


def test_python_files_at_the_checkout_s_root_are_never_run(tmp_path: Path, canary: Canary) -> None:
    """A branch commits `dvc_cml/__init__.py`, `pickle.py` and `json.py` at its root, and CI
    runs the installed `dvc-cml` there: no process of dvc-cml's (the pull's worker, started
    fresh, included) imports them.  `python -c` and multiprocessing's spawn put the working
    directory first on sys.path."""
    ran = tmp_path / "ran"
    plant = f"open({str(ran)!r}, 'a').write(__name__ + '\\n')\n"
    planted = {"dvc_cml/__init__.py": plant, "pickle.py": plant, "json.py": plant}
    root = hostile_branch(tmp_path, {**CHANGED, **planted})
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dvc-cml")), "diff", "main", "--pull-all", "--json"],
        cwd=root,
        env=clean_env(**job_env()),
        capture_output=True,
        text=True,
        timeout=300,
    )
    run = Run(done.returncode, done.stdout, done.stderr, root)
    assert not ran.exists(), ran.read_text()
    assert_contained(run, canary, codes={0})
    # The worker's answer came back: our code ran there, not the branch's.
    assert run.err == "dvc-cml: pulling everything\ndvc-cml: pulled: everything was up to date\n"
    assert metrics(run)[("scores.json", "f1")] == (0.7, 0.8)


def test_a_custom_template_outside_the_repository_is_not_read(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    template = canary.add("template.json", f'{{"mark": "rect", "title": "{canary.secret}"}}')
    dvc_yaml = str(BASE["dvc.yaml"]).replace(
        "      y: acc\n", f"      y: acc\n      template: {template}\n"
    )
    root = hostile_branch(tmp_path, {**CHANGED, "dvc.yaml": dvc_yaml})
    run = run_ci(capsys, root, "main", "--json")
    assert_contained(run, canary, codes={0})
    plots = {p["name"]: p for p in run.json()["plots"]}
    assert (
        f"Template `{template}` not read: a path leading outside the repository; drawn as a "
        "line chart." in plots["acc.csv"]["notes"]
    )


# A DVC-tracked metrics file the workspace lacks is read from its object in the DVC cache:
# the object, the cache folder, or a folder on its way committed as a link leading outside.
CACHE_WAYS = {
    "object": ({}, {".dvc/cache/files/md5/{h2}/{h30}": "{outside}/secret.json"}),
    "cache-folder": ({}, {".dvc/cache": "{outside}/store"}),
    # As `cache.type: symlink` links a workspace file to its object.
    "workspace-link": (
        {},
        {".dvc/cache": "{outside}/store", "stolen.json": ".dvc/cache/files/md5/{h2}/{h30}"},
    ),
    "cache-dir-setting": (
        {"config": "[cache]\n    dir = ../store\n"},
        {"store": "{outside}/store"},
    ),
}


@pytest.mark.parametrize("way", CACHE_WAYS.values(), ids=CACHE_WAYS.keys())
@PULLS
def test_a_cache_object_reached_through_a_link_leading_outside_is_not_read(
    way: tuple[dict[str, str], dict[str, str]],
    pull: tuple[str, ...],
    tmp_path: Path,
    canary: Canary,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import hashlib

    content = (canary.folder / "secret.json").read_bytes()
    oid = hashlib.md5(content).hexdigest()
    canary.add(f"store/files/md5/{oid[:2]}/{oid[2:]}", content)
    settings, links = way
    fill = {"outside": str(canary.folder), "h2": oid[:2], "h30": oid[2:]}
    dvc_yaml = str(BASE["dvc.yaml"]).replace(
        "  - scores.json\n", "  - scores.json\n  - stolen.json\n"
    )
    files: dict[str, str | bytes] = {
        **CHANGED,
        "dvc.yaml": dvc_yaml,
        "stolen.json.dvc": f"outs:\n- md5: {oid}\n  size: {len(content)}\n  hash: md5\n"
        "  path: stolen.json\n",
    }
    remote = tmp_path / "remote"
    root = hostile_branch(
        tmp_path,
        files,
        {k.format(**fill): v.format(**fill) for k, v in links.items()},
        remote=remote,
    )
    if extra := settings.get("config"):
        config = root / ".dvc" / "config"
        config.write_text(config.read_text() + extra)
        git(root, "commit", "-q", "-am", "cache elsewhere")
    run = run_ci(capsys, root, "main", "--json", *pull)
    assert_contained(run, canary, codes={0})
    assert ("stolen.json", "workspace", LINK) in problems(run)
    assert metrics(run)[("scores.json", "f1")] == (0.7, 0.8)
    if pull:  # a pull would write through the link, or copy what it leads to
        where = next(k.format(**fill) for k in links)
        assert (
            f"dvc-cml: not pulling: the branch commits symlinks where DVC keeps data ({where});"
            in run.err
        )


DVC_OWN = {
    ".dvc/config": "DVC's config",
    ".dvc/config.local": "DVC's local config",
    ".dvc/tmp": "where DVC writes its state files",
}


@pytest.mark.parametrize("link", DVC_OWN)
@PULLS
def test_dvc_s_own_files_linked_outside_are_refused_in_one_line(
    link: str,
    pull: tuple[str, ...],
    tmp_path: Path,
    canary: Canary,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """DVC reads its config and writes `btime` and its state in .dvc/tmp on opening."""
    target = canary.path("dir") if link == ".dvc/tmp" else canary.path("secret.yaml")
    root = hostile_branch(tmp_path, CHANGED, {link: target})
    run = run_ci(capsys, root, "main", *pull)
    assert_contained(run, canary, codes={1})
    assert one_line_error(run) == (
        f"{link} ({DVC_OWN[link]}) is a symlink leading outside the repository: "
        "the project is not opened"
    )


@pytest.mark.parametrize(
    "config", ["[core\n    {s} = 1\n", "[core]\n    {s} = 1\n", "['remote \"{s}\"']\n"]
)
def test_a_dvc_config_dvc_cannot_load_is_not_quoted(
    config: str, tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = f"quoted-{uuid.uuid4().hex}"
    root = hostile_branch(tmp_path, {**CHANGED, ".dvc/config": config.format(s=marker)})
    run = run_ci(capsys, root, "main")
    assert_contained(run, canary, codes={1})
    assert marker not in run.out + run.err
    assert [name for name, data in run.report_files().items() if marker.encode() in data] == []
    assert one_line_error(run) == (
        "DVC cannot load its config (.dvc/config, .dvc/config.local or a user-level one): "
        "not valid; see `dvc config --list --show-origin`"
    )


DEEP_TEMPLATES = {
    400: "Custom template `deep.json` drawn as the nearest built-in kind: confusion.",
    100_000: "Template `deep.json` could not be read (nested too deep); drawn as a line chart.",
}


@pytest.mark.parametrize("depth", DEEP_TEMPLATES)
def test_a_custom_template_nested_deep_costs_that_template_only(
    depth: int, tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deeper than Python's stack: JSON's parser, and the search for its marks."""
    nested = '{"layer": [' * depth + '{"mark": "rect"}' + "]}" * depth
    dvc_yaml = str(BASE["dvc.yaml"]).replace(
        "      y: acc\n", "      y: acc\n      template: deep.json\n"
    )
    root = hostile_branch(tmp_path, {**CHANGED, "dvc.yaml": dvc_yaml, "deep.json": nested})
    run = run_ci(capsys, root, "main", "--json")
    assert_contained(run, canary, codes={0})
    plots = {p["name"]: p for p in run.json()["plots"]}
    assert plots["acc.csv"]["notes"] == [DEEP_TEMPLATES[depth]]
    assert (root / plots["acc.csv"]["png"]).is_file()
    assert len(plots) == 3


# ---------------------------------------------------------------------------- defence in depth


def token_in_a_metric(tmp_path: Path) -> Path:
    """What a stage that wrote its environment into a metrics file leaves: the token."""
    return hostile_branch(tmp_path, {**CHANGED, "metrics.json": json.dumps({TOKEN: 1, "acc": 0.6})})


def test_a_report_holding_the_token_is_not_posted_to_gitlab(
    tmp_path: Path, canary: Canary, fake_gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    root = token_in_a_metric(tmp_path)
    run = run_ci(capsys, root, "main", "--md", env=gitlab_env(fake_gitlab))
    assert_contained(run, canary, fake_gitlab, codes={4})
    assert fake_gitlab.count() == 0  # nothing sent, not even a read
    assert one_line_error(run).startswith("the report holds the value of the token, so nothing")
    report = (root / "dvc-cml-report" / "report.md").read_text()
    assert "| metrics.json | [masked] |" in report  # on disk, with the token masked
    assert "| metrics.json | acc | 0.5 | 0.6 |" in report


def test_a_report_holding_the_token_is_not_posted_to_github(
    tmp_path: Path, canary: Canary, fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    root = token_in_a_metric(tmp_path)
    env = github_env(fake_github, tmp_path, root)
    run = run_ci(capsys, root, "main", env=env)
    summary = (tmp_path / "summary.md").read_text()
    assert_contained(run, canary, fake_github, codes={4}, also=[summary])
    assert fake_github.count() == 0
    assert "[masked]" in summary
    assert "the report holds the value of the token" in summary


def embedded(page: bytes) -> list[bytes]:
    """The bytes of every base64 `data:` URI in a page (its images, as embedded)."""
    import base64

    return [
        base64.b64decode(m) for m in re.findall(rb"data:[^;,\"]+;base64,([A-Za-z0-9+/=]+)", page)
    ]


def test_the_token_inside_an_image_is_neither_embedded_nor_posted(
    tmp_path: Path, canary: Canary, fake_gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    """report.html embeds images as base64: the token's bytes in one are not its text."""
    root = hostile_branch(tmp_path, {**CHANGED, "img/conf.png": IMAGE + TOKEN.encode()})
    run = run_ci(capsys, root, "main", "--md", env=gitlab_env(fake_gitlab))
    assert_contained(run, canary, fake_gitlab, codes={4})
    assert fake_gitlab.count() == 0
    images = embedded(run.report_files()["report.html"])
    assert len(images) == 2  # the image at both revisions
    assert [i for i in images if TOKEN.encode() in i] == []
    assert [i.endswith(b"[masked]") for i in images] == [False, True]


def test_every_token_of_the_job_keeps_the_report_from_being_posted(
    tmp_path: Path, canary: Canary, fake_gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The job's own token (CI_JOB_TOKEN), not the one posting, in a metric's name."""
    job_token = "job-token-7c1d2e3f4a5b6c7d"
    root = hostile_branch(
        tmp_path, {**CHANGED, "metrics.json": json.dumps({job_token: 1, "acc": 0.6})}
    )
    run = run_ci(
        capsys, root, "main", "--md", env={**gitlab_env(fake_gitlab), "CI_JOB_TOKEN": job_token}
    )
    assert_contained(run, canary, fake_gitlab, codes={4})
    assert fake_gitlab.count() == 0
    assert [b for b in sent(fake_gitlab) if job_token.encode() in b] == []
    texts = [run.out.encode(), run.err.encode(), *run.report_files().values()]
    assert [t for t in texts if job_token.encode() in t] == []
    assert one_line_error(run).startswith("the report holds the value of the token, so nothing")


# ---------------------------------------------------------------------------- finding 7


def test_an_absolute_plot_id_is_named_and_every_other_plot_drawn(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    absolute = canary.path("secret.csv")
    dvc_yaml = str(BASE["dvc.yaml"]) + f"  - {absolute}:\n      x: step\n      y: loss\n"
    root = hostile_branch(tmp_path, {**CHANGED, "dvc.yaml": dvc_yaml})
    run = run_ci(capsys, root, "main", "--json")
    assert_contained(run, canary, codes={0})
    assert problems(run) == [
        (
            "dvc.yaml",
            "workspace",
            f"plot {absolute} not read: DVC says: Can't mix absolute and relative paths",
        )
    ]
    plots = {p["name"]: p for p in run.json()["plots"]}
    assert plots["acc.csv"]["changed"] is True  # the branch's data is drawn
    assert not any(note.startswith("Data only at") for note in plots["acc.csv"]["notes"])
    spec = json.loads((root / plots["acc.csv"]["spec"]).read_text())
    [rows] = spec["datasets"].values()
    assert [(r["revision"].split()[0], r["y"]) for r in rows] == [
        ("main", 0.1), ("main", 0.5), ("main", 0.7),
        ("workspace", 0.2), ("workspace", 0.6), ("workspace", 0.9),
    ]  # fmt: skip


# ---------------------------------------------------------------------------- finding 9

# Collecting alone (no chart workers: vl-convert's engine reserves more address space than
# this) in a process that may not grow past LIMIT: a real bound on what one input costs.
LIMIT = 1536 * 1024 * 1024
BOUNDED = textwrap.dedent(
    """\
    import resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
    from dvc_cml.collect import collect
    from dvc_cml.errors import UserError
    try:
        report = collect(Path(sys.argv[1]), "main", None, {})
    except UserError as exc:
        print("error:", exc)
    else:
        for problem in report.problems:
            print("problem:", problem.path, problem.reason)
        print("metrics:", len(report.metrics), "params:", len(report.params))
    """
)


def collect_bounded(root: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", BOUNDED, str(root), str(LIMIT)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


def alias_bomb(levels: int, width: int = 9, mapping: bool = False) -> str:
    """A few hundred bytes of YAML whose aliases stand for width**levels values."""
    if mapping:
        lines = ["a0: &a0 {" + ", ".join(f"k{i}: 1" for i in range(width)) + "}"]
        for n in range(1, levels):
            items = ", ".join(f"k{i}: *a{n - 1}" for i in range(width))
            lines.append(f"a{n}: &a{n} {{{items}}}")
    else:
        lines = ["a0: &a0 [" + ",".join(['"lol"'] * width) + "]"]
        lines += [
            f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * width) + "]" for n in range(1, levels)
        ]
    return "\n".join(lines) + "\n"


BOMB = alias_bomb(8)  # 9**8 values in 307 bytes: DVC's `vars` expand it (2.8 GB at 484 bytes)
ALIASES = "not read: its YAML aliases stand for more than 100,000 values (an alias bomb?)"


@PULLS
def test_an_alias_bomb_in_params_yaml_ends_in_one_line_within_a_memory_bound(
    pull: tuple[str, ...], tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(BOMB) < 484
    root = hostile_branch(tmp_path, {**CHANGED, "params.yaml": BOMB}, remote=tmp_path / "r")
    sha = git(root, "rev-parse", "--short=7", "HEAD").strip()
    message = (
        f"params.yaml at workspace ({sha}): {ALIASES}, and DVC cannot load the revision without it"
    )
    if not pull:
        assert collect_bounded(root) == [f"error: {message}"]
    run = run_ci(capsys, root, "main", *pull)  # as CI runs it: one line, exit 1
    assert_contained(run, canary, codes={1})
    if pull:
        assert run.err.splitlines() == [
            f"dvc-cml: not pulling: params.yaml: {ALIASES}",
            f"dvc-cml: error: {message}",
        ]
    else:
        assert one_line_error(run) == message


def test_an_alias_bomb_in_a_metrics_file_is_listed_not_read(tmp_path: Path) -> None:
    dvc_yaml = str(BASE["dvc.yaml"]).replace(
        "  - scores.json\n", "  - scores.json\n  - bomb.yaml\n"
    )
    root = hostile_branch(
        tmp_path, {**CHANGED, "dvc.yaml": dvc_yaml, "bomb.yaml": alias_bomb(6, 9, mapping=True)}
    )
    assert collect_bounded(root) == [f"problem: bomb.yaml {ALIASES}", "metrics: 3 params: 2"]


def test_a_yaml_file_of_too_many_nodes_is_listed_not_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No alias, nothing deep: only many keys, which DVC's pure-Python parser builds slowly."""
    big = "".join(f"k{i}: {i}\n" for i in range(60_000))  # 120,001 nodes
    dvc_yaml = str(BASE["dvc.yaml"]).replace("  - scores.json\n", "  - scores.json\n  - big.yaml\n")
    root = hostile_branch(tmp_path, {**CHANGED, "dvc.yaml": dvc_yaml, "big.yaml": big})
    run = run_ci(capsys, root, "main", "--json")
    assert run.code == 0, run.err
    reason = "not read: its YAML holds more than 100,000 keys and values"
    assert problems(run) == [("big.yaml", "workspace", reason)]
    assert metrics(run)[("scores.json", "f1")] == (0.7, 0.8)


def test_a_million_metrics_in_one_file_are_cut_and_said(tmp_path: Path) -> None:
    many = json.dumps({f"m{i}": i for i in range(1_000_000)})
    root = hostile_branch(tmp_path, {**CHANGED, "metrics.json": many})
    assert collect_bounded(root) == [
        "problem: metrics.json partly read: 1,000,000 values, only the first 10,000 kept",
        "metrics: 10003 params: 2",  # m0..m9999, acc and loss (only at main), scores' f1
    ]


def test_a_report_of_many_metrics_stays_small(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = json.dumps({f"m{i}": i for i in range(50_000)})
    root = hostile_branch(tmp_path, {**CHANGED, "metrics.json": many})
    run = run_ci(capsys, root, "main", "--json")
    assert run.code == 0, run.err
    assert len(run.json()["metrics"]) == 10_003
    assert (
        "metrics.json",
        "workspace",
        "partly read: 50,000 values, only the first 10,000 kept",
    ) in problems(run)
    page = root / "dvc-cml-report" / "report.html"
    assert page.stat().st_size < 4_000_000  # 50,000 rows: 9 MB


# ---------------------------------------------------------------------------- finding 12


def test_params_nested_too_deep_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = "a: " + "{a: " * 150 + "1" + "}" * 150 + "\n"
    root = hostile_branch(tmp_path, {**CHANGED, "params.yaml": deep})
    run = run_ci(capsys, root, "main")
    assert run.code == 1, run.err
    sha = git(root, "rev-parse", "--short=7", "HEAD").strip()
    assert one_line_error(run) == (
        f"params.yaml at workspace ({sha}): not read: nested more than 100 levels deep, "
        "and DVC cannot load the revision without it"
    )


def test_metrics_nested_too_deep_are_listed_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = '{"a": ' * 500 + "1" + "}" * 500
    root = hostile_branch(tmp_path, {**CHANGED, "metrics.json": deep})
    run = run_ci(capsys, root, "main", "--json")
    assert run.code == 0, run.err
    assert problems(run) == [
        ("metrics.json", "workspace", "not read: nested more than 100 levels deep")
    ]


def test_a_directory_listing_missing_from_cache_and_remote_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir

    remote = tmp_path / "remote"
    dvc_yaml = str(BASE["dvc.yaml"]).replace("  - scores.json\n", "  - eval/m.json\n")
    base = {**BASE, "dvc.yaml": dvc_yaml}
    root = hostile_branch(tmp_path, {}, {}, base=base, name="origin")
    git(root, "checkout", "-q", "main")
    config = f"[core]\n    remote = store\n['remote \"store\"']\n    url = {remote}\n"
    (root / ".dvc" / "config").write_text(config)
    write_files(root, {"eval/m.json": '{"auc": 0.9}'})
    with Repo(str(root)) as repo, chdir(root):
        repo.add(["eval"])
        repo.push()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "eval cached")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(root), str(clone))
    shutil.rmtree(remote)  # gone, with the listing of eval/ in it
    run = run_ci(capsys, clone, "main", "--json")
    # It costs that file, at both revisions, and says why (not "does not parse").
    assert run.code == 0, run.err
    why = (
        "not read: it is inside eval/, a DVC-tracked directory whose listing is in neither "
        "the local cache nor the DVC remote (was `dvc push` run where it was produced?)"
    )
    assert problems(run) == [("eval/m.json", "main", why), ("eval/m.json", "workspace", why)]


# ---------------------------------------------------------------------------- finding 2
# The report writer never writes, replaces or deletes through a symlink.  The canary's
# files stand for the runner's; a report directory the branch fills is refused before
# anything is written (a folder dvc-cml did not make is not its report).


def snapshot(folder: Path) -> dict[str, tuple[bytes, int] | str]:
    """Every entry below `folder`: a file's bytes and modification time, a link's target."""
    out: dict[str, tuple[bytes, int] | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = f"-> {path.readlink()}"
        elif path.is_file():
            out[rel] = (path.read_bytes(), path.stat().st_mtime_ns)
        else:
            out[rel] = "dir"
    return out


REPORT_LINKS = {
    "report-dir-itself": {"dvc-cml-report": "{outside}"},
    "gitignore": {"dvc-cml-report/.gitignore": "{outside}/secret.yaml"},
    "plots-folder": {"dvc-cml-report/plots": "{outside}/dir"},
    "report-md": {"dvc-cml-report/report.md": "{outside}/secret.json"},
    "relative-link": {"dvc-cml-report/report.html": "../../outside/secret.csv"},
}


@pytest.mark.parametrize("links", REPORT_LINKS.values(), ids=REPORT_LINKS.keys())
def test_a_symlink_in_the_report_dir_is_never_written_through(
    tmp_path: Path, canary: Canary, links: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    outside = str(canary.folder)
    root = hostile_branch(
        tmp_path, symlinks={k: v.format(outside=outside) for k, v in links.items()}
    )
    [link] = links
    before = snapshot(root / "dvc-cml-report") if "/" in link else {}
    run = run_ci(capsys, root, "main")
    canary.assert_untouched()  # the report's own files are links to it: not read here
    assert run.code == 1
    out = root / "dvc-cml-report"
    if link == "dvc-cml-report":
        assert one_line_error(run) == (
            f"cannot write the report to {out}: it is a symlink or not a directory, and "
            "dvc-cml never writes through one"
        )
    else:  # a folder the branch filled is no report of dvc-cml's, and nothing in it changes
        name = link.removeprefix("dvc-cml-report/")
        assert one_line_error(run) == (
            f"{out} is not empty and is not a dvc-cml report ({name}); dvc-cml only writes a "
            "report into a new or empty directory, or over its own earlier report"
        )
        assert snapshot(out) == before


def test_a_fake_manifest_does_not_make_a_symlinked_folder_ours(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    """The branch writes a manifest of dvc-cml's listing plots/loss.png, and `plots` as a
    link to a folder of the runner's: nothing there is deleted or written."""
    canary.add("dir/loss-csv.png", b"\x89PNG the runner's")
    manifest = f"{MANIFEST_HEADER}\nplots/loss-csv.png\nplots/acc-csv.png\nreport.md\n"
    root = hostile_branch(tmp_path, symlinks={"dvc-cml-report/plots": canary.path("dir")})
    (root / "dvc-cml-report" / MANIFEST).write_text(manifest)
    run = run_ci(capsys, root, "main")
    canary.assert_untouched()
    assert run.code == 1
    assert one_line_error(run).endswith(
        "dvc-cml-report/plots is a symlink or not a directory, and dvc-cml never writes through one"
    )


def test_a_git_work_tree_behind_a_committed_link_is_not_trusted(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sub -> <outside>` where `<outside>/deeper` holds a `.git`: looked up through the link,
    `sub/deeper` would be a work tree of its own, trusted, and the report written there."""
    canary.add("deeper/.git/HEAD", "ref: refs/heads/main\n")
    root = hostile_branch(tmp_path, symlinks={"sub": str(canary.folder)})
    run = run_ci(capsys, root, "main", "--out", "sub/deeper/report")
    canary.assert_untouched()
    assert run.code == 1
    assert one_line_error(run) == (
        f"cannot write the report to {root}/sub/deeper/report: {root}/sub is a symlink or not "
        "a directory, and dvc-cml never writes through one"
    )


def test_a_symlink_at_the_metrics_report_is_refused_not_followed(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    root = hostile_branch(tmp_path, symlinks={"metrics.txt": canary.path("secret.yaml")})
    run = run_ci(capsys, root, "main", "--metrics-report", "metrics.txt")
    assert_contained(run, canary, codes={1})
    assert one_line_error(run) == (
        f"{root}/metrics.txt exists and dvc-cml did not write it: not replacing it"
    )
    assert (root / "metrics.txt").readlink() == Path(canary.path("secret.yaml"))


def test_the_metrics_report_replaces_only_a_file_dvc_cml_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--metrics-report` at a file of the user's (in the repository or anywhere else) is
    refused, its bytes kept; a new file is written, and so is one an earlier run wrote."""
    root = hostile_branch(tmp_path)
    mine = tmp_path / "home" / "notes.txt"
    write_files(mine.parent, {mine.name: "dvc_f1 0.8\n# EOF\n"})  # almost OpenMetrics
    for target in (root / "acc.csv", mine):
        before = target.read_bytes()
        run = run_ci(capsys, root, "main", "--md", "--metrics-report", str(target))
        assert run.code == 1
        assert (
            one_line_error(run) == f"{target} exists and dvc-cml did not write it: not replacing it"
        )
        assert target.read_bytes() == before
    written = tmp_path / "job" / "metrics.txt"
    for _ in range(2):  # new, then its own
        run = run_ci(capsys, root, "main", "--md", "--metrics-report", str(written))
        assert (run.code, run.err) == (0, "")
        assert written.read_text() == (
            "# HELP dvc_acc DVC metric acc\n# TYPE dvc_acc gauge\n"
            'dvc_acc{file="metrics.json"} 0.5\n'
            '# HELP dvc_f1 DVC metric f1\n# TYPE dvc_f1 gauge\ndvc_f1{file="scores.json"} 0.8\n'
            "# HELP dvc_loss DVC metric loss\n# TYPE dvc_loss gauge\n"
            'dvc_loss{file="metrics.json"} 0.4\n# EOF\n'
        )
    assert sorted(p.name for p in written.parent.iterdir()) == ["metrics.txt"]  # no temporary


def test_a_symlinked_folder_above_the_metrics_report_is_refused(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    root = hostile_branch(tmp_path, symlinks={"reports": str(canary.folder)})
    run = run_ci(capsys, root, "main", "--md", "--metrics-report", "reports/m.txt")
    assert_contained(run, canary, codes={1})
    assert one_line_error(run) == (
        f"cannot write the metrics report {root}/reports/m.txt: {root}/reports is a symlink or "
        "not a directory, and dvc-cml never writes through one"
    )
    assert (root / "reports").readlink() == canary.folder


def test_the_error_log_is_not_written_through_a_symlink(tmp_path: Path) -> None:
    from dvc_cml.errors import write_log

    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    (tmp_path / ".git").mkdir()  # a repository: the report dir is the branch's to shape
    report = tmp_path / "dvc-cml-report"
    report.mkdir()
    (report / "dvc-cml.log").symlink_to(outside)
    with pytest.raises(OSError):
        write_log(report / "dvc-cml.log", RuntimeError("boom"))
    assert outside.read_text() == "keep\n"


def test_the_job_summary_is_not_appended_through_a_symlink(tmp_path: Path) -> None:
    from dvc_cml.errors import UserError
    from dvc_cml.publish.local import append_summary

    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    summary = tmp_path / "step_summary"
    summary.symlink_to(outside)
    with pytest.raises(UserError, match="cannot write the job summary"):
        append_summary(summary, "## report")
    assert outside.read_text() == "keep\n"
    summary.unlink()
    append_summary(summary, "## report")
    append_summary(summary, "## again\n")
    assert summary.read_text() == "## report\n## again\n"


# ---------------------------------------------------------------------------- finding 3
# --out replaces and removes only what dvc-cml wrote (the manifest).

MANIFEST = ".dvc-cml-manifest"  # its name and first line: a format users' folders carry
MANIFEST_HEADER = "# dvc-cml: the files it wrote here, and the only ones it replaces or removes"


def test_out_at_a_folder_of_the_user_s_files_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = hostile_branch(tmp_path)
    mine = tmp_path / "mine"
    write_files(mine, {".gitignore": "my rules\n", "plots/keep.png": b"\x89PNG mine"})
    before = snapshot(mine)
    for _ in range(2):
        run = run_ci(capsys, root, "main", "--out", str(mine))
        assert run.code == 1
        assert one_line_error(run).startswith(
            f"{mine} is not empty and is not a dvc-cml report (.gitignore, plots); dvc-cml "
            "only writes a report into a new or empty directory, or over its own earlier report"
        )
    assert snapshot(mine) == before


def test_out_at_the_repository_root_touches_no_tracked_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = hostile_branch(tmp_path)
    before = snapshot(root)
    for _ in range(2):
        run = run_ci(capsys, root, "main", "--out", ".")
        assert run.code == 1
        assert one_line_error(run) == (
            f"{root} is not empty and is not a dvc-cml report (.dvc, .dvcignore, .git, …); "
            "dvc-cml only writes a report into a new or empty directory, or over its own "
            "earlier report"
        )
    after = snapshot(root)
    assert {k: v for k, v in after.items() if not k.startswith(".dvc/tmp")} == {
        k: v for k, v in before.items() if not k.startswith(".dvc/tmp")
    }
    assert git(root, "status", "--porcelain") == ""


def test_an_earlier_report_is_replaced_and_the_user_s_files_in_it_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = hostile_branch(tmp_path)
    out = tmp_path / "report"

    def listed() -> list[str]:
        return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())

    assert run_ci(capsys, root, "main", "--out", str(out)).code == 0
    ours = [".dvc-cml-manifest", ".gitignore", "report.html", "report.md"]
    assert listed() == sorted([*ours, "plots/acc-csv.png", "plots/acc-csv.vl.json"])
    write_files(out, {"notes.txt": "mine\n", "plots/keep.png": b"\x89PNG mine"})
    mine = {k: v for k, v in snapshot(out).items() if k in {"notes.txt", "plots/keep.png"}}
    # The plot's data is the same at both revisions now: no chart, the old one goes.
    write_files(root, {"acc.csv": BASE["acc.csv"]})
    run = run_ci(capsys, root, "main", "--out", str(out))
    assert (run.code, run.err) == (0, "")
    assert listed() == sorted([*ours, "notes.txt", "plots/keep.png"])
    assert {k: v for k, v in snapshot(out).items() if k in mine} == mine
    manifest = (out / MANIFEST).read_text().splitlines()
    assert manifest == [MANIFEST_HEADER, ".gitignore", "report.html", "report.md"]


def test_a_report_of_an_older_dvc_cml_without_a_manifest_is_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dvc-cml from before the manifest left report.md, report.html, .gitignore, plots/
    and the GitLab template's metrics.txt: that is a previous report, not a foreign folder.
    Anything more (or a .gitignore of someone else's) and it is not."""
    root = hostile_branch(tmp_path)
    out = tmp_path / "report"
    args = ("main", "--out", str(out), "--metrics-report", str(out / "metrics.txt"))
    assert run_ci(capsys, root, *args).code == 0
    (out / MANIFEST).unlink()  # as an older dvc-cml left it
    metrics = snapshot(out)["metrics.txt"]
    write_files(root, {"acc.csv": BASE["acc.csv"]})  # no chart this time: the old one goes
    run = run_ci(capsys, root, "main", "--out", str(out))
    assert (run.code, run.err) == (0, "")
    assert sorted(snapshot(out)) == [
        MANIFEST,
        ".gitignore",
        "metrics.txt",
        "report.html",
        "report.md",
    ]
    assert snapshot(out)["metrics.txt"] == metrics  # not ours to remove or replace here
    assert (out / MANIFEST).read_text().splitlines() == [
        MANIFEST_HEADER,
        ".gitignore",
        "report.html",
        "report.md",
    ]
    for extra in ({"notes.txt": "mine\n"}, {".gitignore": "*.png\n"}, {"plots/a.txt": "x"}):
        (out / MANIFEST).unlink()
        write_files(out, extra)
        before = snapshot(out)
        run = run_ci(capsys, root, "main", "--out", str(out))
        assert run.code == 1
        assert one_line_error(run).startswith(f"{out} is not empty and is not a dvc-cml report (")
        assert snapshot(out) == before
        for rel in extra:
            (out / rel).unlink()
        write_files(out, {".gitignore": "# written by dvc-cml\n*\n", MANIFEST: MANIFEST_HEADER})


def test_a_file_of_the_user_s_where_a_chart_goes_is_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = hostile_branch(tmp_path)
    out = tmp_path / "report"
    assert run_ci(capsys, root, "main", "--out", str(out)).code == 0
    (out / "plots/acc-csv.png").unlink()
    (out / "plots/acc-csv.png").write_bytes(b"mine")
    manifest = (out / MANIFEST).read_text().replace("plots/acc-csv.png\n", "")
    (out / MANIFEST).write_text(manifest)
    run = run_ci(capsys, root, "main", "--out", str(out))
    assert run.code == 1
    assert one_line_error(run) == (
        f"{out}/plots/acc-csv.png exists and dvc-cml did not write it: not replacing it"
    )
    assert (out / "plots/acc-csv.png").read_bytes() == b"mine"


# ---------------------------------------------------------------------------- finding 4
# report.html runs no script from a name and sends nothing anywhere.

XSS = {
    "plot": "<img src=x onerror=alert('plot')>",
    "field": "</script><script>alert('field')</script>",
    "x": '<svg onload=alert("x")>',
    "category": "<img src=x onerror=alert('category')>",
    "branch": "feat<svg/onload=alert(5)>",
}


@pytest.fixture
def hostile_page(tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]) -> Path:
    plot, x, field = (json.dumps(XSS[key]) for key in ("plot", "x", "field"))  # YAML scalars
    defs = (
        f"  - {plot}:\n      x: step\n      y:\n        loss.csv: loss\n"
        f"  - xss.csv:\n      x: {x}\n      y: {field}\n"
        "  - cat.csv:\n      template: bar_horizontal\n      x: n\n      y: class\n"
    )
    files = {
        **CHANGED,
        "dvc.yaml": f"{BASE['dvc.yaml']!s}{defs}",
        "xss.csv": f"{XSS['x']},{XSS['field']}\n0,0.5\n1,0.4\n",
        "cat.csv": f"class,n\n{XSS['category']},1\nok,2\n",
    }
    root = hostile_branch(tmp_path, files)
    git(root, "branch", XSS["branch"])
    run = run_ci(capsys, root, "main", XSS["branch"])
    assert_contained(run, canary, codes={0})
    return root / "dvc-cml-report" / "report.html"


def test_report_html_allows_no_outside_origin(hostile_page: Path) -> None:
    text = hostile_page.read_text()
    [csp] = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', text)
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert directives["base-uri"] == directives["form-action"] == "'none'"
    sources = directives["script-src"].split()
    assert len(sources) == 2 and all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", s) for s in sources)
    assert not re.search(r"https?:|\*|unsafe-eval|connect-src|wss?:", csp)


@pytest.mark.skipif(bool(_why_no_browser()), reason=_why_no_browser() or "")
def test_every_embed_action_on_a_hostile_page_runs_nothing_and_sends_nothing(
    hostile_page: Path,
) -> None:
    """Chromium opens the page from a hostile branch and clicks every item of every chart's
    menu: no dialog, no popup, no request but the page itself, no script from a name."""
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    requests: list[str] = []
    popups: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        context = browser.new_context(offline=True, accept_downloads=True)

        def watch(page: Page) -> None:
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

        context.on("page", watch)
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.add_init_script(
            "window.violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        context.on("page", lambda opened: popups.append(opened.url))
        page.goto(hostile_page.as_uri())
        wait_until_drawn(page)
        menus = page.locator(".vega-embed details")
        assert menus.count() == 4  # acc.csv and the three hostile plots
        labels = []
        for index in range(menus.count()):
            menu = menus.nth(index)
            actions = menu.locator(".vega-actions a")
            menu.locator("summary").click()
            labels.append(actions.all_inner_texts())
            for number in range(actions.count()):
                if not menu.evaluate("(el) => el.open"):
                    menu.locator("summary").click()
                action = actions.nth(number)
                if action.inner_text().startswith("Save as"):
                    with page.expect_download() as download:
                        action.click()
                    assert download.value.suggested_filename.startswith("visualization.")
                else:  # what vega-embed offered before: a popup, or the Vega Editor
                    action.click()
                    page.wait_for_timeout(500)
        page.wait_for_timeout(500)
        drawn = page.evaluate("() => document.querySelectorAll('.vega-chart canvas').length")
        violations = page.evaluate("() => window.violations")
        injected = page.evaluate("() => document.querySelectorAll('[onerror], [onload]').length")
        context.close()
        browser.close()
    assert labels == [["Save as SVG", "Save as PNG"]] * 4
    assert dialogs == []
    assert popups == []
    assert [url for url in requests if not url.startswith(("data:", "blob:"))] == [
        hostile_page.as_uri()
    ]
    assert drawn == 4
    assert violations == []
    assert injected == 0  # no element from a name: every one was escaped


# ---------------------------------------------------------------------------- finding 5
# Text a chart cannot hold never kills the run.


def test_control_characters_and_backslashes_in_names_are_drawn(
    tmp_path: Path, canary: Canary
) -> None:
    """vl-convert aborts the process on a control character in any chart text, and Vega-Lite
    turns a backslash in a title into one; every chart is drawn all the same."""
    defs = (
        '  - "id\\x01\\x1b[31mred":\n      x: step\n      y:\n        loss.csv: loss\n'
        '  - ctl.csv:\n      x: step\n      y: "lo\\x02ss"\n'
        "  - esc.csv:\n      x: step\n      y: 'a\\x01b'\n"
        "  - cat.csv:\n      template: bar_horizontal\n      x: n\n      y: class\n"
    )
    files = {
        **CHANGED,
        "dvc.yaml": f"{BASE['dvc.yaml']!s}{defs}",
        "ctl.csv": "step,lo\x02ss\n0,0.5\n1,0.4\n",
        "esc.csv": "step,a\\x01b\n0,0.5\n1,0.4\n",
        "cat.csv": "class,n\nok\x0bthen,1\nbad\\x03,2\n",
    }
    root = hostile_branch(tmp_path, files)
    run = run_process(root, "main", "--md")
    assert_contained(run, canary, codes={0})
    assert run.err == ""
    pngs = sorted(p.name for p in (root / "dvc-cml-report" / "plots").glob("*.png"))
    assert pngs == ["acc-csv.png", "cat-csv.png", "ctl-csv.png", "esc-csv.png", "id-31mred.png"]
    assert "could not be rendered" not in run.out


# ---------------------------------------------------------------------------- finding 6
# A 300-character plot id gets a capped file name.


def test_slugs_are_capped_and_stay_unique() -> None:
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    slugs = _slugs([long_a, long_b, "loss", "Loss", "ünïcode/é"])
    assert all(len(slug) <= 64 for slug in slugs)
    assert len(set(slugs)) == 5
    assert slugs[2:4] == ["loss", "loss-2"]
    assert all(re.fullmatch(r"[a-z0-9_-]+", slug) for slug in slugs)
    assert _slugs([long_a]) == slugs[:1]  # the same name, the same file, run after run


def test_slugs_of_ids_that_clean_to_the_same_name_stay_apart() -> None:
    """ "a b" and "a-b" both clean to "a-b", whose "-2" is a third id's own slug; "Loss"
    and "loss" are one file on a case-insensitive file system."""
    ids = ["a b", "a-b", "a-b-2", "Loss", "loss", "LOSS-2", "a/b"]
    assert _slugs(ids) == ["a-b", "a-b-2", "a-b-2-2", "loss", "loss-2", "loss-2-2", "a-b-3"]
    assert _slugs(["a-b-2", "a b", "a-b"]) == ["a-b-2", "a-b", "a-b-3"]


def test_a_300_character_plot_id_is_drawn(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    long_ids = ["p" * 300, "p" * 299 + "q"]
    defs = "".join(f"  - {i}:\n      x: step\n      y:\n        loss.csv: loss\n" for i in long_ids)
    root = hostile_branch(tmp_path, {**CHANGED, "dvc.yaml": f"{BASE['dvc.yaml']!s}{defs}"})
    run = run_ci(capsys, root, "main", "--md")
    assert_contained(run, canary, codes={0})
    pngs = sorted(p.name for p in (root / "dvc-cml-report" / "plots").glob("*.png"))
    assert len(pngs) == 3, pngs  # acc.csv and the two long ids
    assert all(len(name.encode()) <= 80 for name in pngs)
    assert all(f"](plots/{name})" in run.out for name in pngs)


def test_gitlab_upload_names_stay_tame() -> None:
    from dvc_cml.publish.gitlab import upload_name

    for name in _slugs(["a b<c>\x1b[31m" * 30, "../../x", "é"]):
        assert re.fullmatch(r"[A-Za-z0-9._-]+", upload_name(f"plots/{name}.png"))


# ---------------------------------------------------------------------------- finding 10
# Escape codes in names never reach the terminal or the CI log.

ESCAPES = "\x1b[2K\x1b[31mfake\x1b]8;;http://evil.example\x07link\x1b]8;;\x07\r\u202e"
SHOWN = "\\x1b[2K\\x1b[31mfake\\x1b]8;;http://evil.example\\x07link\\x1b]8;;\\x07\\r\\u202e"


def test_visible_writes_every_control_character_as_its_escape() -> None:
    assert visible(ESCAPES) == SHOWN
    assert (
        visible("a\nb\tc\x00\x7f\x9b31m\u200b\ufeff") == "a\\nb\\tc\\x00\\x7f\\x9b31m\\u200b\\ufeff"
    )
    assert visible("plain ünïcode ✅ [link=x] \\x1b") == "plain ünïcode ✅ [link=x] \\x1b"


# Control characters, and the invisible ones that hide or reorder text (zero-width, the
# bidirectional marks, overrides and isolates, line and paragraph separators, the BOM).
EVERY_HIDDEN = [
    *map(chr, range(0x20)),
    *map(chr, range(0x7F, 0xA0)),
    "\u061c",
    *map(chr, range(0x200B, 0x2010)),
    *map(chr, range(0x2028, 0x202F)),
    *map(chr, range(0x2060, 0x2065)),
    *map(chr, range(0x2066, 0x2070)),
    "\ufeff",
]


def test_every_output_hides_the_same_characters() -> None:
    """One list: what the terminal shows as an escape, Markdown (the comment, report.md and
    the page) and a chart show as U+FFFD (a chart: line breaks and tabs as a space)."""
    from dvc_cml.render.charts import chart_text
    from dvc_cml.render.mdtext import code, escape

    markdown = {"\t": " ", "\n": "<br>", "\r": ""}
    for char in EVERY_HIDDEN:
        shown = f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
        assert visible(char) == {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, shown)
        assert escape(f"a{char}b") == "a" + markdown.get(char, "\ufffd") + "b", hex(ord(char))
        assert code(f"a{char}b") in ("`a\ufffdb`", "`a b`"), hex(ord(char))
        spaced = char in "\t\n\r\x0b\x0c\u2028\u2029"
        assert chart_text(f"a{char}b") == ("a b" if spaced else "a\ufffdb"), hex(ord(char))
    for char in ("\ud800", "\udfff", "\ufffe", "\uffff"):  # and what XML cannot hold
        assert chart_text(f"a{char}b") == "a\ufffdb"
    assert [chart_text(t) for t in ("a\\b", "ünï ✅ 👩")] == ["a\u2216b", "ünï ✅ 👩"]


def test_the_terminal_view_and_the_log_show_escape_codes_from_names(
    tmp_path: Path, canary: Canary
) -> None:
    """A branch names a metric, a param value, a plot and a gate with escape codes: the
    terminal view (stdout) and every stderr line show them, none is sent."""
    dvc_yaml = str(BASE["dvc.yaml"]).replace("  - loss.csv:\n", f"  - {json.dumps(ESCAPES)}:\n")
    dvc_yaml = dvc_yaml.replace("      y: loss\n", "      y:\n        loss.csv: loss\n")
    files = {
        **CHANGED,
        "scores.json": json.dumps({"f1": 0.8, f"x{ESCAPES}": 1}) + "\n",
        "config.yaml": f"batch: 32\nnote: {json.dumps(ESCAPES)}\n",
        "dvc.yaml": dvc_yaml,
        ".dvc-cml.yaml": f"fail-on:\n  - {json.dumps('x' + ESCAPES + '<-5')}\n",
    }
    run = run_process(hostile_branch(tmp_path, files), "main")
    assert_contained(run, canary, codes={0})
    for stream in (run.out, run.err):
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", stream), stream
    # The metric's row, the param's row (both cut to fit the table), the plot's title.
    shown = [line for line in run.out.splitlines() if "\\x1b" in line]
    assert len(shown) == 3, run.out
    assert f"  {SHOWN} [line]" in shown
    assert run.err.splitlines() == [
        f"dvc-cml: PASS  x{SHOWN}<-5: x{SHOWN} is a new metric, no base value to compare (head 1)",
        "dvc-cml: 1 of 1 gate passed.",
    ]


def test_an_error_line_shows_escape_codes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from dvc_cml.errors import UserError, error_boundary

    code = [0]
    with error_boundary(tmp_path / "log", code):
        raise UserError(f"cannot read {ESCAPES}.yaml")
    # One line: line breaks are spaces there.
    one_line = SHOWN.replace("\\r", " ")
    assert capsys.readouterr().err == f"dvc-cml: error: cannot read {one_line}.yaml\n"
    assert code == [1]


def test_the_progress_line_shows_names_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spinner's step (on a terminal) is a name, never rich markup or an escape code."""
    import pty

    from dvc_cml.render import terminal

    terminal_fd, stderr_fd = pty.openpty()
    said = b""
    with os.fdopen(stderr_fd, "w", encoding="utf-8") as stderr:
        monkeypatch.setattr(sys, "stderr", stderr)
        with terminal.progress() as step:
            step(f"rendering chart 1/1: [link=http://evil.example]x[/link]{ESCAPES}")
            time.sleep(0.3)
    with contextlib.suppress(OSError):  # EIO once read to the end
        while chunk := os.read(terminal_fd, 65536):
            said += chunk
    os.close(terminal_fd)
    text = said.decode("utf-8", "replace").replace("\r\n", "")  # lines wrapped to fit
    assert "[link=http://evil.example]x[/link]" + SHOWN in text
    assert "\x1b]8;;http" not in text and "\x1b[31m" not in text


def test_markdown_shows_no_control_or_bidi_character_from_a_name() -> None:
    from dvc_cml.render.mdtext import code, escape

    assert escape("a\x1b[31mb\x00\x7f\u202ec\td") == "a\ufffd\\[31mb\ufffd\ufffd\ufffdc d"
    assert code("a\x1b[2Kb\u2066") == "`a\ufffd[2Kb\ufffd`"


# ---------------------------------------------------------------------------- generated

# Names and contents a branch may commit: control characters, terminal escapes, HTML,
# Markdown, quotes, path-like and very long text.
HOSTILE = st.sampled_from(
    [
        *map(chr, range(1, 32)),
        "\x7f", "\u202e", "\u200b", "\x1b[2K", "\x1b[31m", "\x1b]8;;http://x\x07",
        "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&amp;", "|", "`", "*",
        "_", "#", "[x](javascript:alert(1))", "'", '"', "\\", "..", "/", "${x}", "@all",
        "a", "loss", "acc", ".", " ", "é", "😀", "x" * 300,
    ]
)  # fmt: skip
NAMES = st.lists(HOSTILE, min_size=1, max_size=6).map("".join)
VALUES = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    NAMES,
)


def test_generated_names_and_values_are_read_as_written(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reading side of hostile names: every metric and param of the branch is read,
    under its own name and with its own value, and nothing escapes."""
    import yaml

    root = hostile_branch(tmp_path, {}, {})

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        metrics=st.dictionaries(NAMES, VALUES, min_size=1, max_size=8),
        params=st.dictionaries(NAMES, VALUES, min_size=1, max_size=8),
    )
    def check(metrics: dict[str, Any], params: dict[str, Any]) -> None:
        write_files(
            root,
            {
                "scores.json": json.dumps(metrics),
                "config.yaml": yaml.safe_dump(params, allow_unicode=False),
            },
        )
        run = run_ci(capsys, root, "main", "--json")
        assert_contained(run, canary, codes={0})
        doc = run.json()
        found = {r["key"]: r["head"] for r in doc["metrics"] if r["path"] == "scores.json"}
        read = {r["key"]: r["head"] for r in doc["params"] if r["path"] == "config.yaml"}
        assert found == {"f1": None, **metrics}  # f1: at main only
        assert read == {"batch": None, **params}

    check()


# Names for the writing side: where they go out (report.md, the comment, report.html, the
# terminal, the log, file names), drawn per part of a project a branch names.
OUT_TOKENS = [
    "loss", "a.b", "é✅", "\x1b[31m", "\x1b[2K", "\x1b]8;;http://evil.example\x07link\x1b]8;;\x07",
    "\r", "\n", "\t", "\x01", "\x7f", "\x9b", "\u202e", "\ufffe",
    "<script>alert(1)</script>", "</script><script>alert(2)</script>",
    "<img src=x onerror=alert(3)>", "[x](javascript:alert(4))", "|", "*_`~", "@all",
    "/label ~bug", "&amp;", "'", '"', "\\", "\\x02", "x" * 300,
]  # fmt: skip
OUT_NAMES = st.lists(st.sampled_from(OUT_TOKENS), min_size=1, max_size=5).map("".join)
# Branch names git accepts (no control character, space, `~^:?*[\`, `..`, `@{`).
BRANCH_TOKENS = ["feat", "<img/src=x/onerror=alert(5)>", "</script>", "\"'&|", "%1b", "{x}", "=;!"]
BRANCHES = st.lists(st.sampled_from(BRANCH_TOKENS), min_size=1, max_size=4).map("".join)
OUR_TAGS = {"details", "summary", "sub", "br"}  # the HTML report.md and the comment use
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _csv(rows: list[list[object]]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


class _Page(HTMLParser):
    """What report.html holds: its tags, attributes and inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script" and dict(attrs).get("type") != "application/json"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def _check_markdown(text: str) -> None:
    assert not HIDDEN.search(text), text
    tags = {match.lower() for match in re.findall(r"</?([A-Za-z][A-Za-z0-9-]*)", text)}
    assert tags <= OUR_TAGS, tags
    assert not re.search(r"(?<!\\)\]\(javascript:", text)
    assert not re.search(r"@all\b", text)
    assert not re.search(r"^/label", text, re.M)


def _check_page(text: str) -> None:
    import base64
    import hashlib

    page = _Page()
    page.feed(text)
    [csp] = [a["content"] for tag, a in page.tags if tag == "meta" and a.get("http-equiv")]
    assert csp is not None and "http" not in csp and "unsafe" not in csp.split("style-src")[0]
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in page.scripts
    }
    assert hashes == set(re.findall(r"'sha256-[^']+'", csp))
    for tag, attrs in page.tags:
        assert tag not in {"iframe", "object", "embed", "form", "base", "link"}, tag
        if tag == "svg":  # the page's own ✅/❌/⚠️ marks, nothing else
            assert (attrs.get("class") or "").startswith("mark "), attrs
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").strip().lower().startswith("javascript:")
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/")


def test_generated_names_keep_every_output_safe(
    tmp_path: Path, canary: Canary, fake_gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writing side of hostile names: metric, param, value, plot-id, field, category and
    branch names, posted to the fake GitLab.  The run ends with 0 (or 1, in one line, for a
    name DVC itself refuses), never a crash; report.md and the comment hold no markup and no
    control character of a name's; report.html runs no script of one and loads nothing; the
    terminal and the log show no escape code; nothing is written outside the report
    directory, whose file names are tame."""
    import yaml

    root = hostile_branch(tmp_path, {}, {})
    env = gitlab_env(fake_gitlab)

    @settings(
        max_examples=25,  # each example is a commit and a run posting to the fake GitLab
        deadline=None,
        derandomize=True,  # the same examples on every CI run
        suppress_health_check=list(HealthCheck),
    )
    @given(
        metric=OUT_NAMES,
        param=OUT_NAMES,
        value=OUT_NAMES,
        plot=OUT_NAMES,
        field=OUT_NAMES,
        category=OUT_NAMES,
        branch=BRANCHES,
    )
    def check(
        metric: str, param: str, value: str, plot: str, field: str, category: str, branch: str
    ) -> None:
        if metric == "f1" or param == "batch" or field == "step":
            return  # not a new name
        dvc_yaml = yaml.safe_load(str(BASE["dvc.yaml"]))
        dvc_yaml["plots"] += [
            {plot: {"x": "step", "y": {"h.csv": field}}},
            {"cat.csv": {"template": "bar_horizontal", "x": "n", "y": "class"}},
        ]
        git(root, "checkout", "-q", "-B", branch, "main")
        write_files(
            root,
            {
                **CHANGED,
                "dvc.yaml": yaml.safe_dump(dvc_yaml, allow_unicode=True),
                "scores.json": json.dumps({"f1": 0.8, metric: 1.5}),
                "config.yaml": yaml.safe_dump({"batch": 32, param: value}, allow_unicode=True),
                "h.csv": _csv([["step", field], [0, 0.5], [1, 0.25]]),
                "cat.csv": _csv([["class", "n"], [category, 1], ["ok", 2]]),
            },
        )
        git(root, "add", "-A", "--force", ".", ":!dvc-cml-report")
        git(root, "commit", "-q", "-m", "hostile names")
        run = run_ci(capsys, root, "main", branch, env=env)
        git(root, "checkout", "-q", "main")
        notes = [n for n in fake_gitlab.notes(42, 7) if "dvc-cml:report" in n["body"]]
        assert_contained(run, canary, fake_gitlab, codes={0, 1})
        assert not HIDDEN.search(run.out) and not HIDDEN.search(run.err), (run.out, run.err)
        if run.code == 1:  # a name DVC itself refuses: one line, as any problem you can fix
            one_line_error(run)
            return
        report = root / "dvc-cml-report"
        _check_markdown((report / "report.md").read_text())
        _check_markdown(notes[-1]["body"])
        _check_page((report / "report.html").read_text())
        files = [p.relative_to(report).as_posix() for p in report.rglob("*") if p.is_file()]
        assert all(re.fullmatch(r"[A-Za-z0-9._/-]{1,100}", rel) for rel in files), files
        # Nothing written in the repository but the (self-ignoring) report directory and
        # DVC's own .dvc/tmp.
        status = git(root, "status", "--porcelain", "--ignored", "--untracked-files=all")
        written = [line for line in status.splitlines() if not line.startswith("!! .dvc/tmp/")]
        assert written == [f"!! dvc-cml-report/{rel}" for rel in sorted(files)]

    check()
