"""Brunel's phase diagram of model A: mean-field theory over g x eta, Brian2 at four states.

Mean field (neurorect.lif.mean_field, one vectorised sweep over the grid): the
self-consistent rate, and the stability of the asynchronous state with the delay D = 1.5 ms
(both input channels; the boundary is where the leading eigenvalue crosses Re = 0, its
frequency the oscillation's). Brian2 (neurorect.brian2_lif.simulate_network) at Brunel's
four example states: asynchronous irregular (AI, g = 5, eta = 2), synchronous regular (SR,
g = 3, eta = 2), synchronous irregular fast (SI fast, g = 6, eta = 4) and slow (SI slow,
g = 4.5, eta = 0.9). Figure and netCDF results; Brian2 compiles on first use.

    .venv/bin/python analyses/brunel_phase_diagram.py [--out analyses/output] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from neurorect import _progress, lif  # noqa: E402
from neurorect.brian2_lif import simulate_network  # noqa: E402
from neurorect.io import save  # noqa: E402
from neurorect.spec_lif import LIFNetwork  # noqa: E402

STATES = {"AI": (5.0, 2.0), "SR": (3.0, 2.0), "SI fast": (6.0, 4.0), "SI slow": (4.5, 0.9)}


def theory(n_g: int, n_eta: int) -> xr.Dataset:
    grid = {"lif_network.g": np.linspace(3.0, 8.0, n_g),
            "lif_network.eta": np.linspace(0.5, 4.0, n_eta)}
    with _progress.phase(f"mean field on {n_g} x {n_eta} states"):
        return lif.mean_field(LIFNetwork(), grid=grid, step=0.25, n_eigenvalues=1)


def brian2_states(duration: float, transient: float) -> dict[str, xr.Dataset]:
    out = {}
    for name, (g, eta) in STATES.items():
        net = LIFNetwork(g=g, eta=eta)
        with _progress.phase(f"Brian2 {name} (g = {g:g}, eta = {eta:g})"):
            out[name] = simulate_network(net, duration, transient=transient, seed=1,
                                         target="cython", progress=False)
    return out


def leading(ds: xr.Dataset) -> xr.Dataset:
    """The state drawn: the only solution, else the lowest-rate stable one, else the first."""
    n = ds["n_solutions"]
    stable = ds["stable"].fillna(0.0)
    first_stable = stable.argmax("solution")
    pick = xr.where((n > 1) & (stable.max("solution") > 0), first_stable, 0)
    return ds.isel(solution=pick)


def population_rate(run: xr.Dataset, t0: float, width: float, bin_width: float = 5e-4):
    t = run["spike_time"].values
    edges = np.arange(t0, t0 + width + bin_width / 2, bin_width)
    counts, _ = np.histogram(t, bins=edges)
    n = int(run["n_neurons"].sum())
    return edges[:-1], counts / (n * bin_width)


def figure(mf: xr.Dataset, runs: dict[str, xr.Dataset], path: Path) -> None:
    state = leading(mf)
    g, eta = mf["g"].values, mf["eta"].values
    rate = state["r0"].sel(population="E").values.T  # (eta, g)
    growth = state["max_growth_rate"].values.T
    fig = plt.figure(figsize=(12, 8.5), layout="constrained")
    grid = fig.add_gridspec(2, 4, height_ratios=[1.6, 1.0])
    ax = fig.add_subplot(grid[0, :3])
    dg, de = g[1] - g[0], eta[1] - eta[0]
    edges_g = np.concatenate([g - dg / 2, [g[-1] + dg / 2]])
    edges_e = np.concatenate([eta - de / 2, [eta[-1] + de / 2]])
    norm = LogNorm(vmin=0.1, vmax=500.0)
    mesh = ax.pcolormesh(edges_g, edges_e, np.clip(rate, 0.1, None), norm=norm,
                         cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax, label="mean-field rate (Hz)")
    contour = ax.contour(g, eta, growth, levels=[0.0], colors="white", linewidths=2)
    ax.clabel(contour, fmt={0.0: "stability boundary"}, fontsize=8)
    unstable = np.ma.masked_where(growth < 0, np.ones_like(growth))
    ax.contourf(g, eta, unstable, levels=[0.5, 1.5], colors="none", hatches=["//"])
    multi = (state["n_solutions"].values.T > 1)
    if np.any(multi):
        ax.contour(g, eta, multi.astype(float), levels=[0.5], colors="orange",
                   linestyles="--", linewidths=1.5)
    for name, (gs, es) in STATES.items():
        run = runs.get(name)
        label = name if run is None else f"{name}\nBrian2 {float(run['r0'].mean()):.3g} Hz"
        ax.plot(gs, es, "o", ms=9, mfc="white", mec="black", mew=1.5)
        ax.annotate(label, (gs, es), xytext=(8, 6), textcoords="offset points", fontsize=8,
                    color="white", fontweight="bold")
    ax.set(xlabel="relative inhibition g", ylabel="external drive eta = nu_ext / nu_thr",
           title="model A, D = 1.5 ms: mean-field rate; hatched: asynchronous state unstable "
                 "(both channels); dashed orange: several solutions")
    ax_f = fig.add_subplot(grid[0, 3])
    freq = state["max_growth_freq"].where(np.isfinite(state["max_growth_freq"]))
    near = np.abs(state["max_growth_rate"]) < 60.0
    for i in range(eta.size):
        mask = near.values[:, i] & np.isfinite(freq.values[:, i])
        ax_f.plot(g[mask], np.abs(freq.values[mask, i]), ".", color=plt.cm.plasma(i / eta.size))
    ax_f.set(xlabel="g", ylabel="frequency of the leading root (Hz)",
             title="near the boundary (|Re| < 60/s)\ncolour: eta (dark low, light high)")
    ax_f.grid(alpha=0.3)
    for k, (name, run) in enumerate(runs.items()):
        a = fig.add_subplot(grid[1, k])
        t0 = float(run.attrs["duration"]) - 0.1
        t, r = population_rate(run, t0, 0.1)
        a.plot((t - t0) * 1e3, r, lw=0.8, color="C0")
        gs, es = STATES[name]
        point = leading(mf.sel(g=gs, eta=es, method="nearest"))
        a.axhline(float(point["r0"][0]), color="C1", ls="--", lw=1, label="mean field")
        a.set(xlabel="time (ms)", ylabel="population rate (Hz)" if k == 0 else None,
              title=f"{name}: g = {gs:g}, eta = {es:g}\nBrian2 {float(run['r0'].mean()):.3g} Hz,"
                    f" CV {float(run['cv'].mean()):.2f}, sync {float(run['synchrony'].mean()):.3g}")
        a.legend(fontsize=7, loc="upper right")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="analyses/output", help="output folder")
    parser.add_argument("--quick", action="store_true",
                        help="a coarse grid and short Brian2 runs (a smoke run)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_g, n_eta = (11, 8) if args.quick else (26, 22)
    mf = theory(n_g, n_eta)
    runs = brian2_states(0.35 if args.quick else 1.2, 0.15 if args.quick else 0.4)
    summary = xr.Dataset(
        {"brian2_r0": (("state", "population"), np.array([r["r0"].values for r in runs.values()])),
         "brian2_cv": (("state", "population"), np.array([r["cv"].values for r in runs.values()])),
         "brian2_synchrony": (("state", "population"),
                              np.array([r["synchrony"].values for r in runs.values()]))},
        coords={"state": list(runs), "population": ["E", "I"],
                "state_g": ("state", [STATES[s][0] for s in runs]),
                "state_eta": ("state", [STATES[s][1] for s in runs])})
    for name in summary.data_vars:
        summary[name].attrs = {"units": "Hz" if "r0" in name else "1", "long_name": name}
    save(mf, out / "brunel_phase_diagram.nc")
    save(summary, out / "brunel_phase_diagram_brian2.nc")
    figure(mf, runs, out / "brunel_phase_diagram.png")
    print(f"wrote {out / 'brunel_phase_diagram.png'} and the results beside it")


if __name__ == "__main__":
    main()
