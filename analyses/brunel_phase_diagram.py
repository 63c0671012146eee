"""Brunel's phase diagram of model A: mean-field theory over g x eta, Brian2 at four states.

Mean field (neurorect.lif.mean_field, one vectorised sweep over the grid): the
self-consistent rate, and the stability of the asynchronous state with the delay D = 1.5 ms
(both input channels; the boundary is where the leading eigenvalue crosses Re = 0, its
frequency the oscillation's). Brian2 (neurorect.brian2_lif.simulate_network) at Brunel's
four example states: asynchronous irregular (AI, g = 5, eta = 2), synchronous regular (SR,
g = 3, eta = 2), synchronous irregular fast (SI fast, g = 6, eta = 4) and slow (SI slow,
g = 4.5, eta = 0.9). Figure and netCDF results; Brian2 compiles on first use.

    .venv/bin/python analyses/brunel_phase_diagram.py [--quick] [--out DIR] [--figures DIR]
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
from neurorect.io import save, write_atomic  # noqa: E402
from neurorect.spec_lif import LIFNetwork  # noqa: E402

STATES = {"AI": (5.0, 2.0), "SR": (3.0, 2.0), "SI fast": (6.0, 4.0), "SI slow": (4.5, 0.9)}


def theory(quick: bool) -> xr.Dataset:
    """The mean field on the grid: eta is dense around 0.8-1.2, where the rate rises steeply
    out of the quiescent state and the slow oscillation (SI slow) lives."""
    g = np.linspace(3.0, 8.0, 11 if quick else 26)
    eta = (np.linspace(0.5, 4.0, 8) if quick else
           np.concatenate([[0.5, 0.65], np.linspace(0.78, 1.2, 15), np.linspace(1.35, 4.0, 11)]))
    with _progress.phase(f"mean field on {g.size} x {eta.size} states"):
        return lif.mean_field(LIFNetwork(), grid={"lif_network.g": g, "lif_network.eta": eta},
                              step=0.25, n_eigenvalues=1)


def _edges(x: np.ndarray) -> np.ndarray:
    """Cell edges of a (possibly irregular) grid: midpoints, the ends mirrored."""
    mid = 0.5 * (x[1:] + x[:-1])
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


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
    unstable = state["stable"].values.T == 0.0
    fig = plt.figure(figsize=(14, 9.5), layout="constrained")
    rows = fig.add_gridspec(2, 1, height_ratios=[1.55, 1.0])
    top = rows[0].subgridspec(1, 2, width_ratios=[2.6, 1.0])
    ax = fig.add_subplot(top[0])
    mesh = ax.pcolormesh(_edges(g), _edges(eta), np.clip(rate, 0.1, None),
                         norm=LogNorm(vmin=0.1, vmax=500.0), cmap="viridis", shading="flat")
    fig.colorbar(mesh, ax=ax, label="mean-field rate (Hz)")
    with plt.rc_context({"hatch.color": "white", "hatch.linewidth": 0.8}):
        ax.contourf(g, eta, unstable.astype(float), levels=[0.5, 1.5], colors="none",
                    hatches=["//"])
    ax.contour(g, eta, unstable.astype(float), levels=[0.5], colors="white", linewidths=2)
    multi = state["n_solutions"].values.T > 1
    if np.any(multi):
        ax.contour(g, eta, multi.astype(float), levels=[0.5], colors="orange",
                   linestyles="--", linewidths=1.5)
    for name, (gs, es) in STATES.items():
        run = runs.get(name)
        label = name if run is None else f"{name}: Brian2 {float(run['r0'].mean()):.3g} Hz"
        ax.plot(gs, es, "o", ms=9, mfc="white", mec="black", mew=1.5)
        ax.annotate(label, (gs, es), xytext=(8, 6), textcoords="offset points", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                          "alpha": 0.85})
    ax.set(xlabel="relative inhibition g", ylabel="external drive eta = nu_ext / nu_thr",
           title="mean-field rate; white line, hatched: the asynchronous state is unstable; "
                 "orange dashes: several solutions")
    ax.title.set_fontsize(9.5)
    ax_f = fig.add_subplot(top[1])
    freq = state["max_growth_freq"].values
    near = (np.abs(state["max_growth_rate"].values) < 60.0) & np.isfinite(freq)
    points = ax_f.scatter(np.repeat(g[:, None], eta.size, axis=1)[near], np.abs(freq[near]),
                          c=np.repeat(eta[None, :], g.size, axis=0)[near], cmap="plasma",
                          s=14, vmin=eta.min(), vmax=eta.max())
    fig.colorbar(points, ax=ax_f, label="eta")
    ax_f.set(yscale="log", xlabel="relative inhibition g",
             ylabel="frequency of the leading root (Hz)",
             title="near the boundary (|Re lambda| < 60/s)")
    ax_f.grid(alpha=0.3, which="both")
    bottom = rows[1].subgridspec(1, max(len(runs), 1))
    for k, (name, run) in enumerate(runs.items()):
        a = fig.add_subplot(bottom[k])
        t0 = float(run.attrs["duration"]) - 0.1
        t, r = population_rate(run, t0, 0.1)
        a.plot((t - t0) * 1e3, r, lw=0.8, color="C0", label="Brian2 (0.5 ms bins)")
        gs, es = STATES[name]
        point = leading(lif.mean_field(LIFNetwork(g=gs, eta=es), step=0.25, n_eigenvalues=1))
        verdict = "stable" if float(point["stable"]) == 1.0 else "unstable"
        a.axhline(float(point["r0"][0]), color="C1", ls="--", lw=1.2,
                  label=f"mean field ({verdict})")
        a.set(xlabel="time (ms)", ylabel="population rate (Hz)" if k == 0 else None)
        a.set_title(f"{name} (g = {gs:g}, eta = {es:g})\nr0 {float(run['r0'].mean()):.3g} Hz, "
                    f"CV {float(run['cv'].mean()):.2f}, synchrony "
                    f"{float(run['synchrony'].mean()):.3g}", fontsize=9)
        a.legend(fontsize=7, loc="upper right")
    fig.suptitle("Brunel (2000) model A, D = 1.5 ms: mean-field phase diagram and Brian2 at "
                 "four states")
    write_atomic(path, lambda temporary: fig.savefig(temporary, dpi=120, format="png"))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None,
                        help="folder of the results (default analyses/output)")
    parser.add_argument("--figures", default=None,
                        help="folder of the figure (default analyses/figures, the gallery)")
    parser.add_argument("--quick", action="store_true",
                        help="a coarse grid and short Brian2 runs (a smoke run; written to "
                             "analyses/output/quick unless --out/--figures say otherwise)")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent
    default = root / "output" / "quick" if args.quick else None
    out = Path(args.out) if args.out else (default or root / "output")
    figures = Path(args.figures) if args.figures else (default or root / "figures")
    out.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    mf = theory(args.quick)
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
    figure(mf, runs, figures / "brunel_phase_diagram.png")
    print(f"wrote {figures / 'brunel_phase_diagram.png'}, {out / 'brunel_phase_diagram.nc'} "
          f"and {out / 'brunel_phase_diagram_brian2.nc'}")


if __name__ == "__main__":
    main()
