"""Files that could not be read are listed in every output, with revision and reason."""

from __future__ import annotations

import io
import json
from pathlib import Path

from dvc_cml.model import Direction, Problem, Report, Revision, Row
from dvc_cml.render import jsondoc, markdown, terminal

BASE = Revision("main", "1111111aaaaaaa")
HEAD = Revision("workspace", "2222222bbbbbbb")
REPORT = Report(
    base=BASE,
    head=HEAD,
    metrics=(Row("scores.json", "acc", 0.5, 0.75, Direction.HIGHER),),
    problems=(
        Problem("metrics.json", HEAD, "not read: a symlink leading outside the repository"),
        Problem("dvclive/plots/metrics/loss.tsv", HEAD, "does not parse: | cut mid-row"),
    ),
)


def test_markdown_lists_each_file_with_its_revision_and_reason() -> None:
    text = markdown.render(REPORT, [])
    assert "**1 metric better · 2 files not read**" in text
    section = text.split("### Not read\n\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == [
        "| File | Revision | Why |",
        "|:---|:---|:---|",
        "| metrics.json | workspace (2222222) | not read: a symlink leading outside the "
        "repository |",
        "| dvclive/plots/metrics/loss.tsv | workspace (2222222) | does not parse: &#124; cut "
        "mid-row |",
    ]
    # Before the metrics: a reviewer learns first what is missing from the tables.
    assert text.index("### Not read") < text.index("### Metrics")


def test_trim_cuts_the_list_like_any_table() -> None:
    text = markdown.render(REPORT, [], markdown.Trim(max_rows=1))
    assert "| metrics.json |" in text
    assert "loss.tsv" not in text
    assert "… and 1 more rows, left out here to fit." in text


def test_json_has_a_problems_key_and_count() -> None:
    doc = json.loads(jsondoc.render(REPORT, [], Path("out")))
    assert doc["problems"] == [
        {
            "path": "metrics.json",
            "rev": "workspace",
            "sha": "2222222bbbbbbb",
            "reason": "not read: a symlink leading outside the repository",
        },
        {
            "path": "dvclive/plots/metrics/loss.tsv",
            "rev": "workspace",
            "sha": "2222222bbbbbbb",
            "reason": "does not parse: | cut mid-row",
        },
    ]
    assert doc["summary"]["problems"] == 2


def test_terminal_names_each_file() -> None:
    stream = io.StringIO()
    terminal.show(REPORT, [], Path("out"), Path("out/report.md"), stream)
    lines = stream.getvalue().splitlines()
    assert (
        "Not read: metrics.json at workspace (2222222): not read: a symlink leading outside "
        "the repository" in lines
    )
    assert (
        "Not read: dvclive/plots/metrics/loss.tsv at workspace (2222222): does not parse: "
        "| cut mid-row" in lines
    )


def test_a_report_of_problems_only_is_not_empty() -> None:
    assert not Report(BASE, HEAD, problems=REPORT.problems).empty
