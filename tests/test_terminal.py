"""The terminal view, piped (plain ASCII mode, fixed width): exact lines and sparklines."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from dvc_cml.model import (
    MISSING,
    DataPlot,
    Direction,
    ImagePlot,
    PlotKind,
    Point,
    RenderedPlot,
    Report,
    Revision,
    Row,
)
from dvc_cml.render import terminal

BASE = Revision("main", "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
HEAD = Revision("workspace", "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
LABELS = {"base": "main (1111111)", "head": "workspace (2222222)"}
OUT = Path("out")

LOSS = DataPlot(
    name="loss",
    title="Training loss",
    template="linear",
    x_label="step",
    y_label="loss",
    points=(
        Point("base", "loss", 0, 1.0),
        Point("base", "loss", 1, 0.5),
        Point("base", "loss", 2, 0.25),
        Point("head", "loss", 2, 0.1),  # out of order on purpose: sorted by x
        Point("head", "loss", 0, 0.9),
        Point("head", "loss", 1, 0.4),
    ),
)
PR = DataPlot("pr.json", "pr.json", "scatter", "recall", "precision", (Point("base", "p", 0, 1),))
SAMPLE = ImagePlot("images/sample.png", b"a", b"a")

RENDERED = (
    RenderedPlot(
        name="loss",
        title="Training loss",
        kind=PlotKind.LINE,
        changed=True,
        png="plots/loss.png",
        spec="plots/loss.vl.json",
        notes=("1 NaN/Infinity point(s) left out of the chart.",),
    ),
    RenderedPlot(
        name="pr.json",
        title="pr.json",
        kind=PlotKind.SCATTER,
        changed=True,
        png=None,  # vl-convert failed: no PNG to list
        spec="plots/pr-json.vl.json",
        notes=("The chart could not be rendered: boom",),
    ),
    RenderedPlot(
        name="images/sample.png",
        title="images/sample.png",
        kind=PlotKind.IMAGE,
        changed=False,
        images=(
            ("base", "plots/images-sample-png.base.png"),
            ("head", "plots/images-sample-png.head.png"),
        ),
    ),
)

REPORT = Report(
    base=BASE,
    head=HEAD,
    metrics=(
        Row("metrics.json", "acc", 0.9, 0.95, Direction.HIGHER),
        Row("metrics.json", "epochs", 10, 10),
        Row("metrics.json", "f1", MISSING, 0.7, Direction.HIGHER),
        Row("metrics.json", "loss", 0.2, 0.3, Direction.LOWER),
        Row("metrics.json", "notes", "a", "b"),
    ),
    params=(
        Row("params.yaml", "lr", 0.01, 0.001),
        Row("params.yaml", "seed", 42, 42),
        Row("params.yaml", "layers", [64, 32], [128, 64]),
    ),
    plots=(LOSS, PR, SAMPLE),
)


def shown(report: Report, plots: tuple[RenderedPlot, ...] = ()) -> str:
    stream = io.StringIO()
    terminal.show(report, plots, OUT, OUT / "report.md", stream)
    return stream.getvalue()


def table_rows(text: str, title: str) -> list[list[str]]:
    """The stripped cells of each body row of the ASCII table under `title`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip() == title)
    table = []
    for line in lines[start + 1 :]:
        if not line.startswith(("|", "+")):
            break
        table.append(line)
    body = [line for line in table if line[0] == "|" and line.strip("|+- ")]  # no separators
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in body]


# --- sparkline ---------------------------------------------------------------------------


def test_sparkline_spans_every_level() -> None:
    assert terminal.sparkline([0, 1, 2, 3, 4, 5, 6, 7], 0, 7) == "▁▂▃▄▅▆▇█"
    assert terminal.sparkline([7, 6, 5, 4, 3, 2, 1, 0], 0, 7) == "█▇▆▅▄▃▂▁"


def test_sparkline_constant_empty_and_clamped() -> None:
    assert terminal.sparkline([3, 3, 3], 3, 3) == "▁▁▁"
    assert terminal.sparkline([], 0, 1) == ""
    assert terminal.sparkline([-5, 20], 0, 10) == "▁█"  # outside [lo, hi]: clamped


def test_sparkline_averages_buckets_down_to_width() -> None:
    # Ten values in five buckets of two: means 0.5, 2.5, 4.5, 6.5, 8.5 on a 0..9 scale.
    assert terminal.sparkline(list(range(10)), 0, 9, width=5) == "▁▃▅▆█"
    long = terminal.sparkline(list(range(64)), 0, 63)
    assert len(long) == terminal.SPARK_WIDTH == 32
    assert (long[0], long[-1]) == ("▁", "█")
    assert list(long) == sorted(long)  # monotonic input, monotonic bars


def test_sparklines_one_line_per_series_and_revision() -> None:
    assert terminal.sparklines(LOSS, LABELS) == [
        # One scale for all lines (0.1 .. 1.0); last value is the one at the largest x.
        ("main (1111111)", "loss", "█▄▂", "0.25"),
        ("workspace (2222222)", "loss", "▇▃▁", "0.1"),
    ]


def test_sparklines_sort_series_and_skip_missing_revisions() -> None:
    plot = DataPlot(
        "acc",
        "acc",
        "linear",
        "step",
        "acc",
        (
            Point("head", "val", 0, 0.5),
            Point("head", "val", 1, 0.75),
            Point("base", "train", 0, 0.25),
            Point("head", "train", 0, 0.5),
            Point("head", "train", 1, 1.0),
        ),
    )
    assert terminal.sparklines(plot, LABELS) == [
        ("main (1111111)", "train", "▁", "0.25"),
        ("workspace (2222222)", "train", "▃█", "1"),
        ("workspace (2222222)", "val", "▃▆", "0.75"),
    ]


def test_sparklines_need_numbers() -> None:
    plot = DataPlot("d", "d", "linear", "day", "n", (Point("base", "n", "mon", 1),))
    assert terminal.sparklines(plot, LABELS) == []


# --- the whole view ------------------------------------------------------------------------


def test_show_plain_has_no_escape_codes_and_ascii_tables() -> None:
    text = shown(REPORT, RENDERED)
    assert "\x1b[" not in text
    lines = text.splitlines()
    assert lines[0] == "DVC report: main (1111111) -> workspace (2222222)"
    assert lines[-1] == "Report written to out/report.md"
    table_lines = [line for line in lines if line.startswith(("|", "+"))]
    assert len(table_lines) == 2 * 4 + 5 + 2  # two tables' frames, 5 metrics, 2 changed params
    assert all(len(line) <= terminal.PLAIN_WIDTH for line in table_lines)
    assert all(line.isascii() for line in table_lines if "—" not in line)


def test_show_metrics_table_cells_and_verdict_words() -> None:
    rows = table_rows(shown(REPORT), "Metrics")
    assert rows == [
        ["Path", "Metric", "main", "workspace", "Change", "%"],
        ["metrics.json", "acc", "0.9", "0.95", "+0.05 better", "+5.6%"],
        ["metrics.json", "epochs", "10", "10", "", ""],
        ["metrics.json", "f1", "—", "0.7", "added", ""],
        ["metrics.json", "loss", "0.2", "0.3", "+0.1 worse", "+50.0%"],
        ["metrics.json", "notes", "a", "b", "changed", ""],
    ]


def test_show_lists_only_changed_params() -> None:
    text = shown(REPORT)
    assert "Params (2 of 3 changed)" in [line.rstrip() for line in text.splitlines()]
    assert table_rows(text, "Params (2 of 3 changed)") == [
        ["Path", "Param", "main", "workspace", "Change", "%"],
        ["params.yaml", "lr", "0.01", "0.001", "-0.009", "-90.0%"],
        ["params.yaml", "layers", "[64, 32]", "[128, 64]", "changed", ""],
    ]


def test_show_without_metrics_or_changed_params() -> None:
    report = Report(BASE, HEAD, params=(Row("params.yaml", "seed", 42, 42),))
    assert shown(report).splitlines() == [
        "DVC report: main (1111111) -> workspace (2222222)",
        "nothing changed",
        "No metrics at either revision.",
        "Params: none of 1 changed.",
        "Report written to out/report.md",
    ]


def test_show_plots_with_paths_notes_and_sparklines() -> None:
    lines = shown(REPORT, RENDERED).splitlines()
    start = lines.index("Plots")
    assert lines[start:-1] == [
        "Plots",
        "  Training loss [line]",
        "    out/plots/loss.png",
        "    1 NaN/Infinity point(s) left out of the chart.",
        "    main (1111111)      loss █▄▂ 0.25",
        "    workspace (2222222) loss ▇▃▁ 0.1",
        "  pr.json [scatter]",
        "    The chart could not be rendered: boom",
        "  images/sample.png [image] (unchanged)",
        "    out/plots/images-sample-png.base.png",
        "    out/plots/images-sample-png.head.png",
    ]


def test_long_paths_are_not_wrapped() -> None:
    out = Path("/tmp") / ("deep/" * 25)
    plot = RENDERED[0]
    stream = io.StringIO()
    terminal.show(Report(BASE, HEAD, plots=(LOSS,)), (plot,), out, out / "report.md", stream)
    lines = stream.getvalue().splitlines()
    assert f"    {out / 'plots/loss.png'}" in lines
    assert lines[-1] == f"Report written to {out / 'report.md'}"
    assert len(lines[-1]) > terminal.PLAIN_WIDTH


def test_renderables_plain_text_items() -> None:
    from rich.table import Table
    from rich.text import Text

    items = terminal.renderables(REPORT, RENDERED, OUT, plain=True)
    assert [type(item) for item in items[:4]] == [Text, Text, Table, Table]
    texts = [item.plain for item in items if isinstance(item, Text)]
    assert texts[0] == "DVC report: main (1111111) -> workspace (2222222)"
    assert texts[1] == terminal.summary.line(REPORT.summary(RENDERED))
    assert texts.count("Plots") == 1
    assert len(texts) == 1 + 1 + 1 + 10  # header, verdict, "Plots", the 10 lines under it


@pytest.mark.parametrize("value", ["[64, 32]", "data/[train]/*.csv", "[/tmp]"])
def test_cells_with_brackets_are_shown_verbatim(value: str) -> None:
    report = Report(BASE, HEAD, params=(Row("params.yaml", "glob", value, "x"),))
    rows = table_rows(shown(report), "Params (1 of 1 changed)")
    assert rows[1] == ["params.yaml", "glob", value, "x", "changed", ""]


# --- fitting the terminal: widths 80 and 120 ---------------------------------------------

# What dvclive writes: a step series per file with a long name, a ROC curve (x is a rate, not
# a step) and a confusion matrix.
DVCLIVE_LOSS = DataPlot(
    "dvclive/plots/metrics/train/loss.tsv",
    "dvclive/plots/metrics/train/loss.tsv",
    "linear",
    "step",
    "loss",
    tuple(
        Point(rev, "dvclive/plots/metrics/train/loss.tsv: loss", step, round(1 / (step + 1) + d, 4))
        for rev, d in (("base", 0.1), ("head", 0.0))
        for step in range(40)
    ),
)
ROC = DataPlot(
    "dvclive/plots/sklearn/roc/test.json",
    "ROC",
    "simple",
    "fpr",
    "tpr",
    tuple(
        Point(rev, "tpr", x / 10, round(math.sqrt(x / 10) * k, 4))
        for rev, k in (("base", 0.9), ("head", 1.0))
        for x in range(11)
    ),
)
CONFUSION = DataPlot(
    "dvclive/plots/sklearn/confusion_matrix.json",
    "Confusion matrix",
    "confusion",
    "actual",
    "predicted",
    tuple(
        Point(rev, "cm.json", actual, predicted, n)
        for rev, cells in (
            (
                "base",
                {("cat", "cat"): 14, ("cat", "dog"): 1, ("dog", "cat"): 2, ("dog", "dog"): 13},
            ),
            ("head", {("cat", "cat"): 15, ("dog", "cat"): 1, ("dog", "dog"): 14}),
        )
        for (actual, predicted), n in cells.items()
    ),
)
DVCLIVE = (DVCLIVE_LOSS, ROC, CONFUSION)


def plot_view(width: int, plots: tuple[DataPlot, ...] = DVCLIVE) -> list[str]:
    rendered = tuple(
        RenderedPlot(p.name, p.title, p.kind, True, png=f"plots/{n}.png")
        for n, p in enumerate(plots)
    )
    stream = io.StringIO()
    terminal.show(Report(BASE, HEAD, plots=plots), rendered, OUT, OUT / "report.md", stream, width)
    lines = stream.getvalue().splitlines()
    return lines[lines.index("Plots") + 1 : -1]


def test_plots_fit_80_columns() -> None:
    assert plot_view(80) == [
        "  dvclive/plots/metrics/train/loss.tsv [line]",
        "    out/plots/0.png",
        "    main (1111111)      …ots/metrics/train/loss.tsv: loss ▆▃▂▂▂▂▂▂▂▂▂▂▂▂▂▂ 0.125",
        "    workspace (2222222) …ots/metrics/train/loss.tsv: loss ▆▃▂▂▁▁▁▁▁▁▁▁▁▁▁▁ 0.025",
        "  ROC [line]",
        "    out/plots/1.png",
        "    main (1111111)      tpr ▁▃▄▄▅▅▆▆▇▇▇",
        "    workspace (2222222) tpr ▁▃▄▅▅▆▆▇▇██",
        "  Confusion matrix [confusion]",
        "    out/plots/2.png",
        "    rows: actual, columns: predicted",
        "    main (1111111): 27 of 30 on the diagonal (90.0%)",
        "          cat dog",
        "      cat  14   1",
        "      dog   2  13",
        "    workspace (2222222): 29 of 30 on the diagonal (96.7%)",
        "          cat dog",
        "      cat  15   0",
        "      dog   1  14",
    ]


def test_plots_use_120_columns() -> None:
    lines = plot_view(120)
    assert lines[2:4] == [
        "    main (1111111)      dvclive/plots/metrics/train/loss.tsv: loss "
        "█▅▄▃▃▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂ 0.125",
        "    workspace (2222222) dvclive/plots/metrics/train/loss.tsv: loss "
        "▇▄▃▂▂▂▂▂▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁ 0.025",
    ]
    assert lines[4:] == plot_view(80)[4:]  # the ROC and the matrix fit either way


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_no_plot_line_is_wider_than_the_terminal(width: int) -> None:
    lines = [line for line in plot_view(width) if not line.startswith("    out/")]
    assert max(map(len, lines)) <= width


def test_on_a_narrow_terminal_the_names_give_way_to_the_sparkline() -> None:
    assert terminal.spark_lines(DVCLIVE_LOSS, LABELS, 48) == [
        "    main (11111… …v: loss ▆▃▂▂▂▂▂▂▂▂▂▂▂▂▂▂ 0.125",
        "    workspace (… …v: loss ▆▃▂▂▁▁▁▁▁▁▁▁▁▁▁▁ 0.025",
    ]


def test_a_step_series_ends_with_its_last_value_a_curve_does_not() -> None:
    assert terminal.is_steps([0, 1, 2, 3])
    assert terminal.is_steps([1.0, 2.0, 5.0])  # epochs written as floats
    assert terminal.is_steps([3, 1, 2])  # the order of the file does not matter
    assert not terminal.is_steps([0.0, 0.1, 0.5, 1.0])  # a ROC's false positive rate
    assert not terminal.is_steps([0, 1, 1, 2])  # a step twice: not one series of steps
    assert [last for *_, last in terminal.sparklines(ROC, LABELS)] == ["", ""]
    assert [last for *_, last in terminal.sparklines(DVCLIVE_LOSS, LABELS)] == ["0.125", "0.025"]


def test_a_large_confusion_matrix_is_summarised() -> None:
    classes = [f"class-{n}" for n in range(12)]
    cells = {
        (a, b): (30 if a == b else (5 if b == classes[0] else 0)) for a in classes for b in classes
    }
    cells[(classes[3], classes[7])] = 9
    plot = DataPlot(
        "cm",
        "cm",
        "confusion",
        "actual",
        "predicted",
        tuple(Point("head", "cm.json", a, b, n) for (a, b), n in cells.items() if n),
    )
    assert terminal.confusion_lines(plot, LABELS, 80) == [
        "    rows: actual, columns: predicted",
        "    workspace (2222222): 360 of 424 on the diagonal (84.9%)",
        "      most often mistaken: class-3 as class-7: 9, class-9 as class-0: 5",
    ]
    assert terminal.confusion_lines(plot, LABELS, 120)[2] == (
        "      most often mistaken: class-3 as class-7: 9, class-9 as class-0: 5, "
        "class-8 as class-0: 5"
    )
