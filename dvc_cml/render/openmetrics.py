"""The metrics at head as OpenMetrics text, for GitLab's metrics report widget.

`artifacts:reports:metrics` shows each `name value` line of the file and compares it with the
target branch's report.  One gauge per metric: `test.auc` in `metrics.json` becomes
`dvc_test_auc{file="metrics.json"} 0.91`.  A `key` label carries the original key when the name
had to drop more than dots (`a|b<script>` -> `dvc_a_b_script{...,key="a|b<script>"}`) and for
every key of a file whose name another key of that file shares (`a.b` and `a_b`), so every
series is unique.  Strings, lists, nulls and metrics gone at head are left out; booleans are 1/0.

GitLab's parser drops everything from a `#` to the end of the line (so comment lines vanish) and
splits the rest shell-style; a `#` inside a label value would cut the line, so it is written as
`%23` there.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from dvc_cml.model import Report, Value

PREFIX = "dvc_"
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_]+")  # colons are valid but reserved for aggregations


def metric_name(key: str) -> str:
    """`test.auc` -> `dvc_test_auc`: each run of other characters becomes one `_`."""
    return PREFIX + (_NOT_IN_NAME.sub("_", key).strip("_") or "metric")


def sample_value(value: Value) -> str | None:
    """The sample value, or None for what is not a number."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return None  # MISSING, None, strings, lists, dicts


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_value(text: str) -> str:
    return _escape(text).replace("#", "%23")


def render(report: Report) -> str:
    families: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
    for row in report.metrics:
        value = sample_value(row.head)
        if value is not None:
            families[metric_name(row.key)].setdefault((row.path, row.key), value)

    lines: list[str] = []
    for name in sorted(families):
        series = families[name]
        keys_in_file: dict[str, int] = defaultdict(int)
        for path, _ in series:
            keys_in_file[path] += 1
        keys = sorted({key for _, key in series})
        noun = "metric" if len(keys) == 1 else "metrics"
        lines.append(f"# HELP {name} DVC {noun} {_escape(', '.join(keys))}")
        lines.append(f"# TYPE {name} gauge")
        for (path, key), value in sorted(series.items()):
            labels = f'file="{_label_value(path)}"'
            if keys_in_file[path] > 1 or metric_name(key) != PREFIX + key.replace(".", "_"):
                labels += f',key="{_label_value(key)}"'
            lines.append(f"{name}{{{labels}}} {value}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
