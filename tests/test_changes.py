"""The verdict line, the Data section and the Pipeline section, on a real repository.

Ground truth: DVC's own `dvc diff --json` and the dvc.lock / .dvc files at both revisions.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvc_cml.cli import main
from dvc_cml.pipeline import init_project, reproduce
from tests.conftest import Project, build_changes, git

DVC = str(Path(sys.executable).parent / "dvc")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """`changes`: main = baseline, feature = new raw data, lr, a command, stages."""
    return build_changes(tmp_path_factory.mktemp("changes") / "project")


def report_json(project: Project, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "dvc_cml", "diff", *args, "-C", str(project.root), "--json"],
        capture_output=True,
        text=True,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": "/tmp"},
        check=True,
    ).stdout
    doc: dict[str, Any] = json.loads(out)
    return doc


def dvc_diff(project: Project, *revs: str) -> dict[str, list[dict[str, Any]]]:
    done = subprocess.run(
        [DVC, "diff", "--json", *revs], cwd=project.root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[dict[str, Any]]] = json.loads(done.stdout or "{}")
    return result


def at(project: Project, rev: str, path: str) -> Any:
    return yaml.safe_load(git(project.root, "show", f"{rev}:{path}"))


def tracked_sizes(project: Project, rev: str) -> dict[str, tuple[int, int | None]]:
    """{path: (size, nfiles)} of every DVC-cached output, read from .dvc files and dvc.lock
    (outputs with `cache: false` in dvc.yaml are git's, not DVC's)."""
    sizes: dict[str, tuple[int, int | None]] = {}
    for dvcfile in ("data/raw.dvc", "data/labels.csv.dvc"):
        (out,) = at(project, rev, dvcfile)["outs"]
        path = f"data/{out['path']}" + ("/" if "nfiles" in out else "")
        sizes[path] = (out["size"], out.get("nfiles"))
    in_git = {
        next(iter(out))
        for stage in at(project, rev, "dvc.yaml")["stages"].values()
        for key in ("outs", "metrics")
        for out in stage.get(key, [])
        if isinstance(out, dict) and next(iter(out.values())).get("cache") is False
    }
    stages = at(project, rev, "dvc.yaml")["stages"]
    for name, stage in at(project, rev, "dvc.lock")["stages"].items():
        if name not in stages:
            continue  # DVC leaves a removed stage's entry behind
        for out in stage.get("outs", []):
            if out["path"] not in in_git:
                path = out["path"] + ("/" if "nfiles" in out else "")
                sizes[path] = (out["size"], out.get("nfiles"))
    return sizes


@pytest.mark.parametrize("head", ["feature", "workspace"])
def test_data_section_matches_dvc_diff_and_the_lock_files(project: Project, head: str) -> None:
    """`feature`, and the workspace (feature checked out, clean): read from the files on
    disk, with the same counts inside each directory."""
    revs = ("main", "feature") if head == "feature" else ("main",)
    doc = report_json(project, *revs)
    assert doc["head"]["rev"] == head
    ours = {c["path"]: c for c in doc["data"]["changed"]}
    oracle = dvc_diff(project, *revs)

    # Every output DVC reports is ours with the same status; files inside a tracked
    # directory are counted under it, status by status.
    dirs = [p for p in ours if p.endswith("/")]
    inside: dict[str, dict[str, int]] = {}
    for status in ("added", "deleted", "modified"):
        for entry in oracle[status]:
            path = entry["path"]
            holder = next((d for d in dirs if path.startswith(d) and path != d), None)
            if holder:
                inside.setdefault(holder, {}).setdefault(status, 0)
                inside[holder][status] += 1
            else:
                assert ours[path]["status"] == status, path
    assert inside == {
        "data/raw/": {"added": 1, "deleted": 1, "modified": 1},
        "data/prepared/": {"modified": 2},
    }
    assert {d: ours[d]["inside"] for d in dirs} == inside
    assert set(ours) == {"data/raw/", "data/labels.csv", "data/prepared/", "model.bin"}

    # Sizes and file counts before and after, as the .dvc files and dvc.lock record them.
    base, head = tracked_sizes(project, "main"), tracked_sizes(project, "feature")
    for path, change in ours.items():
        assert (change["base"]["size"], change["base"]["files"]) == base[path]
        assert (change["head"]["size"], change["head"]["files"]) == head[path]
    assert doc["data"]["tracked"] == len(base.keys() | head.keys()) == 4


def test_pipeline_section_matches_the_lock_files(project: Project) -> None:
    doc = report_json(project, "main", "feature")
    stages = {s["stage"]: s for s in doc["pipeline"]["changed"]}
    # The stages of dvc.yaml, with their dvc.lock entries (DVC leaves a removed stage's
    # entry behind in dvc.lock: it is not a stage any more).
    old, new = (
        {
            name: entry
            for name, entry in at(project, rev, "dvc.lock")["stages"].items()
            if name in at(project, rev, "dvc.yaml")["stages"]
        }
        for rev in ("main", "feature")
    )

    assert {n for n, s in stages.items() if s["status"] == "added"} == new.keys() - old.keys()
    assert {n for n, s in stages.items() if s["status"] == "removed"} == old.keys() - new.keys()
    assert stages["evaluate"]["status"] == "added" and stages["report"]["status"] == "removed"
    unchanged = {n for n in old.keys() & new.keys() if old[n] == new[n]}
    assert unchanged == {"schema"}
    assert doc["pipeline"]["unchanged"] == 1

    train = stages["train"]
    assert train["command_changed"] is (old["train"]["cmd"] != new["train"]["cmd"]) is True
    assert train["params"] == [{"name": "train.lr", "base": 0.1, "head": 0.05}]
    assert train["deps"] == ["data/prepared"]  # steps.py did not change
    assert train["outs"] == ["metrics.json", "model.bin"]
    prepare = stages["prepare"]
    assert (prepare["command_changed"], prepare["params"]) == (False, [])
    assert (prepare["deps"], prepare["outs"]) == (["data/raw"], ["data/prepared"])


def test_verdict_line_counts_what_the_tables_show(project: Project) -> None:
    code = main(["diff", "main", "feature", "-C", str(project.root), "--no-post"], env={})
    assert code == 0
    text = (project.root / "dvc-cml-report" / "report.md").read_text()
    verdict = text.split("\n")[2]

    def rows(section: str) -> list[list[str]]:
        body = text.split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
        lines = [line for line in body.splitlines() if line.startswith("| ")]
        return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]

    metrics = rows("Metrics")
    better = sum("✅" in row[4] for row in metrics)
    worse = sum("❌" in row[4] for row in metrics)
    data = rows("Data")
    dirs = sum(row[0].endswith("/") for row in data)
    stages = rows("Pipeline")
    total = len(stages) + int(re.search(r"(\d+) of \d+ stages in dvc.lock unchanged", text)[1])
    expected = (
        f"**{better + worse} metric {'better' if better else 'worse'} · 1 param changed · "
        f"data: {dirs} directories and {len(data) - dirs} files changed · "
        f"pipeline: {len(stages)} of {total} stages changed**"
    )
    assert (better, worse, dirs, len(data) - dirs, len(stages)) == (0, 1, 2, 2, 4)
    assert verdict == expected


def test_the_workspace_and_the_terminal_view(project: Project) -> None:
    """HEAD = the workspace (the default): the same sections, on the terminal too."""
    done = subprocess.run(
        [sys.executable, "-m", "dvc_cml", "diff", "main", "-C", str(project.root)],
        capture_output=True,
        text=True,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert done.returncode == 0, done.stderr
    lines = [line.rstrip() for line in done.stdout.splitlines()]
    assert lines[1] == (
        "1 metric worse · 1 param changed · data: 2 directories and 2 files changed · "
        "pipeline: 4 of 5 stages changed"
    )
    assert "Pipeline (4 of 5 stages changed)" in lines
    assert "Data (4 of 4 DVC-tracked outputs changed)" in lines
    raw = next(line for line in lines if line.startswith("| data/raw/ "))
    (base_size, base_files), (head_size, head_files) = (
        tracked_sizes(project, rev)["data/raw/"] for rev in ("main", "feature")
    )
    assert f"| {base_files} files, {base_size} B | {head_files} files, {head_size} B |" in raw
    assert project.status() == ""


def test_no_data_is_downloaded_for_the_data_section(project: Project, tmp_path: Path) -> None:
    """A fresh clone with no DVC cache and no DVC remote still says what changed, from the
    .dvc files and dvc.lock alone."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "feature", f"file://{project.root}", str(clone))
    git(clone, "branch", "main", "origin/main")
    changed = {
        c["path"]: c
        for c in report_json(Project(clone, project.scenario), "main")["data"]["changed"]
    }

    # Without the directory listings in a cache DVC cannot look inside; the sizes are known.
    raw = changed["data/raw/"]
    assert (raw["status"], raw["inside"]) == ("modified", {})
    base, head = tracked_sizes(project, "main"), tracked_sizes(project, "feature")
    assert (raw["base"]["size"], raw["base"]["files"]) == base["data/raw/"]
    assert (raw["head"]["size"], raw["head"]["files"]) == head["data/raw/"]
    cache = clone / ".dvc" / "cache"
    assert not cache.exists() or not [p for p in cache.rglob("*") if p.is_file()]


def test_dvc_lock_values_are_read_as_dvc_reads_them(tmp_path: Path) -> None:
    """dvc.lock is YAML 1.2 to DVC (ruamel.yaml): `no` is a string there, `1e3` a number,
    `017` is 17.  A stage's params changed exactly where `dvc params diff` says so."""
    root = tmp_path / "lock"
    root.mkdir()
    git(root, "init", "-q")
    init_project(root)
    dvc_yaml = (
        "stages:\n  train:\n    cmd: echo done > out.txt\n"
        "    params:\n      - flag\n      - big\n      - mode\n    outs:\n      - out.txt\n"
    )
    (root / "dvc.yaml").write_text(dvc_yaml)
    for params, rev in (
        ("flag: no\nbig: 1e3\nmode: 017\n", "main"),
        ("flag: false\nbig: 1000.0\nmode: 17\n", "feature"),
    ):
        if rev == "feature":
            git(root, "checkout", "-q", "-b", "feature")
        (root / "params.yaml").write_text(params)
        reproduce(root, say=lambda _: None)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", rev)
    done = subprocess.run(
        [DVC, "params", "diff", "--json", "main"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(done.stdout)["params.yaml"]
    assert theirs == {"flag": {"old": "no", "new": False}}
    ours = report_json(Project(root, root), "main")["pipeline"]["changed"]
    assert [(s["stage"], s["params"]) for s in ours] == [
        ("train", [{"name": "flag", "base": "no", "head": False}])
    ]


SCALARS = "no yes on off y n True FALSE 1e3 1.5E3 -1e-3 +.5 1_000 0x1F 0o17 017 0b101 .inf -.Inf"
SCALARS += " .nan null ~ 2024-01-02 2024-01-02T10:00:00Z 12:30 1:00:00 007 09.5 _1 '1' \"no\""


@pytest.mark.parametrize("scalar", SCALARS.split())
def test_dvc_lock_scalars_parse_as_dvc_parses_them(scalar: str) -> None:
    import math

    from dvc.utils.serialize import parse_yaml

    from dvc_cml.collect import yaml12

    ours, theirs = yaml12.load(f"k: {scalar}\n")["k"], parse_yaml(f"k: {scalar}\n", "dvc.lock")["k"]
    assert type(ours) is type(theirs)
    assert ours == theirs or (isinstance(ours, float) and math.isnan(ours) and math.isnan(theirs))
