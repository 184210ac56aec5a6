"""The in-memory report: what changed between two revisions.  Pure data and pure logic."""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dvc_cml.gates import GateResult

Scalar = str | int | float | bool | None


class _Missing(enum.Enum):
    """A value that does not exist at a revision (distinct from a metric whose value is null)."""

    MISSING = "missing"

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing.MISSING
Value = Scalar | list[Any] | dict[str, Any] | _Missing


@dataclass(frozen=True)
class Revision:
    name: str  # as the user named it: "main", "HEAD~1", "workspace"
    sha: str | None  # the commit; for the workspace, the commit it sits on

    @property
    def short_sha(self) -> str:
        return self.sha[:7] if self.sha else ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.short_sha})" if self.sha else self.name


class Status(str, enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


class Direction(str, enum.Enum):
    HIGHER = "higher"  # higher is better
    LOWER = "lower"  # lower is better
    UNKNOWN = "unknown"


class Verdict(str, enum.Enum):
    BETTER = "better"
    WORSE = "worse"
    NEUTRAL = "neutral"  # changed, but the direction is unknown or it is not a number


# Matched against every word of a metric's name, in every dotted or slashed segment:
# "roc_auc.test" -> roc, auc, test; "eval/val_loss" -> eval, val, loss; "valLoss" -> val, loss.
_LOWER_IS_BETTER = {
    "loss", "error", "err", "errors", "mse", "rmse", "mae", "mape", "smape", "msle", "rmsle",
    "logloss", "nll", "perplexity", "ppl", "wer", "cer", "ter", "fpr", "fnr", "far", "frr",
    "brier", "latency", "duration", "time", "seconds", "eer", "hamming", "distance", "p99",
    "p95", "p50", "kld", "xent", "crossentropy", "bce", "fid", "lpips", "regret", "cost",
}  # fmt: skip
_HIGHER_IS_BETTER = {
    "acc", "accuracy", "auc", "roc", "auroc", "auprc", "aupr", "prauc", "precision", "prec",
    "recall", "rec", "f1", "f2", "fbeta", "fscore", "iou", "miou", "map", "ap", "ndcg", "mrr",
    "bleu", "rouge", "meteor", "r2", "dice", "tpr", "tnr", "specificity", "sensitivity",
    "kappa", "mcc", "throughput", "coverage", "psnr", "ssim", "top1", "top5", "jaccard",
}  # fmt: skip


def _words(key: str) -> list[str]:
    """Lower-case words of a metric name; a trailing number counts as its word (`map50`)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", key).lower()  # camelCase -> camel_case
    words = [w for w in re.split(r"[^a-z0-9]+", spaced) if w]
    return words + [w.rstrip("0123456789") for w in words if w[-1].isdigit()]


def metric_direction(key: str) -> Direction:
    """Guess whether a metric should go up or down from its name; unknown when unsure.

    Every segment counts (`roc_auc.test`, `eval/acc`): real projects put the split or the
    stage after or before the metric's own name.  Words that point both ways (`loss.auc`)
    give no guess.
    """
    words = _words(key)
    lower = any(w in _LOWER_IS_BETTER for w in words)
    higher = any(w in _HIGHER_IS_BETTER for w in words)
    if lower == higher:  # neither, or ambiguous like "loss_auc"
        return Direction.UNKNOWN
    return Direction.LOWER if lower else Direction.HIGHER


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Row:
    """One metric or param at both revisions."""

    path: str  # the file it lives in
    key: str  # dotted name inside the file, as DVC prints it
    base: Value
    head: Value
    direction: Direction = Direction.UNKNOWN

    @property
    def status(self) -> Status:
        if self.base is MISSING:
            return Status.ADDED
        if self.head is MISSING:
            return Status.REMOVED
        if self.base == self.head and type(self.base) is type(self.head):
            return Status.UNCHANGED
        if is_number(self.base) and is_number(self.head) and self.base == self.head:
            return Status.UNCHANGED  # 1 == 1.0
        return Status.CHANGED

    @property
    def change(self) -> float | None:
        """head - base for two finite numbers, else None."""
        if is_number(self.base) and is_number(self.head):
            delta = self.head - self.base  # type: ignore[operator]
            return delta if math.isfinite(delta) else None
        return None

    @property
    def relative_change(self) -> float | None:
        """Change in percent of |base|; None where base is 0 or not a number."""
        delta = self.change
        if delta is None or self.base == 0:
            return None
        return 100.0 * delta / abs(self.base)  # type: ignore[arg-type]

    @property
    def verdict(self) -> Verdict:
        delta = self.change
        if delta is None or delta == 0 or self.direction is Direction.UNKNOWN:
            return Verdict.NEUTRAL
        improved = delta > 0 if self.direction is Direction.HIGHER else delta < 0
        return Verdict.BETTER if improved else Verdict.WORSE


class PlotKind(str, enum.Enum):
    LINE = "line"
    SCATTER = "scatter"
    SMOOTH = "smooth"
    BAR = "bar"
    CONFUSION = "confusion"
    IMAGE = "image"


# DVC's template names (dvc_render.vega_templates) mapped to how we draw them.
TEMPLATE_KINDS: dict[str, PlotKind] = {
    "linear": PlotKind.LINE,
    "simple": PlotKind.LINE,
    "scatter": PlotKind.SCATTER,
    "scatter_jitter": PlotKind.SCATTER,
    "smooth": PlotKind.SMOOTH,
    "bar_horizontal": PlotKind.BAR,
    "bar_horizontal_sorted": PlotKind.BAR,
    "confusion": PlotKind.CONFUSION,
    "confusion_normalized": PlotKind.CONFUSION,
}


@dataclass(frozen=True)
class Point:
    """One datapoint of a data plot, tagged with where it came from."""

    rev: str  # "base" or "head"
    series: str  # "file: field", or just the field when there is one file
    x: Any
    y: Any


@dataclass(frozen=True)
class DataPlot:
    """A plot DVC draws with a Vega template: lines, scatter, bars, confusion matrices."""

    name: str  # DVC's plot id: a top-level definition name or an output path
    title: str
    template: str
    x_label: str
    y_label: str
    points: tuple[Point, ...]
    dropped: int = 0  # NaN/Infinity points left out: vega cannot draw them
    problems: tuple[str, ...] = ()  # why a revision could not be drawn
    changed: bool = True  # the data differs between the revisions (judged before sampling)
    sampled_from: int = 0  # longest series before downsampling; 0: not downsampled

    @property
    def kind(self) -> PlotKind:
        return TEMPLATE_KINDS.get(self.template, PlotKind.LINE)

    @property
    def normalized(self) -> bool:
        return self.template == "confusion_normalized"

    def revs(self) -> list[str]:
        return [r for r in ("base", "head") if any(p.rev == r for p in self.points)]


@dataclass(frozen=True)
class ImagePlot:
    """An image file declared as a plot; bytes per revision (None where it does not exist)."""

    name: str
    base: bytes | None
    head: bytes | None

    @property
    def kind(self) -> PlotKind:
        return PlotKind.IMAGE

    @property
    def title(self) -> str:
        return self.name

    def revs(self) -> list[str]:
        return [r for r, data in (("base", self.base), ("head", self.head)) if data is not None]

    @property
    def changed(self) -> bool:
        return self.base != self.head


Plot = DataPlot | ImagePlot


@dataclass(frozen=True)
class Reproduced:
    """What `--repro` did before the diff."""

    ran: tuple[str, ...]
    up_to_date: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    base: Revision
    head: Revision
    metrics: tuple[Row, ...] = ()
    params: tuple[Row, ...] = ()
    plots: tuple[Plot, ...] = ()
    reproduced: Reproduced | None = None
    gates: tuple[GateResult, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.metrics or self.params or self.plots)

    def changed_params(self) -> list[Row]:
        return [r for r in self.params if r.status is not Status.UNCHANGED]


@dataclass(frozen=True)
class RenderedPlot:
    """Where a plot's files went, relative to the report directory."""

    name: str
    title: str
    kind: PlotKind
    changed: bool
    png: str | None = None  # the chart (data plots)
    spec: str | None = None  # its Vega-Lite spec, beside the PNG
    images: tuple[tuple[str, str], ...] = ()  # image plots: (rev, path) pairs
    notes: tuple[str, ...] = ()

    @property
    def drawn(self) -> bool:
        """Has a chart or images (an unchanged plot is only listed, unless --all-plots)."""
        return bool(self.png or self.images)
