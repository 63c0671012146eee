"""``simulate(model, ...)``: the only driver of the Numba kernels; returns an xarray Dataset.

Result schema (DESIGN.md): dims ``time``, ``neuron``, ``harmonic``, ``population`` and, for a
batch, ``batch`` (with one coordinate per batched parameter, named after it). Variables:

* ``rate`` (time, neuron), Hz: the recorded rate (or ``state`` with ``record="state"``);
* ``r0`` (neuron), Hz, and ``amplitude``/``phase`` (neuron, harmonic), Hz and rad: streaming
  statistics accumulated inside the kernel over ``stat_periods`` whole periods (rounded to
  steps: ``stat_duration``) of each neuron's analysis frequency ``stat_freq`` after the
  transient and fitted by exact least squares (:mod:`neurorect.fourier.sums`; leakage bound
  ``stat_leakage``), in the sine convention ``r(t) = r0 + sum_k A_k sin(2 pi k f t +
  phase_k)``; NaN together below ``min_periods`` whole periods;
* ``mean_rate`` (population), Hz: population average of ``r0``;
* with ``unit_stats=True``: ``fraction_below_threshold``, ``fraction_zero_rate`` (neuron), 1,
  and ``rate_variance`` (neuron), Hz^2, over the same window, and their population means
  ``subthreshold_fraction``, ``silent_fraction``, ``mean_rate_variance`` (population).

The work is shared out: :mod:`neurorect._plan` compiles the model into the kernels' arrays,
:mod:`neurorect._recording` lays out the recording and the statistics windows,
:mod:`neurorect._chunks` runs the kernels (:mod:`neurorect.kernels`) chunk by chunk and
:mod:`neurorect._result` assembles the Dataset.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorect._arguments import (
    batch_argument,
    flag_argument,
    limit_argument,
    model_argument,
    quantity_argument,
    seed_argument,
    whole_argument,
)
from neurorect._budget import Cost, check_cost, run_cost
from neurorect._chunks import run_in_chunks
from neurorect._plan import compile_plan
from neurorect._recording import (
    analysis_frequencies,
    record_layout,
    stat_windows,
    steps_to_fit,
    whole_periods,
    window_statistics,
)
from neurorect._result import to_dataset
from neurorect._schema import attrs
from neurorect._step_limits import check_network_stability
from neurorect.errors import ModelError
from neurorect.kernels.layout import (
    EXP_AB2,
    EXP_EULER,
    M_SHIFT,
    METHOD_CODES,
    N_MOMENTS,
    SIN_FREQ,
    SIN_PHASE,
    STAT_FREQ,
    STAT_PHASE,
    Evolving,
    Setup,
)
from neurorect.kernels.random import ou_traces
from neurorect.spec import Model
from neurorect.units import to_si

__all__ = ["simulate", "noise_input", "DEFAULT_MAX_RECORD_BYTES", "DEFAULT_MAX_RATE",
           "stat_windows"]

#: Runaway criterion of ``simulate`` (Hz): a run whose rate exceeds it in magnitude raises
#: SimulationError. No shipped model comes within a factor 100 of it.
DEFAULT_MAX_RATE = 1e6

#: Largest recording ``simulate`` allocates unless told otherwise (bytes); the environment
#: variable NEURORECT_MAX_RECORD_BYTES overrides it.
DEFAULT_MAX_RECORD_BYTES = 4 * 2**30


def simulate(model: Model, duration: float | str | None = None, *, dt: float | str | None = None,
             seed: int | None = None, method: str | None = None, record: str | None = None,
             record_every: int | None = None, neurons=None, transient: float | str | None = None,
             stats_freq=None, n_harmonics: int | None = None,
             batch: Mapping[str, Any] | None = None, dtype: str = "float64",
             coupling: str = "auto", blas_threads: int | None = 1,
             chunk_steps: int | None = None,
             progress: bool | None = None,
             max_record_bytes: int | None = None, min_periods: int = 1,
             lengthen: bool = False, max_work: float | None = None,
             max_memory: float | None = None, max_rate: float = DEFAULT_MAX_RATE,
             unit_stats: bool = False) -> xr.Dataset:
    """Simulate a model; return its recorded traces and streaming statistics.

    Parameters
    ----------
    model : Model or path
        The model, or the path of a model file (loaded with :func:`neurorect.load_model`).
    duration : float or str, optional
        Simulated time, s (default: the model's ``simulation.duration``).
    dt : float or str, optional
        Time step, s.
    seed : int, optional
        Noise seed (same seed, same numbers, whatever the thread count or chunking).
    method : {"exp_ab2", "exp_euler", "euler", "rk4"}, optional
        Integrator (default: the model's, ``exp_ab2`` unless it says otherwise). For a
        network ``exp_ab2`` is second order (the recurrent input extrapolated to the middle
        of the step) and ``exp_euler`` first order; for uncoupled units they are the same
        scheme. See README, Engine.
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
        Refuse recordings larger than this (default 4 GiB, or NEURORECT_MAX_RECORD_BYTES).
    min_periods : int
        Whole periods of its analysis frequency a unit needs for statistics (default 1):
        units with fewer get ``r0``, ``amplitude`` and ``phase`` NaN together, ONE
        NeurorectWarning says how many and the duration that would fit them, and
        ``stat_periods`` says how many each unit got.
    lengthen : bool
        Instead, lengthen the run (never shorten it) to the fewest whole steps that give
        every unit with a non-zero analysis frequency ``min_periods`` whole periods after
        the transient: the slowest unit sets it. The result's ``duration`` attr is the
        time simulated; ``duration_requested`` and ``duration_rule`` say what was asked and
        why it changed.
    max_work, max_memory : float, optional
        Refuse runs over this many neuron-steps (default 1e11, or NEURORECT_MAX_WORK) or
        estimated bytes (default 80 % of physical memory, or NEURORECT_MAX_MEMORY) before
        anything is allocated; ``math.inf`` lifts the limit (see :mod:`neurorect._budget`).
    max_rate : float
        Runaway criterion, Hz (default 1e6): a rate with ``|rate| > max_rate`` at any step
        raises SimulationError naming the time, the neuron and the value; ``math.inf``
        disables it (non-finite rates and states raise whatever ``max_rate`` is).
    unit_stats : bool
        Also stream, per neuron over its statistics window, the fraction of steps whose input
        is below the transfer's threshold (rate form: the total input to phi; voltage form:
        v), the fraction with rate exactly 0 and the variance of the rate (shifted sums), and
        their population means (see the module docstring). Off by default: it costs time.

    Returns
    -------
    xarray.Dataset
        See the module docstring for the schema.

    Raises
    ------
    ModelError
        Bad arguments (naming key, value and what is allowed), or a recording over the limit.
    SimulationError
        A non-finite state or rate, or a rate beyond ``max_rate`` (naming time, neuron,
        quantity and value).
    """
    model = _checked_model(model, duration=duration, dt=dt, seed=seed, transient=transient,
                           batch=batch, chunk_steps=chunk_steps, progress=progress,
                           min_periods=min_periods, lengthen=lengthen)
    model = _overrides(model, duration=duration, dt=dt, seed=seed, method=method,
                       record=record, record_every=record_every, transient=transient,
                       n_harmonics=n_harmonics)
    sim = model.simulation
    _check_options(dtype=dtype, blas_threads=blas_threads, coupling=coupling,
                   max_rate=max_rate, unit_stats=unit_stats)
    n_steps = int(round(sim.duration / sim.dt))
    limits = {"max_work": limit_argument("max_work", max_work, "neuron-steps"),
              "max_memory": limit_argument("max_memory", max_memory, "bytes")}
    check_cost(_cost(model, batch, neurons, n_steps, dtype), **limits)
    plan = compile_plan(model, seed=sim.seed, batch=batch)
    if plan.coupled:
        check_network_stability(plan.model, plan.channels, sim.dt, sim.method)
    first = int(math.ceil(sim.transient / sim.dt - 1e-9))
    freq = analysis_frequencies(plan, stats_freq, sim.dt)
    plan.params[:, STAT_FREQ] = freq
    run_attrs: dict[str, Any] = {}
    if lengthen and steps_to_fit(freq, first, sim.dt, min_periods) > n_steps:
        n_steps = steps_to_fit(freq, first, sim.dt, min_periods)
        check_cost(_cost(model, batch, neurons, n_steps, dtype), **limits)
        run_attrs = {"duration_requested": sim.duration, "duration_rule": (
            f"lengthened from {sim.duration:g} s to fit min_periods = {min_periods} whole "
            f"period(s) of the slowest unit ({float(freq[freq > 0].min()):g} Hz) after the "
            f"transient ({sim.transient:g} s), in whole steps")}
        sim = model.with_values({"simulation.duration": n_steps * sim.dt}).simulation
    plan.params[:, STAT_PHASE] = _stat_phases(plan.params, sim.dt)
    windows = stat_windows(freq, n_steps, first, sim.dt)
    periods = whole_periods(freq, n_steps, first, sim.dt)
    record_limit = limit_argument("max_record_bytes", max_record_bytes, "bytes")
    limit = record_limit or float(os.environ.get("NEURORECT_MAX_RECORD_BYTES",
                                                 DEFAULT_MAX_RECORD_BYTES))
    chosen, recording = record_layout(plan, neurons, sim, n_steps, dtype, limit)
    method_code = METHOD_CODES[sim.method]
    if not plan.coupled and method_code == EXP_AB2:  # no coupling: the same scheme
        method_code = EXP_EULER
    setup = Setup(sim.dt, method_code, plan.kinds, plan.params, plan.tparams,
                  plan.pulses, windows, plan.keys,
                  max_rate=min(float(max_rate), float(np.finfo(np.float64).max)))
    moments = np.zeros((plan.n_units, N_MOMENTS if unit_stats else 0))
    moments[:, M_SHIFT:M_SHIFT + 1] = np.nan  # no shift until the window's first step
    evolving = Evolving(state=plan.init.astype(dtype), ou=plan.ou_init.copy(),
                        acc=np.zeros((plan.n_units, sim.n_harmonics + 1), dtype=np.complex128),
                        fail=np.full(plan.n_units, -1, dtype=np.int64),
                        fail_what=np.zeros(plan.n_units, dtype=np.int64),
                        fail_value=np.full(plan.n_units, np.nan), moments=moments)
    run_in_chunks(plan, setup, evolving, recording, n_steps, coupling=coupling,
                  blas_threads=blas_threads, chunk_steps=chunk_steps, progress=progress)
    stats = window_statistics(plan, evolving.acc, plan.params[:, STAT_PHASE], windows,
                              periods, freq, sim.dt, min_periods, n_steps * sim.dt)
    return to_dataset(plan, sim, stats, freq, chosen, recording.out, dtype,
                      moments=moments if unit_stats else None, min_periods=min_periods,
                      **run_attrs)


def _checked_model(model, *, duration, dt, seed, transient, batch, chunk_steps, progress,
                   min_periods, lengthen) -> Model:
    """The model (loaded if a path) after the Python-side checks of simulate's arguments
    (ModelError naming the argument, the value and what is allowed)."""
    model = model_argument(model)
    for key, value in (("duration", duration), ("dt", dt), ("transient", transient)):
        quantity_argument(key, value)
    seed_argument("seed", seed)
    batch_argument(batch)
    whole_argument("chunk_steps", chunk_steps)
    whole_argument("min_periods", min_periods, optional=False)
    flag_argument("progress", progress)
    flag_argument("lengthen", lengthen, optional=False)
    return model


def _cost(model: Model, batch, neurons, n_steps: int, dtype: str) -> Cost:
    """The estimated cost of the run, from the model and the batch's length (before the plan
    allocates anything)."""
    n_batch = max((len(v) for v in (batch or {}).values()), default=1)
    n_units = n_batch * model.size
    sim = model.simulation
    n_pulses = max((len(d.steps) + len(d.pulses) for d in model.drives.values()), default=0)
    itemsize = np.dtype(dtype).itemsize
    record_bytes = 0.0
    if sim.record != "none":
        columns = model.size if neurons is None else np.unique(np.asarray(neurons)).size
        record_bytes = -(-n_steps // sim.record_every) * float(n_batch * columns) * itemsize
    coupled = bool(model.connections)
    copies = (n_batch if any(p.startswith("connections.") for p in (batch or {})) else 1)
    return run_cost(n_units=n_units, n_neurons=model.size, n_steps=n_steps,
                    n_harmonics=sim.n_harmonics, n_pulses=n_pulses, record_bytes=record_bytes,
                    coupling_copies=copies if coupled else 0, itemsize=itemsize)


def _stat_phases(params: np.ndarray, dt: float) -> np.ndarray:
    """STAT_PHASE of each unit: where the analysis frequency is the drive's, the phase of
    the drive at the middle of step 0 (``phase + pi f dt``), so that the statistics phasor
    is the conjugate of the exponential-Euler drive phasor and a kernel may rotate one
    phasor for both; 0 elsewhere. :func:`neurorect._result.to_dataset` undoes it."""
    same = params[:, STAT_FREQ] == params[:, SIN_FREQ]
    return np.where(same, params[:, SIN_PHASE] + np.pi * params[:, SIN_FREQ] * dt, 0.0)


def _check_options(*, dtype: str, blas_threads: int | None, coupling: str,
                   max_rate: float = DEFAULT_MAX_RATE, unit_stats: bool = False) -> None:
    """ModelError for a dtype, BLAS thread count, coupling mode, runaway bound or unit
    statistics flag simulate cannot take."""
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
    if isinstance(max_rate, bool) or not isinstance(max_rate, (int, float, np.integer,
                                                               np.floating)) or not (
            max_rate > 0):
        raise ModelError("must be a positive rate in Hz", key="max_rate", value=max_rate,
                         allowed="a number > 0 (math.inf disables the runaway check)")
    if not isinstance(unit_stats, (bool, np.bool_)):
        raise ModelError("must be True or False", key="unit_stats", value=unit_stats,
                         allowed="True or False")


def _overrides(model: Model, **settings) -> Model:
    changes = {f"simulation.{k}": v for k, v in settings.items() if v is not None}
    if "simulation.duration" in changes and "simulation.transient" not in changes:
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
    model = model_argument(model)
    for key, value in (("duration", duration), ("dt", dt)):
        quantity_argument(key, value)
    seed_argument("seed", seed)
    batch_argument(batch)
    record_every = whole_argument("record_every", record_every, optional=False)
    model = _overrides(model, duration=duration, dt=dt, seed=seed)
    sim = model.simulation
    n_steps = int(round(sim.duration / sim.dt))
    n_chosen = model.size if neurons is None else np.unique(np.asarray(neurons)).size
    n_batch = max((len(v) for v in (batch or {}).values()), default=1)
    check_cost(run_cost(n_units=n_batch * model.size, n_neurons=model.size, n_steps=n_steps,
                        n_harmonics=0, record_bytes=8.0 * n_batch * n_chosen
                        * -(-n_steps // record_every)), max_work=None, max_memory=None,
               what="this noise trace")
    plan = compile_plan(model, seed=sim.seed, batch=batch)
    chosen = np.arange(plan.n_neurons) if neurons is None else np.asarray(neurons, dtype=int)
    units = (np.arange(plan.n_batch)[:, None] * plan.n_neurons + chosen).ravel()
    traces = ou_traces(plan.keys[units], plan.ou_init[units], plan.params[units], sim.dt,
                       n_steps, int(record_every))
    traces = traces.reshape(traces.shape[0], plan.n_batch, chosen.size).transpose(1, 0, 2)
    time = np.arange(traces.shape[1]) * record_every * sim.dt
    dims = ("batch", "time", "neuron") if plan.batch else ("time", "neuron")
    values = traces if plan.batch else traces[0]
    return xr.DataArray(values, dims=dims,
                        coords={"time": ("time", time, attrs("s", "time")),
                                "neuron": ("neuron", chosen, attrs("1", "neuron index"))},
                        attrs=attrs("drive units", "OU input noise"))
