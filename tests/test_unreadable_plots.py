"""A plot definition DVC accepts but cannot read is listed with the reason; the rest of the
report is complete (issue 8: "A shape dvc-cml cannot draw is listed in the report")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvc_cml.pipeline import init_project
from tests.conftest import git, run_cli, write_tree


def test_a_definition_dvc_cannot_read_is_listed_and_the_rest_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(tmp_path, "init", "-q")
    init_project(tmp_path)
    write_tree(
        tmp_path,
        {
            # `y` as a list needs the plot id to be the data file; `dvc plots diff` reports
            # this definition in its `errors` and draws the others.
            "dvc.yaml": "metrics:\n- metrics.json\nplots:\n- curves:\n    x: step\n"
            "    y: [loss, acc]\n- loss.csv:\n    x: step\n    y: loss\n",
            "metrics.json": '{"acc": 0.5}',
            "loss.csv": "step,loss\n0,1\n1,0.5\n",
        },
    )
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    write_tree(tmp_path, {"metrics.json": '{"acc": 0.6}', "loss.csv": "step,loss\n0,1\n1,0.4\n"})
    code, out, err = run_cli(capsys, "diff", "main", "-C", str(tmp_path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [(m["metric"], m["base"], m["head"]) for m in doc["metrics"]] == [("acc", 0.5, 0.6)]
    plots = {p["name"]: p for p in doc["plots"]}
    assert Path(plots["loss.csv"]["png"]).read_bytes().startswith(b"\x89PNG")
    assert plots["curves"]["png"] is None
    assert any("curves" in note for note in plots["curves"]["notes"])
