"""The only module that talks to DVC: revisions in, a `Report` out.

Everything runs in this process through `dvc.repo.Repo` (no `dvc` subprocess).  DVC's
exceptions are translated into `UserError`s that name the file and the revision.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import math
import os
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvc_cml import git
from dvc_cml.ci import BaseHint, base_hint
from dvc_cml.downsample import DEFAULT_MAX_POINTS
from dvc_cml.errors import UserError
from dvc_cml.model import (
    MISSING,
    TEMPLATE_KINDS,
    DataPlot,
    Direction,
    ImagePlot,
    Plot,
    PlotKind,
    Point,
    Report,
    Revision,
    Row,
    Value,
    metric_direction,
)

if TYPE_CHECKING:
    from dvc.repo import Repo

WORKSPACE = "workspace"
Step = Callable[[str], None]

# DVC logs INFO to stdout and its own warnings to stderr; we report problems ourselves.
_DVC_LOGGERS = ("dvc", "dvc_data", "dvc_objects", "scmrepo", "dvc_render")


def quiet_dvc() -> None:
    for name in _DVC_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    """DVC resolves dvc.yaml and targets against the working directory, like `git -C`."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def open_repo(path: Path) -> Iterator[Repo]:
    """Open the DVC repo at or above `path`, explaining what is missing if it is not one."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo
    from dvc.scm import SCM as open_scm
    from dvc.scm import NoSCM, SCMError

    quiet_dvc()
    if not path.is_dir():
        raise UserError(f"{path} is not a directory")
    try:
        open_scm(str(path))
    except SCMError:
        raise UserError(
            f"{path} is not inside a git repository (dvc-cml compares git revisions; "
            "run it from your project's clone or pass -C PATH)"
        ) from None
    try:
        repo = Repo(str(path))
    except NotDvcRepoError:
        raise UserError(
            f"{path} is a git repository but not a DVC project (no .dvc directory found; "
            "run `dvc init` first)"
        ) from None
    if isinstance(repo.scm, NoSCM):  # .dvc/config has `core.no_scm`
        raise UserError(f"{repo.root_dir} is a DVC project initialised without git (no_scm)")
    try:
        yield repo
    finally:
        repo.close()


def project_root(path: Path) -> Path:
    """The DVC project's root at or above `path` (where its config files live)."""
    with open_repo(path) as repo:
        return Path(repo.root_dir)


def default_base(repo: Repo, hint: BaseHint) -> str:
    """The branch CI names (MR target, default branch), else `main` or `master`."""
    for name in (*hint.branches, "main", "master"):
        for ref in (name, f"origin/{name}"):
            if _try_resolve(repo, ref):
                return ref
    if hint.branches:
        return hint.branches[0]  # not here yet: resolve_revision fetches it
    raise UserError(
        "no BASE revision given and neither `main` nor `master` exists; "
        "name the branch to compare against, e.g. `dvc-cml diff develop`"
    )


def _try_resolve(repo: Repo, name: str) -> str | None:
    from scmrepo.exceptions import SCMError

    try:
        return str(repo.scm.resolve_rev(name))
    except SCMError:
        return None


def _experiment(repo: Repo, name: str) -> str | None:
    """The commit of a DVC experiment named as `dvc exp show` lists it."""
    from dvc.repo.experiments.utils import exp_refs_by_names

    refs = exp_refs_by_names(repo.scm, {name}).get(name, [])
    if len(refs) > 1:
        baselines = ", ".join(ref.baseline_sha[:7] for ref in refs)
        raise UserError(
            f"experiment name {name!r} is ambiguous (baselines {baselines}); use its SHA"
        )
    return str(repo.scm.get_ref(str(refs[0]))) if refs else None


def resolve_revision(repo: Repo, name: str, sha: str | None = None) -> Revision:
    """A revision by name (branch, tag, SHA, HEAD~N, experiment, workspace).

    What is not in the clone is fetched from origin into a real ref, with a bounded depth.
    `sha`, when given, pins the commit (the MR's merge base) while keeping the name.
    """
    if name == WORKSPACE:
        return Revision(WORKSPACE, _try_resolve(repo, "HEAD"))
    wanted = sha or name
    found = _try_resolve(repo, wanted) or (None if sha else _experiment(repo, name))
    root = Path(repo.root_dir)
    if found is None and git.has_origin(root):
        problem = git.fetch(root, wanted)
        if problem and sha:  # not every server serves a bare SHA: its branch brings it along
            problem = git.fetch(root, name)
        found = _try_resolve(repo, wanted) or _try_resolve(repo, f"origin/{wanted}")
        if found is None:
            shallow = " (this clone is shallow)" if git.is_shallow(root) else ""
            raise UserError(
                f"revision {wanted!r} is not in {repo.root_dir}{shallow} and fetching it from "
                f"origin failed ({problem}); in GitLab CI set GIT_DEPTH to 0 (or deep enough "
                "to reach it) in the job's variables"
            )
    if found is None:
        raise UserError(
            f"revision {wanted!r} does not exist in {repo.root_dir} "
            "(no branch, tag, commit or experiment by that name)"
        )
    return Revision(name, found)


def _rev_key(rev: Revision) -> str:
    """The string DVC's brancher gets: the full SHA, so names like `HEAD~1` stay unambiguous."""
    return WORKSPACE if rev.name == WORKSPACE or rev.sha is None else rev.sha


def _flatten(data: Any, prefix: str = "") -> dict[str, Value]:
    """Nested dicts to dotted keys, as DVC prints them; lists stay values."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    flat: dict[str, Value] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def describe(exc: BaseException) -> str:
    """A short reason from a DVC error: the parser's own words and position when it has them."""
    cause = exc.__cause__ or exc
    line = getattr(cause, "lineno", None)  # json.JSONDecodeError
    if line is not None and hasattr(cause, "msg"):
        return f"{cause.msg} at line {line}, column {getattr(cause, 'colno', '?')}"
    mark = getattr(cause, "problem_mark", None)  # ruamel.yaml's MarkedYAMLError
    if (problem := getattr(cause, "problem", None)) and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    text = str(cause) or type(cause).__name__
    return " ".join(text.split())


def _not_produced(error: BaseException, path: str, rev: Revision) -> bool:
    """True for a file that does not exist at `rev`; raises if its data is only unreachable."""
    if not isinstance(error, FileNotFoundError):
        return False
    if "No storage files available" in str(error):
        # DVC tracks it at this revision, but neither the cache nor the remote has the data.
        raise UserError(
            f"{path} at {rev.label} is tracked by DVC, but its data is in neither the local "
            "cache nor the DVC remote (was `dvc push` run where it was produced?)"
        )
    return True


def _culprit(exc: BaseException) -> str:
    """Which file a revision-wide failure came from (dvc.yaml interpolation reads params)."""
    path = getattr(exc, "path", None)  # dvc.utils.serialize.ParseError
    if not path:
        return ""
    return str(path).lstrip("./") if str(path).startswith("..") else str(path)


def _file_values(
    kind: str, result: Mapping[str, Any], key: str, rev: Revision
) -> dict[str, dict[str, Value]]:
    """{path: {dotted key: value}} for one revision of a metrics/params `show` result."""
    entry = result.get(key, {})
    if error := entry.get("error"):
        if culprit := _culprit(error):
            raise UserError(f"{culprit} does not parse at {rev.label}: {describe(error)}")
        raise UserError(f"could not read {kind} at {rev.label}: {describe(error)}")
    files: dict[str, dict[str, Value]] = {}
    for path, file_result in entry.get("data", {}).items():
        if error := file_result.get("error"):
            if _not_produced(error, path, rev):
                continue  # a file declared in dvc.yaml but not produced at this revision
            raise UserError(f"{kind} file {path} does not parse at {rev.label}: {describe(error)}")
        files[path] = _flatten(file_result.get("data", {}))
    return files


def _rows(
    base: dict[str, dict[str, Value]],
    head: dict[str, dict[str, Value]],
    with_direction: bool,
) -> tuple[Row, ...]:
    rows = []
    for path in sorted(base.keys() | head.keys()):
        old, new = base.get(path, {}), head.get(path, {})
        for key in sorted(old.keys() | new.keys()):
            rows.append(
                Row(
                    path=path,
                    key=key,
                    base=old.get(key, MISSING),
                    head=new.get(key, MISSING),
                    direction=metric_direction(key) if with_direction else Direction.UNKNOWN,
                )
            )
    return tuple(rows)


def _to_number(value: Any) -> Any:
    """CSV/TSV values come back from DVC as strings; make numbers numbers."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def _finite(value: Any) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


@dataclass
class _Series:
    """One series of one revision, as it leaves DVC: raw values, strings for CSV."""

    xs: list[Any] = field(default_factory=list)
    ys: list[Any] = field(default_factory=list)


def _floats(values: list[Any]) -> Any:
    """A float64 array of the values, or None if one of them is not a number."""
    import numpy as np

    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _integral(values: list[Any], array: Any) -> bool:
    """Keep integers integers (steps, epochs, class ids) when the source wrote them so."""
    import numpy as np

    first = values[0]
    looks_int = isinstance(first, int) or (isinstance(first, str) and first.strip().isdigit())
    return bool(looks_int and np.all(array == np.round(array)) and np.all(abs(array) < 2**53))


def _series_points(
    rev: str, name: str, series: _Series, sample: bool, max_points: int
) -> tuple[list[Point], int, int, object]:
    """(points, dropped non-finite, length before sampling or 0, a digest of the data).

    Numbers go through numpy, so a million points cost milliseconds, and Python objects are
    made only for the points that are kept.
    """
    import numpy as np

    from dvc_cml.downsample import keep

    x, y = _floats(series.xs), _floats(series.ys)
    if x is None or y is None or not len(x):
        pairs = [(_to_number(a), _to_number(b)) for a, b in zip(series.xs, series.ys, strict=True)]
        finite = [(a, b) for a, b in pairs if _finite(a) and _finite(b)]
        points = [Point(rev, name, a, b) for a, b in finite]
        return points, len(pairs) - len(finite), 0, sorted((str(a), str(b)) for a, b in finite)
    ok = np.isfinite(x) & np.isfinite(y)
    dropped = int(len(x) - ok.sum())
    x, y = x[ok], y[ok]
    order = np.lexsort((y, x))
    digest = (x[order].tobytes(), y[order].tobytes())
    sampled = 0
    if sample and len(x) > max_points:
        by_x = np.argsort(x, kind="stable")
        x, y = x[by_x], y[by_x]
        kept = keep(x, y, max_points)
        sampled, x, y = len(series.xs), x[kept], y[kept]  # counted as the file has them
    xs = x.astype(np.int64).tolist() if _integral(series.xs, x) else x.tolist()
    ys = y.astype(np.int64).tolist() if _integral(series.ys, y) else y.tolist()
    points = [Point(rev, name, a, b) for a, b in zip(xs, ys, strict=True)]
    return points, dropped, sampled, digest


def _data_plot(
    renderer: Any, problems: tuple[str, ...], max_points: int, thinned: Mapping[str, int]
) -> DataPlot:
    """A DataPlot from a dvc_render VegaRenderer whose revisions are named base and head."""
    props = renderer.properties
    template = str(props.get("template") or "linear")
    x_field, y_field = props.get("x"), props.get("y")
    confusion = template.startswith("confusion")
    files = {dp.get("filename") for dp in renderer.datapoints}
    columns: dict[tuple[str, str], _Series] = {}
    for dp in renderer.datapoints:
        filename, field_name = dp.get("filename", ""), dp.get("field", "")
        if confusion:
            name = str(filename)
        else:
            name = f"{filename}: {field_name}" if len(files) > 1 else str(field_name)
        series = columns.setdefault((dp["rev"], name), _Series())
        series.xs.append(dp.get(x_field))
        series.ys.append(dp.get(y_field))

    sample = TEMPLATE_KINDS.get(template, PlotKind.LINE) in (
        PlotKind.LINE,
        PlotKind.SCATTER,
        PlotKind.SMOOTH,
    )
    points: list[Point] = []
    dropped = sampled_from = 0
    digests: dict[str, dict[str, object]] = {"base": {}, "head": {}}
    for (rev, name), series in columns.items():
        kept, lost, sampled, digest = _series_points(rev, name, series, sample, max_points)
        points += kept
        dropped += lost
        sampled_from = max(sampled_from, sampled)
        digests[rev][name] = digest
    # Files thinned while loading: the chart says from how many rows.
    for path, rows in thinned.items():
        if any(path.endswith(str(f)) for f in files if f):
            sampled_from = max(sampled_from, rows)
    return DataPlot(
        name=renderer.name,
        title=str(props.get("title") or renderer.name),
        template=template,
        x_label=str(props.get("x_label") or x_field or "x"),
        y_label=str(props.get("y_label") or y_field or "y"),
        points=tuple(points),
        dropped=dropped,
        problems=problems,
        changed=digests["base"] != digests["head"],
        sampled_from=sampled_from,
    )


def _image_plot(renderer: Any) -> ImagePlot:
    images: dict[str, bytes] = {}
    for dp in renderer.datapoints:
        src = str(dp.get("src", ""))
        if src.startswith("data:"):  # dvc_render inlines images as data URIs when out=None
            images[dp["rev"]] = base64.b64decode(src.split(",", 1)[1])
    return ImagePlot(name=renderer.name, base=images.get("base"), head=images.get("head"))


THIN_BYTES = 4 * 1024 * 1024  # CSV/TSV plot files larger than this are read column-wise


def _thinned(loader: Any, sampled: dict[str, int], max_points: int, cache: bool = False) -> Any:
    """Load a plot's CSV/TSV source like DVC does, but keep only the rows worth drawing.

    DVC holds every row as a dict of strings, several times over while matching plots:
    about 1.3 GiB for a million rows per revision.  A large file is read here as columns
    instead, and only the rows that some numeric column's downsampling keeps (plus every
    non-finite one, so they are still counted) become dicts; `sampled` notes the file.
    """
    import csv

    import numpy as np

    from dvc_cml.downsample import keep

    fs, path = loader.args
    props = loader.keywords.get("props") or {}
    try:
        if not props.get("header", True) or fs.info(path).get("size", 0) < THIN_BYTES:
            return loader(cache=cache)
        with fs.open(path, mode="r", encoding="utf8", newline="") as fd:
            reader = csv.reader(fd, delimiter="\t" if path.endswith(".tsv") else ",")
            header = next(reader)
            columns: list[list[str]] = [[] for _ in header]
            for row in reader:
                for column, value in zip(columns, row, strict=False):
                    column.append(value)
    except Exception:
        return loader(cache=cache)
    rows = min((len(c) for c in columns), default=0)
    wanted: set[int] = set()
    for column in columns:
        values = _floats(column[:rows])
        if values is None:
            continue
        finite = np.isfinite(values)
        index = np.flatnonzero(finite)
        wanted.update(np.flatnonzero(~finite).tolist())
        wanted.update(index[keep(index.astype(np.float64), values[finite], max_points)].tolist())
    if not wanted:  # nothing numeric to sample by: DVC's way
        return loader(cache=cache)
    sampled[path] = rows
    chosen = sorted(wanted)
    return {"data": [{name: columns[j][i] for j, name in enumerate(header)} for i in chosen]}


def _joined_files(rev_data: Mapping[str, Any]) -> set[str]:
    """Files a definition joins row by row (`x` from one, `y` from another): never thinned,
    since each file would keep different rows."""
    joined: set[str] = set()
    for dvcfile, content in rev_data.get("definitions", {}).get("data", {}).items():
        folder = posixpath.dirname(dvcfile)  # DVC's paths are POSIX, relative to the root
        for props in content.get("data", {}).values():
            if isinstance(props, dict) and isinstance(props.get("x"), dict):
                for axis in (props.get("x"), props.get("y")):
                    if isinstance(axis, dict):
                        joined.update(posixpath.normpath(posixpath.join(folder, f)) for f in axis)
    return joined


def _plots_data(
    repo: Repo, revs: list[str], max_points: int
) -> tuple[dict[str, Any], dict[str, int]]:
    """`repo.plots.show(revs=...)`, with large CSV/TSV sources thinned as they load."""
    from functools import partial

    from dvc.repo.plots import _resolve_data_sources, onerror_collect

    sampled: dict[str, int] = {}
    result: dict[str, Any] = {}
    for data in repo.plots.collect(revs=revs, onerror=onerror_collect):
        for rev_data in data.values():
            joined = _joined_files(rev_data)
            for path, source in rev_data.get("sources", {}).get("data", {}).items():
                loader = source.get("data_source")
                if loader is not None and path.endswith((".csv", ".tsv")) and path not in joined:
                    source["data_source"] = partial(_thinned, loader, sampled, max_points)
        _resolve_data_sources(data, "", cache=True)
        result.update(data)
    return result, sampled


def _plots(
    repo: Repo, keys: Mapping[str, str], labels: Mapping[str, Revision], max_points: int
) -> tuple[Plot, ...]:
    from dvc.render.match import match_defs_renderers

    # DVC prints its own summary of failed revisions; we report each file ourselves.
    with contextlib.redirect_stderr(io.StringIO()):
        data, sampled = _plots_data(repo, list(dict.fromkeys(keys.values())), max_points)
    # Both sides may be the same revision (`diff main main`): give each its own copy.
    data = {side: data.get(key, {}) for side, key in keys.items()}
    plots: list[Plot] = []
    for found in match_defs_renderers(data=data):
        for side, errors in found.source_errors.items():
            for src, exc in errors.items():
                if not _not_produced(exc, src, labels[side]):
                    raise UserError(
                        f"plot file {src} does not parse at {labels[side].label}: {describe(exc)}"
                    )
        # A definition that does not fit one revision's data (say, a field renamed in this
        # merge request) still draws the other revision; the chart says what is missing.
        problems = tuple(
            f"Not drawn for {labels[side].label}: {describe(exc)}"
            for side, exc in found.definition_errors.items()
        )
        renderer = found.renderer
        if renderer.TYPE == "image":
            plots.append(_image_plot(renderer))
        elif (plot := _data_plot(renderer, problems, max_points, sampled)).points or problems:
            plots.append(plot)  # with no drawable data at all, it is listed with the reason
    return tuple(plots)


def collect(
    path: Path,
    base: str | None,
    head: str | None,
    env: Mapping[str, str],
    step: Step = lambda _: None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> Report:
    """Diff metrics, params and plots of the DVC project at `path` between two revisions."""
    step("opening the DVC project")
    with open_repo(path) as repo, chdir(Path(repo.root_dir)):
        hint = base_hint(env)
        base_name = base or default_base(repo, hint)
        base_rev = resolve_revision(repo, base_name, hint.pin(base_name))
        head_rev = resolve_revision(repo, head or WORKSPACE)
        keys = {"base": _rev_key(base_rev), "head": _rev_key(head_rev)}
        revs = list(dict.fromkeys(keys.values()))
        labels = {"base": base_rev, "head": head_rev}

        step("reading metrics")
        metrics = repo.metrics.show(revs=revs, hide_workspace=False)
        step("reading params")
        params = repo.params.show(revs=revs, hide_workspace=False)
        values: dict[str, Any] = {}
        for kind, result in (("metrics", metrics), ("params", params)):
            values[kind] = {
                side: _file_values(kind, result, keys[side], labels[side]) for side in keys
            }
        step("reading plots")
        plots = _plots(repo, keys, labels, max_points)

    return Report(
        base=base_rev,
        head=head_rev,
        metrics=_rows(values["metrics"]["base"], values["metrics"]["head"], True),
        params=_rows(values["params"]["base"], values["params"]["head"], False),
        plots=plots,
    )
