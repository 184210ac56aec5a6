"""Every project shape of fixtures/shapes, both ways CI and laptops run dvc-cml:

1. in the full repository: `dvc-cml diff main` (the workspace is the `head` branch);
2. in `git clone --depth 1 --branch head` with an empty DVC cache: `dvc-cml diff main --pull`
   (dvc-cml fetches `main` itself; base data is streamed from the DVC remote).

DVC's own CLI, run on the full repository, is the oracle: every metric and changed param
equals DVC's, every plot DVC lists is in the report with a real PNG (or its images), and
each chart's inline data holds DVC's points per revision (at most --max-points per series
where downsampled, first and last points kept).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.cli import main
from tests.conftest import clean_env, git
from tests.shapes import SHAPES, Built, Shape, build, dvc_rows, dvc_series, shallow_clone
from tests.test_charts import all_nodes, confusion_panels, inline_rows, png_size

MAX_POINTS = 100  # dvclive's 300-step series are downsampled; the rest are drawn whole
DIFFERENCE = "difference (head − base)"


@pytest.fixture(scope="session")
def built_shapes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Each shape built once per session (and per xdist worker), on first use."""
    return {}


def shape_repo(
    shape: Shape, cache: dict[str, Built], tmp_path_factory: pytest.TempPathFactory
) -> Built:
    if shape.name not in cache:
        cache[shape.name] = build(shape, tmp_path_factory.mktemp(shape.name))
    return cache[shape.name]


def params_of(shapes: list[Shape]) -> list[Any]:
    marks = {
        s.name: [pytest.mark.xfail(strict=True, reason=s.xfail)] if s.xfail else [] for s in shapes
    }
    return [pytest.param(s, id=s.name, marks=marks[s.name]) for s in shapes]


def run_diff(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict[str, Any], str]:
    code = main(
        ["diff", "main", "--json", "--all-plots", "--max-points", str(MAX_POINTS), *argv],
        env=clean_env(),
    )
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 0, f"exit {code}: {err}"
    doc: dict[str, Any] = json.loads(out)
    return doc, err


# --- the oracle checks ---------------------------------------------------------------------


def check_metrics(doc: dict[str, Any], built: Built) -> None:
    ours = {(m["path"], m["metric"]): (m["base"], m["head"]) for m in doc["metrics"]}
    dvc = {
        (path, key): (v.get("old"), v.get("new"))
        for path, keys in built.oracle.metrics.items()
        for key, v in keys.items()
    }
    assert ours == dvc


def check_params(doc: dict[str, Any], built: Built) -> None:
    ours = {
        (p["path"], p["param"]): (p["base"], p["head"])
        for p in doc["params"]
        if p["status"] != "unchanged"
    }
    dvc = {
        (path, key): (v.get("old"), v.get("new"))
        for path, keys in built.oracle.params.items()
        for key, v in keys.items()
        if v.get("old") != v.get("new")
    }
    assert ours == dvc


def labels(doc: dict[str, Any]) -> dict[str, str]:
    """DVC's revision names -> dvc-cml's chart labels."""
    base, head = doc["base"], doc["head"]
    return {
        "main": f"{base['rev']} ({base['sha'][:7]})",
        "workspace": f"{head['rev']} ({head['sha'][:7]})",
    }


def check_confusion(
    spec: dict[str, Any], entries: list[dict[str, Any]], names: dict[str, str]
) -> None:
    panels = [p for p in confusion_panels(spec) if p.title != DIFFERENCE]
    dvc = Counter(row["rev"] for row in dvc_rows(entries))
    for rev, count in dvc.items():
        mine = [p for p in panels if p.title.startswith(names[rev])]
        assert mine, f"no panel for {rev}"
        values = [row["value"] for p in mine for row in p.cells.values()]
        if all(isinstance(v, int) for v in values):
            assert sum(values) == count, rev
        else:  # confusion_normalized: every actual class's row sums to 1
            for panel in mine:
                totals: Counter[str] = Counter()
                for (x, _), row in panel.cells.items():
                    totals[x] += row["value"]
                assert all(t == 0 or abs(t - 1) < 0.01 for t in totals.values()), totals


def chart_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    for node in all_nodes(spec):
        if "data" in node:
            return inline_rows(spec, node["data"])
    raise AssertionError("a chart without data")


def check_xy(spec: dict[str, Any], entries: list[dict[str, Any]], names: dict[str, str]) -> None:
    rows = chart_rows(spec)
    got = Counter(row["revision"] for row in rows)
    for rev, series in dvc_series(entries).items():
        whole = sum(n for n in series.values() if n <= MAX_POINTS)
        sampled = [key for key, n in series.items() if n > MAX_POINTS]
        if not sampled:
            assert got[names[rev]] == whole, (rev, dict(series))
            continue
        assert whole < got[names[rev]] <= whole + MAX_POINTS * len(sampled), (rev, dict(series))
        # Downsampling keeps the first and the last point of every series.
        mine = {(float(r["x"]), float(r["y"])) for r in rows if r["revision"] == names[rev]}
        x, y = axis_field(entries, "x"), axis_field(entries, "y")
        for key in sampled:
            points = sorted(
                (float(r[x]), float(r.get("dvc_inferred_y_value", r.get(y))))
                for r in dvc_rows(entries)
                if r["rev"] == rev and (str(r.get("filename", "")), str(r.get("field", ""))) == key
            )
            assert points[0] in mine and points[-1] in mine, key


def check_plots(doc: dict[str, Any], built: Built, out_dir: Path) -> None:
    names = labels(doc)
    ours = {p["name"]: p for p in doc["plots"]}
    report = (out_dir / "report.md").read_text()
    for plot_id, entries in built.oracle.plots.items():
        assert plot_id in ours, f"{plot_id} is missing from the report"
        plot = ours[plot_id]
        kinds = {e["type"] for e in entries}
        if kinds == {"image"}:
            revs = {rev for e in entries for rev in e["revisions"]}
            wanted = {"main": "base", "workspace": "head"}
            assert set(plot["images"]) == {wanted[r] for r in revs}, plot_id
            for path in plot["images"].values():
                png_size(Path(path).absolute().read_bytes())
                assert Path(path).absolute().relative_to(out_dir).as_posix() in report
            continue
        assert plot["png"], f"{plot_id} was not drawn: {plot['notes']}"
        png = Path(plot["png"]).absolute()  # relative to the working directory without -C
        width, height = png_size(png.read_bytes())
        assert width > 100 and height > 100
        assert png.relative_to(out_dir).as_posix() in report
        spec = json.loads(png.with_suffix("").with_suffix(".vl.json").read_text())
        assert Path(plot["spec"]).absolute() == png.with_suffix("").with_suffix(".vl.json")
        if plot["kind"] == "confusion":
            check_confusion(spec, entries, names)
        else:
            check_xy(spec, entries, names)


def axis_field(entries: list[dict[str, Any]], axis: str) -> str:
    """The data field DVC's filled-in template puts on `axis`."""
    [entry] = [e for e in entries if e["type"] == "vega"]
    for node in all_nodes(entry["content"]):
        if "field" in node.get("encoding", {}).get(axis, {}):
            return str(node["encoding"][axis]["field"])
    raise AssertionError(f"no {axis} field in DVC's template")


def check_all(doc: dict[str, Any], built: Built, out_dir: Path) -> None:
    check_metrics(doc, built)
    check_params(doc, built)
    check_plots(doc, built, out_dir)


# --- the two ways --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", params_of(SHAPES))
def test_full_repository(
    shape: Shape,
    built_shapes: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built = shape_repo(shape, built_shapes, tmp_path_factory)
    head = git(built.root, "rev-parse", "HEAD")
    doc, _ = run_diff(capsys, "-C", str(built.project))
    check_all(doc, built, built.project / "dvc-cml-report")
    if shape.name == "dvclive":  # its 300-step series exercise the downsampled branch above
        notes = [n for p in doc["plots"] for n in p["notes"]]
        assert sum(n.startswith("Downsampled for drawing: 300 points") for n in notes) == 2
    assert git(built.root, "status", "--porcelain") == ""
    assert git(built.root, "rev-parse", "HEAD") == head


@pytest.mark.parametrize("shape", params_of(SHAPES))
def test_shallow_clone_with_pull(
    shape: Shape,
    built_shapes: dict[str, Built],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = shape_repo(shape, built_shapes, tmp_path_factory)
    clone = shallow_clone(built, tmp_path / "clone")
    project = clone / shape.project
    assert not (project / ".dvc" / "cache").exists()
    head = git(clone, "rev-parse", "HEAD")
    if shape.project:  # the monorepo: run from inside the project's folder, no -C
        monkeypatch.chdir(project)
        doc, _ = run_diff(capsys, "--pull")
    else:
        doc, _ = run_diff(capsys, "--pull", "-C", str(project))
    check_all(doc, built, project / "dvc-cml-report")
    assert git(clone, "status", "--porcelain") == ""
    assert git(clone, "rev-parse", "HEAD") == head
    assert "remotes/origin/main" in git(clone, "branch", "-a")  # fetched by dvc-cml
