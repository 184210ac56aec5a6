"""Pure logic of the report model: which way a metric should move, judged from its name."""

from __future__ import annotations

import pytest

from dvc_cml.model import Direction, Row, Verdict, metric_direction

HIGHER, LOWER, UNKNOWN = Direction.HIGHER, Direction.LOWER, Direction.UNKNOWN


@pytest.mark.parametrize(
    ("key", "direction"),
    [
        # example-get-started's eval/metrics.json: `metric.split`, the split last.
        ("roc_auc.test", HIGHER),
        ("avg_prec.train", HIGHER),
        ("avg_prec.test", HIGHER),
        # dvclive: `split/metric` (slashes) and `split.metric` once nested in metrics.json.
        ("train.loss", LOWER),
        ("eval/acc", HIGHER),
        ("eval/loss", LOWER),
        ("train/mae", LOWER),
        ("test.val_loss", LOWER),
        ("results.ap", HIGHER),
        ("test.map50", HIGHER),
        ("val.top5_acc", HIGHER),
        ("val.prec", HIGHER),
        ("val.rec", HIGHER),
        ("test.f1_score", HIGHER),
        ("valLoss", LOWER),  # Keras-style camelCase
        ("eval.rocAuc", HIGHER),
        ("latency.p99", LOWER),
        # Nothing to go by, or segments that disagree: no guess.
        ("step", UNKNOWN),
        ("epochs_run", UNKNOWN),
        ("loss.auc", UNKNOWN),
        ("train/loss_auc", UNKNOWN),
        ("error.precision", UNKNOWN),
        ("test.reconstruction", UNKNOWN),
    ],
)
def test_metric_direction_reads_every_segment(key: str, direction: Direction) -> None:
    assert metric_direction(key) is direction


def test_verdict_of_a_split_suffixed_metric() -> None:
    row = Row("eval/metrics.json", "roc_auc.test", 0.91, 0.93, metric_direction("roc_auc.test"))
    assert row.verdict is Verdict.BETTER
    row = Row("eval/metrics.json", "avg_prec.test", 0.8, 0.7, metric_direction("avg_prec.test"))
    assert row.verdict is Verdict.WORSE
