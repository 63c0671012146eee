"""A3 contraction bound vs actual stability vs runaway in random recurrent networks.

One population of N = 120 leaky-ReLU units (gain 1 Hz per drive unit, threshold 0, tau
10 ms, rate form), coupling ``W_ij ~ N(0, g^2/N)`` (no autapses), constant drive I0 = 0.5,
over the coupling gain g and the leak slope alpha, unbounded or clipped to |r| <= 1 Hz. At
every point: :func:`neurorect.stability.stability_report` (the contraction bound
``||diag(Lip) W||_2``, the leading eigenvalue of ``D W`` at the fixed point, the mean-field
radius ``g sqrt(E[phi'^2])``), :func:`neurorect.stability.fixed_points` (distinct fixed
points from several random starts) and :func:`neurorect.stability.lyapunov_exponent`
(growth of small perturbations of a run: stable, chaotic, runaway or marginal).

Claims: the contraction bound (~2 g, since ||W||_2 -> 2 g) guarantees a unique, globally
stable fixed point only for g < 1/2; the real edge is where the leading eigenvalue of D W
crosses 1, which the mean-field radius ``g sqrt(E[phi'^2])`` predicts (loose by ~2x, as
SCIENCE.md says); beyond it an unbounded rectifier runs away and a clipped one becomes
chaotic (bounded, positive Lyapunov exponent).

    python analyses/recurrent_stability.py [--quick] [--out DIR] [--figures DIR]
"""

from __future__ import annotations

import warnings

import _common
import numpy as np
import xarray as xr
from _common import plt, variable

import neurorect as nr
from neurorect.spec import Connection, Model, Population, Simulation
from neurorect.stability import fixed_points, lyapunov_exponent, stability_report
from neurorect.theory import depth_fixed_point

NAME = "recurrent_stability"
I0, TAU = 0.5, 0.01
CONFIGS = (  # (label, transfer)
    ("ReLU", nr.ReLU(1.0)),
    ("leaky ReLU, alpha 0.5", nr.LeakyReLU(1.0, 0.0, 0.5)),
    ("ReLU clipped at 1 Hz", nr.ReLU(1.0, rate_max=1.0)),
    ("leaky ReLU alpha 0.5, clipped to +-1 Hz",
     nr.LeakyReLU(1.0, 0.0, 0.5, rate_min=-1.0, rate_max=1.0)),
)
REGIMES = ("stable", "marginal", "chaotic", "runaway")
MARKERS = {"stable": "o", "marginal": "D", "chaotic": "*", "runaway": "^"}


def _network(transfer, g: float, size: int, seed: int) -> Model:
    population = Population("E", TAU, transfer, size=size, init=I0)
    coupling = Connection("EE", "E", "E", kind="gaussian", g=g, seed=seed)
    return Model(populations=(population,), drives={"E": nr.Drive(I0=I0)},
                 connections=(coupling,), name="random_network",
                 simulation=Simulation(dt=5e-4, duration=2.0, record="none"))


def _point(transfer, g: float, size: int, n_starts: int) -> dict:
    model = _network(transfer, g, size, seed=3)
    report = stability_report(model)
    with warnings.catch_warnings():  # NaN exponents are reported as such, with the regime
        warnings.simplefilter("ignore")
        found = fixed_points(model, n_starts=n_starts, seed=1)
        lyapunov = lyapunov_exponent(model, seed=2)
    return {"contraction_bound": float(report["contraction_bound"]),
            "leading_eigenvalue": float(report["leading_eigenvalue"]),
            "radius_estimate": float(report["radius_estimate"]),
            "radius_mean_field": float(report["radius_mean_field"]),
            "linearly_stable": float(report["stable"]),
            "converged": float(report["converged"]),
            "n_unique": float(found["n_unique"]), "n_failed": float(found["n_failed"]),
            "exponent": float(lyapunov["exponent"]),
            "exponent_se": float(lyapunov["exponent_se"]),
            "regime": REGIMES.index(str(lyapunov["regime"].values))}


def compute(quick: bool) -> xr.Dataset:
    gains = np.array([0.25, 1.0, 1.75, 2.5]) if quick else np.array(
        [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0])
    size, n_starts = (60, 3) if quick else (120, 4)
    rows = [[_point(transfer, g, size, n_starts) for g in gains] for _, transfer in CONFIGS]
    units = {"contraction_bound": "1", "leading_eigenvalue": "1", "radius_estimate": "1",
             "radius_mean_field": "1", "linearly_stable": "1", "converged": "1",
             "n_unique": "1",
             "n_failed": "1", "exponent": "1/s", "exponent_se": "1/s", "regime": "1"}
    names = {"regime": "regime index into " + ", ".join(REGIMES)}
    data = {key: variable(("config", "g"), [[row[key] for row in config] for config in rows],
                          unit, names.get(key, key.replace("_", " ")))
            for key, unit in units.items()}
    fine = np.linspace(0.05, 3.0, 60)
    mean_field = np.array([np.sqrt(depth_fixed_point(t, weight_var=fine**2, bias_mean=I0)
                                   ["chi_star"].values) for _, t in CONFIGS])
    data["radius_mean_field_line"] = variable(("config", "g_fine"), mean_field, "1",
                                              "g sqrt(E[phi'^2]) at the mean-field q*")
    return xr.Dataset(data, coords={
        "config": ("config", [label for label, _ in CONFIGS]),
        "g": ("g", gains, {"units": "1", "long_name": "coupling gain g"}),
        "g_fine": ("g_fine", fine, {"units": "1"})},
        attrs={"size": size, "n_starts": n_starts, "I0": I0, "tau": TAU,
               "regimes": ", ".join(REGIMES)})


def draw(ds: xr.Dataset) -> plt.Figure:
    _common.style()
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.8), layout="constrained")
    g = ds["g"].values
    offsets = np.linspace(-0.045, 0.045, ds.sizes["config"])
    for i, label in enumerate(ds["config"].values):
        color = f"C{i}"
        line = ds["radius_mean_field_line"].values[i]
        axes[0].plot(ds["g_fine"], line, color=color, lw=1.2)
        converged = ds["converged"].values[i] > 0
        axes[0].plot(g[converged], ds["leading_eigenvalue"].values[i][converged], "o",
                     color=color, mfc="white", label=str(label))
        regime = ds["regime"].values[i].astype(int)
        for r, name in enumerate(REGIMES):
            pick = regime == r
            axes[1].plot(g[pick], ds["exponent"].values[i][pick], MARKERS[name], color=color,
                         ms=9 if name == "chaotic" else 5,
                         mfc="white" if name == "stable" else color)
        axes[1].plot(g, ds["exponent"][i], "-", color=color, lw=0.6, alpha=0.6)
        axes[2].plot(g + offsets[i], ds["n_unique"][i], "o", color=color, mfc="white")
    axes[0].plot(g, ds["contraction_bound"].values[0], "k:", lw=1.4,
                 label="contraction bound ||W||_2 (Lip = 1)")
    axes[0].plot([], [], "-", color="0.3", label="mean field g sqrt(E[phi'^2]) (lines)")
    axes[0].axhline(1.0, color="k", lw=0.8)
    axes[0].axvline(0.5, color="0.5", lw=0.8, ls="--")
    axes[0].text(0.55, 0.15, "bound < 1 only for g < 1/2", fontsize=7.5, color="0.35")
    axes[0].set(xlabel="coupling gain g", ylabel="leading eigenvalue of D W at the fixed point",
                title="(a) the bound vs the real edge (eigenvalue 1)", ylim=(0, 3.6))
    axes[0].legend(loc="upper left", fontsize=7)
    axes[1].axhline(0.0, color="k", lw=0.8)
    for name in REGIMES:
        axes[1].plot([], [], MARKERS[name], color="0.3",
                     mfc="white" if name == "stable" else "0.3", label=name)
    axes[1].set(xlabel="coupling gain g", ylabel="largest Lyapunov exponent (1/s)",
                title="(b) measured: stable, then runaway or chaos")
    axes[1].legend(loc="upper left", title="regime of the run (colours as in a)")
    axes[2].set(xlabel="coupling gain g",
                ylabel=f"distinct fixed points reached from {ds.attrs['n_starts']} starts",
                title="(c) uniqueness, counted", ylim=(-0.3, ds.attrs["n_starts"] + 0.3))
    axes[2].set_yticks(np.arange(ds.attrs["n_starts"] + 1))
    axes[2].text(0.2, 0.15, "0: none reached (the runs run away or stay chaotic)",
                 fontsize=7.5, color="0.35")
    figure.suptitle(f"Random recurrent networks (N = {ds.attrs['size']}, I0 = "
                    f"{ds.attrs['I0']:g}): the contraction bound (~2g) is loose by ~2x; the "
                    "edge is where the leading eigenvalue of D W reaches 1,\npredicted by "
                    "g sqrt(E[phi'^2]); beyond it unbounded rectifiers run away (mean-field "
                    "q* = inf) and the clipped leaky ReLU turns chaotic", fontsize=10)
    return figure


def summary(ds: xr.Dataset) -> list[dict]:
    rows = _common.grid_rows(ds.drop_dims("g_fine"), {
        name: name for name in ("contraction_bound", "leading_eigenvalue", "radius_mean_field",
                                "exponent", "regime", "n_unique")})
    for row in rows:  # the regime by name
        row["regime"] = REGIMES[int(row["regime"])]
    return rows


def main(argv=None) -> xr.Dataset:
    return _common.run(NAME, __doc__, argv, compute=lambda a: compute(a.quick),
                       draw=draw, summary=summary)


if __name__ == "__main__":
    main()
