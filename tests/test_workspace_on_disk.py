"""The workspace is read as the files on disk are, as `dvc diff` and `dvc status` read it;
a commit is read from its .dvc files and dvc.lock only.  And a workspace with uncommitted
changes says so in its name (`workspace (2c932c9 + uncommitted changes)`), as `git
describe --dirty` does.

Project: the `changes` scenario (`dvc add`-ed raw data, a directory output, a model file,
params, `dvc repro`-ed on `main` and on `feature`), checked out at `feature`; each test
changes a copy of it.  Oracles: `dvc diff --json` and `dvc status --json`.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.cli import main
from dvc_cml.model import Report, Revision
from dvc_cml.render import comment, markdown, terminal
from tests.conftest import Project, build_changes, clean_env, git

DVC = str(Path(sys.executable).parent / "dvc")
DIRTY = " + uncommitted changes"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = build_changes(tmp_path_factory.mktemp("changes") / "project")
    assert project.status() == ""
    return project


@pytest.fixture
def project(built: Project, tmp_path: Path) -> Project:
    """A copy of the built project (git history, DVC cache and all), to change."""
    root = tmp_path / "project"
    shutil.copytree(built.root, root, symlinks=True)
    return Project(root, built.scenario)


def report(project: Project, *revs: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "dvc_cml", "diff", *revs, "-C", str(project.root), "--json"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def dvc(project: Project, *args: str) -> Any:
    done = subprocess.run(
        [DVC, *args, "--json"], cwd=project.root, capture_output=True, text=True, env=clean_env()
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


def data_says(doc: dict[str, Any]) -> dict[str, str]:
    return {c["path"]: c["status"] for c in doc["data"]["changed"]}


def dvc_diff_says(project: Project, *revs: str) -> dict[str, str]:
    """`dvc diff --json` (HEAD, or `revs`, against the workspace), outputs as the report
    lists them: files inside a tracked directory counted under it."""
    found = dvc(project, "diff", *revs)
    return {
        entry["path"]: status
        for status in ("added", "deleted", "modified")
        for entry in found.get(status, [])
        if entry["path"].endswith("/") or "/" not in entry["path"].removeprefix("data/")
    }


def assert_data_is_dvc_diff(doc: dict[str, Any], project: Project, *revs: str) -> None:
    """Every changed output, as `dvc diff --json --show-hash` says it: status, the hash
    dvc.lock records and the one on disk, and for a directory how many files inside it
    were added, deleted or modified."""
    found = dvc(project, "diff", "--show-hash", *revs)
    assert data_says(doc) == dvc_diff_says(project, *revs)
    for change in doc["data"]["changed"]:
        path = change["path"]
        (entry,) = [e for e in found[change["status"]] if e["path"] == path]
        hashes = entry["hash"]
        old, new = (
            (hashes.get("old"), hashes.get("new"))
            if isinstance(hashes, dict)
            else ((hashes, None) if change["status"] == "deleted" else (None, hashes))
        )
        assert (
            change["base"] and change["base"]["hash"],
            change["head"] and change["head"]["hash"],
        ) == (old, new), path
        if path.endswith("/"):
            inside = {
                status: n
                for status in ("added", "deleted", "modified")
                if (
                    n := sum(
                        e["path"].startswith(path) and e["path"] != path
                        for e in found.get(status, [])
                    )
                )
            }
            assert change["inside"] == inside, path


def stale_stages(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["stage"]: s for s in doc["pipeline"]["changed"] if s["not_reproduced"]}


def dvc_status_says(project: Project) -> dict[str, dict[str, Any]]:
    """`dvc status --json` for the pipeline's stages (not the .dvc files): {stage: {"deps":
    paths, "params": {(file, name)}, "outs": paths}}."""
    out: dict[str, dict[str, Any]] = {}
    for name, entries in dvc(project, "status").items():
        if name.endswith(".dvc"):
            continue
        found: dict[str, Any] = {"deps": [], "params": set(), "outs": []}
        for entry in entries:
            for path, status in entry.get("changed deps", {}).items():
                if isinstance(status, dict):
                    found["params"] |= {(path, param) for param in status}
                else:
                    found["deps"].append(path)
            found["outs"] += list(entry.get("changed outs", {}))
        out[name] = found
    return out


def tracked_as(name: str, tracked: set[tuple[str, str]]) -> tuple[str, str]:
    """The (file, name) dvc.lock tracks that a param of the report (`train.lr`, or
    `eval.yaml:threshold` for another file) belongs to: itself, or its section (`train`)."""
    file, _, param = name.rpartition(":") if ":" in name else ("params.yaml", "", name)
    (found,) = [
        (f, t) for f, t in tracked if f == file and (param == t or param.startswith(t + "."))
    ]
    return found


def assert_pipeline_is_dvc_status(doc: dict[str, Any], project: Project) -> None:
    ours = stale_stages(doc)
    theirs = dvc_status_says(project)
    assert ours.keys() == theirs.keys()
    for name, stage in ours.items():
        assert sorted(stage["deps"]) == sorted(theirs[name]["deps"]), name
        assert sorted(stage["outs"]) == sorted(theirs[name]["outs"]), name
        # dvc status names a whole params section (`train`); the report each value in it:
        # every value belongs to one section dvc status names, and each section has one.
        tracked = theirs[name]["params"]
        assert {tracked_as(p["name"], tracked) for p in stage["params"]} == tracked, name


def test_a_clean_workspace_is_its_commit(project: Project) -> None:
    doc = report(project, "HEAD")
    assert dvc(project, "diff") == {} and dvc(project, "status") == {}
    assert (doc["data"]["changed"], stale_stages(doc)) == ([], {})
    assert doc["head"]["dirty"] is False
    # The report directory it wrote (ignored by git) does not make the next run dirty.
    assert report(project, "HEAD")["head"]["dirty"] is False


def test_a_model_file_changed_on_disk(project: Project) -> None:
    """`echo x >> model.bin`: `dvc diff` says modified, and so does the report."""
    with (project.root / "model.bin").open("a") as f:
        f.write("x\n")
    doc = report(project, "HEAD")
    assert data_says(doc) == dvc_diff_says(project) == {"model.bin": "modified"}
    assert_data_is_dvc_diff(doc, project)
    (change,) = doc["data"]["changed"]
    assert change["head"]["size"] == (project.root / "model.bin").stat().st_size
    assert change["base"]["size"] == change["head"]["size"] - 2
    assert_pipeline_is_dvc_status(doc, project)
    assert stale_stages(doc)["train"]["outs"] == ["model.bin"]
    assert doc["head"]["dirty"] is True  # git ignores model.bin; the report does not
    assert project.status() == ""


def test_params_edited_without_reproducing(project: Project) -> None:
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.07"))
    doc = report(project, "HEAD")
    lr = next(r for r in doc["params"] if r["param"] == "train.lr")
    assert (lr["base"], lr["head"]) == (0.05, 0.07)
    # The Pipeline section shows the file's params too, and says the stage is not reproduced.
    train = stale_stages(doc)["train"]
    assert train["params"] == [{"name": "train.lr", "base": 0.05, "head": 0.07}]
    assert train["status"] == "changed"
    assert_pipeline_is_dvc_status(doc, project)
    assert doc["data"]["changed"] == []
    md = (project.root / "dvc-cml-report" / "report.md").read_text()
    assert (
        "| train | changed since dvc.lock: not reproduced |  |  | train.lr: 0.05 → 0.07 |  |"
        in md.splitlines()
    )


def test_a_file_added_to_a_tracked_directory(project: Project) -> None:
    (project.root / "data" / "raw" / "extra.csv").write_text("id,text\n99,new\n")
    doc = report(project, "HEAD")
    assert data_says(doc) == dvc_diff_says(project) == {"data/raw/": "modified"}
    assert_data_is_dvc_diff(doc, project)
    (raw,) = doc["data"]["changed"]
    assert raw["inside"] == {"added": 1}
    on_disk = [p for p in (project.root / "data" / "raw").rglob("*") if p.is_file()]
    assert raw["head"]["files"] == len(on_disk) == raw["base"]["files"] + 1
    assert raw["head"]["size"] == sum(p.stat().st_size for p in on_disk)
    assert_pipeline_is_dvc_status(doc, project)
    assert stale_stages(doc)["prepare"]["deps"] == ["data/raw"]


def test_files_changed_and_removed_inside_a_tracked_directory(project: Project) -> None:
    raw = project.root / "data" / "raw"
    with (raw / "part1.txt").open("a") as f:
        f.write("one more line\n")
    (raw / "part2.txt").unlink()
    doc = report(project, "HEAD")
    assert_data_is_dvc_diff(doc, project)
    (change,) = doc["data"]["changed"]
    assert change["inside"] == {"modified": 1, "deleted": 1}
    assert change["head"]["files"] == 2
    assert change["head"]["size"] == sum(p.stat().st_size for p in raw.iterdir())
    assert_pipeline_is_dvc_status(doc, project)


def test_against_another_commit_every_file_is_counted_once(project: Project) -> None:
    """Against `main`, with every output on disk: each change inside a directory is
    counted once (the on-disk comparison and the recorded one are never both made)."""
    (project.root / "data" / "raw" / "extra.csv").write_text("id,text\n99,new\n")
    doc = report(project, "main")
    assert_data_is_dvc_diff(doc, project, "main")
    raw = next(c for c in doc["data"]["changed"] if c["path"] == "data/raw/")
    assert raw["inside"] == {"added": 2, "deleted": 1, "modified": 1}
    assert (raw["base"]["files"], raw["head"]["files"]) == (3, 4)


def test_everything_at_once_and_a_commit_still_reads_dvc_lock(project: Project) -> None:
    before = report(project, "main", "feature")
    with (project.root / "model.bin").open("a") as f:
        f.write("x\n")
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.07"))
    (project.root / "data" / "raw" / "extra.csv").write_text("id,text\n99,new\n")
    doc = report(project, "HEAD")
    assert data_says(doc) == {"model.bin": "modified", "data/raw/": "modified"}
    assert_data_is_dvc_diff(doc, project)
    assert_pipeline_is_dvc_status(doc, project)
    # Two commits: nothing on disk counts.
    after = report(project, "main", "feature")
    assert (after["data"], after["pipeline"]) == (before["data"], before["pipeline"])
    assert after["head"]["dirty"] is False


def test_an_output_not_in_the_workspace_counts_as_dvc_lock_records_it(project: Project) -> None:
    """Not pulled (a CI clone): `dvc diff` calls it deleted, which it is not."""
    (project.root / "model.bin").unlink()
    assert dvc_diff_says(project) == {"model.bin": "deleted"}
    doc = report(project, "HEAD")
    assert (doc["data"]["changed"], stale_stages(doc), doc["head"]["dirty"]) == ([], {}, False)


# --- the dirty workspace's name ---------------------------------------------------------------


def test_uncommitted_changes_are_named_in_every_output(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    sha, main_sha = (git(project.root, "rev-parse", rev).strip() for rev in ("HEAD", "main"))
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.05", "lr: 0.07"))
    code = main(["diff", "main", "-C", str(project.root), "--no-post"], env=clean_env())
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == (
        f"DVC report: main ({main_sha[:7]}) -> workspace ({sha[:7]}{DIRTY})"
    )
    md = (project.root / "dvc-cml-report" / "report.md").read_text()
    assert md.splitlines()[0] == (
        f"## DVC report: **main** (`{main_sha[:7]}`) → **workspace** (`{sha[:7]}`{DIRTY})"
    )
    doc = report(project)
    assert doc["head"] == {"rev": "workspace", "sha": sha, "dirty": True}
    assert doc["base"]["dirty"] is False


def test_the_comment_footer_and_the_terminal_name_it_too() -> None:
    base, head = Revision("main", "1" * 40), Revision("workspace", "2" * 40, dirty=True)
    report = Report(base, head)
    assert comment.footer(report, (None, None), (None, None, None)) == (
        f"<sub>Posted by dvc-cml: main `1111111` → workspace `2222222`{DIRTY}</sub>"
    )
    assert markdown.render(report, []).startswith(
        f"## DVC report: **main** (`1111111`) → **workspace** (`2222222`{DIRTY})"
    )
    stream = io.StringIO()
    terminal.show(report, [], Path("out"), Path("out/report.md"), stream)
    assert stream.getvalue().splitlines()[0] == (
        f"DVC report: main (1111111) -> workspace (2222222{DIRTY})"
    )


@pytest.mark.parametrize(
    ("path", "text", "dirty"),
    [
        ("notes.txt", "a file DVC does not read\n", False),  # untracked, not read
        ("metrics.json", '{"accuracy": 0.5}\n', True),  # tracked by git, changed
        ("sub/dvc.yaml", "plots:\n  - curve.csv\n", True),  # untracked, read by DVC
        ("data/raw/extra.csv", "id,text\n1,x\n", True),  # DVC-tracked: git ignores it
    ],
)
def test_what_counts_as_uncommitted(project: Project, path: str, text: str, dirty: bool) -> None:
    target = project.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    assert report(project)["head"]["dirty"] is dirty


def test_an_output_with_a_link_leading_outside_is_not_hashed(
    project: Project, tmp_path: Path
) -> None:
    """Hashing reads whole files: an output that leads outside the repository (a branch's
    symlink to a device or a file of the machine's) is compared as dvc.lock records it, and
    listed as not read."""
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the report\n")
    (project.root / "data" / "raw" / "evil.csv").symlink_to(secret)
    (project.root / "model.bin").unlink()
    (project.root / "model.bin").symlink_to("/dev/zero")  # would never finish hashing
    doc = report(project, "HEAD")
    assert sorted((p["path"], p["rev"], p["reason"]) for p in doc["problems"]) == [
        (
            "data/raw",
            "workspace",
            "not read: a symlink leading outside the repository: data/raw/evil.csv",
        ),
        ("model.bin", "workspace", "not read: a symlink leading outside the repository"),
    ]
    assert doc["data"]["changed"] == []


# --- dependencies are hashed as DVC hashes them, never through the parsers' bounds ------------


def report_here(project: Project, capsys: pytest.CaptureFixture[str], *revs: str) -> dict[str, Any]:
    """`report`, in this process (so that a test can lower a bound)."""
    args = ["diff", *revs, "-C", str(project.root), "--json", "--no-post"]
    code = main(args, env=clean_env())
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_a_dependency_larger_than_a_parser_may_read_is_still_hashed(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bound on what one file may cost a parser (128 MiB) is not a bound on hashing: a
    dependency over it, changed, is changed, as `dvc status` says."""
    from dvc_cml.collect import guard

    monkeypatch.setattr(guard, "MAX_BYTES", 4000)  # 128 MiB, a 4 kB stand-in here
    steps = project.root / "steps.py"
    with steps.open("a") as f:
        f.write("# changed\n" * 500)
    assert steps.stat().st_size > guard.MAX_BYTES
    doc = report_here(project, capsys, "HEAD")
    assert_pipeline_is_dvc_status(doc, project)
    assert {name: s["deps"] for name, s in stale_stages(doc).items()} == {
        "schema": ["steps.py"],
        "prepare": ["steps.py"],
        "train": ["steps.py"],
    }
    assert doc["problems"] == []


def test_a_dependency_leading_outside_is_listed_not_read(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not hashed (it could be a device that never ends, or a file of the machine's), and
    not taken as unchanged either: listed as not read, once, however many stages use it."""
    outside = tmp_path / "outside.py"
    steps = project.root / "steps.py"
    outside.write_bytes(steps.read_bytes() + b"# changed\n")
    steps.unlink()
    steps.symlink_to(outside)
    doc = report_here(project, capsys, "HEAD")
    assert [(p["path"], p["rev"], p["reason"]) for p in doc["problems"]] == [
        ("steps.py", "workspace", "not read: a symlink leading outside the repository")
    ]
    assert stale_stages(doc) == {}


def test_a_params_file_being_written_does_not_mark_its_stages(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Emptied (`open("w")`) while a run writes it: `dvc status` says every param deleted;
    the report lists the file as not read, its values "not read", and does not say the
    stages' params were removed."""
    (project.root / "params.yaml").write_text("")
    doc = report_here(project, capsys, "HEAD")
    assert [(p["path"], p["rev"], p["reason"]) for p in doc["problems"]] == [
        ("params.yaml", "workspace", "empty (it may still be being written)")
    ]
    assert {r["status"] for r in doc["params"]} == {"not read"}
    assert stale_stages(doc) == {}
    assert set(dvc_status_says(project)) == {"prepare", "train"}  # what DVC would say
