"""A9 a table of Gaussian-input statistics across the rectifier family.

Every transfer (gain 1 Hz per drive unit, threshold 0 unless stated) under input
x ~ N(0, 1): mean, second moment, variance, skewness of phi(x), mean and CV of the slope
phi'(x), the fraction below threshold, the smallest slope, and the gain that keeps the second
moment (the weight-variance factor of "He" initialisation), from
:func:`neurorect.theory.gaussian_stats` (exact for the leaky-ReLU family, quadrature
otherwise). Each is checked against a Monte Carlo average of phi over 4 million normal
samples (``results`` file: ``mc_*`` and their SEs).

The textbook statements the table corrects or confirms:

* "ReLU halves the variance, hence weight variance 2/fan_in": the SECOND MOMENT halves
  (E[ReLU^2] = s^2/2); the variance is s^2 (1/2 - 1/(2 pi)) = 0.341 s^2; the preserving gain
  is 2, and 2/(1 + alpha^2) for the leaky ReLU (panel c);
* ReLU skews a symmetric input (skewness 1.6406), alpha = 1 does not (0);
* "PReLU with alpha ~ 0.5 has the least gradient noise": the slope CV is
  (1 - alpha)/(1 + alpha), monotone, so alpha = 1 is best and 0.5 is not special (panel b);
* "GELU never has a zero gradient for negative input": false, GELU'(-0.7518) = 0 (the
  minimum of GELU) and GELU' < 0 below it, down to -0.1289 at -sqrt(2);
* the option-pricing identity: E[ReLU(x - K)] is the Bachelier call price
  s pdf(d) + (mu - K) Phi(d), d = (mu - K)/s (row "ReLU, threshold 0.5").

    python analyses/gaussian_table.py [--quick] [--out DIR] [--figures DIR]
"""

from __future__ import annotations

import _common
import numpy as np
import xarray as xr
from _common import plt, variable

import neurorect as nr
from neurorect.theory import gaussian_moment, gaussian_stats

NAME = "gaussian_table"
FAMILY = (
    ("ReLU", nr.ReLU(1.0)),
    ("leaky ReLU, alpha 0.01", nr.LeakyReLU(1.0, 0.0, 0.01)),
    ("leaky ReLU, alpha 0.1", nr.LeakyReLU(1.0, 0.0, 0.1)),
    ("leaky ReLU, alpha 0.5", nr.LeakyReLU(1.0, 0.0, 0.5)),
    ("linear (alpha 1)", nr.LeakyReLU(1.0, 0.0, 1.0)),
    ("ReLU clipped at 1 Hz", nr.ReLU(1.0, rate_max=1.0)),
    ("ReLU, threshold 0.5", nr.ReLU(1.0, 0.5)),
    ("softplus, sharpness 1", nr.Softplus(1.0, 0.0, 1.0)),
    ("ELU, alpha 1", nr.ELU(1.0, 0.0, 1.0)),
    ("GELU", nr.GELU(1.0)),
    ("sigmoid, slope 4", nr.Sigmoid(1.0, 0.0, 4.0)),
    ("power law u^2", nr.PowerLaw(1.0, 0.0, 2.0)),
)
COLUMNS = (  # (variable, header, format)
    ("mean_rate", "E[phi]", "{:.4f}"), ("second_moment", "E[phi^2]", "{:.4f}"),
    ("variance", "Var[phi]", "{:.4f}"), ("skewness", "skew", "{:.4f}"),
    ("gain", "E[phi']", "{:.4f}"), ("slope_cv", "CV[phi']", "{:.4f}"),
    ("below_threshold", "P(x<thr)", "{:.3f}"), ("min_slope", "min phi' on [-6,6]", "{:.4f}"),
    ("preserving_gain", "1/E[phi^2]", "{:.4f}"),
)
MU, S = 0.0, 1.0
#: Grid on which the smallest slope is located (drive units): spacing 1e-5.
SLOPE_GRID = np.linspace(-6.0, 6.0, 1_200_001)


def _monte_carlo(n_samples: int) -> dict[str, np.ndarray]:
    """Sample means (and SEs) of phi, phi^2 and phi' over x ~ N(MU, S^2), per transfer."""
    x = MU + S * np.random.default_rng(12).standard_normal(n_samples)
    out = {key: np.empty(len(FAMILY)) for key in
           ("mc_mean_rate", "mc_mean_rate_se", "mc_second_moment", "mc_second_moment_se",
            "mc_gain", "mc_gain_se")}
    root = np.sqrt(n_samples)
    for i, (_, transfer) in enumerate(FAMILY):
        for key, values in (("mean_rate", transfer(x)), ("second_moment", transfer(x) ** 2),
                            ("gain", transfer.derivative(x))):
            out[f"mc_{key}"][i] = values.mean()
            out[f"mc_{key}_se"][i] = values.std() / root
    return out


def compute(quick: bool) -> xr.Dataset:
    names = [label for label, _ in FAMILY]
    stats = xr.concat([gaussian_stats(t, MU, S) for _, t in FAMILY], dim="transfer",
                      coords="minimal", compat="override")
    slopes = [np.asarray(t.derivative(SLOPE_GRID)) for _, t in FAMILY]
    stats["min_slope"] = variable(("transfer",), [s.min() for s in slopes], "Hz/drive unit",
                                  "smallest slope phi' (on a grid of step 1e-5)")
    stats["argmin_slope"] = variable(("transfer",), [SLOPE_GRID[np.argmin(s)] for s in slopes],
                                     "drive units", "input of the smallest slope")
    negative = [SLOPE_GRID[s < 0].max() if np.any(s < 0) else np.nan for s in slopes]
    stats["zero_slope"] = variable(("transfer",), negative, "drive units",
                                   "largest input with phi' < 0 (grid step 1e-5)")
    stats["preserving_gain"] = variable(("transfer",), 1.0 / stats["second_moment"].values,
                                        "1", "S^2 / E[phi^2]: gain keeping the second moment")
    for key, values in _monte_carlo(400_000 if quick else 4_000_000).items():
        base = key.removeprefix("mc_").removesuffix("_se")
        stats[key] = variable(("transfer",), values, stats[base].attrs.get("units", "1"),
                              f"Monte Carlo {key.removeprefix('mc_')}")
    alphas = np.linspace(0.0, 1.0, 101)
    sweep = gaussian_stats(nr.ReLU(1.0), MU, S, alpha=alphas)
    stats["cv_vs_alpha"] = variable(("alpha",), sweep["slope_cv"].values, "1",
                                    "CV of phi' (leaky ReLU)")
    stats["gain_vs_alpha"] = variable(("alpha",), 1.0 / sweep["second_moment"].values, "1",
                                      "second-moment-preserving gain (leaky ReLU)")
    shown = np.linspace(0.0, 1.0, 6)
    x = np.random.default_rng(3).standard_normal(400_000 if quick else 2_000_000)
    mc_cv, mc_gain = [], []
    for alpha in shown:
        transfer = nr.LeakyReLU(1.0, 0.0, alpha)
        slope = transfer.derivative(x)
        mc_cv.append(slope.std() / slope.mean())
        mc_gain.append(1.0 / np.mean(transfer(x) ** 2))
    stats["mc_cv_vs_alpha"] = variable(("alpha_mc",), mc_cv, "1", "Monte Carlo CV of phi'")
    stats["mc_gain_vs_alpha"] = variable(("alpha_mc",), mc_gain, "1",
                                         "Monte Carlo preserving gain")
    stats["bachelier_check"] = variable(
        (), gaussian_moment(nr.ReLU(1.0, 0.5), MU, S, 1), "Hz",
        "E[ReLU(x - 0.5)], to compare with the Bachelier price")
    return stats.assign_coords(transfer=("transfer", names),
                               alpha=("alpha", alphas, {"units": "1"}),
                               alpha_mc=("alpha_mc", shown, {"units": "1"}))


def _table(ax, ax_note, ds: xr.Dataset) -> None:
    cells = [[fmt.format(float(ds[name][i])) if np.isfinite(ds[name][i]) else "-"
              for name, _, fmt in COLUMNS] for i in range(ds.sizes["transfer"])]
    table = ax.table(cellText=cells, rowLabels=list(ds["transfer"].values),
                     colLabels=[header for _, header, _ in COLUMNS], loc="center",
                     cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1.0, 1.25)
    highlight = {("ReLU", "second_moment"), ("ReLU", "variance"), ("ReLU", "skewness"),
                 ("GELU", "min_slope"), ("ReLU, threshold 0.5", "mean_rate"),
                 ("ReLU", "preserving_gain")}
    names = list(ds["transfer"].values)
    columns = [name for name, _, _ in COLUMNS]
    for row, column in highlight:
        table[names.index(row) + 1, columns.index(column)].set_facecolor("#fde3c8")
    ax.axis("off")
    ax.set_title("(a) x ~ N(0, 1), gain 1 Hz per drive unit, threshold 0 (shaded: the "
                 "textbook statements checked)", fontsize=9, loc="left")
    bachelier = float(ds["bachelier_check"])
    ax_note.axis("off")
    ax_note.text(0.0, 0.5, "Shaded: E[ReLU^2] = s^2/2 (the second moment halves); Var = s^2 "
                   "(1/2 - 1/(2 pi)) = 0.3408 s^2; skewness 1.6406;\nReLU(x - 0.5): E = the "
                   f"Bachelier price pdf(0.5) - 0.5 Phi(-0.5) = {bachelier:.4f}; GELU's "
                   "negative slope. Smooth members' min phi' is their value at the grid edge.",
                   transform=ax_note.transAxes, fontsize=7.5, va="center")


def draw(ds: xr.Dataset) -> plt.Figure:
    _common.style()
    figure = plt.figure(figsize=(11.5, 8.0), layout="constrained")
    grid = figure.add_gridspec(3, 2, height_ratios=[1.25, 0.1, 1.0])
    _table(figure.add_subplot(grid[0, :]), figure.add_subplot(grid[1, :]), ds)
    ax_cv, ax_gain = figure.add_subplot(grid[2, 0]), figure.add_subplot(grid[2, 1])
    alpha, shown = ds["alpha"].values, ds["alpha_mc"].values
    ax_cv.plot(alpha, ds["cv_vs_alpha"], color="C0", label="exact (gaussian_stats)")
    ax_cv.plot(alpha, (1 - alpha) / (1 + alpha), "k--", lw=1.0, label="(1 - alpha)/(1 + alpha)")
    ax_cv.plot(shown, ds["mc_cv_vs_alpha"], "o", color="C3", mfc="white",
               label="Monte Carlo (SE below marker size)")
    ax_cv.axvline(0.5, color="0.6", ls=":", lw=0.8)
    ax_cv.text(0.51, 0.8, "alpha = 0.5:\nnothing special", fontsize=8, color="0.4")
    ax_cv.set(xlabel="leak slope alpha", ylabel="CV of the slope phi'(x)",
              title="(b) gradient noise falls monotonically with alpha")
    ax_cv.legend(loc="lower left")
    ax_gain.plot(alpha, ds["gain_vs_alpha"], color="C0", label="1 / E[phi^2] (exact)")
    ax_gain.plot(alpha, 2 / (1 + alpha**2), "k--", lw=1.0, label="2 / (1 + alpha^2)")
    ax_gain.plot(shown, ds["mc_gain_vs_alpha"], "o", color="C3", mfc="white",
                 label="Monte Carlo")
    relu = list(ds["transfer"].values).index("ReLU")
    ax_gain.axhline(1.0 / float(ds["variance"][relu]), color="C1", ls=":", lw=1.0)
    ax_gain.text(0.02, 1.0 / float(ds["variance"][relu]) + 0.03,
                 "1 / Var[ReLU] = 2.93: NOT what keeps the signal (the variance is not "
                 "halved)", fontsize=7.5, color="C1")
    ax_gain.set(xlabel="leak slope alpha", ylabel="weight-variance gain",
                title="(c) the gain that keeps E[phi^2]: 2 for ReLU, 2/(1 + alpha^2)",
                ylim=(0.8, 3.2))
    ax_gain.legend(loc="lower left")
    gelu = list(ds["transfer"].values).index("GELU")
    figure.suptitle("Gaussian-input statistics across the rectifier family (exact; checked "
                    "against Monte Carlo). 'Variance halves': no, the second moment does.\n"
                    "'GELU never has a zero gradient': GELU' = 0 at "
                    f"{float(ds['zero_slope'][gelu]):.4f} and < 0 below, down to "
                    f"{float(ds['min_slope'][gelu]):.4f} at "
                    f"{float(ds['argmin_slope'][gelu]):.4f} (= -sqrt 2)", fontsize=10)
    return figure


def summary(ds: xr.Dataset) -> list[dict]:
    rows = []
    for i, label in enumerate(ds["transfer"].values):
        row = {"transfer": str(label)}
        row.update({header: float(ds[name][i]) for name, header, _ in COLUMNS})
        rows.append(row)
    return rows


def main(argv=None) -> xr.Dataset:
    return _common.run(NAME, __doc__, argv, compute=lambda a: compute(a.quick),
                       draw=draw, summary=summary,
                       attrs=dict(mu=MU, s=S))


if __name__ == "__main__":
    main()
