"""Figures of a rate-versus-spiking comparison (:func:`neurorect.crossval.compare`).

They draw what the result holds: the theory curves on the dense grids ``fine_freq`` and
``fine_mu`` where the result has them (LIF theory; the rate model when it was computed
exactly), else lines through the sampled values; the Brian2 points with their standard
errors.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurorect.plotting.bode import bode_axes, draw_bode

__all__ = ["plot_fi", "plot_crossval_bode"]

_STYLE = {"rate": dict(color="C2", ls="--", label="rate model"),
          "lif_theory": dict(color="C0", ls="-", label="LIF theory"),
          "lif_brian2": dict(color="C3", ls="none", marker="o", ms=4, capsize=2,
                             label="Brian2 LIF (+- SE)")}
#: Gains are drawn in Hz/mV (the result holds Hz/V), inputs in mV (the result holds V).
_HZ_PER_MV = 1e-3
_MV = 1e3


def _dense_or_sampled(result: xr.Dataset, source: str, dense: tuple[str, ...],
                      sampled: tuple[str, ...]) -> list[np.ndarray]:
    """The dense curves ``dense`` (grid first) of ``source`` if all finite, else ``sampled``
    sorted by its grid."""
    if all(name in result for name in dense):
        values = [result[dense[0]].values] + [result[name].sel(source=source).values
                                              for name in dense[1:]]
        if all(np.all(np.isfinite(v)) for v in values[1:]):
            return values
    grid = result[sampled[0]].values
    order = np.argsort(grid)
    return [grid[order]] + [result[name].sel(source=source).values[order]
                            for name in sampled[1:]]


def plot_fi(ax, result: xr.Dataset) -> list:
    """f-I curves of a :func:`~neurorect.crossval.compare` result with ``fi_mu``.

    Siegert and the rate model's transfer as lines (on ``fine_mu`` if the result has it),
    the Brian2 rates as points with their standard errors; input in mV, rate in Hz.
    Returns the artists.
    """
    if "fi_rate" not in result:
        raise ValueError("the result has no f-I curve: run compare(..., fi_mu=...)")
    labels = {"rate": "fitted leaky ReLU (rate model)", "lif_theory": "Siegert"}
    artists = []
    for source in ("lif_theory", "rate"):
        mu, rate = _dense_or_sampled(result, source, ("fine_mu", "fine_fi_rate"),
                                     ("mu", "fi_rate"))
        artists += ax.plot(mu * _MV, rate, **{**_STYLE[source], "label": labels[source]})
    brian2 = result.sel(source="lif_brian2")
    artists.append(ax.errorbar(result["mu"].values * _MV, brian2["fi_rate"].values,
                               yerr=brian2["fi_rate_se"].values, **_STYLE["lif_brian2"]))
    ax.set_xlabel("mean input mu (mV)")
    ax.set_ylabel("rate (Hz)")
    ax.legend(fontsize="small")
    return artists


def plot_crossval_bode(ax_gain, ax_phase, result: xr.Dataset) -> list:
    """Gain (Hz/mV, log-log) and phase (rad) against frequency for the three sources.

    LIF theory and the rate model as lines (on ``fine_freq`` where the result has finite
    curves, else through the sampled frequencies); the Brian2 points carry their standard
    errors. Returns the artists.
    """
    artists = []
    for source in ("lif_theory", "rate"):
        freq, gain, phase = _dense_or_sampled(result, source,
                                              ("fine_freq", "fine_gain", "fine_phase"),
                                              ("freq", "gain", "phase"))
        artists += draw_bode(ax_gain, ax_phase, freq, gain * _HZ_PER_MV, phase,
                             **_STYLE[source])
    brian2 = result.sel(source="lif_brian2")
    artists += draw_bode(ax_gain, ax_phase, result["freq"].values,
                         brian2["gain"].values * _HZ_PER_MV, brian2["phase"].values,
                         gain_se=brian2["gain_se"].values * _HZ_PER_MV,
                         phase_se=brian2["phase_se"].values, points=True,
                         **_STYLE["lif_brian2"])
    bode_axes(ax_gain, ax_phase, gain_label="gain (Hz/mV)", freq_label="frequency (Hz)")
    ax_gain.legend(fontsize="small")
    return artists
