"""Bode figures: gain and phase against frequency, and the drawing core every Bode figure uses.

:func:`bode_axes` sets up a pair of Bode axes (log frequency, log gain where the gain is
positive, labels) and :func:`draw_bode` draws one source on them, as a line or as points
with error bars. :func:`plot_frequency_response` (here), :func:`~neurorect.plotting.sweeps.
plot_bode_family` and :func:`~neurorect.plotting.crossval.plot_crossval_bode` are built on
the two.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

__all__ = ["plot_frequency_response", "bode_axes", "draw_bode", "plain_log_labels",
           "METHOD_LABELS", "THEORY_METHODS"]

#: Legend labels of the methods of :func:`neurorect.frequency_response`.
METHOD_LABELS = {"analytic": "exact response (theory)",
                 "linear": "linear response at the fixed point (theory)",
                 "simulate": "simulation", "broadband": "broadband estimate",
                 "broadband_theory": "Gaussian-input (Bussgang) theory"}
#: Methods whose results are theory, drawn as lines (the others are points).
THEORY_METHODS = ("analytic", "linear")


def bode_axes(ax_gain, ax_phase=None, *, gain_label: str,
              freq_label: str = "drive frequency (Hz)", phase_label: str = "phase (rad)",
              log_gain: bool = True) -> None:
    """Log frequency axes, a log gain axis (if ``log_gain``) and the labels.

    With ``ax_phase`` the frequency label goes under the phase axes only (the two share
    their frequency axis in a Bode figure).
    """
    ax_gain.set_xscale("log")
    plain_log_labels(ax_gain.xaxis)
    if log_gain:
        ax_gain.set_yscale("log")
        plain_log_labels(ax_gain.yaxis)
    ax_gain.set_ylabel(gain_label)
    if ax_phase is None:
        ax_gain.set_xlabel(freq_label)
        return
    ax_phase.set_xscale("log")
    plain_log_labels(ax_phase.xaxis)
    ax_phase.set_ylabel(phase_label)
    ax_phase.set_xlabel(freq_label)
    ax_gain.set_xlabel("")


def plain_log_labels(axis) -> None:
    """Tick labels of a log axis as plain numbers (0.2, 1, 5, not 2 x 10^-1); minor ticks
    at 2 and 5 times a power of ten are labelled too when the axis (at drawing time) spans
    less than two decades, so that a short axis is readable and a long one does not crowd."""
    import math

    from matplotlib.ticker import FuncFormatter

    def major(value, _position):
        return f"{value:g}"

    def minor(value, _position):
        low, high = sorted(axis.get_view_interval())
        if not (low > 0 and high / low < 100) or value <= 0:
            return ""
        mantissa = round(value / 10 ** math.floor(math.log10(value) + 1e-9), 6)
        return f"{value:g}" if mantissa in (2.0, 5.0) else ""

    axis.set_major_formatter(FuncFormatter(major))
    axis.set_minor_formatter(FuncFormatter(minor))


def draw_bode(ax_gain, ax_phase, freq: ArrayLike, gain: ArrayLike,
              phase: ArrayLike | None = None, *, gain_se: ArrayLike | None = None,
              phase_se: ArrayLike | None = None, points: bool = False, **style) -> list:
    """Draw one source: gain on ``ax_gain`` and, if given, phase on ``ax_phase``.

    Parameters
    ----------
    ax_gain, ax_phase : matplotlib.axes.Axes
        ``ax_phase`` may be None (gain only).
    freq, gain, phase : array_like
        Frequencies and the values drawn against them (units as the caller labels them).
    gain_se, phase_se : array_like, optional
        Error bars (with ``points``).
    points : bool
        Points with error bars (``Axes.errorbar``) instead of a line (``Axes.plot``).
    **style
        Matplotlib keywords, the same on both axes.

    Returns
    -------
    list
        The lines, or the error-bar containers, gain first.
    """
    freq = np.asarray(freq)
    pairs = [(ax_gain, gain, gain_se)]
    if ax_phase is not None and phase is not None:
        pairs.append((ax_phase, phase, phase_se))
    artists: list = []
    for ax, values, errors in pairs:
        if points:
            artists.append(ax.errorbar(freq, np.asarray(values), yerr=errors, **style))
        else:
            artists += ax.plot(freq, np.asarray(values), **style)
    return artists


def _first_harmonic(array: xr.DataArray) -> np.ndarray:
    """Values of harmonic 1 (or all values if ``array`` has no harmonic dim)."""
    return (array.sel(harmonic=1) if "harmonic" in array.dims else array).values


def _method_label(dataset: xr.Dataset, default: str) -> str:
    method = dataset.attrs.get("method", default)
    return METHOD_LABELS.get(method, method)


def plot_frequency_response(ax_gain, ax_phase, response: xr.Dataset, *,
                            population: str | None = None, reference: xr.Dataset | None = None,
                            label: str | None = None):
    """Bode plot: gain (log-log) and phase (rad, log frequency) of a frequency response.

    Theory (methods ``"analytic"`` and ``"linear"``) is drawn as a line; computed estimates
    (``"simulate"``, ``"broadband"``) as points, with error bars where the result has
    ``gain_se`` / ``phase_se``.

    Parameters
    ----------
    ax_gain, ax_phase : matplotlib.axes.Axes
    response : xarray.Dataset
        A :func:`neurorect.frequency_response` result.
    population : str, optional
        Which population (default: the driven one).
    reference : xarray.Dataset, optional
        Theory to compare with (e.g. the exact response on a dense grid), drawn as a line
        underneath.
    label : str, optional
        Legend label of the response (default: from its method, see :data:`METHOD_LABELS`;
        ``" (+- SE)"`` added when it has error bars).

    Returns
    -------
    list
        The matplotlib artists (the reference's first).
    """
    population = population or response.attrs.get("driven_population")
    artists = []
    if reference is not None:
        ref = reference.sel(population=population)
        artists += draw_bode(ax_gain, ax_phase, ref["freq"].values, ref["gain"].values,
                             _first_harmonic(ref["phase"]), color="0.3", lw=1.5,
                             label=_method_label(reference, "reference"))
    points = response.sel(population=population)
    errors = {name: _first_harmonic(points[f"{name}_se"]) if f"{name}_se" in points else None
              for name in ("gain", "phase")}
    if response.attrs.get("method") in THEORY_METHODS:
        artists += draw_bode(ax_gain, ax_phase, points["freq"].values, points["gain"].values,
                             _first_harmonic(points["phase"]), color="C0", lw=1.5,
                             label=label or _method_label(response, "theory"))
    else:
        text = label or _method_label(response, "response")
        if label is None and errors["gain"] is not None:
            text += " (+- SE)"
        artists += draw_bode(ax_gain, ax_phase, points["freq"].values, points["gain"].values,
                             _first_harmonic(points["phase"]), gain_se=errors["gain"],
                             phase_se=errors["phase"], points=True, fmt="o", ms=4, capsize=2,
                             color="C1", label=text)
    positive = np.asarray(points["gain"].values)
    positive = positive[np.isfinite(positive)]
    bode_axes(ax_gain, ax_phase, gain_label=f"gain ({points['gain'].attrs.get('units', '')})",
              log_gain=bool(positive.size and np.all(positive > 0)))
    ax_gain.legend(fontsize="small")
    return artists
