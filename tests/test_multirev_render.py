"""Reports with several heads, rendered from the model: exact Markdown and terminal lines,
chart specs, the page, gates, and the comment within the forges' limits at 20 revisions."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.model import (
    MISSING,
    DataChange,
    DataPlot,
    Direction,
    Output,
    ParamChange,
    PlotKind,
    Point,
    Problem,
    RenderedPlot,
    Report,
    Reproduced,
    Revision,
    Row,
    StageChange,
    StageRun,
    head_key,
)
from dvc_cml.render import charts, comment, html, jsondoc, markdown, palette, terminal
from dvc_cml.report import render_plots
from tests.test_charts import png_size

BASE = Revision("main", "1111111aaaaaaa")


def heads(count: int, prefix: str = "exp-") -> tuple[Revision, ...]:
    return tuple(Revision(f"{prefix}{i + 1}", f"{i + 2:07d}bbbbbbb") for i in range(count))


def loss_plot(count: int) -> DataPlot:
    keys = ["base", *(head_key(i) for i in range(count))]
    points = tuple(
        Point(key, "loss", step, round(math.exp(-step / (3 + n)), 4))
        for n, key in enumerate(keys)
        for step in range(5)
    )
    return DataPlot("loss", "Loss", "linear", "step", "loss", points)


def report_of(count: int, **fields: Any) -> Report:
    revs = heads(count)
    return Report(BASE, revs[0], more=revs[1:], **fields)


THREE = report_of(
    3,
    metrics=(
        Row("m.json", "acc", 0.8, 0.85, Direction.HIGHER, more=(0.7, 0.8)),
        Row("m.json", "loss", 0.5, 0.4, Direction.LOWER, more=(0.6, MISSING)),
        Row("m.json", "epochs", 10, 10, more=(10, 10)),
    ),
    params=(
        Row("params.yaml", "lr", 0.1, 0.2, more=(0.05, 0.1)),
        Row("params.yaml", "seed", 1, 1, more=(1, 1)),
    ),
    stages=(
        StageChange("train", "changed", params=(ParamChange("lr", 0.1, 0.2),), outs=("m.json",)),
        StageChange(
            "train",
            "changed",
            params=(ParamChange("lr", 0.1, 0.05),),
            outs=("m.json",),
            rev="head2",
        ),
        StageChange("train", "changed", command=True, outs=("m.json",), rev="head3"),
    ),
    stages_unchanged=1,
    data=(
        DataChange(
            "model.pkl",
            "modified",
            Output("model.pkl", 10, None, "a"),
            Output("model.pkl", 12, None, "b"),
        ),
        DataChange(
            "model.pkl",
            "modified",
            Output("model.pkl", 10, None, "a"),
            Output("model.pkl", 9, None, "c"),
            rev="head3",
        ),
    ),
    tracked=2,
)


def test_markdown_tables_with_a_column_per_revision() -> None:
    text = markdown.render(THREE, [])
    lines = text.splitlines()
    assert lines[0] == "## DVC report: **main** (`1111111`) → 3 revisions"
    assert lines[2] == (
        "**exp-1: 2 better, 1 unchanged; exp-2: 2 worse, 1 unchanged; exp-3: 2 unchanged, "
        "1 removed · 1 param changed · data: 1 file changed · pipeline: 1 of 2 stages changed**"
    )
    assert lines[4:10] == [
        "| Revision | Commit | vs main |",
        "|:---|:---|:---|",
        "| ⬜ main | `1111111` | base |",
        "| 🟧 exp-1 | `0000002` | 2 better, 1 unchanged |",
        "| 🟦 exp-2 | `0000003` | 2 worse, 1 unchanged |",
        "| 🟩 exp-3 | `0000004` | 2 unchanged, 1 removed |",
    ]
    metrics = lines[lines.index("### Metrics") + 2 :][:5]
    assert metrics == [
        "| Path | Metric | ⬜ main | 🟧 exp-1 | 🟦 exp-2 | 🟩 exp-3 |",
        "|:---|:---|---:|---:|---:|---:|",
        "| m.json | acc | 0.8 | **0.85** ★<br><sub>+0.05 ✅</sub> | 0.7<br><sub>-0.1 ❌</sub> "
        "| 0.8 |",
        "| m.json | loss | 0.5 | **0.4** ★<br><sub>-0.1 ✅</sub> | 0.6<br><sub>+0.1 ❌</sub> "
        "| —<br><sub>removed</sub> |",
        "| m.json | epochs | 10 | 10 | 10 | 10 |",
    ]
    assert (
        "2 of 3 metrics changed. ✅ better, ❌ worse (direction guessed from the metric's "
        "name). ★ the best value." in lines
    )
    # Params: only those that differ, no table of all params.
    params = lines[lines.index("### Params") + 2 :]
    assert params[2] == "| params.yaml | lr | 0.1 | 0.2 | 0.05 | 0.1 |"
    assert params[3] == ""
    assert "All params" not in text
    pipeline = lines[lines.index("### Pipeline") + 2 :][:3]
    assert pipeline[2] == (
        "| train | changed at every head | changed (exp-3) |  | lr: 0.1 → 0.2 (exp-1), "
        "0.05 (exp-2) | m.json |"
    )
    assert "1 of 2 stages in dvc.lock unchanged at every revision." in lines
    data = lines[lines.index("### Data") + 2 :][:3]
    assert data == [
        "| Path | ⬜ main | 🟧 exp-1 | 🟦 exp-2 | 🟩 exp-3 |",
        "|:---|---:|---:|---:|---:|",
        "| model.pkl | 10 B | modified: 12 B |  | modified: 9 B |",
    ]


def test_primary_metric_names_the_best_in_the_verdict_and_the_revisions_table() -> None:
    report = THREE.__class__(**{**THREE.__dict__, "primary": ("m.json", "acc")})
    lines = markdown.render(report, []).splitlines()
    assert lines[2].startswith("**best: exp-1 (acc 0.85) · 1 param changed")
    assert lines[7] == "| 🟧 exp-1 | `0000002` | 2 better, 1 unchanged · ★ best acc |"


def test_gate_table_names_the_revision_of_each_result() -> None:
    from dvc_cml.gates import evaluate, parse_gate

    gate = parse_gate("acc<-0.05", "--fail-on")
    results = evaluate([gate], THREE.metrics, (), THREE.revisions)
    assert [(r.rev, r.status) for r in results] == [
        ("head", "pass"),
        ("head2", "fail"),
        ("head3", "pass"),
    ]
    report = THREE.__class__(**{**THREE.__dict__, "gates": results})
    text = markdown.render(report, [])
    lines = text.splitlines()
    table = lines[lines.index("### Gates") + 2 :][:5]
    assert table == [
        "| Gate | Metric | base | Revision | Value | Change | Result |",
        "|:---|:---|---:|:---|---:|---:|:---|",
        "| acc&lt;-0.05 | m.json:acc | 0.8 | 🟧 exp-1 | 0.85 | +0.05 | ✅ pass |",
        "| acc&lt;-0.05 | m.json:acc | 0.8 | 🟦 exp-2 | 0.7 | -0.1 | ❌ fail |",
        "| acc&lt;-0.05 | m.json:acc | 0.8 | 🟩 exp-3 | 0.8 | unchanged | ✅ pass |",
    ]
    assert "2 of 3 gate checks passed (1 × 3)." in lines
    assert (
        "- acc&lt;-0.05: at exp-2: acc changed by -0.1 (0.8 → 0.7), below the allowed -0.05"
        in lines
    )


# --- terminal -------------------------------------------------------------------------------


def shown(report: Report, plots: tuple[RenderedPlot, ...] = ()) -> str:
    stream = io.StringIO()
    terminal.show(report, plots, Path("out"), Path("out/report.md"), stream)
    return stream.getvalue()


def test_terminal_fits_80_columns_with_long_names_in_a_legend() -> None:
    revs = heads(7, prefix="a-rather-long-experiment-name-")
    metrics = tuple(
        Row("eval/metrics.json", f"test.metric_{i}.acc", 0.5, 0.51, Direction.HIGHER,
            more=tuple(0.5 + j / 100 for j in range(2, 8)))
        for i in range(3)
    )  # fmt: skip
    report = Report(BASE, revs[0], more=revs[1:], metrics=metrics, plots=(loss_plot(7),))
    rendered = (RenderedPlot("loss", "Loss", PlotKind.LINE, True, png="plots/loss.png"),)
    text = shown(report, rendered)
    lines = text.splitlines()
    too_wide = [line for line in lines if len(line) > terminal.PLAIN_WIDTH and "out/" not in line]
    assert too_wide == []
    assert lines[0] == "DVC report: main (1111111) -> 7 revisions"
    # Short names in the tables, the full ones in the legend.
    legend = [line for line in lines if line.startswith("  a-rather")]
    assert legend[0] == "  a-rather-…  0000002  a-rather-long-experiment-name-1: 3 better"
    assert legend[1] == "  a-rather…2  0000003  a-rather-long-experiment-name-2: 3 better"
    assert len(legend) == 7
    tables = [line for line in lines if line.startswith("Metrics (3 of 3 changed)")]
    assert len(tables) >= 2  # the heads split over tables to fit
    header = [line for line in lines if line.startswith("| Metric")]
    assert all("main" in line for line in header)
    # The best value is marked, at the last head.
    row = [line for line in lines if "test.metric_0.acc" in line]
    assert row[-1].rstrip(" |").endswith("0.57 ✓*")
    assert "✓ better, ✗ worse than main; * the best value" in lines
    sparks = [line for line in lines if line.startswith("    a-rather…7")]
    assert len(sparks) == 1 and sparks[0].endswith(" 0.6703")


def test_terminal_opening_and_a_cut_metrics_table_with_one_head_or_several() -> None:
    """The header, --repro, the files not read and more than MAX_ROWS metrics: the same
    lines on both paths, but for the header, the legend and the table's title."""
    count = terminal.MAX_ROWS + 5  # 22 change (the odd ones), 23 do not
    done = Reproduced((StageRun("train", "ran"), StageRun("eval", "restored")))
    repro = (
        "Pipeline reproduced first, in pipeline order: train ran, eval restored from the "
        "run-cache (not run)."
    )
    reason = "does not parse (it may still be being written)"
    for several in (False, True):
        revs = heads(2 if several else 1)
        metrics = tuple(
            Row("m.json", f"m{i:02d}", i, i + (i % 2), more=(i,) if several else ())
            for i in range(count)
        )
        problems = (Problem("m.json", revs[-1], reason),)
        report = Report(
            BASE, revs[0], more=revs[1:], metrics=metrics, problems=problems, reproduced=done
        )
        lines = [line.rstrip() for line in shown(report).splitlines()]
        if several:
            opening = [
                "DVC report: main (1111111) -> 2 revisions",
                "exp-1: 22 changed, 23 unchanged; exp-2: 45 unchanged · 1 file not read",
                "  main   1111111  base",
                "  exp-1  0000002  22 changed, 23 unchanged",
                "  exp-2  0000003  45 unchanged",
            ]
        else:
            opening = [
                "DVC report: main (1111111) -> exp-1 (0000002)",
                "22 metrics changed, 23 unchanged · 1 file not read",
            ]
        title = (
            "Metrics (22 of 45 changed)" if several else "Metrics (22 of 45 changed, biggest first)"
        )
        assert lines[: len(opening) + 3] == [
            *opening,
            repro,
            f"Not read: m.json at {revs[-1].label}: {reason}",
            title,
        ]
        assert lines.count("… 23 more metrics, all in the report file") == 1
        # The changed ones, biggest change first (the same +1 each: in order).
        shown_rows = re.findall(r"^\| (?:m\.json \| )?(m\d\d) ", "\n".join(lines), re.M)
        assert shown_rows == [f"m{i:02d}" for i in range(1, count, 2)]


def test_terminal_stage_changed_everywhere_is_one_line() -> None:
    text = shown(THREE)
    lines = text.splitlines()
    assert lines[lines.index("Pipeline (1 of 2 stages changed)") + 1 :][:5] == [
        "  train: changed at every head",
        "    command: changed (exp-3)",
        "    outs: m.json",
        "    param lr: 0.1 → 0.2 (exp-1), 0.05 (exp-2)",
        "Data (1 of 2 DVC-tracked outputs changed)",
    ]
    assert "  model.pkl (10 B): exp-1 modified (12 B), exp-3 modified (9 B)" in lines


# --- charts ---------------------------------------------------------------------------------


def labels_of(report: Report) -> dict[str, str]:
    return {key: report.labels()[key] for key in palette.drawn_keys(report)}


def test_every_chart_colours_a_revision_alike_with_a_grey_base() -> None:
    report = report_of(3)
    labels = labels_of(report)
    spec = charts.chart_spec(loss_plot(3), labels)
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == list(labels.values())
    assert scale["range"] == [palette.BASE_GREY, "#f58518", "#4c78a8", "#54a24b"]
    # The base's line is the wide pale reference.
    assert spec["encoding"]["strokeWidth"]["condition"] == {
        "test": 'datum.revision === "main (1111111)"',
        "value": 5,
    }
    # Two revisions keep the two colours they always had.
    two = charts.chart_spec(loss_plot(1), {"base": "main", "head": "ws"})
    assert two["encoding"]["color"]["scale"]["range"] == ["#4c78a8", "#f58518"]
    assert "strokeWidth" not in two["encoding"]


def test_confusion_matrix_has_a_panel_per_revision_and_a_difference_per_head() -> None:
    cells = {"base": [("a", "a")] * 3 + [("a", "b")], "head": [("a", "a")] * 4,
             "head2": [("a", "b")] * 2 + [("a", "a")] * 2}  # fmt: skip
    points = tuple(Point(rev, "p.csv", x, y) for rev, pairs in cells.items() for x, y in pairs)
    plot = DataPlot("cm", "cm", "confusion", "actual", "predicted", points)
    labels = labels_of(report_of(2))
    spec = charts.chart_spec(plot, labels)
    counts, differences = spec["vconcat"]  # one file: its counts, then the differences

    def panels(block: dict[str, Any]) -> dict[str, dict[tuple[str, str], str]]:
        out: dict[str, dict[tuple[str, str], str]] = {}
        for row in spec["datasets"][block["data"]["name"]]:
            out.setdefault(row["revision"], {})[(row["x"], row["y"])] = row["label"]
        return out

    assert counts["facet"]["sort"] == list(labels.values())
    assert panels(counts) == {
        "main (1111111)": {("a", "a"): "3", ("a", "b"): "1"},
        "exp-1 (0000002)": {("a", "a"): "4", ("a", "b"): "0"},
        "exp-2 (0000003)": {("a", "a"): "2", ("a", "b"): "2"},
    }
    assert differences["facet"]["header"]["title"] == "difference from the base"
    assert panels(differences) == {
        "exp-1 (0000002)": {("a", "a"): "+1", ("a", "b"): "-1"},
        "exp-2 (0000003)": {("a", "a"): "-1", ("a", "b"): "+1"},
    }
    # One colour scale for the differences, one legend; each panel under its revision's colour.
    assert differences["spec"]["layer"][0]["encoding"]["color"]["legend"]["title"] == "head vs base"
    stripe = counts["spec"]["layer"][2]["encoding"]["stroke"]["scale"]
    assert stripe == {
        "domain": list(labels.values()),
        "range": [palette.BASE_GREY, palette.HEADS[0][0], palette.HEADS[1][0]],
    }


def test_more_heads_than_a_legend_can_tell_apart_draw_the_best_by_the_primary_metric() -> None:
    count = palette.MAX_DRAWN + 2
    revs = heads(count)
    acc = Row(
        "m.json",
        "acc",
        0.5,
        0.6,
        Direction.HIGHER,
        more=tuple(0.5 + i / 100 for i in range(count - 1)),
    )
    plot = loss_plot(count)
    report = Report(BASE, revs[0], more=revs[1:], metrics=(acc,), plots=(plot,))
    # Without a primary metric: the first ten, and the chart says who is left out and why.
    assert palette.drawn_heads(report) == list(range(palette.MAX_DRAWN))
    rendered, files = render_plots(report)
    spec = json.loads(files[rendered[0].spec or ""])
    assert len(spec["encoding"]["color"]["scale"]["domain"]) == palette.MAX_DRAWN + 1
    assert rendered[0].notes == (
        "Not drawn: exp-11, exp-12. A chart shows 10 revisions beside the base at most, the "
        "first 10 (set `primary:` in .dvc-cml.yaml to draw the best); the tables have every "
        "revision.",
    )
    # A plot with data only at a head no chart draws is listed, saying why.
    late = DataPlot("late", "Late", "linear", "step", "y", (Point(head_key(count - 1), "y", 0, 1),))
    alone = Report(BASE, revs[0], more=revs[1:], metrics=(acc,), plots=(late,))
    [listed], files = render_plots(alone)
    assert (listed.png, listed.notes, files) == (None, rendered[0].notes, {})
    # With one: the ten best heads by it (acc: exp-1 at 0.6, then the last ones).
    ranked = Report(BASE, revs[0], more=revs[1:], metrics=(acc,), primary=("m.json", "acc"))
    assert palette.drawn_heads(ranked) == [0, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "⬜" in markdown.render(ranked, []) and "not drawn on the charts" in markdown.render(
        ranked, []
    )


# --- report.html ---------------------------------------------------------------------------


def test_json_row_status_is_over_every_head_its_change_the_first_heads() -> None:
    report = report_of(2, metrics=(Row("m.json", "acc", 0.8, 0.8, Direction.HIGHER, more=(0.9,)),))
    [row] = json.loads(jsondoc.render(report, [], Path("out")))["metrics"]
    assert {k: row[k] for k in ("status", "change", "verdict", "best")} == {
        "status": "changed",  # exp-2 changed it
        "change": 0.0,  # at exp-1, as `head`
        "verdict": "neutral",
        "best": ["exp-2"],
    }
    assert row["against_base"]["exp-1"]["status"] == "unchanged"
    assert row["against_base"]["exp-2"] == {
        "change": 0.09999999999999998,
        "relative_change": 12.499999999999996,
        "status": "changed",
        "verdict": "better",
    }


def test_page_sorts_tables_and_draws_swatches_in_the_charts_colours() -> None:
    text = markdown.render(THREE, [])
    page = html.render(text, [], {}, "", several=True)
    assert html.SORT_SCRIPT in page
    assert "onclick" not in page and "style=" not in page  # nothing a CSP would have to allow
    swatch = '<span class="swatch swatch-1" aria-hidden="true"></span>'
    assert f'<th align="right">{swatch}exp-1</th>' in page
    assert f'<td align="left">{swatch}exp-1</td>' in page  # the revisions table
    assert f".swatch-1 {{ background: {palette.HEADS[0][0]}; }}" in page
    assert "🟧" not in page  # no emoji font needed
    two = html.render(markdown.render(report_of(1), []), [], {}, "")
    assert "<script" not in two and "swatch" not in two


# --- posting: the forges' limits at 20 revisions -----------------------------------------------


def twenty() -> Report:
    revs = heads(20, prefix="experiment-with-a-long-name-")
    metrics = tuple(
        Row("eval/metrics.json", f"class_{i:04d}.f1", 0.5, 0.51, Direction.HIGHER,
            more=tuple(0.5 + (i * j % 7) / 1000 for j in range(19)))
        for i in range(2000)
    )  # fmt: skip
    params = tuple(
        Row("params.yaml", f"p{i:03d}", i, i + 1, more=tuple(i + j for j in range(19)))
        for i in range(60)
    )
    stages = tuple(
        StageChange(
            f"stage{s}", "changed", params=(ParamChange("lr", 0.1, 0.1 + j),), rev=head_key(j)
        )
        for s in range(30)
        for j in range(20)
    )
    return Report(BASE, revs[0], more=revs[1:], metrics=metrics, params=params, stages=stages)


@pytest.mark.parametrize("rules", [comment.GITHUB, comment.GITLAB])
def test_comment_with_20_revisions_keeps_within_the_forges_limit(rules: comment.Rules) -> None:
    report = twenty()
    plots = [RenderedPlot("loss", "Loss", PlotKind.LINE, True, png="plots/loss.png")]
    full = markdown.render(report, plots)
    body = comment.body(
        report, plots, marker="<!-- m -->", footer_text="F", full_report="X", rules=rules
    )
    assert len(body) <= rules.limit
    assert body.startswith("<!-- m -->\n")
    assert "## DVC report: **main** (`1111111`) → 20 revisions" in body
    assert "| 🩵 experiment-with-a-long-name-10 |" in body  # the revisions table stays whole
    assert "![Loss](plots/loss.png)" in body  # and the charts
    if len(full) <= rules.limit:
        pytest.fail("the fixture must be too long for both forges")
    if rules is comment.GITLAB:
        # Values without their changes fit GitLab: every row is there.
        assert "the tables show each revision's values without their changes" in body
        assert len(re.findall(r"^\| eval/metrics\.json \| class\\_", body, re.M)) == 2000
        assert "<sub>" not in body.split("### Metrics")[1].split("### Params")[0]
    else:
        assert "each value's change and the longest tables' last rows are left out" in body
        assert re.search(r"… and \d+ more rows, left out here to fit\.", body)


def test_images_are_drawn_without_the_zoom_that_clips_every_mark() -> None:
    """The page zooms and pans (its spec keeps the selection); an image cannot, and the
    clipping that comes with it made rasterising many lines six times slower."""
    from dvc_cml.render import drawing

    report = report_of(3)
    plot = loss_plot(3)
    drawn = drawing.draw(plot, labels_of(report), [], raster=False)
    spec = json.loads(drawn.spec)
    assert spec["params"] == [{"bind": "scales", "name": "zoom", "select": {"type": "interval"}}]
    assert drawn.svg is not None and "clip-path" not in drawn.svg
    assert "clip-path" in charts.to_svg(spec)
    # Only selections bound to the scales go; data fields named "params" stay.
    data = {"values": [{"params": 1}]}
    kept = {"params": [{"name": "pick", "select": "point"}], "data": data, "mark": "point"}
    assert charts.static({"layer": [kept, {**kept, "params": spec["params"]}]}) == {
        "layer": [kept, {"data": data, "mark": "point"}]
    }


def test_several_heads_share_a_charts_budget_of_points() -> None:
    from dvc_cml.collect.plotdata import MIN_SERIES_POINTS, series_budget

    assert series_budget(2500, 2, 4) == 2500  # two revisions: as ever
    assert series_budget(2500, 4, 4) == 625  # four revisions of one series
    assert series_budget(2500, 11, 22) == MIN_SERIES_POINTS == 150
    assert series_budget(100, 3, 3) == 100  # never more than --max-points


def test_hostile_names_leave_the_terminal_visible_with_several_heads() -> None:
    """Names are the branch author's: escapes and bidirectional controls are shown as such."""
    revs = (Revision("exp\u202eevil", "2222222bbb"), Revision("e2", "3333333ccc"))
    report = Report(
        Revision("ma\x1b[2Kin", "1111111aaa"),
        revs[0],
        more=revs[1:],
        metrics=(Row("m.json", "acc\x1b]8;;x\x07", 0.5, 0.6, Direction.HIGHER, more=(0.7,)),),
        stages=(StageChange("tr\rain", "changed", deps=("d\x1b[31m",)),),
    )
    text = shown(report)
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert "DVC report: ma\\x1b[2Kin (1111111) -> 2 revisions" in text
    assert "exp\\u202eevil" in text
    assert "acc\\x1b]8;;x\\x07" in text
    assert "  tr\\rain: changed at exp\\u202eevil" in text


def test_the_size_of_a_chart_is_known_before_it_is_drawn() -> None:
    """`charts.area` orders the drawing, largest first (a run waits for the last chart's
    rasterising): it is within a fifth of the PNG's size, axes and legends included."""

    def confusion(count: int, files: list[str]) -> DataPlot:
        keys = ["base", *(head_key(i) for i in range(count))]
        points = tuple(
            Point(key, file, x, y, 3) for key in keys for file in files for x in "ab" for y in "ab"
        )
        return DataPlot("cm", "cm", "confusion", "actual", "predicted", points)

    cases = {
        "ten heads, two files": (confusion(10, ["a.json", "b.json"]), 10),
        "three heads": (confusion(3, ["a.json"]), 3),
        "two revisions, two files": (confusion(1, ["a.json", "b.json"]), 1),
        "four heads": (confusion(4, ["a.json"]), 4),
        "loss of ten heads": (loss_plot(10), 10),
        "two revisions": (confusion(1, ["a.json"]), 1),
    }
    drawn = {}
    for name, (plot, count) in cases.items():
        labels = labels_of(report_of(count))
        png = charts.to_png(charts.chart_spec(plot, labels))
        width, height = png_size(png)
        drawn[name] = (charts.area(plot, labels), width * height / charts.SCALE**2)
    for name, (estimate, pixels) in drawn.items():
        assert abs(estimate / pixels - 1) < 0.2, (name, estimate, pixels)
    # Largest first: a confusion matrix of many heads before any line chart.
    assert max(drawn, key=lambda name: drawn[name][0]) == "ten heads, two files"
    assert drawn["four heads"][0] > drawn["loss of ten heads"][0]
