"""ruff and mypy (strict) are part of the test suite, so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_and_format() -> None:
    lint = run("ruff", "check", "dvc_cml", "tests", "bench")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run("ruff", "format", "--check", "dvc_cml", "tests", "bench")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _imports() -> dict[str, set[str]]:
    """{module: the dvc_cml modules it imports}, anywhere in its code (lazy imports too)."""
    import ast

    package = ROOT / "dvc_cml"
    names = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in package.rglob("*.py")
        if "example" not in path.parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dvc_cml"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in names else str(node.module))
        graph[name] = found - {name}
    return graph


def test_imports_point_one_way() -> None:
    """No import circles, and logic (collect, model, gates, format) never imports render/
    or publish/: the data flows collect -> model -> render -> publish."""
    graph = _imports()

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return [*path, nxt]
                if nxt not in path and nxt.startswith("dvc_cml"):
                    stack.append((nxt, [*path, nxt]))
        return None

    assert [cycle for name in graph if (cycle := cycle_from(name))] == []
    logic = [n for n in graph if n.startswith("dvc_cml.collect") or n in LOGIC]
    assert {
        name: sorted(m for m in graph[name] if m.startswith(("dvc_cml.render", "dvc_cml.publish")))
        for name in logic
    } == {name: [] for name in logic}


LOGIC = {"dvc_cml.model", "dvc_cml.gates", "dvc_cml.format", "dvc_cml.ci", "dvc_cml.pipeline"}


def test_private_dvc_names_only_in_the_internals_module() -> None:
    """Every private DVC name goes through `collect/internals.py`, so a DVC release that
    moves one is a one-file change: no other module imports `_name` from DVC's packages or
    reads a `_attribute` of an object it did not make."""
    import ast

    dvc_packages = ("dvc", "dvc_render", "dvc_data", "dvc_objects", "scmrepo")
    found = []
    for path in sorted((ROOT / "dvc_cml").rglob("*.py")):
        if "example" in path.parts or path.name == "internals.py":
            continue
        tree = ast.parse(path.read_text())
        imports_dvc = False
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[0] in dvc_packages
            ):
                imports_dvc = True
                found += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
        if not imports_dvc:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "os"))
            ):
                found.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert found == []


def test_each_private_dvc_name_says_the_dvc_versions_it_was_checked_on() -> None:
    """Each door in `collect/internals.py` names the DVC versions it was checked on, the
    oldest that pyproject.toml admits (which .ci/run tests) among them."""
    import ast
    import re
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    [dvc] = [r for r in map(Requirement, requires("dvc-cml") or []) if r.name == "dvc"]
    [floor] = [spec.version for spec in dvc.specifier if spec.operator == ">="]
    module = ast.parse((ROOT / "dvc_cml" / "collect" / "internals.py").read_text())
    functions = [node for node in module.body if isinstance(node, ast.FunctionDef)]
    assert functions
    for function in functions:
        doc = ast.get_docstring(function) or ""
        found = re.search(r"Checked on DVC ([\d., and]+)\.", doc)
        assert found, f"{function.name}: no 'Checked on DVC ...' line"
        versions = re.findall(r"\d+\.\d+(?:\.\d+)?", found.group(1))
        assert any(v == floor or v.startswith(f"{floor}.") for v in versions), function.name


def test_dvc_parses_its_yaml_files_with_the_c_parser() -> None:
    """DVC reads dvc.yaml, dvc.lock, .dvc files and params.yaml with ruamel.yaml at every
    revision; since ruamel.yaml 0.19 its C parser is an extra, declared here (the pure-Python
    one cost 12 ms a revision: docs/performance.md)."""
    from importlib.metadata import requires

    from dvc.utils.serialize import parse_yaml
    from packaging.requirements import Requirement
    from ruamel.yaml import YAML
    from ruamel.yaml.main import CParser

    declared = {r.name for r in map(Requirement, requires("dvc-cml") or [])}
    assert "ruamel.yaml.clib" in declared
    assert CParser is not None and YAML(typ="safe").Parser is CParser
    assert parse_yaml("stages:\n  train: {cmd: python train.py}\n", "dvc.yaml") == {
        "stages": {"train": {"cmd": "python train.py"}}
    }
