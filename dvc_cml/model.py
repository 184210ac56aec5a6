"""The in-memory report: what changed between two revisions.  Pure data and pure logic."""

from __future__ import annotations

import enum
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Scalar = str | int | float | bool | None


class _Missing(enum.Enum):
    """A value that does not exist at a revision (distinct from a metric whose value is null),
    or that is unknown there because its file could not be read (a `Problem` says why)."""

    MISSING = "missing"
    UNREAD = "not read"

    def __repr__(self) -> str:
        return self.name


MISSING = _Missing.MISSING
UNREAD = _Missing.UNREAD
Value = Scalar | list[Any] | dict[str, Any] | _Missing


@dataclass(frozen=True)
class Revision:
    name: str  # as the user named it: "main", "HEAD~1", "workspace"
    sha: str | None  # the commit; for the workspace, the commit it sits on
    # The workspace: it has uncommitted changes in what the report reads, so it is not
    # `sha` (as `git describe --dirty` says it).
    dirty: bool = False

    @property
    def short_sha(self) -> str:
        return self.sha[:7] if self.sha else ""

    @property
    def commit(self) -> str:
        """The commit as the report names it: `2c932c9`, `2c932c9 + uncommitted changes`."""
        return f"{self.short_sha} + uncommitted changes" if self.dirty else self.short_sha

    @property
    def label(self) -> str:
        return f"{self.name} ({self.commit})" if self.sha else self.name


class Status(str, enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNREAD = "not read"  # its file could not be read at a revision: neither added nor removed


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
        if UNREAD in (self.base, self.head):
            return Status.UNREAD
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


def biggest_change(row: Row) -> tuple[int, float, str, str]:
    """Sort key: largest relative change first, then absolute; added/removed/text last."""
    if (rel := row.relative_change) is not None:
        return (0, -abs(rel), row.path, row.key)
    if (delta := row.change) is not None:
        return (1, -abs(delta), row.path, row.key)
    return (2, 0.0, row.path, row.key)


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
    count: int = 1  # confusion matrices: how many rows fall in this (x, y) cell


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
    notes: tuple[str, ...] = ()  # said under the chart (a custom template drawn as built-in)
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


StageOutcome = Literal["ran", "restored", "up to date"]


@dataclass(frozen=True)
class StageRun:
    """One stage as `dvc repro` took it: its command ran, its outputs were restored from
    DVC's run-cache (the command did not run), or nothing had changed."""

    name: str  # as DVC addresses it: "train", "sub/dvc.yaml:train", "train@model1"
    outcome: StageOutcome


@dataclass(frozen=True)
class Reproduced:
    """What `--repro` did before the diff: every stage DVC looked at, in the order it took
    them (the pipeline's order, upstream first).  `skipped` says why nothing ran."""

    stages: tuple[StageRun, ...] = ()
    skipped: str = ""  # e.g. "the DVC remote could not be reached"

    def names(self, outcome: StageOutcome) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.outcome == outcome)


@dataclass(frozen=True)
class Gate:
    """One allowed change for one metric, as parsed from `text`."""

    metric: str  # as written: "test.auc", or "eval/scores.yaml:per_class.cat.recall"
    op: Literal["<", ">"]  # fail when the change is below ("<") or above (">") the threshold
    threshold: float
    relative: bool  # threshold in percent of |base|
    source: str  # where the gate came from: "--fail-on", ".dvc-cml.yaml", "pyproject.toml"
    text: str  # the spec as written, for messages


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    row: Row | None  # None: the metric exists at neither revision
    status: Literal["pass", "fail", "missing"]
    detail: str  # one human line saying why


@dataclass(frozen=True)
class Output:
    """A DVC-tracked file or directory at one revision, as its .dvc file or dvc.lock says."""

    path: str  # from the project root; directories end with "/"
    size: int | None  # bytes
    files: int | None  # directories: how many files
    digest: str | None


@dataclass(frozen=True)
class DataChange:
    """One DVC-tracked output that differs between the revisions (`dvc diff`)."""

    path: str  # at head (at base for deleted ones); directories end with "/"
    status: Literal["added", "deleted", "modified", "renamed"]
    base: Output | None
    head: Output | None
    old_path: str | None = None  # renamed: where it was at base
    # Directories whose listing DVC has locally: what changed inside, {status: count}.
    inside: tuple[tuple[str, int], ...] = ()

    @property
    def is_dir(self) -> bool:
        return self.path.endswith("/")


@dataclass(frozen=True)
class ParamChange:
    name: str
    base: Value
    head: Value


@dataclass(frozen=True)
class StageChange:
    """A stage of dvc.lock whose command, dependencies, params or outputs changed (or, in
    the workspace, differ on disk from dvc.lock: changed since, not reproduced)."""

    name: str  # as DVC addresses it: "train", "sub/dvc.yaml:train", "train@model1"
    status: Literal["added", "removed", "changed"]
    command: bool = False  # the command differs
    deps: tuple[str, ...] = ()  # dependencies (paths) whose content changed, added or removed
    params: tuple[ParamChange, ...] = ()
    outs: tuple[str, ...] = ()  # outputs (paths) whose content changed, added or removed
    # The workspace only: its files differ from the stage's dvc.lock entry (`dvc status`),
    # and the columns above compare them as they are on disk.
    not_reproduced: bool = False


@dataclass(frozen=True)
class Problem:
    """A file the report could not read at one revision; the rest of the report stands.

    Listed in every output (Markdown, terminal, page, `--json`), so a reader knows which rows
    and charts are missing and why, instead of the run ending on the first bad file.
    """

    path: str  # from the project root, as DVC names it
    rev: Revision
    reason: str  # one line: "not read: a symlink leading outside the repository"


@dataclass(frozen=True)
class Report:
    base: Revision
    head: Revision
    metrics: tuple[Row, ...] = ()
    params: tuple[Row, ...] = ()
    plots: tuple[Plot, ...] = ()
    reproduced: Reproduced | None = None
    gates: tuple[GateResult, ...] = ()
    data: tuple[DataChange, ...] = ()
    tracked: int = 0  # DVC-tracked outputs at either revision
    stages: tuple[StageChange, ...] = ()  # changed, added or removed
    stages_unchanged: int = 0
    problems: tuple[Problem, ...] = ()  # files not read, each with its revision and reason

    @property
    def empty(self) -> bool:
        return not (
            self.metrics or self.params or self.plots or self.data or self.stages or self.problems
        )

    def changed_params(self) -> list[Row]:
        return [r for r in self.params if r.status not in (Status.UNCHANGED, Status.UNREAD)]

    def summary(self, plots: Sequence[Plot | RenderedPlot] | None = None) -> Summary:
        """The counts behind the report's first line, from the same rows as its tables
        (`plots`: the plots as the report shows them, when they are rendered)."""
        plots = self.plots if plots is None else plots
        metrics = Counter(_metric_bucket(row) for row in self.metrics)
        return Summary(
            metrics=tuple((bucket, metrics[bucket]) for bucket in _BUCKETS if metrics[bucket]),
            params_changed=len(self.changed_params()),
            gates_passed=sum(g.status == "pass" for g in self.gates),
            gates=len(self.gates),
            plots_changed=sum(p.changed for p in plots),
            plots=len(plots),
            dirs_changed=sum(d.is_dir for d in self.data),
            files_changed=sum(not d.is_dir for d in self.data),
            tracked=self.tracked,
            stages_changed=len(self.stages),
            stages=len(self.stages) + self.stages_unchanged,
            problems=len(self.problems),
        )


_BUCKETS = ("better", "worse", "changed", "unchanged", "new", "removed", "not read")


def _metric_bucket(row: Row) -> str:
    if row.status is Status.UNREAD:
        return "not read"
    if row.status is Status.ADDED:
        return "new"
    if row.status is Status.REMOVED:
        return "removed"
    if row.status is Status.UNCHANGED:
        return "unchanged"
    return {Verdict.BETTER: "better", Verdict.WORSE: "worse"}.get(row.verdict, "changed")


@dataclass(frozen=True)
class Summary:
    """How much changed, section by section."""

    metrics: tuple[tuple[str, int], ...]  # (bucket of _BUCKETS, n)
    params_changed: int
    gates_passed: int
    gates: int
    plots_changed: int
    plots: int
    dirs_changed: int
    files_changed: int
    tracked: int
    stages_changed: int
    stages: int
    problems: int = 0  # files not read


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
