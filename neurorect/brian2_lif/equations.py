r"""The Brian2 model as text and numbers: equations, threshold, per-neuron arrays.

Everything here works on the *run spec* (a JSON-serialisable dict of SI floats, see
:mod:`neurorect.brian2_lif`) and returns strings and numpy arrays; the Brian2 objects are
built by :mod:`neurorect.brian2_lif.runner`, which attaches the units named here.

Integration is Brian2's Euler-Maruyama (``method="euler"``) at the step ``dt``; the sinusoid
advances by a rotating phasor (one complex multiply per neuron and step, in an operation
scheduled before the state update, :data:`PHASOR_CODE`) rather than a ``sin`` per neuron and
step. The dead time after a spike averages ``t_ref`` (see :func:`refractory_steps`: a fixed
``t_ref / dt`` steps would make it ``t_ref - dt/2`` and raise rates by ``r**2 dt / 2``).
"""

from __future__ import annotations

import math

import numpy as np

from neurorect.brian2_lif.conditions import BRIDGE_CUT

__all__ = ["ARRAY_UNITS", "PHASOR_CODE", "RESET_CODE", "equations", "threshold_condition",
           "per_neuron_values", "refractory_steps"]

#: Brian2 unit (by name) of each per-neuron array of :func:`per_neuron_values`.
ARRAY_UNITS = {"mu0": "volt", "mu1": "volt", "freq": "Hz", "sigma": "volt", "drive_phase": "1",
               "sin_ph": "1", "cos_ph": "1", "sin_step": "1", "cos_step": "1", "v_thr": "volt",
               "v": "volt", "eta": "volt", "bridge_var": "volt**2", "v_prev": "volt"}

#: Once per step before the state update: rotate the drive phasor to ``t_n``.
PHASOR_CODE = ("sin_next = sin_ph*cos_step + cos_ph*sin_step\n"
               "cos_ph = cos_ph*cos_step - sin_ph*sin_step\n"
               "sin_ph = sin_next")

#: Reset after a spike: clamp at ``v_reset`` for ``ref_short`` plus one step with
#: probability ``ref_frac`` (see :func:`refractory_steps`).
RESET_CODE = "v = v_reset\nref_period = ref_short + dt*int(rand() < ref_frac)"


def equations(spec: dict) -> tuple[str, dict[str, tuple[float, str]]]:
    """Model equations and the shared constants of the namespace.

    Returns
    -------
    (str, dict)
        The Brian2 equations, and ``{name: (SI value, Brian2 unit name)}`` of the step,
        pulse and OU-noise constants they use.
    """
    terms = ["mu0", "mu1*sin_ph"]
    constants: dict[str, tuple[float, str]] = {}
    for k, (start, amplitude, stop) in enumerate(spec["steps"]):
        constants.update({f"step_start_{k}": (start, "second"),
                          f"step_amp_{k}": (amplitude, "volt")})
        window = f"t >= step_start_{k}"
        if math.isfinite(stop):
            constants[f"step_stop_{k}"] = (stop, "second")
            window += f" and t < step_stop_{k}"
        terms.append(f"step_amp_{k}*int({window})")
    for k, (start, period, width, amplitude, stop) in enumerate(spec["pulses"]):
        constants.update({f"pulse_start_{k}": (start, "second"),
                          f"pulse_period_{k}": (period, "second"),
                          f"pulse_width_{k}": (width, "second"),
                          f"pulse_amp_{k}": (amplitude, "volt")})
        window = (f"t >= pulse_start_{k} and (t - pulse_start_{k}) % pulse_period_{k} "
                  f"< pulse_width_{k}")
        if math.isfinite(stop):
            constants[f"pulse_stop_{k}"] = (stop, "second")
            window += f" and t < pulse_stop_{k}"
        terms.append(f"pulse_amp_{k}*int({window})")
    lines = [
        "dv/dt = (-v + mu_in)/tau_m + sigma*xi_v/sqrt(tau_m) : volt (unless refractory)",
        "mu0 : volt (constant)",
        "mu1 : volt (constant)",
        "freq : Hz (constant)",
        "drive_phase : 1 (constant)",
        "sin_ph : 1",
        "cos_ph : 1",
        "sin_step : 1 (constant)",
        "cos_step : 1 (constant)",
        "sigma : volt (constant)",
        "v_thr : volt (constant)",
        "ref_period : second",
    ]
    if spec["ou_sigma"] > 0:
        terms.append("eta")
        constants.update(ou_sigma=(spec["ou_sigma"], "volt"), ou_tau=(spec["ou_tau"], "second"))
        lines.append("deta/dt = -eta/ou_tau + ou_sigma*sqrt(2/ou_tau)*xi_ou : volt")
    lines.insert(1, "mu_in = " + " + ".join(terms) + " : volt")
    if spec["threshold_correction"] == "bridge":
        lines += ["v_prev : volt", "bridge_var : volt**2 (constant)"]
    return "\n".join(lines), constants


def threshold_condition(spec: dict) -> str:
    """The threshold condition: on the grid, or with the Brownian-bridge crossing."""
    if spec["threshold_correction"] != "bridge":
        return "v > v_thr"
    gap = "(v_thr - v_prev)*(v_thr - v)"
    return (f"v > v_thr or ({gap} < {BRIDGE_CUT / 2:g}*bridge_var and "
            f"rand() < exp(-2*{gap}/bridge_var))")


def per_neuron_values(spec: dict) -> dict[str, np.ndarray]:
    """Per-neuron parameter arrays (SI) and initial values, from the per-condition spec.

    Units by :data:`ARRAY_UNITS`. Condition ``c`` is neurons ``c * n ... (c + 1) * n - 1``.
    """
    n = spec["n_neurons"]
    cond = np.repeat(np.arange(len(spec["mu0"])), n)
    rng = np.random.default_rng(spec["seed"])
    v_thr = np.asarray(spec["v_threshold"])[cond]
    out = {name: np.asarray(spec[name])[cond] for name in ("mu0", "mu1", "freq", "sigma")}
    out["drive_phase"] = np.asarray(spec["phase"])[cond]
    # the sinusoid advances by a rotating phasor (one complex multiply per step, in the
    # drive-clock operation before the state update) instead of a sin() per neuron per step;
    # it starts one step back so that the first rotation gives sin(phase) at t = 0
    step = 2.0 * np.pi * out["freq"] * spec["dt"]
    out["sin_step"], out["cos_step"] = np.sin(step), np.cos(step)
    out["sin_ph"] = np.sin(out["drive_phase"] - step)
    out["cos_ph"] = np.cos(out["drive_phase"] - step)
    out["v_thr"] = v_thr
    # initial potentials: a sample of the free membrane (mean mu0, sd sigma/sqrt(2)) where it
    # lies below threshold, else uniform between reset and threshold; the transient removes
    # what remains of the initial condition
    free = out["mu0"] + out["sigma"] / math.sqrt(2.0) * rng.standard_normal(cond.size)
    spread = spec["v_reset"] + (v_thr - spec["v_reset"]) * rng.random(cond.size)
    out["v"] = np.where(free < v_thr, free, spread)
    if spec["ou_sigma"] > 0:
        out["eta"] = spec["ou_sigma"] * rng.standard_normal(cond.size)
    if spec["threshold_correction"] == "bridge":
        out["bridge_var"] = out["sigma"] ** 2 * spec["dt"] / spec["tau_m"]
        out["v_prev"] = out["v"].copy()
    return out


def refractory_steps(t_ref: float, dt: float) -> tuple[int, float]:
    """Steps ``k`` and probability ``p`` of one more step so that the dead time averages t_ref.

    A spike stamped ``t_n`` crossed threshold at ``t_n + dt/2`` on average and integration
    resumes at ``t_n + k dt``: the dead time is ``k dt - dt/2``. Holding for ``k + 1`` steps
    with probability ``p`` makes its mean ``t_ref`` (for ``t_ref >= dt/2``), instead of the
    ``t_ref - dt/2`` of a fixed ``t_ref / dt`` steps, which would raise rates by
    ``r**2 dt / 2`` (0.17 % at 66 Hz and dt = 0.05 ms).
    """
    mean_steps = max(t_ref / dt + 0.5, 1.0)
    steps = int(math.floor(mean_steps + 1e-9))
    return steps, float(min(max(mean_steps - steps, 0.0), 1.0))
