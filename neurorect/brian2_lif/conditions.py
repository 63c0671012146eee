r"""Conditions of a Brian2 LIF run and the threshold the time grid applies.

A *condition* is one combination of the per-condition parameters :data:`CONDITION_KEYS`
(drive mean ``mu0`` and amplitude ``mu1`` in V, frequency ``freq`` in Hz, drive phase in
rad, LIF noise ``sigma`` in V); each condition is a block of neurons of the one NeuronGroup.
This module resolves them from a model's drive and the caller's ``conditions``, splits the
rest of the drive (steps, pulses, noise) into plain numbers, and holds the constants of the
threshold correction. No Brian2 here: everything is an SI float.

The sqrt(dt) threshold bias and its correction
----------------------------------------------
Checking ``v > v_th`` only on the time grid misses the excursions above threshold that a
continuous path makes between two grid points, so LIF rates come out too low by a term of
order ``sqrt(dt)`` (-4.5 % at ``dt = 0.05 ms`` and -9 % at 0.2 ms for ``mu = 15 mV``,
``sigma = 5 mV``, ``tau_m = 20 ms``). ``threshold_correction`` selects the handling:

``"bridge"`` (default)
    Brownian-bridge crossing within each step: if the path stayed below threshold at both
    ends of a step, ``v_n`` and ``v_{n+1}``, it crossed in between with probability
    ``exp(-2 (v_th - v_n)(v_th - v_{n+1}) / s**2)``, ``s**2 = sigma**2 dt / tau_m`` the
    variance of the noise increment; a spike is emitted with that probability (a ``rand()``
    is drawn only for neurons close enough to threshold for the probability to exceed
    ``exp(-48)``, see :data:`BRIDGE_CUT`). Exact for a Brownian motion with constant drift
    within the step.
``"shift"``
    The discrete-monitoring correction of Siegmund (Broadie, Glasserman & Kou 1997): the
    grid threshold is lowered by ``beta sigma sqrt(dt / tau_m)``, ``beta = -zeta(1/2) /
    sqrt(2 pi) = 0.5826``, so that the discretely monitored path crosses as often as the
    continuous one does at ``v_th``. Free, asymptotic in ``dt``.
``None``
    No correction (the plain Brian2 model).

Measured at ``mu = 15 mV``, ``sigma = 5 mV``, ``dt = 0.05 ms`` (Siegert 9.461 Hz; 8000
neurons x 2 s, standard error 0.020 Hz): ``None`` 9.033 Hz (-4.5 %, -22 SE), ``"shift"``
9.487 Hz (+0.27 %, +1.3 SE), ``"bridge"`` 9.485 Hz (+0.25 %, +1.2 SE). Both corrections
remove the bias to within the O(dt) error of Euler-Maruyama (its membrane variance is
inflated by ``1 / (1 - dt / (2 tau_m))``, +0.12 % in rate here); at ``dt = 0.2 ms`` they
leave +0.35 % to +0.8 % (bridge) and +0.5 % (shift), against -9.1 % uncorrected. The
correction in use and the threshold actually applied (``v_threshold``) are recorded in the
result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from neurorect._validate import check_finite, check_range
from neurorect.drive import Drive
from neurorect.errors import ModelError
from neurorect.spec import LIFNeuron

__all__ = [
    "CONDITION_KEYS", "THRESHOLD_CORRECTIONS", "TARGETS", "SIEGMUND_BETA", "BRIDGE_CUT",
    "CONDITION_ATTRS", "CORRECTION_DESCRIPTIONS", "DriveParts", "condition_grid",
    "resolve_conditions", "drive_parts", "effective_threshold",
]

#: Per-condition parameters: drive mean and amplitude (V), frequency (Hz), drive phase (rad),
#: LIF noise amplitude (V).
CONDITION_KEYS = ("mu0", "mu1", "freq", "phase", "sigma")
THRESHOLD_CORRECTIONS = ("bridge", "shift", None)
TARGETS = ("cython", "numpy", "cpp_standalone")
#: ``-zeta(1/2) / sqrt(2 pi)``: Siegmund's discrete-monitoring barrier shift (units of the
#: per-step noise standard deviation).
SIEGMUND_BETA = 0.5825971579390106
#: Bridge probabilities below ``exp(-BRIDGE_CUT / 2)`` are not sampled (no rand() drawn).
BRIDGE_CUT = 48.0

#: (units, long_name) of each condition parameter in the result.
CONDITION_ATTRS = {"mu0": ("V", "mean input mu0"), "mu1": ("V", "sinusoid amplitude mu1"),
                   "freq": ("Hz", "drive frequency"), "phase": ("rad", "drive phase at t = 0"),
                   "sigma": ("V", "noise amplitude sigma (free membrane sd sigma/sqrt(2))")}

#: What each threshold correction does, as recorded in the result's attrs.
CORRECTION_DESCRIPTIONS = {
    "bridge": "Brownian-bridge crossing probability within each step",
    "shift": f"threshold lowered by {SIEGMUND_BETA:.4f} sigma sqrt(dt/tau_m) (Siegmund)",
    None: "none: threshold checked on the time grid only (rates biased low ~sqrt(dt))",
}


def condition_grid(**axes) -> dict[str, np.ndarray]:
    """All combinations of the given condition axes, flattened (last axis fastest).

    Parameters
    ----------
    **axes : float or array_like
        Any of ``mu0``, ``mu1`` (V), ``freq`` (Hz), ``phase`` (rad), ``sigma`` (V).

    Returns
    -------
    dict of str to ndarray
        One flat array per axis, all of length ``prod(len(axis))``: the ``conditions``
        argument of :func:`neurorect.brian2_lif.simulate_lif`.

    Examples
    --------
    >>> grid = condition_grid(freq=[5.0, 10.0], mu0=[0.015, 0.02])
    >>> grid["freq"], grid["mu0"]
    (array([ 5.,  5., 10., 10.]), array([0.015, 0.02 , 0.015, 0.02 ]))
    """
    for key in axes:
        if key not in CONDITION_KEYS:
            raise ModelError("unknown condition axis", key=key, value=axes[key],
                             allowed=", ".join(CONDITION_KEYS))
    arrays = [np.atleast_1d(np.asarray(v, dtype=float)).ravel() for v in axes.values()]
    mesh = np.meshgrid(*arrays, indexing="ij") if arrays else []
    return {key: m.ravel() for key, m in zip(axes, mesh, strict=True)}


def resolve_conditions(lif: LIFNeuron, drive: Drive,
                       conditions: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    """Per-condition arrays of :data:`CONDITION_KEYS`, broadcast to one length ``C``.

    Unset keys come from the drive (``I0``, ``I1``, ``freq``, ``phase``; per-neuron tuples
    become per-condition arrays) and from the LIF neuron (``sigma``). Raises ModelError for
    unknown keys, arrays of different lengths, non-finite values and negative ``mu1``,
    ``freq`` or ``sigma`` (a negative amplitude is a phase shift of pi).
    """
    conditions = dict(conditions or {})
    for key in conditions:
        if key not in CONDITION_KEYS:
            raise ModelError("unknown condition parameter", key=f"conditions.{key}",
                             value=conditions[key], allowed=", ".join(CONDITION_KEYS))
    defaults = {"mu0": drive.I0, "mu1": drive.I1, "freq": drive.freq, "phase": drive.phase,
                "sigma": lif.sigma}
    values = {}
    for key in CONDITION_KEYS:
        raw = conditions.get(key, defaults[key])
        arr = np.atleast_1d(np.asarray(raw, dtype=float))
        if arr.ndim != 1 or arr.size == 0:
            raise ModelError("must be a number or a flat, non-empty list",
                             key=f"conditions.{key}", value=raw, allowed="one value per condition")
        values[key] = arr
    sizes = {arr.size for arr in values.values()} - {1}
    if len(sizes) > 1:
        raise ModelError("condition arrays have different lengths",
                         key="conditions", value={k: v.size for k, v in values.items()},
                         allowed="scalars and arrays of one common length (see condition_grid)")
    n_cond = sizes.pop() if sizes else 1
    out = {k: np.broadcast_to(v, (n_cond,)).astype(float) for k, v in values.items()}
    for key in CONDITION_KEYS:
        check_finite(f"conditions.{key}", out[key])
    for key, unit in (("mu1", "V"), ("freq", "Hz"), ("sigma", "V")):
        check_range(f"conditions.{key}", out[key], low=0.0, unit=unit)
    return out


class DriveParts(NamedTuple):
    """The non-sinusoidal parts of a drive as plain numbers (SI)."""

    #: ``(start, amplitude, stop)`` of each step (s, V, s).
    steps: list[tuple[float, float, float]]
    #: ``(start, period, width, amplitude, stop)`` of each pulse train (s, s, s, V, s).
    pulses: list[tuple[float, float, float, float, float]]
    #: Stationary sd (V) and correlation time (s) of an OU drive noise (0 without).
    ou_sigma: float
    ou_tau: float
    #: Amplitude of a white drive noise, V (0 without): adds to ``sigma`` in quadrature.
    white_sigma: float


def drive_parts(drive: Drive) -> DriveParts:
    """Steps, pulses and noise of ``drive``; per-neuron values and shared noise are refused."""
    def scalar(owner: str, name: str, value) -> float:
        if isinstance(value, tuple):
            raise ModelError("per-neuron values are not supported by the Brian2 bridge",
                             key=f"{owner}.{name}", value=list(value),
                             allowed="one number (use conditions for per-condition values)")
        return float(value)

    steps = [(scalar("steps", "start", s.start), scalar("steps", "amplitude", s.amplitude),
              scalar("steps", "stop", s.stop)) for s in drive.steps]
    pulses = [(scalar("pulses", "start", p.start), scalar("pulses", "period", p.period),
               scalar("pulses", "width", p.width), scalar("pulses", "amplitude", p.amplitude),
               scalar("pulses", "stop", p.stop)) for p in drive.pulses]
    ou_sigma = ou_tau = white = 0.0
    if drive.noise is not None:
        if drive.noise.shared:
            raise ModelError("shared (common) noise is not supported by the Brian2 bridge",
                             key="noise.shared", value=True,
                             allowed="false (each LIF neuron draws its own noise)")
        sigma = scalar("noise", "sigma", drive.noise.sigma)
        if drive.noise.kind == "ou":
            ou_sigma, ou_tau = sigma, scalar("noise", "tau", drive.noise.tau)
        else:
            white = sigma
    return DriveParts(steps, pulses, ou_sigma, ou_tau, white)


def effective_threshold(v_th: float, sigma, *, dt: float, tau_m: float,
                        threshold_correction: str | None) -> np.ndarray:
    """The threshold the Brian2 group applies on the time grid (V).

    ``v_th - SIEGMUND_BETA * sigma * sqrt(dt / tau_m)`` for ``"shift"``, ``v_th`` otherwise.

    Parameters
    ----------
    v_th : float
        Threshold of the continuous-time model, V.
    sigma : float or array_like
        Noise amplitude, V.
    dt, tau_m : float
        Time step and membrane time constant, s.
    threshold_correction : {"bridge", "shift", None}
    """
    sigma = np.asarray(sigma, dtype=float)
    if threshold_correction == "shift":
        return v_th - SIEGMUND_BETA * sigma * math.sqrt(dt / tau_m)
    return np.full(sigma.shape, float(v_th))
