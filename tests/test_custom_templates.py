"""Custom Vega templates in `.dvc/plots/`, named as DVC allows: by name and by path.

Modelled on DVC's docs ("Custom templates", `dvc plots templates`): a copy of a built-in
template, edited, saved in `.dvc/plots/NAME.json` and named in dvc.yaml by NAME or by path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvc_cml.cli import main
from dvc_cml.pipeline import init_project
from tests.conftest import clean_env, git, write_tree


def template(mark: dict[str, object], base: str) -> str:
    from dvc_render.vega_templates import TEMPLATES

    [cls] = [t for t in TEMPLATES if base == t.DEFAULT_NAME]
    content = json.loads(json.dumps(cls.DEFAULT_CONTENT))
    content["mark"] = mark
    return json.dumps(content, indent=2)


BY_NAME = """\
- by_name:
    template: lines_with_points
    x: step
    y:
      loss.csv: loss
"""
BY_PATH = """\
- by_path:
    template: .dvc/plots/dots.json
    x: recall
    y:
      pr.csv: precision
"""


def build(root: Path, plots: str) -> Path:
    git(root, "init", "-q")
    init_project(root)
    write_tree(
        root,
        {
            ".dvc/plots/lines_with_points.json": template(
                {"type": "line", "point": True}, "simple"
            ),
            ".dvc/plots/dots.json": template({"type": "point", "filled": True}, "scatter"),
            "dvc.yaml": "plots:\n" + plots,
            "loss.csv": "step,loss\n0,1.0\n1,0.5\n2,0.25\n",
            "pr.csv": "recall,precision\n0.1,0.9\n0.5,0.8\n0.9,0.4\n",
        },
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    write_tree(root, {"loss.csv": "step,loss\n0,1.0\n1,0.4\n2,0.2\n3,0.1\n"})
    write_tree(root, {"pr.csv": "recall,precision\n0.1,0.95\n0.5,0.85\n0.9,0.5\n"})
    return root


def plots_of(project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    code = main(["diff", "main", "-C", str(project), "--json"], env=clean_env())
    out, err = capsys.readouterr()
    assert code == 0, err
    return {p["name"]: p for p in json.loads(out)["plots"]}


def test_template_named_by_path_is_drawn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = plots_of(build(tmp_path, BY_PATH), capsys)["by_path"]
    assert Path(str(plot["png"])).read_bytes().startswith(b"\x89PNG")


def test_template_named_by_name_is_drawn_with_the_nearest_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plots = plots_of(build(tmp_path, BY_NAME + BY_PATH), capsys)
    by_name, by_path = plots["by_name"], plots["by_path"]
    assert Path(str(by_name["png"])).read_bytes().startswith(b"\x89PNG")
    # The templates' own marks pick the kind, and the report says it was approximated.
    assert (by_name["kind"], by_path["kind"]) == ("line", "scatter")
    assert any("lines_with_points" in note for note in by_name["notes"])  # type: ignore[attr-defined]
