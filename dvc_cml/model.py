"""The in-memory report: what changed between a base revision and one or more heads.

Pure data and pure logic.  A report compares a base with its heads (`Report.heads`): the
everyday report has one head, `dvc-cml diff main exp-a exp-b` two.  Every per-revision value
is tagged with its revision's key: "base", "head" for the first head, then "head2",
"head3", ... (`head_key`), so the two-revision report is simply the case of one head.
"""

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


BASE = "base"
HEAD = "head"


def head_key(index: int) -> str:
    """The key of the report's head number `index` (0-based): "head", "head2", "head3", ..."""
    return HEAD if index == 0 else f"{HEAD}{index + 1}"


def rev_order(key: str) -> int:
    """Where a revision key sorts: the base first, then the heads in the report's order."""
    if key == BASE:
        return 0
    number = key.removeprefix(HEAD)
    return int(number) if number.isdigit() else 1


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


def _status(base: Value, head: Value) -> Status:
    if UNREAD in (base, head):
        return Status.UNREAD
    if base is MISSING and head is MISSING:
        return Status.UNCHANGED  # at neither: another head has it
    if base is MISSING:
        return Status.ADDED
    if head is MISSING:
        return Status.REMOVED
    if base == head and type(base) is type(head):
        return Status.UNCHANGED
    if is_number(base) and is_number(head) and base == head:
        return Status.UNCHANGED  # 1 == 1.0
    return Status.CHANGED


@dataclass(frozen=True)
class Row:
    """One metric or param at every revision of the report: the base, then each head.

    `status` looks at every head (unchanged only when each head equals the base); `change`,
    `relative_change` and `verdict` compare the base with one head, the first one:
    `against(i)` is the row of head `i` alone.
    """

    path: str  # the file it lives in
    key: str  # dotted name inside the file, as DVC prints it
    base: Value
    head: Value  # at the first head
    direction: Direction = Direction.UNKNOWN
    more: tuple[Value, ...] = ()  # at the further heads, in the report's order

    @property
    def heads(self) -> tuple[Value, ...]:
        return (self.head, *self.more)

    @property
    def values(self) -> tuple[Value, ...]:
        """The base's value, then every head's."""
        return (self.base, self.head, *self.more)

    def against(self, index: int) -> Row:
        """This row with head `index` only: the base against that head."""
        if index == 0 and not self.more:
            return self
        return Row(self.path, self.key, self.base, self.heads[index], self.direction)

    @property
    def status(self) -> Status:
        """Over every head: unchanged at each, added or removed (at each head that changed),
        not read (where it was not read at all that changed), else changed."""
        statuses = {_status(self.base, head) for head in self.heads} - {Status.UNCHANGED}
        if not statuses:
            return Status.UNCHANGED
        if len(statuses) > 1:
            statuses.discard(Status.UNREAD)  # a head that was read says more
        return statuses.pop() if len(statuses) == 1 else Status.CHANGED

    def at(self, index: int) -> bool:
        """Whether the row exists at the base or at head `index` (not only at other heads)."""
        return self.base is not MISSING or self.heads[index] is not MISSING

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

    def best(self) -> tuple[int, ...]:
        """Which revisions (0: the base, 1...: the heads) hold the best value, for a metric
        whose direction is known; () when unknown, when fewer than two revisions have a
        finite number, or when they all agree (nothing stands out)."""
        if self.direction is Direction.UNKNOWN:
            return ()
        numbers = {
            i: float(v)  # type: ignore[arg-type]
            for i, v in enumerate(self.values)
            if is_number(v) and math.isfinite(v)  # type: ignore[arg-type]
        }
        if len(numbers) < 2 or len(set(numbers.values())) == 1:
            return ()
        pick = max if self.direction is Direction.HIGHER else min
        top = pick(numbers.values())
        return tuple(i for i, v in numbers.items() if v == top)


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

    rev: str  # the revision's key: "base", "head", "head2", ...
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
        """The keys of the revisions that have data, base first."""
        return sorted({p.rev for p in self.points}, key=rev_order)


@dataclass(frozen=True)
class ImagePlot:
    """An image file declared as a plot; bytes per revision (None where it does not exist)."""

    name: str
    base: bytes | None
    head: bytes | None  # at the first head
    more: tuple[bytes | None, ...] = ()  # at the further heads

    def by_rev(self) -> list[tuple[str, bytes | None]]:
        """(revision key, bytes) for every revision of the report, base first."""
        heads = (self.head, *self.more)
        return [(BASE, self.base)] + [(head_key(i), data) for i, data in enumerate(heads)]

    @property
    def kind(self) -> PlotKind:
        return PlotKind.IMAGE

    @property
    def title(self) -> str:
        return self.name

    def revs(self) -> list[str]:
        return [r for r, data in self.by_rev() if data is not None]

    @property
    def changed(self) -> bool:
        return any(data != self.base for data in (self.head, *self.more))


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
    rev: str = HEAD  # the head it judged (each gate is judged for every head)


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
    rev: str = HEAD  # the head it compares with the base

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
    rev: str = HEAD  # the head it compares with the base


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
    head: Revision  # the first head
    metrics: tuple[Row, ...] = ()
    params: tuple[Row, ...] = ()
    plots: tuple[Plot, ...] = ()
    reproduced: Reproduced | None = None
    gates: tuple[GateResult, ...] = ()
    data: tuple[DataChange, ...] = ()  # each tagged with the head it compares
    tracked: int = 0  # DVC-tracked outputs at any revision
    stages: tuple[StageChange, ...] = ()  # changed, added or removed; tagged like `data`
    stages_unchanged: int = 0  # stages unchanged at every head
    problems: tuple[Problem, ...] = ()  # files not read, each with its revision and reason
    more: tuple[Revision, ...] = ()  # further heads: `dvc-cml diff main exp-a exp-b`
    primary: tuple[str, str] | None = None  # (path, key) of the metric that picks the best

    @property
    def heads(self) -> tuple[Revision, ...]:
        return (self.head, *self.more)

    @property
    def revisions(self) -> tuple[Revision, ...]:
        """The base, then every head: the order of `Row.values` and of the tables' columns."""
        return (self.base, self.head, *self.more)

    @property
    def keys(self) -> tuple[str, ...]:
        """The revisions' keys, in the order of `revisions`."""
        return (BASE, *(head_key(i) for i in range(len(self.heads))))

    @property
    def multi(self) -> bool:
        """More than one head: the tables get a column per revision."""
        return bool(self.more)

    def labels(self) -> dict[str, str]:
        """{revision key: "name (sha)"}."""
        return {key: rev.label for key, rev in zip(self.keys, self.revisions, strict=True)}

    def revision(self, key: str) -> Revision:
        return self.revisions[self.keys.index(key)]

    @property
    def empty(self) -> bool:
        return not (
            self.metrics or self.params or self.plots or self.data or self.stages or self.problems
        )

    def changed_params(self) -> list[Row]:
        return [r for r in self.params if r.status not in (Status.UNCHANGED, Status.UNREAD)]

    def primary_row(self) -> Row | None:
        if self.primary is None:
            return None
        return next((r for r in self.metrics if (r.path, r.key) == self.primary), None)

    def best(self) -> tuple[int, ...]:
        """The revisions (0: base) with the best value of the primary metric; () without one."""
        row = self.primary_row()
        return row.best() if row is not None else ()

    def summary(self, plots: Sequence[Plot | RenderedPlot] | None = None) -> Summary:
        """The counts behind the report's first line, from the same rows as its tables
        (`plots`: the plots as the report shows them, when they are rendered)."""
        plots = self.plots if plots is None else plots
        # Several heads: better or worse is per head (`per_head`), not for a row as a whole.
        metrics = Counter(_metric_bucket(row, verdict=not self.multi) for row in self.metrics)
        per_head: list[tuple[str, tuple[tuple[str, int], ...]]] = []
        if self.multi:
            for i, head in enumerate(self.heads):
                counts = Counter(_metric_bucket(r.against(i)) for r in self.metrics if r.at(i))
                buckets = tuple((b, counts[b]) for b in _BUCKETS if counts[b])
                per_head.append((head.name, buckets))
        data_paths = {d.path: d.is_dir for d in self.data}
        stage_names = {s.name for s in self.stages}
        row = self.primary_row()
        best = self.best()
        return Summary(
            metrics=tuple((bucket, metrics[bucket]) for bucket in _BUCKETS if metrics[bucket]),
            params_changed=len(self.changed_params()),
            gates_passed=sum(g.status == "pass" for g in self.gates),
            gates=len(self.gates),
            plots_changed=sum(p.changed for p in plots),
            plots=len(plots),
            dirs_changed=sum(data_paths.values()),
            files_changed=sum(not is_dir for is_dir in data_paths.values()),
            tracked=self.tracked,
            stages_changed=len(stage_names),
            stages=len(stage_names) + self.stages_unchanged,
            problems=len(self.problems),
            per_head=tuple(per_head),
            primary=row.key if row is not None else None,
            best=tuple(self.revisions[i].name for i in best),
            best_value=row.values[best[0]] if row is not None and best else MISSING,
        )


_BUCKETS = ("better", "worse", "changed", "unchanged", "new", "removed", "not read")


def _metric_bucket(row: Row, verdict: bool = True) -> str:
    if row.status is Status.UNREAD:
        return "not read"
    if row.status is Status.ADDED:
        return "new"
    if row.status is Status.REMOVED:
        return "removed"
    if row.status is Status.UNCHANGED:
        return "unchanged"
    if not verdict:
        return "changed"
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
    # Several heads: the metrics' buckets per head, by its name.
    per_head: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()
    primary: str | None = None  # the metric that picks the best revision (`primary:`)
    best: tuple[str, ...] = ()  # the revisions with its best value
    best_value: Value = MISSING


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
