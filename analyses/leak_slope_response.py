"""How the leak slope alpha shapes the response of a leaky-ReLU neuron to a sinusoid.

Figure: (left) exact gain over alpha x frequency; (right) Bode curves for a few alphas,
exact lines with simulated points (one batched sweep). Results: the sweep as netCDF.
Model: models/single_neuron.toml (threshold at 0, I0 = 0.2, I1 = 1: the drive dips below
threshold every cycle, where alpha = 0 leaves the neuron silent).

    .venv/bin/python analyses/leak_slope_response.py [--out analyses/output]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurorect as nr  # noqa: E402
from neurorect.io import save  # noqa: E402
from neurorect.theory import sinusoid_response  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="analyses/output", help="output folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    model = nr.load_model("models/single_neuron.toml")
    pop, drive = model.population("E"), model.drive("E")
    alphas = np.linspace(0.0, 1.0, 41)
    freqs = np.geomspace(0.5, 500.0, 61)
    exact = sinusoid_response(pop.transfer, drive.I0, drive.I1, freqs, tau=pop.tau,
                              form=pop.form, alpha=alphas)
    shown = [0.0, 0.1, 0.3, 1.0]
    sweep = nr.run_sweep(model, {"populations.E.transfer.alpha": shown,
                                 "drives.E.freq": np.geomspace(0.5, 500.0, 13)},
                         measure="response", progress=False)
    save(sweep, out / "leak_slope_response.nc")

    figure, (ax_map, ax_gain) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    image = ax_map.pcolormesh(freqs, alphas, exact["gain"].transpose("alpha", "freq").values,
                              shading="auto", cmap="viridis")
    ax_map.set_xscale("log")
    ax_map.set(xlabel="drive frequency (Hz)", ylabel="leak slope alpha",
               title="exact gain A1/I1 (Hz per drive unit)")
    figure.colorbar(image, ax=ax_map)
    for i, alpha in enumerate(shown):
        line = exact["gain"].sel(alpha=alpha, method="nearest")
        ax_gain.plot(freqs, line.values, color=f"C{i}", label=f"alpha = {alpha:g}")
        points = sweep["gain"].sel(alpha=alpha).squeeze()
        ax_gain.plot(points["freq"].values, points.values, "o", color=f"C{i}", ms=4)
    ax_gain.set(xscale="log", yscale="log", xlabel="drive frequency (Hz)",
                ylabel="gain (Hz per drive unit)", title="exact (lines) and simulated (dots)")
    ax_gain.legend(fontsize="small")
    figure.savefig(out / "leak_slope_response.png", dpi=130)
    print(f"wrote {out / 'leak_slope_response.png'} and {out / 'leak_slope_response.nc'}")


if __name__ == "__main__":
    main()
