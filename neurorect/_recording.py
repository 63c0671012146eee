"""What a run records and accumulates: the recorded neurons and the statistics windows.

:func:`record_layout` maps the recorded neurons of every batch copy to columns of the
recording (refusing recordings over the size limit before allocating them);
:func:`analysis_frequencies` gives each unit's analysis frequency, :func:`stat_windows` the
whole periods of it (rounded to steps) over which the kernels accumulate the streaming
statistics, :func:`whole_periods` how many periods each window holds and
:func:`steps_to_fit` how long a run must be to give every unit ``min_periods`` of them.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from neurorect._plan import Plan
from neurorect.errors import ModelError, NeurorectWarning, SimulationError
from neurorect.fourier import harmonics_from_sums, leakage_bound
from neurorect.kernels.layout import RECORD_RATE, RECORD_STATE, SIN_AMP, SIN_FREQ, Recording
from neurorect.kernels.window_fit import fit_windows
from neurorect.spec import Simulation

__all__ = ["record_layout", "analysis_frequencies", "stat_windows", "whole_periods",
           "steps_to_fit", "unit_label", "sum_name", "WindowStatistics", "window_statistics"]


def record_layout(plan: Plan, neurons, sim: Simulation, n_steps: int, dtype: str,
                  max_bytes: int) -> tuple[np.ndarray, Recording]:
    """The recorded neuron indices and the kernels' :class:`Recording` (zeroed output).

    Column ``b * n_chosen + j`` of the output is the j-th chosen neuron of batch copy b; a
    row every ``sim.record_every`` steps. Raises ModelError for an index out of range or a
    recording over ``max_bytes``.
    """
    n = plan.n_neurons
    if neurons is not None:
        _neuron_indices(neurons)  # checked even when nothing is recorded
    if sim.record == "none":
        chosen = np.zeros(0, dtype=np.int64)
    elif neurons is None:
        chosen = np.arange(n)
    else:
        chosen = _neuron_indices(neurons)
        if chosen.size and (chosen.min() < 0 or chosen.max() >= n):
            raise ModelError("recorded neuron index out of range", key="neurons",
                             value=int(chosen[(chosen < 0) | (chosen >= n)][0]),
                             allowed=f"0 <= index < {n}")
    n_rows = -(-n_steps // sim.record_every) if chosen.size else 0
    n_columns = plan.n_batch * chosen.size
    needed = n_rows * n_columns * np.dtype(dtype).itemsize
    if needed > max_bytes:
        raise ModelError(
            f"recording would need {needed / 2**30:.2f} GiB, more than the limit of "
            f"{max_bytes / 2**30:.2f} GiB; record fewer neurons, record every n-th step "
            "(record_every), or record='none' and use the streaming statistics "
            "(r0, amplitude, phase)", key="record", value=sim.record,
            allowed="a recording below max_record_bytes")
    column = np.full(plan.n_units, -1, dtype=np.int64)
    copies = np.arange(plan.n_batch)[:, None]
    column[(copies * n + chosen).ravel()] = (copies * chosen.size
                                             + np.arange(chosen.size)).ravel()
    kind = RECORD_STATE if sim.record == "state" else RECORD_RATE
    return chosen, Recording(kind, sim.record_every, column,
                             np.zeros((n_rows, n_columns), dtype=dtype))


def analysis_frequencies(plan: Plan, stats_freq=None, dt: float | None = None) -> np.ndarray:
    """Each unit's analysis frequency (Hz), shape (U,): ``stats_freq`` (scalar or per neuron,
    the same for every batch copy) or, by default, the drive frequency (see below).

    By default a unit takes its own sinusoid's frequency; a unit without one takes its batch
    copy's common drive frequency (the E drive for the I population of an E-I pair), when
    all driven units of that copy share one; else 0 (mean only). With ``dt`` (s) given, a
    frequency at or above the Nyquist frequency ``1/(2 dt)`` is a ModelError.
    """
    nyquist = math.inf if dt is None else 0.5 / dt
    if stats_freq is not None:
        allowed = f"0 <= stats_freq < 1/(2 dt) = {nyquist:g} Hz, scalar or one per neuron"
        try:
            given = np.broadcast_to(np.asarray(stats_freq, dtype=float), (plan.n_neurons,))
        except (TypeError, ValueError):
            raise ModelError(f"must be numbers, one or {plan.n_neurons} (one per neuron)",
                             key="stats_freq", value=np.shape(stats_freq) or stats_freq,
                             allowed=allowed) from None
        bad = ~np.isfinite(given) | (given < 0) | (given >= nyquist)
        if np.any(bad):
            raise ModelError("analysis frequency out of range", key="stats_freq",
                             value=float(given[bad][0]), allowed=allowed)
        return np.tile(given, plan.n_batch)
    own = (plan.params[:, SIN_FREQ] * (plan.params[:, SIN_AMP] != 0.0)).reshape(
        plan.n_batch, plan.n_neurons)
    positive = own > 0
    if np.any(own >= nyquist):
        unit = int(np.flatnonzero(own.reshape(-1) >= nyquist)[0])
        raise ModelError(
            f"the drive frequency of {unit_label(plan, unit)} is at or above the Nyquist "
            "frequency: the sampled drive aliases", key="drives.freq",
            value=float(own.reshape(-1)[unit]), allowed=f"freq < 1/(2 dt) = {nyquist:g} Hz "
            "(lower dt)", file=plan.model.source)
    highest = np.where(positive, own, -np.inf).max(axis=1)
    lowest = np.where(positive, own, np.inf).min(axis=1)
    common = np.where(highest == lowest, highest, 0.0)  # one driven frequency, else 0
    return np.where(positive, own, common[:, None]).reshape(-1)


def _neuron_indices(neurons) -> np.ndarray:
    """Sorted unique integer neuron indices; ModelError for anything else."""
    try:
        raw = np.asarray(neurons)
        ok = raw.ndim <= 1 and (raw.dtype.kind in "iu" or raw.size == 0 or (
            raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.rint(raw))))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelError("must be neuron indices", key="neurons",
                         value=neurons if np.ndim(neurons) == 0 else list(neurons)[:6],
                         allowed="a 1-D list of whole numbers 0 <= index < N")
    return np.unique(raw.astype(np.int64))


def whole_periods(freq: np.ndarray, n_steps: int, first: int, dt: float) -> np.ndarray:
    """Whole periods of each unit's analysis frequency in ``[first, n_steps)`` (int, 0 for
    ``freq == 0``); a period boundary within 1e-9 periods of the end counts as inside."""
    available = max(n_steps - first, 0)
    return np.floor(available * dt * np.asarray(freq, dtype=float) + 1e-9).astype(np.int64)


def stat_windows(freq: np.ndarray, n_steps: int, first: int, dt: float) -> np.ndarray:
    """Streaming-statistics windows ``(U, 2)`` in global steps, from ``first``.

    For ``freq > 0`` with ``M >= 1`` whole periods in ``[first, n_steps)``
    (:func:`whole_periods`) the window is ``M`` periods rounded to the nearest step
    (``N = rint(M / (f dt))``, so it misses ``M`` whole periods by ``|delta| <= 1/2`` step:
    the least-squares projection of :func:`neurorect.fourier.harmonics_from_sums` is exact
    for harmonics 1..K over it and ``delta`` sets the leakage bound of the others); for
    ``freq == 0`` or less than one period it is all of ``[first, n_steps)``.
    """
    available = n_steps - first
    windows = np.empty((freq.size, 2), dtype=np.int64)
    windows[:, 0] = first
    periods = whole_periods(freq, n_steps, first, dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        length = np.where(periods >= 1, np.rint(periods / (freq * dt)), available)
    windows[:, 1] = first + np.minimum(length, available).astype(np.int64)
    return windows


def steps_to_fit(freq: np.ndarray, first: int, dt: float, min_periods: int) -> int:
    """The fewest steps of a run whose window from ``first`` holds ``min_periods`` whole
    periods of every unit with ``freq > 0`` (``first`` if there is none): the slowest unit
    sets it, ``first + ceil(min_periods / (f_min dt))``."""
    positive = np.asarray(freq, dtype=float)
    positive = positive[positive > 0]
    if positive.size == 0:
        return first
    return first + int(math.ceil(min_periods / (float(positive.min()) * dt) - 1e-9))


def unit_label(plan: Plan, unit: int) -> str:
    """``neuron i (population 'E')``, with ``of batch element b`` for batched runs."""
    b, i = divmod(int(unit), plan.n_neurons)
    population = next(name for name, (lo, hi) in plan.model.offsets.items() if lo <= i < hi)
    where = f" of batch element {b}" if plan.n_batch > 1 else ""
    return f"neuron {i} (population {population!r}){where}"


def sum_name(k: int) -> str:
    """What column ``k`` of the kernels' statistics sums holds, in words."""
    if k == 0:
        return "r0 (the running sum of the rate over the statistics window)"
    return f"harmonic {k} (the running sum of r exp(-i 2 pi {k} f t) over the window)"


class WindowStatistics(NamedTuple):
    """Per unit: r0 (Hz), amplitude and phase (U, K), whole periods, window length (s) and
    the leakage bound (see :func:`neurorect.fourier.leakage_bound`)."""

    r0: np.ndarray
    amplitude: np.ndarray
    phase: np.ndarray
    periods: np.ndarray
    duration: np.ndarray
    leakage: np.ndarray


def window_statistics(plan: Plan, acc: np.ndarray, stat_phase: np.ndarray,
                      windows: np.ndarray, periods: np.ndarray, freq: np.ndarray, dt: float,
                      min_periods: int, stop_time: float) -> WindowStatistics:
    """r0, amplitudes and phases from the kernels' sums (exact least squares over each
    window), NaN together for units with ``freq > 0`` and fewer than ``min_periods`` whole
    ``periods`` (:func:`whole_periods`; ONE NeurorectWarning saying how many and the
    duration that would fit).

    ``acc`` are the kernels' sums, rotated by ``stat_phase`` (rad, ``params[:,
    STAT_PHASE]``), which this undoes. The fit of a unit is
    :func:`neurorect.kernels.window_fit.fit_windows` (parallel over units) where its system
    is small and well conditioned, else :func:`neurorect.fourier.harmonics_from_sums` (the
    reference; the two agree to 2e-14 of the unit's scale, tested); which one depends on
    the unit alone, so a batch element gets its own run's bits.

    Raises SimulationError when a sum or a statistic is not finite although the rates were
    (overflow), naming the unit and the quantity; ``stop_time`` (s) is the end of the run.
    """
    counts = (windows[:, 1] - windows[:, 0]).astype(float)
    n_harmonics = acc.shape[1] - 1
    undone = np.empty_like(acc)
    n_fit = np.empty(counts.shape, dtype=np.int64)
    r0 = np.empty(counts.shape)
    amplitude = np.empty((counts.size, n_harmonics))
    phase = np.empty((counts.size, n_harmonics))
    done = np.empty(counts.shape, dtype=bool)
    fit_windows(np.ascontiguousarray(acc), np.ascontiguousarray(stat_phase, dtype=float),
                np.ascontiguousarray(freq, dtype=float), windows[:, 0].astype(float), counts,
                float(dt), undone, n_fit, r0, amplitude, phase, done)
    _check_finite_sums(plan, undone, stop_time)
    rest = np.flatnonzero(~done)
    if rest.size:  # the reference fits the others
        r0[rest], amplitude[rest], phase[rest] = harmonics_from_sums(
            undone[rest], counts[rest], freq=freq[rest], dt=dt, start=windows[rest, 0])
    short = (freq > 0) & (periods < min_periods)
    r0[short] = np.nan
    amplitude[short | (freq <= 0)] = np.nan
    phase[short | (freq <= 0)] = np.nan
    # harmonics at or above the Nyquist frequency are NaN by construction
    above = np.arange(1, n_harmonics + 1) > n_fit[:, None]
    unresolved = (freq > 0) & ~short & np.isnan(r0)
    expected = (short | unresolved | (freq <= 0))[:, None] | above
    overflow = ~np.isfinite(r0) & ~(short | unresolved) | np.any(
        ~np.isfinite(amplitude) & ~expected, axis=1)
    if np.any(overflow):
        unit = int(np.flatnonzero(overflow)[0])
        raise SimulationError(
            f"non-finite statistics at t = {stop_time:.6g} s (the end of the window) for "
            f"{unit_label(plan, unit)}: r0 or a harmonic amplitude overflowed although the "
            "rates and their sums were finite; rescale the model (rates near the float "
            "range, ~1.8e308)")
    aliased = (freq > 0) & ~short & ~unresolved & np.any(above, axis=1)
    _warn_short(plan, freq, short, unresolved, aliased, windows, dt, min_periods)
    leakage = leakage_bound(freq, dt, counts, periods, n_harmonics)
    return WindowStatistics(r0, amplitude, phase, periods, counts * dt, leakage)


def _check_finite_sums(plan: Plan, acc: np.ndarray, stop_time: float) -> None:
    """SimulationError for a non-finite statistics sum (the chunk loop pins the step; this
    is the last line of defence, at the end of the run)."""
    bad = ~np.isfinite(acc)
    if np.any(bad):
        unit, k = (int(i) for i in np.argwhere(bad)[0])
        raise SimulationError(
            f"non-finite statistics by t = {stop_time:.6g} s: {sum_name(k)} of "
            f"{unit_label(plan, unit)} overflowed although every rate was finite; rescale "
            "the model (rates near the float range, ~1.8e308)")


def _warn_short(plan: Plan, freq: np.ndarray, short: np.ndarray, unresolved: np.ndarray,
                aliased: np.ndarray, windows: np.ndarray, dt: float, min_periods: int) -> None:
    """ONE NeurorectWarning for the units whose statistics are (partly) NaN, saying why."""
    if not (np.any(short) or np.any(unresolved) or np.any(aliased)):
        return
    first = int(windows[0, 0])
    available = (int(windows[:, 1].max()) - first) * dt
    parts = []
    if np.any(short):
        fit = steps_to_fit(freq[short], first, dt, min_periods) * dt
        parts.append(
            f"{int(short.sum())} of {short.size} units have fewer than {min_periods} whole "
            f"period(s) of their analysis frequency (down to {float(freq[short].min()):g} Hz) "
            f"in the {available:g} s statistics window after the transient "
            f"({first * dt:g} s): their r0, amplitude and phase are NaN. A duration of "
            f"{fit:.6g} s would fit them (pass duration={fit:.6g}, or lengthen=True)")
    if np.any(unresolved):
        parts.append(
            f"{int(unresolved.sum())} units have statistics windows that cannot separate "
            "their harmonics (too few samples per period for n_harmonics, or harmonics "
            "aliasing near the Nyquist frequency 1/(2 dt)): NaN; lower n_harmonics or dt")
    if np.any(aliased):
        parts.append(
            f"{int(aliased.sum())} units have harmonics at or above the Nyquist frequency "
            f"1/(2 dt) = {0.5 / dt:g} Hz (from {float(freq[aliased].min()):g} Hz up): those "
            "harmonics are NaN (the lower ones are exact); lower dt to measure them")
    warnings.warn("; ".join(parts), NeurorectWarning, stacklevel=4)
