"""Figures of a rate-versus-spiking comparison (:func:`neurorect.crossval.compare`)."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from neurorect import lif as lif_theory

__all__ = ["plot_fi", "plot_crossval_bode"]


_STYLE = {"rate": dict(color="C2", ls="--", label="rate model"),
          "lif_theory": dict(color="C0", ls="-", label="LIF theory"),
          "lif_brian2": dict(color="C3", ls="none", marker="o", ms=4, capsize=2,
                             label="Brian2 LIF (+- SE)")}


def _from_attrs(result: xr.Dataset):
    """(LIF keyword arguments, sigma, rate transfer) from a compare() result's attrs, or None."""
    attrs = result.attrs
    try:
        from neurorect.transfer import transfer_from_dict

        kwargs = {key: float(attrs[key]) for key in ("tau_m", "v_th", "v_reset", "t_ref")}
        transfer = transfer_from_dict(json.loads(attrs["rate_transfer"]))
        return kwargs, float(attrs["sigma"]), transfer
    except (KeyError, TypeError, ValueError):
        return None


def plot_fi(ax, result: xr.Dataset) -> list:
    """f-I curves of a :func:`compare` result with ``fi_mu``: Brian2, Siegert, rate model.

    Siegert and the rate model's transfer are drawn densely from the result's attrs (the LIF
    parameters and the transfer), else through the sampled inputs. Returns the artists.
    """
    if "fi_rate" not in result:
        raise ValueError("the result has no f-I curve: run compare(..., fi_mu=...)")
    mu = result["mu"].values
    parts = _from_attrs(result)
    if parts is not None:
        kwargs, sigma, transfer = parts
        fine = np.linspace(mu.min(), mu.max(), 400)
        curves = {"lif_theory": np.asarray(lif_theory.siegert_rate(fine, sigma, **kwargs)),
                  "rate": np.asarray(transfer(fine), dtype=float)}
    else:
        fine = mu
        curves = {src: result["fi_rate"].sel(source=src).values for src in ("lif_theory",
                                                                           "rate")}
    labels = {"rate": "fitted leaky ReLU (rate model)", "lif_theory": "Siegert"}
    artists = []
    for source in ("lif_theory", "rate"):
        artists += ax.plot(fine * 1e3, curves[source],
                           **{**_STYLE[source], "label": labels[source]})
    artists.append(ax.errorbar(mu * 1e3, result["fi_rate"].sel(source="lif_brian2").values,
                               yerr=result["fi_rate_se"].sel(source="lif_brian2").values,
                               **_STYLE["lif_brian2"]))
    ax.set_xlabel("mean input mu (mV)")
    ax.set_ylabel("rate (Hz)")
    ax.legend(fontsize="small")
    return artists


def plot_crossval_bode(ax_gain, ax_phase, result: xr.Dataset) -> list:
    """Gain (Hz/mV, log-log) and phase (rad) against frequency for the three sources.

    LIF theory (and the rate model, when it was computed analytically) are drawn on a dense
    frequency grid from the result's attrs; the Brian2 points carry their standard errors.
    """
    f = result["freq"].values
    order = np.argsort(f)
    curves = {src: (f[order], result["gain"].sel(source=src).values[order],
                    result["phase"].sel(source=src).values[order])
              for src in ("lif_theory", "rate")}
    parts = _from_attrs(result)
    if parts is not None and f.size > 1:
        kwargs, sigma, transfer = parts
        fine = np.geomspace(f.min(), f.max(), 200)
        chi = lif_theory.susceptibility(fine, float(result.attrs["mu0"]), sigma, **kwargs)
        curves["lif_theory"] = (fine, np.abs(chi), np.angle(chi))
        if result.attrs.get("rate_method") == "analytic":
            from neurorect.theory import sinusoid_response

            rate = sinusoid_response(transfer, float(result.attrs["mu0"]),
                                     float(result.attrs["mu1"]), fine,
                                     tau=float(result.attrs["rate_tau"]),
                                     form=str(result.attrs["rate_form"]), n_harmonics=1)
            curves["rate"] = (fine, rate["gain"].values,
                              rate["phase"].sel(harmonic=1).values)
    artists = []
    for source in ("lif_theory", "rate"):
        x, gain, phase = curves[source]
        artists += ax_gain.plot(x, gain * 1e-3, **_STYLE[source])
        artists += ax_phase.plot(x, phase, **_STYLE[source])
    b = result.sel(source="lif_brian2")
    artists.append(ax_gain.errorbar(f, b["gain"].values * 1e-3, yerr=b["gain_se"].values * 1e-3,
                                    **_STYLE["lif_brian2"]))
    artists.append(ax_phase.errorbar(f, b["phase"].values, yerr=b["phase_se"].values,
                                     **_STYLE["lif_brian2"]))
    ax_gain.set_xscale("log")
    ax_gain.set_yscale("log")
    ax_phase.set_xscale("log")
    ax_gain.set_ylabel("gain (Hz/mV)")
    ax_phase.set_ylabel("phase (rad)")
    ax_phase.set_xlabel("frequency (Hz)")
    ax_gain.legend(fontsize="small")
    return artists
