"""Gaussian averages of the transfers without a closed form, by quadrature.

Composite Gauss-Legendre on the standardised input ``z in [-12, 12]`` (the tail beyond is
< 1e-31 of the mass), 12 panels of 20 nodes, split at the threshold and graded towards it;
Stein's identity for ``E[phi']`` where ``phi'`` diverges; the substitution that removes the
singularity of a power law's slope moments. Used by :mod:`~neurorect.theory.gaussian`
(see its docstring for the accuracy).
"""

from __future__ import annotations

import math

import numpy as np

from neurorect.theory.normal import comb, density
from neurorect.theory.quadrature import CHUNK, breaks, graded_rule, singular_slope
from neurorect.transfer import LIFTransfer, PowerLaw, Transfer

__all__: list[str] = []  # internal to neurorect.theory (see its docstring)

#: Composite Gauss-Legendre rule on ``z in [-half_width, half_width]``: panels, nodes per panel.
_GAUSS_PANELS, _GAUSS_NODES, _GAUSS_HALF_WIDTH = 12, 20, 12.0
#: How the results of this module were computed (a Dataset attribute).
METHOD = ("numerical: composite Gauss-Legendre quadrature on mu +- 12 s, 20 nodes per "
          "panel, graded towards the threshold (~1e-14 relative)")

def expect(transfer: Transfer, mu: np.ndarray, s: np.ndarray, integrand, *extra) -> np.ndarray:
    """``E[integrand(x, z, *extra)]`` for ``x = mu + s z``, ``z ~ N(0, 1)`` (1-D inputs).

    Composite Gauss-Legendre on ``z in [-12, 12]``, split at the transfer's threshold and
    graded towards it. ``extra`` are per-point arrays handed to ``integrand`` as columns.
    """
    out = np.empty(mu.shape)
    L = _GAUSS_HALF_WIDTH
    for lo in range(0, mu.size, CHUNK):
        sl = slice(lo, lo + CHUNK)
        m, sd = mu[sl, None], s[sl, None]
        kinks = []  # standardised position of each kink
        for kink in breaks(transfer):
            with np.errstate(divide="ignore", invalid="ignore"):
                kinks.append(np.clip(np.where(sd > 0, (kink - m) / sd, L), -L, L))
        z, w = graded_rule(-L, L, _GAUSS_PANELS, _GAUSS_NODES, m.shape[0], kinks)
        values = integrand(m + sd * z, z, *(e[sl, None] for e in extra))
        out[sl] = np.sum(w * density(z) * values, -1)
    return out


def quad_powers(transfer: Transfer, mu, s, powers: int, shift) -> np.ndarray:
    """``E[(phi - shift)^k]``, ``k = 0..powers``, by quadrature (1-D inputs)."""
    shift = np.broadcast_to(np.asarray(shift, float), mu.shape)
    out = np.stack([expect(transfer, mu, s, lambda x, z, c, k=k:
                            (np.asarray(transfer(x), float) - c) ** k, shift)
                    for k in range(powers + 1)])
    return _point_mass(out, np.asarray(transfer(mu), float) - shift, s)


def _point_mass(out: np.ndarray, value: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``out`` (powers on the first axis) with ``value^k`` exactly where ``s = 0`` (the rule
    sums its weights to 1 only to rounding)."""
    k = np.arange(out.shape[0]).reshape((-1,) + (1,) * value.ndim)
    return np.where(s > 0, out, value ** k)


def _stein_gain(transfer: Transfer, mu, s) -> np.ndarray:
    """``E[phi'(x)] = E[z phi(x)] / s`` (``phi'(mu)`` at ``s = 0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        stein = expect(transfer, mu, s, lambda x, z: z * np.asarray(transfer(x), float)) / s
    return np.where(s > 0, stein, np.asarray(transfer.derivative(mu), float))


def _power_law_singular(transfer: PowerLaw, mu, s, k: int) -> np.ndarray:
    """``E[phi'^k]`` of a power law with ``p = k (1 - n)`` in ``(0, 1)``.

    ``phi' = c u^(n-1)``, ``u = x - t > 0``: with ``u = s v`` and ``v = w^q``, ``q = 1/(1-p)``,
    ``E = c^k s^-p q int_0^W pdf(z0 + w^q) dw``, ``z0 = (t - mu)/s``, ``W = (12 - z0)^(1/q)``:
    a smooth integrand up to a mild ``w^q`` bend at 0, towards which the panels are graded.
    """
    p = k * (1.0 - transfer.n)
    q = 1.0 / (1.0 - p)
    c = transfer.k * transfer.n
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = np.where(s > 0, (transfer.threshold - mu) / s, 0.0)
    top = np.maximum(_GAUSS_HALF_WIDTH - z0, 0.0) ** (1.0 / q)
    with np.errstate(divide="ignore", invalid="ignore"):  # the density's peak, w^q = -z0
        peak = np.where(top > 0, np.maximum(-z0, 0.0) ** (1.0 / q) / top, 0.0)
    out = np.empty(mu.shape)
    for lo in range(0, mu.size, CHUNK):
        sl = slice(lo, lo + CHUNK)
        # split at the peak too: for p near 1 the density is narrow in w there
        y, w = graded_rule(0.0, 1.0, _GAUSS_PANELS, _GAUSS_NODES, mu[sl].size,
                           [np.zeros((mu[sl].size, 1)), np.clip(peak[sl, None], 0.0, 1.0)])
        wv = top[sl, None] * y
        out[sl] = top[sl] * np.sum(w * density(z0[sl, None] + wv ** q), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = c ** k * q * out / s ** p
    at_zero = np.asarray(transfer.derivative(mu), float) ** k
    return np.where(s > 0, out, at_zero)


def slope_raw(transfer: Transfer, mu, s, k: int) -> np.ndarray:
    """``E[phi'^k]`` by quadrature, Stein's identity or the singular rules (1-D inputs)."""
    if not singular_slope(transfer):
        return expect(transfer, mu, s, lambda x, z: np.asarray(transfer.derivative(x),
                                                                  float) ** k)
    if k == 1:
        return _stein_gain(transfer, mu, s)
    at_zero = np.asarray(transfer.derivative(mu), float) ** k
    if isinstance(transfer, LIFTransfer) or k * (1.0 - transfer.n) >= 1.0:
        return np.where(s > 0, math.inf, at_zero)  # not integrable at the threshold
    return _power_law_singular(transfer, mu, s, k)


def quad_slope_powers(transfer: Transfer, mu, s, powers: int, shift) -> np.ndarray:
    """``E[(phi' - shift)^k]``, ``k = 0..powers`` (1-D inputs)."""
    shift = np.broadcast_to(np.asarray(shift, float), mu.shape)
    if not singular_slope(transfer):
        out = np.stack([expect(transfer, mu, s, lambda x, z, c, k=k:
                                (np.asarray(transfer.derivative(x), float) - c) ** k, shift)
                        for k in range(powers + 1)])
        return _point_mass(out, np.asarray(transfer.derivative(mu), float) - shift, s)
    raw = [np.ones(mu.shape)] + [slope_raw(transfer, mu, s, j)
                                 for j in range(1, powers + 1)]
    if not np.any(shift):
        return np.stack(raw)
    # central from raw moments: the slope varies a lot (it diverges), little cancellation
    with np.errstate(invalid="ignore"):  # inf - inf where a moment diverges: inf
        out = [sum(comb(k, j) * raw[j] * (-shift) ** (k - j) for j in range(k + 1))
               for k in range(powers + 1)]
    return np.stack([np.where(np.isnan(o), math.inf, o) for o in out])
