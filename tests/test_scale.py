"""Large inputs: downsampling keeps the shape, unchanged plots are not drawn, output is stable."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from dvc_cml.cli import main
from dvc_cml.collect import collect
from dvc_cml.downsample import keep
from dvc_cml.model import DataPlot, Report, Revision, Row
from dvc_cml.render import terminal
from tests.conftest import Project
from tests.shapes import dvc_cli, dvc_rows

MakeProject = Callable[[str], Project]


def test_keep_preserves_extremes_and_ends() -> None:
    n = 50_000
    xs = list(range(n))
    ys = [math.sin(i / 700) for i in xs]
    ys[12_345] = 9.0  # a spike
    ys[33_333] = -7.5  # a dip
    kept = keep(xs, ys, 1000)
    assert len(kept) <= 1000
    assert kept == sorted(set(kept))
    assert {0, n - 1, 12_345, 33_333} <= set(kept)
    assert keep(xs[:900], ys[:900], 1000) == list(range(900))  # short series untouched


def long_curve(project: Project, n: int, shift: float) -> None:
    rows = "\n".join(
        f"{i},{math.exp(-i / n * 4) + shift + (5 if i == n // 3 else 0)}" for i in range(n)
    )
    project.write("logs/train.csv", "step,loss\n" + rows + "\n")


def test_long_series_are_downsampled_for_the_chart_only(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("plots")
    long_curve(project, 20_000, 0.0)
    project.commit("long base")
    long_curve(project, 20_000, 0.1)
    report = collect(project.root, "main", None, {}, max_points=500)
    loss = next(p for p in report.plots if p.name == "loss")
    assert isinstance(loss, DataPlot)
    assert loss.sampled_from == 20_000
    train = {
        rev: [p for p in loss.points if p.rev == rev and p.series == "train.csv: loss"]
        for rev in ("base", "head")
    }
    for rev, shift in (("base", 0.0), ("head", 0.1)):
        points = train[rev]
        assert len(points) <= 500
        xs = [p.x for p in points]
        assert (min(xs), max(xs)) == (0, 19_999)  # first and last kept
        spike = math.exp(-4 * (20_000 // 3) / 20_000) + shift + 5
        assert max(p.y for p in points) == pytest.approx(spike)
        assert min(p.y for p in points) == pytest.approx(math.exp(-4 * 19_999 / 20_000) + shift)
    # val.csv is short: untouched.
    assert sum(p.series == "val.csv: loss" for p in loss.points) == 40

    code = main(["diff", "main", "-C", str(project.root), "--max-points", "500", "--json"], env={})
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    notes = next(p for p in doc["plots"] if p["name"] == "loss")["notes"]
    assert notes == [
        "Downsampled for drawing: 20,000 points per series and revision cut to a "
        "shape-preserving subset (MinMaxLTTB; extremes and last point kept)."
    ]
    spec = json.loads((project.root / "dvc-cml-report/plots/loss.vl.json").read_text())
    (values,) = spec["datasets"].values()  # altair keeps inline rows in `datasets`
    assert len(values) == len(loss.points)


def test_unchanged_plots_are_not_drawn_unless_asked(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("plots")
    out = project.root / "dvc-cml-report"
    assert main(["diff", "main", "-C", str(project.root), "--md"], env={}) == 0
    text = capsys.readouterr().out
    assert not list(out.glob("plots/*"))  # nothing drawn, nothing copied
    assert "<summary>5 unchanged plots</summary>" in text
    assert "- Training loss <sub>loss</sub>" in text
    assert main(["diff", "main", "-C", str(project.root), "--md", "--all-plots"], env={}) == 0
    text = capsys.readouterr().out
    assert "![Training loss](plots/loss.png)" in text
    assert (out / "plots" / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_report_md_is_byte_identical_across_runs(make_project: MakeProject, tmp_path: Path) -> None:
    project = make_project("plots")
    project.apply_head()
    texts = []
    for run in ("one", "two"):
        out = tmp_path / run
        assert main(["diff", "main", "-C", str(project.root), "--out", str(out)], env={}) == 0
        texts.append((out / "report.md").read_bytes())
        specs = sorted(p.read_bytes() for p in (out / "plots").glob("*.vl.json"))
        texts.append(b"".join(specs))
    assert texts[0] == texts[2]
    assert texts[1] == texts[3]


def test_terminal_truncates_thousands_of_metrics_with_a_count() -> None:
    rows = tuple(Row("m.json", f"m{i:04d}", i, i + (i % 3 == 0)) for i in range(3000))
    report = Report(Revision("main", "1" * 40), Revision("workspace", "2" * 40), metrics=rows)
    stream = io.StringIO()
    terminal.show(report, [], Path("out"), Path("out/report.md"), stream)
    text = stream.getvalue()
    assert "Metrics (1000 of 3000 changed, biggest first)" in text
    assert "… 2960 more metrics, all in the report file" in text
    assert text.count("| m.json ") == 40
    assert "| m.json | m0003 |" in text.replace("  ", " ").replace("  ", " ")


def test_large_csv_files_are_thinned_while_loading(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large CSV sources are read column-wise; the result matches the in-memory path."""
    from dvc_cml.collect import plotdata as collect_module

    project = make_project("plots")
    n = 30_000
    rows = [f"{i},{math.cos(i / 900)}" for i in range(n)]
    rows[7_777] = "7777,12.5"  # a spike
    rows[20_000] = "20000,nan"  # not drawable: dropped and counted
    project.write("logs/train.csv", "step,loss\n" + "\n".join(rows) + "\n")

    def loss_of(report: Report) -> DataPlot:
        plot = next(p for p in report.plots if p.name == "loss")
        assert isinstance(plot, DataPlot)
        return plot

    full = loss_of(collect(project.root, "main", None, {}, max_points=800))
    monkeypatch.setattr(collect_module, "THIN_BYTES", 1000)
    thin = loss_of(collect(project.root, "main", None, {}, max_points=800))

    assert thin.sampled_from == full.sampled_from == n
    assert thin.dropped == full.dropped == 1
    assert thin.changed and full.changed
    head = [p for p in thin.points if p.rev == "head" and p.series == "train.csv: loss"]
    assert len(head) <= 800
    assert max(p.y for p in head) == 12.5
    assert (head[0].x, head[-1].x) == (0, n - 1)
    # The base revision's small file is untouched by thinning: same points either way.
    base = [p for p in thin.points if p.rev == "base"]
    assert base == [p for p in full.points if p.rev == "base"]


@pytest.mark.parametrize(
    ("where", "dvc_yaml"),
    [
        ("big", "  - joined:\n      x: {big/x.csv: t}\n      y: {big/y.csv: v}\n"),
        # A nested dvc.yaml: DVC names its files from the project root already.
        ("sub", "plots:\n  - joined:\n      x: {x.csv: t}\n      y: {y.csv: v}\n"),
    ],
    ids=["root", "nested"],
)
def test_files_joined_row_by_row_are_never_thinned(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, where: str, dvc_yaml: str
) -> None:
    """`x` from one file and `y` from another: thinning each differently would break the join."""
    from dvc_cml.collect import plotdata as collect_module

    project = make_project("plots")
    n = 6000
    project.write(f"{where}/x.csv", "t\n" + "\n".join(str(i) for i in range(n)) + "\n")
    project.write(
        f"{where}/y.csv", "v\n" + "\n".join(str(math.sin(i / 99)) for i in range(n)) + "\n"
    )
    if where == "sub":
        project.write("sub/dvc.yaml", dvc_yaml)
    else:
        project.write("dvc.yaml", (project.root / "dvc.yaml").read_text() + dvc_yaml)
    monkeypatch.setattr(collect_module, "THIN_BYTES", 1000)
    report = collect(project.root, "main", None, {}, max_points=500)
    joined = next(p for p in report.plots if p.name.endswith("joined"))
    assert isinstance(joined, DataPlot)
    assert joined.problems == ()
    assert joined.sampled_from == n  # downsampled after the join, not before
    assert len(joined.points) <= 500


def test_files_of_charts_that_draw_every_row_are_never_thinned(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A confusion matrix counts every row and a bar chart shows each: a large file of
    numbers under either is read whole, where a line chart's would be downsampled.  The
    cells are DVC's own datapoints counted (`dvc plots diff --json`)."""
    from dvc_cml.collect import plotdata as collect_module

    project = make_project("plots")
    n = 6000
    rows = [f"{i % 3},{(i * 2) % 3 if i % 5 else i % 3}" for i in range(n)]
    project.write("preds/test.csv", "actual,predicted\n" + "\n".join(rows) + "\n")
    bars = [f"{i},{i * 0.5}" for i in range(n)]
    project.write("big/bars.csv", "feature,weight\n" + "\n".join(bars) + "\n")
    dvc_yaml = (project.root / "dvc.yaml").read_text()
    bar = "  - big/bars.csv:\n      template: bar_horizontal\n      x: weight\n      y: feature\n"
    project.write("dvc.yaml", dvc_yaml + bar)
    monkeypatch.setattr(collect_module, "THIN_BYTES", 1000)
    report = collect(project.root, "main", None, {}, max_points=500)
    plots = {p.name: p for p in report.plots}

    confusion = plots["confusion"]
    assert isinstance(confusion, DataPlot)
    ours: Counter[tuple[str, str]] = Counter()
    for p in confusion.points:
        if p.rev == "head" and p.series == "test.csv":
            ours[(str(p.x), str(p.y))] += p.count
    oracle = dvc_cli(project.root, "plots", "diff", "--json", "--split", "main")["data"]
    theirs = Counter(
        (r["actual"], r["predicted"])
        for r in dvc_rows(oracle["confusion"])
        if r["rev"] == "workspace" and r["filename"] == "test.csv"
    )
    assert ours == theirs and sum(ours.values()) == n
    assert confusion.sampled_from == 0

    bars_plot = plots["big/bars.csv"]
    assert isinstance(bars_plot, DataPlot)
    assert len(bars_plot.points) == n and bars_plot.sampled_from == 0
