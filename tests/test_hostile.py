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
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvc_cml.cli import main
from dvc_cml.pipeline import init_project
from tests.conftest import FIXTURES, FakeGitHub, FakeGitLab, clean_env, git

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
) -> Path:
    """A git + DVC repository at tmp_path/name: `base` committed on `main`, then on the
    branch `feature` (checked out) `files` written (CHANGED by default), `remove` deleted and
    `symlinks` ({link: target, as written}) made, all committed."""
    root = tmp_path / name
    root.mkdir()
    write_files(root, base)
    git(root, "init", "-q")
    init_project(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
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


def test_workspace_symlinks_leading_outside_are_listed_and_not_read(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    files, links = outside_links(canary)
    root = hostile_branch(tmp_path, files, links)
    run = run_ci(capsys, root, "main", "--json")
    assert_contained(run, canary, codes={0})
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


def test_an_environment_linked_as_an_image_is_never_uploaded(
    tmp_path: Path, canary: Canary, fake_gitlab: FakeGitLab
) -> None:
    """The critical case: `img/conf.png -> /proc/self/environ` in a job that posts."""
    root = hostile_branch(
        tmp_path,
        {**CHANGED, "img/conf.png": b""},
        {"img/conf.png": "/proc/self/environ", "metrics.json": canary.path("secret.json")},
    )
    run = run_process(root, "main", env=gitlab_env(fake_gitlab))
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
def test_symlinks_at_a_commit_are_never_read_as_their_target(
    side: str, tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    """HEAD given as a revision, or the links on the base side: DVC would read each link's
    blob, the target's path as text; here it is followed, and refused where it leads out."""
    files, links = outside_links(canary)
    root = hostile_branch(tmp_path, files, links)
    if side == "head":
        run = run_ci(capsys, root, "main", "feature", "--json")
    else:
        git(root, "checkout", "-q", "main")
        run = run_ci(capsys, root, "feature", "--json")
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
def test_a_link_dvc_cannot_load_the_revision_without_ends_in_one_line(
    link: str,
    extra: dict[str, str],
    head: str,
    tmp_path: Path,
    canary: Canary,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = hostile_branch(tmp_path, {**CHANGED, **extra}, {link: canary.path("secret.yaml")})
    run = run_ci(capsys, root, "main", *([head] if head != "workspace" else []))
    assert_contained(run, canary, codes={1})
    sha = git(root, "rev-parse", "--short=7", "feature").strip()
    assert one_line_error(run) == (
        f"{link} at {head} ({sha}): not read: a symlink leading outside the repository, "
        "and DVC cannot load the revision without it"
    )


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
def test_a_symlink_loop_is_listed_not_read(
    head: str, tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    links = {"loop/a": "b", "loop/b": "a", "metrics.json": "loop/a"}
    root = hostile_branch(tmp_path, None, links)
    run = run_ci(capsys, root, "main", *([head] if head != "workspace" else []), "--json")
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


def test_pull_never_writes_through_a_committed_symlink(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    """A DVC-cached output folder committed as a link to an empty folder outside: `dvc
    pull` would check the output out into it."""
    from dvc.repo import Repo

    from dvc_cml.collect.project import chdir

    remote = tmp_path / "remote"
    empty = tmp_path / "outside-empty"
    empty.mkdir()
    base = {**BASE, "dvc.yaml": str(BASE["dvc.yaml"]) + "  - eval/plot.csv\n"}
    root = hostile_branch(tmp_path, {}, {}, base=base, name="origin")
    git(root, "checkout", "-q", "main")
    config = f"[core]\n    remote = store\n['remote \"store\"']\n    url = {remote}\n"
    (root / ".dvc" / "config").write_text(config)
    write_files(root, {"eval/plot.csv": "step,loss\n0,1\n"})
    with Repo(str(root)) as repo, chdir(root):
        repo.add(["eval"])
        repo.push()
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "eval cached")
    git(root, "checkout", "-q", "-B", "feature")
    shutil.rmtree(root / "eval")
    (root / "eval").symlink_to(empty)
    git(root, "add", "--force", "eval")
    git(root, "commit", "-q", "-m", "eval leads outside")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "feature", str(root), str(clone))
    git(clone, "branch", "-q", "main", "origin/main")
    run = run_ci(capsys, clone, "main", "--pull", "--json")
    assert_contained(run, canary, codes={0})
    assert list(empty.iterdir()) == []
    assert "dvc-cml: not pulling eval: a symlink leading outside the repository" in run.err
    assert ("eval/plot.csv", "workspace", LINK) in problems(run)


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


def test_an_alias_bomb_in_params_yaml_ends_in_one_line_within_a_memory_bound(
    tmp_path: Path, canary: Canary, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(BOMB) < 484
    root = hostile_branch(tmp_path, {**CHANGED, "params.yaml": BOMB})
    sha = git(root, "rev-parse", "--short=7", "HEAD").strip()
    message = (
        f"params.yaml at workspace ({sha}): {ALIASES}, and DVC cannot load the revision without it"
    )
    assert collect_bounded(root) == [f"error: {message}"]
    run = run_ci(capsys, root, "main")  # as CI runs it: one line, exit 1
    assert_contained(run, canary, codes={1})
    assert one_line_error(run) == message


def test_an_alias_bomb_in_a_metrics_file_is_listed_not_read(tmp_path: Path) -> None:
    dvc_yaml = str(BASE["dvc.yaml"]).replace(
        "  - scores.json\n", "  - scores.json\n  - bomb.yaml\n"
    )
    root = hostile_branch(
        tmp_path, {**CHANGED, "dvc.yaml": dvc_yaml, "bomb.yaml": alias_bomb(6, 9, mapping=True)}
    )
    assert collect_bounded(root) == [f"problem: bomb.yaml {ALIASES}", "metrics: 3 params: 2"]


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
