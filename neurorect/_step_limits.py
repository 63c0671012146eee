"""Stability of the network integrators: the largest dt each method takes, and the warning.

The linear test problem is a network linearised where every unit has its largest slope
``L = phi'`` (the transfer's Lipschitz constant): ``tau x' = -x + J x`` with
``J = diag(L) W`` (rate form) or ``W diag(L)`` (voltage form), which has the spectrum of
``diag(L) W`` either way. For one eigenvalue ``mu`` of J and ``h = 1 - exp(-dt / tau)``
the step multiplies a mode by

* ``exp_euler``: ``z = 1 - h + h mu``;
* ``exp_ab2``: the roots of ``z^2 - (1 - h + 1.5 h mu) z + 0.5 h mu`` (two-step);
* ``euler``: ``z = 1 + k (mu - 1)``, ``rk4``: ``z = P(k (mu - 1))``, ``k = dt / tau``,
  P the degree-4 Taylor polynomial of exp.

A mode the continuous network damps (``Re mu < 1``) must have ``|z| < 1``. For a real
negative eigenvalue ``mu = -rho`` (inhibition-dominated coupling) this is
``h < 2 / (1 + rho)`` for exp_euler and ``h < 2 / (1 + 2 rho)`` for exp_ab2: the
extrapolation halves the range for strong inhibition, and both are far above the dt that
accuracy asks for (``h ~ 0.01``) unless ``rho`` is in the tens.

:func:`check_network_stability` applies this to a model before a run: for up to
``EXACT_UP_TO`` neurons exactly (the spectral radius of the linearised one-step map, per
neuron tau, against the continuous eigenvalues); above that with the fastest tau, first
with the cheap bound ``rho <= min(||J||_1, ||J||_inf)`` over the half-disk ``|mu| <= rho``,
``Re mu <= 0`` (where the continuous network is robustly stable; this settles the usual
case in milliseconds), then, if that does not, with J's eigenvalues (up to
``EIGENVALUES_UP_TO`` neurons) or a power-iteration estimate of rho. Channels with a delay or a
synaptic filter are left out (their input is interpolated between known past products or
low-passed, never extrapolated). Outside the region it warns (NeurorectWarning) with the
largest stable dt.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from neurorect.errors import NeurorectWarning
from neurorect.spec import Model

__all__ = ["amplification", "largest_stable_step", "check_network_stability", "EXACT_UP_TO",
           "EIGENVALUES_UP_TO"]

#: Networks up to this size get the exact check (eigenvalues of the one-step map).
EXACT_UP_TO = 64
#: Larger ones up to this size, when a cheap bound does not settle it, J's eigenvalues.
EIGENVALUES_UP_TO = 400
_POWER_STEPS = 32
_MAX_COPIES = 8  # batch copies checked (those with the strongest coupling)
_SAFETY = 1.0 + 1e-9  # |z| above this counts as growth


def amplification(method: str, dt_over_tau, mu) -> np.ndarray:
    """Largest ``|z|`` of the step of ``method`` for eigenvalues ``mu`` of J (broadcast)."""
    k = np.asarray(dt_over_tau, float)
    mu = np.asarray(mu, complex)
    h = -np.expm1(-k)
    if method == "exp_euler":
        return np.abs(1.0 - h + h * mu)
    if method == "exp_ab2":
        b = 1.0 - h + 1.5 * h * mu
        c = 0.5 * h * mu
        root = np.sqrt(b * b - 4.0 * c + 0j)
        return np.maximum(np.abs(0.5 * (b + root)), np.abs(0.5 * (b - root)))
    x = k * (mu - 1.0)
    if method == "euler":
        return np.abs(1.0 + x)
    return np.abs(1.0 + x + x**2 / 2 + x**3 / 6 + x**4 / 24)


def largest_stable_step(method: str, mu) -> float:
    """Largest ``dt / tau`` at which every eigenvalue in ``mu`` is damped (bisection; inf
    when stable for any step, as exponential methods are on a weak coupling)."""
    mu = np.atleast_1d(np.asarray(mu, complex))
    if mu.size == 0:
        return math.inf

    def stable(k: float) -> bool:
        return bool(np.all(amplification(method, k, mu) < _SAFETY))

    high = 1.0
    while stable(high):
        high *= 2.0
        if high > 1e6:
            return math.inf
    low = 0.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if stable(middle) else (low, middle)
    return low


def _half_disk(rho: float, n: int = 361) -> np.ndarray:
    """Boundary of ``{|mu| <= rho, Re mu <= 0}``: the left semicircle and the segment of the
    imaginary axis (the dominant root's modulus is largest on the boundary)."""
    angle = np.linspace(0.5 * np.pi, 1.5 * np.pi, n)
    return np.concatenate([rho * np.exp(1j * angle), 1j * np.linspace(-rho, rho, n)])


def _one_step_map(method: str, dt: float, tau: np.ndarray, J: np.ndarray) -> np.ndarray:
    """The linearised step as a matrix (companion form for exp_ab2's two steps)."""
    n = tau.size
    a = np.exp(-dt / tau)[:, None]
    eye = np.eye(n)
    if method == "exp_euler":
        return a * eye + (1.0 - a) * J
    if method == "exp_ab2":
        top = np.hstack([a * eye + 1.5 * (1.0 - a) * J, -0.5 * (1.0 - a) * J])
        return np.vstack([top, np.hstack([eye, np.zeros((n, n))])])
    B = (dt / tau)[:, None] * (J - eye)
    if method == "euler":
        return eye + B
    B2 = B @ B
    return eye + B + B2 / 2 + B2 @ B / 6 + B2 @ B2 / 24


def _exact_limit(method: str, dt: float, tau: np.ndarray, J: np.ndarray) -> float | None:
    """None if the step is stable on J (or the network itself is not); else the largest
    stable dt (s), by bisection on the one-step map's spectral radius."""
    continuous = np.linalg.eigvals((J - np.eye(tau.size)) / tau[:, None])
    if np.max(continuous.real) >= 0.0:
        return None  # the network itself grows along some direction: no numerical verdict

    def radius(step: float) -> float:
        return float(np.max(np.abs(np.linalg.eigvals(_one_step_map(method, step, tau, J)))))

    if radius(dt) < _SAFETY:
        return None
    low, high = 0.0, dt
    for _ in range(40):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if radius(middle) < _SAFETY else (low, middle)
    return low


def _radius_estimate(J: np.ndarray) -> float:
    """Spectral radius of J estimated as ``(||J^k x|| / ||x||)^(1/k)``, k = 32, x random:
    near rho, typically a little above it (transient growth of a non-normal J)."""
    x = np.random.default_rng(0).standard_normal(J.shape[0])
    x /= np.linalg.norm(x)
    log_growth = 0.0
    for _ in range(_POWER_STEPS):
        x = J @ x
        size = float(np.linalg.norm(x))
        if size == 0.0:
            return 0.0
        log_growth += math.log(size)
        x /= size
    return math.exp(log_growth / _POWER_STEPS)


def _undelayed_jacobians(channels, voltage: np.ndarray, slopes: np.ndarray) -> list:
    """J (the linearised target's derivative in the state) per batch copy, from the channels
    without delay and filter: ``J_ij = l_i W_ij r_j`` with ``l = L`` for rate-form and 1 for
    voltage-form units, ``r = 1`` for rate-form and ``L`` for voltage-form ones. At most
    ``_MAX_COPIES`` copies, those of the largest ``||J||_F``."""
    plain = [c.W for c in channels if c.delay == 0 and c.tau_syn == 0]
    if not plain:
        return []
    stacks = plain[0] if len(plain) == 1 else np.sum(plain, axis=0)
    left = np.where(voltage, 1.0, slopes)
    right = np.where(voltage, slopes, 1.0)
    jacobians = [left[:, None] * stack * right[None, :] for stack in stacks]
    if len(jacobians) > _MAX_COPIES:
        norms = [float(np.linalg.norm(J)) for J in jacobians]
        jacobians = [jacobians[i] for i in np.argsort(norms)[::-1][:_MAX_COPIES]]
    return jacobians


def check_network_stability(model: Model, channels, dt: float, method: str) -> None:
    """Warn (NeurorectWarning) when ``dt`` is outside ``method``'s stability region for the
    network linearised at its largest slopes (see the module docstring). ``channels`` are
    the plan's (:class:`neurorect._coupling.Channel`, W per batch copy)."""
    neurons = model.neuron_arrays()
    slopes = np.array([t.lipschitz for t in neurons.transfer], dtype=float)
    if not np.all(np.isfinite(slopes)):
        return  # an unbounded slope: no linear bound to check against
    tau = neurons.tau
    for J in _undelayed_jacobians(channels, neurons.voltage, slopes):
        if tau.size <= EXACT_UP_TO:
            limit = _exact_limit(method, dt, tau, J)
            basis = "the network linearised at its largest slopes"
        else:
            with threadpool_limits(limits=1, user_api="blas"):
                limit, basis = _large_network_limit(method, dt, float(tau.min()), J)
        if limit is not None:
            hint = (", or method = 'exp_euler' (a larger region for strong inhibition, first "
                    "order)" if method == "exp_ab2" else "")
            warnings.warn(
                f"dt = {dt:g} s is outside the stability region of method {method!r} for "
                f"{basis}: modes the network damps would grow in the simulation. Use "
                f"dt <= {limit:.3g} s{hint}; README, Engine, states the regions.",
                NeurorectWarning, stacklevel=3)
            return


def _large_network_limit(method: str, dt: float, tau_min: float,
                         J: np.ndarray) -> tuple[float | None, str]:
    """``(largest stable dt or None, what it rests on)`` with the fastest tau, from the
    cheapest test that decides: the bound ``rho <= min(||J||_1, ||J||_inf)`` over the
    half-disk; then J's eigenvalues (up to ``EIGENVALUES_UP_TO`` neurons); then a power
    estimate of rho over the half-disk."""
    absolute = np.abs(J)
    rho = float(min(absolute.sum(axis=0).max(), absolute.sum(axis=1).max()))
    if largest_stable_step(method, _half_disk(rho)) * tau_min >= dt:
        return None, ""
    if J.shape[0] <= EIGENVALUES_UP_TO:
        mu = np.linalg.eigvals(J)
        ratio = largest_stable_step(method, mu[mu.real < 1.0])
        basis = (f"the eigenvalues of the coupling at the largest slopes (spectral radius "
                 f"{np.max(np.abs(mu)):.3g}) and the fastest tau, {tau_min:g} s")
    else:
        rho = _radius_estimate(J)
        ratio = largest_stable_step(method, _half_disk(rho))
        basis = (f"a coupling of spectral radius ~ {rho:.3g} (estimated by power iteration, "
                 f"at the largest slopes) and the fastest tau, {tau_min:g} s")
    return (None if ratio * tau_min >= dt else ratio * tau_min), basis
