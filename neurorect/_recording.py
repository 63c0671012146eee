"""What a run records and accumulates: the recorded neurons and the statistics windows.

:func:`record_layout` maps the recorded neurons of every batch copy to columns of the
recording (refusing recordings over the size limit before allocating them);
:func:`analysis_frequencies` gives each unit's analysis frequency and :func:`stat_windows`
the whole periods of it over which the kernels accumulate the streaming statistics.
"""

from __future__ import annotations

import numpy as np

from neurorect._plan import Plan
from neurorect.errors import ModelError
from neurorect.kernels.layout import RECORD_RATE, RECORD_STATE, SIN_AMP, SIN_FREQ, Recording
from neurorect.spec import Simulation

__all__ = ["record_layout", "analysis_frequencies", "stat_windows"]


def record_layout(plan: Plan, neurons, sim: Simulation, n_steps: int, dtype: str,
                  max_bytes: int) -> tuple[np.ndarray, Recording]:
    """The recorded neuron indices and the kernels' :class:`Recording` (zeroed output).

    Column ``b * n_chosen + j`` of the output is the j-th chosen neuron of batch copy b; a
    row every ``sim.record_every`` steps. Raises ModelError for an index out of range or a
    recording over ``max_bytes``.
    """
    n = plan.n_neurons
    if sim.record == "none":
        chosen = np.zeros(0, dtype=np.int64)
    elif neurons is None:
        chosen = np.arange(n)
    else:
        chosen = np.unique(np.asarray(neurons, dtype=np.int64))
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


def analysis_frequencies(plan: Plan, stats_freq=None) -> np.ndarray:
    """Each unit's analysis frequency (Hz), shape (U,): ``stats_freq`` (scalar or per neuron,
    the same for every batch copy) or, by default, the drive frequency (see below).

    By default a unit takes its own sinusoid's frequency; a unit without one takes its batch
    copy's common drive frequency (the E drive for the I population of an E-I pair), when
    all driven units of that copy share one; else 0 (mean only).
    """
    if stats_freq is not None:
        given = np.broadcast_to(np.asarray(stats_freq, dtype=float), (plan.n_neurons,))
        if np.any(~np.isfinite(given) | (given < 0)):
            raise ModelError("analysis frequencies must be finite and >= 0", key="stats_freq",
                             value=float(given[~(np.isfinite(given) & (given >= 0))][0]),
                             allowed="0 <= stats_freq < 1/(2 dt)")
        return np.tile(given, plan.n_batch)
    own = (plan.params[:, SIN_FREQ] * (plan.params[:, SIN_AMP] != 0.0)).reshape(
        plan.n_batch, plan.n_neurons)
    positive = own > 0
    highest = np.where(positive, own, -np.inf).max(axis=1)
    lowest = np.where(positive, own, np.inf).min(axis=1)
    common = np.where(highest == lowest, highest, 0.0)  # one driven frequency, else 0
    return np.where(positive, own, common[:, None]).reshape(-1)


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
