"""Running a sweep's chunks: one chunk (:func:`run_chunk`, the task of both executors), the
local and the Dask executors, and the progress bar.

A chunk is ONE ``simulate(..., batch=..., record="none")`` call (or one loop of fixed-point
searches for the theory measures). Its result equals the individual runs of its points bit
for bit, so results do not depend on chunking, executor or thread count (see
:func:`neurorect.sweeps.run_sweep` for the one exception, coupled copies sharing a matrix
product). The Dask executor sends each chunk as one task to a distributed scheduler; the
client receives the results, so workers need no shared filesystem.

Ctrl-C stops either executor cleanly: the chunks finished so far have been handed to
``on_result`` (and so saved in the store), the rest are cancelled, and
:class:`SweepInterrupted` (a KeyboardInterrupt) says how many of each. The local Dask
cluster's worker processes ignore Ctrl-C (the terminal sends it to every process of the
command; the client stops them), so an interrupt ends in one exception, not one per
worker. :func:`connect` reaches a scheduler within a timeout or raises
:class:`SchedulerError` naming the address.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from neurorect import _progress
from neurorect._schema import attrs, provenance
from neurorect.errors import ModelError, NeurorectError
from neurorect.spec import Model
from neurorect.sweeps.layout import THEORY, Chunk, Settings
from neurorect.sweeps.measures import (
    batched,
    callable_chunk,
    measure_rate,
    measure_response,
    measure_step_response,
    model_from_toml,
    theory_chunk,
)

__all__ = ["run_chunk", "execute_local", "execute_dask", "ProgressBar", "SweepInterrupted",
           "SchedulerError", "connect", "SCHEDULER_TIMEOUT"]

OnResult = Callable[[Chunk, xr.Dataset], None]

#: Seconds to wait for a Dask scheduler given by address before giving up.
SCHEDULER_TIMEOUT = 10.0
_POLL = 0.1  # s: how often the Dask loop looks for results and for Ctrl-C
_CLOSE_TIMEOUT = 30.0  # s: the longest a client or local cluster may take to close


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: ``finished`` chunks (``points`` points) of this call were
    handed to ``on_result`` (saved, with a store); ``pending`` were not computed."""

    def __init__(self, finished: int, pending: int, points: int) -> None:
        super().__init__(f"sweep interrupted: {finished} chunks finished, {pending} not")
        self.finished, self.pending, self.points = finished, pending, points


class SchedulerError(NeurorectError, ConnectionError):
    """The Dask scheduler could not be reached (the message names the address)."""


def _simulate_chunk(model: Model, chunk: Chunk, settings: Settings) -> xr.Dataset:
    """One batched simulation of the chunk's points and the measure of each (dim ``point``),
    with each point's simulated time ``duration``."""
    from neurorect.driver import simulate  # looked up per call: the engine loads on first use

    measure = settings.measure
    builtin = isinstance(measure, str)
    if builtin:  # the step-response measures need each point's mean-rate trace
        record = "rate" if measure == "step_response" else "none"
    else:
        record = settings.record
    result = simulate(model, chunk.duration, transient=settings.transient, record=record,
                      n_harmonics=settings.n_harmonics, dtype=settings.dtype,
                      batch=dict(chunk.batch) or None, progress=False)
    if builtin:
        if measure == "response":
            out = measure_response(result, model)
        elif measure == "step_response":
            out = measure_step_response(result, model)
        else:
            out = measure_rate(result)
        out = batched(out).rename({"batch": "point"})
    else:
        out = callable_chunk(result, chunk, measure)
    out["duration"] = ("point", np.full(chunk.points.size, float(result.attrs["duration"])),
                       attrs("s", "simulated time of the point's run"))
    drop = [name for name, coord in out.coords.items() if "point" in coord.dims]
    return out.drop_vars(drop)


def _set_threads(threads: int) -> None:
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


def run_chunk(settings: Settings, chunk: Chunk) -> xr.Dataset:
    """Compute one chunk (the task of both executors): a Dataset over dim ``point``."""
    if settings.threads:
        _set_threads(settings.threads)
    model = model_from_toml(settings.model_toml, settings.source)
    if chunk.outer:
        model = model.with_values(chunk.outer)
    measure = settings.measure
    if isinstance(measure, str) and measure in THEORY:
        out = theory_chunk(model, chunk, measure)
    else:
        out = _simulate_chunk(model, chunk, settings)
    out = out.assign_coords(point=("point", chunk.points,
                                   attrs("1", "flat C-order index of the grid point")))
    out.attrs = provenance(sweep_key=settings.sweep_key, chunk=chunk.index)
    return out


class ProgressBar:
    """The progress of a sweep: chunks and points done, weighted by the chunks' work, with
    ETA (tqdm via :mod:`neurorect._progress`; silent when disabled).

    The executors report the points of each finished chunk to the bar in use (the most
    recently opened one), so the bar counts points as well as chunks."""

    def __init__(self, total_work: float, n_chunks: int, already: int,
                 enabled: bool | None) -> None:
        self.n_chunks, self.already, self.finished = n_chunks, already, 0
        self.points, self.total_points = 0, None
        self.counter = _progress.SilentBar()
        if n_chunks and _progress.is_enabled(enabled):
            self.counter = _progress.bar(
                total_work, self._text(),
                bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")
        _OPEN_BARS.append(self)

    def _text(self) -> str:
        note = f" (+{self.already} from the store)" if self.already else ""
        points = (f", {self.points}/{self.total_points} points"
                  if self.total_points is not None else "")
        return f"sweep: {self.finished}/{self.n_chunks} chunks{note}{points}"

    def update(self, work: float) -> None:
        """One more chunk done, of ``work``."""
        self.finished += 1
        self.counter.set_description_str(self._text(), refresh=False)
        self.counter.update(work)

    def add_points(self, points: int) -> None:
        """``points`` more points done (reported by the executors)."""
        self.points += points
        self.counter.set_description_str(self._text(), refresh=True)

    def close(self) -> None:
        self.counter.close()
        if self in _OPEN_BARS:
            _OPEN_BARS.remove(self)


_OPEN_BARS: list[ProgressBar] = []


class _Tally:
    """What an executor finished: counts chunks and points, tells the open bar, and turns
    Ctrl-C into :class:`SweepInterrupted`."""

    def __init__(self, chunks: list[Chunk], on_result: OnResult) -> None:
        self.on_result, self.pending = on_result, len(chunks)
        self.finished = self.points = 0
        self.bar = _OPEN_BARS[-1] if _OPEN_BARS else None
        if self.bar is not None:
            self.bar.total_points = sum(int(c.points.size) for c in chunks)

    def __call__(self, chunk: Chunk, result: xr.Dataset) -> None:
        # saved (with a store) and counted as one step: a Ctrl-C landing between the two
        # would report one chunk fewer than the store holds
        with _ctrl_c_deferred():
            self.on_result(chunk, result)
            self.finished += 1
            self.pending -= 1
            self.points += int(chunk.points.size)
        if self.bar is not None:
            self.bar.add_points(int(chunk.points.size))

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        try:
            yield
        except KeyboardInterrupt:
            raise SweepInterrupted(self.finished, self.pending, self.points) from None


def execute_local(settings: Settings, chunks: list[Chunk], on_result: OnResult) -> None:
    """Run the chunks in this process, one after the other (Ctrl-C: SweepInterrupted)."""
    tally = _Tally(chunks, on_result)
    with tally.interruptible():
        for chunk in chunks:
            tally(chunk, run_chunk(settings, chunk))


@contextmanager
def _ctrl_c_as_flag() -> Iterator[threading.Event]:
    """Ctrl-C sets the yielded event instead of raising wherever it lands (raised inside
    Dask's client code, it can leave a lock held and the clean-up then hangs)."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: event.set())
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """A Ctrl-C during the block is raised as KeyboardInterrupt when the block ends."""
    with _ctrl_c_as_flag() as pressed:
        yield
    if pressed.is_set():
        raise KeyboardInterrupt


@contextmanager
def _ignoring_ctrl_c() -> Iterator[None]:
    """SIGINT ignored while worker processes start: they inherit it (a spawned Python keeps
    an ignored SIGINT), so Ctrl-C reaches only this process, which stops them."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _local_file_locks():
    """Dask's synchronous scheduler as the default while results are saved: with a
    distributed Client as the default scheduler, xarray guards each netCDF write with a lock
    held by the scheduler (a round trip per write, and a lock left held if the client stops
    mid-write); the results are in memory, so the local lock is the right one."""
    import dask

    return dask.config.set(scheduler="synchronous")


def _local_cluster(n_workers: int):
    """A ``LocalCluster`` of single-threaded worker processes that ignore Ctrl-C (ModelError
    when it cannot start, e.g. called while a worker process is starting: a script without
    a main guard)."""
    import multiprocessing

    from distributed import LocalCluster

    hint = ("a local Dask cluster spawns worker processes that re-import the main "
            "script: in a script, call run_sweep under `if __name__ == \"__main__\":`")
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ModelError("run_sweep(executor='dask') was called while a worker process "
                         "was starting", key="executor", value="dask", allowed=hint)
    try:
        with _ignoring_ctrl_c():
            return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                dashboard_address=None)
    except RuntimeError as error:
        raise ModelError(f"could not start a local Dask cluster ({error})", key="executor",
                         value="dask", allowed=hint) from error


def connect(address: str, timeout: float = SCHEDULER_TIMEOUT):
    """A ``distributed.Client`` of the scheduler at ``address``, reached within ``timeout``
    seconds, or SchedulerError naming the address and the cause."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except ValueError as error:  # a malformed address
        raise ModelError(" ".join(str(error).split()), key="scheduler", value=address,
                         allowed="an address such as tcp://HOST:8786") from None
    except (OSError, TimeoutError) as error:
        cause = " ".join(str(error).split()) or type(error).__name__
        raise SchedulerError(f"cannot reach the Dask scheduler {address!r} within "
                             f"{timeout:g} s ({cause}); check the address and that "
                             "`dask scheduler` runs there, or leave out the scheduler "
                             "for a local cluster") from None


def execute_dask(settings: Settings, chunks: list[Chunk], on_result: OnResult,
                 scheduler: Any, n_workers: int) -> None:
    """Run each chunk as one Dask task; ``on_result`` is called here, as results arrive.

    ``scheduler``: an address (reached within :data:`SCHEDULER_TIMEOUT`), a
    ``distributed.Client``, or None for a local cluster of ``n_workers`` single-threaded
    processes. Ctrl-C cancels the tasks not yet finished and raises SweepInterrupted.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ModelError("the Dask executor needs dask[distributed]", key="executor",
                         value="dask", allowed="pip install 'dask[distributed]'") from None
    cluster = None
    own_client = True
    tally = _Tally(chunks, on_result)
    with tally.interruptible():
        if scheduler is None:
            cluster = _local_cluster(n_workers)
            client = Client(cluster)
            settings = replace(settings, threads=1)
        elif isinstance(scheduler, str):
            client = connect(scheduler)
        else:
            client, own_client = scheduler, False
        chunk_of = {}
        try:
            with _ctrl_c_as_flag() as pressed:
                for chunk in chunks:
                    future = client.submit(run_chunk, settings, chunk, pure=False)
                    chunk_of[future] = chunk
                arriving = as_completed(list(chunk_of), with_results=True)
                while not arriving.is_empty():
                    if pressed.is_set():
                        raise KeyboardInterrupt
                    if arriving.has_ready():
                        future, result = next(arriving)
                        with _local_file_locks():
                            tally(chunk_of[future], result)
                    else:
                        pressed.wait(_POLL)
                if pressed.is_set():
                    raise KeyboardInterrupt
        finally:
            with _ignoring_ctrl_c():  # a second Ctrl-C must not break the clean-up
                for future in chunk_of:
                    future.cancel()
                if own_client:
                    client.close(timeout=_CLOSE_TIMEOUT)
                if cluster is not None:
                    cluster.close(timeout=_CLOSE_TIMEOUT)
