"""Markdown text primitives shared by the Markdown renderers: escaping and tables.  Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence

from dvc_cml.render.controls import HIDDEN_CHARS

# HTML-significant characters and the table separator become entities; Markdown punctuation
# is backslash-escaped, so a metric called `a|b<script>` is shown as text, not markup.  A
# zero-width joiner after `@` keeps `@all` or `@alice` in a name from notifying anyone: it
# renders as typed, but GitLab's (and GitHub's) mention pattern no longer matches.
# Control characters, and the invisible ones that hide or reorder text around them
# (`controls.HIDDEN`), are never part of a name a reviewer should read: each becomes U+FFFD.
_CONTROLS = str.maketrans(dict.fromkeys(HIDDEN_CHARS, "\ufffd"))
_ESCAPES = str.maketrans(
    {
        **dict.fromkeys(HIDDEN_CHARS, "\ufffd"),
        "\t": " ",
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "|": "&#124;",
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "~": "\\~",
        "\r": "",
        "\n": "<br>",
        "@": "@\u200d",
    }
)


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def code(text: str, in_table: bool = False) -> str:
    """`text` as a Markdown code span, escaped by code spans' own rules.

    Backslashes and entities are literal inside code spans (`train_model`, not
    `train\\_model`), and `<`, `&` show as text there; a backtick inside needs a longer
    fence, and a leading or trailing backtick or space needs a space of padding (one is
    stripped from each side).  Line breaks would end a table row: they become spaces.  In a
    table cell `|` still splits the row, even in a code span, unless backslash-escaped.
    """
    text = " ".join(text.splitlines()).translate(_CONTROLS) or " "
    if in_table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    if text.strip() and (text[0] in "` " or text[-1] in "` "):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def table(header: Sequence[str], align: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GFM table; `align` holds "l" or "r" per column.  Cells must already be escaped."""
    rule = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule[a] for a in align) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)
