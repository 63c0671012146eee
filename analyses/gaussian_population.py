"""A1 sparsity and mean shift of a Gaussian-input population vs mu/s and alpha.

Populations of independent leaky-ReLU units (gain 1 Hz per drive unit, threshold 0, tau
10 ms, rate form), each with its own Ornstein-Uhlenbeck input noise (stationary sd s = 1,
correlation time 10 ms) on a constant mean mu, so each unit's input is x ~ N(mu, s^2). One
batched :func:`neurorect.simulate` call (``record="none"``, ``unit_stats=True``) holds every
(mu, alpha) population; the engine streams each unit's fraction of steps below threshold
and its mean rate.

Claims: the fraction of the time a unit is below threshold is ``Phi(-mu/s)`` (one half at
mu = 0, any s: "half the units are off" holds, and for alpha > 0 "off" means a small
NEGATIVE rate, not silence); the rectifier shifts the mean rate to
``E[phi] = gain [s pdf(mu/s) + mu Phi(mu/s)] (1 - alpha) + gain alpha mu``, which is
``(1 - alpha) gain s / sqrt(2 pi)`` at mu = 0. Lines: :func:`neurorect.theory.gaussian_stats`
(exact); points: population means with standard errors over units (each unit's time
average is one independent sample).

    python analyses/gaussian_population.py [--quick] [--out DIR] [--figures DIR]
"""

from __future__ import annotations

import _common
import numpy as np
import xarray as xr
from _common import plt, variable

import neurorect as nr
from neurorect.theory import gaussian_stats

NAME = "gaussian_population"
GAIN, TAU, S, NOISE_TAU = 1.0, 0.010, 1.0, 0.010
ALPHAS = (0.0, 0.2, 0.5)


def compute(quick: bool) -> xr.Dataset:
    ratio = np.linspace(-2.5, 2.5, 5 if quick else 11)  # mu / s
    size = 500 if quick else 1500
    drive = nr.Drive(I0=0.0, noise=nr.Noise("ou", sigma=S, tau=NOISE_TAU))
    model = nr.single_population(nr.LeakyReLU(GAIN, 0.0, 0.0), tau=TAU, size=size,
                                 drive=drive, dt=5e-4, duration=1.2 if quick else 2.7,
                                 transient=0.2, record="none", seed=5)
    alpha_grid, mu_grid = np.meshgrid(ALPHAS, ratio * S, indexing="ij")
    seeds = 1000 + np.arange(alpha_grid.size)  # independent noise for every point
    result = nr.simulate(model, unit_stats=True, progress=False,
                         batch={"populations.E.transfer.alpha": alpha_grid.ravel(),
                                "drives.E.I0": mu_grid.ravel(), "simulation.seed": seeds})
    shape = (*alpha_grid.shape, size)
    below = result["fraction_below_threshold"].values.reshape(shape)
    rate = result["r0"].values.reshape(shape)
    theory = gaussian_stats(nr.LeakyReLU(GAIN, 0.0, 0.0), ratio * S, S,
                            alpha=np.array(ALPHAS)).transpose("alpha", "mu")
    fine = np.linspace(-3.0, 3.0, 241)
    curves = gaussian_stats(nr.LeakyReLU(GAIN, 0.0, 0.0), fine * S, S,
                            alpha=np.array(ALPHAS)).transpose("alpha", "mu")
    root_n = np.sqrt(size)
    return xr.Dataset(
        {"sim_below": variable(("alpha", "ratio"), below.mean(-1), "1",
                               "simulated fraction of time below threshold"),
         "sim_below_se": variable(("alpha", "ratio"), below.std(-1, ddof=1) / root_n, "1",
                                  "its standard error over units"),
         "sim_rate": variable(("alpha", "ratio"), rate.mean(-1), "Hz",
                              "simulated mean rate"),
         "sim_rate_se": variable(("alpha", "ratio"), rate.std(-1, ddof=1) / root_n, "Hz",
                                 "its standard error over units"),
         "theory_below": variable(("alpha", "ratio"), theory["below_threshold"].values, "1",
                                  "Phi(-mu/s)"),
         "theory_rate": variable(("alpha", "ratio"), theory["mean_rate"].values, "Hz",
                                 "E[phi(x)]"),
         "curve_below": variable(("fine",), curves["below_threshold"].values[0], "1",
                                 "Phi(-mu/s)"),
         "curve_rate": variable(("alpha", "fine"), curves["mean_rate"].values, "Hz",
                                "E[phi(x)]")},
        coords={"alpha": ("alpha", np.array(ALPHAS), {"units": "1", "long_name": "leak slope"}),
                "ratio": ("ratio", ratio, {"units": "1", "long_name": "mu / s"}),
                "fine": ("fine", fine, {"units": "1", "long_name": "mu / s"})},
        attrs={"gain": GAIN, "s": S, "tau": TAU, "noise_tau": NOISE_TAU, "units": size,
               "dt": 5e-4})


def draw(ds: xr.Dataset) -> plt.Figure:
    _common.style()
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
    ratio, fine = ds["ratio"].values, ds["fine"].values
    ax = axes[0]
    ax.plot(fine, ds["curve_below"], "k-", label="Phi(-mu/s)")
    offsets = np.linspace(-0.06, 0.06, ds.sizes["alpha"])
    for i, alpha in enumerate(ds["alpha"].values):
        ax.errorbar(ratio + offsets[i], ds["sim_below"][i], 3 * ds["sim_below_se"][i],
                    fmt="o", color=f"C{i}", mfc="white", label=f"simulated, alpha = {alpha:g}")
    ax.axhline(0.5, color="0.6", ls=":", lw=0.8)
    ax.set(xlabel="mean input / input sd  (mu / s)", ylabel="fraction of time below threshold",
           title="(a) sparsity: P(x < threshold) = Phi(-mu/s)")
    ax.legend(loc="upper right")
    ax = axes[1]
    for i, alpha in enumerate(ds["alpha"].values):
        ax.plot(fine, ds["curve_rate"][i], color=f"C{i}", label=f"alpha = {alpha:g}")
        ax.errorbar(ratio, ds["sim_rate"][i], 3 * ds["sim_rate_se"][i], fmt="o",
                    color=f"C{i}", mfc="white")
        at_zero = (1 - alpha) * ds.attrs["gain"] * ds.attrs["s"] / np.sqrt(2 * np.pi)
        ax.plot([0.0], [at_zero], "x", color="k", ms=7, zorder=5)
    ax.plot([], [], "x", color="k", label="(1 - alpha) gain s / sqrt(2 pi)")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.text(-2.9, -0.25, "alpha > 0: units below threshold\nfire NEGATIVE rates, not zero",
            fontsize=7.5, color="C1", va="top")
    ax.set(xlabel="mu / s", ylabel="mean rate E[phi(x)] (Hz; gain 1 Hz per unit, s = 1)",
           title="(b) the mean shift")
    ax.legend(loc="upper left", title="lines: exact; circles: simulated", title_fontsize=8)
    ax = axes[2]
    for i in range(ds.sizes["alpha"]):
        z_below = (ds["sim_below"][i] - ds["theory_below"][i]) / ds["sim_below_se"][i]
        z_rate = (ds["sim_rate"][i] - ds["theory_rate"][i]) / ds["sim_rate_se"][i]
        ax.plot(ratio - 0.05, z_below, "o", color=f"C{i}", mfc="white")
        ax.plot(ratio + 0.05, z_rate, "s", color=f"C{i}")
    ax.plot([], [], "o", color="0.4", mfc="white", label="fraction below threshold")
    ax.plot([], [], "s", color="0.4", label="mean rate (colours: alpha as in b)")
    ax.axhspan(-3, 3, color="0.92", lw=0, zorder=-2)
    ax.axhline(0.0, color="0.5", lw=0.7)
    ax.set(xlabel="mu / s", ylabel="(simulated - exact) / SE", ylim=(-4.5, 4.5),
           title="(c) every point within 3 SE (grey band)")
    ax.legend(loc="lower left")
    figure.suptitle(f"A Gaussian-input population ({ds.attrs['units']} units per point, "
                    "error bars 3 SE): half the units are below threshold at mu = 0, and "
                    "the rectifier shifts the mean rate", fontsize=10)
    return figure


def summary(ds: xr.Dataset) -> list[dict]:
    return _common.grid_rows(ds.drop_dims("fine"), {
        "below_sim": "sim_below", "below_se": "sim_below_se", "below_exact": "theory_below",
        "rate_sim_Hz": "sim_rate", "rate_se_Hz": "sim_rate_se", "rate_exact_Hz": "theory_rate"})


def main(argv=None) -> xr.Dataset:
    return _common.run(NAME, __doc__, argv, compute=lambda a: compute(a.quick),
                       draw=draw, summary=summary)


if __name__ == "__main__":
    main()
