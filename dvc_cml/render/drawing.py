"""Drawing charts off the main process, so the chart libraries start while DVC collects.

altair takes about 0.3 s to import and vl-convert's engine about 0.5 s to start; neither
overlaps with DVC's (GIL-bound) work in a thread, nor with each other, so each gets a
process of its own: one writes specs with altair, the other draws them as SVG, and the main
process, once DVC is done, rasterises each SVG while the next one is drawn (measured in
bench/bench_diff.py).  With many charts a third worker draws whole charts from the back of
the queue: never the main process, as vl-convert aborts the process it runs in on what it
cannot draw, and a chart must cost only itself.  `draw` does all three in-process, for
tests and as the fallback where no worker can be forked.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from dvc_cml import child

if TYPE_CHECKING:  # the CLI starts the workers before the model's classes are built
    from dvc_cml.model import DataPlot

    Job = tuple[DataPlot, Mapping[str, str], list[str]]  # a plot, the labels, notes


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


def spec_text(plot: DataPlot, labels: Mapping[str, str], notes: list[str]) -> bytes:
    """The chart's Vega-Lite spec as written beside the PNG (altair's half of a chart)."""
    from dvc_cml.render import charts

    spec = charts.chart_spec(plot, labels, notes)
    return (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode()


def finish(text: bytes, raster: bool = True) -> Drawn:
    """Draw a spec written by `spec_text` (vl-convert's half); with `raster=False` keep
    its SVG, for another process to rasterise (half of that time, and no JavaScript)."""
    from dvc_cml.render import charts

    try:
        drawn = Drawn(text, None, svg=charts.to_svg(charts.static(json.loads(text))))
    except charts.ChartError as exc:
        return Drawn(text, None, str(exc))
    return drawn.rasterised() if raster else drawn


def draw(plot: DataPlot, labels: Mapping[str, str], notes: list[str], raster: bool = True) -> Drawn:
    """The chart's spec and PNG (or SVG, see `finish`), all in this process."""
    return finish(spec_text(plot, labels, notes), raster)


WAIT = 1.0  # seconds between checks that the workers are still alive
NICENESS = 10  # how far the workers step back for the caller (see `_worker`)


HELD = {signal.SIGINT, signal.SIGTERM}  # held back while forking: see ChartProcess


def _die_with(parent: int, *quiet: int) -> None:
    """End this process when `parent` ends, however it ends (see `child.end_with`), and
    point the descriptors `quiet` at /dev/null.  A worker holds neither the caller's stdout
    nor its stderr (in CI one log pipe, which stays open, and the job waits, as long as any
    process holds it); why a chart crashed the engine is told by `draw_apart`, which draws
    it again with its own pipes.

    On Linux the kernel ends a worker the moment the parent's thread that started it ends
    (ChartProcess is made in the main thread); elsewhere also the sentinel watch in `_next`.
    """
    child.end_with(parent)
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in quiet:
            os.dup2(null, fd)
        os.close(null)


def _worker(parent: int, body: Callable[..., None], *args: Any) -> None:
    """A worker's life: `body`, one step behind the caller, and quiet when it ends early.

    While the workers start up, the caller runs DVC, and no chart can start before DVC is
    done: three busy processes on two cores would otherwise share them evenly (measured on
    the example-get-started-shaped report: 0.25 s later).  Ctrl-C reaches the whole process
    group; the caller says it was interrupted, and a worker's traceback would only bury that.
    SIGTERM ends a worker at once (the caller's own handler is not for it).
    """
    _die_with(parent, 1, 2)
    with contextlib.suppress(ValueError):  # forked from a thread other than the main one
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # KeyboardInterrupt: Ctrl-C, held back since the fork (see ChartProcess); EOFError and
    # BrokenPipeError: the caller is gone.
    with contextlib.suppress(KeyboardInterrupt, EOFError, BrokenPipeError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD)
        with contextlib.suppress(OSError):
            os.nice(NICENESS)
        body(*args)


def _next(conn: Connection) -> Any:
    """The next message on `conn`; EOFError once the caller is gone.  Its pipes would not
    tell (every worker holds copies of all their ends); its sentinel does."""
    parent = multiprocessing.parent_process()
    if parent is not None and conn not in wait([conn, parent.sentinel]):
        raise EOFError
    return conn.recv()


def _send_quietly(conn: Connection, message: Any) -> None:
    with contextlib.suppress(OSError, ValueError):  # the reader is gone: see `Batch.results`
        conn.send(message)


def _write_specs(jobs: Any, specs: Any, back: Any) -> None:
    """The spec worker: imports altair while DVC collects, then writes the batch's specs
    in order for the drawing worker, but not those the caller has taken."""
    with contextlib.suppress(Exception):  # a broken altair shows in the caller's own draw
        import altair  # noqa: F401

        from dvc_cml.render import charts  # noqa: F401  (and the model, to read the jobs)
    while True:  # one batch (see `ChartProcess.draw_all`); then alive, waiting, till killed
        raster, items = _next(jobs)
        for index, (plot, labels, notes) in enumerate(items):
            if index > back.value:
                break  # unlocked: at worst one spec more, which the drawing worker skips
            specs.send((raster, index, spec_text(plot, labels, notes)))


def _draw_specs(specs: Any, results: Any, svgs: Any, front: Any, back: Any, lock: Any) -> None:
    """The drawing worker: starts vl-convert's engine while DVC collects, then draws each
    spec unless the stealing worker has taken it (`_steal`): both claim indexes under
    `lock`, this worker from the front, that one from the back."""
    from dvc_cml.render import charts

    with contextlib.suppress(Exception):  # a broken engine shows in each chart's own error
        charts.to_svg(charts.WARM_UP)
    while True:
        raster, index, text = _next(specs)
        with lock:
            if index > back.value:
                continue  # the caller's now
            front.value = index + 1
        drawn = finish(text, raster)
        if raster:
            results.put((index, drawn, FRONT))
        else:
            svgs.send((index, drawn, FRONT))


def _steal(jobs: Any, results: Any, front: Any, back: Any, lock: Any) -> None:
    """The stealing worker: idle (no library loaded) until a batch of many charts comes,
    then it draws whole charts from the back of the queue while the drawing worker goes
    from the front; both claim indexes under `lock`.  A worker, not the caller: a chart
    that crashes the engine (vl-convert aborts the process) must cost only that chart."""
    while True:  # one batch; then alive, waiting, till killed
        items = _next(jobs)
        while True:
            with lock:
                if back.value < front.value:
                    break
                index = int(back.value)
                back.value -= 1
            results.put((index, finish(spec_text(*items[index]), raster=True), BACK))


FRONT, BACK = "front", "back"  # which worker drew a chart: the drawing one, the stealing one


class Batch:
    """Charts handed to the workers: results as they are drawn, from the front of the queue
    and, with `steal`, from the back too."""

    def __init__(self, owner: ChartProcess, jobs: list[Job], raster: bool) -> None:
        self._owner, self._jobs, self._raster = owner, jobs, raster
        self.drawn_by: dict[int, str] = {}  # FRONT or BACK, by index (for tests and bench)

    def results(self) -> Iterator[tuple[int, Drawn]]:
        """(index, drawn) for every chart, as the workers draw them.

        If a worker dies (killed, or its chart engine crashed on a chart), what has not come
        back is drawn apart (`draw_apart`): slower, and a chart that crashes the engine again
        costs only itself.
        """
        wanted = set(range(len(self._jobs)))
        while wanted:
            try:
                index, drawn, who = self._owner.receive(self._raster)
            except (queue.Empty, EOFError, OSError):
                if self._owner.alive():
                    continue
                specs = [(i, spec_text(*self._jobs[i])) for i in sorted(wanted)]
                yield from draw_apart(specs)
                return
            wanted.discard(index)
            self.drawn_by[index] = who
            yield index, drawn


class ChartProcess:
    """Two worker processes that get the chart libraries ready as soon as they are created:
    one imports altair and writes specs, the other starts vl-convert's engine and draws
    them.  In one process the two start-ups take turns (each holds the GIL); in two they
    overlap each other and DVC's work (measured in bench/bench_diff.py).

    Created before DVC is imported, so the forks copy a small process.  A fork is only safe
    while vl-convert's engine (which runs its own threads) has not started in this process;
    once it has, it is warm anyway, and `start()` returns None: draw in-process.

    A whole batch goes to the workers at once and each chart comes back as soon as it is
    drawn, so they never wait on this process, even while it rasterises (which holds the
    GIL, and would starve a pool's feeder thread).
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self.lock = context.Lock()
        self.front = context.Value("q", 0, lock=False)
        self.back = context.Value("q", -1, lock=False)
        self._given = False  # one batch: indexes are claimed once (see `draw_all`)
        # Whole charts come back through a buffered queue, as this process draws some
        # too; SVGs through a pipe, at once: this process waits for them, and the queue's
        # feeder thread would wait for the GIL while vl-convert holds it for the next chart.
        self.results: Any = context.Queue()
        self._svgs, svgs = context.Pipe(duplex=False)
        jobs, self._jobs = context.Pipe(duplex=False)
        stolen, self._stolen = context.Pipe(duplex=False)
        specs_in, specs_out = context.Pipe(duplex=False)
        drawer = (specs_in, self.results, svgs, self.front, self.back, self.lock)
        writer = (jobs, specs_out, self.back)
        stealer = (stolen, self.results, self.front, self.back, self.lock)
        me = os.getpid()
        self._processes = [  # the engine's start-up is the longer one: it goes first
            context.Process(target=_worker, args=(me, _draw_specs, *drawer), daemon=True),
            context.Process(target=_worker, args=(me, _write_specs, *writer), daemon=True),
            # Forked now, while this process is small; it loads nothing until it has work.
            context.Process(target=_worker, args=(me, _steal, *stealer), daemon=True),
        ]
        # Ctrl-C and SIGTERM are held back while forking: a worker lets them through once it
        # can end quietly, and this process gets them as soon as both are started.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, HELD)
        try:
            try:
                for process in self._processes:
                    process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
        except BaseException:
            # A Ctrl-C held back while forking arrives as the mask is restored, before the
            # caller holds this object to close: the workers would outlive the run.
            self.close()
            raise

    @classmethod
    def start(cls) -> ChartProcess | None:
        if "vl_convert" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
            return None
        return cls()

    def alive(self) -> bool:
        return all(process.is_alive() for process in self._processes)

    def receive(self, whole: bool) -> tuple[int, Drawn, str]:
        """The next result (index, a whole chart or an SVG, who drew it); queue.Empty if none
        came in `WAIT`."""
        if whole:
            result: tuple[int, Drawn, str] = self.results.get(timeout=WAIT)
        elif self._svgs.poll(WAIT):
            result = self._svgs.recv()
        else:
            raise queue.Empty
        return result

    def draw_all(self, jobs: list[Job], raster: bool = True, steal: bool = False) -> Batch:
        """Hand `jobs` to the workers, once per ChartProcess (a report draws one batch);
        with `raster=False` they send SVGs to rasterise here; with `steal` (and `raster`)
        the stealing worker draws whole charts from the back too."""
        if self._given:
            raise RuntimeError("a ChartProcess draws one batch")
        if steal and not raster:
            raise ValueError("the stealing worker draws whole charts")
        self._given = True
        with self.lock:
            self.back.value = len(jobs) - 1
        items = [(plot, dict(labels), notes) for plot, labels, notes in jobs]
        # Sent from a thread: a batch outgrows the pipe's buffer, and a spec worker that has
        # died would leave this process waiting for it; `Batch.results` notices instead.
        sends = [(self._jobs, (raster, items))] + ([(self._stolen, items)] if steal else [])
        for conn, message in sends:
            threading.Thread(target=_send_quietly, args=(conn, message), daemon=True).start()
        return Batch(self, jobs, raster)

    def close(self) -> None:
        """End the workers.  They are killed: nothing of theirs is needed any more, and they
        may be in the middle of a chart, or waiting on a pipe nobody reads."""
        started = [process for process in self._processes if process.pid is not None]
        for process in started:
            process.kill()
        for process in started:
            process.join()
        self.results.close()
        self._svgs.close()
        self._stolen.close()


def _apart() -> None:
    """The body of `draw_apart`'s process: specs on stdin, a frame before and after each
    chart on stdout, so the caller knows which chart was being drawn if this process dies."""
    frames = os.fdopen(os.dup(1), "wb")  # and nothing else writes there
    _die_with(int(sys.argv[1]), 1)  # stderr is the caller's pipe: it says why this one died
    for index, text in pickle.load(sys.stdin.buffer):
        pickle.dump(("start", index, None), frames)
        frames.flush()
        pickle.dump(("done", index, finish(text, raster=True)), frames)
        frames.flush()


def _crash(returncode: int, stderr: bytes) -> str:
    """Why a drawing process ended: its signal, and a panic's message (else its last line
    on stderr, say a Python error) if it printed one."""
    how = f"exit status {returncode}"
    if returncode < 0:
        with contextlib.suppress(ValueError):
            how = f"killed by {signal.Signals(-returncode).name}"
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    said = [lines[i + 1] for i, line in enumerate(lines[:-1]) if " panicked at " in line]
    said += lines[-1:]
    message = f": {said[0]}" if said else ""
    return " ".join(f"the chart engine crashed ({how}){message}".split())[:300]


def draw_apart(specs: list[tuple[int, bytes]]) -> Iterator[tuple[int, Drawn]]:
    """Draw specs in a process of their own, started fresh (not forked: this process may
    run vl-convert's engine).  A chart that ends that process (vl-convert aborts on what it
    cannot draw) is returned with the reason and no PNG; the rest go on in a new one."""
    left = list(specs)
    while left:
        # Not `python -c APART` alone: that would import from the working directory first.
        command = child.command(APART, str(os.getpid()))
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = process.communicate(pickle.dumps(left))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        started = None
        frames = io.BytesIO(out)
        done: set[int] = set()
        with contextlib.suppress(EOFError, pickle.UnpicklingError, ValueError):
            while True:
                what, index, drawn = pickle.load(frames)
                started = index
                if what == "done":
                    done.add(index)
                    yield index, drawn
        lost = [i for i, _ in left if i not in done and (i == started or started is None)]
        specs_by_index = dict(left)
        for index in lost:
            yield index, Drawn(specs_by_index[index], None, _crash(process.returncode, err))
        left = [(i, text) for i, text in left if i not in done and i not in lost]


APART = "from dvc_cml.render.drawing import _apart; _apart()"


@contextlib.contextmanager
def chart_process() -> Iterator[ChartProcess | None]:
    charts = None
    try:
        charts = ChartProcess.start()
        yield charts
    finally:
        if charts is not None:
            charts.close()
