"""Mapped composite Gauss-Legendre quadrature of the Siegert-type integrals (rates and CV).

The integrals of :mod:`~neurorect.lif.rates` and :mod:`~neurorect.lif.cv` have a boundary
layer at one end and a slowly decaying tail; the substitution ``w = kappa * expm1(t)``
resolves both with equal panels in ``t``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import erfc, erfcx

__all__: list[str] = []  # internal to neurorect.lif (see its docstring)

_CHUNK = 1024  # elements per vectorised quadrature block (bounds memory)
_N_NODES = 20  # Gauss-Legendre nodes per panel
_PANEL = 1.0  # maximal panel width in the mapped variable t


@lru_cache(maxsize=8)
def _leggauss(n: int) -> tuple[NDArray, NDArray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def _panel_rule(upper: NDArray) -> tuple[NDArray, NDArray]:
    """Composite Gauss-Legendre nodes and weights on ``[0, upper_i]`` for each element.

    Every element gets the same number of equal panels, at most ``_PANEL`` wide.
    Returns ``t`` and ``weights`` of shape ``(len(upper), n_panels * _N_NODES)``.
    """
    x, w = _leggauss(_N_NODES)
    n_panels = max(1, int(np.ceil(np.max(upper, initial=0.0) / _PANEL)))
    local = (np.arange(n_panels)[:, None] + 0.5 * (x[None, :] + 1.0)).ravel()
    width = (upper / n_panels)[:, None]
    return width * local[None, :], width * np.tile(0.5 * w, n_panels)[None, :]


def mapped_quad(integrand, width: NDArray, kappa: NDArray, *params: NDArray) -> NDArray:
    r"""Integrate ``integrand(w, *params)`` over ``w`` in ``[0, width]``.

    Substitution ``w = kappa * expm1(t)`` (``kappa`` is the length scale near ``w = 0``), then
    composite Gauss-Legendre in ``t``. All arrays are 1-D of the same length.
    """
    t, wt = _panel_rule(np.log1p(width / kappa))
    kap = kappa[:, None]
    w = kap * np.expm1(t)
    vals = integrand(w, *(p[:, None] for p in params))
    return np.sum(wt * kap * np.exp(t) * vals, axis=1)


def chunked(func, *arrays: NDArray) -> tuple[NDArray, ...] | NDArray:
    """Apply ``func`` to 1-D arrays in blocks of ``_CHUNK`` elements and concatenate."""
    n = arrays[0].size
    if n <= _CHUNK:
        return func(*arrays)
    parts = [func(*(a[i : i + _CHUNK] for a in arrays)) for i in range(0, n, _CHUNK)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
    return np.concatenate(parts)


def scaled_erfcx_neg(u: NDArray, s: NDArray) -> NDArray:
    """``exp(-s) * erfcx(-u)`` without overflow, valid for ``u <= sqrt(s)`` or ``s == 0``."""
    pos = u >= 0
    up = np.where(pos, u, 0.0)
    un = np.where(pos, 0.0, u)
    return np.where(pos, np.exp(up * up - s) * erfc(-up), np.exp(-s) * erfcx(-un))

