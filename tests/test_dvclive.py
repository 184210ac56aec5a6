"""Projects whose files dvclive itself writes (fixtures/dvclive-train/train.py: an sklearn
model, per-epoch `log_metric`, `log_param`, `log_sklearn_plot` roc / precision_recall /
det / calibration / confusion_matrix, `log_image`), in dvclive's default layout and the
nested one, against DVC's CLI; and the same project mid-training: files truncated where a
reader meets them half-written, and a run racing a writer that rewrites them as dvclive
does.  A half-written file costs that file only: never exit 1 or 3, never a traceback, and
the rest of the report is a clean run's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.cli import main
from tests.conftest import clean_env, git
from tests.shapes import Built, build_dvclive, dvc_cli, shallow_clone
from tests.test_shapes import chart_rows, check_all, run_diff

LAYOUTS = ["default", "nested"]
LIVE = "dvclive"


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    return {}


def project(layout: str, cache: dict[str, Built], factory: pytest.TempPathFactory) -> Built:
    if layout not in cache:
        cache[layout] = build_dvclive(layout, factory.mktemp(f"dvclive-{layout}"))
    return cache[layout]


def test_dvclive_wrote_the_fixture(
    projects: dict[str, Built], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The files are dvclive's own: its layout, its TSV columns, its sklearn plot shapes."""
    built = project("default", projects, tmp_path_factory)
    live = built.root / LIVE
    assert sorted(p.relative_to(live).as_posix() for p in live.rglob("*") if p.is_file()) == [
        "metrics.json",
        "params.yaml",
        "plots/.gitignore",
        "plots/images.dvc",
        "plots/images/importance.png",
        "plots/metrics/eval/acc.tsv",
        "plots/metrics/eval/loss.tsv",
        "plots/metrics/train/loss.tsv",
        "plots/sklearn/calibration.json",
        "plots/sklearn/confusion_matrix.json",
        "plots/sklearn/det.json",
        "plots/sklearn/precision_recall.json",
        "plots/sklearn/roc.json",
    ]
    acc = (live / "plots/metrics/eval/acc.tsv").read_text().splitlines()
    assert acc[0] == "step\tacc" and len(acc) == 13  # header + 12 epochs
    assert json.loads((live / "metrics.json").read_text())["step"] == 11
    assert set(json.loads((live / "plots/sklearn/roc.json").read_text())) == {"roc"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_full_repository(
    layout: str,
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built = project(layout, projects, tmp_path_factory)
    doc, _ = run_diff(capsys, "-C", str(built.root))
    check_all(doc, built, built.root / "dvc-cml-report")
    # Each plot id once, as DVC lists them: 8 data plots and 1 image in the default layout;
    # in the nested one each data plot twice (qualified by its dvc.yaml), the image once.
    names = [p["name"] for p in doc["plots"]]
    assert sorted(names) == sorted(built.oracle.plots)
    assert len(names) == {"default": 9, "nested": 17}[layout]
    image = f"{LIVE}/plots/images/importance.png"
    assert names.count(image) == 1
    report = (built.root / "dvc-cml-report" / "report.md").read_text()
    # The image, at each revision, drawn once.
    assert (report.count(".base.png)"), report.count(".head.png)")) == (1, 1)
    assert doc["head"]["dirty"] is False
    assert git(built.root, "status", "--porcelain") == ""


@pytest.mark.parametrize("layout", LAYOUTS)
def test_shallow_clone_with_pull(
    layout: str,
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built = project(layout, projects, tmp_path_factory)
    clone = shallow_clone(built, tmp_path / "clone")
    assert not (clone / LIVE / "plots" / "images").exists()  # cached by dvclive, not in git
    doc, _ = run_diff(capsys, "--pull", "-C", str(clone))
    check_all(doc, built, clone / "dvc-cml-report")
    assert len(doc["plots"]) == len(built.oracle.plots)
    assert doc["problems"] == [] and doc["head"]["dirty"] is False
    assert git(clone, "status", "--porcelain") == ""


# --- mid-training ---------------------------------------------------------------------------


def copy_of(built: Built, dest: Path) -> Path:
    """The project with its git history and DVC cache, to cut its files."""
    shutil.copytree(built.root, dest, symlinks=True)
    return dest


def diff_json(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> dict[str, Any]:
    """`dvc-cml diff main --json`, with each chart's data read at once (the next run
    rewrites the report directory) under the key "charts"."""
    doc, _ = run_diff(capsys, "-C", str(root), *args)
    doc["charts"] = {plot["name"]: _chart_data(plot) for plot in doc["plots"]}
    return doc


def without(rows: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [row for row in rows if row["path"] != path]


def _chart_data(plot: dict[str, Any]) -> list[Any]:
    """A plot's chart rows (the workspace's label as a clean run writes it), or images."""
    if plot["kind"] == "image":
        return [{rev: Path(path).read_bytes()} for rev, path in sorted(plot["images"].items())]
    text = Path(plot["spec"]).read_text().replace(" + uncommitted changes", "")
    return sorted(chart_rows(json.loads(text)), key=lambda r: json.dumps(r, sort_keys=True))


def chart_data(doc: dict[str, Any], name: str) -> list[Any]:
    data: list[Any] = doc["charts"][name]
    return data


def assert_rest_is_clean(doc: dict[str, Any], clean: dict[str, Any], cut: set[str]) -> None:
    """Everything that does not come from the files in `cut` is as in the clean run."""
    for section in ("metrics", "params"):
        rows = doc[section]
        for path in cut:
            rows = without(rows, path)
        expected = clean[section]
        for path in cut:
            expected = without(expected, path)
        assert rows == expected, section
    assert [p["name"] for p in doc["plots"]] == [p["name"] for p in clean["plots"]]
    for plot in clean["plots"]:
        if plot["name"] not in cut:
            assert chart_data(doc, plot["name"]) == chart_data(clean, plot["name"]), plot["name"]
    assert {p["path"] for p in doc["problems"]} <= cut
    assert (doc["data"], doc["pipeline"]) == (clean["data"], clean["pipeline"])


WRITING = " (it may still be being written)"


def values(rows: list[dict[str, Any]], path: str) -> dict[str, tuple[Any, Any, str]]:
    """{name: (base, head, status)} of one file's metrics or params rows."""
    return {r["key"]: (r["base"], r["head"], r["status"]) for r in rows if r["path"] == path}


def cut_in_value(ours: Any, theirs: Any) -> bool:
    """`0.80` of `0.808333`, `1` of `12`: a value cut short, which no reader can tell."""
    return str(ours).rstrip("0").rstrip(".") in str(theirs)


def assert_cut_file_reported(
    doc: dict[str, Any], clean: dict[str, Any], path: str, text: bytes | None
) -> None:
    """The half-written file itself (`text`, when the test knows what the run read): a JSON
    file is read whole, or listed as not read with its values "not read" (every one of
    them, with its base value); an empty one says so.  A YAML file cut between its lines
    reads as fewer values (YAML cannot tell), each the clean run's.  A TSV keeps its
    complete rows (a prefix of the clean run's); one with none is listed as empty."""
    problems = [
        (p["path"], p["rev"], p["sha"], p["reason"]) for p in doc["problems"] if p["path"] == path
    ]
    here = (path, "workspace", doc["head"]["sha"])
    section = "params" if path.endswith(".yaml") else "metrics"
    before = values(clean[section], path)
    if path.endswith((".json", ".yaml")):
        if problems:
            ((*where, reason),) = problems
            assert tuple(where) == here
            if text is not None and not text.strip():
                assert reason == "empty" + WRITING
            else:
                assert reason.endswith(WRITING)
                assert reason.startswith(("does not parse: ", "empty", "holds no values"))
            assert values(doc[section], path) == {
                k: (old, None, "not read") for k, (old, _, _) in before.items()
            }
        elif path.endswith(".json"):  # a JSON prefix that parses is the whole file
            assert values(doc[section], path) == before
            if any(p["name"] == path for p in clean["plots"]):
                assert chart_data(doc, path) == chart_data(clean, path)
        else:
            ours = values(doc[section], path)
            assert ours.keys() == before.keys()
            for key, (old, new, _) in ours.items():
                assert old == before[key][0]
                assert new in (before[key][1], None) or cut_in_value(new, before[key][1]), key
    elif path.endswith(".tsv"):
        head = doc["head"]
        label = f"workspace ({head['sha'][:7]})"
        ours = [r for r in chart_data(doc, path) if r["revision"] == label]
        theirs = [r for r in chart_data(clean, path) if r["revision"] == label]
        if not ours:  # no bytes, or the header only: empty
            if text is None and not problems:  # the racing writer had just removed it
                return
            assert problems == [(*here, "empty" + WRITING)]
            assert text is None or text.count(b"\n") <= 1
            return
        assert problems == []
        ours.sort(key=lambda r: r["x"])
        steps = [r["x"] for r in ours]
        assert steps == sorted(r["x"] for r in theirs)[: len(steps)]
        if text is not None:  # the header, then a line per step (the last may be cut)
            assert len(steps) in (text.count(b"\n") - 1, text.count(b"\n"))
        # Every complete row is the clean run's.  The last one may be cut inside its value
        # (`11<TAB>0.80` of `11<TAB>0.808333`), which no reader can tell from a whole one.
        assert all(r in theirs for r in ours[:-1])
        if ours and ours[-1] not in theirs:
            assert cut_in_value(
                ours[-1]["y"], next(r["y"] for r in theirs if r["x"] == ours[-1]["x"])
            )


CUT = [
    f"{LIVE}/metrics.json",
    f"{LIVE}/plots/sklearn/roc.json",
    f"{LIVE}/plots/sklearn/confusion_matrix.json",
    f"{LIVE}/plots/metrics/eval/acc.tsv",
    f"{LIVE}/params.yaml",
]


@pytest.mark.parametrize("path", CUT, ids=[Path(p).name for p in CUT])
def test_truncated_at_several_offsets(
    path: str,
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_of(project("default", projects, tmp_path_factory), tmp_path / "repo")
    clean = diff_json(capsys, root)
    file = root / path
    whole = file.read_bytes()
    offsets = sorted({0, 1, len(whole) // 3, len(whole) // 2, len(whole) - 3})
    seen_problems = 0
    for offset in offsets:
        file.write_bytes(whole[:offset])
        doc = diff_json(capsys, root)  # exit 0, no traceback (run_diff checks both)
        assert_rest_is_clean(doc, clean, {path})
        assert_cut_file_reported(doc, clean, path, whole[:offset])
        assert doc["head"]["dirty"] is True
        seen_problems += bool(doc["problems"])
    file.write_bytes(whole)
    if path.endswith(".json"):
        assert seen_problems == len(offsets)  # a JSON prefix never parses


def test_a_tsv_row_cut_mid_row_is_dropped_with_a_note(
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_of(project("default", projects, tmp_path_factory), tmp_path / "repo")
    path = f"{LIVE}/plots/metrics/eval/acc.tsv"
    lines = (root / path).read_text().splitlines(keepends=True)
    for cut in ("11", "11\t"):  # the last step, cut before and after its tab
        (root / path).write_text("".join(lines[:-1]) + cut)
        doc = diff_json(capsys, root)
        (plot,) = [p for p in doc["plots"] if p["name"] == path]
        label = f"workspace ({doc['head']['sha'][:7]})"
        rows = [r for r in chart_data(doc, path) if r["revision"] == label]
        assert sorted(r["x"] for r in rows) == list(range(11))  # step 11 is left out
        assert all(isinstance(r["y"], float) for r in rows)
        assert (
            f"1 row of {path} at workspace ({doc['head']['sha'][:7]} + uncommitted changes) "
            "cut short, left out (the file may still be being written)."
        ) in plot["notes"]
        assert doc["problems"] == []


def test_a_gate_on_a_metric_of_a_half_written_file_fails_as_missing(
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_of(project("default", projects, tmp_path_factory), tmp_path / "repo")
    metrics = root / LIVE / "metrics.json"
    metrics.write_bytes(metrics.read_bytes()[:40])
    code = main(["check", "main", "-C", str(root), "--fail-on", "eval.acc<-0.5"], env=clean_env())
    out, err = capsys.readouterr()
    assert code == 5, err
    sha7 = git(root, "rev-parse", "HEAD")[:7]
    assert out.splitlines()[1].startswith(
        f"MISS  eval.acc<-0.5: eval.acc is missing at workspace ({sha7} + uncommitted "
        f"changes): {LIVE}/metrics.json was not read (does not parse: "
    )
    assert out.splitlines()[-1] == "0 of 1 gate passed."
    doc = diff_json(capsys, root)
    rows = [r for r in doc["metrics"] if r["metric"] == "eval.acc"]
    assert [(r["head"], r["status"]) for r in rows] == [(None, "not read")]
    assert "Traceback" not in err


WRITER = r"""
import csv, json, os, sys, time
from pathlib import Path
from dvclive.serialize import dump_json, dump_yaml
import yaml

live, stop, loops = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
deadline, done = time.monotonic() + 300, 0
jsons = {p: json.loads((live / p).read_text()) for p in ("metrics.json", "plots/sklearn/roc.json")}
params = yaml.safe_load((live / "params.yaml").read_text())
tsv = live / "plots/metrics/eval/acc.tsv"
rows = list(csv.DictReader(tsv.read_text().splitlines(), delimiter="\t"))
(live / "writing").touch()
while not stop.exists() and time.monotonic() < deadline:
    for rel, content in jsons.items():
        dump_json(content, live / rel)  # as dvclive's make_summary and log_sklearn_plot
    dump_yaml(params, live / "params.yaml")  # as dvclive's log_param
    tsv.unlink()  # as a new Live() run, then a row per step (dvclive's Metric.dump)
    for row in rows:
        existed = tsv.exists()
        with tsv.open("a", encoding="utf-8", newline="") as fobj:
            writer = csv.DictWriter(fobj, row.keys(), delimiter="\t", lineterminator=os.linesep)
            if not existed:
                writer.writeheader()
            writer.writerow(row)
    done += 1
    (loops.parent / "loops.tmp").write_text(str(done))
    (loops.parent / "loops.tmp").replace(loops)
"""


def test_a_run_racing_a_writer(
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_of(project("default", projects, tmp_path_factory), tmp_path / "repo")
    clean = diff_json(capsys, root)
    raced = {
        f"{LIVE}/metrics.json",
        f"{LIVE}/plots/sklearn/roc.json",
        f"{LIVE}/params.yaml",
        f"{LIVE}/plots/metrics/eval/acc.tsv",
    }
    stop, loops = tmp_path / "stop", tmp_path / "loops"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root / LIVE), str(stop), str(loops)], env=clean_env()
    )
    try:
        started = time.monotonic()
        while not (root / LIVE / "writing").exists():
            assert writer.poll() is None and time.monotonic() - started < 60
            time.sleep(0.05)
        for _ in range(4):
            before = int(loops.read_text()) if loops.exists() else 0
            doc = diff_json(capsys, root)  # exit 0, no traceback
            assert int(loops.read_text()) > before  # the files were rewritten meanwhile
            assert_rest_is_clean(doc, clean, raced)
            for path in raced:
                assert_cut_file_reported(doc, clean, path, None)
    finally:
        stop.touch()
        writer.wait(timeout=60)
    assert writer.returncode == 0


def data_is_dvc_diff(doc: dict[str, Any], root: Path) -> dict[str, tuple[Any, Any]]:
    """The Data section against `dvc diff --json --show-hash main`: {path: (old, new hash)},
    after checking that both say the same."""
    theirs = dvc_cli(root, "diff", "--json", "--show-hash", "main")
    # The report counts the files inside a tracked folder under the folder.
    folders = [e["path"] for e in theirs.get("modified", []) if e["path"].endswith("/")]
    dvc = {
        e["path"]: (e["hash"]["old"], e["hash"]["new"])
        for e in theirs.get("modified", [])
        if not any(e["path"].startswith(f) and e["path"] != f for f in folders)
    }
    ours = {
        c["path"]: (c["base"]["hash"], c["head"]["hash"])
        for c in doc["data"]["changed"]
        if c["status"] == "modified"
    }
    assert ours == dvc
    for change in doc["data"]["changed"]:
        if change["path"] in folders:
            inside = [e for e in theirs["modified"] if e["path"].startswith(change["path"])]
            assert change["inside"] == {"modified": len(inside) - 1}
    assert {c["status"] for c in doc["data"]["changed"]} == {"modified"}
    assert not theirs.get("added") and not theirs.get("deleted")
    return ours


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_data_section_is_dvc_diff(
    layout: str,
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """dvclive caches the image folder itself (`cache_images`): `lr 0.05` -> `lr 0.1` changes
    its picture, and the report says what `dvc diff` says, hashes and all."""
    built = project(layout, projects, tmp_path_factory)
    doc, _ = run_diff(capsys, "-C", str(built.root))
    folder = f"{LIVE}/plots/images/"
    assert list(data_is_dvc_diff(doc, built.root)) == [folder]
    (change,) = doc["data"]["changed"]
    assert (change["base"]["files"], change["head"]["files"]) == (1, 1)
    image = built.root / folder / "importance.png"
    assert change["head"]["size"] == image.stat().st_size


def test_a_new_run_not_yet_committed_against_dvc_cli(
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The everyday case: the user trains again (`lr 0.2`) and asks before committing.
    Metrics, params and data against `dvc metrics diff`, `dvc params diff` and `dvc diff`,
    each run on the workspace as it is then."""
    from tests.shapes import train

    root = copy_of(project("default", projects, tmp_path_factory), tmp_path / "repo")
    train(root, "--lr", "0.2")
    doc, _ = run_diff(capsys, "-C", str(root))
    assert doc["head"]["dirty"] is True
    metrics = dvc_cli(root, "metrics", "diff", "--json", "--all", "main")
    assert {(m["path"], m["metric"]): (m["base"], m["head"]) for m in doc["metrics"]} == {
        (path, key): (v.get("old"), v.get("new"))
        for path, keys in metrics.items()
        for key, v in keys.items()
    }
    params = dvc_cli(root, "params", "diff", "--json", "--all", "main")
    assert {(p["path"], p["param"]): (p["base"], p["head"]) for p in doc["params"]} == {
        (path, key): (v.get("old"), v.get("new"))
        for path, keys in params.items()
        for key, v in keys.items()
    }
    assert (params[f"{LIVE}/params.yaml"]["lr"]["new"], len(doc["metrics"])) == (0.2, 5)
    assert list(data_is_dvc_diff(doc, root)) == [f"{LIVE}/plots/images/"]
    assert doc["problems"] == []


def test_an_image_defined_twice_at_one_revision_only(
    projects: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The move to the nested layout, not yet committed: at the workspace two dvc.yaml
    files define the image, at main one.  It is one plot with both revisions' images (DVC's
    `plots diff --json` keeps one of its renderers, here main's image only)."""
    from tests.shapes import train

    root = copy_of(project("default", projects, tmp_path_factory), tmp_path / "repo")
    train(root, "--lr", "0.2", "--nested")
    doc = diff_json(capsys, root)
    image = f"{LIVE}/plots/images/importance.png"
    # Each revision's own picture, byte for byte: main's from the DVC cache (the hash
    # `dvc diff` gives it), the workspace's as the training run saved it.
    shown = dvc_cli(root, "diff", "--json", "--show-hash", "main")
    (old,) = [e["hash"]["old"] for e in shown["modified"] if e["path"] == image]
    cached = root / ".dvc" / "cache" / "files" / "md5" / old[:2] / old[2:]
    assert chart_data(doc, image) == [
        {"base": cached.read_bytes()},
        {"head": (root / image).read_bytes()},
    ]
    assert cached.read_bytes() != (root / image).read_bytes()  # lr 0.05 vs 0.2
    theirs = dvc_cli(root, "plots", "diff", "--json", "-o", str(tmp_path / "dvc"), "main")
    assert list(theirs["data"]).count(image) == 1
    assert len([p for p in doc["plots"] if p["name"] == image]) == 1
