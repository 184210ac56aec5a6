"""Regression gates: fail the job when a metric moved further than the team allows.

A gate is `METRIC<CHANGE` or `METRIC>CHANGE`: `test.auc<-0.01` fails when head − base is
below −0.01, `test.loss>+5%` fails when the change in percent of |base| is above +5.  The
comparison is strict, so a change exactly at the threshold passes (also when float
arithmetic lands a hair past it: 0.8 - 0.81 is -0.010000000000000009).  Gates come from
`--fail-on` and from the config files read by `load_config`.

Pure: no DVC, no I/O beyond reading the two config files.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from dvc_cml import format as fmt
from dvc_cml.errors import UserError
from dvc_cml.model import MISSING, UNREAD, Direction, Gate, GateResult, Problem, Row, is_number

YAML_CONFIG = ".dvc-cml.yaml"
PYPROJECT = "pyproject.toml"

_EXPECTED = 'expected METRIC<CHANGE or METRIC>CHANGE, e.g. "test.auc<-0.01" or "test.loss>+5%"'
# The change: optional sign, a decimal or scientific number, optional percent; spaces allowed.
_CHANGE = re.compile(r"([+-]?)\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(%?)")


def parse_gate(text: str, source: str) -> Gate:
    """Parse `METRIC<CHANGE` / `METRIC>CHANGE`; a bad spec is a one-line UserError."""
    return _parse(text, source, where=source)


def _parse(text: str, source: str, where: str) -> Gate:
    spec = text.strip()

    def bad(reason: str) -> UserError:
        return UserError(f'bad gate "{spec}" in {where}: {reason}; {_EXPECTED}')

    at = max(spec.rfind("<"), spec.rfind(">"))  # the last one: names may hold the others
    if at < 0:
        raise bad('no "<" or ">"')
    op: Literal["<", ">"] = "<" if spec[at] == "<" else ">"
    metric, rest = spec[:at].strip(), spec[at + 1 :].strip()
    if not metric:
        raise bad(f'no metric name before "{op}"')
    if rest.startswith("="):
        raise bad(f'"{op}=" is not supported, use "{op}"')
    if not rest:
        raise bad(f'no change after "{op}"')
    match = _CHANGE.fullmatch(rest)
    if not match:
        raise bad(f'"{rest}" is not a number or a percentage')
    sign, number, percent = match.groups()
    threshold = float(sign + number)
    if not math.isfinite(threshold):  # 1e999
        raise bad(f'"{rest}" is too large')
    return Gate(metric, op, threshold, bool(percent), source, spec)


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Gates and metric directions from the project's config files (empty when there are none)."""

    gates: tuple[Gate, ...] = ()
    directions: Mapping[str, Direction] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    source: str | None = None  # the files it came from, ", "-separated; None without any


_KEYS = ("fail-on", "higher-is-better", "lower-is-better")
_DIRECTION_KEYS = {"higher-is-better": Direction.HIGHER, "lower-is-better": Direction.LOWER}


def load_config(root: Path) -> Config:
    """Read `.dvc-cml.yaml` and `[tool.dvc-cml]` in `pyproject.toml` under `root`.

    Both may exist: the gates of `.dvc-cml.yaml` come first, then those of pyproject.toml;
    where both name a direction for the same metric, `.dvc-cml.yaml` wins, being the file
    that exists only for dvc-cml.  A file that does not parse, an unknown key or a value of
    the wrong type is a UserError naming the file and the key.
    """
    tables: list[tuple[str, Mapping[str, Any]]] = []
    yaml_table = _read_yaml(root / YAML_CONFIG)
    if yaml_table is not None:
        tables.append((YAML_CONFIG, yaml_table))
    toml_table = _read_pyproject(root / PYPROJECT)
    if toml_table is not None:
        tables.append((PYPROJECT, toml_table))

    gates: list[Gate] = []
    directions: dict[str, Direction] = {}
    for name, table in tables:
        file_gates, file_directions = _validate(name, table)
        gates += file_gates
        for metric, direction in file_directions.items():
            directions.setdefault(metric, direction)  # the earlier file wins
    source = ", ".join(name for name, _ in tables) or None
    return Config(tuple(gates), MappingProxyType(directions), source)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path.name} is not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise UserError(f"cannot read {path.name}: {exc.strerror}") from exc


def _read_yaml(path: Path) -> Mapping[str, Any] | None:
    text = _read_text(path)
    if text is None:
        return None
    import yaml  # type: ignore[import-untyped, unused-ignore]  # lazy: keeps --help fast

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise UserError(f"{path.name} is not valid YAML{where}: {problem}") from exc
    if data is None:  # an empty file: no settings
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path.name} must be a mapping of settings ({', '.join(_KEYS)})")
    return data


def _toml_loads() -> Callable[[str], dict[str, Any]] | None:
    """tomllib (3.11+), else tomli if installed, else None."""
    for name in ("tomllib", "tomli"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        loads: Callable[[str], dict[str, Any]] = module.loads
        return loads
    return None


# Whether a pyproject.toml mentions our table, for when there is no TOML parser (Python 3.10).
_OUR_TABLE = re.compile(r"""^\s*\[?\s*tool\s*\.\s*["']?dvc-cml\b""", re.MULTILINE)


def _read_pyproject(path: Path) -> Mapping[str, Any] | None:
    text = _read_text(path)
    if text is None:
        return None
    loads = _toml_loads()
    if loads is None:
        if _OUR_TABLE.search(text):
            raise UserError(
                f"{path.name} has a [tool.dvc-cml] table, but reading it needs Python 3.11+ "
                "or the tomli package: pip install tomli"
            )
        return None
    try:
        data = loads(text)
    except ValueError as exc:  # tomllib/tomli.TOMLDecodeError
        raise UserError(f"{path.name} is not valid TOML: {exc}") from exc
    tool = data.get("tool")
    if not isinstance(tool, dict) or "dvc-cml" not in tool:
        return None
    table = tool["dvc-cml"]
    if not isinstance(table, dict):
        raise UserError(f"{path.name}: tool.dvc-cml must be a table ({', '.join(_KEYS)})")
    return table


def _validate(name: str, table: Mapping[str, Any]) -> tuple[list[Gate], dict[str, Direction]]:
    prefix = "tool.dvc-cml." if name == PYPROJECT else ""
    for key in table:
        if key not in _KEYS:
            raise UserError(f'{name}: unknown key "{prefix}{key}" (expected {", ".join(_KEYS)})')

    def strings(key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f'{name}: "{prefix}{key}" must be a list of strings')
        return value

    gates = [_parse(spec, name, where=f"{name}, {prefix}fail-on") for spec in strings("fail-on")]
    directions: dict[str, Direction] = {}
    for key, direction in _DIRECTION_KEYS.items():
        for metric in strings(key):
            metric = metric.strip()
            if not metric:
                raise UserError(f'{name}: "{prefix}{key}" has an empty metric name')
            if directions.get(metric, direction) is not direction:
                raise UserError(
                    f"{name}: {metric} is in both {prefix}higher-is-better and "
                    f"{prefix}lower-is-better"
                )
            directions[metric] = direction
    return gates, directions


def apply_directions(rows: Sequence[Row], directions: Mapping[str, Direction]) -> tuple[Row, ...]:
    """Override the direction guessed from a metric's name where the config says otherwise.

    `PATH:METRIC` beats `METRIC`; a bare `METRIC` applies to that key in every file, since
    a direction is a property of what the metric measures, not of where it is stored.
    """
    if not directions:
        return tuple(rows)
    out = []
    for row in rows:
        direction = directions.get(f"{row.path}:{row.key}", directions.get(row.key))
        out.append(row if direction is None else dataclasses.replace(row, direction=direction))
    return tuple(out)


# --- evaluation -----------------------------------------------------------------------------


def resolve(gate_metric: str, rows: Sequence[Row]) -> Row | None:
    """The row a gate's metric names: `PATH:METRIC` exactly, else a key found in one file.

    A key found in several files is a UserError rather than a guess: checking the wrong file
    would let a regression through.
    """
    for row in rows:
        if f"{row.path}:{row.key}" == gate_metric:
            return row
    matches = [row for row in rows if row.key == gate_metric]
    if len(matches) > 1:
        paths = list(dict.fromkeys(row.path for row in matches))
        raise UserError(
            f"metric '{gate_metric}' is ambiguous: found in {', '.join(paths)}; "
            f"write it as PATH:METRIC, e.g. {paths[0]}:{gate_metric}"
        )
    return matches[0] if matches else None


def check(gate: Gate, row: Row | None, problems: Sequence[Problem] = ()) -> GateResult:
    """Judge one gate against its row.

    Anything that keeps a gate from being checked fails it, so a broken gate is noticed
    instead of passing silently: a metric at neither revision ("missing"), one whose file
    was not read at a revision (`problems`: "missing" there, never "new" or "removed"), one
    removed at head, a value that is not a finite number.  A metric new at head passes:
    there is no base to regress from.

    A relative gate over a base of 0 has no percentage to compare; the change is then
    treated as unbounded in its own direction: it fails when the metric moved the way the
    gate forbids ("<": down, ">": up) and passes when it moved the other way or not at all.
    """
    name = gate.metric
    if row is None or (row.base is MISSING and row.head is MISSING):
        if problems:  # it may be in a file that was not read
            files = ", ".join(f"{p.path} at {p.rev.label}" for p in problems)
            return GateResult(gate, row, "missing", f"{name} was not found; not read: {files}")
        return GateResult(
            gate, row, "missing", f"{name} was not found at either revision (is the name right?)"
        )
    if UNREAD in (row.base, row.head):
        side = "head" if row.head is UNREAD else "base"
        # The file itself, or the directory output it is in (not pulled, say).
        found = next(
            (p for p in problems if row.path == p.path or row.path.startswith(f"{p.path}/")),
            None,
        )
        where = found.rev.label if found else side
        why = f" ({found.reason})" if found else ""
        return GateResult(
            gate, row, "missing", f"{name} is missing at {where}: {row.path} was not read{why}"
        )
    if row.base is MISSING:
        head = fmt.value(row.head)
        return GateResult(
            gate, row, "pass", f"{name} is a new metric, no base value to compare (head {head})"
        )
    if row.head is MISSING:
        return GateResult(
            gate, row, "fail", f"{name} is missing at head (base {fmt.value(row.base)})"
        )
    values = f"({fmt.value(row.base)} → {fmt.value(row.head)})"
    not_numbers = [rev for rev in ("base", "head") if not is_number(getattr(row, rev))]
    if not_numbers:
        which = " and ".join(not_numbers)
        return GateResult(gate, row, "fail", f"{name} is not a number at {which} {values}")
    delta = row.change
    if delta is None:
        return GateResult(gate, row, "fail", f"{name} has no finite change {values}")

    def verdict(moved: float, shown: str, note: str = "") -> GateResult:
        at = math.isclose(moved, gate.threshold, rel_tol=1e-9, abs_tol=1e-12)  # float noise
        bad = not at and (moved < gate.threshold if gate.op == "<" else moved > gate.threshold)
        how = ("" if bad else "not ") + ("below" if gate.op == "<" else "above")
        detail = (
            f"{name} changed by {shown} {values}{note}, {how} the allowed {fmt.threshold(gate)}"
        )
        return GateResult(gate, row, "fail" if bad else "pass", detail)

    if not gate.relative:
        return verdict(delta, fmt.number(delta, sign=True))
    rel = row.relative_change
    if rel is None:  # base is 0
        if delta == 0:
            return GateResult(gate, row, "pass", f"{name} is unchanged at 0, no change to check")
        unbounded = math.copysign(math.inf, delta)
        way = "rise" if delta > 0 else "fall"
        note = f", an unbounded {way} in percent from a base of 0"
        return verdict(unbounded, fmt.number(delta, sign=True), note)
    return verdict(rel, fmt.percent(row) or "0%")


def evaluate(
    gates: Sequence[Gate], rows: Sequence[Row], problems: Sequence[Problem] = ()
) -> tuple[GateResult, ...]:
    """Check every gate, in order; an ambiguous metric name raises UserError.  `problems`:
    the files not read, so a metric in one of them fails as missing instead of passing."""
    return tuple(check(gate, resolve(gate.metric, rows), problems) for gate in gates)


def failed(results: Sequence[GateResult]) -> bool:
    """Whether the job should fail: any gate that did not pass, including missing ones."""
    return any(result.status != "pass" for result in results)
