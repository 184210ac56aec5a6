"""Drawing charts off the main process, so the chart engine starts while DVC collects.

vl-convert's engine takes about 0.5 s to start and altair about 0.3 s to import; neither
overlaps with DVC's (GIL-bound) work in a thread, but a second process does, on a second core
(measured in bench/bench_diff.py).  `draw` is pure and also runs in-process for tests.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from dvc_cml.model import DataPlot


@dataclass(frozen=True)
class Drawn:
    spec: bytes  # the Vega-Lite spec as written beside the PNG
    png: bytes | None
    error: str | None = None  # why there is no PNG


def draw(plot: DataPlot, labels: Mapping[str, str], notes: list[str]) -> Drawn:
    from dvc_cml.render import charts

    spec = charts.chart_spec(plot, labels, notes)
    text = (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode()
    try:
        return Drawn(text, charts.to_png(spec))
    except charts.ChartError as exc:
        return Drawn(text, None, str(exc))


def _warm_up() -> None:
    from dvc_cml.render import charts

    charts.warm_up()


class Pending:
    """A chart queued for the worker: wait for it, or take it back to draw it here."""

    def __init__(
        self, future: Future[Drawn], plot: DataPlot, labels: Mapping[str, str], notes: list[str]
    ) -> None:
        self._future, self._args = future, (plot, labels, notes)

    def steal(self) -> bool:
        """True if the worker had not started it (the caller draws it instead)."""
        return self._future.cancel()

    def result(self) -> Drawn:
        try:
            return self._future.result()
        except BrokenProcessPool:  # the worker died: draw here, slower but never lost
            return draw(*self._args)


class ChartProcess:
    """A one-process pool that starts warming up the chart engine as soon as it is created.

    Created before DVC is imported, so the fork copies a small process.  A fork is only safe
    while vl-convert's engine (which runs its own threads) has not started in this process;
    once it has, it is warm anyway, and `start()` returns None: draw in-process.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        self._pool.submit(_warm_up)

    @classmethod
    def start(cls) -> ChartProcess | None:
        if "vl_convert" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
            return None
        return cls()

    def draw(self, plot: DataPlot, labels: Mapping[str, str], notes: list[str]) -> Pending:
        return Pending(self._pool.submit(draw, plot, dict(labels), notes), plot, labels, notes)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def chart_process() -> Iterator[ChartProcess | None]:
    charts = ChartProcess.start()
    try:
        yield charts
    finally:
        if charts is not None:
            charts.close()
