"""A2 variance and Jacobian propagation through depth (ReLU, leaky ReLU, sigmoid).

Feed-forward networks of L = 10 layers of N = 400 rate units
(:func:`neurorect.feedforward.feedforward`: weights ``W_ij ~ N(0, weight_var / N)``, an input
pattern of variance 1 on layer 1, no bias), over 10 weight seeds each. The steady state of
each network and its Jacobian come from :func:`neurorect.feedforward.forward_pass` (one pass
through the layers); the lines are the mean-field recursion of
:func:`neurorect.theory.depth_propagation`, ``q_{l+1} = weight_var E[phi(h_l)^2]`` and the
Jacobian factor ``weight_var E[phi'^2]`` per layer. One network per transfer is also
SIMULATED to its steady state (:func:`neurorect.simulate`), which reproduces the forward
pass.

Claims: with gain (weight variance) 1, ReLU halves the second moment of its input at every
layer and the signal dies geometrically; the He gain 2 keeps it (and 2/(1 + alpha^2) for the
leaky ReLU) -- because the SECOND MOMENT E[ReLU(h)^2] = q/2 halves, not the variance; the
mean squared singular value of the input-output Jacobian stays at E[phi'^2] = 1/2 for ReLU at
He gain, while for the sigmoid it falls by orders of magnitude per few layers (vanishing
gradients).

    python analyses/depth_propagation.py [--quick] [--out DIR] [--figures DIR]
"""

from __future__ import annotations

import _common
import numpy as np
import xarray as xr
from _common import plt, variable

import neurorect as nr
from neurorect.feedforward import feedforward, forward_pass
from neurorect.theory import depth_propagation

NAME = "depth_propagation"
ALPHA = 0.2
CONFIGS = (  # (label, transfer, weight_var)
    ("ReLU, gain 1", nr.ReLU(1.0), 1.0),
    ("ReLU, He gain 2", nr.ReLU(1.0), 2.0),
    (f"leaky ReLU alpha {ALPHA:g}, gain 2/(1+alpha^2)", nr.LeakyReLU(1.0, 0.0, ALPHA),
     2.0 / (1.0 + ALPHA**2)),
    ("sigmoid, gain 2", nr.Sigmoid(1.0, 0.0, 1.0), 2.0),
)
TAU = 0.01


def _network(transfer, weight_var, layers, size, seed):
    return feedforward(transfer, layers, size, weight_var=weight_var, tau=TAU, input_var=1.0,
                       seed=seed, dt=1e-3, duration=0.6, transient=0.5, record="none")


def _simulated_second_moment(model, layers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: mean of r^2 of the simulated steady state, and the forward pass's."""
    result = nr.simulate(model, progress=False)
    rate = result["r0"].values
    exact = forward_pass(model, jacobian=False)["rate"].values
    size = rate.size // layers
    return ((rate.reshape(layers, size) ** 2).mean(1),
            (exact.reshape(layers, size) ** 2).mean(1))


def compute(quick: bool) -> xr.Dataset:
    layers, size, seeds = (6, 200, 4) if quick else (10, 400, 10)
    q = np.empty((len(CONFIGS), seeds, layers))
    jac = np.empty_like(q)
    q_theory = np.empty((len(CONFIGS), layers))
    jac_theory = np.empty_like(q_theory)
    sim_m2, pass_m2 = np.empty_like(q_theory), np.empty_like(q_theory)
    for i, (_, transfer, weight_var) in enumerate(CONFIGS):
        for seed in range(seeds):
            fp = forward_pass(_network(transfer, weight_var, layers, size, seed))
            q[i, seed], jac[i, seed] = fp["q"].values, fp["jacobian_gain"].values
        theory = depth_propagation(transfer, layers, weight_var=weight_var, input_var=1.0)
        q_theory[i], jac_theory[i] = theory["q"].values, theory["jacobian_gain"].values
        sim_m2[i], pass_m2[i] = _simulated_second_moment(
            _network(transfer, weight_var, layers, size, 0), layers)
    dims = ("config", "seed", "layer")
    return xr.Dataset(
        {"q": variable(dims, q, "drive units^2", "variance of the layer's input (network)"),
         "jacobian_gain": variable(dims, jac, "(Hz/drive unit)^2",
                                   "mean squared singular value of dr_l/dI (network)"),
         "q_theory": variable(("config", "layer"), q_theory, "drive units^2",
                              "mean-field q_l"),
         "jacobian_gain_theory": variable(("config", "layer"), jac_theory,
                                          "(Hz/drive unit)^2", "mean-field Jacobian gain"),
         "sim_second_moment": variable(("config", "layer"), sim_m2, "Hz^2",
                                       "mean r^2 of the simulated steady state (seed 0)"),
         "pass_second_moment": variable(("config", "layer"), pass_m2, "Hz^2",
                                        "mean r^2 of the forward pass (seed 0)"),
         "weight_var": variable(("config",), [c[2] for c in CONFIGS], "1",
                                "weight variance times fan-in")},
        coords={"config": ("config", [c[0] for c in CONFIGS]),
                "seed": ("seed", np.arange(seeds)),
                "layer": ("layer", np.arange(1, layers + 1), {"units": "1"})},
        attrs={"size": size, "layers": layers, "seeds": seeds, "tau": TAU})


def draw(ds: xr.Dataset) -> plt.Figure:
    _common.style()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    layer = ds["layer"].values
    seeds = ds.sizes["seed"]
    for i, label in enumerate(ds["config"].values):
        for ax, name in ((axes[0], "q"), (axes[1], "jacobian_gain")):
            values = ds[name].values[i]
            mean, se = values.mean(0), values.std(0, ddof=1) / np.sqrt(seeds)
            ax.plot(layer, ds[f"{name}_theory"][i], color=f"C{i}", label=str(label),
                    ls="--" if "leaky" in str(label) else "-")
            ax.errorbar(layer, mean, 3 * se, fmt="o", color=f"C{i}", mfc="white")
    axes[0].set(yscale="log", xlabel="layer l", ylabel="variance q_l of the layer's input "
                "(drive units^2)", title="(a) the signal: q_{l+1} = weight_var E[phi(h_l)^2]")
    axes[1].set(yscale="log", xlabel="layer l",
                ylabel="mean squared singular value of dr_l/dI\n((Hz per drive unit)^2)",
                title="(b) the gradient: x weight_var E[phi'^2] per layer")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=4,
                  title=f"lines: mean field; circles: networks (mean of {seeds} seeds +- 3 SE)",
                  title_fontsize=8)
    for ax in axes:
        ax.set_xticks(layer)
    error = float(np.max(np.abs(ds["sim_second_moment"] / ds["pass_second_moment"] - 1)))
    figure.suptitle(f"Depth ({ds.attrs['layers']} layers x {ds.attrs['size']} units): the "
                    "He gain 2 keeps ReLU's signal because the SECOND MOMENT halves (gain 1: "
                    "q halves per layer);\nsigmoid gradients vanish. Simulated steady states "
                    f"equal the forward pass to {error:.0e}", fontsize=10)
    return figure


def summary(ds: xr.Dataset) -> list[dict]:
    last = ds.sizes["layer"] - 1
    return [{"config": str(label), "weight_var": float(ds["weight_var"][i]),
             "q_last_theory": float(ds["q_theory"][i, last]),
             "q_last_networks": float(ds["q"][i, :, last].mean()),
             "q_last_se": float(ds["q"][i, :, last].std(ddof=1) / np.sqrt(ds.sizes["seed"])),
             "jacobian_last_theory": float(ds["jacobian_gain_theory"][i, last]),
             "jacobian_last_networks": float(ds["jacobian_gain"][i, :, last].mean())}
            for i, label in enumerate(ds["config"].values)]


def main(argv=None) -> xr.Dataset:
    return _common.run(NAME, __doc__, argv, compute=lambda a: compute(a.quick),
                       draw=draw, summary=summary)


if __name__ == "__main__":
    main()
