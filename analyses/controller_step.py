"""A8 a rectified controller's step response vs alpha; the linear case against 2nd-order theory.

A feedback loop of two rate populations (rate form, one unit each): a controller C
(leaky ReLU, gain g = 20 Hz per drive unit, threshold 0, leak slope alpha, tau_C = 10 ms)
driven by the error ``R(t) - k p`` between a reference R and the plant's rate p, and a
linear plant P (gain 1, tau_P = 20 ms) driven by C: ``tau_C dc/dt = -c + phi(R - k p)``,
``tau_P dp/dt = -p + c`` with k = 1 drive unit per Hz. R steps from 0.2 to 1.0 at
t = 0.1 s, from the pre-step fixed point (:func:`neurorect.theory.fixed_point`).

Claim: the loop overshoots; a leak slope brakes it. For alpha = 1 the loop is linear, and
p is a pure second-order system ``p(s)/R(s) = g / ((tau_C s + 1)(tau_P s + 1) + k g)``:
overshoot ``exp(-pi zeta / sqrt(1 - zeta^2))``, with ``zeta`` and ``omega_n`` read off the
eigenvalues of the fixed point's Jacobian; the simulated overshoot, rise (10-90 %) and
settling (2 %) times match it. With alpha < 1 the controller cannot push below zero while
the plant overshoots (its error goes negative), so the braking is lost and the overshoot
grows as alpha falls. Lines: simulated traces and the exact second-order response; points:
step measures (:func:`neurorect.stepresponse.step_measures`) of one batched simulation.

    python analyses/controller_step.py [--quick] [--out DIR] [--figures DIR]
"""

from __future__ import annotations

import _common
import numpy as np
import xarray as xr
from _common import plt, variable

import neurorect as nr
from neurorect.spec import Connection, Model, Population, Simulation
from neurorect.stepresponse import step_measures
from neurorect.theory import fixed_point

NAME = "controller_step"
GAIN, K, TAU_C, TAU_P = 20.0, 1.0, 0.010, 0.020
R_BEFORE, R_AFTER, T_STEP = 0.2, 1.0, 0.1
SETTLE = 0.02  # settling band, fraction of the step's change


def _transfers(alpha: float) -> tuple[nr.LeakyReLU, nr.LeakyReLU]:
    return nr.LeakyReLU(GAIN, 0.0, alpha), nr.LeakyReLU(1.0, 0.0, 1.0)


def _fixed(alpha: float, reference: float):
    """Fixed point of the loop at a constant reference (rates of C and P, Hz)."""
    W = np.array([[0.0, -K], [1.0, 0.0]])
    return fixed_point(W, np.array([reference, 0.0]), list(_transfers(alpha)),
                       tau=np.array([TAU_C, TAU_P]))


def _model(duration: float, dt: float) -> Model:
    start = _fixed(1.0, R_BEFORE).rate  # above threshold: the same for every alpha
    control, plant = _transfers(1.0)
    populations = (Population("C", TAU_C, control, init=start[0]),
                   Population("P", TAU_P, plant, init=start[1]))
    drives = {"C": nr.Drive(I0=R_BEFORE, steps=(nr.Step(T_STEP, R_AFTER - R_BEFORE),))}
    connections = (Connection("CP", pre="C", post="P", weight=1.0),
                   Connection("PC", pre="P", post="C", weight=-K))
    return Model(populations=populations, drives=drives, connections=connections,
                 simulation=Simulation(dt=dt, duration=duration, record="rate"),
                 name="rectified_controller")


def second_order(t: np.ndarray, eigenvalue: complex) -> np.ndarray:
    """Unit step response of ``omega_n^2 / (s^2 + 2 zeta omega_n s + omega_n^2)``.

    ``eigenvalue`` is the pole ``-zeta omega_n + i omega_d`` (1/s).
    """
    decay, omega_d = -eigenvalue.real, abs(eigenvalue.imag)
    return 1.0 - np.exp(-decay * t) * (np.cos(omega_d * t) + decay / omega_d
                                       * np.sin(omega_d * t))


def compute(quick: bool) -> xr.Dataset:
    dt = 1e-4 if quick else 2e-5
    alphas = np.linspace(0.0, 1.0, 5 if quick else 21)
    result = nr.simulate(_model(0.5, dt), batch={"populations.C.transfer.alpha": alphas})
    time = result["time"].values
    after = time >= T_STEP - 1e-12
    t = time[after] - T_STEP
    traces = result["rate"].values[:, after, :]  # (alpha, time, neuron C/P)
    before, final = _fixed(1.0, R_BEFORE).rate[1], _fixed(1.0, R_AFTER).rate[1]
    measures = [step_measures(time, trace, T_STEP, band=SETTLE)
                for trace in result["rate"].values[:, :, 1]]
    linear = _fixed(1.0, R_AFTER)
    pole = complex(linear.eigenvalues[np.argmax(linear.eigenvalues.imag)])
    zeta = -pole.real / abs(pole)
    t_fine = np.linspace(0.0, t[-1], 200_001)
    theory_curve = second_order(t_fine, pole)
    theory = step_measures(t_fine, theory_curve, 0.0, band=SETTLE)
    names = ("overshoot", "peak_time", "rise_time", "settling_time")
    units = {"overshoot": "1", "peak_time": "s", "rise_time": "s", "settling_time": "s"}
    data = {name: variable(("alpha",), [m[name] for m in measures], units[name],
                           f"simulated {name.replace('_', ' ')}") for name in names}
    data.update({f"theory_{name}": variable((), theory[name], units[name],
                                           f"second-order theory {name.replace('_', ' ')}")
                 for name in names})
    data["theory_overshoot_formula"] = variable(
        (), np.exp(-np.pi * zeta / np.sqrt(1.0 - zeta**2)), "1",
        "exp(-pi zeta / sqrt(1 - zeta^2))")
    data["plant_rate"] = variable(("alpha", "t"), traces[:, :, 1], "Hz", "plant rate p")
    data["controller_rate"] = variable(("alpha", "t"), traces[:, :, 0], "Hz",
                                       "controller rate c")
    data["theory_response"] = variable(("t",), before + (final - before)
                                       * np.interp(t, t_fine, theory_curve), "Hz",
                                       "second-order theory, plant rate")
    return xr.Dataset(data, coords={
        "alpha": ("alpha", alphas, {"units": "1", "long_name": "controller leak slope"}),
        "t": ("t", t, {"units": "s", "long_name": "time since the step"})},
        attrs={"zeta": zeta, "omega_n": abs(pole), "p_before": before, "p_after": final,
               "gain": GAIN, "k": K, "tau_c": TAU_C, "tau_p": TAU_P, "dt": dt})


def draw(ds: xr.Dataset) -> plt.Figure:
    _common.style()
    figure, axes = plt.subplots(2, 2, figsize=(10.5, 6.6), layout="constrained")
    ms = 1e3 * ds["t"].values
    shown = [a for a in (0.0, 0.25, 0.5, 1.0) if np.isclose(ds["alpha"], a).any()]
    before, after = ds.attrs["p_before"], ds.attrs["p_after"]
    for i, alpha in enumerate(shown):
        sel = ds.sel(alpha=alpha, method="nearest")
        axes[0, 0].plot(ms, sel["plant_rate"], color=f"C{i}", label=f"alpha = {alpha:g}")
        axes[0, 1].plot(ms, sel["controller_rate"], color=f"C{i}")
    axes[0, 0].plot(ms, ds["theory_response"], "k--", lw=1.0,
                    label="2nd-order theory (linear loop)")
    axes[0, 0].axhline(after, color="0.5", lw=0.7, ls=":")
    axes[0, 0].axhspan(after - SETTLE * (after - before), after + SETTLE * (after - before),
                       color="0.9", lw=0)
    axes[0, 0].set(xlim=(0, 150), xlabel="time since the step (ms)",
                   ylabel="plant rate p (Hz)", title="(a) plant response to the step")
    axes[0, 0].legend(loc="lower right")
    axes[0, 1].axhline(0.0, color="k", lw=0.7)
    axes[0, 1].set(xlim=(0, 150), xlabel="time since the step (ms)",
                   ylabel="controller rate c (Hz)",
                   title="(b) braking needs negative rates; alpha = 0 cannot brake")
    alpha = ds["alpha"].values
    ax = axes[1, 0]
    ax.plot(alpha, 100 * ds["overshoot"], "o", color="C0", label="simulated")
    ax.plot([1.0], [100 * float(ds["theory_overshoot"])], "*", color="k", ms=15, mfc="none",
            label="exp(-pi zeta / sqrt(1 - zeta^2)), "
                  f"zeta = {ds.attrs['zeta']:.3f}")
    ax.set(xlabel="controller leak slope alpha", ylabel="overshoot (% of the step)",
           title="(c) the leak slope brakes the overshoot")
    ax.legend(loc="upper right")
    ax = axes[1, 1]
    for j, (name, label) in enumerate((("rise_time", "rise 10-90 %"),
                                       ("peak_time", "peak"),
                                       ("settling_time", "settling (2 %)"))):
        ax.plot(alpha, 1e3 * ds[name], "o", color=f"C{j}", label=f"{label}, simulated")
        ax.plot([1.0], [1e3 * float(ds[f"theory_{name}"])], "*", mfc="none", ms=15,
                mec="k", mew=0.8)
    ax.plot([], [], "*", mfc="none", mec="k", mew=0.8, ms=15, label="2nd-order theory")
    ax.set(xlabel="controller leak slope alpha", ylabel="time (ms)",
           title="(d) step-response times")
    ax.legend(loc="upper right", ncols=2)
    figure.suptitle("A rectified controller overshoots; its leak slope brakes it. The linear "
                    "loop (alpha = 1) is second-order theory\n(simulated overshoot "
                    f"{100 * float(ds['overshoot'][-1]):.2f} % vs "
                    f"{100 * float(ds['theory_overshoot']):.2f} %: the network integrator's "
                    f"first-order error at dt = {1e3 * ds.attrs['dt']:g} ms)", fontsize=10)
    return figure


def summary(ds: xr.Dataset) -> list[dict]:
    rows = [{"alpha": float(a), "overshoot": float(ds["overshoot"][i]),
             "rise_time_ms": 1e3 * float(ds["rise_time"][i]),
             "peak_time_ms": 1e3 * float(ds["peak_time"][i]),
             "settling_time_ms": 1e3 * float(ds["settling_time"][i])}
            for i, a in enumerate(ds["alpha"].values)]
    rows.append({"alpha": "theory (alpha = 1)", "overshoot": float(ds["theory_overshoot"]),
                 "rise_time_ms": 1e3 * float(ds["theory_rise_time"]),
                 "peak_time_ms": 1e3 * float(ds["theory_peak_time"]),
                 "settling_time_ms": 1e3 * float(ds["theory_settling_time"])})
    return rows


def main(argv=None) -> xr.Dataset:
    return _common.run(NAME, __doc__, argv, compute=lambda a: compute(a.quick),
                       draw=draw, summary=summary)


if __name__ == "__main__":
    main()
