"""``simulate(model, ...)``: the only driver of the Numba kernels; returns an xarray Dataset.

Result schema (DESIGN.md): dims ``time``, ``neuron``, ``harmonic``, ``population`` and, for a
batch, ``batch`` (with one coordinate per batched parameter, named after it). Variables:

* ``rate`` (time, neuron), Hz: the recorded rate (or ``state`` with ``record="state"``);
* ``r0`` (neuron), Hz, and ``amplitude``/``phase`` (neuron, harmonic), Hz and rad: streaming
  statistics computed inside the kernel over whole periods of each neuron's analysis
  frequency ``stat_freq`` after the transient, in the sine convention
  ``r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)``;
* ``mean_rate`` (population), Hz: population average of ``r0``.

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

from neurorect._chunks import run_in_chunks
from neurorect._plan import compile_plan
from neurorect._recording import analysis_frequencies, record_layout, stat_windows
from neurorect._result import to_dataset
from neurorect._schema import attrs
from neurorect._step_limits import check_network_stability
from neurorect.errors import ModelError
from neurorect.kernels.layout import (
    EXP_AB2,
    EXP_EULER,
    METHOD_CODES,
    STAT_FREQ,
    Evolving,
    Setup,
)
from neurorect.kernels.random import ou_traces
from neurorect.spec import Model
from neurorect.units import to_si

__all__ = ["simulate", "noise_input", "DEFAULT_MAX_RECORD_BYTES", "stat_windows"]

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
    _check_options(dtype=dtype, blas_threads=blas_threads, coupling=coupling)
    plan = compile_plan(model, seed=sim.seed, batch=batch)
    if plan.coupled:
        check_network_stability(plan.model, plan.channels, sim.dt, sim.method)
    n_steps = int(round(sim.duration / sim.dt))
    first = int(math.ceil(sim.transient / sim.dt - 1e-9))
    freq = analysis_frequencies(plan, stats_freq)
    plan.params[:, STAT_FREQ] = freq
    windows = stat_windows(freq, n_steps, first, sim.dt)
    limit = max_record_bytes or int(os.environ.get("NEURORECT_MAX_RECORD_BYTES",
                                                   DEFAULT_MAX_RECORD_BYTES))
    chosen, recording = record_layout(plan, neurons, sim, n_steps, dtype, limit)
    method_code = METHOD_CODES[sim.method]
    if not plan.coupled and method_code == EXP_AB2:  # no coupling: the same scheme
        method_code = EXP_EULER
    setup = Setup(sim.dt, method_code, plan.kinds, plan.params, plan.tparams,
                  plan.pulses, windows, plan.keys)
    evolving = Evolving(state=plan.init.astype(dtype), ou=plan.ou_init.copy(),
                        acc=np.zeros((plan.n_units, sim.n_harmonics + 1), dtype=np.complex128),
                        fail=np.full(plan.n_units, -1, dtype=np.int64))
    run_in_chunks(plan, setup, evolving, recording, n_steps, coupling=coupling,
                  blas_threads=blas_threads, chunk_steps=chunk_steps, progress=progress)
    return to_dataset(plan, sim, evolving.acc, windows, freq, chosen, recording.out, dtype)


def _check_options(*, dtype: str, blas_threads: int | None, coupling: str) -> None:
    """ModelError for a dtype, BLAS thread count or coupling mode simulate cannot take."""
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
    model = _overrides(model, duration=duration, dt=dt, seed=seed)
    sim = model.simulation
    plan = compile_plan(model, seed=sim.seed, batch=batch)
    n_steps = int(round(sim.duration / sim.dt))
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
