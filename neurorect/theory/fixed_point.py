"""Fixed points ``r* = phi(W r* + I0)`` of rate networks and their linear stability.

The search (contraction test, damped relaxation, Newton's method with the piecewise-linear
Jacobian, ``scipy.optimize.root`` as a last resort) is described in :func:`fixed_point`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import xarray as xr

from neurorect._arguments import float_array
from neurorect._schema import attrs
from neurorect._validate import check_choice, check_finite, check_integer, check_range
from neurorect.errors import ModelError
from neurorect.theory.common import COORD_ATTRS, DRIVE, annotate
from neurorect.transfer import Transfer

__all__ = ["fixed_point", "FixedPoint", "feedforward_levels"]

#: fixed_point: the iteration hands over to Newton's method at this relative residual.
_POLISH_FROM = 1e-8


class _Neurons:
    """One transfer per neuron, evaluated group by group (neurons sharing a transfer)."""

    def __init__(self, transfer: Transfer | Sequence[Transfer], n: int):
        items = [transfer] * n if isinstance(transfer, Transfer) else list(transfer)
        if len(items) != n or not all(isinstance(t, Transfer) for t in items):
            raise ModelError("need one Transfer, or one per neuron", key="transfer",
                             value=transfer, allowed=f"a Transfer or a sequence of {n}")
        groups: dict[Transfer, list[int]] = {}
        for i, item in enumerate(items):
            groups.setdefault(item, []).append(i)
        self.groups = [(t, np.array(idx)) for t, idx in groups.items()]
        self.n = n

    def _apply(self, method: str, x: np.ndarray) -> np.ndarray:
        out = np.empty(self.n)
        for t, idx in self.groups:
            func = t if method == "value" else t.derivative
            out[idx] = func(x[idx])
        return out

    def value(self, x: np.ndarray) -> np.ndarray:
        return self._apply("value", x)

    def derivative(self, x: np.ndarray) -> np.ndarray:
        return self._apply("derivative", x)

    def per_neuron(self, get) -> np.ndarray:
        out = np.empty(self.n)
        for t, idx in self.groups:
            out[idx] = get(t)
        return out


def network_arrays(W, I0, tau):
    W = float_array("W", W, allowed="an (N, N) matrix of numbers")
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ModelError("must be a square (post x pre) matrix", key="W",
                         value=f"array of shape {W.shape}", allowed="shape (N, N)")
    n = W.shape[0]
    check_finite("W", W)
    I0 = float_array("I0", check_finite("I0", float_array("I0", I0)), shape=(n,)).copy()
    tau = float_array("tau", tau, shape=(n,)).copy()
    check_range("tau", tau, low=0.0, low_open=True, high=math.inf, high_open=True, unit="s")
    return W, I0, tau


def _contraction_bound(W: np.ndarray, lip: np.ndarray, form: str) -> float:
    """``|| diag(Lip) W ||_2`` (rate form) or ``|| W diag(Lip) ||_2`` (voltage form)."""
    infinite = ~np.isfinite(lip)
    finite_lip = np.where(infinite, 0.0, lip)
    if form == "rate":
        scaled, touched = finite_lip[:, None] * W, np.any(W[infinite, :] != 0)
    else:
        scaled, touched = W * finite_lip[None, :], np.any(W[:, infinite] != 0)
    return math.inf if touched else float(np.linalg.norm(scaled, 2))


class _System:
    """The fixed-point problem ``y = G(y)`` in the state of the chosen form.

    Rate form: ``y = r``, ``G(r) = phi(W r + I0)``. Voltage form: ``y = v``,
    ``G(v) = W phi(v) + I0``. Both have the same fixed rates ``r* = phi(W r* + I0)``.
    """

    def __init__(self, W, I0, neurons: _Neurons, form: str):
        self.W, self.I0, self.neurons, self.form = W, I0, neurons, form

    def input(self, y):
        return self.W @ y + self.I0 if self.form == "rate" else y

    def map(self, y):
        if self.form == "rate":
            return self.neurons.value(self.W @ y + self.I0)
        return self.W @ self.neurons.value(y) + self.I0

    def residual(self, y):
        return y - self.map(y)

    def jacobian(self, y):
        """Jacobian of the residual: ``I - D W`` (rate) or ``I - W D`` (voltage)."""
        slope = self.neurons.derivative(self.input(y))
        product = slope[:, None] * self.W if self.form == "rate" else self.W * slope[None, :]
        return np.eye(len(y)) - product


def _tolerance(y, tol: float) -> float:
    return tol * (1.0 + float(np.max(np.abs(y), initial=0.0)))


def _relax(system: _System, y, rate, tol: float, max_iter: int):
    """Damped iteration ``y <- y + rate (G(y) - y)``; returns (y, residual, steps)."""
    limit = 1e12 * (1.0 + float(np.max(np.abs(y), initial=0.0)) + np.max(np.abs(system.I0)))
    residual = math.inf
    for step in range(max_iter + 1):
        update = system.map(y) - y
        residual = float(np.max(np.abs(update), initial=0.0))
        if not np.isfinite(residual) or np.max(np.abs(y), initial=0.0) > limit:
            return y, math.inf, step
        if residual <= _tolerance(y, tol) or step == max_iter:
            return y, residual, step
        y = y + rate * update
    return y, residual, max_iter  # pragma: no cover - the loop always returns


def _newton(system: _System, y, tol: float, max_steps: int = 100):
    """Newton's method with the piecewise-linear Jacobian and a backtracking line search."""
    res = system.residual(y)
    for step in range(max_steps + 1):
        if not np.all(np.isfinite(res)):
            return y, math.inf, step
        if np.max(np.abs(res), initial=0.0) <= _tolerance(y, tol) or step == max_steps:
            return y, float(np.max(np.abs(res), initial=0.0)), step
        jac = system.jacobian(y)
        try:
            direction = np.linalg.solve(jac, -res)
        except np.linalg.LinAlgError:
            direction = np.linalg.lstsq(jac, -res, rcond=None)[0]
        norm, lam = np.linalg.norm(res), 1.0
        while lam >= 1e-6:
            trial = y + lam * direction
            trial_res = system.residual(trial)
            if np.linalg.norm(trial_res) < (1.0 - 1e-4 * lam) * norm:
                break
            lam *= 0.5
        else:
            return y, float(np.max(np.abs(res))), step
        y, res = trial, trial_res
    return y, float(np.max(np.abs(res))), max_steps  # pragma: no cover


@dataclass(frozen=True, eq=False)
class FixedPoint:
    """A fixed point of ``r* = phi(W r* + I0)`` and its linear stability.

    Attributes
    ----------
    rate : numpy.ndarray
        ``r*`` per neuron, Hz.
    input : numpy.ndarray
        Total input ``h* = W r* + I0`` per neuron, drive units (the voltage ``v*`` of the
        voltage form).
    slope : numpy.ndarray
        ``D = phi'(h*)`` per neuron, Hz per drive unit (right derivative at a kink).
    eigenvalues : numpy.ndarray
        Eigenvalues of the dynamics' Jacobian, 1/s (complex): ``(-I + D W) / tau`` (rate
        form) or ``(-I + W D) / tau`` (voltage form), rows divided by each neuron's tau.
    form : str
        ``"rate"`` or ``"voltage"``.
    stable : bool
        ``max_real_eigenvalue < 0``. A neuron sitting exactly on a kink makes this the
        stability of the right-hand linearisation only.
    max_real_eigenvalue : float
        Largest real part of ``eigenvalues``, 1/s.
    contraction_bound : float
        ``|| diag(Lip) W ||_2`` (rate form) or ``|| W diag(Lip) ||_2`` (voltage form) with
        the per-neuron Lipschitz constants; equals ``Lip ||W||_2`` for a shared transfer.
        NaN for a coupled network without loops (not needed there: the fixed point is
        unique; and an SVD of W costs more than the solution), 0 without coupling.
    unique_guaranteed : bool
        ``contraction_bound < 1``, or a network without loops: the fixed point is unique
        (and plain iteration converges).
    silent_fraction : float
        Fraction of neurons whose input ``h*`` is strictly below their transfer's threshold
        (``threshold``, or ``v_th`` for the LIF transfer).
    residual : float
        ``max |y - G(y)|`` at the returned state (Hz for the rate form, drive units for the
        voltage form).
    n_iter : int
        Iterations plus Newton steps used.
    converged : bool
        ``residual <= tol (1 + max |y|)``.
    method : str
        The stages that ran, e.g. ``"iteration+newton"``, or ``"feedforward"``.
    """

    rate: np.ndarray
    input: np.ndarray
    slope: np.ndarray
    eigenvalues: np.ndarray
    form: str
    stable: bool
    max_real_eigenvalue: float
    contraction_bound: float
    unique_guaranteed: bool
    silent_fraction: float
    residual: float
    n_iter: int
    converged: bool
    method: str

    def to_dataset(self) -> xr.Dataset:
        """The fixed point as a Dataset over dim ``neuron`` (scalars as 0-d variables)."""
        neuron = np.arange(self.rate.size)
        per_neuron = {
            "rate": (self.rate, "Hz", "fixed-point rate"),
            "input": (self.input, DRIVE, "total input W r + I0"),
            "slope": (self.slope, "Hz/drive unit", "transfer slope at the fixed point"),
        }
        scalars = {
            "stable": (self.stable, "1", "linearly stable"),
            "max_real_eigenvalue": (self.max_real_eigenvalue, "1/s",
                                    "largest real part of the Jacobian's eigenvalues"),
            "contraction_bound": (self.contraction_bound, "1", "Lipschitz bound of the map"),
            "unique_guaranteed": (self.unique_guaranteed, "1", "contraction_bound < 1"),
            "silent_fraction": (self.silent_fraction, "1",
                                "fraction of neurons below threshold"),
            "residual": (self.residual, "Hz" if self.form == "rate" else DRIVE,
                         "fixed-point residual"),
            "n_iter": (self.n_iter, "1", "iterations and Newton steps"),
            "converged": (self.converged, "1", "residual below tolerance"),
        }
        ds = xr.Dataset(coords={"neuron": neuron})
        annotate(ds.coords["neuron"], *COORD_ATTRS["neuron"])
        for name, (value, units, long_name) in per_neuron.items():
            ds[name] = xr.DataArray(value, dims=["neuron"], attrs=attrs(units, long_name))
        for name, (value, units, long_name) in scalars.items():
            ds[name] = xr.DataArray(value, attrs=attrs(units, long_name))
        ds.attrs.update(form=self.form, method=self.method)
        return ds


def fixed_point(W, I0, transfer: Transfer | Sequence[Transfer], *, tau=1.0,
                form: str = "rate", r_init=None, tol: float = 1e-12, max_iter: int = 10_000,
                method: str = "auto", damping: float = 0.5) -> FixedPoint:
    """Fixed point of a rate network, ``r* = phi(W r* + I0)``, with its stability.

    The rate form ``tau dr/dt = -r + phi(W r + I0)`` and the voltage form
    ``tau dv/dt = -v + W phi(v) + I0`` have the same fixed points (``v* = W r* + I0``).
    Their Jacobians ``T^-1 (D W - I)`` and ``T^-1 (W D - I)`` (``T = diag(tau)``,
    ``D = diag(phi')``) differ but are similar (``D^-1 [.] D`` when ``D`` is invertible, by
    continuity otherwise), so stability is the same in both forms, also for heterogeneous
    ``tau``; the form matters for the search (which state is iterated) and the residual.

    A network without loops (no directed cycle of non-zero weights, see
    :func:`feedforward_levels`) is solved exactly in one pass, level by level, with
    ``method="auto"``; its Jacobian is triangular, so the eigenvalues are ``-1/tau_i`` and
    no eigendecomposition (or SVD for the contraction bound) is needed.

    Search otherwise (``method="auto"``): if the contraction bound is below 1 the map is
    iterated as is (Banach: unique fixed point, geometric convergence); otherwise by damped
    iteration, an Euler scheme of the network's own dynamics with step ``damping *
    min(tau)``, which settles on a stable state reached from ``r_init``. The iteration hands
    over at a relative residual of 1e-8 to Newton's method with the piecewise-linear
    Jacobian (exact for piecewise-linear ``phi`` once the active pieces are found); if that
    fails, the iteration resumes, and then ``scipy.optimize.root`` (hybrid Powell) is tried.
    If the iteration runs away (unbounded ``phi``), Newton starts from ``r_init``.
    ``method="newton"`` skips the iteration and so finds the fixed point near ``r_init``
    even when it is unstable; ``method="iterate"`` only iterates. A failure is reported
    (``converged=False``), not raised. Non-contracting networks may have several fixed
    points (or none, for unbounded ``phi``): the one found depends on ``r_init``.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Coupling, post x pre, Hz^-1 times drive units (input per unit rate).
    I0 : array_like, shape (N,) or scalar
        External input, drive units.
    transfer : Transfer or sequence of N Transfer
        Shared or per-neuron transfer (Hz).
    tau : float or array_like, shape (N,)
        Time constants, s (> 0); only affect stability and the damped iteration.
    form : {"rate", "voltage"}
        Which dynamics the stability refers to.
    r_init : array_like, shape (N,), optional
        Initial rates, Hz (default: 0). The voltage form starts at ``W r_init + I0``.
    tol : float
        Convergence: ``max |y - G(y)| <= tol (1 + max |y|)``.
    max_iter : int
        Maximum number of iterations.
    method : {"auto", "newton", "iterate"}
        Search strategy (above).
    damping : float
        Step of the damped iteration in units of ``min(tau)`` (0 < damping <= 1).

    Returns
    -------
    FixedPoint
        Rates, inputs, slopes, stability, contraction bound, residual and counts.
    """
    check_choice("form", form, ("rate", "voltage"))
    check_choice("method", method, ("auto", "newton", "iterate"))
    check_range("damping", damping, low=0.0, low_open=True, high=1.0)
    check_range("tol", tol, low=0.0, low_open=True, high=math.inf, high_open=True)
    check_integer("max_iter", max_iter, low=0)
    W, I0, tau = network_arrays(W, I0, tau)
    n = W.shape[0]
    neurons = _Neurons(transfer, n)
    levels = feedforward_levels(W) if method == "auto" else None
    if levels is not None:  # no loops: one pass, level by level (exact)
        return _feedforward(_System(W, I0, neurons, form), levels, tau, tol)
    bound = _contraction_bound(W, neurons.per_neuron(lambda t: t.lipschitz), form)
    unique = bound < 1.0
    system = _System(W, I0, neurons, form)
    rates0 = np.zeros(n) if r_init is None else np.broadcast_to(
        np.asarray(check_finite("r_init", r_init), float), (n,)).copy()
    y = rates0 if form == "rate" else W @ rates0 + I0

    rate = 1.0 if unique else damping * tau.min() / tau
    y, n_iter, stages = _search(system, y, rate, tol, max_iter, method)
    residual = float(np.max(np.abs(system.residual(y)), initial=0.0))
    return _describe(system, y, tau, bound, residual, n_iter, tol, "+".join(stages))


def feedforward_levels(W) -> list[np.ndarray] | None:
    """The neurons level by level if the coupling has no loops, else None.

    Level 0 holds the neurons without inputs (an all-zero row of W), level ``j`` those whose
    inputs all come from lower levels. A loop is a directed cycle of non-zero weights (a
    non-zero diagonal entry is one). Cost: one boolean pass over the remaining block of W per
    level.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Coupling, post x pre.

    Returns
    -------
    list of numpy.ndarray or None
        Neuron indices of each level, in order; None for a network with a loop.
    """
    active = np.asarray(W) != 0
    remaining = np.ones(active.shape[0], dtype=bool)
    levels = []
    while remaining.any():
        index = np.flatnonzero(remaining)
        ready = index[~active[np.ix_(index, index)].any(axis=1)]
        if not ready.size:
            return None
        levels.append(ready)
        remaining[ready] = False
    return levels


def _feedforward(system: _System, levels: list[np.ndarray], tau, tol) -> FixedPoint:
    """The fixed point of a network without loops, computed level by level.

    It is unique and exact (no iteration). ``D W`` is nilpotent (strictly triangular in
    level order), so the dynamics' Jacobian ``(D W - I) / tau`` is triangular with diagonal
    ``-1/tau_i``: those are its eigenvalues, with no eigendecomposition.
    """
    W, I0, neurons = system.W, system.I0, system.neurons
    rate, h = np.zeros(len(I0)), I0.copy()
    for level in levels:
        h[level] = W[level] @ rate + I0[level]
        rate[level] = neurons.value(h)[level]
    y = rate if system.form == "rate" else h
    residual = float(np.max(np.abs(system.residual(y)), initial=0.0))
    bound = 0.0 if not np.any(W) else math.nan  # not computed: an SVD of W, and not needed
    return _describe(system, y, tau, bound, residual, len(levels), tol, "feedforward",
                     eigenvalues=(-1.0 / tau).astype(complex))


def _search(system: _System, y, rate, tol: float, max_iter: int, method: str):
    """Iteration, then Newton, then more iteration, then ``scipy.optimize.root``.

    Each stage starts from the best state so far (smallest residual) and runs only while
    the tolerance is not met. Returns (state, iterations, stages run).
    """
    best = {"y": y, "res": float(np.max(np.abs(system.residual(y)), initial=0.0))}
    stages, n_iter = [], 0

    def consider(candidate, res, steps, stage):
        nonlocal n_iter
        n_iter += steps
        stages.append(stage)
        if res < best["res"]:
            best.update(y=candidate, res=res)

    def done():
        return best["res"] <= _tolerance(best["y"], tol)

    if method in ("auto", "iterate"):
        loose = tol if method == "iterate" else max(tol, _POLISH_FROM)
        consider(*_relax(system, y, rate, loose, max_iter), "iteration")
    if method == "iterate":
        return best["y"], n_iter, stages
    consider(*_newton(system, best["y"], tol), "newton")
    if not done() and method == "auto" and n_iter < max_iter:
        consider(*_relax(system, best["y"], rate, tol, max_iter - n_iter), "iteration")
    if not done():
        sol = scipy.optimize.root(system.residual, best["y"], jac=system.jacobian,
                                  method="hybr", tol=tol)
        res = float(np.max(np.abs(system.residual(sol.x)), initial=0.0))
        consider(sol.x, res if np.isfinite(res) else math.inf, int(sol.nfev), "root")
    return best["y"], n_iter, stages


def _describe(system: _System, y, tau, bound, residual, n_iter, tol, method,
              eigenvalues=None) -> FixedPoint:
    """Assemble the FixedPoint (rates, slopes, eigenvalues) at state ``y``; ``eigenvalues``
    given: a network without loops (unique fixed point, no contraction bound computed)."""
    neurons, W = system.neurons, system.W
    rate = y.copy() if system.form == "rate" else neurons.value(y)
    h = W @ rate + system.I0 if system.form == "rate" else y.copy()
    slope = neurons.derivative(h)
    product = slope[:, None] * W if system.form == "rate" else W * slope[None, :]
    eig = eigenvalues if eigenvalues is not None else np.linalg.eigvals(
        (product - np.eye(len(y))) / tau[:, None])
    threshold = neurons.per_neuron(
        lambda t: getattr(t, "threshold", getattr(t, "v_th", math.nan)))
    max_real = float(np.max(eig.real))
    return FixedPoint(
        rate=rate, input=h, slope=slope, eigenvalues=eig, form=system.form,
        stable=bool(max_real < 0.0), max_real_eigenvalue=max_real, contraction_bound=bound,
        unique_guaranteed=bool(bound < 1.0) or eigenvalues is not None,
        silent_fraction=float(np.mean(h < threshold)),
        residual=residual, n_iter=int(n_iter), converged=bool(residual <= _tolerance(y, tol)),
        method=method)

