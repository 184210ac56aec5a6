"""The two-revision report is the one it was before several revisions (issue 18): `dvc-cml
diff main` on two projects, compared with the golden files of tests/golden/ (see
tests/golden.py for how they were made).

- `--md`: equal to c25e260's, line for line.
- `--json`: c25e260's document is contained in it: every key it had, with the same value;
  keys may only be added (`revisions`, `values`, `dirty`, ...), lists keep their length.
- The terminal: equal to the golden made from this code; against c25e260's, every line
  that must not change is there in the same order, tables too wide for 80 columns hold
  the same words (issue 16 fitted them to 80 columns), and each sparkline has the same
  bars (issue 16 laid them out anew and dropped the value after a ROC or PR curve).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests import golden

CODE = Path(__file__).resolve().parent.parent
BARS = "▁▂▃▄▅▆▇█"


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = {}
    for name, build in golden.PROJECTS.items():
        where = tmp_path_factory.mktemp(name)
        built[name] = build(where)
    return built


def report(projects: dict[str, Path], project: str, output: str, tmp_path: Path) -> str:
    return golden.run(CODE, projects[project], tmp_path / "report", output)


def contained(old: Any, new: Any, where: str = "") -> list[str]:
    """Where `old` is not in `new`: a key missing or a value that differs (dicts may have
    more keys in `new`; lists match item by item)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            problem
            for key, value in old.items()
            for problem in (
                contained(value, new[key], f"{where}.{key}")
                if key in new
                else [f"{where}.{key}: missing"]
            )
        ]
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: {len(old)} items, now {len(new)}"]
        pairs = enumerate(zip(old, new, strict=True))
        return [p for i, (o, n) in pairs for p in contained(o, n, f"{where}[{i}]")]
    same = old == new and type(old) is type(new)
    return [] if same else [f"{where}: {old!r}, now {new!r}"]


def test_contained_finds_a_changed_or_missing_key() -> None:
    old = {"a": 1, "b": [{"c": 2.0}], "d": None}
    assert contained(old, {**old, "e": 3}) == []
    assert contained(old, {"a": 1, "b": [{"c": 2}], "d": None}) == [".b[0].c: 2.0, now 2"]
    assert contained(old, {"a": 1, "b": [], "d": 0}) == [".b: 1 items, now 0", ".d: None, now 0"]
    assert contained(old, {"b": [{"c": 2.0}], "d": None}) == [".a: missing"]


@pytest.mark.parametrize("project", golden.PROJECTS)
def test_markdown_is_unchanged(projects: dict[str, Path], project: str, tmp_path: Path) -> None:
    text = report(projects, project, "md", tmp_path)
    assert text.splitlines() == golden.golden_file(project, "md").read_text().splitlines()


@pytest.mark.parametrize("project", golden.PROJECTS)
def test_json_only_adds_keys(projects: dict[str, Path], project: str, tmp_path: Path) -> None:
    new = json.loads(report(projects, project, "json", tmp_path))
    old = json.loads(golden.golden_file(project, "json").read_text())
    assert contained(old, new) == []
    # And the keys added by several revisions say the same as the old ones.
    assert [r["rev"] for r in new["revisions"]] == [old["base"]["rev"], old["head"]["rev"]]
    for row in new["metrics"] + new["params"]:
        assert row["values"] == {old["base"]["rev"]: row["base"], old["head"]["rev"]: row["head"]}


def _blocks(text: str) -> tuple[list[str], list[list[str]]]:
    """(the lines outside tables, the tables), lines without trailing spaces."""
    lines, tables = [], []
    inside = False
    for line in (raw.rstrip() for raw in text.splitlines()):
        if line[:1] in ("+", "|"):
            if not inside:
                tables.append([])
            tables[-1].append(line)
            inside = True
        else:
            lines.append(line)
            inside = False
    return lines, tables


def _spark(line: str) -> list[str] | None:
    """A sparkline line's revision, series and bars (not its layout or the value after)."""
    words = line.split()
    bars = [i for i, word in enumerate(words) if word and set(word) <= set(BARS)]
    return words[: bars[0] + 1] if bars else None


def _subsequence(wanted: list[str], lines: list[str]) -> list[str]:
    """The lines of `wanted` not found in `lines` in the same order."""
    rest = iter(lines)
    return [line for line in wanted if not any(line == other for other in rest)]


@pytest.mark.parametrize("project", golden.PROJECTS)
def test_terminal_changed_only_where_meant(
    projects: dict[str, Path], project: str, tmp_path: Path
) -> None:
    text = report(projects, project, "terminal", tmp_path)
    assert text.splitlines() == golden.golden_file(project, "terminal").read_text().splitlines()

    old_lines, old_tables = _blocks(golden.golden_file(project, "terminal", "c25e260").read_text())
    new_lines, new_tables = _blocks(text)
    assert len(old_tables) == len(new_tables)
    for old_table, new_table in zip(old_tables, new_tables, strict=True):
        if max(map(len, old_table)) <= 80:
            assert new_table == old_table
        else:  # re-wrapped to 80 columns: the same words in its cells
            words = Counter(w for line in old_table for w in line.split() if w.strip("|+-"))
            assert Counter(w for line in new_table for w in line.split() if w.strip("|+-")) == words
            assert max(map(len, new_table)) <= 80
    old_sparks = [spark for line in old_lines if (spark := _spark(line))]
    new_sparks = [spark for line in new_lines if (spark := _spark(line))]
    assert new_sparks == old_sparks
    assert len(old_sparks) == {"changes": 0, "get-started": 8}[project]
    assert _subsequence([line for line in old_lines if not _spark(line)], new_lines) == []
