"""A7 the harmonic signature of the kink: |A_n| vs harmonic n across the rectifier family.

Every transfer gets the drive ``I(t) = threshold + sin(2 pi f t)`` (I1 = 1 drive unit,
f = 1 Hz, gain 1 Hz per drive unit). Claim: a kink (a jump of phi') makes the harmonics
decay like ``n^-2``: for ReLU the even harmonics are exactly ``A_{2m} = 2/(pi (4m^2 - 1))``
Hz and the odd ones above the first vanish; a leak slope scales them by ``1 - alpha``; a jump
of phi'' (power law u^2, ELU with alpha = 1) gives ``n^-3``; smooth members (softplus,
GELU, sigmoid) decay faster than any power. Lines: exact theory
(:func:`neurorect.theory.sinusoid_response`, closed form for the leaky ReLU family, graded
quadrature otherwise) for the rate form with tau = 50 us (|H| > 1 - 1e-4 up to n = 40);
points: the engine's streamed harmonics of one batched simulation, shown where they are
above its 1e-9 Hz integration floor.

    python analyses/harmonic_signature.py [--quick] [--out DIR] [--figures DIR]
"""

from __future__ import annotations

import _common
import numpy as np
import xarray as xr
from _common import plt, variable

import neurorect as nr
from neurorect.theory import sinusoid_response

NAME = "harmonic_signature"
FREQ, I1, TAU = 1.0, 1.0, 5e-5
#: Simulated amplitudes below this are integration error (dt^2 ~ 1e-10 Hz), not shown.
FLOOR = 1e-9
#: (label, transfer, panel): panel "kink" for a jump of phi', "smooth" for the others.
FAMILY = (
    ("ReLU", nr.ReLU(1.0), "kink"),
    ("leaky ReLU, alpha = 0.5", nr.LeakyReLU(1.0, 0.0, 0.5), "kink"),
    ("ReLU clipped at 0.5 Hz", nr.ReLU(1.0, rate_max=0.5), "kink"),
    ("power law u^2", nr.PowerLaw(1.0, 0.0, 2.0), "smooth"),
    ("ELU, alpha = 1", nr.ELU(1.0, 0.0, 1.0), "smooth"),
    ("softplus, sharpness 4", nr.Softplus(1.0, 0.0, 4.0), "smooth"),
    ("GELU", nr.GELU(1.0), "smooth"),
    ("sigmoid, slope 4", nr.Sigmoid(1.0, 0.0, 4.0), "smooth"),
)
#: Two windows of 12 consecutive harmonics (one period of the pattern a kink at drive phase
#: pi/3 or pi/2 leaves in n) whose peaks give the decay exponent.
WINDOWS = ((12, 23), (28, 39))
#: Peaks below this (Hz) are beyond double precision of the quadrature: no exponent.
RESOLVED = 1e-13


def _decay_exponent(n: np.ndarray, amplitude: np.ndarray) -> float:
    """``p`` in ``|A_n| ~ n^-p`` from the peak amplitude in each of the two WINDOWS.

    ``p = log(A_n1 / A_n2) / log(n2 / n1)``, ``n1``, ``n2`` the peaks' harmonic numbers; NaN
    when the second peak is not resolved (decay faster than any power shows as a large
    ``p``).
    """
    peaks = []
    for low, high in WINDOWS:
        inside = (n >= low) & (n <= high)
        k = int(np.argmax(np.where(inside, amplitude, -1.0)))
        peaks.append((n[k], amplitude[k]))
    (n1, a1), (n2, a2) = peaks
    if a2 < RESOLVED:
        return float("nan")
    return float(np.log(a1 / a2) / np.log(n2 / n1))


def _simulate(n_harmonics: int, quick: bool) -> np.ndarray:
    """Streamed |A_n| (Hz) of every transfer, one simulation per transfer."""
    out = np.empty((len(FAMILY), n_harmonics))
    drive = nr.Drive(I0=0.0, I1=I1, freq=FREQ)
    for i, (_, transfer, _) in enumerate(FAMILY):
        model = nr.single_population(transfer, tau=TAU, drive=drive,
                                     dt=4e-5 if quick else 1e-5, duration=2.0 if quick else 4.0,
                                     transient=1.0, record="none", n_harmonics=n_harmonics)
        out[i] = nr.simulate(model)["amplitude"].values.ravel()
    return out


def compute(quick: bool) -> xr.Dataset:
    n_harmonics = 40
    n = np.arange(1, n_harmonics + 1)
    exact = np.empty((len(FAMILY), n_harmonics))
    for i, (_, transfer, _) in enumerate(FAMILY):
        theory = sinusoid_response(transfer, transfer.threshold, I1, FREQ, tau=TAU,
                                   form="rate", n_harmonics=n_harmonics)
        exact[i] = theory["amplitude"].values.ravel()
    sim = _simulate(n_harmonics, quick)
    m = np.arange(1, n_harmonics // 2 + 1)
    slopes = [_decay_exponent(n, row) for row in exact]
    return xr.Dataset(
        {"amplitude": variable(("transfer", "harmonic"), exact, "Hz",
                               "exact amplitude of harmonic n (rate form, tau = 50 us)"),
         "sim_amplitude": variable(("transfer", "harmonic"), sim, "Hz",
                                   "simulated amplitude of harmonic n (streamed)"),
         "relu_closed_form": variable(("even_harmonic",), 2.0 / (np.pi * (4 * m**2 - 1)),
                                      "Hz", "2/(pi (4m^2 - 1)), ReLU harmonic n = 2m (static)"),
         "decay_exponent": variable(("transfer",), slopes, "1",
                                    "decay exponent p of |A_n| ~ n^-p (peaks of harmonics "
                                    "12-23 and 28-39)"),
         "panel": variable(("transfer",), [p for *_, p in FAMILY], "1", "figure panel")},
        coords={"transfer": ("transfer", [label for label, *_ in FAMILY]),
                "harmonic": ("harmonic", n, {"units": "1", "long_name": "harmonic number n"}),
                "even_harmonic": ("even_harmonic", 2 * m,
                                  {"units": "1", "long_name": "harmonic number n = 2m"})})


def draw(ds: xr.Dataset) -> plt.Figure:
    _common.style()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    n = ds["harmonic"].values
    titles = {"kink": "(a) a kink (jump of phi'): |A_n| ~ n^-2",
              "smooth": "(b) a jump of phi'': n^-3; smooth members: faster than any power"}
    for ax, panel in zip(axes, titles, strict=True):
        rows = [i for i, p in enumerate(ds["panel"].values) if p == panel]
        for color, i in enumerate(rows):
            exact, sim = ds["amplitude"].values[i], ds["sim_amplitude"].values[i]
            nonzero = exact > 1e-15
            slope = float(ds["decay_exponent"].values[i])
            label = str(ds["transfer"].values[i])
            label += f": p = {slope:.2f}" if slope < 5 else ": faster than any power"
            ax.plot(n[nonzero], exact[nonzero], "-", color=f"C{color}", label=label, lw=1.3)
            shown = nonzero & (sim > FLOOR)
            ax.plot(n[shown], sim[shown], "o", color=f"C{color}", mfc="white", ms=4)
        ax.set(xscale="log", yscale="log", xlabel="harmonic number n", title=titles[panel])
    axes[0].set_ylim(1e-5, 1.0)
    axes[1].set_ylim(1e-14, 1.0)
    axes[1].axhline(FLOOR, color="0.6", lw=0.7, ls=":")
    axes[1].text(1.05, FLOOR * 1.6, "simulation floor (points below are not shown)",
                 fontsize=7, color="0.4")
    guide = np.array([6.0, 40.0])
    for ax, power, scale in ((axes[0], 2, 0.12), (axes[1], 3, 0.004)):
        ax.plot(guide, scale * guide**-power, color="0.45", lw=3, alpha=0.35)
        ax.text(guide[1] * 1.04, scale * guide[1] ** -power, f"n^-{power}", color="0.35",
                fontsize=8, va="center")
    even = ds["even_harmonic"].values
    axes[0].plot(even, ds["relu_closed_form"].values, "k--", lw=1.0,
                 label="2/(pi (4m^2 - 1)) at n = 2m (exact ReLU)")
    for ax in axes:
        ax.legend(loc="lower left", title="lines: exact; circles: simulated",
                  title_fontsize=8)
    axes[0].set_ylabel("amplitude |A_n| (Hz; gain 1 Hz per drive unit, I1 = 1)")
    figure.suptitle("The harmonic signature of the kink: drive I = threshold + sin(2 pi f t); "
                    "|A_n| ~ n^-p, p set by the first discontinuous derivative",
                    fontsize=10)
    return figure


def summary(ds: xr.Dataset) -> list[dict]:
    rows = []
    for i, label in enumerate(ds["transfer"].values):
        exact, sim = ds["amplitude"].values[i], ds["sim_amplitude"].values[i]
        shown = exact > FLOOR
        rows.append({"transfer": str(label),
                     "decay_exponent": float(ds["decay_exponent"].values[i]),
                     "A1_Hz": float(exact[0]), "A2_Hz": float(exact[1]),
                     "A10_Hz": float(exact[9]),
                     "max_abs_sim_error_Hz": float(np.max(np.abs(sim - exact)[shown]))})
    return rows


def main(argv=None) -> xr.Dataset:
    return _common.run(NAME, __doc__, argv, compute=lambda a: compute(a.quick),
                       draw=draw, summary=summary,
                       attrs=dict(freq=FREQ, I1=I1, tau=TAU, floor=FLOOR))


if __name__ == "__main__":
    main()
