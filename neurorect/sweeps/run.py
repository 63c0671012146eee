"""The entry point of sweeps: :func:`run_sweep` checks its arguments, plans the layout,
opens the store, runs the missing chunks and assembles the result."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from neurorect._arguments import flag_argument, limit_argument, quantity_argument
from neurorect._budget import check_cost, sweep_cost
from neurorect._validate import check_choice, check_integer, closest_hint
from neurorect.errors import ModelError, NeurorectWarning
from neurorect.modelfile import dumps_model, load_model
from neurorect.spec import Model
from neurorect.sweeps.assemble import assemble, result_attrs
from neurorect.sweeps.execute import ProgressBar, execute_dask, execute_local
from neurorect.sweeps.grid import build_dims, validate_grid
from neurorect.sweeps.layout import THEORY, Chunk, Settings, plan_layout
from neurorect.sweeps.measures import MEASURE_VARIABLES, MEASURES
from neurorect.sweeps.store import load_chunk, make_manifest, open_store, save_chunk
from neurorect.units import parse_quantity

__all__ = ["run_sweep"]

#: Names a swept parameter's coordinate must not take (dims of simulate results).
_RESERVED = {"point", "batch", "neuron", "population", "harmonic", "time", "recorded"}


def run_sweep(model: Model | str | Path, grid: Mapping[str, Any], *,
              measure: str | Callable[[xr.Dataset], Any] = "rate", mode: str = "product",
              zip_paths: Sequence[Sequence[str]] | Sequence[str] | None = None,
              executor: str = "local", scheduler: Any = None, n_workers: int = 2,
              store: str | Path | None = None, resume: bool = False, overwrite: bool = False,
              chunk_size: int | None = None, duration: float | str | None = None,
              transient: float | str | None = None, n_periods: int = 3,
              n_harmonics: int | None = None, dtype: str = "float64",
              record: str | None = None, progress: bool | None = None,
              max_work: float | None = None, max_memory: float | None = None) -> xr.Dataset:
    """Evaluate a measure over a grid of parameter values (see :mod:`neurorect.sweeps`).

    Parameters
    ----------
    model : Model or path
        The base model (or its TOML file).
    grid : dict
        ``{dotted path: values}``; values as a list/array (SI numbers, unit strings, words) or
        a spec string ``"start:stop:num"``, ``"lin:..."``, ``"log:start:stop:num"``,
        ``"v1,v2"``.
    measure : {"rate", "response", "step_response", "fixed_point", "silent_fraction"} or callable
        What to compute at each point (see :mod:`neurorect.sweeps`). A callable gets each
        point's simulate Dataset and returns a Dataset (per-point Python calls).
    mode : {"product", "zip"}
        Product grid (default), or all paths zipped into one dim.
    zip_paths : sequence of paths, or of groups of paths, optional
        Paths zipped together (equal lengths) inside a product grid.
    executor : {"local", "dask"}
        Run chunks in this process (default) or as Dask distributed tasks.
    scheduler : str or distributed.Client, optional
        Dask scheduler address (``"tcp://host:8786"``) or client; default: a
        ``LocalCluster`` of ``n_workers`` single-threaded worker processes.
    n_workers : int
        Workers of the default LocalCluster.
    store : path, optional
        Directory of the resumable chunk store (see :mod:`neurorect.sweeps`); default: in
        memory only.
    resume : bool
        Reuse the chunks already in ``store`` and compute only the missing ones. Without it a
        store holding chunks is refused.
    overwrite : bool
        Discard the store's chunks (even of a different sweep) and start again.
    chunk_size : int, optional
        Points per chunk (one kernel call). Default: about 1/16 of the grid, between
        256 and 4096 neuron copies per chunk (coupled models: at most 512; theory measures:
        1/50 of the grid, at most 1000).
    duration : float or str, optional
        Simulated time of every point, s. Default: the model's, or for ``"response"``
        ``transient + max(n_periods / f, transient)`` per point (whole steps).
    transient : float or str, optional
        Time discarded before the statistics, s. Default: the model's, or for ``"response"``
        ``max(model transient, 10 tau_max)``.
    n_periods : int
        Drive periods analysed per point by ``"response"`` (>= 1; default 3).
    n_harmonics : int, optional
        Harmonics computed (default: the model's).
    dtype : {"float64", "float32"}
        Precision of the simulation.
    record : {"rate", "state", "none"}, optional
        What a callable measure's per-point Dataset records (default: the model's setting);
        built-in measures record nothing.
    progress : bool, optional
        Progress bar over chunks, weighted by work, with ETA (default: when stderr is a
        terminal).
    max_work, max_memory : float, optional
        Refuse a sweep over this many neuron-steps in total (default 1e11, or
        NEURORECT_MAX_WORK) or whose own arrays (layout, results) would need more bytes
        (default 80 % of physical memory, or NEURORECT_MAX_MEMORY) before anything runs;
        ``math.inf`` lifts the limit. Each chunk's run is checked by ``simulate``.

    Returns
    -------
    xarray.Dataset
        Dims ``(*sweep dims, *measure dims)``; see :mod:`neurorect.sweeps`.

    Raises
    ------
    ModelError
        A bad path, value or option (before anything runs).
    StoreMismatchError
        ``store`` belongs to a different sweep, or holds chunks and ``resume`` is False.
    SimulationError
        A point diverged.
    """
    model = _checked_arguments(model, measure, executor, scheduler, dtype, record,
                               {"resume": resume, "overwrite": overwrite, "progress": progress},
                               n_periods=n_periods, n_workers=n_workers, chunk_size=chunk_size,
                               n_harmonics=n_harmonics)
    duration = None if duration is None else parse_quantity(
        quantity_argument("duration", duration), "time", key="duration")
    transient = None if transient is None else parse_quantity(
        quantity_argument("transient", transient), "time", key="transient")
    limits = {"max_work": limit_argument("max_work", max_work, "neuron-steps"),
              "max_memory": limit_argument("max_memory", max_memory, "bytes")}
    reserved = _RESERVED | set(MEASURE_VARIABLES[measure] if isinstance(measure, str)
                               else ("duration",))
    dims = build_dims(model, grid, mode, zip_paths, reserved)
    validate_grid(model, dims)
    theory = isinstance(measure, str) and measure in THEORY
    # before the layout allocates per-point arrays: at least the transient's steps per point
    n_points = math.prod(d.size for d in dims)
    shape = {"n_points": n_points, "n_dims": len(dims),
             "n_populations": len(model.populations),
             "n_harmonics": n_harmonics or model.simulation.n_harmonics}
    shortest = duration or (model.simulation.transient if measure == "response"
                            else model.simulation.duration)
    least_steps = 0 if theory else max(1.0, shortest / model.simulation.dt)
    check_cost(sweep_cost(neuron_steps=n_points * model.size * least_steps, **shape),
               what="this sweep", **limits)
    layout = plan_layout(model, dims, measure, duration=duration, transient=transient,
                         n_periods=int(n_periods), chunk_size=chunk_size)
    if not theory:
        check_cost(sweep_cost(neuron_steps=sum(layout.work), **shape), what="this sweep",
                   **limits)

    model_text = dumps_model(model)
    options = {"duration": duration, "transient": layout.transient,
               "n_periods": int(n_periods) if measure == "response" else None,
               "n_harmonics": n_harmonics, "dtype": dtype,
               "record": record if callable(measure) else None,
               "chunk_size": layout.chunk_size, "mode": mode}
    manifest = make_manifest(model, model_text, dims, measure, options, layout.n_points,
                             len(layout.chunks))
    settings = Settings(model_toml=model_text, source=model.source, measure=measure,
                        transient=layout.transient, n_harmonics=n_harmonics, dtype=dtype,
                        record=record, sweep_key=manifest["sweep_key"])

    store_path = Path(store) if store is not None else None
    done: set[int] = set()
    if store_path is not None:
        done = open_store(store_path, manifest, resume=resume, overwrite=overwrite)
    missing = [c for c in layout.chunks if c.index not in done]
    results: dict[int, xr.Dataset] = {}
    bar = ProgressBar(sum(layout.work[c.index] for c in missing), len(missing), len(done),
                      progress)

    def on_result(chunk: Chunk, result: xr.Dataset) -> None:
        if store_path is not None:
            save_chunk(store_path, chunk.index, result)
        results[chunk.index] = result
        bar.update(layout.work[chunk.index])

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NeurorectWarning)
            if executor == "dask" and missing:
                execute_dask(settings, missing, on_result, scheduler, int(n_workers))
            else:
                execute_local(settings, missing, on_result)
    finally:
        bar.close()
        _summarise_warnings(caught, len(missing))
    for index in done:
        results[index] = load_chunk(store_path, index, manifest["sweep_key"])
    attrs = result_attrs(layout, manifest, model, mode=mode, measure=measure,
                         n_periods=n_periods)
    return assemble(layout, results, attrs, model)


def _checked_arguments(model: Any, measure: Any, executor: str, scheduler: Any, dtype: str,
                       record: str | None, flags: dict[str, Any],
                       **integers: int | None) -> Model:
    """The model (loaded if a path); ModelError for a bad argument, before anything runs."""
    if isinstance(model, (str, Path)):
        model = load_model(model)
    if not isinstance(model, Model):
        raise ModelError("must be a Model or a model file", key="model",
                         value=type(model).__name__, allowed="neurorect.Model or a .toml path")
    if isinstance(measure, str):
        if measure not in MEASURES:
            raise ModelError(f"unknown measure{closest_hint(measure, MEASURES)}",
                             key="measure", value=measure,
                             allowed=", ".join(MEASURES) + ", or a callable")
    elif not callable(measure):
        raise ModelError("must be a measure name or a callable", key="measure",
                         value=measure, allowed=", ".join(MEASURES) + ", or a callable")
    for key in ("resume", "overwrite"):
        flag_argument(key, flags[key], optional=False)
    flag_argument("progress", flags["progress"])
    check_choice("executor", executor, ("local", "dask"))
    check_choice("dtype", dtype, ("float64", "float32"))
    if record is not None:
        check_choice("record", record, ("rate", "state", "none"))
    if scheduler is not None and executor != "dask":
        raise ModelError("a scheduler needs executor='dask'", key="scheduler",
                         value=str(scheduler), allowed="executor='dask'")
    for key, value in integers.items():
        if value is not None:
            check_integer(key, value, low=1)
    return model


def _summarise_warnings(caught: list[warnings.WarningMessage], n_chunks: int) -> None:
    """The chunks' NeurorectWarnings as ONE warning (each chunk's run warns for its own
    units); other warnings are passed on unchanged."""
    ours = [w for w in caught if issubclass(w.category, NeurorectWarning)]
    for w in caught:
        if w not in ours:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if ours:
        warnings.warn(f"{len(ours)} warning(s) from {n_chunks} chunk(s) of the sweep (each "
                      f"for that chunk's points); the first: {ours[0].message}",
                      NeurorectWarning, stacklevel=3)
