"""Bode figures: gain and phase against frequency of a frequency-response result."""

from __future__ import annotations

import xarray as xr

__all__ = ["plot_frequency_response"]


def plot_frequency_response(ax_gain, ax_phase, response: xr.Dataset, *,
                            population: str | None = None, reference: xr.Dataset | None = None,
                            label: str | None = None):
    """Bode plot: gain (log-log) and phase (rad, log frequency) of a frequency response.

    Parameters
    ----------
    ax_gain, ax_phase : matplotlib.axes.Axes
    response : xarray.Dataset
        A :func:`neurorect.frequency_response` result; points carry error bars when it has
        ``gain_se`` / ``phase_se``.
    population : str, optional
        Which population (default: the driven one).
    reference : xarray.Dataset, optional
        Another result (e.g. the exact curve on a dense grid) drawn as a line underneath.
    label : str, optional
        Legend label of the points (default: the method).

    Returns
    -------
    list
        The matplotlib artists.
    """
    population = population or response.attrs.get("driven_population")
    artists = []
    if reference is not None:
        ref = reference.sel(population=population)
        freq = ref["freq"].values
        name = f"{reference.attrs.get('method', 'reference')}"
        artists += ax_gain.plot(freq, ref["gain"].values, color="0.3", lw=1.5, label=name)
        artists += ax_phase.plot(freq, ref["phase"].sel(harmonic=1).values, color="0.3",
                                 lw=1.5, label=name)
    points = response.sel(population=population)
    freq = points["freq"].values
    gain_se = points["gain_se"].values if "gain_se" in points else None
    phase_se = points["phase_se"].sel(harmonic=1).values if "phase_se" in points and \
        "harmonic" in points["phase_se"].dims else (points["phase_se"].values
                                                    if "phase_se" in points else None)
    name = label or response.attrs.get("method", "response")
    style = dict(fmt="o", ms=4, capsize=2, color="C1", label=name)
    artists.append(ax_gain.errorbar(freq, points["gain"].values, yerr=gain_se, **style))
    artists.append(ax_phase.errorbar(freq, points["phase"].sel(harmonic=1).values,
                                     yerr=phase_se, **style))
    ax_gain.set_xscale("log")
    ax_gain.set_yscale("log")
    ax_phase.set_xscale("log")
    ax_gain.set_ylabel(f"gain ({points['gain'].attrs.get('units', '')})")
    ax_phase.set_ylabel("phase (rad)")
    ax_phase.set_xlabel("drive frequency (Hz)")
    ax_gain.legend(fontsize="small")
    return artists
