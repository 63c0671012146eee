"""The plan of a sweep's work: the execution order of the points, their durations, and the
chunks (one kernel call each) that they are cut into.

Points are flattened in C order of the grid; for execution the ``"outer"`` dims (those that
change the shape or method of a run) vary slowest, then drive frequencies, then the rest.
Consecutive points with the same outer values and the same duration are cut into chunks of
at most ``chunk_size`` points. The theory measures keep the grid's order (no simulation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurorect.errors import ModelError
from neurorect.spec import Model
from neurorect.sweeps.grid import Dim, to_python

__all__ = ["THEORY", "Chunk", "Settings", "Layout", "plan_layout"]

#: Measures computed from the theory (fixed point), without simulation.
THEORY = ("fixed_point", "silent_fraction")
_UNITS_PER_CHUNK = 4096  # neuron copies per kernel call (upper bound of the default chunk)
# coupled copies share one matrix product per step; beyond ~512 units per call the engine's
# batched product gets slower per copy than separate calls (measured: N = 200, 16 copies)
_COUPLED_UNITS_PER_CHUNK = 512
_MIN_UNITS_PER_CHUNK = 256  # default chunks hold at least this many units (or the whole grid)
_TARGET_CHUNKS = 16  # default chunking aims at this many chunks (progress, resume grain)


@dataclass(frozen=True)
class Chunk:
    """One unit of work: consecutive points sharing unbatchable values and duration."""

    index: int
    points: np.ndarray  # flat C-order indices into the grid
    outer: dict[str, Any]  # unbatchable path -> value (shared by the chunk)
    batch: dict[str, np.ndarray]  # batchable path -> one value per point
    duration: float | None  # simulated time, s (None: the point model's own)


@dataclass(frozen=True)
class Settings:
    """What every chunk needs besides its points (picklable, shipped to Dask workers)."""

    model_toml: str
    source: str | None
    measure: str | Callable
    transient: float | None  # s (None: each point model's own)
    n_harmonics: int | None
    dtype: str
    record: str | None
    sweep_key: str
    threads: int | None = None


@dataclass
class Layout:
    """The chunks of a sweep, with the rule that set their durations and the work of each
    (neuron-steps, or points for the theory measures) that weights the progress bar."""

    dims: list[Dim]
    chunks: list[Chunk]
    n_points: int
    transient: float | None
    duration_rule: str
    chunk_size: int
    work: list[float] = field(default_factory=list)


def _point_values(dims: list[Dim], index: list[np.ndarray], path: str) -> np.ndarray | None:
    """The values of ``path`` at the points ``index`` (per dim), or None if not swept."""
    for d, dim in enumerate(dims):
        if path in dim.paths:
            return dim.values[dim.paths.index(path)][index[d]]
    return None


def _auto_transient(model: Model, dims: list[Dim]) -> float:
    """``max(model transient, 10 tau_max)`` over the grid's time constants."""
    tau_max = max(p.tau for p in model.populations)
    for dim in dims:
        for path, values in zip(dim.paths, dim.values, strict=True):
            parts = path.split(".")
            if parts[0] == "populations" and parts[2:] == ["tau"]:
                tau_max = max(tau_max, float(np.max(values)))
    return max(model.simulation.transient, 10.0 * tau_max)


def _response_durations(model: Model, dims: list[Dim], index: list[np.ndarray],
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


def _execution_index(dims: list[Dim], theory: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """Per dim, the index of each point in execution order; and each point's flat C-order
    index in the grid."""
    shape = [d.size for d in dims]
    n = math.prod(shape)
    order_rank = {"outer": 0, "freq": 1, "batch": 2}
    exec_dims = list(range(len(dims))) if theory else sorted(
        range(len(dims)), key=lambda d: order_rank[dims[d].kind])
    exec_index = np.unravel_index(np.arange(n), [shape[d] for d in exec_dims])
    index: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(dims)
    for position, d in enumerate(exec_dims):
        index[d] = exec_index[position]
    flat = np.ravel_multi_index(index, shape) if dims else np.zeros(1, dtype=np.int64)
    return index, flat


def _durations(model: Model, dims: list[Dim], index: list[np.ndarray], measure: str | Callable,
               duration: float | None, transient: float | None,
               n_periods: int) -> tuple[np.ndarray, float | None, str]:
    """Each point's simulated time (NaN: the point model's own), the transient (None: each
    point's own) and the rule, in words."""
    n = index[0].size if index else 1
    points_duration = np.full(n, np.nan)
    swept = {p for d in dims for p in d.paths}
    if transient is not None:
        transient_used: float | None = float(transient)
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
        points_duration = _response_durations(model, dims, index, transient_used, n_periods, n)
        rule = (f"per point: transient + max({n_periods} / f_drive, transient), rounded "
                f"up to whole steps (transient {transient_used:g} s)")
    else:
        points_duration[:] = model.simulation.duration
        rule = f"the model's: {model.simulation.duration:g} s"
    if transient_used is not None and np.any(points_duration <= transient_used):
        raise ModelError("the duration must exceed the transient", key="duration",
                         value=float(np.nanmin(points_duration)),
                         allowed=f"duration > transient = {transient_used:g} s")
    return points_duration, transient_used, rule


def _default_chunk_size(model: Model, n: int, theory: bool) -> int:
    """About 1/16 of the grid, between 256 and 4096 neuron copies (coupled: at most 512);
    theory measures: 1/50 of the grid, at most 1000 points."""
    if theory:
        return max(1, min(1000, math.ceil(n / 50)))
    cap = _COUPLED_UNITS_PER_CHUNK if model.is_coupled else _UNITS_PER_CHUNK
    upper = max(1, cap // model.size)
    lower = min(n, upper, max(1, _MIN_UNITS_PER_CHUNK // model.size))
    return max(1, min(upper, max(lower, math.ceil(n / _TARGET_CHUNKS))))


def plan_layout(model: Model, dims: list[Dim], measure: str | Callable, *,
                duration: float | None, transient: float | None, n_periods: int,
                chunk_size: int | None) -> Layout:
    """Order, durations and chunks of the sweep of ``measure`` over ``dims``."""
    theory = isinstance(measure, str) and measure in THEORY
    index, flat = _execution_index(dims, theory)
    n = flat.size
    if theory:
        points_duration, transient_used, rule = np.full(n, np.nan), None, "no simulation (theory)"
    else:
        points_duration, transient_used, rule = _durations(
            model, dims, index, measure, duration, transient, n_periods)
    chunk_size = chunk_size or _default_chunk_size(model, n, theory)
    outer = [] if theory else [d for d in range(len(dims)) if dims[d].kind == "outer"]
    outer_id = (np.ravel_multi_index([index[d] for d in outer], [dims[d].size for d in outer])
                if outer else np.zeros(n, dtype=np.int64))
    same_duration = ((points_duration[1:] == points_duration[:-1])
                     | (np.isnan(points_duration[1:]) & np.isnan(points_duration[:-1])))
    key_change = (outer_id[1:] != outer_id[:-1]) | ~same_duration
    starts = np.concatenate([[0], np.flatnonzero(key_change) + 1, [n]])
    chunks: list[Chunk] = []
    work: list[float] = []
    for lo, hi in zip(starts[:-1], starts[1:], strict=True):
        for start in range(int(lo), int(hi), chunk_size):
            stop = min(start + chunk_size, int(hi))
            chunk_outer: dict[str, Any] = {}
            chunk_batch: dict[str, np.ndarray] = {}
            for d, dim in enumerate(dims):
                for path, values in zip(dim.paths, dim.values, strict=True):
                    if d in outer:
                        chunk_outer[path] = to_python(values[index[d][start]])
                    else:
                        chunk_batch[path] = values[index[d][start:stop]]
            value = points_duration[start]
            chunks.append(Chunk(index=len(chunks), points=flat[start:stop].astype(np.int64),
                                outer=chunk_outer, batch=chunk_batch,
                                duration=None if np.isnan(value) else float(value)))
            work.append(_work(model, chunk_outer, stop - start, value, theory))
    return Layout(dims=dims, chunks=chunks, n_points=n, transient=transient_used,
                  duration_rule=rule, chunk_size=chunk_size, work=work)


def _work(model: Model, outer: dict[str, Any], n_points: int, duration: float,
          theory: bool) -> float:
    """The work of a chunk: neuron-steps (points for the theory measures)."""
    if theory:
        return float(n_points)
    dt = outer.get("simulation.dt", model.simulation.dt)
    sim_time = duration if np.isfinite(duration) else outer.get(
        "simulation.duration", model.simulation.duration)
    return n_points * model.size * max(1.0, sim_time / dt)
