"""The OpenMetrics file for GitLab's metrics report widget."""

from __future__ import annotations

import re
import shlex

from dvc_cml.model import MISSING, Report, Revision, Row
from dvc_cml.render.openmetrics import render

BASE = Revision("main", "a" * 40)
HEAD = Revision("workspace", "b" * 40)

METRICS = (
    Row("metrics.json", "test.auc", 0.9, 0.91),
    Row("eval/metrics.json", "test.auc", 0.8, 0.85),  # same family, another file
    Row("metrics.json", "train.loss", 0.5, 0.25),
    Row("metrics.json", "epochs", 10, 12),
    Row("metrics.json", "tiny", 1e-5, 2e-5),
    Row("metrics.json", "a|b<script>", 1, 2),
    Row("my metrics.json", "val loss", 1.5, 1.25),
    Row("metrics.json", "précision", 0.5, 0.625),
    Row("metrics.json", "точность", 0.5, 0.75),  # nothing left of the name
    Row('odd"dir\\x\ny.json', "acc", 0.1, 0.2),  # label escapes
    Row("reports/#1.json", "acc", 0.3, 0.4),  # GitLab cuts lines at '#'
    Row("metrics.json", "a.b", 1, 1),  # a.b and a_b share a name in metrics.json
    Row("metrics.json", "a_b", 2, 3),
    Row("other.json", "a.b", 5, 5),  # alone in its file
    Row("metrics.json", "score.nan", 1.0, float("nan")),
    Row("metrics.json", "score.pos", 1.0, float("inf")),
    Row("metrics.json", "score.neg", 1.0, float("-inf")),
    Row("metrics.json", "converged", False, True),
    Row("metrics.json", "diverged", True, False),
    Row("metrics.json", "new", MISSING, 3),
    Row("metrics.json", "gone", 1.0, MISSING),
    Row("metrics.json", "status", "ok", "fine"),
    Row("metrics.json", "hist", [1], [2]),
    Row("metrics.json", "conf", {"a": 1}, {"a": 2}),
    Row("metrics.json", "nothing", None, None),
    Row("metrics.json", "test.auc", 0.0, 0.5),  # a duplicate row: the first one wins
)
REPORT = Report(base=BASE, head=HEAD, metrics=METRICS, params=(Row("params.yaml", "lr", 0.1, 0.2),))

EXPECTED = r"""# HELP dvc_a_b DVC metrics a.b, a_b
# TYPE dvc_a_b gauge
dvc_a_b{file="metrics.json",key="a.b"} 1
dvc_a_b{file="metrics.json",key="a_b"} 3
dvc_a_b{file="other.json"} 5
# HELP dvc_a_b_script DVC metric a|b<script>
# TYPE dvc_a_b_script gauge
dvc_a_b_script{file="metrics.json",key="a|b<script>"} 2
# HELP dvc_acc DVC metric acc
# TYPE dvc_acc gauge
dvc_acc{file="odd\"dir\\x\ny.json"} 0.2
dvc_acc{file="reports/%231.json"} 0.4
# HELP dvc_converged DVC metric converged
# TYPE dvc_converged gauge
dvc_converged{file="metrics.json"} 1
# HELP dvc_diverged DVC metric diverged
# TYPE dvc_diverged gauge
dvc_diverged{file="metrics.json"} 0
# HELP dvc_epochs DVC metric epochs
# TYPE dvc_epochs gauge
dvc_epochs{file="metrics.json"} 12
# HELP dvc_metric DVC metric точность
# TYPE dvc_metric gauge
dvc_metric{file="metrics.json",key="точность"} 0.75
# HELP dvc_new DVC metric new
# TYPE dvc_new gauge
dvc_new{file="metrics.json"} 3
# HELP dvc_pr_cision DVC metric précision
# TYPE dvc_pr_cision gauge
dvc_pr_cision{file="metrics.json",key="précision"} 0.625
# HELP dvc_score_nan DVC metric score.nan
# TYPE dvc_score_nan gauge
dvc_score_nan{file="metrics.json"} NaN
# HELP dvc_score_neg DVC metric score.neg
# TYPE dvc_score_neg gauge
dvc_score_neg{file="metrics.json"} -Inf
# HELP dvc_score_pos DVC metric score.pos
# TYPE dvc_score_pos gauge
dvc_score_pos{file="metrics.json"} +Inf
# HELP dvc_test_auc DVC metric test.auc
# TYPE dvc_test_auc gauge
dvc_test_auc{file="eval/metrics.json"} 0.85
dvc_test_auc{file="metrics.json"} 0.91
# HELP dvc_tiny DVC metric tiny
# TYPE dvc_tiny gauge
dvc_tiny{file="metrics.json"} 2e-05
# HELP dvc_train_loss DVC metric train.loss
# TYPE dvc_train_loss gauge
dvc_train_loss{file="metrics.json"} 0.25
# HELP dvc_val_loss DVC metric val loss
# TYPE dvc_val_loss gauge
dvc_val_loss{file="my metrics.json",key="val loss"} 1.25
# EOF
"""

# A small validator for the subset of the OpenMetrics text format written here (gauges).
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
ESCAPED = r'(?:[^"\\\n]|\\[\\"n])*'
LABEL = rf'[a-zA-Z_][a-zA-Z0-9_]*="{ESCAPED}"'
NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN"
HELP_LINE = re.compile(rf"# HELP ({NAME}) {ESCAPED}")
TYPE_LINE = re.compile(rf"# TYPE ({NAME}) gauge")
SAMPLE_LINE = re.compile(rf"({NAME})(\{{{LABEL}(?:,{LABEL})*\}})? ({NUMBER})")


def validate_openmetrics(text: str) -> list[tuple[str, str]]:
    """Check the exposition and return its (series, value) pairs."""
    assert text.endswith("# EOF\n")
    lines = text[: -len("# EOF\n")].splitlines()
    assert "# EOF" not in lines
    families: set[str] = set()
    series: list[tuple[str, str]] = []
    family = None
    for i, line in enumerate(lines):
        if help_line := HELP_LINE.fullmatch(line):
            family = help_line.group(1)
            assert family not in families, f"family {family} is split"
            families.add(family)
            type_line = TYPE_LINE.fullmatch(lines[i + 1])
            assert type_line and type_line.group(1) == family, line
            assert SAMPLE_LINE.fullmatch(lines[i + 2]), f"family {family} has no sample"
        elif TYPE_LINE.fullmatch(line):
            assert HELP_LINE.fullmatch(lines[i - 1]), line
        else:
            sample = SAMPLE_LINE.fullmatch(line)
            assert sample, f"not OpenMetrics: {line!r}"
            assert sample.group(1) == family, f"{line!r} outside its family"
            labels = re.findall(r'([a-zA-Z_]\w*)="', sample.group(2) or "")
            assert len(labels) == len(set(labels)), line
            series.append((sample.group(1) + (sample.group(2) or ""), sample.group(3)))
    names = [name for name, _ in series]
    assert len(names) == len(set(names)), "duplicate series"
    return series


def gitlab_view(text: str) -> dict[str, str]:
    """What GitLab's metrics parser keeps: `#...` cut off, the rest split shell-style."""
    metrics = {}
    for line in text.splitlines():
        name, *values = shlex.split(re.sub(r"#.*$", "", line)) or [""]
        if name and values:
            assert name not in metrics, name
            metrics[name] = values[0]
    return metrics


def test_render_exact() -> None:
    assert render(REPORT) == EXPECTED


def test_output_is_valid_openmetrics() -> None:
    series = validate_openmetrics(render(REPORT))
    assert len(series) == 20


def test_gitlab_sees_every_sample_once() -> None:
    text = render(REPORT)
    seen = gitlab_view(text)
    assert len(seen) == len(validate_openmetrics(text))
    assert seen["dvc_test_auc{file=metrics.json}"] == "0.91"
    assert seen["dvc_val_loss{file=my metrics.json,key=val loss}"] == "1.25"
    assert seen['dvc_acc{file=odd"dir\\x\\ny.json}'] == "0.2"
    assert seen["dvc_acc{file=reports/%231.json}"] == "0.4"


def test_order_of_rows_does_not_matter() -> None:
    shuffled = Report(base=BASE, head=HEAD, metrics=METRICS[-2::-1] + METRICS[-1:])
    assert render(shuffled) == EXPECTED


def test_nothing_numeric_is_just_eof() -> None:
    report = Report(base=BASE, head=HEAD, metrics=(Row("m.json", "s", "a", "b"),))
    assert render(report) == "# EOF\n"
    assert validate_openmetrics(render(report)) == []
