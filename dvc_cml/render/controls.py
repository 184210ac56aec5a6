"""The characters of a project's text that no output shows as they are: one list.  Pure.

Names, labels and values are the branch author's.  Control characters (C0, DEL, C1) move the
cursor, colour, erase or end a line; the invisible format characters (zero-width ones, the
bidirectional marks, overrides and isolates, line and paragraph separators, the byte-order
mark) hide text or reorder what a reader sees around them.  Each output deals with `HIDDEN`
its own way: the terminal and CI logs show each as its escape (`termtext.visible`), Markdown
and the page as U+FFFD (`mdtext`), a chart as U+FFFD or a space (`charts.chart_text`, which
also replaces what XML cannot hold: `NOT_XML`).
"""

from __future__ import annotations

import re

# Ranges of code points, first and last included.
_CONTROL = [(0x00, 0x1F), (0x7F, 0x9F)]  # C0, DEL, C1
_FORMAT = [
    (0x061C, 0x061C),  # Arabic letter mark
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; left-to-right, right-to-left marks
    (0x2028, 0x202E),  # line and paragraph separators; bidirectional embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidirectional isolates; deprecated format characters
    (0xFEFF, 0xFEFF),  # byte-order mark, zero-width no-break space
]
# Lone surrogates and the two non-characters XML 1.0 does not allow.
_NOT_XML = [(0xD800, 0xDFFF), (0xFFFE, 0xFFFF)]


def _char_class(ranges: list[tuple[int, int]]) -> str:
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


HIDDEN_CLASS = _char_class(_CONTROL + _FORMAT)  # for a regular expression's [...]
NOT_XML_CLASS = _char_class(_NOT_XML)
HIDDEN = re.compile(f"[{HIDDEN_CLASS}]")
# Every hidden character, for str.translate tables.
HIDDEN_CHARS = "".join(chr(c) for a, b in _CONTROL + _FORMAT for c in range(a, b + 1))
