"""The integrator's order for a model, and Richardson estimates of the time-step error.

:func:`integrator_order` is the ONE place that says how fast a method's error shrinks with
dt for a given model (the network integrator's order changes here when it changes).
:func:`richardson_error` turns a result at dt and one at 2 dt into an estimate of the error
of the dt result: for a method of order p, ``e(dt) = (x(dt) - x(2 dt)) / (2^p - 1)`` to
leading order. :func:`step_error` does it for a simulated frequency response (the result
variables ``*_dt_error`` and the warning above a tolerance).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from neurorect._schema import attrs
from neurorect.errors import ModelError, NeurorectWarning
from neurorect.spec import Model
from neurorect.transfer import GELU, LeakyReLU, Sigmoid, Softplus

__all__ = ["integrator_order", "richardson_error", "step_error"]


def _smooth(transfer) -> bool:
    """Whether phi is infinitely differentiable (RK4 keeps its fourth order)."""
    if isinstance(transfer, (Softplus, Sigmoid, GELU)):
        return True
    return (isinstance(transfer, LeakyReLU) and transfer.alpha == 1.0
            and transfer.rate_min == -np.inf and transfer.rate_max == np.inf)


def integrator_order(model: Model, method: str | None = None) -> int:
    """Global order p of ``method`` (default: the model's) for the periodic response of
    ``model`` to its deterministic drive: the error of r0 and z_k falls like ``dt^p``.

    * ``"exp_euler"``: 2 for uncoupled units (exact decay, drive sampled at the
      middle of the step: harmonic k is multiplied by ``1 + (k w dt)^2 / 24
      - i (k w dt)(dt / tau) / 12 + O(dt^3)`` relative to the exact low-pass); 1 for coupled
      networks (the recurrent input is held at its value at the start of the step).
    * ``"exp_ab2"`` (default): 2, uncoupled (where it is exp_euler) and coupled, with or
      without delays and synaptic filters (the recurrent input at the middle of the step;
      a kink crossed inside a step costs O(dt^2) once per crossing, as for RK4).
    * ``"euler"``: 1 (drive and recurrent input at the start of the step).
    * ``"rk4"``: 4 when every transfer is smooth (softplus, sigmoid, GELU, an unclipped
      linear leaky ReLU), else 2: a kink of phi crossed inside a step costs O(dt^2) once
      per crossing.

    Steps and pulse trains (discontinuous drive, switching inside a step) make every method
    first order. Noise is not counted: with noise the estimate of
    :func:`richardson_error` also carries the runs' sampling noise.
    """
    method = model.simulation.method if method is None else method
    if any(drive.steps or drive.pulses for drive in model.drives.values()):
        return 1
    if method == "euler":
        return 1
    if method == "rk4":
        return 4 if all(_smooth(p.transfer) for p in model.populations) else 2
    if method == "exp_euler":
        return 1 if model.is_coupled else 2
    return 2


def richardson_error(fine: np.ndarray, coarse: np.ndarray, order: int) -> np.ndarray:
    """Estimated error of ``fine`` (computed at dt) from ``coarse`` (at 2 dt) for a method
    of global ``order`` p: ``(fine - coarse) / (2^p - 1)`` (complex or real, same units)."""
    return (np.asarray(fine) - np.asarray(coarse)) / (2.0**order - 1.0)


#: What the step-error variables of a frequency response mean (units, long_name).
_ERROR_ATTRS = {
    "r0_dt_error": ("Hz", "estimated time-step error of r0 (Richardson, dt vs 2 dt)"),
    "amplitude_dt_error": ("Hz", "estimated time-step error of the complex coefficient "
                                 "|dz_k| (bounds the errors of A_k and of A_k phase_k)"),
    "phase_dt_error": ("rad", "estimated time-step error of phase_k (|dz_k| / A_k)"),
    "gain_dt_error": ("Hz per drive unit", "estimated time-step error of the gain "
                                           "(|dz_1| / I1)"),
}


def step_error(model: Model, freqs: np.ndarray, r0: np.ndarray, coefficient: np.ndarray,
               I1: float, tolerance: float,
               run_at: Callable[[float, np.ndarray], tuple[np.ndarray, np.ndarray]],
               ) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Richardson estimates of the time-step error of a simulated frequency response.

    ``r0`` (P, F, T) and ``coefficient`` (P, F, T, K) are the trial results at the model's
    dt; ``run_at(dt, freqs)`` repeats the same batched run at another step. The coarse run
    at 2 dt (half the steps: half a run more) gives ``e = (x(dt) - x(2 dt)) / (2^p - 1)``,
    p = :func:`integrator_order`. Frequencies at or above the coarse run's Nyquist frequency
    ``1/(4 dt)`` get NaN. A NeurorectWarning names the frequencies where ``|dz_1| / A_1``
    exceeds ``tolerance`` (with noise: only where it also exceeds twice its own standard
    error, the trials' spread through both runs).

    Returns ``{name: (values, attrs)}`` for ``r0_dt_error`` (P, F), ``amplitude_dt_error``
    and ``phase_dt_error`` (P, F, K), ``gain_dt_error`` (P, F).
    """
    dt = model.simulation.dt
    order = integrator_order(model)
    n_pop, n_freq, trials, n_harmonics = coefficient.shape
    fine_z, fine_r0 = coefficient.mean(axis=2), r0.mean(axis=2)
    error_z = np.full((n_pop, n_freq, n_harmonics), np.nan + 0j)
    error_r0 = np.full((n_pop, n_freq), np.nan)
    resolved = freqs < 0.25 / dt
    note = ""
    if np.any(resolved):
        try:
            with warnings.catch_warnings():  # the fine run has said what is NaN, and why
                warnings.simplefilter("ignore", NeurorectWarning)
                coarse_r0, coarse_z = run_at(2 * dt, freqs[resolved])
        except ModelError as error:  # e.g. 2 dt beyond the stability limit of euler / rk4
            note = f"; no estimate at 2 dt = {2 * dt:g} s: {error.detail}"
        else:
            error_z[:, resolved] = richardson_error(fine_z[:, resolved],
                                                    coarse_z.mean(axis=2), order)
            error_r0[:, resolved] = richardson_error(fine_r0[:, resolved],
                                                     coarse_r0.mean(axis=2), order)
            _warn_large(freqs, error_z, fine_z, coefficient, coarse_z, resolved, order,
                        tolerance, trials)
    size = np.abs(error_z)
    with np.errstate(divide="ignore", invalid="ignore"):
        phase_error = size / np.abs(fine_z)
    values = {"r0_dt_error": np.abs(error_r0), "amplitude_dt_error": size,
              "phase_dt_error": phase_error, "gain_dt_error": size[..., 0] / I1}
    method = (f"Richardson from the same batch at dt = {dt:g} s and 2 dt, integrator order "
              f"{order}; NaN at or above 1/(4 dt) = {0.25 / dt:g} Hz{note}")
    return {name: (values[name], attrs(*_ERROR_ATTRS[name], method=method))
            for name in _ERROR_ATTRS}


def _warn_large(freqs, error_z, fine_z, fine_trials, coarse_trials, resolved, order,
                tolerance, trials) -> None:
    """One NeurorectWarning for the frequencies whose estimated relative error of z_1 is
    above ``tolerance`` (and, with trials, above twice its standard error)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.abs(error_z[..., 0]) / np.abs(fine_z[..., 0])
    large = np.nan_to_num(relative) > tolerance
    if trials > 1:
        spread = (fine_trials[:, resolved][..., 0].var(axis=2, ddof=1)
                  + coarse_trials[..., 0].var(axis=2, ddof=1)) / trials
        se = np.full(relative.shape, np.inf)
        se[:, resolved] = np.sqrt(spread) / (2.0**order - 1.0)
        large &= np.abs(error_z[..., 0]) > 2 * se
    if not np.any(large):
        return
    worst = np.unravel_index(np.nanargmax(np.where(large, relative, -np.inf)), large.shape)
    columns = np.any(large, axis=0)
    warnings.warn(
        f"the estimated time-step error of the first harmonic exceeds error_tol = "
        f"{tolerance:g} at {int(columns.sum())} of {freqs.size} frequencies (from "
        f"{float(freqs[columns].min()):g} Hz; largest {100 * relative[worst]:.3g} % at "
        f"{float(freqs[worst[1]]):g} Hz): see amplitude_dt_error; lower dt (the error falls "
        f"like dt^{order}) or raise error_tol", NeurorectWarning, stacklevel=4)
