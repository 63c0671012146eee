"""A5 alpha is bought by noise: a leaky ReLU fitted to the LIF f-I curve, vs the noise sigma.

The LIF neuron of models/lif_matched.toml (tau_m 20 ms, v_th 20 mV, v_reset 10 mV, t_ref
2 ms; Brunel's convention, free membrane sd sigma/sqrt(2)) at noise sigma = 0..10 mV. A leaky
ReLU with baseline (:func:`neurorect.fit.fit_leaky_relu`) is fitted to its f-I curve over the
operating range mu = 10..30 mV: to the Siegert rate (lines, :func:`neurorect.fit.fit_siegert`)
and to Brian2 LIF f-I curves (points: the same unweighted fit, all conditions in one
:func:`neurorect.brian2_lif.simulate_lif` run, with parametric-bootstrap standard errors
from the rates' own standard errors).

Claim (correcting "alpha is the analogue of the membrane's leak currents"): the noise-free
LIF has a leak and is still silent below threshold, so its fitted alpha is 0; the
sub-threshold slope appears only with noise and grows with it (alpha ~ 0, 0.02, 0.09, 0.44,
0.70 at sigma = 1, 2, 3, 5, 8 mV), while the fitted threshold moves below v_th and a
positive baseline appears. The fitted alpha also depends on the fitting range (dashed in
panel b: range v_th +- 2 sigma, about 0.44 for any sigma >= 1 mV), so it describes the noise
relative to the operating range, not a membrane property.

    python analyses/alpha_from_noise.py [--quick] [--out DIR] [--figures DIR] [--neurons N]
"""

from __future__ import annotations

import _common
import numpy as np
import xarray as xr
from _common import ROOT, plt, variable

import neurorect as nr
from neurorect.brian2_lif import simulate_lif
from neurorect.fit import default_mu_range, fit_leaky_relu, fit_siegert, lif_parameters
from neurorect.lif import siegert_rate

NAME = "alpha_from_noise"
MU_RANGE = (0.010, 0.030)  # V, the operating range of the fit
N_POINTS = 41              # inputs of each f-I curve (Siegert and Brian2 alike)
PARAMS = ("alpha", "threshold", "baseline", "gain")
UNITS = {"alpha": "1", "threshold": "V", "baseline": "Hz", "gain": "Hz/V"}
#: f-I curves drawn in panel (a): sigma (V).
SHOWN = (0.0, 0.002, 0.005, 0.008)


def _siegert_fits(lif, sigmas: np.ndarray, mu_range=MU_RANGE) -> dict[str, np.ndarray]:
    """Fitted parameters (SI) of the Siegert curve at each sigma; ``None`` range: v_th +- 2s."""
    out = {name: np.empty(sigmas.size) for name in (*PARAMS, "rms")}
    for i, sigma in enumerate(sigmas):
        rng = default_mu_range(lif, sigma) if mu_range is None else mu_range
        transfer, info = fit_siegert(lif, rng, n_points=N_POINTS, sigma=sigma,
                                     full_output=True)
        for name in PARAMS:
            out[name][i] = getattr(transfer, name)
        out["rms"][i] = info.rms
    return out


def _fit(mu: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """The unweighted leaky-ReLU fit of one f-I curve: ``PARAMS`` values (SI)."""
    transfer = fit_leaky_relu(mu, rate)
    return np.array([getattr(transfer, name) for name in PARAMS])


def _brian2_fits(lif, sigmas: np.ndarray, n_neurons: int, duration: float,
                 n_boot: int) -> dict:
    """Unweighted fits of Brian2 f-I curves at each sigma, with bootstrap standard errors.

    ONE Brian2 run holds every (sigma, mu) condition. The estimate is the same unweighted fit
    as the Siegert line (so the two compare directly; a weighted fit answers a different
    question). Its standard error is a parametric bootstrap: the sd of ``n_boot`` refits of
    the curve plus Gaussian noise of the rates' own standard errors (``r0_se``, from disjoint
    neuron subsets). The fit is non-smooth in the data (the kink moves between inputs), and
    a jackknife was found to underestimate its spread up to 4x; the bootstrap does not rely
    on smoothness.
    """
    mu = np.linspace(*MU_RANGE, N_POINTS)
    grid_sigma, grid_mu = np.meshgrid(sigmas, mu, indexing="ij")
    result = simulate_lif(lif, duration, n_neurons=n_neurons, transient=0.2, seed=11,
                          conditions={"mu0": grid_mu.ravel(), "mu1": 0.0, "freq": 0.0,
                                      "sigma": grid_sigma.ravel()})
    rate = result["r0"].values.reshape(grid_mu.shape)
    rate_se = result["r0_se"].values.reshape(grid_mu.shape)
    rng = np.random.default_rng(2024)
    out = {"estimate": np.empty((sigmas.size, len(PARAMS))),
           "se": np.empty((sigmas.size, len(PARAMS))), "rate": rate, "rate_se": rate_se}
    for i in range(sigmas.size):
        out["estimate"][i] = _fit(mu, rate[i])
        boot = [_fit(mu, rate[i] + rate_se[i] * rng.standard_normal(mu.size))
                for _ in range(n_boot)]
        out["se"][i] = np.std(boot, axis=0, ddof=1)
    return out


def compute(quick: bool, n_neurons: int | None) -> xr.Dataset:
    lif = nr.load_model(ROOT / "models" / "lif_matched.toml").lif
    sigmas = np.linspace(0.0, 0.010, 11 if quick else 41)
    # no noise-free Brian2 point: identical deterministic neurons have no spread to estimate
    # an error from (the Siegert line is exact there)
    sigmas_b = np.array([0.005]) if quick else np.array([1.0, 2, 3, 5, 8]) * 1e-3
    n_neurons = n_neurons or (60 if quick else 240)  # per input
    fixed = _siegert_fits(lif, sigmas)
    scaled = _siegert_fits(lif, sigmas, mu_range=None)
    at_b = _siegert_fits(lif, sigmas_b)
    n_boot = 30 if quick else 60
    brian = _brian2_fits(lif, sigmas_b, n_neurons, 1.2 if quick else 2.2, n_boot)
    mu = np.linspace(*MU_RANGE, N_POINTS)
    mu_fine = np.linspace(*MU_RANGE, 201)
    curves = np.array([siegert_rate(mu_fine, s, **lif_parameters(lif)) for s in SHOWN])
    fitted = np.array([fit_siegert(lif, MU_RANGE, n_points=N_POINTS, sigma=s)(mu_fine)
                       for s in SHOWN])
    data = {}
    for name in PARAMS:
        unit, what = UNITS[name], f"fitted {name}"
        data[name] = variable(("sigma",), fixed[name], unit, f"{what} (Siegert, mu 10-30 mV)")
        data[f"{name}_scaled_range"] = variable(
            ("sigma",), scaled[name], unit, f"{what} (Siegert, mu = v_th +- 2 sigma)")
        data[f"{name}_siegert_at_brian2"] = variable(("sigma_brian2",), at_b[name], unit,
                                                     f"{what} (Siegert, at the Brian2 sigmas)")
        k = PARAMS.index(name)
        data[f"{name}_brian2"] = variable(("sigma_brian2",), brian["estimate"][:, k], unit,
                                          f"{what} (Brian2 LIF f-I curve)")
        data[f"{name}_brian2_se"] = variable(("sigma_brian2",), brian["se"][:, k], unit,
                                             f"bootstrap standard error of {what} (Brian2)")
    data["rms_siegert"] = variable(("sigma",), fixed["rms"], "Hz", "rms residual of the fit")
    data["rate_brian2"] = variable(("sigma_brian2", "mu"), brian["rate"], "Hz",
                                   "Brian2 LIF rate")
    data["rate_brian2_se"] = variable(("sigma_brian2", "mu"), brian["rate_se"], "Hz",
                                      "standard error of the Brian2 rate")
    data["siegert_curve"] = variable(("sigma_shown", "mu_fine"), curves, "Hz", "Siegert rate")
    data["fitted_curve"] = variable(("sigma_shown", "mu_fine"), fitted, "Hz",
                                    "fitted leaky ReLU")
    coords = {"sigma": ("sigma", sigmas, {"units": "V", "long_name": "LIF noise sigma"}),
              "sigma_brian2": ("sigma_brian2", sigmas_b, {"units": "V", "long_name": "sigma"}),
              "sigma_shown": ("sigma_shown", np.array(SHOWN), {"units": "V"}),
              "mu": ("mu", mu, {"units": "V", "long_name": "mean input"}),
              "mu_fine": ("mu_fine", mu_fine, {"units": "V", "long_name": "mean input"})}
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(n_neurons=n_neurons, n_boot=n_boot, v_th=lif.v_th, tau_m=lif.tau_m,
                    v_reset=lif.v_reset, t_ref=lif.t_ref)
    return ds


def _fi_panel(ax, ds: xr.Dataset) -> None:
    mv = 1e3
    for i, sigma in enumerate(ds["sigma_shown"].values):
        color = f"C{i}"
        ax.plot(ds["mu_fine"] * mv, ds["siegert_curve"][i], color=color,
                label=f"sigma = {sigma * mv:g} mV")
        ax.plot(ds["mu_fine"] * mv, ds["fitted_curve"][i], "--", color=color, lw=1.0)
        match = np.isclose(ds["sigma_brian2"].values, sigma)
        if match.any():
            j = int(np.argmax(match))
            ax.errorbar(ds["mu"] * mv, ds["rate_brian2"][j], ds["rate_brian2_se"][j], fmt="o",
                        color=color, mfc="white", ms=3.5, lw=0.8)
    ax.axvline(ds.attrs["v_th"] * mv, color="0.5", ls=":", lw=0.8)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.text(ds.attrs["v_th"] * mv + 0.2, 55, "v_th", color="0.4", fontsize=8)
    ax.set(xlabel="mean input mu (mV)", ylabel="rate (Hz)",
           title="(a) f-I curves: Siegert (solid), fitted leaky ReLU (dashed), Brian2 (points)")
    ax.legend(loc="upper left")


def draw(ds: xr.Dataset) -> plt.Figure:
    _common.style()
    figure, axes = plt.subplots(2, 2, figsize=(10.5, 7.2), layout="constrained")
    _fi_panel(axes[0, 0], ds)
    panels = (("alpha", axes[0, 1], 1.0, "fitted leak slope alpha",
               "(b) alpha: 0 without noise, growing with sigma"),
              ("threshold", axes[1, 0], 1e3, "fitted threshold (mV)",
               "(c) the fitted threshold moves below v_th"),
              ("baseline", axes[1, 1], 1.0, "fitted baseline (Hz, rate at threshold)",
               "(d) a baseline appears with the noise"))
    mv = 1e3
    for name, ax, scale, ylabel, title in panels:
        ax.plot(ds["sigma"] * mv, ds[name] * scale, color="C0",
                label="Siegert fit, mu 10-30 mV")
        if name == "alpha":
            ax.plot(ds["sigma"] * mv, ds[f"{name}_scaled_range"] * scale, "--", color="C0",
                    lw=1.0, label="Siegert fit, mu = v_th +- 2 sigma (range scaled with the "
                                  "noise)")
        ax.errorbar(ds["sigma_brian2"] * mv, ds[f"{name}_brian2"] * scale,
                    ds[f"{name}_brian2_se"] * scale, fmt="o", color="C3", mfc="white",
                    label=f"Brian2 LIF fit (+- bootstrap SE; {ds.attrs['n_neurons']} neurons "
                          "per input)")
        ax.set(xlabel="noise sigma (mV; free membrane sd sigma/sqrt 2)", ylabel=ylabel,
               title=title)
    axes[1, 0].axhline(ds.attrs["v_th"] * mv, color="0.5", ls=":", lw=0.8)
    axes[1, 0].text(0.2, ds.attrs["v_th"] * mv + 0.15, "LIF threshold v_th", fontsize=8,
                    color="0.4")
    axes[0, 1].set_ylim(-0.05, 1.0)
    axes[0, 1].legend(loc="upper left")
    figure.suptitle("Textbook: 'the leak slope alpha is the analogue of the membrane's leak "
                    "currents'. Measured: the noise-free LIF (which has a leak)\nis silent below "
                    "threshold (alpha = 0); alpha is bought by noise, relative to the input "
                    "range", fontsize=10)
    return figure


def summary(ds: xr.Dataset) -> list[dict]:
    rows = []
    for j, sigma in enumerate(ds["sigma_brian2"].values):
        row = {"sigma_mV": float(sigma * 1e3)}
        for name in ("alpha", "threshold", "baseline"):
            scale = 1e3 if name == "threshold" else 1.0
            suffix = "_mV" if name == "threshold" else ""
            row[f"{name}{suffix}_siegert"] = float(ds[f"{name}_siegert_at_brian2"][j] * scale)
            row[f"{name}{suffix}_brian2"] = float(ds[f"{name}_brian2"][j] * scale)
            row[f"{name}{suffix}_brian2_se"] = float(ds[f"{name}_brian2_se"][j] * scale)
        rows.append(row)
    return rows


def main(argv=None) -> xr.Dataset:
    return _common.run(NAME, __doc__, argv, compute=lambda a: compute(a.quick, a.neurons),
                       draw=draw, summary=summary,
                       extra=[(("--neurons",), {"type": int, "default": None,
                                                "help": "Brian2 neurons per input (default 240)"})],
                       attrs={"mu_low": MU_RANGE[0], "mu_high": MU_RANGE[1],
                              "n_points": N_POINTS})


if __name__ == "__main__":
    main()
