"""Parameter sweeps: grids over model parameters, batched and distributed, resumable.

``run_sweep(model, grid, measure=...)`` evaluates a measure at every point of a grid of
parameter values and returns a labelled :class:`xarray.Dataset` with one dim per swept
parameter, named after it.

Grid
----
``grid = {dotted path: values}``; paths mirror the model file (``populations.E.transfer.alpha``,
``populations.E.tau``, ``drives.E.freq``, ``drives.E.I0``, ``connections.EE.weight``,
``simulation.seed``, ``simulation.dt``, ...). Values are a list or 1-D array (numbers, unit
strings such as ``"5 ms"``, or words for word-valued settings such as ``simulation.method``),
or a spec string:

* ``"start:stop:num"`` or ``"lin:start:stop:num"``: ``numpy.linspace(start, stop, num)``;
* ``"log:start:stop:num"``: ``num`` points evenly spaced in log, endpoints exact
  (``numpy.geomspace``; ``start, stop > 0``);
* ``"v1,v2,..."``: a list; a single ``"v"``: one value.

Start and stop may carry units (``"log:1 Hz:1 kHz:31"``). The grid is the product of the
paths (``mode="product"``, dims in the order of ``grid``); ``mode="zip"`` zips all paths into
one dim, and ``zip_paths=[[p1, p2], ...]`` zips groups of paths (equal lengths) that then
take part in the product as one dim each. A zipped dim is named after its first path; the
other paths of the group are coordinates along it.

Dim and coordinate names are the path's last component (``alpha``, ``freq``, ``I0``); when two
paths share it, or it is the name of a result variable or dim (``gain``, ``phase``,
``population``), the population or connection name is prefixed (``E_alpha``, ``I_alpha``,
``E_gain``), and failing that the whole path with ``_`` for ``.``. Every path and value is
validated before anything runs (:class:`neurorect.ModelError` naming the path, the value
and what is allowed).

Measures
--------
* ``"rate"``: ``mean_rate`` (population), Hz, over the model's statistics window;
* ``"response"``: ``mean_rate``, ``amplitude`` and ``phase`` (population, harmonic), ``gain``
  = ``A_1 / |I1|`` (population; an undriven population is referred to the one driven
  population) and ``stat_freq``, at the drive frequency, in the sine convention
  ``r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)``. For a population of several neurons the
  harmonics are those of the population-mean rate (the mean of the neurons' complex
  coefficients). Unless ``duration`` is given, each point runs
  ``transient + max(n_periods / f, transient)`` (rounded up to whole steps), ``f`` being the
  point's lowest drive frequency: low frequencies get ``n_periods`` whole periods and high
  frequencies do not pay for them, while their window (at least as long as the transient)
  holds so many periods that rounding whole periods to whole steps costs little accuracy.
  ``transient`` defaults to ``max(model transient, 10 tau_max)``. The duration of each
  point is the result variable ``duration``;
* ``"fixed_point"``: ``fixed_point_rate`` and ``silent_fraction`` (population),
  ``stable``, ``max_real_eigenvalue`` and ``converged`` from
  :func:`neurorect.theory.fixed_point` of the constant input ``I0`` (sinusoids, steps, pulses
  and noise are ignored); no simulation;
* ``"silent_fraction"``: ``silent_fraction`` (population) and ``converged``, as above;
* a callable ``measure(result) -> Dataset`` (or DataArray, or ``{name: value}``), applied to
  the result of each point separately: the simulation is still batched, but each point's
  Dataset is split off (``record`` defaults to the model's setting so that traces are
  available), which costs a Python call per point. ``result`` is exactly what
  ``simulate`` returns for that point alone (its ``model`` attr is the point's model). With
  the Dask executor the callable is pickled (cloudpickle) to the workers.

Execution
---------
Points are flattened in C order of the grid; for execution the dims that cannot be batched
(those changing the shape or method of a run: ``simulation.dt``, ``populations.E.size``,
..., and noise paths of a population without noise) vary slowest, then drive frequencies,
then the rest. Consecutive points with the same unbatchable values and the same duration are
cut into chunks of at most ``chunk_size`` points, and each chunk is ONE ``simulate(...,
batch=..., record="none")`` call: uncoupled units run in parallel over the batch, coupled
copies share a matrix product per step on the engine's threads (at most 512 neurons per call
by default: beyond that the engine's batched product is slower per copy). A chunk's result
equals the individual runs of its points bit for bit, so results do not depend on chunking,
executor or thread count; the one exception is 8 or more coupled copies sharing one coupling
matrix in a call, whose single matrix-matrix product rounds differently from a lone copy's
matrix-vector product in the last bits (results are still identical across executors and
resumes, which use the same chunks). ``executor="dask"`` sends each chunk as one task (the
same function) to a Dask distributed scheduler (a ``LocalCluster`` of ``n_workers``
single-threaded processes when ``scheduler`` is None; in a script, call ``run_sweep`` under
``if __name__ == "__main__":`` since the workers re-import the script); chunk files are
written by the client as results arrive, so workers need no shared filesystem. Workers use
Numba's on-disk cache, so only the first run on a machine compiles.

Store and resume
----------------
``store`` is a directory holding ``manifest.json`` (format, neurorect version, model TOML and
its SHA-256, grid, measure, options, chunking, and a key hashing them all) and one netCDF
file per finished chunk, ``chunk_000123.nc``, written atomically (temporary file, then
rename) with dim ``point`` (the flat C-order index of the grid) and the chunk's measures.
Running again with ``resume=True`` loads the chunks present and computes only the missing
ones (a killed run loses at most the chunks in flight); with ``resume=False`` a store that
already holds chunks is refused, so nothing is overwritten by accident. A store made for a
different model, grid, measure, options or neurorect version is always refused, with a
message saying what differs (``overwrite=True`` discards its chunk files and starts over).
Several processes may run the same sweep into one store: they only duplicate work.

The returned Dataset has dims ``(*sweep dims, *measure dims)``, coordinates with ``units``,
``long_name`` and ``path`` attrs, and attrs ``model`` (the base model as TOML),
``model_sha256``, ``neurorect_version``, ``seed``, ``measure``, ``grid`` (JSON),
``sweep_dims`` and the duration rule; save it with :func:`neurorect.io.save`.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorect._sweep_grid import (
    _build_dims,
    _Dim,
    _python,
    _validate_grid,
    parse_values,
)
from neurorect._sweep_store import (
    MANIFEST,
    StoreMismatchError,
    _load_chunk,
    _manifest,
    _open_store,
    chunk_file,
)
from neurorect._version import __version__
from neurorect.errors import ModelError
from neurorect.modelfile import dumps_model, load_model
from neurorect.modelfile import model_from_dict
from neurorect.spec import Model
from neurorect.units import parse_quantity

__all__ = [
    "run_sweep", "parse_values", "measure_rate", "measure_response", "MEASURES",
    "StoreMismatchError", "MANIFEST", "chunk_file",
]

#: Built-in measures (see the module docstring).
MEASURES = ("rate", "response", "fixed_point", "silent_fraction")
_THEORY = ("fixed_point", "silent_fraction")
_UNITS_PER_CHUNK = 4096  # neuron copies per kernel call (upper bound of the default chunk)
# coupled copies share one matrix product per step; beyond ~512 units per call the engine's
# batched product gets slower per copy than separate calls (measured: N = 200, 16 copies)
_COUPLED_UNITS_PER_CHUNK = 512
_MIN_UNITS_PER_CHUNK = 256  # default chunks hold at least this many units (or the whole grid)
_TARGET_CHUNKS = 16  # default chunking aims at this many chunks (progress, resume grain)
_RESERVED = {"point", "batch", "neuron", "population", "harmonic", "time", "recorded"}
_MEASURE_VARIABLES = {
    "rate": ("mean_rate", "duration"),
    "response": ("mean_rate", "amplitude", "phase", "gain", "stat_freq", "duration"),
    "fixed_point": ("fixed_point_rate", "silent_fraction", "stable", "max_real_eigenvalue",
                    "converged"),
    "silent_fraction": ("silent_fraction", "converged"),
}
_LONG_NAMES = {
    "alpha": "leak slope", "freq": "drive frequency", "I0": "mean input", "I1":
    "drive amplitude", "phase": "drive phase", "tau": "time constant", "gain": "transfer gain",
    "threshold": "threshold", "weight": "connection weight", "seed": "noise seed",
    "sigma": "noise amplitude", "dt": "time step", "duration": "simulated time",
    "transient": "transient", "size": "population size", "g": "random coupling gain",
    "probability": "connection probability", "baseline": "baseline rate",
    "rate_min": "lower rate bound", "rate_max": "upper rate bound", "init": "initial state",
    "method": "integration method", "form": "dynamics form",
}



# -------------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class _Chunk:
    """One unit of work: consecutive points sharing unbatchable values and duration."""

    index: int
    points: np.ndarray  # flat C-order indices into the grid
    outer: dict[str, Any]  # unbatchable path -> value (shared by the chunk)
    batch: dict[str, np.ndarray]  # batchable path -> one value per point
    duration: float | None  # simulated time (None: the point model's own)


@dataclass(frozen=True)
class _Settings:
    """What every chunk needs besides its points (picklable, shipped to Dask workers)."""

    model_toml: str
    source: str | None
    measure: str | Callable
    transient: float | None
    n_harmonics: int | None
    dtype: str
    record: str | None
    sweep_key: str
    threads: int | None = None


@dataclass
class _Layout:
    dims: list[_Dim]
    chunks: list[_Chunk]
    n_points: int
    transient: float | None
    duration_rule: str
    chunk_size: int
    work: list[float] = field(default_factory=list)


def _point_values(dims: list[_Dim], index: list[np.ndarray], path: str) -> np.ndarray | None:
    for d, dim in enumerate(dims):
        if path in dim.paths:
            return dim.values[dim.paths.index(path)][index[d]]
    return None


def _auto_transient(model: Model, dims: list[_Dim]) -> float:
    """``max(model transient, 10 tau_max)`` over the grid's time constants."""
    tau_max = max(p.tau for p in model.populations)
    for dim in dims:
        for path, values in zip(dim.paths, dim.values, strict=True):
            parts = path.split(".")
            if parts[0] == "populations" and parts[2:] == ["tau"]:
                tau_max = max(tau_max, float(np.max(values)))
    return max(model.simulation.transient, 10.0 * tau_max)


def _response_durations(model: Model, dims: list[_Dim], index: list[np.ndarray],
                        transient: float, n_periods: int, n: int) -> np.ndarray:
    """Per point: transient + max(n_periods / f, transient) in whole steps, f the point's
    lowest driven frequency (a window at least as long as the transient keeps the rounding of
    whole periods to whole steps small at high frequencies, where it costs little)."""
    f_low = np.full(n, np.inf)
    for pop in model.populations:
        drive = model.drive(pop.name)
        freq = _point_values(dims, index, f"drives.{pop.name}.freq")
        if freq is None:
            freq = np.full(n, float(np.min(drive.per_neuron("freq", pop.size))))
        amp = _point_values(dims, index, f"drives.{pop.name}.I1")
        if amp is None:
            amp = np.full(n, float(np.max(np.abs(drive.per_neuron("I1", pop.size)))))
        driven = (amp != 0.0) & (freq > 0.0)
        f_low = np.where(driven, np.minimum(f_low, freq), f_low)
    if np.all(np.isinf(f_low)):
        raise ModelError("measure 'response' needs a sinusoidal drive (drives.P.I1 != 0 and "
                         "drives.P.freq > 0) at some point of the grid", key="measure",
                         value="response", allowed="'rate', or a model or grid with a drive",
                         file=model.source)
    dt = _point_values(dims, index, "simulation.dt")
    dt = np.full(n, model.simulation.dt) if dt is None else dt.astype(float)
    first = np.ceil(transient / dt - 1e-9)
    with np.errstate(divide="ignore"):
        steps = np.maximum(np.ceil(n_periods / (f_low * dt) - 1e-9), first)
    durations = (first + steps) * dt
    model_duration = _point_values(dims, index, "simulation.duration")
    fallback = (np.full(n, model.simulation.duration) if model_duration is None
                else model_duration.astype(float))
    return np.where(np.isfinite(f_low), durations, np.maximum(fallback, transient + dt))


def _layout(model: Model, dims: list[_Dim], measure: str | Callable, *,
            duration: float | None, transient: float | None, n_periods: int,
            chunk_size: int | None) -> _Layout:
    shape = [d.size for d in dims]
    n = int(np.prod(shape))
    theory = isinstance(measure, str) and measure in _THEORY
    order_rank = {"outer": 0, "freq": 1, "batch": 2}
    exec_dims = list(range(len(dims))) if theory else sorted(
        range(len(dims)), key=lambda d: order_rank[dims[d].kind])
    exec_index = np.unravel_index(np.arange(n), [shape[d] for d in exec_dims])
    index: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(dims)
    for position, d in enumerate(exec_dims):
        index[d] = exec_index[position]
    flat = np.ravel_multi_index(index, shape) if dims else np.zeros(1, dtype=np.int64)

    swept = {p for d in dims for p in d.paths}
    rule = ""
    points_duration = np.full(n, np.nan)
    if theory:
        transient_used = None
        rule = "no simulation (theory)"
    else:
        if transient is not None:
            transient_used = float(transient)
        elif "simulation.transient" in swept:
            transient_used = None
        elif measure == "response":
            transient_used = _auto_transient(model, dims)
        else:
            transient_used = model.simulation.transient
        if duration is not None:
            points_duration[:] = float(duration)
            rule = f"fixed: {float(duration):g} s"
        elif "simulation.duration" in swept:
            rule = "per point: simulation.duration (swept)"
        elif measure == "response":
            if transient_used is None:
                raise ModelError("measure 'response' with a swept transient needs a fixed "
                                 "duration", key="duration", value=None,
                                 allowed="duration=... (--duration)")
            points_duration = _response_durations(model, dims, index, transient_used,
                                                  n_periods, n)
            rule = (f"per point: transient + max({n_periods} / f_drive, transient), rounded "
                    f"up to whole steps (transient {transient_used:g} s)")
        else:
            points_duration[:] = model.simulation.duration
            rule = f"the model's: {model.simulation.duration:g} s"
        if transient_used is not None and np.any(points_duration <= transient_used):
            raise ModelError("the duration must exceed the transient", key="duration",
                             value=float(np.nanmin(points_duration)),
                             allowed=f"duration > transient = {transient_used:g} s")

    size = model.size
    if chunk_size is None:
        if theory:
            chunk_size = max(1, min(1000, math.ceil(n / 50)))
        else:
            cap = _COUPLED_UNITS_PER_CHUNK if model.is_coupled else _UNITS_PER_CHUNK
            upper = max(1, cap // size)
            lower = min(n, upper, max(1, _MIN_UNITS_PER_CHUNK // size))
            chunk_size = max(1, min(upper, max(lower, math.ceil(n / _TARGET_CHUNKS))))
    outer = [d for d in range(len(dims)) if dims[d].kind == "outer"] if not theory else []
    outer_id = (np.ravel_multi_index([index[d] for d in outer], [shape[d] for d in outer])
                if outer else np.zeros(n, dtype=np.int64))
    key_change = (outer_id[1:] != outer_id[:-1]) | ~(
        (points_duration[1:] == points_duration[:-1])
        | (np.isnan(points_duration[1:]) & np.isnan(points_duration[:-1])))
    starts = np.concatenate([[0], np.flatnonzero(key_change) + 1, [n]])
    chunks: list[_Chunk] = []
    work: list[float] = []
    for lo, hi in zip(starts[:-1], starts[1:], strict=True):
        for start in range(int(lo), int(hi), chunk_size):
            stop = min(start + chunk_size, int(hi))
            chunk_outer: dict[str, Any] = {}
            chunk_batch: dict[str, np.ndarray] = {}
            for d, dim in enumerate(dims):
                for path, values in zip(dim.paths, dim.values, strict=True):
                    if d in outer:
                        chunk_outer[path] = _python(values[index[d][start]])
                    else:
                        chunk_batch[path] = values[index[d][start:stop]]
            value = points_duration[start]
            chunks.append(_Chunk(index=len(chunks), points=flat[start:stop].astype(np.int64),
                                 outer=chunk_outer, batch=chunk_batch,
                                 duration=None if np.isnan(value) else float(value)))
            if theory:
                work.append(float(stop - start))
            else:
                dt = chunk_outer.get("simulation.dt", model.simulation.dt)
                sim_time = value if np.isfinite(value) else chunk_outer.get(
                    "simulation.duration", model.simulation.duration)
                work.append((stop - start) * size * max(1.0, sim_time / dt))
    return _Layout(dims=dims, chunks=chunks, n_points=n, transient=transient_used,
                   duration_rule=rule, chunk_size=chunk_size, work=work)


# ------------------------------------------------------------------------------ measures
def _model_of(result: xr.Dataset) -> Model:
    return _model_from_toml(result.attrs["model"], None)


@functools.lru_cache(maxsize=8)
def _model_from_toml(text: str, source: str | None) -> Model:
    return model_from_dict(tomllib.loads(text), source=source)


def _batched(result: xr.Dataset) -> xr.Dataset:
    return result if "batch" in result.dims else result.expand_dims("batch")


def _batch_values(result: xr.Dataset) -> dict[str, np.ndarray]:
    """``{path: values}`` of the batch coordinates of a simulate result."""
    out = {}
    for coord in result.coords.values():
        if coord.dims == ("batch",) and "path" in coord.attrs:
            out[coord.attrs["path"]] = np.asarray(coord.values)
    return out


def _attrs(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name}


def measure_rate(result: xr.Dataset) -> xr.Dataset:
    """The ``"rate"`` measure of a :func:`neurorect.simulate` result.

    Parameters
    ----------
    result : xarray.Dataset
        A simulate result, batched or not.

    Returns
    -------
    xarray.Dataset
        ``mean_rate`` (``[batch,] population``), Hz.
    """
    return xr.Dataset({"mean_rate": result["mean_rate"].reset_coords(drop=True).copy()})


def measure_response(result: xr.Dataset, model: Model | None = None) -> xr.Dataset:
    """The ``"response"`` measure of a :func:`neurorect.simulate` result.

    Parameters
    ----------
    result : xarray.Dataset
        A simulate result, batched or not (batched drive amplitudes and frequencies are read
        from its batch coordinates).
    model : Model, optional
        The model the result was run with, before batching (default: from ``attrs["model"]``).

    Returns
    -------
    xarray.Dataset
        Over ``[batch,] population [, harmonic]``: ``mean_rate`` (Hz), ``amplitude`` (Hz) and
        ``phase`` (rad, sine convention, negative for a lag) of the population-mean rate,
        ``gain`` = ``A_1 / |I1|`` (Hz per drive unit; an undriven population is referred to
        the drive of the one driven population, NaN if there is none or several), and
        ``stat_freq`` (Hz; NaN where a population's neurons use different frequencies). A
        population of one neuron reports that neuron's amplitude and phase unchanged.
    """
    model = model if model is not None else _model_of(result)
    batched = "batch" in result.dims
    res = _batched(result)
    B = res.sizes["batch"]
    amplitude = res["amplitude"].transpose("batch", "neuron", "harmonic").values
    phase = res["phase"].transpose("batch", "neuron", "harmonic").values
    stat_freq = res["stat_freq"].transpose("batch", "neuron").values
    swept = _batch_values(res)
    names = [p.name for p in model.populations]
    K = amplitude.shape[-1]
    pop_amp = np.empty((B, len(names), K))
    pop_phase = np.empty((B, len(names), K))
    pop_freq = np.empty((B, len(names)))
    amp_in = np.empty((B, len(names)))
    freq_in = np.empty((B, len(names)))
    for j, pop in enumerate(model.populations):
        lo, hi = model.offsets[pop.name]
        if hi - lo == 1:
            pop_amp[:, j] = amplitude[:, lo]
            pop_phase[:, j] = phase[:, lo]
            pop_freq[:, j] = stat_freq[:, lo]
        else:
            coefficient = np.mean(amplitude[:, lo:hi] * np.exp(1j * phase[:, lo:hi]), axis=1)
            angle = np.angle(coefficient)
            pop_amp[:, j] = np.abs(coefficient)
            pop_phase[:, j] = np.where(angle <= -np.pi, angle + 2 * np.pi, angle)
            uniform = np.all(stat_freq[:, lo:hi] == stat_freq[:, lo:lo + 1], axis=1)
            pop_freq[:, j] = np.where(uniform, stat_freq[:, lo], np.nan)
            pop_amp[~uniform, j] = np.nan
            pop_phase[~uniform, j] = np.nan
        drive = model.drive(pop.name)
        amp_in[:, j] = swept.get(f"drives.{pop.name}.I1",
                                 np.full(B, float(np.mean(drive.per_neuron("I1", pop.size)))))
        freq_in[:, j] = swept.get(f"drives.{pop.name}.freq",
                                  np.full(B, float(np.min(drive.per_neuron("freq", pop.size)))))
    driven = (amp_in != 0.0) & (freq_in > 0.0)
    single = np.where(driven.sum(axis=1) == 1, np.sum(np.where(driven, np.abs(amp_in), 0.0),
                                                       axis=1), np.nan)
    reference = np.where(driven, np.abs(amp_in), single[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = pop_amp[:, :, 0] / reference
    lead = ("batch",) if batched else ()

    def cut(values):
        return values if batched else values[0]

    ds = xr.Dataset(
        {
            "mean_rate": result["mean_rate"].reset_coords(drop=True).copy(),
            "amplitude": (lead + ("population", "harmonic"), cut(pop_amp),
                          _attrs("Hz", "harmonic amplitude A_k of the population-mean rate")),
            "phase": (lead + ("population", "harmonic"), cut(pop_phase),
                      _attrs("rad", "harmonic phase relative to the drive's sine "
                                    "(negative: lag)")),
            "gain": (lead + ("population",), cut(gain),
                     _attrs("Hz per drive unit", "gain A_1 / |I1| at the drive frequency")),
            "stat_freq": (lead + ("population",), cut(pop_freq),
                          _attrs("Hz", "analysis frequency of the statistics")),
        },
        coords={"population": ("population", names, _attrs("1", "population")),
                "harmonic": ("harmonic", np.arange(1, K + 1),
                             _attrs("1", "harmonic number k"))},
    )
    return ds


def _theory_point(model: Model, which: str) -> dict[str, Any]:
    from neurorect.theory import fixed_point

    forms = {p.form for p in model.populations}
    if len(forms) > 1:
        raise ModelError("the fixed-point measures need one form for all populations",
                         key="populations", value=sorted(forms),
                         allowed="all 'rate' or all 'voltage'", file=model.source)
    neurons = model.neuron_arrays()
    fp = fixed_point(model.coupling_matrix(), neurons.I0, list(neurons.transfer),
                     tau=neurons.tau, form=forms.pop())
    rates, silent = [], []
    for pop in model.populations:
        lo, hi = model.offsets[pop.name]
        threshold = getattr(pop.transfer, "threshold", getattr(pop.transfer, "v_th", math.nan))
        rates.append(float(np.mean(fp.rate[lo:hi])))
        silent.append(float(np.mean(fp.input[lo:hi] < threshold)))
    out = {"silent_fraction": silent, "converged": int(fp.converged)}
    if which == "fixed_point":
        out.update(fixed_point_rate=rates, stable=int(fp.stable),
                   max_real_eigenvalue=fp.max_real_eigenvalue)
    return out


_THEORY_ATTRS = {
    "fixed_point_rate": ("Hz", "fixed-point rate (population mean)"),
    "silent_fraction": ("1", "fraction of neurons whose fixed-point input is below threshold"),
    "stable": ("1", "fixed point linearly stable (1) or not (0)"),
    "max_real_eigenvalue": ("1/s", "largest real part of the Jacobian's eigenvalues"),
    "converged": ("1", "fixed-point search converged (1) or not (0)"),
}


def _theory_chunk(model: Model, chunk: _Chunk, which: str) -> xr.Dataset:
    n = chunk.points.size
    rows = []
    for k in range(n):
        values = {p: _python(v[k]) for p, v in chunk.batch.items()}
        rows.append(_theory_point(model.with_values(values) if values else model, which))
    names = [p.name for p in model.populations]
    data = {}
    for name in rows[0]:
        array = np.array([row[name] for row in rows])
        dims = ("point", "population") if array.ndim == 2 else ("point",)
        if name in ("stable", "converged"):
            array = array.astype(np.int8)
        data[name] = (dims, array, _attrs(*_THEORY_ATTRS[name]))
    return xr.Dataset(data, coords={"population": ("population", names,
                                                   _attrs("1", "population"))})


def _simulate_chunk(model: Model, chunk: _Chunk, settings: _Settings) -> xr.Dataset:
    from neurorect.driver import simulate

    measure = settings.measure
    builtin = isinstance(measure, str)
    batch = dict(chunk.batch)
    result = simulate(model, chunk.duration, transient=settings.transient,
                      record="none" if builtin else settings.record,
                      n_harmonics=settings.n_harmonics, dtype=settings.dtype,
                      batch=batch or None, progress=False)
    if builtin:
        out = measure_response(result, model) if measure == "response" else measure_rate(result)
        out = _batched(out).rename({"batch": "point"})
    else:
        out = _callable_chunk(result, chunk, measure)
    n = chunk.points.size
    out["duration"] = ("point", np.full(n, float(result.attrs["duration"])),
                       _attrs("s", "simulated time of the point's run"))
    drop = [name for name, coord in out.coords.items() if "point" in coord.dims]
    return out.drop_vars(drop)


def _callable_chunk(result: xr.Dataset, chunk: _Chunk, measure: Callable) -> xr.Dataset:
    run_model = _model_of(result)
    batched = "batch" in result.dims
    batch_coords = [name for name, c in result.coords.items() if "batch" in c.dims]
    outputs = []
    for b in range(chunk.points.size):
        if batched:
            point = result.isel(batch=b).drop_vars(batch_coords)
            values = {p: _python(v[b]) for p, v in chunk.batch.items()}
            point_model = run_model.with_values(values)
            point.attrs = {**result.attrs, "model": dumps_model(point_model),
                           "seed": point_model.simulation.seed}
        else:
            point = result
        out = measure(point)
        if isinstance(out, xr.DataArray):
            out = out.to_dataset(name=out.name or "value")
        elif isinstance(out, Mapping) and not isinstance(out, xr.Dataset):
            out = xr.Dataset({k: ((), v) if np.ndim(v) == 0 else v for k, v in out.items()})
        if not isinstance(out, xr.Dataset):
            raise ModelError("a measure callable must return a Dataset, a DataArray or a "
                             "mapping of values", key="measure", value=type(out).__name__,
                             allowed="xarray.Dataset")
        if "point" in out.dims:
            raise ModelError("a measure's result must not have a 'point' dim", key="measure",
                             value=list(out.dims), allowed="other dim names")
        for variable in out.variables.values():
            variable.attrs.setdefault("units", "unspecified")
            variable.attrs.setdefault("long_name", "")
            variable.attrs["long_name"] = variable.attrs["long_name"] or "user measure"
        outputs.append(out)
    return xr.concat(outputs, dim="point", data_vars="all", coords="different",
                     compat="equals", join="exact")


def _set_threads(threads: int) -> None:
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


def _run_chunk(settings: _Settings, chunk: _Chunk) -> xr.Dataset:
    """Compute one chunk (the task of both executors): a Dataset over dim ``point``."""
    if settings.threads:
        _set_threads(settings.threads)
    model = _model_from_toml(settings.model_toml, settings.source)
    if chunk.outer:
        model = model.with_values(chunk.outer)
    measure = settings.measure
    if isinstance(measure, str) and measure in _THEORY:
        out = _theory_chunk(model, chunk, measure)
    else:
        out = _simulate_chunk(model, chunk, settings)
    out = out.assign_coords(point=("point", chunk.points,
                                   _attrs("1", "flat C-order index of the grid point")))
    out.attrs = {"sweep_key": settings.sweep_key, "chunk": chunk.index,
                 "neurorect_version": __version__}
    return out


# ----------------------------------------------------------------------------- executors
def _progress_bar(total_work: float, n_chunks: int, already: int, enabled: bool | None):
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled or n_chunks == 0:
        return None
    return tqdm(total=total_work, desc=_bar_text(0, n_chunks, already), leave=False,
                dynamic_ncols=True,
                bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")


def _bar_text(finished: int, n_chunks: int, already: int) -> str:
    note = f" (+{already} from the store)" if already else ""
    return f"sweep: {finished}/{n_chunks} chunks{note}"


def _execute_local(settings: _Settings, chunks: list[_Chunk],
                   on_result: Callable[[_Chunk, xr.Dataset], None]) -> None:
    for chunk in chunks:
        on_result(chunk, _run_chunk(settings, chunk))


def _execute_dask(settings: _Settings, chunks: list[_Chunk],
                  on_result: Callable[[_Chunk, xr.Dataset], None], scheduler: Any,
                  n_workers: int) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ModelError("the Dask executor needs dask[distributed]", key="executor",
                         value="dask", allowed="pip install 'dask[distributed]'") from None
    cluster = None
    own_client = True
    if scheduler is None:
        import multiprocessing

        hint = ("a local Dask cluster spawns worker processes that re-import the main "
                "script: in a script, call run_sweep under "
                "`if __name__ == \"__main__\":`")
        if getattr(multiprocessing.current_process(), "_inheriting", False):
            raise ModelError("run_sweep(executor='dask') was called while a worker process "
                             "was starting", key="executor", value="dask", allowed=hint)
        try:
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        except RuntimeError as error:
            raise ModelError(f"could not start a local Dask cluster ({error})",
                             key="executor", value="dask", allowed=hint) from error
        client = Client(cluster)
        settings = _replace_threads(settings, 1)
    elif isinstance(scheduler, str):
        client = Client(scheduler)
    else:
        client, own_client = scheduler, False
    chunk_of = {}
    try:
        for chunk in chunks:
            future = client.submit(_run_chunk, settings, chunk, pure=False)
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


def _replace_threads(settings: _Settings, threads: int) -> _Settings:
    from dataclasses import replace

    return replace(settings, threads=threads)


# ------------------------------------------------------------------------------ assembly
_EXTRA_UNITS = {"simulation.dt": "s", "simulation.duration": "s", "simulation.transient": "s",
                "simulation.seed": "1", "simulation.method": "1"}


def _path_units(path: str) -> str:
    from neurorect.driver import _units_of

    parts = path.split(".")
    if path in _EXTRA_UNITS:
        return _EXTRA_UNITS[path]
    if parts[-1] in ("size", "form", "kind", "seed"):
        return "1"
    return _units_of(path)


def _long_name(path: str) -> str:
    parts = path.split(".")
    description = _LONG_NAMES.get(parts[-1])
    if parts[-1] == "tau" and "noise" in parts:
        description = "noise correlation time"
    return f"{description} ({path})" if description else path


def _assemble(layout: _Layout, results: dict[int, xr.Dataset], attrs: dict[str, Any],
              model: Model) -> xr.Dataset:
    dims = layout.dims
    shape = tuple(d.size for d in dims)
    ordered = [results[c.index] for c in layout.chunks]
    points = np.concatenate([ds["point"].values for ds in ordered])
    if points.size != layout.n_points or np.unique(points).size != layout.n_points:
        raise StoreMismatchError("the chunks do not cover the grid exactly once; the store "
                                 "is damaged: use overwrite=True (--overwrite)")
    order = np.argsort(points, kind="stable")
    first = ordered[0]
    grid_dims = tuple(d.name for d in dims)
    data = {}
    for name, variable in first.data_vars.items():
        if "point" not in variable.dims:
            continue
        rest = tuple(dim for dim in variable.dims if dim != "point")
        stacked = np.concatenate([ds[name].transpose("point", *rest).values for ds in ordered])
        values = stacked[order].reshape(shape + stacked.shape[1:])
        data[name] = (grid_dims + rest, values, dict(variable.attrs))
    coords: dict[str, Any] = {}
    for name, coord in first.coords.items():
        if name != "point" and "point" not in coord.dims:
            coords[name] = coord.variable.copy()
    if "population" in coords:
        coords["population"] = ("population", [p.name for p in model.populations],
                                _attrs("1", "population"))
    for dim in dims:
        for path, values in zip(dim.paths, dim.values, strict=True):
            name = dim.names[dim.paths.index(path)]
            if name in data:
                raise ModelError("a measure variable has the name of a swept parameter",
                                 key=path, value=name, allowed="another variable name")
            coords[name] = (dim.name, values, {"units": _path_units(path),
                                               "long_name": _long_name(path), "path": path})
    return xr.Dataset(data, coords=coords, attrs=attrs)


# ------------------------------------------------------------------------------- the API
def run_sweep(model: Model | str | Path, grid: Mapping[str, Any], *,
              measure: str | Callable[[xr.Dataset], Any] = "rate", mode: str = "product",
              zip_paths: Sequence[Sequence[str]] | Sequence[str] | None = None,
              executor: str = "local", scheduler: Any = None, n_workers: int = 2,
              store: str | Path | None = None, resume: bool = False, overwrite: bool = False,
              chunk_size: int | None = None, duration: float | str | None = None,
              transient: float | str | None = None, n_periods: int = 3,
              n_harmonics: int | None = None, dtype: str = "float64",
              record: str | None = None, progress: bool | None = None) -> xr.Dataset:
    """Evaluate a measure over a grid of parameter values (see the module docstring).

    Parameters
    ----------
    model : Model or path
        The base model (or its TOML file).
    grid : dict
        ``{dotted path: values}``; values as a list/array (SI numbers, unit strings, words) or
        a spec string ``"start:stop:num"``, ``"lin:..."``, ``"log:start:stop:num"``,
        ``"v1,v2"``.
    measure : {"rate", "response", "fixed_point", "silent_fraction"} or callable
        What to compute at each point (module docstring). A callable gets each point's
        simulate Dataset and returns a Dataset (per-point Python calls).
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
        Directory of the resumable chunk store (module docstring); default: in memory only.
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

    Returns
    -------
    xarray.Dataset
        Dims ``(*sweep dims, *measure dims)``; see the module docstring.

    Raises
    ------
    ModelError
        A bad path, value or option (before anything runs).
    StoreMismatchError
        ``store`` belongs to a different sweep, or holds chunks and ``resume`` is False.
    SimulationError
        A point diverged.
    """
    if isinstance(model, (str, Path)):
        model = load_model(model)
    if not isinstance(model, Model):
        raise ModelError("must be a Model or a model file", key="model",
                         value=type(model).__name__, allowed="neurorect.Model or a .toml path")
    if isinstance(measure, str):
        if measure not in MEASURES:
            from neurorect._validate import closest_hint

            raise ModelError(f"unknown measure{closest_hint(measure, MEASURES)}",
                             key="measure", value=measure,
                             allowed=", ".join(MEASURES) + ", or a callable")
    elif not callable(measure):
        raise ModelError("must be a measure name or a callable", key="measure",
                         value=measure, allowed=", ".join(MEASURES) + ", or a callable")
    if executor not in ("local", "dask"):
        raise ModelError("unknown executor", key="executor", value=executor,
                         allowed="'local' or 'dask'")
    if scheduler is not None and executor != "dask":
        raise ModelError("a scheduler needs executor='dask'", key="scheduler",
                         value=str(scheduler), allowed="executor='dask'")
    for key, value, low in (("n_periods", n_periods, 1), ("n_workers", n_workers, 1),
                            ("chunk_size", chunk_size, 1), ("n_harmonics", n_harmonics, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, (int, np.integer)) or value < low):
            raise ModelError("must be an integer", key=key, value=value,
                             allowed=f"integer >= {low}")
    if dtype not in ("float64", "float32"):
        raise ModelError("unknown dtype", key="dtype", value=dtype,
                         allowed="'float64' or 'float32'")
    if record is not None and record not in ("rate", "state", "none"):
        raise ModelError("unknown record", key="record", value=record,
                         allowed="'rate', 'state' or 'none'")
    duration = None if duration is None else parse_quantity(duration)
    transient = None if transient is None else parse_quantity(transient)

    names = set(_RESERVED)
    if isinstance(measure, str):
        names |= set(_MEASURE_VARIABLES[measure])
    else:
        names |= {"duration"}
    dims = _build_dims(model, grid, mode, zip_paths, names)
    all_paths = [p for d in dims for p in d.paths]
    _validate_grid(model, dims)
    layout = _layout(model, dims, measure, duration=duration, transient=transient,
                     n_periods=int(n_periods), chunk_size=chunk_size)

    model_text = dumps_model(model)
    options = {"duration": duration, "transient": layout.transient,
               "n_periods": int(n_periods) if measure == "response" else None,
               "n_harmonics": n_harmonics, "dtype": dtype,
               "record": record if callable(measure) else None,
               "chunk_size": layout.chunk_size, "mode": mode}
    manifest = _manifest(model, model_text, dims, measure, options, layout)
    settings = _Settings(model_toml=model_text, source=model.source, measure=measure,
                         transient=layout.transient, n_harmonics=n_harmonics, dtype=dtype,
                         record=record, sweep_key=manifest["sweep_key"])

    store_path = Path(store) if store is not None else None
    done: set[int] = set()
    if store_path is not None:
        done = _open_store(store_path, manifest, resume=resume, overwrite=overwrite)
    missing = [c for c in layout.chunks if c.index not in done]
    results: dict[int, xr.Dataset] = {}
    bar = _progress_bar(sum(layout.work[c.index] for c in missing), len(missing), len(done),
                        progress)
    finished = 0

    def on_result(chunk: _Chunk, result: xr.Dataset) -> None:
        nonlocal finished
        if store_path is not None:
            from neurorect.io import save

            save(result, chunk_file(store_path, chunk.index))
        results[chunk.index] = result
        finished += 1
        if bar is not None:
            bar.set_description_str(_bar_text(finished, len(missing), len(done)), refresh=False)
            bar.update(layout.work[chunk.index])

    try:
        if executor == "dask" and missing:
            _execute_dask(settings, missing, on_result, scheduler, int(n_workers))
        else:
            _execute_local(settings, missing, on_result)
    finally:
        if bar is not None:
            bar.close()
    for index in done:
        results[index] = _load_chunk(store_path, index, manifest["sweep_key"])

    seed_swept = "simulation.seed" in all_paths
    attrs = {
        "neurorect_version": __version__,
        "model": model_text,
        "model_name": model.name,
        "model_sha256": manifest["model_sha256"],
        "seed": "swept (coordinate)" if seed_swept else model.simulation.seed,
        "measure": manifest["measure"],
        "grid": json.dumps(manifest["grid"]),
        "sweep_dims": json.dumps([[d.name, list(d.paths)] for d in dims]),
        "mode": mode,
        "dt": model.simulation.dt,
        "method": model.simulation.method,
        "duration_rule": layout.duration_rule,
        "transient": layout.transient if layout.transient is not None else "per point",
        "n_points": layout.n_points,
        "n_chunks": len(layout.chunks),
        "chunk_size": layout.chunk_size,
        "sweep_key": manifest["sweep_key"],
    }
    if measure == "response":
        attrs["n_periods"] = int(n_periods)
        attrs["fourier_convention"] = "r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)"
    if isinstance(measure, str) and measure in _THEORY:
        attrs["theory"] = ("fixed point of the constant input I0 (sinusoids, steps, pulses "
                           "and noise ignored), neurorect.theory.fixed_point")
    return _assemble(layout, results, attrs, model)
