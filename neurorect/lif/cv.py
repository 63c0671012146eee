"""Interval statistics: the ISI coefficient of variation and the free membrane's moments."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import dawsn, erfc, erfcx

from neurorect.lif.params import by_noise, check_params
from neurorect.lif.quadrature import chunked, mapped_quad
from neurorect.lif.rates import siegert_parts

__all__ = ["isi_cv", "MembraneStats", "membrane_stats"]


def _cv_piece_a(y_r: NDArray, y_th: NDArray, s: NDArray) -> NDArray:
    r"""``exp(-2s) * int_{y_r}^{y_th} g(y) [D(y_th) - D(y)] dy``.

    ``g(y) = e^{y^2}(1+erf y)^2`` and ``D(x) = int_0^x e^{t^2} dt = e^{x^2} F(x)`` (Dawson F).
    """

    def integrand(w, b, s_, fb):
        y = b - w
        pos = y >= 0
        yp = np.where(pos, y, 0.0)
        yn = np.where(pos, 0.0, y)
        vp = erfc(-yp) ** 2 * (
            # exponents are <= 0 where selected (0 <= y <= b, s = b^2); clip the others
            np.exp(np.minimum(b * b + yp * yp - 2 * s_, 0.0)) * fb
            - np.exp(np.minimum(2 * yp * yp - 2 * s_, 0.0)) * dawsn(yp)
        )
        vn = erfcx(-yn) ** 2 * (np.exp(b * b - yn * yn - 2 * s_) * fb - np.exp(-2 * s_) * dawsn(yn))
        return np.where(pos, vp, vn)

    kappa = 1.0 / (1.0 + 4.0 * np.abs(y_th))
    return mapped_quad(integrand, y_th - y_r, kappa, y_th, s, dawsn(y_th))


def _cv_inner_tail(a: NDArray) -> NDArray:
    r"""``J(a) = int_{-inf}^a g(y) dy`` scaled by ``exp(a^2)`` (a <= 0) or ``exp(-a^2)``."""
    sgn = np.where(a > 0, 1.0, -1.0)

    def integrand(w, a_, sg):
        y = a_ - w
        pos = y >= 0
        yp = np.where(pos, y, 0.0)
        yn = np.where(pos, 0.0, y)
        vp = erfc(-yp) ** 2 * np.exp(np.minimum(yp * yp - sg * a_ * a_, 0.0))  # <= 0 if used
        vn = erfcx(-yn) ** 2 * np.exp(-yn * yn - sg * a_ * a_)
        return np.where(pos, vp, vn)

    w_max = np.maximum(a, 0.0) + 8.0  # beyond, the Gaussian tail is below exp(-64)
    kappa = 1.0 / (1.0 + 2.0 * np.abs(a))
    return mapped_quad(integrand, w_max, kappa, a, sgn)


def _cv_squared_scaled(y_r: NDArray, y_th: NDArray) -> NDArray:
    """``exp(-2s) * Var(T) / (2 pi tau^2)`` for the first-passage time T (1-D arrays)."""
    s = np.maximum(y_th, 0.0) ** 2
    piece_a = _cv_piece_a(y_r, y_th, s)
    js = _cv_inner_tail(y_r)
    a, b = y_r, y_th
    f_a, f_b = dawsn(a), dawsn(b)
    neg = a <= 0
    an = np.where(neg, a, 0.0)
    ap = np.where(neg, 0.0, a)
    pref_neg = np.exp(b * b - an * an - 2 * s) * f_b - np.exp(-2 * s) * f_a
    pref_pos = np.exp(ap * ap - b * b) * f_b - np.exp(2 * ap * ap - 2 * b * b) * f_a
    piece_b = np.where(neg, pref_neg, pref_pos) * js
    return piece_a + piece_b



def isi_cv(mu: ArrayLike, sigma: ArrayLike, *, tau_m: ArrayLike, v_th: ArrayLike,
           v_reset: ArrayLike, t_ref: ArrayLike) -> NDArray | float:
    r"""Coefficient of variation of the inter-spike interval (dimensionless).

    Brunel (2000), appendix A (Tuckwell's moment formula):

    .. math:: CV^2 = 2\pi (r\tau_m)^2 \int_{y_r}^{y_{th}} dx\, e^{x^2}
              \int_{-\infty}^{x} dy\, e^{y^2} (1+\mathrm{erf}\,y)^2 ,

    with ``r`` the Siegert rate (refractoriness adds to the mean interval, not to its
    variance). It tends to 1 (Poisson) for strongly sub-threshold input and to 0 for
    supra-threshold input as ``sigma -> 0``. For ``sigma == 0`` the result is 0 above threshold
    and NaN (no spikes) at or below it. Parameters as in :func:`siegert_rate`.

    Returns
    -------
    ndarray or float
        CV of the ISI, broadcast shape of the inputs.
    """
    return by_noise(_cv_noiseless, _cv_noisy, mu=mu, sigma=sigma, tau_m=tau_m, v_th=v_th,
                    v_reset=v_reset, t_ref=t_ref)


def _cv_noiseless(mu, tau_m, v_th, v_reset, t_ref):
    """0 above threshold (regular firing), NaN at or below it (no spikes)."""
    return np.where(mu > v_th, 0.0, np.nan)


def _cv_noisy(mu, sigma, tau_m, v_th, v_reset, t_ref):
    """The CV where ``sigma > 0``: ``sqrt(2 pi Var_s) tau_m nu_s`` (scaled forms, 1-D)."""
    y_r, y_th, _, _, nu_s = siegert_parts(mu, sigma, tau_m, v_th, v_reset, t_ref)
    var_s = chunked(_cv_squared_scaled, y_r, y_th)
    return np.sqrt(2.0 * np.pi * var_s) * tau_m * nu_s


class MembraneStats(NamedTuple):
    """Free (threshold-less) membrane statistics: mean (V), variance (V^2), correlation (s)."""

    mean: NDArray | float
    variance: NDArray | float
    correlation_time: NDArray | float


def membrane_stats(mu: ArrayLike, sigma: ArrayLike, tau_m: ArrayLike) -> MembraneStats:
    """Stationary statistics of the free membrane (the OU process without threshold).

    Parameters
    ----------
    mu : array_like
        Mean input (V).
    sigma : array_like
        Noise amplitude (V), >= 0.
    tau_m : array_like
        Membrane time constant (s), > 0.

    Returns
    -------
    MembraneStats
        ``mean = mu`` (V), ``variance = sigma**2 / 2`` (V^2) and ``correlation_time = tau_m``
        (s; the autocovariance is ``variance * exp(-|t| / tau_m)``), broadcast.
    """
    p = check_params(mu=mu, sigma=sigma, tau_m=tau_m)
    m, s, t = np.broadcast_arrays(p["mu"], p["sigma"], p["tau_m"])
    return MembraneStats(m.copy()[()], (0.5 * s * s)[()], t.copy()[()])

