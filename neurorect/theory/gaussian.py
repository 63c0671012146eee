"""Averages of a transfer over Gaussian input ``x ~ N(mu, s^2)``: ``E[phi(x)]``, ``E[phi'(x)]``.

Closed forms for the leaky ReLU (normal CDF and PDF of its ramps); graded composite
Gauss-Legendre quadrature on the standardised input ``z = (x - mu) / s`` otherwise. Further
Gaussian moments of ``phi`` and ``phi'`` belong here and reuse :func:`_gaussian_quad`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from neurorect._arguments import float_array
from neurorect._validate import check_finite, check_range
from neurorect.theory.common import TWO_PI, check_transfer
from neurorect.theory.pwl import LEAKY_NAMES, Ramps, leaky_relu_ramps
from neurorect.theory.quadrature import CHUNK, breaks, graded_rule, singular_slope
from neurorect.transfer import LeakyReLU, Transfer

__all__ = ["gaussian_mean_rate", "gaussian_gain"]

#: Composite Gauss-Legendre rule on ``z in [-half_width, half_width]``: panels, nodes per panel.
_GAUSS_PANELS, _GAUSS_NODES, _GAUSS_HALF_WIDTH = 12, 20, 12.0


def _gaussian_quad(transfer: Transfer, mu, s, which: str) -> np.ndarray:
    """``E[phi(x)]`` (``which="rate"``) or ``E[phi'(x)]`` for ``x ~ N(mu, s^2)``, 1-D inputs.

    Composite Gauss-Legendre on ``z in [-12, 12]`` (the Gaussian tail beyond is < 1e-31),
    split at the transfer's threshold and graded towards it. Where ``phi'`` diverges, the gain
    uses Stein's identity ``E[phi'(x)] = E[z phi(mu + s z)] / s`` instead.
    """
    stein = which == "gain" and singular_slope(transfer)
    func = transfer if which == "rate" or stein else transfer.derivative
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
        density = np.exp(-0.5 * z * z) / math.sqrt(TWO_PI)
        values = np.asarray(func(m + sd * z), float)
        if stein:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(sd > 0, z * values / sd, np.asarray(transfer.derivative(m)))
        out[sl] = np.sum(w * density * values, -1)
    return out


def _pwl_gaussian(ramps: Ramps, mu: np.ndarray, s: np.ndarray, which: str) -> np.ndarray:
    """``E[phi(x)]`` or ``E[phi'(x)]`` of a sum of ramps, in closed form.

    A ramp ``R(x - kappa)`` averages to ``s (d Phi(d) + phi(d))`` and its step to ``Phi(d)``,
    ``d = (mu - kappa) / s`` (``Phi``, ``phi`` the normal CDF and PDF); at ``s = 0`` the
    ramp itself and the mean of the one-sided steps.
    """
    kappa, delta = ramps.kappa, ramps.delta
    m, sd = mu[..., None], s[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (m - kappa) / sd
        if which == "rate":
            density = np.exp(-0.5 * d * d) / math.sqrt(TWO_PI)
            ramp = np.where(sd > 0, sd * (d * ndtr(d) + density), np.maximum(m - kappa, 0))
            return ramps.base + ramps.b0 * (mu - ramps.threshold) + np.sum(delta * ramp, -1)
        step = np.where(sd > 0, ndtr(d), 0.5 * (1.0 + np.sign(m - kappa)))
        return ramps.b0 + np.sum(delta * step, -1)


def _gaussian(transfer: Transfer, mu, s, which: str) -> float | np.ndarray:
    """Validate, then the closed form (leaky ReLU) or the quadrature; ``which``: rate, gain."""
    check_transfer(transfer)
    mu, s = np.broadcast_arrays(check_finite("mu", float_array("mu", mu)),
                                float_array("s", s))
    check_range("s", s, low=0.0, high=math.inf, high_open=True)
    if isinstance(transfer, LeakyReLU):
        ramps = leaky_relu_ramps(*(getattr(transfer, name) for name in LEAKY_NAMES)).active()
        out = _pwl_gaussian(ramps, mu, s, which)
    else:
        out = _gaussian_quad(transfer, mu.ravel(), s.ravel(), which).reshape(mu.shape)
    return float(out) if out.ndim == 0 else out


def gaussian_mean_rate(transfer: Transfer, mu, s) -> float | np.ndarray:
    """Mean rate ``E[phi(x)]`` for Gaussian input ``x ~ N(mu, s^2)``.

    Exact for the leaky ReLU (normal CDF and PDF, clipping included). Other transfers:
    numerical, composite Gauss-Legendre quadrature on ``mu +- 12 s`` with panels graded
    towards the threshold (~1e-14 relative against adaptive quadrature).

    Parameters
    ----------
    transfer : Transfer
        Rate transfer ``phi`` (Hz).
    mu : array_like
        Mean input, drive units.
    s : array_like
        Standard deviation of the input, drive units, ``>= 0`` (broadcast against ``mu``).

    Returns
    -------
    float or numpy.ndarray
        Mean rate, Hz.
    """
    return _gaussian(transfer, mu, s, "rate")


def gaussian_gain(transfer: Transfer, mu, s) -> float | np.ndarray:
    """Effective gain ``E[phi'(x)]`` (= ``d E[phi(x)] / d mu``) for ``x ~ N(mu, s^2)``.

    Exact for the leaky ReLU; at ``s = 0`` the slope at ``mu``, with the mean of the two
    slopes at a kink (the limit ``s -> 0``). Other transfers: quadrature of ``phi'`` as in
    :func:`gaussian_mean_rate`, or, where ``phi'`` diverges (LIF, PowerLaw with ``n < 1``),
    of Stein's identity ``E[phi'(x)] = E[(x - mu) phi(x)] / s**2`` (at ``s = 0``:
    ``transfer.derivative(mu)``).

    Parameters
    ----------
    transfer, mu, s
        As in :func:`gaussian_mean_rate`: the transfer ``phi`` (Hz), the mean input and its
        standard deviation (drive units, ``s >= 0``).

    Returns
    -------
    float or numpy.ndarray
        Gain, Hz per drive unit.
    """
    return _gaussian(transfer, mu, s, "gain")


