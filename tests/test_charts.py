"""Charts from the real `plots` scenario: Vega-Lite specs checked value by value, and PNGs."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.collect import collect
from dvc_cml.model import DataPlot, Point, RenderedPlot, Report
from dvc_cml.render import charts
from dvc_cml.report import render_plots
from tests.conftest import Project, build_project, git, git_bytes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = {"base": "main (1111111)", "head": "feature (2222222)"}


@dataclass(frozen=True)
class Scenario:
    project: Project
    report: Report
    rendered: dict[str, RenderedPlot]  # by plot name
    files: dict[str, bytes]

    def base_text(self, rel: str) -> str:
        return git(self.project.root, "show", f"main:{rel}")

    def head_text(self, rel: str) -> str:
        return (self.project.root / rel).read_text()

    def spec(self, rel: str) -> dict[str, Any]:
        return strict_json(self.files[rel])


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The plots scenario collected and rendered once: every test here only reads it."""
    project = build_project("plots", tmp_path_factory.mktemp("charts") / "plots")
    project.apply_head()
    report = collect(project.root, "main", None, {})
    rendered, files = render_plots(report)
    return Scenario(project, report, {r.name: r for r in rendered}, files)


def strict_json(data: bytes) -> dict[str, Any]:
    """json.loads that refuses NaN / Infinity / -Infinity (not JSON, browsers reject them)."""

    def reject(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    loaded: dict[str, Any] = json.loads(data, parse_constant=reject)
    return loaded


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def as_number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which must come first in a PNG."""
    assert data[:8] == PNG_SIGNATURE
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert (length, chunk) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def inline_rows(spec: dict[str, Any], data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A node's data rows: inline `values`, or a named top-level dataset (altair hoists them)."""
    assert data is not None, "no data on this node"
    if "values" in data:
        rows: list[dict[str, Any]] = data["values"]
        return rows
    assert "url" not in data, "charts must carry their data inline"
    named: list[dict[str, Any]] = spec["datasets"][data["name"]]
    return named


def all_nodes(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The spec and every view nested in it through concat and layer."""
    yield spec
    for key in ("vconcat", "hconcat", "concat", "layer"):
        for child in spec.get(key, []):
            yield from all_nodes(child)


def title_text(title: Any) -> str:
    if isinstance(title, dict):
        text = title.get("text", "")
        return " ".join(text) if isinstance(text, list) else str(text)
    return str(title or "")


# --- confusion matrices ------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    group: tuple[tuple[str, int], ...]  # where the enclosing concat sits in the spec
    title: str
    cells: dict[tuple[str, str], dict[str, Any]]  # (x, y) -> row


def confusion_panels(spec: dict[str, Any]) -> list[Panel]:
    """Every heatmap panel (a layer of rect + text), walking vconcat/hconcat/layer generically."""
    panels: list[Panel] = []

    def visit(node: dict[str, Any], path: tuple[tuple[str, int], ...]) -> None:
        if "layer" in node:
            titles = {title_text(node.get("title"))} | {
                title_text(child.get("title")) for child in node["layer"]
            }
            titles.discard("")
            assert len(titles) == 1, f"a panel has one title, got {titles}"
            datas = [node.get("data")] if "data" in node else [c["data"] for c in node["layer"]]
            row_sets = [inline_rows(spec, d) for d in datas]
            assert all(rows == row_sets[0] for rows in row_sets), "rect and text disagree"
            rows = row_sets[0]
            assert all({"x", "y", "value", "label"} <= row.keys() for row in rows)
            cells = {(row["x"], row["y"]): row for row in rows}
            assert len(cells) == len(rows), "one row per cell"
            panels.append(Panel(path[:-1], titles.pop(), cells))
            return
        for key in ("vconcat", "hconcat", "concat"):
            for index, child in enumerate(node.get(key, [])):
                visit(child, (*path, (key, index)))

    visit(spec, ())
    return panels


def pair_counts(text: str) -> Counter[tuple[str, str]]:
    return Counter((row["actual"], row["predicted"]) for row in csv_rows(text))


def nonzero(panel: Panel) -> dict[tuple[str, str], int]:
    return {key: row["value"] for key, row in panel.cells.items() if row["value"] != 0}


def test_confusion_panels_count_each_revision_and_file(scenario: Scenario) -> None:
    base_label, head_label = scenario.report.base.label, scenario.report.head.label
    spec = scenario.spec("plots/confusion.vl.json")
    panels = confusion_panels(spec)
    assert len(panels) == 6  # 2 files x (base, head, difference)

    groups: dict[tuple[tuple[str, int], ...], list[Panel]] = {}
    for panel in panels:
        groups.setdefault(panel.group, []).append(panel)
    assert len(groups) == 2 and all(len(g) == 3 for g in groups.values())

    sources = ("preds/test.csv", "preds/val.csv")
    counts = {
        rel: (pair_counts(scenario.base_text(rel)), pair_counts(scenario.head_text(rel)))
        for rel in sources
    }
    classes_x = {x for pair in counts.values() for c in pair for x, _ in c}
    classes_y = {y for pair in counts.values() for c in pair for _, y in c}
    assert classes_x == classes_y == {"bird", "cat", "dog"}
    grid = {(x, y) for x in classes_x for y in classes_y}

    for rel in sources:
        base, head = counts[rel]
        assert base != head, f"{rel}: the scenario should change the predictions"
        name = Path(rel).name
        [group] = [g for g in groups.values() if any(name in p.title for p in g)]
        [base_panel] = [p for p in group if base_label in p.title]
        [head_panel] = [p for p in group if head_label in p.title]
        [diff_panel] = [p for p in group if "difference" in p.title]
        assert name in base_panel.title and name in head_panel.title

        for panel, expected in ((base_panel, base), (head_panel, head)):
            assert panel.cells.keys() == grid
            assert nonzero(panel) == dict(expected), f"{panel.title}"
            assert sum(row["value"] for row in panel.cells.values()) == expected.total()
            assert all(row["label"] == str(row["value"]) for row in panel.cells.values())

        assert diff_panel.cells.keys() == grid
        for key, row in diff_panel.cells.items():
            delta = head[key] - base[key]
            assert row["value"] == delta, f"{rel} {key}"
            assert row["label"] == ("0" if delta == 0 else f"{delta:+d}")
            # Coloured by meaning: more right answers (diagonal) or fewer mistakes is good.
            gain = delta if key[0] == key[1] else -delta
            assert row["gain"] == gain
            assert (
                row["effect"] == {1: "better", -1: "worse", 0: "no change"}[(gain > 0) - (gain < 0)]
            )
        assert any(row["value"] != 0 for row in diff_panel.cells.values())

    assert len(csv_rows(scenario.base_text("preds/test.csv"))) == 30
    assert len(csv_rows(scenario.base_text("preds/val.csv"))) == 12


def test_confusion_normalized_rows_sum_to_one() -> None:
    points = [
        Point("base", "preds.csv", actual, predicted)
        for actual, predicted in [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b")]
    ] + [Point("head", "preds.csv", "a", "a"), Point("head", "preds.csv", "b", "a")]
    plot = DataPlot("cm", "cm", "confusion_normalized", "actual", "predicted", tuple(points))
    panels = {p.title: p for p in confusion_panels(charts.chart_spec(plot, LABELS))}
    assert set(panels) == {LABELS["base"], LABELS["head"], "difference (head − base)"}

    base = {key: row["value"] for key, row in panels[LABELS["base"]].cells.items()}
    assert base == {("a", "a"): 0.6667, ("a", "b"): 0.3333, ("b", "a"): 0, ("b", "b"): 1.0}
    assert panels[LABELS["base"]].cells[("a", "b")]["label"] == "0.33"
    head = {key: row["value"] for key, row in panels[LABELS["head"]].cells.items()}
    assert head == {("a", "a"): 1.0, ("a", "b"): 0, ("b", "a"): 1.0, ("b", "b"): 0}
    diff = panels["difference (head − base)"].cells
    assert diff[("a", "b")]["value"] == pytest.approx(-0.3333)
    assert diff[("a", "b")]["label"] == "-0.33"
    assert diff[("b", "b")]["label"] == "-1.00"


def test_confusion_difference_colours_good_apart_from_bad_with_a_legend() -> None:
    # base: 2 right (a->a, b->b) and 1 wrong; head: 1 right and 2 wrong.
    pairs = {"base": [("a", "a"), ("b", "b"), ("a", "b")], "head": [("a", "a"), ("b", "a")] * 1}
    pairs["head"].append(("a", "b"))
    points = tuple(Point(rev, "p.csv", x, y) for rev, rows in pairs.items() for x, y in rows)
    plot = DataPlot("cm", "cm", "confusion", "actual", "predicted", points)
    spec = charts.chart_spec(plot, LABELS)
    [diff_node] = [
        node
        for node in all_nodes(spec)
        if "layer" in node and title_text(node["layer"][0].get("title")) == charts.DIFFERENCE
    ]
    cells = {(r["x"], r["y"]): r for r in inline_rows(spec, diff_node["data"])}
    # b->b lost (a right answer fewer): worse; b->a gained (a new mistake): worse too, though
    # its count went up; nothing got better.
    assert {k: (r["value"], r["gain"], r["effect"]) for k, r in cells.items()} == {
        ("a", "a"): (0, 0, "no change"),
        ("a", "b"): (0, 0, "no change"),
        ("b", "a"): (1, -1, "worse"),
        ("b", "b"): (-1, -1, "worse"),
    }
    colour = diff_node["layer"][0]["encoding"]["color"]
    assert colour["field"] == "gain"
    # redblue, not reversed: low (worse) is red, high (better) blue, white at no change.
    assert colour["scale"] == {"scheme": "redblue", "domain": [-1, 1]}
    legend = colour["legend"]
    assert legend["title"] == "head vs base" and legend["values"] == [-1, 0, 1]
    assert "'better'" in legend["labelExpr"] and "'worse'" in legend["labelExpr"]
    # The count panels have no legend; every cell has a tooltip.
    rects = [n for n in all_nodes(spec) if n.get("mark", {}).get("type") == "rect"]
    assert len(rects) == 3
    assert [r["encoding"]["color"].get("legend", "shown") for r in rects].count(None) == 2
    assert all(r["encoding"]["tooltip"] for r in rects)
    # The legend is drawn, with its words, in the rendered chart.
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    assert all(f">{word}</text>" in svg for word in ("better", "worse", "no change"))


def test_confusion_numeric_classes_in_numeric_order() -> None:
    points = tuple(Point("base", "preds.csv", n, n) for n in range(12))
    plot = DataPlot("cm", "cm", "confusion", "actual", "predicted", points)
    spec = charts.chart_spec(plot, LABELS)
    encodings = [node["encoding"] for node in all_nodes(spec) if "encoding" in node]
    assert len(encodings) == 2  # rect and text of the single panel
    expected = [str(n) for n in range(12)]
    for encoding in encodings:
        assert encoding["x"]["sort"] == expected
        assert encoding["y"]["sort"] == expected


# --- line plots ----------------------------------------------------------------------------


def test_loss_spec_overlays_both_revisions_and_files(scenario: Scenario) -> None:
    sha7 = git(scenario.project.root, "rev-parse", "main").strip()[:7]
    # head/ is laid over the workspace, uncommitted.
    base_label, head_label = f"main ({sha7})", f"workspace ({sha7} + uncommitted changes)"
    spec = scenario.spec("plots/loss.vl.json")
    rows = inline_rows(spec, spec.get("data"))

    expected: list[tuple[str, str, int | float, int | float]] = []
    for rel in ("logs/train.csv", "logs/val.csv"):
        base, head = csv_rows(scenario.base_text(rel)), csv_rows(scenario.head_text(rel))
        assert (len(base), len(head)) == (20, 25)
        for label, source in ((base_label, base), (head_label, head)):
            expected += [
                (label, Path(rel).name, as_number(r["step"]), as_number(r["loss"])) for r in source
            ]
    assert len(rows) == len(expected) == 2 * 20 + 2 * 25

    assert {row["revision"] for row in rows} == {base_label, head_label}
    series = sorted({row["series"] for row in rows})
    assert len(series) == 2
    file_of = {s: name for s in series for name in ("train.csv", "val.csv") if name in s}
    assert sorted(file_of.values()) == ["train.csv", "val.csv"]
    got = sorted((r["revision"], file_of[r["series"]], r["x"], r["y"]) for r in rows)
    assert got == sorted(expected)

    assert spec["mark"]["type"] == "line"
    encoding = spec["encoding"]
    assert (encoding["color"]["field"], encoding["color"]["type"]) == ("revision", "nominal")
    assert encoding["color"]["scale"]["domain"] == [base_label, head_label]
    assert (encoding["strokeDash"]["field"], encoding["strokeDash"]["type"]) == (
        "series",
        "nominal",
    )
    assert (encoding["x"]["field"], encoding["x"]["type"], encoding["x"]["title"]) == (
        "x",
        "quantitative",
        "step",
    )
    assert spec["title"]["text"] == "Training loss"


def test_non_finite_points_are_dropped_counted_and_noted(scenario: Scenario) -> None:
    rel = "curves/unstable.csv"
    for text in (scenario.base_text(rel), scenario.head_text(rel)):
        values = [float(row["value"]) for row in csv_rows(text)]
        assert len(values) == 10
        assert sum(not math.isfinite(v) for v in values) == 3  # NaN, inf, -inf

    spec = scenario.spec("plots/curves-unstable-csv.vl.json")  # strict JSON, or it raises
    rows = inline_rows(spec, spec.get("data"))
    assert len(rows) == 14
    assert all(math.isfinite(row["x"]) and math.isfinite(row["y"]) for row in rows)
    assert Counter(row["revision"] for row in rows) == {
        scenario.report.base.label: 7,
        scenario.report.head.label: 7,
    }

    [plot] = [p for p in scenario.report.plots if p.name == rel]
    assert isinstance(plot, DataPlot)
    assert plot.dropped == 6
    note = "6 NaN/Infinity point(s) left out of the chart."
    assert note in scenario.rendered[rel].notes
    assert note in spec["title"]["subtitle"]


def test_every_spec_is_strict_json_with_inline_data(scenario: Scenario) -> None:
    specs = sorted(path for path in scenario.files if path.endswith(".vl.json"))
    assert specs == sorted(r.spec for r in scenario.rendered.values() if r.spec)
    assert len(specs) == 4
    for path in specs:
        spec = scenario.spec(path)
        assert "url" not in json.dumps(spec.get("data", {})), path
        assert spec["background"] == "white"


# --- images and PNGs -----------------------------------------------------------------------


def test_image_plots_keep_each_revisions_bytes(scenario: Scenario) -> None:
    root = scenario.project.root
    base_png = git_bytes(root, "show", "main:images/sample.png")
    head_png = (root / "images/sample.png").read_bytes()
    assert base_png != head_png

    sample = scenario.rendered["images/sample.png"]
    assert sample.images == (
        ("base", "plots/images-sample-png.base.png"),
        ("head", "plots/images-sample-png.head.png"),
    )
    assert scenario.files["plots/images-sample-png.base.png"] == base_png
    assert scenario.files["plots/images-sample-png.head.png"] == head_png
    assert sample.changed and sample.png is None and sample.notes == ()

    new = scenario.rendered["images/new_only.png"]
    assert new.images == (("head", "plots/images-new_only-png.head.png"),)
    assert scenario.files[new.images[0][1]] == (root / "images/new_only.png").read_bytes()
    assert not [p for p in scenario.files if p.startswith("plots/images-new_only-png.base")]
    assert new.notes == (
        f"Only at {scenario.report.head.label}: not present at {scenario.report.base.label}.",
    )


def test_every_chart_png_is_a_real_png_of_sensible_size(scenario: Scenario) -> None:
    charts_png = [r.png for r in scenario.rendered.values() if r.png]
    assert sorted(charts_png) == [
        "plots/confusion.png",
        "plots/curves-pr-json.png",
        "plots/curves-unstable-csv.png",
        "plots/loss.png",
    ]
    for path in charts_png:
        width, height = png_size(scenario.files[path])
        assert 300 <= width <= 3000, (path, width)
        assert 150 <= height <= 3000, (path, height)
    # Every file ending in .png is one: charts and the copied image plots alike.
    pngs = [p for p in scenario.files if p.endswith(".png")]
    assert len(pngs) == 7
    assert all(scenario.files[p].startswith(PNG_SIGNATURE) for p in pngs)


# --- pure unit tests of chart_spec / to_png ------------------------------------------------


def xy_points() -> tuple[Point, ...]:
    return (
        Point("base", "train", 0.1, 0.9),
        Point("base", "train", 0.5, 0.7),
        Point("base", "val", 0.3, 0.8),
        Point("head", "train", 0.1, 0.95),
        Point("head", "train", 0.6, 0.75),
    )


@pytest.mark.parametrize(
    ("template", "mark"),
    [("scatter", "point"), ("scatter_jitter", "point"), ("linear", "line")],
)
def test_chart_spec_xy_kinds(template: str, mark: str) -> None:
    plot = DataPlot("pr", "PR curve", template, "recall", "precision", xy_points())
    spec = charts.chart_spec(plot, LABELS, ["a note"])
    assert spec["mark"]["type"] == mark
    rows = inline_rows(spec, spec["data"])
    assert len(rows) == 5
    assert Counter(row["revision"] for row in rows) == {LABELS["base"]: 3, LABELS["head"]: 2}
    assert {(r["series"], r["x"], r["y"]) for r in rows} == {
        (p.series, p.x, p.y) for p in xy_points()
    }
    assert spec["encoding"]["color"]["field"] == "revision"
    assert spec["encoding"]["color"]["scale"]["domain"] == [LABELS["base"], LABELS["head"]]
    assert spec["encoding"]["x"]["title"] == "recall"
    assert spec["encoding"]["y"]["title"] == "precision"
    assert spec["title"] == {"text": "PR curve", "subtitle": ["pr", "a note"], "anchor": "start"}
    if mark == "point":
        assert spec["encoding"]["shape"]["field"] == "series"
    # Interactive in a browser: zoom and pan through scales bound to an interval selection.
    assert spec["params"] == [{"name": "zoom", "select": {"type": "interval"}, "bind": "scales"}]
    assert [t["field"] for t in spec["encoding"]["tooltip"]] == ["revision", "series", "x", "y"]


def test_chart_spec_bar_puts_value_on_x_and_category_on_y() -> None:
    points = (
        Point("base", "importance", 0.4, "age"),
        Point("base", "importance", 0.1, "height"),
        Point("head", "importance", 0.5, "age"),
        Point("head", "importance", 0.2, "height"),
    )
    plot = DataPlot("feat", "feat", "bar_horizontal", "importance", "feature", points)
    spec = charts.chart_spec(plot, LABELS)
    assert spec["mark"]["type"] == "bar"
    encoding = spec["encoding"]
    assert (encoding["x"]["field"], encoding["x"]["type"]) == ("x", "quantitative")
    assert (encoding["y"]["field"], encoding["y"]["type"]) == ("y", "nominal")
    assert encoding["yOffset"]["field"] == "revision"
    rows = inline_rows(spec, spec["data"])
    assert sorted((r["revision"], r["y"], r["x"]) for r in rows) == sorted(
        [
            (LABELS["base"], "age", 0.4),
            (LABELS["base"], "height", 0.1),
            (LABELS["head"], "age", 0.5),
            (LABELS["head"], "height", 0.2),
        ]
    )
    assert spec["title"]["subtitle"] == []  # name == title: no repeated subtitle
    assert encoding["y"]["sort"] == "ascending"  # plain bar_horizontal: by name


def test_bar_horizontal_sorted_orders_bars_by_value_as_dvc_does() -> None:
    """DVC's template sorts the category axis by `-x`: the largest total value first."""
    import vl_convert

    values = {"age": (0.4, 0.1), "height": (0.1, 0.1), "weight": (0.3, 0.6), "zinc": (0.0, 0.05)}
    points = tuple(
        Point(rev, "imp", pair[i], name)
        for name, pair in values.items()
        for i, rev in enumerate(("base", "head"))
    )
    plot = DataPlot("feat", "feat", "bar_horizontal_sorted", "importance", "feature", points)
    spec = charts.chart_spec(plot, LABELS)
    assert spec["encoding"]["y"]["sort"] == "-x"
    svg = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    drawn = sorted(values, key=lambda name: svg.index(f">{name}</text>"))
    assert drawn == ["weight", "age", "height", "zinc"]  # sums 0.9, 0.5, 0.2, 0.05
    plain = charts.chart_spec(dataclasses.replace(plot, template="bar_horizontal"), LABELS)
    svg = vl_convert.vegalite_to_svg(plain, allowed_base_urls=[])
    assert sorted(values, key=lambda name: svg.index(f">{name}</text>")) == sorted(values)


def test_chart_spec_smooth_layers_raw_points_and_loess() -> None:
    plot = DataPlot("acc", "acc", "smooth", "step", "acc", xy_points())
    spec = charts.chart_spec(plot, LABELS)
    marks = [node["mark"]["type"] for node in all_nodes(spec) if "mark" in node]
    assert marks == ["point", "line"]
    [loess] = [t for node in all_nodes(spec) for t in node.get("transform", [])]
    assert loess["loess"] == "y" and loess["on"] == "x"
    assert loess["groupby"] == ["revision", "series"]


def test_chart_spec_renders_to_png_at_the_declared_size() -> None:
    plot = DataPlot("pr", "PR curve", "scatter", "recall", "precision", xy_points())
    spec = charts.chart_spec(plot, LABELS)
    width, height = png_size(charts.to_png(spec, scale=1.0))
    # The plot area is WIDTH x HEIGHT; axes, title and legend add a margin around it.
    assert charts.WIDTH < width < charts.WIDTH + 300
    assert charts.HEIGHT < height < charts.HEIGHT + 200
    width2, height2 = png_size(charts.to_png(spec, scale=2.0))
    assert abs(width2 - 2 * width) <= 2 and abs(height2 - 2 * height) <= 2


def test_to_png_refuses_remote_data() -> None:
    spec = {"data": {"url": "https://example.com/x.csv"}, "mark": "point"}
    with pytest.raises(charts.ChartError, match="not allowed"):
        charts.to_png(spec)
