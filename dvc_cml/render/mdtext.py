"""Markdown text primitives shared by the Markdown renderers: escaping and tables.  Pure."""

from __future__ import annotations

from collections.abc import Sequence

# HTML-significant characters and the table separator become entities; Markdown punctuation
# is backslash-escaped, so a metric called `a|b<script>` is shown as text, not markup.  A
# zero-width joiner after `@` keeps `@all` or `@alice` in a name from notifying anyone: it
# renders as typed, but GitLab's (and GitHub's) mention pattern no longer matches.
_ESCAPES = str.maketrans(
    {
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


def table(header: Sequence[str], align: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GFM table; `align` holds "l" or "r" per column.  Cells must already be escaped."""
    rule = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule[a] for a in align) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)
