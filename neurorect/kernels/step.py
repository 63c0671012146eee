"""One unit's step, shared by the uncoupled and the network kernels.

:func:`decay_factors` are the per-unit constants of a step (exponential-Euler decay, exact OU
and white-noise increments), :func:`rate_of` the rate of a state and :func:`rhs` the
right-hand side ``d state / dt`` (for Euler and RK4). Written once here, so that every path
performs the same floating-point operations. :func:`rate_fails`, :func:`note_failure` and
:func:`add_moments` are the runaway criterion, the failure record and the unit statistics
every kernel applies (see :mod:`neurorect.kernels`, "Failures and unit statistics").
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from neurorect.kernels.layout import (
    EXP_EULER,
    M_BELOW,
    M_SHIFT,
    M_SQUARES,
    M_SUM,
    M_ZERO,
    OU_SIGMA,
    OU_TAU,
    TAU,
    VOLTAGE_FORM,
    WHITE_SIGMA,
)
from neurorect.kernels.transfer import transfer_value

__all__ = ["decay_factors", "rate_of", "rhs", "rate_fails", "note_failure", "add_moments",
           "as_state"]


@njit(cache=True, inline="always")
def decay_factors(params, u, dt, method):
    """``(a, 1 - a, ou_a, ou_b, white_b)`` of unit u for a step ``dt`` under ``method``.

    ``a = exp(-dt / tau)``; the OU input advances as ``eta' = ou_a eta + ou_b xi`` with
    ``ou_a = exp(-dt / tau_ou)``, ``ou_b = sigma_ou sqrt(1 - ou_a^2)`` (both 0 without OU
    noise); white noise adds ``white_b xi`` to the state, ``sigma sqrt((1 - a^2) / 2)`` (its
    exact increment) under exponential Euler, ``sigma sqrt(dt / tau)`` (Euler-Maruyama)
    otherwise.
    """
    tau = params[u, TAU]
    a = math.exp(-dt / tau)
    one_minus_a = -math.expm1(-dt / tau)
    ou_sigma = params[u, OU_SIGMA]
    ou_tau = params[u, OU_TAU]
    ou_a = math.exp(-dt / ou_tau) if ou_sigma > 0.0 else 0.0
    ou_b = ou_sigma * math.sqrt(-math.expm1(-2.0 * dt / ou_tau)) if ou_sigma > 0.0 else 0.0
    white = params[u, WHITE_SIGMA]
    if method == EXP_EULER:
        white_b = white * math.sqrt(-0.5 * math.expm1(-2.0 * dt / tau))
    else:
        white_b = white * math.sqrt(dt / tau)
    return a, one_minus_a, ou_a, ou_b, white_b


@njit(cache=True, inline="always")
def rate_of(code, p, form, state):
    """Rate (Hz) of a unit in ``state``: ``phi(v)`` in voltage form, ``r`` itself in rate form."""
    return transfer_value(code, p, state) if form == VOLTAGE_FORM else state


@njit(cache=True, inline="always")
def rhs(code, p, form, tau, state, total_input):
    """d state / dt of an uncoupled-looking unit given its total input."""
    if form == VOLTAGE_FORM:
        return (-state + total_input) / tau
    return (-state + transfer_value(code, p, total_input)) / tau


@njit(cache=True, inline="always")
def rate_fails(rate, max_rate):
    """Whether a rate breaks the runaway criterion: non-finite, or ``|rate| > max_rate``."""
    return not (abs(rate) <= max_rate)


@njit(cache=True, inline="always")
def note_failure(evolving, u, step, what, value):
    """Record unit u's failure: global ``step``, ``what`` (FAIL_STATE or FAIL_RATE), value."""
    evolving.fail[u] = step
    evolving.fail_what[u] = what
    evolving.fail_value[u] = value


@njit(cache=True, inline="always")
def add_moments(moments, u, rate, below):
    """Add one in-window step to unit u's statistics (``moments.shape[1] > 0`` only).

    ``below``: the step's input is below the transfer's threshold. Shifted sums: the shift K
    is the first in-window rate, so ``sum (r - K)^2 - (sum (r - K))^2 / n`` loses no digits
    to cancellation when the mean is large against the spread.
    """
    shift = moments[u, M_SHIFT]
    if shift != shift:  # NaN: the window's first step
        shift = rate
        moments[u, M_SHIFT] = rate
    deviation = rate - shift
    moments[u, M_BELOW] += 1.0 if below else 0.0
    moments[u, M_ZERO] += 1.0 if rate == 0.0 else 0.0
    moments[u, M_SUM] += deviation
    moments[u, M_SQUARES] += deviation * deviation


def as_state(value, like):
    """``value`` rounded to the dtype of the state array ``like`` (float32 states round at
    every step, so float32 results do not depend on the chunking); free for float64."""
    return value


@overload(as_state, inline="always")
def _as_state_overload(value, like):
    if isinstance(like, types.Array) and like.dtype == types.float32:
        return lambda value, like: np.float64(np.float32(value))
    return lambda value, like: value
