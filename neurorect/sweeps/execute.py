"""Running a sweep's chunks: one chunk (:func:`run_chunk`, the task of both executors), the
local and the Dask executors, and the progress bar.

A chunk is ONE ``simulate(..., batch=..., record="none")`` call (or one loop of fixed-point
searches for the theory measures). Its result equals the individual runs of its points bit
for bit, so results do not depend on chunking, executor or thread count (see
:func:`neurorect.sweeps.run_sweep` for the one exception, coupled copies sharing a matrix
product). The Dask executor sends each chunk as one task to a distributed scheduler; the
client receives the results, so workers need no shared filesystem.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from neurorect._schema import attrs, provenance
from neurorect.errors import ModelError
from neurorect.spec import Model
from neurorect.sweeps.layout import THEORY, Chunk, Settings
from neurorect.sweeps.measures import (
    batched,
    callable_chunk,
    measure_rate,
    measure_response,
    model_from_toml,
    theory_chunk,
)

__all__ = ["run_chunk", "execute_local", "execute_dask", "ProgressBar"]

OnResult = Callable[[Chunk, xr.Dataset], None]


def _simulate_chunk(model: Model, chunk: Chunk, settings: Settings) -> xr.Dataset:
    """One batched simulation of the chunk's points and the measure of each (dim ``point``),
    with each point's simulated time ``duration``."""
    from neurorect.driver import simulate  # looked up per call: the engine loads on first use

    measure = settings.measure
    builtin = isinstance(measure, str)
    result = simulate(model, chunk.duration, transient=settings.transient,
                      record="none" if builtin else settings.record,
                      n_harmonics=settings.n_harmonics, dtype=settings.dtype,
                      batch=dict(chunk.batch) or None, progress=False)
    if builtin:
        out = measure_response(result, model) if measure == "response" else measure_rate(result)
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
    """A progress bar over chunks, weighted by their work, with ETA (tqdm; silent when
    disabled)."""

    def __init__(self, total_work: float, n_chunks: int, already: int,
                 enabled: bool | None) -> None:
        from tqdm.auto import tqdm

        if enabled is None:
            enabled = sys.stderr.isatty()
        self.n_chunks, self.already, self.finished = n_chunks, already, 0
        self.bar = None
        if enabled and n_chunks:
            self.bar = tqdm(total=total_work, desc=self._text(), leave=False,
                            dynamic_ncols=True,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    def _text(self) -> str:
        note = f" (+{self.already} from the store)" if self.already else ""
        return f"sweep: {self.finished}/{self.n_chunks} chunks{note}"

    def update(self, work: float) -> None:
        """One more chunk done, of ``work``."""
        self.finished += 1
        if self.bar is not None:
            self.bar.set_description_str(self._text(), refresh=False)
            self.bar.update(work)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def execute_local(settings: Settings, chunks: list[Chunk], on_result: OnResult) -> None:
    """Run the chunks in this process, one after the other."""
    for chunk in chunks:
        on_result(chunk, run_chunk(settings, chunk))


def _local_cluster(n_workers: int):
    """A ``LocalCluster`` of single-threaded worker processes (ModelError when it cannot
    start, e.g. called while a worker process is starting: a script without a main guard)."""
    import multiprocessing

    from distributed import LocalCluster

    hint = ("a local Dask cluster spawns worker processes that re-import the main "
            "script: in a script, call run_sweep under `if __name__ == \"__main__\":`")
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ModelError("run_sweep(executor='dask') was called while a worker process "
                         "was starting", key="executor", value="dask", allowed=hint)
    try:
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            dashboard_address=None)
    except RuntimeError as error:
        raise ModelError(f"could not start a local Dask cluster ({error})", key="executor",
                         value="dask", allowed=hint) from error


def execute_dask(settings: Settings, chunks: list[Chunk], on_result: OnResult,
                 scheduler: Any, n_workers: int) -> None:
    """Run each chunk as one Dask task; ``on_result`` is called here, as results arrive.

    ``scheduler``: an address, a ``distributed.Client``, or None for a local cluster of
    ``n_workers`` single-threaded processes.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ModelError("the Dask executor needs dask[distributed]", key="executor",
                         value="dask", allowed="pip install 'dask[distributed]'") from None
    cluster = None
    own_client = True
    if scheduler is None:
        cluster = _local_cluster(n_workers)
        client = Client(cluster)
        settings = replace(settings, threads=1)
    elif isinstance(scheduler, str):
        client = Client(scheduler)
    else:
        client, own_client = scheduler, False
    chunk_of = {}
    try:
        for chunk in chunks:
            future = client.submit(run_chunk, settings, chunk, pure=False)
            chunk_of[future] = chunk
        for future, result in as_completed(list(chunk_of), with_results=True):
            on_result(chunk_of[future], result)
    finally:
        for future in chunk_of:
            future.cancel()
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
