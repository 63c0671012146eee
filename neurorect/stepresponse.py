"""Step-response measures of a sampled trace: overshoot, rise time, settling time.

For a response ``y(t)`` to a step at ``onset``, with ``y0`` its value at the last sample
before the onset and ``y_inf`` its final value, the normalised response is
``u = (y - y0) / (y_inf - y0)``:

* ``overshoot``: ``max(u) - 1`` after the onset, clipped at 0 (a fraction: 0.25 is 25 %);
* ``peak_time``: time from the onset to the maximum of ``u``;
* ``rise_time``: from ``u`` first reaching ``levels[0]`` (10 %) to first reaching
  ``levels[1]`` (90 %);
* ``settling_time``: from the onset to the last time ``|u - 1|`` exceeds ``band`` (2 %).

Crossing times are interpolated linearly between samples (error O(dt^2) for a smooth
response), the peak by a parabola through its three samples. ``y_inf`` is the mean of the
last ``tail`` of the trace; when the trace still moves by more than ``band`` there, the
settling time is NaN (and ``settled`` False). Pure numpy: the sweeps' step-response measure
and the analyses use it on recorded rates.
"""

from __future__ import annotations

import math

import numpy as np

from neurorect._validate import check_range
from neurorect.errors import ModelError

__all__ = ["step_measures", "STEP_MEASURES"]

#: The measures :func:`step_measures` returns, with their units and long names.
STEP_MEASURES = {
    "overshoot": ("1", "overshoot (peak - final) / |final - initial|"),
    "peak_time": ("s", "time from the step to the peak"),
    "rise_time": ("s", "rise time between the two levels"),
    "settling_time": ("s", "time from the step until the response stays within the band"),
    "initial_value": ("Hz", "value at the step"),
    "final_value": ("Hz", "final value (mean of the tail)"),
    "settled": ("1", "the tail stays within the band"),
}


def _first_crossing(time: np.ndarray, u: np.ndarray, level: float) -> float:
    """First time ``u`` reaches ``level`` (linear interpolation); NaN if never."""
    above = np.flatnonzero(u >= level)
    if not above.size:
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(time[0])
    return float(time[i - 1] + (level - u[i - 1]) / (u[i] - u[i - 1]) * (time[i] - time[i - 1]))


def _peak(t: np.ndarray, u: np.ndarray) -> tuple[float, float]:
    """Time and value of the maximum of ``u``, refined by the parabola through the largest
    sample and its neighbours (error O(dt^3) instead of O(dt))."""
    i = int(np.argmax(u))
    if 0 < i < u.size - 1 and t[i + 1] - t[i] == t[i] - t[i - 1]:
        left, mid, right = u[i - 1], u[i], u[i + 1]
        curvature = left - 2.0 * mid + right
        if curvature < 0:
            shift = 0.5 * (left - right) / curvature  # in samples, within (-1/2, 1/2]
            step = t[i + 1] - t[i]
            return (float(t[i] + shift * step),
                    float(mid - 0.25 * (left - right) * shift))
    return float(t[i]), float(u[i])


def step_measures(time, y, onset: float, *, band: float = 0.02,
                  levels: tuple[float, float] = (0.1, 0.9),
                  tail: float = 0.05) -> dict[str, float]:
    """Overshoot, peak, rise and settling time of the response ``y(t)`` to a step at ``onset``.

    Parameters
    ----------
    time : array_like
        Sample times, s (increasing).
    y : array_like
        The response (Hz), same length.
    onset : float
        Time of the step, s (within the trace, before its tail).
    band : float
        Settling band as a fraction of the change (0 < band < 1).
    levels : (float, float)
        Rise-time levels as fractions of the change (0 <= low < high <= 1).
    tail : float
        Fraction of the trace after the onset averaged for the final value.

    Returns
    -------
    dict
        ``overshoot`` (fraction), ``peak_time``, ``rise_time``, ``settling_time`` (s),
        ``initial_value``, ``final_value`` (Hz) and ``settled`` (bool); see the module
        docstring. All times are NaN where the response does not change (``y_inf = y0``).
    """
    time, y = np.asarray(time, dtype=float), np.asarray(y, dtype=float)
    check_range("band", band, low=0.0, low_open=True, high=1.0, high_open=True)
    check_range("tail", tail, low=0.0, low_open=True, high=0.5)
    low, high = levels
    check_range("levels", low, low=0.0, high=1.0)
    check_range("levels", high, low=low, low_open=True, high=1.0)
    if time.ndim != 1 or time.shape != y.shape or time.size < 4:
        raise ModelError("time and response must be 1-D of equal length (>= 4 samples)",
                         key="y", value=f"shapes {time.shape}, {y.shape}",
                         allowed="two 1-D arrays of equal length")
    after = time >= onset
    if not (time[0] <= onset and np.sum(after) >= 4):
        raise ModelError("the step onset lies outside the trace", key="onset", value=onset,
                         allowed=f"{time[0]:g} <= onset < {time[-4]:g} s")
    start = int(np.flatnonzero(after)[0])
    # the last sample before the step (a sample at the onset may already have felt it)
    y0 = float(y[start - 1] if start > 0 else y[start])
    t, response = time[start:] - onset, y[start:]
    n_tail = max(2, int(math.ceil(tail * t.size)))
    y_inf = float(np.mean(response[-n_tail:]))
    change = y_inf - y0
    out = {"initial_value": y0, "final_value": y_inf}
    if change == 0.0 or abs(change) <= 1e-12 * max(abs(y0), abs(y_inf)):
        return {**out, "overshoot": math.nan, "peak_time": math.nan, "rise_time": math.nan,
                "settling_time": math.nan, "settled": False}
    u = (response - y0) / change
    peak_time, peak_value = _peak(t, u)
    outside = np.flatnonzero(np.abs(u - 1.0) > band)
    settled = bool(np.all(np.abs(u[-n_tail:] - 1.0) <= band))
    if not outside.size:
        settling = 0.0
    elif not settled:
        settling = math.nan
    else:  # the last excursion ends between samples j and j + 1
        j = int(outside[-1])
        edge = 1.0 + band * np.sign(u[j] - 1.0)
        settling = float(t[j] + (edge - u[j]) / (u[j + 1] - u[j]) * (t[j + 1] - t[j]))
    return {**out, "overshoot": max(0.0, peak_value - 1.0), "peak_time": peak_time,
            "rise_time": _first_crossing(t, u, high) - _first_crossing(t, u, low),
            "settling_time": settling, "settled": settled}
