"""How far is the matched leaky-ReLU rate model from spiking LIF neurons?

Runs ``neurorect crossval`` machinery on models/lif_matched.toml: f-I curves (Brian2 LIF,
Siegert, fitted leaky ReLU) and the Bode overlay (Brian2 with standard errors, LIF linear
response theory, rate model). Figure and netCDF results; Brian2 compiles on first use.

    .venv/bin/python analyses/rate_vs_lif.py [--out analyses/output] [--neurons 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import neurorect as nr  # noqa: E402
from neurorect import crossval  # noqa: E402
from neurorect.io import save  # noqa: E402
from neurorect.plotting import plot_crossval_bode, plot_fi  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="analyses/output", help="output folder")
    parser.add_argument("--neurons", type=int, default=1000, help="LIF neurons per condition")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    model = crossval.matched_model(nr.load_model("models/lif_matched.toml"))
    freqs = np.array([2.0, 5.0, 10.0, 20.0, 50.0, 100.0])
    result = crossval.compare(model, freqs, n_neurons=args.neurons,
                              fi_mu=np.linspace(0.010, 0.030, 9))
    save(result, out / "rate_vs_lif.nc")
    print(crossval.format_table(result))

    figure = plt.figure(figsize=(11, 4.5), layout="constrained")
    ax_fi = figure.add_subplot(1, 2, 1)
    right = figure.add_gridspec(2, 2)[:, 1].subgridspec(2, 1)
    ax_gain = figure.add_subplot(right[0])
    ax_phase = figure.add_subplot(right[1], sharex=ax_gain)
    plot_fi(ax_fi, result)
    plot_crossval_bode(ax_gain, ax_phase, result)
    figure.savefig(out / "rate_vs_lif.png", dpi=130)
    print(f"wrote {out / 'rate_vs_lif.png'} and {out / 'rate_vs_lif.nc'}")


if __name__ == "__main__":
    main()
