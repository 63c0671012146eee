"""``simulate(model, ...)``: the only driver of the Numba kernels; returns an xarray Dataset.

Result schema (DESIGN.md): dims ``time``, ``neuron``, ``harmonic``, ``population`` and, for a
batch, ``batch`` (with one coordinate per batched parameter, named after it). Variables:

* ``rate`` (time, neuron), Hz: the recorded rate (or ``state`` with ``record="state"``);
* ``r0`` (neuron), Hz, and ``amplitude``/``phase`` (neuron, harmonic), Hz and rad: streaming
  statistics computed inside the kernel over whole periods of each neuron's analysis
  frequency ``stat_freq`` after the transient, in the sine convention
  ``r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)``;
* ``mean_rate`` (population), Hz: population average of ``r0``.
"""

from __future__ import annotations

import math
import os
import time as _time
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorect import _kernels as kernels
from neurorect._plan import Plan, compile_plan
from neurorect._version import __version__
from neurorect.errors import ModelError, SimulationError
from neurorect.fourier import harmonics_from_sums
from neurorect.modelfile import dumps_model
from neurorect.spec import Model

__all__ = ["simulate", "noise_input", "DEFAULT_MAX_RECORD_BYTES", "stat_windows"]

#: Largest recording ``simulate`` allocates unless told otherwise (bytes); the environment
#: variable NEURORECT_MAX_RECORD_BYTES overrides it.
DEFAULT_MAX_RECORD_BYTES = 4 * 2**30
_CHUNK_UNIT_STEPS = 2e7  # unit-steps per chunk (~0.05-0.1 s of work): progress granularity
_PROGRESS_AFTER = 2.0  # s: show a progress bar when a run is predicted to take longer


def _overrides(model: Model, **settings) -> Model:
    changes = {f"simulation.{k}": v for k, v in settings.items() if v is not None}
    if "simulation.duration" in changes and "simulation.transient" not in changes:
        from neurorect.units import to_si

        try:
            duration = float(to_si(changes["simulation.duration"]))
        except ValueError:
            duration = math.inf  # with_values below reports the bad value
        if model.simulation.transient >= duration:
            raise ModelError(
                f"the model's transient ({model.simulation.transient:g} s, discarded before "
                "the statistics) is not shorter than the requested duration; pass "
                "transient=... as well", key="duration", value=duration,
                allowed=f"duration > {model.simulation.transient:g} s, or a shorter transient",
                file=model.source)
    return model.with_values(changes) if changes else model


def stat_windows(freq: np.ndarray, n_steps: int, first: int, dt: float) -> np.ndarray:
    """Streaming-statistics windows ``(U, 2)`` in global steps: whole periods from ``first``.

    For ``freq > 0`` the window is the largest whole number of periods that fits (exactly
    whole when the period is a multiple of dt; otherwise rounded to the nearest step); for
    ``freq == 0`` or less than one period it is all of ``[first, n_steps)``.
    """
    available = n_steps - first
    windows = np.empty((freq.size, 2), dtype=np.int64)
    windows[:, 0] = first
    periods = np.floor(available * dt * freq + 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        length = np.where(periods >= 1, np.rint(periods / (freq * dt)), available)
    windows[:, 1] = first + np.minimum(length, available).astype(np.int64)
    return windows


def default_stat_freq(plan: Plan) -> np.ndarray:
    """Each unit's analysis frequency: its own sinusoid's frequency; a unit without one takes
    its batch copy's common drive frequency (the E drive for the I population of an E-I
    pair), when all driven units of that copy share one; else 0 (mean only)."""
    own = (plan.params[:, kernels.SIN_FREQ] * (plan.params[:, kernels.SIN_AMP] != 0.0)).reshape(
        plan.n_batch, plan.n_neurons)
    positive = own > 0
    highest = np.where(positive, own, -np.inf).max(axis=1)
    lowest = np.where(positive, own, np.inf).min(axis=1)
    common = np.where(highest == lowest, highest, 0.0)  # one driven frequency, else 0
    out = np.where(positive, own, common[:, None])
    return out.reshape(-1)


def _record_layout(plan: Plan, neurons, record_every: int, n_steps: int, itemsize: int,
                   max_bytes: int, record: str):
    n = plan.n_neurons
    if record == "none":
        chosen = np.zeros(0, dtype=np.int64)
    elif neurons is None:
        chosen = np.arange(n)
    else:
        chosen = np.unique(np.asarray(neurons, dtype=np.int64))
        if chosen.size and (chosen.min() < 0 or chosen.max() >= n):
            raise ModelError("recorded neuron index out of range", key="neurons",
                             value=int(chosen[(chosen < 0) | (chosen >= n)][0]),
                             allowed=f"0 <= index < {n}")
    n_rows = -(-n_steps // record_every) if chosen.size else 0
    n_columns = plan.n_batch * chosen.size
    needed = n_rows * n_columns * itemsize
    if needed > max_bytes:
        raise ModelError(
            f"recording would need {needed / 2**30:.2f} GiB, more than the limit of "
            f"{max_bytes / 2**30:.2f} GiB; record fewer neurons, record every n-th step "
            "(record_every), or record='none' and use the streaming statistics "
            "(r0, amplitude, phase)", key="record", value=record,
            allowed="a recording below max_record_bytes")
    record_map = np.full(plan.n_units, -1, dtype=np.int64)
    copies = np.arange(plan.n_batch)[:, None]
    record_map[(copies * n + chosen).ravel()] = (copies * chosen.size
                                                  + np.arange(chosen.size)).ravel()
    return chosen, record_map, np.zeros((n_rows, n_columns))


def _raise_non_finite(plan: Plan, fail: np.ndarray, dt: float) -> None:
    failed = np.flatnonzero(fail >= 0)
    u = failed[np.argmin(fail[failed])]
    b, i = divmod(int(u), plan.n_neurons)
    population = next(name for name, (lo, hi) in plan.model.offsets.items() if lo <= i < hi)
    where = f" of batch element {b}" if plan.n_batch > 1 else ""
    raise SimulationError(
        f"non-finite state at t = {fail[u] * dt:.6g} s (step {fail[u]}) in neuron {i} "
        f"(population {population!r}){where}: the dynamics diverged; check the coupling "
        "strength (a rate network is unstable when gain * ||W|| > 1 along an unstable "
        "direction), the transfer's growth, and dt")


def simulate(model: Model, duration: float | str | None = None, *, dt: float | str | None = None,
             seed: int | None = None, method: str | None = None, record: str | None = None,
             record_every: int | None = None, neurons=None, transient: float | str | None = None,
             stats_freq=None, n_harmonics: int | None = None,
             batch: Mapping[str, Any] | None = None, dtype: str = "float64",
             coupling: str = "auto", blas_threads: int | None = 1,
             chunk_steps: int | None = None,
             progress: bool | None = None,
             max_record_bytes: int | None = None) -> xr.Dataset:
    """Simulate a model; return its recorded traces and streaming statistics.

    Parameters
    ----------
    model : Model
    duration : float or str, optional
        Simulated time, s (default: the model's ``simulation.duration``).
    dt : float or str, optional
        Time step, s.
    seed : int, optional
        Noise seed (same seed, same numbers, whatever the thread count or chunking).
    method : {"exp_euler", "euler", "rk4"}, optional
    record : {"rate", "state", "none"}, optional
        What to record (``"state"``: r in rate form, v in voltage form).
    record_every : int, optional
        Record every n-th step.
    neurons : sequence of int, optional
        Indices of the neurons to record (default all).
    transient : float or str, optional
        Time before the streaming statistics start, s.
    stats_freq : float or array, optional
        Analysis frequency of the streaming statistics, Hz, scalar or per neuron (default:
        each neuron's drive frequency; 0 gives the mean only).
    n_harmonics : int, optional
    batch : dict, optional
        ``{dotted path: values}``: B independent copies in ONE kernel call, copy b taking the
        b-th value of each path (zipped). Result variables get a leading ``batch`` dim.
    dtype : {"float64", "float32"}
        Precision of the state, the coupling matrix and the recording.
    coupling : {"auto", "dense", "sparse"}
        How ``W @ r`` is computed for coupled models (BLAS, or CSR for sparse W).
    blas_threads : int or None
        BLAS threads during a coupled run (default 1; None leaves BLAS's own setting). The
        product is one short BLAS call per step: multi-threaded BLAS synchronises its threads
        every step, which on a shared machine runs several times slower (measured 8x at
        N = 1000 on 2 busy cores).
    chunk_steps : int, optional
        Steps per kernel call (results do not depend on it).
    progress : bool, optional
        Progress bar; default: shown when a run is predicted to take over ~2 s.
    max_record_bytes : int, optional
        Refuse recordings larger than this (default 4 GiB).

    Returns
    -------
    xarray.Dataset
        See the module docstring for the schema.

    Raises
    ------
    ModelError
        Bad arguments (naming key, value and what is allowed), or a recording over the limit.
    SimulationError
        A non-finite state (naming time and neuron).
    """
    model = _overrides(model, duration=duration, dt=dt, seed=seed, method=method,
                       record=record, record_every=record_every, transient=transient,
                       n_harmonics=n_harmonics)
    sim = model.simulation
    if dtype not in ("float64", "float32"):
        raise ModelError("unknown dtype", key="dtype", value=dtype,
                         allowed="'float64' or 'float32'")
    if blas_threads is not None and (isinstance(blas_threads, bool) or not isinstance(
            blas_threads, (int, np.integer)) or blas_threads < 1):
        raise ModelError("must be a whole number of threads", key="blas_threads",
                         value=blas_threads, allowed="an integer >= 1, or None")
    if coupling not in ("auto", "dense", "sparse"):
        raise ModelError("unknown coupling mode", key="coupling", value=coupling,
                         allowed="'auto', 'dense' or 'sparse'")
    plan = compile_plan(model, seed=sim.seed, batch=batch)
    n_steps = int(round(sim.duration / sim.dt))
    first = int(math.ceil(sim.transient / sim.dt - 1e-9))
    freq = default_stat_freq(plan)
    if stats_freq is not None:
        given = np.broadcast_to(np.asarray(stats_freq, dtype=float), (plan.n_neurons,))
        if np.any(~np.isfinite(given) | (given < 0)):
            raise ModelError("analysis frequencies must be finite and >= 0", key="stats_freq",
                             value=float(given[~(np.isfinite(given) & (given >= 0))][0]),
                             allowed="0 <= stats_freq < 1/(2 dt)")
        freq = np.tile(given, plan.n_batch)
    plan.params[:, kernels.STAT_FREQ] = freq
    windows = stat_windows(freq, n_steps, first, sim.dt)

    itemsize = 4 if dtype == "float32" else 8
    limit = max_record_bytes or int(os.environ.get("NEURORECT_MAX_RECORD_BYTES",
                                                   DEFAULT_MAX_RECORD_BYTES))
    chosen, record_map, record_out = _record_layout(plan, neurons, sim.record_every, n_steps,
                                                    itemsize, limit, sim.record)
    record_out = record_out.astype(dtype)
    method_code = {"exp_euler": kernels.EXP_EULER, "euler": kernels.EULER,
                   "rk4": kernels.RK4}[sim.method]
    record_kind = kernels.RECORD_STATE if sim.record == "state" else kernels.RECORD_RATE
    acc = np.zeros((plan.n_units, sim.n_harmonics + 1), dtype=np.complex128)
    ou = plan.ou_init.copy()
    fail = np.full(plan.n_units, -1, dtype=np.int64)
    state = plan.init.astype(dtype)
    common = (sim.dt, method_code, record_kind, sim.record_every, plan.kinds, plan.params,
              plan.tparams, plan.pulses, windows, plan.keys)
    if plan.coupled:
        state = state.reshape(plan.n_batch, plan.n_neurons)
        W, indptr, indices, weights = _coupling_arrays(plan.W, coupling, dtype)

        def advance(step0: int, steps: int) -> None:
            kernels.run_network(step0, steps, *common, state, ou, acc, record_map, record_out,
                                fail, W, indptr, indices, weights)
    else:
        def advance(step0: int, steps: int) -> None:
            before = (state.copy(), ou.copy(), acc.copy())
            kernels.run_uncoupled(step0, steps, *common, state, ou, acc, record_map,
                                  record_out, fail)
            if np.any(fail >= 0):  # pin the step: rerun the chunk on the per-unit path
                state[:], ou[:], acc[:] = before
                fail[:] = -1
                kernels.run_uncoupled(step0, steps, *common, state, ou, acc, record_map,
                                      record_out, fail, True)

    if chunk_steps is None:  # whole multiples of the phasor resync interval: no re-rotation
        resync = kernels.RESYNC
        chunk_steps = resync * max(1, int(_CHUNK_UNIT_STEPS / plan.n_units) // resync)
    chunk = int(min(n_steps, chunk_steps))
    if plan.coupled and blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(blas_threads), user_api="blas"):
            _run_chunks(advance, n_steps, chunk, progress, fail, plan, sim.dt)
    else:
        _run_chunks(advance, n_steps, chunk, progress, fail, plan, sim.dt)
    return _to_dataset(plan, sim, acc, windows, freq, chosen, record_out, dtype)


def _coupling_arrays(W: np.ndarray, mode: str, dtype: str):
    density = np.count_nonzero(W) / W.size
    use_sparse = mode == "sparse" or (mode == "auto" and W.shape[0] == 1 and density < 0.1
                                      and W.shape[1] >= 200)
    if use_sparse:
        if W.shape[0] != 1:
            raise ModelError("sparse coupling needs one W shared by the batch", key="coupling",
                             value=mode, allowed="'dense' when batching coupling parameters")
        matrix = W[0]
        rows, cols = np.nonzero(matrix)
        indptr = np.searchsorted(rows, np.arange(matrix.shape[0] + 1)).astype(np.int64)
        return (np.zeros((1, 0, 0), dtype=dtype), indptr, cols.astype(np.int64),
                matrix[rows, cols].astype(np.float64))
    empty_int = np.zeros(0, dtype=np.int64)
    return np.ascontiguousarray(W, dtype=dtype), empty_int, empty_int, np.zeros(0)


def _run_chunks(advance, n_steps: int, chunk: int, progress: bool | None, fail: np.ndarray,
                plan: Plan, dt: float) -> None:
    from tqdm.auto import tqdm

    bar = None
    started = _time.perf_counter()
    step = 0
    try:
        while step < n_steps:
            steps = min(chunk, n_steps - step)
            advance(step, steps)
            step += steps
            if np.any(fail >= 0):
                _raise_non_finite(plan, fail, dt)
            if bar is None and progress is not False and step < n_steps:
                elapsed = _time.perf_counter() - started
                predicted = elapsed * n_steps / step
                if progress or predicted > _PROGRESS_AFTER:
                    bar = tqdm(total=n_steps, initial=step, unit="step", unit_scale=True,
                               desc="simulate", leave=False)
            elif bar is not None:
                bar.update(steps)
    finally:
        if bar is not None:
            bar.close()


def _to_dataset(plan: Plan, sim, acc, windows, freq, chosen, record_out, dtype) -> xr.Dataset:
    B, N = plan.n_batch, plan.n_neurons
    counts = (windows[:, 1] - windows[:, 0]).astype(float)
    r0, amplitude, phase = harmonics_from_sums(acc, counts)
    no_period = (freq <= 0) | (counts * sim.dt * freq < 1.0 - 1e-9)
    amplitude[no_period] = np.nan
    phase[no_period] = np.nan
    batched = bool(plan.batch)
    lead = ("batch",) if batched else ()

    def shape(values: np.ndarray, *rest: int) -> np.ndarray:
        values = values.reshape(B, N, *rest)
        return values if batched else values[0]

    population_names = [p.name for p in plan.model.populations]
    neuron_population = np.concatenate([[p.name] * p.size for p in plan.model.populations])
    coords: dict[str, Any] = {
        "neuron": ("neuron", np.arange(N), {"long_name": "neuron index", "units": "1"}),
        "harmonic": ("harmonic", np.arange(1, sim.n_harmonics + 1),
                     {"long_name": "harmonic number k", "units": "1"}),
        "population": ("population", population_names,
                       {"long_name": "population", "units": "1"}),
        "neuron_population": ("neuron", neuron_population,
                              {"long_name": "population of the neuron", "units": "1"}),
    }
    data: dict[str, Any] = {
        "r0": (lead + ("neuron",), shape(r0), {"long_name": "mean rate", "units": "Hz"}),
        "amplitude": (lead + ("neuron", "harmonic"), shape(amplitude, sim.n_harmonics),
                      {"long_name": "harmonic amplitude A_k", "units": "Hz"}),
        "phase": (lead + ("neuron", "harmonic"), shape(phase, sim.n_harmonics),
                  {"long_name": "harmonic phase relative to the drive's sine "
                                "(negative: lag)", "units": "rad"}),
        "stat_freq": (lead + ("neuron",), shape(freq),
                      {"long_name": "analysis frequency of the streaming statistics",
                       "units": "Hz"}),
        "stat_duration": (lead + ("neuron",), shape(counts * sim.dt),
                          {"long_name": "length of the statistics window (whole periods)",
                           "units": "s"}),
    }
    offsets = plan.model.offsets
    means = np.stack([shape(r0)[..., lo:hi].mean(axis=-1)
                      for lo, hi in (offsets[p] for p in population_names)], axis=-1)
    data["mean_rate"] = (lead + ("population",), means,
                         {"long_name": "population mean rate (statistics window)",
                          "units": "Hz"})
    if chosen.size:
        n_rows = record_out.shape[0]
        traces = record_out.reshape(n_rows, B, chosen.size).transpose(1, 0, 2)
        coords["time"] = ("time", np.arange(n_rows) * sim.record_every * sim.dt,
                          {"long_name": "time", "units": "s"})
        name = "state" if sim.record == "state" else "rate"
        attrs = ({"long_name": "firing rate", "units": "Hz"} if name == "rate" else
                 {"long_name": "state (r in rate form, v in voltage form)",
                  "units": "Hz (rate form) or drive units (voltage form)"})
        dims = ("time", "neuron") if chosen.size == N else ("time", "recorded")
        if chosen.size != N:
            coords["recorded_neuron"] = ("recorded", chosen,
                                         {"long_name": "index of the recorded neuron",
                                          "units": "1"})
        data[name] = (lead + dims, traces if batched else traces[0], attrs)
    for path, values in plan.batch.items():
        coords[_batch_coord_name(path, plan.batch)] = (
            "batch", values, {"long_name": path, "units": _units_of(path), "path": path})
    if batched and not any(p == "simulation.seed" for p in plan.batch):
        coords["seed"] = ("batch", plan.seeds, {"long_name": "noise seed", "units": "1"})
    attrs = {
        "neurorect_version": __version__, "model": dumps_model(plan.model),
        "model_name": plan.model.name, "dt": sim.dt, "duration": sim.duration,
        "method": sim.method, "seed": sim.seed, "transient": sim.transient,
        "dtype": dtype, "record_every": sim.record_every,
        "fourier_convention": "r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _batch_coord_name(path: str, batch: Mapping[str, Any]) -> str:
    short = path.rsplit(".", 1)[-1]
    clashes = [p for p in batch if p.rsplit(".", 1)[-1] == short]
    return short if len(clashes) == 1 else path.replace(".", "_")


_UNITS = {"tau": "s", "freq": "Hz", "phase": "rad", "seed": "1", "alpha": "1",
          "gain": "Hz per drive unit", "threshold": "drive units", "I0": "drive units",
          "I1": "drive units", "sigma": "drive units", "weight": "drive units per Hz",
          "rate_min": "Hz", "rate_max": "Hz", "baseline": "Hz", "init": "state units"}


def _units_of(path: str) -> str:
    parts = path.split(".")
    if parts[-1] == "tau" and "noise" in parts:
        return "s"
    return _UNITS.get(parts[-1], "SI")


def noise_input(model: Model, duration: float | str | None = None, *, dt=None,
                seed: int | None = None, batch: Mapping[str, Any] | None = None,
                neurons=None, record_every: int = 1) -> xr.DataArray:
    """The OU input noise ``eta`` that :func:`simulate` adds, reproduced exactly.

    The engine's noise is a counter-based stream per (seed, neuron), so the input a run saw
    can be recomputed afterwards instead of recorded: same arguments, same numbers. Used by
    the broadband frequency response (stimulus-response cross-spectra).

    Parameters
    ----------
    model, duration, dt, seed, batch, neurons, record_every
        As for :func:`simulate`.

    Returns
    -------
    xarray.DataArray
        ``eta`` (drive units), dims ([batch,] time, neuron), sampled like ``rate``: the value
        held over step n is at ``time = n dt``. Neurons without OU noise give zeros.
    """
    model = _overrides(model, duration=duration, dt=dt, seed=seed)
    sim = model.simulation
    plan = compile_plan(model, seed=sim.seed, batch=batch)
    n_steps = int(round(sim.duration / sim.dt))
    chosen = np.arange(plan.n_neurons) if neurons is None else np.asarray(neurons, dtype=int)
    units = (np.arange(plan.n_batch)[:, None] * plan.n_neurons + chosen).ravel()
    sigma = plan.params[units, kernels.OU_SIGMA]
    ou_tau = plan.params[units, kernels.OU_TAU]
    with np.errstate(divide="ignore", invalid="ignore"):
        ou_a = np.where(sigma > 0, np.exp(-sim.dt / ou_tau), 0.0)
        ou_b = np.where(sigma > 0, sigma * np.sqrt(-np.expm1(-2.0 * sim.dt / ou_tau)), 0.0)
    traces = kernels.ou_traces(plan.keys[units], plan.ou_init[units], ou_a, ou_b, n_steps,
                               int(record_every))
    traces = traces.reshape(traces.shape[0], plan.n_batch, chosen.size).transpose(1, 0, 2)
    time = np.arange(traces.shape[1]) * record_every * sim.dt
    dims = ("batch", "time", "neuron") if plan.batch else ("time", "neuron")
    values = traces if plan.batch else traces[0]
    return xr.DataArray(values, dims=dims,
                        coords={"time": ("time", time, {"units": "s", "long_name": "time"}),
                                "neuron": ("neuron", chosen, {"units": "1",
                                                              "long_name": "neuron index"})},
                        attrs={"units": "drive units", "long_name": "OU input noise"})
