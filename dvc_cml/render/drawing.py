"""Drawing charts off the main process, so the chart engine starts while DVC collects.

vl-convert's engine takes about 0.5 s to start and altair about 0.3 s to import; neither
overlaps with DVC's (GIL-bound) work in a thread, but a second process does, on a second core
(measured in bench/bench_diff.py).  Once DVC is done the main process rasterises each SVG
the worker draws while the worker draws the next one.  `draw` is pure and also runs
in-process for tests.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import queue
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dvc_cml.model import DataPlot


@dataclass(frozen=True)
class Drawn:
    spec: bytes  # the Vega-Lite spec as written beside the PNG
    png: bytes | None
    error: str | None = None  # why there is no PNG
    svg: str | None = None  # drawn, not rasterised yet: see `rasterised`

    def rasterised(self) -> Drawn:
        """With the PNG made from the SVG (a no-op once it is)."""
        from dvc_cml.render import charts

        if self.svg is None:
            return self
        try:
            return Drawn(self.spec, charts.svg_to_png(self.svg))
        except charts.ChartError as exc:
            return Drawn(self.spec, None, str(exc))


def draw(plot: DataPlot, labels: Mapping[str, str], notes: list[str], raster: bool = True) -> Drawn:
    """The chart's spec and PNG; with `raster=False` its SVG, for another process to
    rasterise (half of a chart's time, and it needs no JavaScript engine)."""
    from dvc_cml.render import charts

    spec = charts.chart_spec(plot, labels, notes)
    text = (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode()
    try:
        drawn = Drawn(text, None, svg=charts.to_svg(spec))
    except charts.ChartError as exc:
        return Drawn(text, None, str(exc))
    return drawn.rasterised() if raster else drawn


Job = tuple[DataPlot, Mapping[str, str], list[str]]  # a plot, the revisions' labels, notes
WAIT = 1.0  # seconds between checks that the worker is still alive


def _serve(jobs: Any, results: Any, front: Any, back: Any, lock: Any) -> None:
    """The worker: warm up, then draw each batch in order, sending every chart when done.

    The caller takes charts from the end of a batch (`Batch.steal`): both sides claim an
    index under `lock`, the worker from the front, the caller from the back.
    """
    from dvc_cml.render import charts

    with contextlib.suppress(Exception):  # a broken engine shows in each chart's own error
        charts.warm_up()
    while (batch := jobs.get()) is not None:
        raster, items = batch
        while True:
            with lock:
                if front.value > back.value:
                    break
                index = front.value
                front.value += 1
            plot, labels, notes = items[index]
            results.put((index, draw(plot, labels, notes, raster=raster)))


class Batch:
    """Charts handed to the worker: results as they are drawn, or taken back from the end."""

    def __init__(self, owner: ChartProcess, jobs: list[Job], raster: bool) -> None:
        self._owner, self._jobs, self._raster = owner, jobs, raster
        self._stolen: set[int] = set()

    def steal(self) -> int | None:
        """An index of a chart the worker has not started, now the caller's to draw."""
        owner = self._owner
        with owner.lock:
            if owner.back.value < owner.front.value:
                return None
            index = int(owner.back.value)
            owner.back.value -= 1
        self._stolen.add(index)
        return index

    def results(self) -> Iterator[tuple[int, Drawn]]:
        """(index, drawn) for every chart not stolen, in the order the worker draws them.

        If the worker dies, what it has not sent is drawn here: slower, never lost.
        """
        wanted = set(range(len(self._jobs))) - self._stolen
        while wanted:
            try:
                index, drawn = self._owner.results.get(timeout=WAIT)
            except queue.Empty:
                if self._owner.alive():
                    continue
                for index in sorted(wanted):
                    yield index, draw(*self._jobs[index], raster=True)
                return
            wanted.discard(index)
            yield index, drawn


class ChartProcess:
    """A worker process that starts warming up the chart engine as soon as it is created.

    Created before DVC is imported, so the fork copies a small process.  A fork is only safe
    while vl-convert's engine (which runs its own threads) has not started in this process;
    once it has, it is warm anyway, and `start()` returns None: draw in-process.

    A whole batch goes to the worker at once and each chart comes back as soon as it is
    drawn, so the worker never waits on this process, even while this one rasterises (which
    holds the GIL, and would starve a pool's feeder thread).
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self.lock = context.Lock()
        self.front = context.Value("q", 0, lock=False)
        self.back = context.Value("q", -1, lock=False)
        self.results: Any = context.Queue()
        self._jobs: Any = context.SimpleQueue()
        args = (self._jobs, self.results, self.front, self.back, self.lock)
        self._process = context.Process(target=_serve, args=args, daemon=True)
        self._process.start()

    @classmethod
    def start(cls) -> ChartProcess | None:
        if "vl_convert" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
            return None
        return cls()

    def alive(self) -> bool:
        return self._process.is_alive()

    def draw_all(self, jobs: list[Job], raster: bool = True) -> Batch:
        """Hand `jobs` to the worker; with `raster=False` it sends SVGs to rasterise here."""
        with self.lock:
            self.front.value, self.back.value = 0, len(jobs) - 1
        self._jobs.put((raster, [(plot, dict(labels), notes) for plot, labels, notes in jobs]))
        return Batch(self, jobs, raster)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._jobs.put(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
        self.results.close()


@contextlib.contextmanager
def chart_process() -> Iterator[ChartProcess | None]:
    charts = ChartProcess.start()
    try:
        yield charts
    finally:
        if charts is not None:
            charts.close()
