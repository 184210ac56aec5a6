"""One colour per revision, the same on every chart and in every table's header.  Pure.

A two-revision report keeps its blue base and orange head.  With several heads the base is
grey, the reference the others are read against, and each head gets a colour of its own
and, for Markdown (which has no colours), the emoji swatch of that colour.  Charts stay
readable with up to `MAX_DRAWN` heads beside the base; which heads are drawn when there are
more is `drawn_heads`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dvc_cml.model import BASE, HEAD, Direction, Report, head_key, is_number

TWO = {BASE: "#4c78a8", HEAD: "#f58518"}  # base and head of a two-revision report
BASE_GREY = "#8c8c8c"
BASE_SWATCH = "⬜"
# (chart colour, Markdown swatch): distinct hues first; the swatches are the emoji of the
# nearest colour, the colours chosen to look like them.
HEADS = (
    ("#f58518", "🟧"),
    ("#4c78a8", "🟦"),
    ("#54a24b", "🟩"),
    ("#e45756", "🟥"),
    ("#b279a2", "🟪"),
    ("#e0b000", "🟨"),
    ("#9d755d", "🟫"),
    ("#222222", "⬛"),
    ("#ff85c0", "🩷"),
    ("#5bc0eb", "🩵"),
)
MAX_DRAWN = len(HEADS)  # heads per chart: beyond this a legend is no longer readable


def colours(keys: Sequence[str]) -> dict[str, str]:
    """{revision key: colour} for the revisions a chart draws (`keys`, base first)."""
    if list(keys) in ([BASE, HEAD], [BASE], [HEAD]):
        return {key: TWO[key] for key in keys}
    heads = [key for key in keys if key != BASE]
    out = {BASE: BASE_GREY} if BASE in keys else {}
    return out | {key: HEADS[i % len(HEADS)][0] for i, key in enumerate(heads)}


def drawn_heads(report: Report) -> list[int]:
    """The heads (indexes into `report.heads`) that charts draw: every one up to
    `MAX_DRAWN`; beyond, those with the best values of the primary metric, else the first
    ones, in the report's order."""
    count = len(report.heads)
    if count <= MAX_DRAWN:
        return list(range(count))
    row = report.primary_row()
    if row is None or row.direction is Direction.UNKNOWN:
        return list(range(MAX_DRAWN))
    sign = -1.0 if row.direction is Direction.HIGHER else 1.0

    def rank(index: int) -> tuple[int, float, int]:
        value = row.heads[index]
        if is_number(value) and math.isfinite(value):  # type: ignore[arg-type]
            return (0, sign * float(value), index)  # type: ignore[arg-type]
        return (1, 0.0, index)  # no value: after every head that has one

    return sorted(sorted(range(count), key=rank)[:MAX_DRAWN])


def drawn_keys(report: Report) -> list[str]:
    """The keys of the revisions every chart draws: the base, then `drawn_heads`."""
    return [BASE, *(head_key(i) for i in drawn_heads(report))]


def swatches(report: Report) -> dict[str, str]:
    """{revision key: emoji swatch} for a report with several heads ({} for two revisions):
    the colour each has on the charts; a head no chart draws has none."""
    if not report.multi:
        return {}
    keys = drawn_keys(report)
    heads = keys[1:]
    return {BASE: BASE_SWATCH} | {key: HEADS[i][1] for i, key in enumerate(heads)}
