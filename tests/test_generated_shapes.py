"""Generated project shapes: random but valid plot definitions and data files.

Each example writes plot files (CSV, TSV, JSON as a list or under a key, YAML) with random
fields and rows at two revisions, top-level plot definitions over them (one file or several,
one `y` field or two, every line/scatter template, or the file's own path as the plot id),
a metrics and a params file, and compares dvc-cml's report with DVC's own CLI on the same
repository: no internal error, no traceback, the same numbers.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.shapes import Shape, build
from tests.test_shapes import check_all, run_diff

FORMATS = ("csv", "tsv", "json", "keyed.json", "yaml")
TEMPLATES = (None, "linear", "simple", "smooth", "scatter", "scatter_jitter")
NAMES = st.sampled_from(["loss", "acc", "value", "val_loss", "f1", "auc"])


@dataclass(frozen=True)
class DataFile:
    name: str  # e.g. "plots/a.csv"
    x: str
    ys: tuple[str, ...]
    base: tuple[tuple[float, ...], ...]  # rows: x then each y
    head: tuple[tuple[float, ...], ...]

    def text(self, rows: tuple[tuple[float, ...], ...]) -> str:
        fields = (self.x, *self.ys)
        records = [dict(zip(fields, row, strict=True)) for row in rows]
        if self.name.endswith((".csv", ".tsv")):
            sep = "\t" if self.name.endswith(".tsv") else ","
            lines = [sep.join(fields)] + [sep.join(repr(v) for v in row) for row in rows]
            return "\n".join(lines) + "\n"
        if self.name.endswith(".keyed.json"):
            return json.dumps({"history": records}, indent=2)
        if self.name.endswith(".json"):
            return json.dumps(records, indent=2)
        return str(yaml.safe_dump(records, sort_keys=False))


number = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32).map(
        lambda v: round(v, 4)
    ),
)


@st.composite
def data_files(draw: st.DrawFn, x: str, index: int) -> DataFile:
    fmt = draw(st.sampled_from(FORMATS))
    ys = tuple(draw(st.lists(NAMES.filter(lambda n: n != x), min_size=1, max_size=2, unique=True)))

    def rows() -> tuple[tuple[float, ...], ...]:
        n = draw(st.integers(1, 25))
        return tuple((step, *(draw(number) for _ in ys)) for step in range(n))

    return DataFile(f"plots/f{index}.{fmt}", x, ys, rows(), rows())


@st.composite
def projects(draw: st.DrawFn) -> tuple[list[DataFile], list[Any]]:
    x = draw(st.sampled_from(["step", "epoch", "x"]))
    files = [draw(data_files(x, i)) for i in range(draw(st.integers(1, 3)))]
    definitions: list[Any] = []
    for number_ in range(draw(st.integers(1, 3))):
        chosen = draw(
            st.lists(st.sampled_from(files), min_size=1, max_size=len(files), unique=True)
        )
        template = draw(st.sampled_from(TEMPLATES))
        if len(chosen) == 1 and draw(st.booleans()):
            # The file's own path as the plot id, `y` one field or a list of them.
            file = chosen[0]
            props: dict[str, Any] = {"x": x, "y": list(file.ys) if len(file.ys) > 1 else file.ys[0]}
            if template:
                props["template"] = template
            if not any(file.name in d for d in definitions if isinstance(d, dict)):
                definitions.append({file.name: props})
            continue
        y = {f.name: draw(st.sampled_from(f.ys)) for f in chosen}
        props = {"x": x, "y": y}
        if template:
            props["template"] = template
        definitions.append({f"plot_{number_}": props})
    return files, definitions


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@settings(
    max_examples=4,  # each example is two commits, a dvc-cml run and three DVC CLI runs
    deadline=None,
    derandomize=True,  # the same examples on every CI run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(project=projects(), metric=number, param=number)
def test_generated_shapes_match_dvc(
    project: tuple[list[DataFile], list[Any]],
    metric: float,
    param: float,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files, definitions = project
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        for rev in ("base", "head"):
            for file in files:
                write(source / rev, file.name, file.text(getattr(file, rev)))
            bump = 0 if rev == "base" else 1
            write(source / rev, "metrics.json", json.dumps({"score": metric + bump}))
            write(source / rev, "params.yaml", yaml.safe_dump({"train": {"lr": param + bump}}))
        write(
            source / "base",
            "dvc.yaml",
            yaml.safe_dump(
                {"plots": definitions, "metrics": ["metrics.json"], "params": ["params.yaml"]}
            ),
        )
        built = build(Shape("generated"), Path(tmp) / "built", source)
        capsys.readouterr()
        doc, err = run_diff(capsys, "-C", str(built.project))
        assert "Traceback" not in err
        check_all(doc, built, built.project / "dvc-cml-report")
