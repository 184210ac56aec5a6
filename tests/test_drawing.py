"""The chart worker: the same charts as drawing in-process, whoever draws or rasterises them.

The worker is forked, which is only safe before vl-convert's engine starts in a process, so
each scenario runs in a fresh interpreter (this test process has long started the engine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import clean_env

SCRIPT = """
import json, math, sys
from dvc_cml.model import DataPlot, Point
from dvc_cml.render.drawing import ChartProcess, chart_process, draw
from dvc_cml.report import STEAL_AFTER

count, kill = int(sys.argv[1]), sys.argv[2] == "kill"
labels = {"base": "main (1111111)", "head": "workspace (2222222)"}

def plot(i):
    points = tuple(
        Point(rev, "loss", step, round(math.exp(-step / (5 + i)) + shift, 4))
        for rev, shift in (("base", 0.0), ("head", 0.01 * i))
        for step in range(30)
    )
    return DataPlot(f"p{i}", f"plot {i}", "linear", "step", "loss", points)

plots = [plot(i) for i in range(count)]
jobs = [(p, labels, [f"note {i}"]) for i, p in enumerate(plots)]
with chart_process() as charts:
    assert isinstance(charts, ChartProcess)
    steal = count >= STEAL_AFTER
    batch = charts.draw_all(jobs, raster=steal)
    if kill:
        charts._process.kill()
        charts._process.join()
    got, stolen = {}, []
    while steal and (index := batch.steal()) is not None:
        stolen.append(index)
        got[index] = draw(*jobs[index])
    worker = []
    for index, drawn in batch.results():
        worker.append(index)
        got[index] = drawn.rasterised()
# The same bytes as drawing each chart here, from start to finish.
same = all(got[i] == draw(*jobs[i]) for i in range(count))
print(json.dumps({"same": same, "stolen": stolen, "worker": worker, "pngs": sum(
    got[i].png is not None and got[i].png.startswith(b"\\x89PNG") for i in range(count))}))
"""


def run(count: int, kill: bool = False) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(count), "kill" if kill else "-"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=Path(__file__).parent.parent,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_few_charts_come_back_as_svgs_rasterised_here() -> None:
    result = run(3)
    assert result == {"same": True, "stolen": [], "worker": [0, 1, 2], "pngs": 3}


@pytest.mark.parametrize("count", [8, 12])
def test_many_charts_are_shared_from_both_ends(count: int) -> None:
    result = run(count)
    assert result["same"] is True and result["pngs"] == count
    stolen, worker = result["stolen"], result["worker"]
    assert isinstance(stolen, list) and isinstance(worker, list)
    assert sorted(stolen + worker) == list(range(count))  # each chart drawn exactly once
    assert worker == sorted(worker)  # the worker goes front to back ...
    assert stolen == sorted(stolen, reverse=True)  # ... and this process back to front
    assert stolen  # this process starts at once; the worker is still warming up


def test_a_worker_that_dies_loses_no_chart() -> None:
    result = run(3, kill=True)
    assert result["same"] is True and result["pngs"] == 3
    assert result["worker"] == [0, 1, 2]  # drawn here after the worker was gone
