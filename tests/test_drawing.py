"""The chart workers: the same charts as drawing in-process, whoever draws or rasterises them.

The workers are forked, which is only safe before vl-convert's engine starts in a process, so
each scenario runs in a fresh interpreter (this test process has long started the engine).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dvc_cml.model import DataPlot, Point
from dvc_cml.pipeline import init_project
from dvc_cml.render.charts import to_png
from dvc_cml.render.drawing import Drawn, draw_apart, spec_text
from tests.conftest import Project, clean_env, git, write_tree

LINE = DataPlot(
    "loss",
    "loss",
    "linear",
    "step",
    "loss",
    tuple(Point(rev, "loss", step, step * 0.1) for rev in ("base", "head") for step in range(5)),
)

SCRIPT = """
import json, math, sys
from dvc_cml.model import DataPlot, Point, Report, Revision
from dvc_cml.render.drawing import chart_process, draw
from dvc_cml.report import render_plots

count, mode, victims = int(sys.argv[1]), sys.argv[2], sys.argv[3]
labels = {"base": "main (1111111)", "head": "workspace (2222222)"}

def plot(i):
    points = tuple(
        Point(rev, "loss", step, round(math.exp(-step / (5 + i)) + shift, 4))
        for rev, shift in (("base", 0.0), ("head", 0.01 * i))
        for step in range(30)
    )
    return DataPlot(f"p{i}", f"plot {i}", "linear", "step", "loss", points)

plots = [plot(i) for i in range(count)]
if mode == "crash":
    # vl-convert aborts on a control character in a title.  chart_spec cleans every text
    # of them; with the cleaning turned off (before the workers fork) the engine crashes on
    # plot `victims`, as it would on anything no cleaning knows of.
    from dvc_cml.render import charts as chart_module
    chart_module.chart_text = lambda text: text
    bad = int(victims)
    points = plots[bad].points
    plots[bad] = DataPlot(f"p{bad}", f"plot \x01 {bad}", "linear", "step", "loss", points)
jobs = [(p, labels, [f"note {i}"]) for i, p in enumerate(plots)]
out = {}
with chart_process() as charts:
    assert charts is not None
    if mode in ("render", "crash"):  # the report's own path, compared below with drawing in-process
        base, head = Revision("main", "1111111"), Revision("workspace", "2222222")
        report = Report(base, head, plots=tuple(plots))
        with_worker = render_plots(report, charts=charts)
    elif mode == "steal":
        batch = charts.draw_all(jobs, raster=True, steal=True)
        got = dict(batch.results())
        out["drawn_by"] = [batch.drawn_by[i] for i in range(count)]
    else:  # "kill": workers die with charts still to draw
        batch = charts.draw_all(jobs, raster=False)
        for process in [charts._processes[int(i)] for i in victims]:
            process.kill()
            process.join()
        got = {index: drawn.rasterised() for index, drawn in batch.results()}
if mode == "crash":
    out["pngs"] = sorted(name for name in with_worker[1] if name.endswith(".png"))
    out["notes"] = {p.name: list(p.notes) for p in with_worker[0]}
elif mode == "render":
    out["same"] = with_worker == render_plots(report)  # drawn here, start to finish
    out["pngs"] = sum(name.endswith(".png") for name in with_worker[1])
else:
    out["same"] = all(got[i] == draw(*jobs[i]) for i in range(count))
    out["pngs"] = sum(got[i].png.startswith(b"\\x89PNG") for i in range(count))
print(json.dumps(out))
"""


def python(code: str, *args: str) -> str:
    """What `python -c CODE ARGS` prints, in a process of its own; it must exit 0."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=Path(__file__).parent.parent,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run(count: int, mode: str, victims: str = "") -> dict[str, object]:
    result: dict[str, object] = json.loads(python(SCRIPT, str(count), mode, victims))
    return result


@pytest.mark.parametrize("count", [3, 12])
def test_the_report_s_charts_equal_charts_drawn_in_process(count: int) -> None:
    """A few: SVGs drawn by the worker, PNGs rasterised here.  Many: whole charts shared
    from both ends of the queue."""
    assert run(count, "render") == {"same": True, "pngs": count}


def test_many_charts_are_shared_from_both_ends() -> None:
    """The stealing worker starts its chart libraries once the batch comes (as the main
    process did when it drew charts too): with 24 charts it has some left to take."""
    result = run(24, "steal")
    assert result["same"] is True and result["pngs"] == 24
    drawn_by = result["drawn_by"]
    assert isinstance(drawn_by, list)
    # The drawing worker from the front, the stealing one from the back, each chart once.
    front = drawn_by.count("front")
    assert drawn_by == ["front"] * front + ["back"] * (24 - front), drawn_by
    assert 0 < front < 24, drawn_by


@pytest.mark.parametrize("victims", ["0", "1", "01"], ids=["drawer", "spec-writer", "both"])
def test_a_worker_that_dies_loses_no_chart(victims: str) -> None:
    assert run(3, "kill", victims) == {"same": True, "pngs": 3}


@pytest.mark.parametrize(("count", "bad"), [(4, 1), (12, 11)], ids=["few", "many"])
def test_a_chart_that_crashes_the_engine_costs_only_that_chart(count: int, bad: int) -> None:
    """The worker drawing plot `bad` dies on it (vl-convert aborts): with a few charts the
    drawing worker, with many (8 or more) the stealing one, which starts from the back.  The
    charts not sent back are drawn in a process of their own, where that plot crashes the
    engine again: it is listed with the reason, and every other chart is drawn."""
    result = run(count, "crash", str(bad))
    good = [i for i in range(count) if i != bad]
    assert result["pngs"] == sorted(f"plots/p{i}.png" for i in good)
    notes = result["notes"]
    assert isinstance(notes, dict)
    assert all(notes[f"p{i}"] == [] for i in good)
    [reason] = notes[f"p{bad}"]
    assert reason.startswith(
        "The chart could not be rendered: the chart engine crashed (killed by SIGABRT): "
        "Failed to parse text SVG: ParsingFailed(NonXmlChar('\\u{1}'"
    ), reason


def test_drawing_apart_loses_only_the_chart_that_crashes() -> None:
    """`draw_apart` with a spec that makes vl-convert abort between two good ones."""
    good = spec_text(LINE, {"base": "main", "head": "feature"}, [])
    bad = json.dumps({"mark": "point", "title": "a\x02b", "data": {"values": [{}]}}).encode()
    drawn = dict(draw_apart([(0, good), (1, bad), (2, good)]))
    assert sorted(drawn) == [0, 1, 2]
    assert drawn[0] == drawn[2] == Drawn(good, to_png(json.loads(good)))
    assert drawn[1].png is None and drawn[1].spec == bad
    assert drawn[1].error is not None
    assert drawn[1].error.startswith("the chart engine crashed (killed by SIGABRT): ")
    assert "NonXmlChar" in drawn[1].error


def test_drawing_apart_never_imports_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In CI the working directory is the merge request's checkout: `python -c` would put it
    first on sys.path, and a branch's `dvc_cml/` or `pickle.py` there would run in the
    drawing process, with the job's environment and token."""
    ran = tmp_path / "ran"
    plant = f"open({str(ran)!r}, 'a').write(__name__ + '\\n')\n"
    checkout = tmp_path / "checkout"
    write_tree(checkout, {"dvc_cml/__init__.py": plant, "pickle.py": plant, "json.py": plant})
    monkeypatch.chdir(checkout)
    good = spec_text(LINE, {"base": "main", "head": "feature"}, [])
    drawn = dict(draw_apart([(0, good)]))
    assert not ran.exists(), ran.read_text()
    assert drawn == {0: Drawn(good, to_png(json.loads(good)))}


FDS = """
import json, os
from dvc_cml.render.drawing import chart_process
from tests.test_drawing import LINE

with chart_process() as charts:
    assert charts is not None
    batch = charts.draw_all([(LINE, {"base": "main", "head": "feature"}, [])], raster=False)
    assert [index for index, _ in batch.results()] == [0]  # the workers are at work
    held = [[os.readlink(f"/proc/{p.pid}/fd/{fd}") for fd in (1, 2)] for p in charts._processes]
print(json.dumps(held))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_workers_hold_neither_stdout_nor_stderr() -> None:
    """In CI both are one log pipe, which stays open (and the job waits) while any process
    holds it."""
    assert json.loads(python(FDS)) == [["/dev/null", "/dev/null"]] * 3


@pytest.mark.parametrize("delay", [0.4, 0.9, 1.5])
def test_ctrl_c_ends_the_run_in_one_line_with_no_worker_left(
    make_project: Callable[[str], Project], delay: float
) -> None:
    """Ctrl-C reaches the whole process group, at whatever point the run is: before the
    workers have started, while they start, while they draw.  A worker that died with a
    batch unread once left the run waiting forever."""
    project = make_project("plots")
    project.apply_head()
    run = subprocess.Popen(
        [sys.executable, "-m", "dvc_cml", "diff", "main", "--no-post", "-C", str(project.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        start_new_session=True,  # a process group of its own, as a terminal's job is
    )
    time.sleep(delay)
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=120)
    # Done before the signal came, or interrupted: either way one line at most.
    assert (run.returncode, err) in ((130, "dvc-cml: interrupted\n"), (0, ""))
    with pytest.raises(ProcessLookupError):  # nothing of the group is left running
        os.killpg(run.pid, 0)


@pytest.fixture(scope="module")
def big_charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six scatter plots of 2,000 points: each chart's SVG outgrows a pipe's buffer, so a
    worker whose caller is gone blocks for good sending it."""
    root = tmp_path_factory.mktemp("big") / "project"
    defs = "".join(f"  - plots/p{i}.csv:\n      template: scatter\n" for i in range(6))
    write_tree(root, {"dvc.yaml": f"plots:\n{defs}"})

    def data(shift: float) -> dict[str, str]:
        rows = [f"{step},{math.sin(step / 50) + shift:.5f}" for step in range(2000)]
        return {f"plots/p{i}.csv": "step,value\n" + "\n".join(rows) + "\n" for i in range(6)}

    write_tree(root, data(0.0))
    git(root, "init", "-q")
    init_project(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    write_tree(root, data(0.5))
    return root


def _running(group: int) -> list[str]:
    """The processes of `group` that are not zombies: `pid state command`."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat_file.read_text()
            name_end = text.rindex(")")
            state, _, pgrp = text[name_end + 2 :].split()[:3]
            if int(pgrp) == group and state != "Z":
                found.append(f"{stat_file.parent.name} {state} {text[: name_end + 1]}")
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    ("how", "after", "delay"),
    [
        (signal.SIGTERM, "opening the DVC project", 0.0),
        (signal.SIGTERM, "matching plots", 0.5),
        (signal.SIGKILL, "matching plots", 0.5),
        (signal.SIGKILL, "matching plots", 2.0),
    ],
    ids=["term-at-start", "term-drawing", "kill-drawing", "kill-drawing-later"],
)
def test_the_workers_end_with_the_run_however_it_ends(
    big_charts: Path, how: signal.Signals, after: str, delay: float
) -> None:
    """SIGTERM or SIGKILL to the main process alone (a CI job cancelled, the OOM killer), at
    a step of the run: no process of its group is left, and its stdout pipe closes (a CI
    job's log waits for every process holding it).  stderr is a terminal, whose spinner says
    which step the run is at."""
    # On a quick machine the run may be done before a late signal: try it again sooner,
    # so the signal always lands while the run is still going.
    for attempt in range(4):
        if _signal_a_run(big_charts, how, after, delay / 2**attempt):
            return
    pytest.fail(f"the run always ended before {how.name} ({delay} s after {after!r})")


def _signal_a_run(root: Path, how: signal.Signals, after: str, delay: float) -> bool:
    """Start a run, send `how` to its main process `delay` seconds after its spinner says
    `after`, and check how it ends; False when the run was over before the signal."""
    import pty

    terminal, stderr = pty.openpty()
    run = subprocess.Popen(
        [sys.executable, "-m", "dvc_cml", "diff", "main", "--no-post"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=clean_env(),
        start_new_session=True,
    )
    os.close(stderr)
    said: list[bytes] = []
    closed = threading.Event()

    def read_terminal() -> None:
        with contextlib.suppress(OSError):  # EIO: every writer has closed it
            while chunk := os.read(terminal, 4096):
                said.append(chunk)

    def read_stdout() -> None:
        assert run.stdout is not None
        run.stdout.read()
        closed.set()

    threads = [threading.Thread(target=f, daemon=True) for f in (read_terminal, read_stdout)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(600):
            if after.encode() in b"".join(said) or run.poll() is not None:
                break
            time.sleep(0.1)
        assert after.encode() in b"".join(said), b"".join(said)
        time.sleep(delay)
        if run.poll() is not None:
            return False
        os.kill(run.pid, how)
        assert closed.wait(120), f"stdout still open, held by: {_running(run.pid)}"
        code = run.wait(60)
        left = _running(run.pid)
        for _ in range(100):
            if not left:
                break
            time.sleep(0.1)
            left = _running(run.pid)
        assert left == []
        if how is signal.SIGKILL:
            assert code == -signal.SIGKILL
        else:
            assert code in (130, 0)  # interrupted, or done first
            threads[0].join(10)
            assert code == 0 or b"dvc-cml: interrupted" in b"".join(said)
        return True
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        os.close(terminal)


# Ctrl-C sent while the workers are forked (held back till then), in a process of its own.
FORKED_THEN_INTERRUPTED = """
import multiprocessing, os, signal
from multiprocessing.context import ForkProcess
from dvc_cml.render.drawing import chart_process

start = ForkProcess.start
def start_then_interrupt(self):
    start(self)
    os.kill(os.getpid(), signal.SIGINT)
ForkProcess.start = start_then_interrupt
try:
    with chart_process():
        print("not interrupted")
except KeyboardInterrupt:
    print("interrupted;", len(multiprocessing.active_children()), "workers left")
"""


def test_ctrl_c_held_back_during_the_forks_leaves_no_worker() -> None:
    assert python(FORKED_THEN_INTERRUPTED) == "interrupted; 0 workers left\n"
