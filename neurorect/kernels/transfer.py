"""Scalar Numba kernels of the transfer family, dispatched on the class's ``code``.

``p`` is the parameter vector of :meth:`neurorect.transfer.Transfer.kernel_params`, in the
order of each class's fields; the codes are :mod:`neurorect.kernels.layout`'s ``LEAKY_RELU``
... ``LIF``, equal to each class's ``Transfer.code``. The numpy definitions in
:mod:`neurorect.transfer` are the reference; tests check these against them.
"""

from __future__ import annotations

import math

from numba import njit

from neurorect.kernels.layout import ELU, GELU, LEAKY_RELU, LIF, POWER_LAW, SIGMOID, SOFTPLUS

__all__ = ["transfer_value"]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@njit(cache=True, inline="always")
def transfer_value(code, p, x):
    """Rate (Hz) of transfer ``code`` with parameters ``p`` at input ``x``."""
    if code == LEAKY_RELU:
        u = x - p[1]
        rate = p[5] + p[0] * (u if u >= 0.0 else p[2] * u)
        if rate < p[3]:
            rate = p[3]
        if rate > p[4]:
            rate = p[4]
        return rate
    if code == SOFTPLUS:
        z = p[2] * (x - p[1])
        if z > 30.0:
            return p[0] * (z + math.log1p(math.exp(-z))) / p[2]
        return p[0] * math.log1p(math.exp(z)) / p[2]
    if code == ELU:
        u = x - p[1]
        return p[0] * (u if u >= 0.0 else p[2] * math.expm1(u))
    if code == GELU:
        u = x - p[1]
        return p[0] * u * 0.5 * (1.0 + math.erf(u * _INV_SQRT2))
    if code == POWER_LAW:
        u = x - p[1]
        return p[0] * u ** p[2] if u > 0.0 else 0.0
    if code == SIGMOID:
        return p[0] * 0.5 * (1.0 + math.tanh(0.5 * p[2] * (x - p[1])))
    if code == LIF:
        if x <= p[1]:
            return 0.0
        return 1.0 / (p[3] + p[0] * math.log((x - p[2]) / (x - p[1])))
    return math.nan
