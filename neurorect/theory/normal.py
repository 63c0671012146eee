"""Partial moments of the standard normal on half-lines and intervals, stable in the tails.

The Gaussian moments of a piecewise-linear transfer (:mod:`~neurorect.theory.gaussian`)
reduce to integrals of polynomials against the standard normal density ``pdf`` over the
transfer's linear pieces. They are computed from the *tail moments*

    ``T_n(a) = int_a^inf (z - a)^n pdf(z) dz``,  ``a >= 0``,

which obey ``T_0 = Phi(-a)``, ``T_1 = pdf(a) - a T_0`` and
``T_n = (n - 1) T_{n-2} - a T_{n-1}``. ``T_n`` is the recessive solution of that recurrence:
run forwards it loses ``~a^(2n)`` in relative accuracy (1e-7 at ``a = 12``, ``n = 4``), so

* ``0 <= a <= 1.5``: the forward recurrence;
* ``a > 1.5``: Miller's backward recurrence from ``n = 150``, normalised by
  ``T_0 = pdf(a) * sqrt(pi/2) * erfcx(a / sqrt 2)``; beyond ``a = 39`` (where ``pdf(a)``
  underflows) ``T_n = 0``.

Against 40-digit values of the exact form ``T_n(a) = pdf(a) n! exp(a^2/4) D_{-n-1}(a)``
(``D`` the parabolic cylinder function) the relative error for ``n <= 4`` is <= 5e-14, the
largest just either side of ``a = 1.5`` and rounding (~2e-16) from ``a = 2`` on
(tests/test_gaussian.py checks it).

Every piece is integrated on one side of ``z = 0`` and expanded about its end nearer to 0,
so a far tail is never the difference of two large numbers.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, ndtr

__all__: list[str] = []  # internal to neurorect.theory (see its docstring)

_FORWARD_UP_TO = 1.5  # forward recurrence for a <= this, Miller's algorithm above
_MILLER_START = 150  # first index of the backward recurrence
_UNDERFLOW = 39.0  # pdf(a) underflows beyond; T_n(a) = 0 there
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def comb(n: int, k: int) -> int:
    """The binomial coefficient (``math.comb``; cached for the small powers used here)."""
    return _BINOMIAL[n][k] if n < len(_BINOMIAL) else math.comb(n, k)


_BINOMIAL = [[math.comb(n, k) for k in range(n + 1)] for n in range(9)]


def density(z) -> np.ndarray:
    """Standard normal density ``exp(-z^2 / 2) / sqrt(2 pi)``."""
    z = np.asarray(z, dtype=float)
    return np.exp(-0.5 * z * z) * _INV_SQRT_2PI


def tail_moments(a, n_max: int) -> np.ndarray:
    """``T_n(a) = int_a^inf (z - a)^n pdf(z) dz`` for ``n = 0..n_max``, ``a >= 0`` (may be inf).

    Returns an array of shape ``(n_max + 1,) + a.shape``.
    """
    a = np.asarray(a, dtype=float)
    finite = a < _UNDERFLOW
    x = np.where(finite, a, 0.0)
    out = np.empty((n_max + 1,) + a.shape)
    # forward recurrence (stable for small a)
    out[0] = ndtr(-x)
    if n_max >= 1:
        out[1] = density(x) - x * out[0]
    for n in range(2, n_max + 1):
        out[n] = (n - 1) * out[n - 2] - x * out[n - 1]
    far = finite & (x > _FORWARD_UP_TO)
    if np.any(far):
        out[:, far] = _miller(x[far], n_max)
    out[:, ~finite] = 0.0
    return out


def _miller(a: np.ndarray, n_max: int) -> np.ndarray:
    """Tail moments for ``1.5 < a < 39`` by the backward recurrence ``T_{n-2} = (T_n + a
    T_{n-1}) / (n - 1)``, normalised by the exact ``T_0``. The values shrink going down
    (at most ``e^a`` growth where ``n < a``), so no rescaling is needed."""
    upper, current = np.zeros_like(a), np.ones_like(a)  # J_{N+1}, J_N (arbitrary scale)
    kept = np.empty((n_max + 1,) + a.shape)
    for n in range(_MILLER_START + 1, 1, -1):  # J_{n-2} from J_n and J_{n-1}
        upper, current = current, (upper + a * current) / (n - 1)
        if n - 2 <= n_max:
            kept[n - 2] = current
    t0 = density(a) * math.sqrt(0.5 * math.pi) * erfcx(a / math.sqrt(2.0))
    return kept * (t0 / kept[0])


def interval_moments(tail_a: np.ndarray, tail_b: np.ndarray, width) -> np.ndarray:
    """``S_n = int_a^b (z - a)^n pdf(z) dz`` (``0 <= a <= b <= inf``) from the tail moments
    ``tail_a = T(a)``, ``tail_b = T(b)`` (shape ``(n_max + 1, ...)``) and ``width = b - a``
    (``inf``: the half-line): ``S_n = T_n(a) - sum_m C(n, m) width^(n-m) T_m(b)``."""
    width = np.asarray(width, dtype=float)
    finite = np.isfinite(width)
    w = np.where(finite, width, 0.0)
    out = np.array(tail_a, dtype=float, copy=True)
    for n in range(out.shape[0]):
        beyond = sum(comb(n, m) * w ** (n - m) * tail_b[m] for m in range(n + 1))
        out[n] = out[n] - np.where(finite, beyond, 0.0)
    return out


def piece_power_sums(value, slope, moments: np.ndarray) -> np.ndarray:
    """``int_a^b (value + slope (z - a))^k pdf(z) dz`` for ``k = 0..K`` from ``moments = S``
    of :func:`interval_moments` (``K + 1`` rows), ``0 <= a <= b``.

    A linear piece of a transfer, expanded about its end ``a`` nearer to 0: each term
    ``C(k, n) value^(k-n) slope^n S_n`` has the sign of the integrand when ``value`` and
    ``slope`` agree in sign, so the tails cost no accuracy. Shape ``(K + 1,) + shape``.
    """
    value, slope = np.asarray(value, float), np.asarray(slope, float)
    powers = moments.shape[0] - 1
    out = np.empty((powers + 1,) + np.broadcast_shapes(value.shape, slope.shape,
                                                         moments.shape[1:]))
    for k in range(powers + 1):
        out[k] = sum(comb(k, n) * value ** (k - n) * slope ** n * moments[n]
                     for n in range(k + 1))
    return out
