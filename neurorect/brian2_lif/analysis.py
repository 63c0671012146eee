r"""From spikes to the result schema: harmonics per condition, split standard errors.

The spike trains of a run are analysed by :func:`neurorect.fourier.spike_harmonics`, the
same code as for any other spike train, one group per condition. No Brian2 here.

Spike times
-----------
Brian2 stamps a spike with the start ``t_n`` of the step in which the crossing was detected
(the crossing happened in ``(t_n, t_n + dt]``); Euler evaluates the drive at ``t_n``, which
delays it by ``dt / 2`` on average against the exact integral over the step. The two half
steps cancel to first order, so the stamps are used as they are (no phase bias of order
``f dt``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurorect import fourier
from neurorect._schema import attrs
from neurorect.brian2_lif.conditions import CONDITION_ATTRS

__all__ = ["split_errors", "analyse", "add_run_data"]


def split_errors(spike_time, spike_neuron, n_per: int, n_cond: int, n_splits: int, *,
                 freq, t_start, t_stop, n_harmonics: int):
    """Standard errors from ``n_splits`` disjoint subsets of each condition's neurons.

    The neurons of a condition are independent and identically driven, so the subsets give
    independent, identically distributed estimates; the pooled estimate is their average
    weighted by subset size ``w_k = N_k / N``, with variance
    ``sum_k w_k (x_k - x)^2 / (K - 1)`` (unbiased when ``var x_k`` is inversely proportional
    to ``N_k``; the usual ``var / K`` for equal subsets).

    Returns
    -------
    (ndarray, ndarray, ndarray)
        Standard errors of ``r0`` (condition,), Hz; of the amplitudes (condition,
        harmonic), Hz; of the phases (condition, harmonic), rad (delta method). NaN with
        fewer than 2 subsets.
    """
    k = min(n_splits, n_per)
    if k < 2:
        nan = np.full(n_cond, np.nan)
        return nan, np.full((n_cond, n_harmonics), np.nan), np.full((n_cond, n_harmonics),
                                                                     np.nan)
    neuron = np.arange(n_per * n_cond)
    fine = (neuron // n_per) * k + (neuron % n_per) % k
    sub = fourier.spike_harmonics(spike_time, spike_neuron, freq=np.repeat(freq, k),
                                  t_start=t_start, t_stop=t_stop,
                                  group=fine, n_harmonics=n_harmonics, n_blocks=None)
    size = sub["n_neurons"].values.reshape(n_cond, k).astype(float)
    weight = size / size.sum(axis=1, keepdims=True)
    r0 = sub["r0"].values.reshape(n_cond, k)
    z = fourier.complex_coefficient(sub).values.reshape(n_cond, k, n_harmonics)
    r0_mean = (weight * r0).sum(axis=1)
    r0_se = np.sqrt((weight * (r0 - r0_mean[:, None]) ** 2).sum(axis=1) / (k - 1))
    z_mean = (weight[..., None] * z).sum(axis=1)
    d = z - z_mean[:, None, :]
    w = weight[..., None] / (k - 1)
    vxx = (w * d.real**2).sum(axis=1)
    vyy = (w * d.imag**2).sum(axis=1)
    vxy = (w * d.real * d.imag).sum(axis=1)
    amp_se, phase_se = fourier.amplitude_phase_se(np.abs(z_mean), np.angle(z_mean), vxx,
                                                   vyy, vxy)
    return r0_se, amp_se, phase_se


def analyse(raw: dict, cond: dict[str, np.ndarray], *, n_per: int, t_start: float,
            t_stop: float, n_harmonics: int, n_splits: int) -> xr.Dataset:
    """Harmonics per condition through fourier.spike_harmonics, with split standard errors.

    Conditions without a sinusoid (``freq == 0``) get NaN amplitude and phase, and those
    with ``mu1 == 0`` too a NaN gain; ``gain = A_1 / mu1`` (Hz/V).
    """
    n_cond = cond["mu0"].size
    periodic = cond["freq"] > 0
    # conditions without a sinusoid are analysed over the whole window as one "period":
    # their r0 is what matters; amplitude and phase are set to NaN below
    analysis_freq = np.where(periodic, cond["freq"], 1.0 / (t_stop - t_start))
    group = np.repeat(np.arange(n_cond), n_per)
    pooled = fourier.spike_harmonics(raw["spike_time"], raw["spike_neuron"],
                                     freq=analysis_freq, t_start=t_start, t_stop=t_stop,
                                     group=group, n_harmonics=n_harmonics, n_blocks=None)
    r0_se, amp_se, phase_se = split_errors(
        raw["spike_time"], raw["spike_neuron"], n_per, n_cond, n_splits, freq=analysis_freq,
        t_start=t_start, t_stop=t_stop, n_harmonics=n_harmonics)
    ds = pooled.drop_vars(["r0_se", "amplitude_se", "phase_se"])
    split_text = f"({min(n_splits, n_per)} disjoint neuron subsets)"
    ds["r0_se"] = ("condition", r0_se, attrs("Hz", f"standard error of r0 {split_text}"))
    ds["amplitude_se"] = (("condition", "harmonic"), amp_se,
                          attrs("Hz", f"standard error of amplitude {split_text}, delta method"))
    ds["phase_se"] = (("condition", "harmonic"), phase_se,
                      attrs("rad", f"standard error of phase {split_text}, delta method"))
    flat = ~periodic
    for name in ("amplitude", "phase", "amplitude_se", "phase_se", "amplitude_se_shot",
                 "phase_se_shot"):
        values = ds[name].values.copy()
        values[flat] = np.nan
        ds[name].values = values
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = periodic & (cond["mu1"] > 0)
        scale = np.where(usable, 1.0 / np.where(usable, cond["mu1"], 1.0), np.nan)
    ds["gain"] = ("condition", ds["amplitude"].sel(harmonic=1).values * scale,
                  attrs("Hz/V", "gain A_1 / mu1"))
    ds["gain_se"] = ("condition", ds["amplitude_se"].sel(harmonic=1).values * scale,
                     attrs("Hz/V", f"standard error of gain {split_text}"))
    ds = ds.rename_vars({"freq": "analysis_freq"})
    ds["analysis_freq"].attrs = attrs("Hz", "frequency whose whole periods set the window "
                                            "(1/window for conditions without a sinusoid)")
    return ds


def add_run_data(ds: xr.Dataset, raw: dict, cond: dict[str, np.ndarray],
                 v_threshold: np.ndarray, n_per: int) -> xr.Dataset:
    """Add the conditions (coordinates), the spikes and any recorded potentials to ``ds``."""
    n_cond = cond["mu0"].size
    for key in ("mu0", "mu1", "freq", "sigma"):
        ds = ds.assign_coords({key: ("condition", cond[key], attrs(*CONDITION_ATTRS[key]))})
    ds = ds.assign_coords(
        drive_phase=("condition", cond["phase"], attrs(*CONDITION_ATTRS["phase"])),
        v_threshold=("condition", v_threshold, attrs("V", "threshold applied on the time grid")),
        neuron=("neuron", np.arange(n_cond * n_per), attrs("1", "neuron index")),
    )
    ds["neuron_condition"] = ("neuron", np.repeat(np.arange(n_cond), n_per),
                              attrs("1", "condition of each neuron"))
    ds["spike_time"] = ("spike", raw["spike_time"],
                        attrs("s", "spike time (start of the step of the crossing)"))
    ds["spike_neuron"] = ("spike", raw["spike_neuron"], attrs("1", "neuron of each spike"))
    if "v" in raw:
        ds = ds.assign_coords(time=("time", raw["v_time"], attrs("s", "time")))
        ds["v"] = (("time", "neuron"), raw["v"].T, attrs("V", "membrane potential"))
    return ds
