"""A4 dead units: sub-threshold gain vs I0 and alpha, its negative-rate cost, and the remedy.

A leaky-ReLU rate neuron (gain 10 Hz per drive unit, threshold 0, tau 10 ms, rate form)
under ``I(t) = I0 + I1 sin(2 pi f t)``, I1 = 0.5, f = 5 Hz, for I0 across the threshold.
Claim: a drive that stays below threshold (I0 < -I1) leaves a ReLU (alpha = 0) silent and
insensitive (gain exactly 0, a "dead" unit) while a leak slope keeps the gain at
``alpha gain |H|``, ``H = 1/(1 + i 2 pi f tau)``; the price is a NEGATIVE mean rate
``alpha gain I0`` below threshold. A baseline ``b`` and clipping at 0 Hz remove the cost and
keep the full sub-threshold gain while the drive stays above the clip point, i.e. down to
``I0 = I1 - b/(alpha gain)``. Lines: exact theory
(:func:`neurorect.theory.sinusoid_response`); points: one batched simulation per transfer
(streamed mean and first harmonic).

    python analyses/dead_units.py [--quick] [--out DIR] [--figures DIR]
"""

from __future__ import annotations

import _common
import numpy as np
import xarray as xr
from _common import plt, variable

import neurorect as nr
from neurorect.theory import sinusoid_response

NAME = "dead_units"
GAIN, TAU, I1, FREQ = 10.0, 0.01, 0.5, 5.0
BASELINE = 5.0  # Hz, the remedy's rate at threshold
ALPHAS = (0.0, 0.05, 0.2, 0.5)
VARIANTS = {
    "plain": {"baseline": 0.0, "rate_min": -np.inf},
    "baseline_clipped": {"baseline": BASELINE, "rate_min": 0.0},
}


def _transfer(variant: str) -> nr.LeakyReLU:
    opts = VARIANTS[variant]
    return nr.LeakyReLU(GAIN, 0.0, 0.0, baseline=opts["baseline"], rate_min=opts["rate_min"])


def _simulate(variant: str, I0: np.ndarray, duration: float) -> xr.Dataset:
    """Mean rate and first-harmonic gain of every (alpha, I0) in one batched run."""
    drive = nr.Drive(I0=0.0, I1=I1, freq=FREQ)
    model = nr.single_population(_transfer(variant), tau=TAU, drive=drive, dt=1e-4,
                                 duration=duration, transient=0.2, record="none")
    alpha_grid, I0_grid = np.meshgrid(ALPHAS, I0, indexing="ij")
    result = nr.simulate(model, batch={"populations.E.transfer.alpha": alpha_grid.ravel(),
                                       "drives.E.I0": I0_grid.ravel()})
    shape = alpha_grid.shape
    r0 = result["r0"].values.reshape(shape)
    gain = result["amplitude"].sel(harmonic=1).values.reshape(shape) / I1
    return xr.Dataset({"sim_r0": (("alpha", "I0_sim"), r0),
                       "sim_gain": (("alpha", "I0_sim"), gain)})


def compute(quick: bool) -> xr.Dataset:
    I0_line = np.linspace(-3.0, 1.0, 401)
    I0_sim = np.linspace(-3.0, 1.0, 9 if quick else 21)
    duration = 1.2 if quick else 3.2  # 5 or 15 periods after the 0.2 s transient
    parts = []
    for variant in VARIANTS:
        exact = sinusoid_response(_transfer(variant), I0_line, I1, FREQ, tau=TAU,
                                  form="rate", n_harmonics=1, alpha=np.array(ALPHAS))
        exact = exact.isel(freq=0, harmonic=0, drop=True)
        sim = _simulate(variant, I0_sim, duration)
        parts.append(xr.Dataset({
            "r0": variable(("alpha", "I0"), exact["r0"].transpose("alpha", "I0").values,
                           "Hz", "exact mean rate"),
            "gain": variable(("alpha", "I0"), exact["gain"].transpose("alpha", "I0").values,
                             "Hz/drive unit", "exact first-harmonic gain A1/I1"),
            "sim_r0": variable(("alpha", "I0_sim"), sim["sim_r0"].values, "Hz",
                               "simulated mean rate"),
            "sim_gain": variable(("alpha", "I0_sim"), sim["sim_gain"].values,
                                 "Hz/drive unit", "simulated first-harmonic gain"),
        }))
    ds = xr.concat(parts, dim="variant")
    return ds.assign_coords(
        variant=("variant", list(VARIANTS), {"long_name": "transfer variant"}),
        alpha=("alpha", np.array(ALPHAS), {"units": "1", "long_name": "leak slope"}),
        I0=("I0", I0_line, {"units": "drive units", "long_name": "mean drive"}),
        I0_sim=("I0_sim", I0_sim, {"units": "drive units", "long_name": "mean drive"}))


def draw(ds: xr.Dataset) -> plt.Figure:
    _common.style()
    figure, axes = plt.subplots(2, 2, figsize=(10, 6.4), sharex=True, layout="constrained")
    lowpass = 1.0 / np.hypot(1.0, 2 * np.pi * FREQ * TAU)
    titles = {"plain": "leaky ReLU, no baseline",
              "baseline_clipped": f"remedy: baseline {BASELINE:g} Hz, clipped at 0 Hz"}
    for col, variant in enumerate(VARIANTS):
        sel = ds.sel(variant=variant)
        ax_gain, ax_rate = axes[0, col], axes[1, col]
        for i, alpha in enumerate(ds["alpha"].values):
            line = sel.sel(alpha=alpha)
            color = f"C{i}"
            ax_gain.plot(ds["I0"], line["gain"], color=color, label=f"alpha = {alpha:g}")
            ax_gain.plot(ds["I0_sim"], line["sim_gain"], "o", color=color, mfc="white")
            ax_rate.plot(ds["I0"], line["r0"], color=color)
            ax_rate.plot(ds["I0_sim"], line["sim_r0"], "o", color=color, mfc="white")
        for ax in (ax_gain, ax_rate):
            ax.axvspan(-3.0, -I1, color="0.92", zorder=-2, lw=0)
            ax.axvline(0.0, color="0.5", lw=0.8, ls=":")
        ax_gain.text(-2.95, GAIN * lowpass * 0.97, "drive always below threshold\n"
                     "(I0 < threshold - I1)", va="top", fontsize=8, color="0.35")
        ax_gain.set(title=titles[variant], ylabel="gain A1/I1 (Hz per drive unit)",
                    ylim=(-0.3, GAIN * lowpass * 1.05))
        ax_rate.axhline(0.0, color="k", lw=0.8)
        ax_rate.set(xlabel="mean drive I0 (drive units; threshold at 0)",
                    ylabel="mean rate r0 (Hz)", xlim=(-3.0, 1.0))
    axes[0, 0].annotate("alpha = 0: gain exactly 0\n(a dead unit)", xy=(-1.6, 0.0),
                        xytext=(-1.9, 2.6), fontsize=8,
                        arrowprops={"arrowstyle": "->", "color": "C0"}, color="C0")
    low = float(ds["r0"].sel(variant="plain").min())
    axes[1, 0].axhspan(low * 1.1, 0.0, color="C3", alpha=0.08, lw=0)
    axes[1, 0].text(-1.45, low * 0.92, "negative rates (unphysical):\nr0 = alpha gain I0 "
                    "below threshold", fontsize=8, color="C3", va="bottom")
    knee = I1 - BASELINE / (0.2 * GAIN)
    axes[0, 1].annotate(f"alpha = 0.2 keeps its gain down to\nI0 = I1 - b/(alpha gain) = {knee:g}",
                        xy=(knee, 0.2 * GAIN * lowpass), xytext=(-2.6, 4.2), fontsize=8,
                        color="C2", arrowprops={"arrowstyle": "->", "color": "C2"})
    handles, labels = axes[0, 0].get_legend_handles_labels()
    axes[1, 1].legend(handles, labels, loc="upper left", title="lines: exact; circles: simulated",
                      title_fontsize=8)
    for ax, letter in zip(axes.flat, "abcd", strict=True):
        ax.set_title(f"({letter})", loc="left", fontweight="bold")
    figure.suptitle("Dead units: below threshold a ReLU is silent and insensitive (a); a leak "
                    "slope keeps the gain at the cost of negative rates (c);\na baseline and "
                    "clipping at 0 Hz remove the cost and keep the gain above the clip point "
                    "(b, d)", fontsize=10)
    return figure


def summary(ds: xr.Dataset) -> list[dict]:
    """Key numbers: sub-threshold gain and mean rate at I0 = -1 (drive always below)."""
    rows = []
    lowpass = 1.0 / np.hypot(1.0, 2 * np.pi * FREQ * TAU)
    for variant in VARIANTS:
        for alpha in ds["alpha"].values:
            point = ds.sel(variant=variant, alpha=alpha).sel(I0_sim=-1.0, I0=-1.0,
                                                             method="nearest")
            rows.append({"variant": variant, "alpha": float(alpha), "I0": -1.0,
                         "gain_exact": float(point["gain"]),
                         "gain_sim": float(point["sim_gain"]),
                         "gain_alpha_gain_H": float(alpha * GAIN * lowpass),
                         "r0_exact": float(point["r0"]), "r0_sim": float(point["sim_r0"])})
    return rows


def main(argv=None) -> xr.Dataset:
    return _common.run(NAME, __doc__, argv, compute=lambda a: compute(a.quick),
                       draw=draw, summary=summary,
                       attrs={"gain": GAIN, "tau": TAU, "I1": I1, "freq": FREQ,
                              "baseline": BASELINE, "threshold": 0.0})


if __name__ == "__main__":
    main()
