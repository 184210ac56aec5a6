"""Text from a project on its way to a terminal or a CI log: control characters made visible.

Names are the branch author's: `ESC[2K` erases a log line, `ESC]8;;…` plants a link, a colour
code or a `\r` or `\n` fakes a line of dvc-cml's own, and the bidirectional controls reorder
what a reader sees.  Each such character is written as its escape (`\x1b`, `\n`, `\u202e`).
The one escaping function for the terminal: the terminal view and every stderr line pass
project text through it where it leaves.  Pure.
"""

from __future__ import annotations

import re

from dvc_cml.render.controls import HIDDEN

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(found: re.Match[str]) -> str:
    char = found.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: str) -> str:
    """`text` with every control and invisible format character written as its escape."""
    return HIDDEN.sub(_shown, text)
