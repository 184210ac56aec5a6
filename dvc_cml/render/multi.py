"""What several heads changed against one base, folded for a reader: a stage changed at
every head is one row, not one per head.  Shared by the Markdown and terminal views.  Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from dvc_cml import format as fmt
from dvc_cml.model import DataChange, Report, StageChange


def by_path(changes: Sequence[DataChange]) -> dict[tuple[str, str | None], list[DataChange]]:
    """Several heads: the changes of one output (and rename) together, one row each."""
    out: dict[tuple[str, str | None], list[DataChange]] = {}
    for change in sorted(changes, key=lambda c: c.path):
        out.setdefault((change.path, change.old_path), []).append(change)
    return out


def where(report: Report, keys: Sequence[str], among: Sequence[str]) -> str:
    """The heads `keys` as a reader names them: "" when they are all of `among`."""
    if list(keys) == list(among):
        return ""
    return ", ".join(report.revision(key).name for key in keys)


def merged_stages(changes: Sequence[StageChange]) -> dict[str, list[StageChange]]:
    """Several heads: a stage's changes at every head, together."""
    out: dict[str, list[StageChange]] = {}
    for change in changes:
        out.setdefault(change.name, []).append(change)
    return out


def stage_summary(report: Report, changes: Sequence[StageChange]) -> list[list[str]]:
    """One stage's changes over several heads as unescaped cell lines: how it changed (and
    where, unless at every head that changed it), command, dependencies, params, outputs;
    an item that changed at only some of those heads names them."""
    heads = [c.rev for c in changes]
    statuses: dict[str, list[str]] = {}
    for change in changes:
        statuses.setdefault(change.status, []).append(change.rev)
    how = [
        f"{status} at {where(report, keys, report.keys[1:]) or 'every head'}"
        for status, keys in statuses.items()
    ]

    def items(values: dict[str, list[str]]) -> list[str]:
        return [
            f"{item} ({names})" if (names := where(report, keys, heads)) else item
            for item, keys in values.items()
        ]

    command = [c.rev for c in changes if c.command]
    deps: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    params: dict[str, dict[str, list[str]]] = {}  # name -> value at a head -> heads
    base_values: dict[str, str] = {}  # one base: one value per name
    for change in changes:
        for dep in change.deps:
            deps.setdefault(dep, []).append(change.rev)
        for out in change.outs:
            outs.setdefault(out, []).append(change.rev)
        for p in change.params:
            base_values[p.name] = fmt.value(p.base)
            params.setdefault(p.name, {}).setdefault(fmt.value(p.head), []).append(change.rev)
    param_lines = []
    for name, moves in params.items():
        parts = [
            f"{value} ({names})" if (names := where(report, keys, heads)) else value
            for value, keys in moves.items()
        ]
        param_lines.append(f"{name}: {base_values[name]} → {', '.join(parts)}")
    command_cell = ["changed" + (f" ({n})" if (n := where(report, command, heads)) else "")]
    return [how, command_cell if command else [], items(deps), param_lines, items(outs)]
