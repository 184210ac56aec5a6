"""The Markdown renderer and cell formatting, against exact strings."""

from __future__ import annotations

import pytest

from dvc_cml import format as fmt
from dvc_cml.model import (
    MISSING,
    DataChange,
    Direction,
    Output,
    ParamChange,
    PlotKind,
    RenderedPlot,
    Report,
    Revision,
    Row,
    StageChange,
)
from dvc_cml.render import markdown, mdtext

BASE = Revision("main", "1111111aaaaaaa")
HEAD = Revision("workspace", "2222222bbbbbbb")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.76667, "0.76667"),
        (0.7, "0.7"),
        (0.123456789, "0.12346"),
        (1234.5678, "1234.6"),
        (123456.7, "123457"),
        (0.001, "0.001"),
        (0.00001234, "1.2340e-05"),
        (3, "3"),
        (0.0, "0"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_number(value: float, text: str) -> None:
    assert fmt.number(value) == text


def test_signed_number() -> None:
    assert fmt.number(0.05532, sign=True) == "+0.05532"
    assert fmt.number(-0.0381, sign=True) == "-0.0381"
    assert fmt.number(15, sign=True) == "+15"


def test_values_of_every_type() -> None:
    assert [fmt.value(v) for v in (MISSING, None, True, "adam", [0.9, 0.999])] == [
        "—",
        "null",
        "true",
        "adam",
        "[0.9, 0.999]",
    ]


def test_row_change_percent_and_marker() -> None:
    loss = Row("m.json", "test.loss", 0.5, 0.4, Direction.LOWER)
    assert (fmt.change(loss), fmt.percent(loss), fmt.marker(loss)) == ("-0.1", "-20.0%", "✅")
    acc = Row("m.json", "acc", 0.8, 0.6, Direction.HIGHER)
    assert (fmt.change(acc), fmt.percent(acc), fmt.marker(acc)) == ("-0.2", "-25.0%", "❌")
    from_zero = Row("m.json", "n", 0, 3)
    assert (fmt.change(from_zero), fmt.percent(from_zero), fmt.marker(from_zero)) == ("+3", "", "")
    text = Row("p.yaml", "opt", "adam", "sgd")
    assert fmt.change(text) == "changed"
    assert fmt.change(Row("m.json", "f1", MISSING, 0.7)) == "added"
    assert fmt.change(Row("m.json", "f1", 0.7, MISSING)) == "removed"
    assert fmt.change(Row("m.json", "f1", 1, 1.0)) == ""


def test_escape_keeps_tables_and_html_intact() -> None:
    assert mdtext.escape("a|b") == "a&#124;b"
    assert mdtext.escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert mdtext.escape("x\ny") == "x<br>y"
    assert mdtext.escape("val_loss *[x]*") == "val\\_loss \\*\\[x\\]\\*"


def test_full_report() -> None:
    report = Report(
        base=BASE,
        head=HEAD,
        metrics=(
            Row("metrics.json", "test.acc", 0.75, 0.8, Direction.HIGHER),
            Row("metrics.json", "test.f1", MISSING, 0.7, Direction.HIGHER),
            Row("metrics.json", "train.loss", 0.5, 0.5, Direction.LOWER),
            Row("metrics.json", "a|b<i>", 1, 2),
        ),
        params=(
            Row("params.yaml", "train.lr", 0.01, 0.02),
            Row("params.yaml", "train.epochs", 10, 10),
            Row("params.yaml", "train.dropout", 0.2, MISSING),
        ),
    )
    plots = [
        RenderedPlot(
            name="loss",
            title="Training loss",
            kind=PlotKind.LINE,
            changed=True,
            png="plots/loss.png",
            spec="plots/loss.vl.json",
        ),
        RenderedPlot(
            name="images/sample.png",
            title="images/sample.png",
            kind=PlotKind.IMAGE,
            changed=False,
            images=(("base", "plots/s.base.png"), ("head", "plots/s.head.png")),
        ),
        RenderedPlot(
            name="images/new.png",
            title="images/new.png",
            kind=PlotKind.IMAGE,
            changed=True,
            images=(("head", "plots/n.head.png"),),
            notes=("Only at workspace (2222222): not present at main (1111111).",),
        ),
    ]
    expected = """\
## DVC report: **main** (`1111111`) → **workspace** (`2222222`)

**1 metric better, 1 changed, 1 unchanged, 1 new · 2 params changed · 2 of 3 plots changed**

### Metrics

| Path | Metric | main | workspace | Change | % |
|:---|:---|---:|---:|---:|---:|
| metrics.json | test.acc | 0.75 | 0.8 | +0.05 ✅ | +6.7% |
| metrics.json | test.f1 | — | 0.7 | added |  |
| metrics.json | train.loss | 0.5 | 0.5 |  |  |
| metrics.json | a&#124;b&lt;i&gt; | 1 | 2 | +1 | +100.0% |

3 of 4 metrics changed. ✅ better, ❌ worse (direction guessed from the metric's name).

### Params

| Path | Param | main | workspace | Change |
|:---|:---|---:|---:|---:|
| params.yaml | train.lr | 0.01 | 0.02 | +0.01 |
| params.yaml | train.dropout | 0.2 | — | removed |

<details><summary>All params (3)</summary>

| Path | Param | main | workspace | Change |
|:---|:---|---:|---:|---:|
| params.yaml | train.lr | 0.01 | 0.02 | +0.01 |
| params.yaml | train.epochs | 10 | 10 |  |
| params.yaml | train.dropout | 0.2 | — | removed |

</details>

### Plots

#### Training loss

<sub>loss</sub>

![Training loss](plots/loss.png)

<sub>[Vega-Lite spec](plots/loss.vl.json)</sub>

#### images/new.png

| workspace (2222222) |
|:---|
| ![workspace (2222222)](plots/n.head.png) |

> Only at workspace (2222222): not present at main (1111111).

<details><summary>1 unchanged plot</summary>

#### images/sample.png

| main (1111111) | workspace (2222222) |
|:---|:---|
| ![main (1111111)](plots/s.base.png) | ![workspace (2222222)](plots/s.head.png) |


</details>
"""
    assert markdown.render(report, plots) == expected


def test_report_without_anything_changed_or_plotted() -> None:
    report = Report(base=BASE, head=HEAD, params=(Row("params.yaml", "lr", 0.1, 0.1),))
    assert markdown.render(report, []) == (
        "## DVC report: **main** (`1111111`) → **workspace** (`2222222`)\n"
        "\n"
        "**nothing changed**\n"
        "\n"
        "### Metrics\n"
        "\n"
        "No metrics at either revision.\n"
        "\n"
        "### Params\n"
        "\n"
        "No params changed.\n"
        "\n"
        "<details><summary>All params (1)</summary>\n"
        "\n"
        "| Path | Param | main | workspace | Change |\n"
        "|:---|:---|---:|---:|---:|\n"
        "| params.yaml | lr | 0.1 | 0.1 |  |\n"
        "\n"
        "</details>\n"
        "\n"
        "### Plots\n"
        "\n"
        "No plots at either revision.\n"
    )


def test_many_metrics_changed_first_by_size_and_unchanged_folded() -> None:
    metrics = [Row("m.json", f"same_{i:02d}", 1, 1) for i in range(30)]
    metrics += [
        Row("m.json", "small", 100, 101),  # +1%
        Row("m.json", "big", 10, 20),  # +100%
        Row("m.json", "from_zero", 0, 5),  # no relative change: after those that have one
        Row("m.json", "new", MISSING, 1),
        Row("m.json", "drop", 50, 25, Direction.HIGHER),  # -50%
    ]
    report = Report(base=BASE, head=HEAD, metrics=tuple(metrics))
    text = markdown.render(report, [])
    section = text.split("### Metrics")[1].split("### Params")[0]
    changed_table, folded = section.split("<details>")
    order = [line.split(" | ")[1] for line in changed_table.splitlines() if line.startswith("| m.")]
    assert order == ["big", "drop", "small", "from\\_zero", "new"]
    assert "<summary>30 unchanged metrics</summary>" in folded
    assert folded.count("| m.json | same\\_") == 30
    assert "5 of 35 metrics changed." in section


def test_unchanged_plots_are_listed_not_drawn_and_many_plots_grouped() -> None:
    plots = [
        RenderedPlot(f"plots/class_{i}.csv", f"Class {i}", PlotKind.LINE, True, png=f"p/{i}.png")
        for i in range(11)
    ]
    plots += [RenderedPlot("loss", "Loss", PlotKind.LINE, True, png="p/loss.png")]
    plots += [RenderedPlot("eval/roc.json", "ROC", PlotKind.SCATTER, False)]
    text = markdown.render(Report(base=BASE, head=HEAD), plots)
    section = text.split("### Plots")[1]
    assert "#### plots/ (11)" in section
    assert "#### dvc.yaml plots (1)" in section
    assert section.count("##### Class ") == 11
    assert section.index("#### plots/ (11)") < section.index("##### Loss")
    assert section.endswith(
        "<details><summary>1 unchanged plot</summary>\n\n- ROC <sub>eval/roc.json</sub>\n\n"
        "</details>\n"
    )
    assert "ROC](" not in section


def _output(path: str, size: int, files: int | None = None) -> Output:
    return Output(path, size, files, "d41d8cd98f00b204e9800998ecf8427e")


DATA = (
    DataChange(
        "data/raw/",
        "modified",
        _output("data/raw/", 18_000, 3),
        _output("data/raw/", 2_500_000, 4),
        inside=(("added", 1), ("modified", 1)),
    ),
    DataChange("data/new_model.pkl", "added", None, _output("data/new_model.pkl", 999)),
    DataChange(
        "data/b.csv", "renamed", _output("data/a.csv", 12), _output("data/b.csv", 12), "data/a.csv"
    ),
)
STAGES = (
    StageChange("evaluate", "added"),
    StageChange(
        "train_model",
        "changed",
        command=True,
        deps=("data/prepared",),
        params=(ParamChange("train.lr", 0.1, 0.05), ParamChange("train.seed", MISSING, 7)),
        outs=("model.pkl", "metrics.json"),
    ),
)


def test_data_and_pipeline_sections() -> None:
    report = Report(BASE, HEAD, data=DATA, tracked=5, stages=STAGES, stages_unchanged=2)
    text = markdown.render(report, [])
    assert text.split("\n")[2] == (
        "**data: 1 directory and 2 files changed · pipeline: 2 of 4 stages changed**"
    )
    pipeline = text.split("### Pipeline\n\n", 1)[1].split("\n### ", 1)[0]
    assert pipeline == (
        "| Stage | Change | Command | Dependencies | Params | Outputs |\n"
        "|:---|:---|:---|:---|:---|:---|\n"
        "| evaluate | added |  |  |  |  |\n"
        "| train\\_model | changed | changed | data/prepared | train.lr: 0.1 → 0.05<br>"
        "train.seed: — → 7 | model.pkl<br>metrics.json |\n"
        "\n"
        "2 of 4 stages in dvc.lock unchanged.\n"
    )
    data = text.split("### Data\n\n", 1)[1].split("\n### ", 1)[0]
    assert data == (
        "| Path | Change | main | workspace |\n"
        "|:---|:---|---:|---:|\n"
        "| data/raw/ | modified (1 added, 1 modified inside) | 3 files, 18.0 kB "
        "| 4 files, 2.5 MB |\n"
        "| data/new\\_model.pkl | added | — | 999 B |\n"
        "| data/a.csv → data/b.csv | renamed | 12 B | 12 B |\n"
        "\n"
        "3 of 5 DVC-tracked outputs changed.\n"
    )


def test_many_data_changes_are_folded_and_unchanged_data_is_said() -> None:
    many = tuple(
        DataChange(f"f{i:02}.bin", "modified", _output(f"f{i:02}.bin", 1), _output("x", 2))
        for i in range(21)
    )
    text = markdown.render(Report(BASE, HEAD, data=many, tracked=30), [])
    data = text.split("### Data\n\n", 1)[1].split("\n### ", 1)[0]
    assert data.startswith("<details><summary>21 of 30 DVC-tracked outputs changed.</summary>")
    assert data.count("| modified |") == 21 and data.endswith("</details>\n")

    quiet = markdown.render(Report(BASE, HEAD, tracked=3, stages_unchanged=2), [])
    assert "### Data\n\nNo DVC-tracked data changed.\n" in quiet
    assert "### Pipeline\n\n2 of 2 stages in dvc.lock unchanged.\n" in quiet
    assert quiet.split("\n")[2] == "**data unchanged · pipeline: 0 of 2 stages changed**"
    # No DVC-tracked data and no pipeline at all: no sections for them.
    bare = markdown.render(Report(BASE, HEAD, params=(Row("p.yaml", "a", 1, 1),)), [])
    assert "### Data" not in bare and "### Pipeline" not in bare


@pytest.mark.parametrize(
    ("metrics", "line"),
    [
        ((("better", 2), ("worse", 1), ("unchanged", 3)), "2 metrics better, 1 worse, 3 unchanged"),
        ((("changed", 1),), "1 metric changed"),
        ((("unchanged", 4), ("new", 1), ("removed", 2)), "4 metrics unchanged, 1 new, 2 removed"),
    ],
)
def test_summary_line_metrics(metrics: tuple[tuple[str, int], ...], line: str) -> None:
    from dvc_cml.model import Summary
    from dvc_cml.render import summary

    counts = Summary(metrics, 0, 2, 2, 3, 4, 0, 2, 5, 0, 0)
    assert summary.line(counts) == f"{line} · gates 2/2 passed · 3 of 4 plots changed · " + (
        "data: 2 files changed"
    )


def test_size() -> None:
    assert [fmt.size(n) for n in (0, 999, 1000, 1_234_567, 5 * 10**12, None)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "1.2 MB",
        "5.0 TB",
        "—",
    ]


ZWJ = "\u200d"  # zero-width joiner: `@\u200dall` renders as "@all" but mentions nobody


def test_escape_neutralises_mentions() -> None:
    assert markdown.escape("@all") == f"@{ZWJ}all"
    assert markdown.escape("eval/@here.score") == f"eval/@{ZWJ}here.score"
    assert markdown.escape("cc @grp/team, @alice") == f"cc @{ZWJ}grp/team, @{ZWJ}alice"
    assert markdown.escape("no mention") == "no mention"


def test_mentions_in_names_and_values_stay_inert_in_the_report() -> None:
    report = Report(
        base=Revision("@release", "1111111aaaaaaa"),
        head=HEAD,
        metrics=(Row("@metrics.json", "@all", 1, 2),),
        params=(Row("params.yaml", "notify", "@bob", "@carol"),),
    )
    plots = [RenderedPlot("@here", "@here", PlotKind.LINE, True, png="p/here.png")]
    text = markdown.render(report, plots)
    assert text.splitlines()[0] == (
        f"## DVC report: **@{ZWJ}release** (`1111111`) → **workspace** (`2222222`)"
    )
    assert f"| @{ZWJ}metrics.json | @{ZWJ}all | 1 | 2 | +1 | +100.0% |" in text
    assert f"| params.yaml | notify | @{ZWJ}bob | @{ZWJ}carol | changed |" in text
    assert f"#### @{ZWJ}here" in text
    assert f"![@{ZWJ}here](p/here.png)" in text
    # No `@` is followed directly by a name anywhere in the document.
    assert [text[i + 1] for i, c in enumerate(text) if c == "@"] == [ZWJ] * text.count("@")


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("train_model", "`train_model`"),
        ("a*b*[c]\\d", "`a*b*[c]\\d`"),
        ("<script>&amp;", "`<script>&amp;`"),
        ("say `hi`", "`` say `hi` ``"),
        ("x `y` z", "``x `y` z``"),
        ("a``b", "```a``b```"),
        ("`edge", "`` `edge ``"),
        (" padded ", "`  padded  `"),
        ("two\nlines", "`two lines`"),
        ("   ", "`   `"),
    ],
)
def test_code_span_escapes_by_code_span_rules(text: str, span: str) -> None:
    assert mdtext.code(text) == span


def test_code_span_round_trips_through_a_commonmark_parser() -> None:
    """What a reader sees inside <code> is the name itself, in a table cell too (cmark-gfm,
    GitHub's own renderer, which report.html uses)."""
    import cmarkgfm

    for text in ["train_model", "a\\b*c", "x `y` z", "``", "<b>&amp;", " s "]:
        html = cmarkgfm.github_flavored_markdown_to_html(mdtext.code(text)).strip()
        inner = html.removeprefix("<p><code>").removesuffix("</code></p>")
        assert inner == text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    cell = mdtext.table(["stage"], ["l"], [[mdtext.code("a|b_c", in_table=True)]])
    assert cell.splitlines()[2] == "| `a\\|b_c` |"
    assert '<td align="left"><code>a|b_c</code></td>' in cmarkgfm.github_flavored_markdown_to_html(
        cell
    )


def test_stage_names_are_code_spans_without_backslashes() -> None:
    from dvc_cml.model import Reproduced, StageRun

    stages = (StageRun("prep_data", "up to date"), StageRun("train_model", "restored"))
    report = Report(BASE, HEAD, reproduced=Reproduced(stages))
    text = markdown.render(report, [])
    assert (
        "Pipeline reproduced first, in pipeline order: `prep_data` up to date, `train_model` "
        "restored from the run-cache (not run)." in text
    )
    assert "(`1111111`)" in text
