"""Collecting metrics, params and plots from real git + DVC repositories."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import pytest

from dvc_cml.collect import collect, plotdata
from dvc_cml.errors import UserError
from dvc_cml.model import MISSING, DataPlot, ImagePlot, PlotKind, Status, Verdict
from tests.conftest import Project, git, git_bytes
from tests.shapes import dvc_cli, dvc_rows

MakeProject = Callable[[str], Project]


def values(rows: tuple) -> dict[tuple[str, str], tuple]:  # type: ignore[type-arg]
    return {(r.path, r.key): (r.base, r.head, r.status) for r in rows}


def test_nested_json_and_yaml_metrics_with_added_and_removed(make_project: MakeProject) -> None:
    project = make_project("nested")
    project.apply_head()
    report = collect(project.root, "main", None, {})

    got = values(report.metrics)
    assert got[("metrics.json", "train.loss")] == (0.5, 0.4, Status.CHANGED)
    assert got[("metrics.json", "test.auc")] == (0.81, 0.79, Status.CHANGED)
    assert got[("metrics.json", "test.accuracy")] == (0.75, 0.75, Status.UNCHANGED)
    assert got[("metrics.json", "test.f1")] == (MISSING, 0.7, Status.ADDED)
    assert got[("eval/scores.yaml", "per_class.cat.precision")] == (0.9, 0.92, Status.CHANGED)
    assert got[("eval/scores.yaml", "per_class.dog.recall")] == (0.72, 0.8, Status.CHANGED)
    assert got[("eval/scores.yaml", "old_score")] == (3, MISSING, Status.REMOVED)
    assert len(report.metrics) == 12

    verdicts = {r.key: r.verdict for r in report.metrics}
    assert verdicts["train.loss"] is Verdict.BETTER  # 0.5 -> 0.4, lower is better
    assert verdicts["test.auc"] is Verdict.WORSE
    assert verdicts["test.loss"] is Verdict.WORSE
    assert verdicts["epochs_run"] is Verdict.NEUTRAL

    assert report.base.name == "main"
    assert report.base.sha == git(project.root, "rev-parse", "main").strip()
    assert report.head.name == "workspace"


def test_params_of_every_file_a_stage_depends_on(make_project: MakeProject) -> None:
    project = make_project("nested")
    project.apply_head()
    report = collect(project.root, "main", None, {})

    got = values(report.params)
    assert got[("params.yaml", "train.lr")] == (0.01, 0.02, Status.CHANGED)
    assert got[("params.yaml", "train.optimizer.name")] == ("adam", "sgd", Status.CHANGED)
    assert got[("params.yaml", "train.dropout")] == (0.2, MISSING, Status.REMOVED)
    assert got[("params.yaml", "train.warmup")] == (MISSING, 100, Status.ADDED)
    assert got[("params.yaml", "train.optimizer.betas")] == (
        [0.9, 0.999],
        [0.9, 0.999],
        Status.UNCHANGED,
    )
    assert got[("eval.yaml", "threshold")] == (0.5, 0.5, Status.UNCHANGED)
    assert [r.key for r in report.changed_params()] == [
        "train.dropout",
        "train.lr",
        "train.optimizer.name",
        "train.warmup",
    ]


def test_two_commits_leave_the_repo_untouched(make_project: MakeProject) -> None:
    project = make_project("nested")
    project.branch("feature")
    project.apply_head()
    head_sha = project.commit("tune")
    git(project.root, "checkout", "-q", "main")
    report = collect(project.root, "main", "feature", {})

    assert report.head.name == "feature"
    assert report.head.sha == head_sha
    assert values(report.metrics)[("metrics.json", "train.loss")][:2] == (0.5, 0.4)
    assert project.status() == ""
    assert git(project.root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_head_tilde_and_sha_revisions(make_project: MakeProject) -> None:
    project = make_project("nested")
    base_sha = git(project.root, "rev-parse", "HEAD").strip()
    project.apply_head()
    project.commit("tune")
    report = collect(project.root, "HEAD~1", base_sha[:10], {})
    assert report.base.sha == base_sha
    assert report.head.sha == base_sha
    assert all(r.status is Status.UNCHANGED for r in report.metrics)


def test_plots_of_every_kind(make_project: MakeProject) -> None:
    project = make_project("plots")
    project.apply_head()
    report = collect(project.root, "main", None, {})

    plots = {p.name: p for p in report.plots}
    assert sorted(plots) == [
        "confusion",
        "curves/pr.json",
        "curves/unstable.csv",
        "images/new_only.png",
        "images/sample.png",
        "loss",
    ]
    loss = plots["loss"]
    assert isinstance(loss, DataPlot)
    assert loss.kind is PlotKind.LINE
    assert loss.title == "Training loss"
    # Two files mapped to `y`, 20 rows each at main and 25 in the workspace.
    series = {(p.rev, p.series) for p in loss.points}
    assert series == {
        ("base", "train.csv: loss"),
        ("base", "val.csv: loss"),
        ("head", "train.csv: loss"),
        ("head", "val.csv: loss"),
    }
    assert sum(p.rev == "base" for p in loss.points) == 40
    assert sum(p.rev == "head" for p in loss.points) == 50
    first = next(p for p in loss.points if p.rev == "base" and p.series == "train.csv: loss")
    assert (first.x, first.y) == (0, 1.0)  # CSV strings became numbers

    assert plots["curves/pr.json"].kind is PlotKind.SCATTER
    assert plots["confusion"].kind is PlotKind.CONFUSION
    unstable = plots["curves/unstable.csv"]
    assert isinstance(unstable, DataPlot)
    assert unstable.dropped == 6
    assert len(unstable.points) == 14

    sample = plots["images/sample.png"]
    assert isinstance(sample, ImagePlot)
    assert sample.base == git_bytes(project.root, "show", "main:images/sample.png")
    assert sample.head == (project.root / "images/sample.png").read_bytes()
    new_only = plots["images/new_only.png"]
    assert isinstance(new_only, ImagePlot)
    assert (new_only.base, new_only.revs()) == (None, ["head"])


def test_default_base_is_main_then_master_then_ci_target(make_project: MakeProject) -> None:
    project = make_project("nested")
    assert collect(project.root, None, None, {}).base.name == "main"

    git(project.root, "branch", "-m", "main", "master")
    assert collect(project.root, None, None, {}).base.name == "master"

    git(project.root, "branch", "release")
    env = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "release"}
    assert collect(project.root, None, None, env).base.name == "release"

    git(project.root, "branch", "-m", "master", "trunk")
    with pytest.raises(UserError, match="neither `main` nor `master` exists"):
        collect(project.root, None, None, {})


def test_same_revision_on_both_sides(make_project: MakeProject) -> None:
    project = make_project("plots")
    report = collect(project.root, "main", "main", {})
    assert {p.name: p.changed for p in report.plots}["loss"] is False
    loss = next(p for p in report.plots if p.name == "loss")
    assert isinstance(loss, DataPlot)
    assert loss.revs() == ["base", "head"]


def test_plot_field_renamed_in_head_still_draws_base(make_project: MakeProject) -> None:
    project = make_project("plots")
    project.apply_head()
    project.write("curves/unstable.csv", "step,reading\n0,1\n1,2\n")
    report = collect(project.root, "main", None, {})
    unstable = next(p for p in report.plots if p.name == "curves/unstable.csv")
    assert isinstance(unstable, DataPlot)
    assert unstable.revs() == ["base"]
    assert unstable.problems == (
        f"Not drawn for workspace ({report.head.short_sha} + uncommitted changes): Could not "
        "find provided field "
        "('value') in data fields ('step, reading').",
    )


def test_a_plot_that_fits_neither_revision_is_listed_with_the_reason(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    from dvc_cml.cli import main

    project = make_project("plots")
    dvc_yaml = (project.root / "dvc.yaml").read_text()
    project.write(
        "dvc.yaml", dvc_yaml + "  - broken:\n      x: step\n      y: {logs/train.csv: nope}\n"
    )
    assert main(["diff", "main", "-C", str(project.root), "--md"], env={}) == 0
    out = capsys.readouterr().out
    section = out.split("#### broken")[1].split("####")[0]
    assert "> Not drawn for workspace (" in section
    assert "Could not find provided field ('nope')" in section


def _custom_template(mark: object) -> str:
    import json

    return json.dumps(
        {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {"values": "<DVC_METRIC_DATA>"},
            "layer": [
                {"mark": mark, "encoding": {"x": {"field": "<DVC_METRIC_X>"}}},
            ],
        }
    )


def test_custom_templates_by_name_and_by_path_draw_as_the_nearest_built_in_kind(
    make_project: MakeProject,
) -> None:
    """DVC finds `template: NAME` in .dvc/plots/; dvc-cml draws it as the closest kind."""
    project = make_project("plots")
    project.write(".dvc/plots/dots.json", _custom_template({"type": "point", "filled": True}))
    project.write(".dvc/plots/lines_with_points.json", _custom_template("line"))
    dvc_yaml = (project.root / "dvc.yaml").read_text()
    project.write(
        "dvc.yaml",
        dvc_yaml
        + "  - by-name:\n      template: dots\n      x: step\n      y: {logs/train.csv: loss}\n"
        + "  - by-path:\n      template: .dvc/plots/lines_with_points.json\n"
        + "      x: step\n      y: {logs/val.csv: loss}\n"
        + "  - missing:\n      template: nowhere\n      x: step\n      y: {logs/val.csv: loss}\n",
    )
    project.commit("custom templates")
    project.write("logs/train.csv", "step,loss\n0,0.9\n1,0.7\n2,0.6\n")
    report = collect(project.root, "main", None, {})
    plots = {p.name: p for p in report.plots if isinstance(p, DataPlot)}

    assert (plots["by-name"].kind, plots["by-name"].template) == (PlotKind.SCATTER, "scatter")
    assert plots["by-name"].notes == (
        "Custom template `dots` drawn as the nearest built-in kind: scatter.",
    )
    assert plots["by-path"].kind is PlotKind.LINE
    assert plots["by-path"].notes == (
        "Custom template `.dvc/plots/lines_with_points.json` drawn as the nearest built-in "
        "kind: linear.",
    )
    assert plots["missing"].notes == ("Template `nowhere` was not found; drawn as a line chart.",)
    # Drawn from the data all the same: both revisions, every row of the CSV.
    base_rows = len(git(project.root, "show", "main:logs/train.csv").splitlines()) - 1
    by_name = plots["by-name"].points
    assert sum(p.rev == "base" for p in by_name) == base_rows
    assert [(p.x, p.y) for p in by_name if p.rev == "head"] == [(0, 0.9), (1, 0.7), (2, 0.6)]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"mark": "rect"}, "confusion"),
        ({"layer": [{"mark": "point"}, {"mark": {"type": "line"}}]}, "linear"),
        ({"hconcat": [{"mark": "bar"}]}, "bar_horizontal"),
        ({"mark": "circle"}, "scatter"),
        ({"mark": "arc"}, "linear"),
        ({}, "linear"),
    ],
)
def test_nearest_template_by_marks(content: dict[str, object], expected: str) -> None:
    from dvc_cml.collect.plotdata import nearest_template

    assert nearest_template(content) == expected


def test_axis_labels_name_the_fields_or_use_the_definition(make_project: MakeProject) -> None:
    project = make_project("plots")
    dvc_yaml = (project.root / "dvc.yaml").read_text()
    project.write(
        "dvc.yaml",
        dvc_yaml
        + "  - two-fields:\n      x: step\n      y: {logs/train.csv: [loss, acc]}\n"
        + "  - labelled:\n      x: step\n      y: {logs/train.csv: loss}\n"
        + "      x_label: epoch\n      y_label: cross-entropy\n      title: Loss by epoch\n",
    )
    project.write("logs/train.csv", "step,loss,acc\n0,1.0,0.5\n1,0.8,0.6\n2,0.7,0.65\n")
    report = collect(project.root, "main", None, {})
    plots = {p.name: p for p in report.plots if isinstance(p, DataPlot)}

    assert (plots["two-fields"].x_label, plots["two-fields"].y_label) == ("step", "acc, loss")
    labelled = plots["labelled"]
    assert (labelled.x_label, labelled.y_label, labelled.title) == (
        "epoch",
        "cross-entropy",
        "Loss by epoch",
    )
    assert plots["loss"].y_label == "loss"  # one field over two files: the field


# --- confusion rows counted before DVC's matching ----------------------------------------


def _one_revision(definitions: dict[str, Any], sources: dict[str, Any]) -> dict[str, Any]:
    """DVC's `plots.collect` shape for one revision of a root dvc.yaml, data loaded."""
    files = {path: {"data": content} for path, content in sources.items()}
    return {
        "main": {
            "definitions": {"data": {"dvc.yaml": {"data": definitions}}},
            "sources": {"data": files},
        }
    }


def _counted_in_place(data: dict[str, Any]) -> None:
    plotdata.count_confusion_rows(data)


CONFUSION = {"template": "confusion", "x": "actual", "y": {"preds.json": "predicted"}}
ROWS = [{"actual": a, "predicted": p} for a, p in [(0, 0), (0, 1), (0, 0), (1, 1), (0, 0)]]


def test_confusion_rows_become_one_row_per_cell_with_its_count() -> None:
    data = _one_revision({"cm": CONFUSION}, {"preds.json": [dict(r) for r in ROWS]})
    _counted_in_place(data)
    rows = data["main"]["sources"]["data"]["preds.json"]["data"]
    assert {(r["actual"], r["predicted"]): r[plotdata.ROWS] for r in rows} == {
        (0, 0): 3,
        (0, 1): 1,
        (1, 1): 1,
    }
    # Under a key of the file, as sklearn-style JSON has them: the list is replaced there.
    data = _one_revision({"cm": CONFUSION}, {"preds.json": {"rows": [dict(r) for r in ROWS]}})
    _counted_in_place(data)
    assert len(data["main"]["sources"]["data"]["preds.json"]["data"]["rows"]) == 3


@pytest.mark.parametrize(
    ("definitions", "content"),
    [
        # Another plot reads the same file: it needs every row.
        ({"cm": CONFUSION, "preds.json": {"template": "scatter", "x": "actual"}}, ROWS),
        # Two matrices on different fields of one file.
        (
            {"cm": CONFUSION, "cm2": {**CONFUSION, "y": {"preds.json": "actual"}}},
            ROWS,
        ),
        # Rows of mixed keys (DVC reads no datapoints from them), a value that is a list,
        # two lists in the file (DVC joins them row by row), and a row without the field.
        ({"cm": CONFUSION}, [*ROWS, {"actual": 1}]),
        ({"cm": CONFUSION}, [*ROWS, {"actual": [1], "predicted": 1}]),
        ({"cm": CONFUSION}, {"a": ROWS, "b": ROWS}),
        ({"cm": {**CONFUSION, "y": {"preds.json": "label"}}}, ROWS),
    ],
    ids=["shared-file", "other-fields", "mixed-keys", "list-value", "two-lists", "no-field"],
)
def test_confusion_rows_left_as_dvc_reads_them(definitions: dict[str, Any], content: Any) -> None:
    data = _one_revision(definitions, {"preds.json": content})
    before = repr(data)
    _counted_in_place(data)
    assert repr(data) == before


def test_rows_counted_as_one_revision_read_are_rows_again_if_the_merged_plot_is_not_a_matrix() -> (
    None
):
    """DVC merges a plot's definitions over the revisions, the base's first: counted while
    `exp` was read, its rows are rows again when the base draws that plot as lines."""
    lines = {**CONFUSION, "template": "linear"}
    data = _one_revision({"cm": lines}, {"preds.json": [dict(r) for r in ROWS]})
    data |= {
        "exp": _one_revision({"cm": CONFUSION}, {"preds.json": [dict(r) for r in ROWS]})["main"]
    }
    _counted_in_place({"exp": data["exp"]})
    assert len(data["exp"]["sources"]["data"]["preds.json"]["data"]) == 3
    _counted_in_place(data)
    assert data["main"]["sources"]["data"]["preds.json"]["data"] == ROWS
    again = data["exp"]["sources"]["data"]["preds.json"]["data"]
    key = itemgetter("actual", "predicted")
    assert sorted(again, key=key) == sorted(ROWS, key=key)  # grouped by cell now
    # Counted at every revision, once and for all: a second pass changes nothing.
    data = _one_revision({"cm": CONFUSION}, {"preds.json": [dict(r) for r in ROWS]})
    _counted_in_place(data)
    once = repr(data)
    _counted_in_place(data)
    assert repr(data) == once


def test_confusion_cells_equal_the_rows_dvc_matches(make_project: MakeProject) -> None:
    """Counted before matching or not (in the workspace preds/val.csv is drawn on its own
    too, so its rows stay), every cell at every revision holds as many rows as DVC's own
    datapoints (`dvc plots diff --json`), and the other plot keeps every row."""
    project = make_project("plots")
    project.apply_head()
    dvc_yaml = (project.root / "dvc.yaml").read_text()
    extra = "  - preds/val.csv:\n      template: scatter\n      x: actual\n      y: predicted\n"
    project.write("dvc.yaml", dvc_yaml + extra)
    report = collect(project.root, "main", None, {})
    oracle = dvc_cli(project.root, "plots", "diff", "--json", "--split", "main")["data"]

    revs = {"base": "main", "head": "workspace"}
    plots = {p.name: p for p in report.plots}
    confusion = plots["confusion"]
    assert isinstance(confusion, DataPlot)
    ours = {(revs[p.rev], p.series, str(p.x), str(p.y)): p.count for p in confusion.points}
    theirs = Counter(
        (r["rev"], r["filename"], r["actual"], r["predicted"])
        for r in dvc_rows(oracle["confusion"])
    )
    assert ours == dict(theirs)
    assert sum(ours.values()) == 30 + 12 + 30 + 12  # both files, both revisions

    scatter = plots["preds/val.csv"]
    assert isinstance(scatter, DataPlot)
    assert len(scatter.points) == len(dvc_rows(oracle["preds/val.csv"])) == 12


def test_a_file_cannot_pass_its_rows_off_as_counted(make_project: MakeProject) -> None:
    """A branch writes any key, the old marker of counted rows too, with a count of 10**12:
    such rows are rows like any other, counted once each (never made 10**12 rows), as DVC's
    own datapoints say (`dvc plots diff --json`)."""
    forged = [{**row, "\x00dvc-cml rows": 10**12} for row in ROWS]
    shared = {"cm": CONFUSION, "preds.json": {"template": "scatter", "x": "actual"}}
    data = _one_revision(shared, {"preds.json": [dict(r) for r in forged]})
    _counted_in_place(data)
    assert data["main"]["sources"]["data"]["preds.json"]["data"] == forged

    project = make_project("plots")
    project.apply_head()
    project.write("preds/forged.json", json.dumps(forged * 3))
    dvc_yaml = (project.root / "dvc.yaml").read_text()
    extra = (
        "  - forged:\n      template: confusion\n      x: actual\n"
        "      y:\n        preds/forged.json: predicted\n"
    )
    project.write("dvc.yaml", dvc_yaml + extra)
    report = collect(project.root, "main", None, {})
    oracle = dvc_cli(project.root, "plots", "diff", "--json", "--split", "main")["data"]
    [plot] = [p for p in report.plots if p.name == "forged"]
    assert isinstance(plot, DataPlot)
    ours = {(p.x, p.y): p.count for p in plot.points}
    assert ours == dict(Counter((r["actual"], r["predicted"]) for r in dvc_rows(oracle["forged"])))
    assert ours == {(0, 0): 9, (0, 1): 3, (1, 1): 3}
