"""Firing rates of the LIF neuron: noiseless, and with white noise (Siegert formula).

:func:`siegert_parts` (the Siegert integral in scaled form) is shared with the ISI CV of
:mod:`~neurorect.lif.cv`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from neurorect.lif.params import by_noise, check_params
from neurorect.lif.quadrature import chunked, mapped_quad, scaled_erfcx_neg

__all__ = ["deterministic_rate", "siegert_rate", "siegert_derivative"]

SQRT_PI = float(np.sqrt(np.pi))


def _siegert_integral(y_r: NDArray, y_th: NDArray) -> tuple[NDArray, NDArray]:
    r"""``(I_s, s)`` with :math:`\int_{y_r}^{y_{th}} \mathrm{erfcx}(-u)\,du = e^{s} I_s`.

    ``s = max(y_th, 0)**2``. 1-D inputs, ``y_r < y_th``.
    """
    s = np.maximum(y_th, 0.0) ** 2
    # length scale of the integrand near u = y_th: 1/(2 y_th) (Gaussian growth) or |y_th|
    kappa = np.where(y_th >= 0, 1.0 / (1.0 + 2.0 * np.abs(y_th)), 1.0 + np.abs(y_th))

    def integrand(w, b, s_):
        return scaled_erfcx_neg(b - w, s_)

    return mapped_quad(integrand, y_th - y_r, kappa, y_th, s), s


def siegert_parts(mu, sigma, tau_m, v_th, v_reset, t_ref):
    """Flattened noisy-branch quantities: y_r, y_th, s, I_s, nu_s (rate = exp(-s) nu_s)."""
    y_th = (v_th - mu) / sigma
    y_r = (v_reset - mu) / sigma
    i_s, s = chunked(_siegert_integral, y_r, y_th)
    nu_s = 1.0 / (np.exp(-s) * t_ref + tau_m * SQRT_PI * i_s)
    return y_r, y_th, s, i_s, nu_s


def deterministic_rate(mu: ArrayLike, *, tau_m: ArrayLike, v_th: ArrayLike,
                       v_reset: ArrayLike, t_ref: ArrayLike) -> NDArray | float:
    r"""Firing rate of the noiseless LIF neuron (Hz).

    :math:`r = 1/(t_{ref} + \tau_m \ln[(\mu - v_{reset})/(\mu - v_{th})])` for
    :math:`\mu > v_{th}`, else 0.

    Parameters
    ----------
    mu : array_like
        Mean input (V).
    tau_m : array_like
        Membrane time constant (s), > 0.
    v_th, v_reset : array_like
        Threshold and reset potential (V), ``v_reset < v_th``.
    t_ref : array_like
        Absolute refractory period (s), >= 0.

    Returns
    -------
    ndarray or float
        Rate in Hz, broadcast shape of the inputs.
    """
    p = check_params(mu=mu, tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref)
    return _deterministic_rate(p["mu"], p["tau_m"], p["v_th"], p["v_reset"], p["t_ref"])[()]


def _deterministic_rate(mu, tau_m, v_th, v_reset, t_ref):
    """The noiseless rate (Hz) of validated arrays."""
    above = mu > v_th
    gap = np.where(above, mu - v_th, 1.0)
    log_ratio = np.log1p((v_th - v_reset) / gap)  # ln((mu - v_r)/(mu - v_th)), accurate
    return np.where(above, 1.0 / (t_ref + tau_m * log_ratio), 0.0)


def _deterministic_derivative(mu, tau_m, v_th, v_reset, t_ref):
    """``d rate / d mu`` of the noiseless rate (Hz/V), 0 at and below threshold."""
    above = mu > v_th
    r = _deterministic_rate(mu, tau_m, v_th, v_reset, t_ref)
    gap = np.where(above, mu - v_th, 1.0)
    span = np.where(above, mu - v_reset, 1.0)
    return np.where(above, r * r * tau_m * (v_th - v_reset) / (span * gap), 0.0)


def siegert_rate(mu: ArrayLike, sigma: ArrayLike, *, tau_m: ArrayLike, v_th: ArrayLike,
                 v_reset: ArrayLike, t_ref: ArrayLike) -> NDArray | float:
    r"""Stationary firing rate of the LIF neuron with white noise (Siegert formula), in Hz.

    .. math:: \frac1r = t_{ref} + \tau_m \sqrt\pi \int_{y_r}^{y_{th}} e^{u^2}(1+\mathrm{erf}\,u)
              \,du, \qquad y = (v - \mu)/\sigma .

    Accurate to ~1e-12 relative from strongly sub-threshold (rates down to ~1e-300 Hz, below
    which the result underflows to 0) to strongly supra-threshold inputs; ``sigma == 0``
    returns :func:`deterministic_rate`, and small ``sigma`` converges to it.

    Parameters
    ----------
    mu : array_like
        Mean input (V).
    sigma : array_like
        Noise amplitude (V), >= 0; the free membrane variance is ``sigma**2 / 2``.
    tau_m : array_like
        Membrane time constant (s), > 0.
    v_th, v_reset : array_like
        Threshold and reset (V), ``v_reset < v_th``.
    t_ref : array_like
        Absolute refractory period (s), >= 0.

    Returns
    -------
    ndarray or float
        Rate (Hz), broadcast shape of the inputs.
    """
    return by_noise(_deterministic_rate, _siegert_noisy, mu=mu, sigma=sigma, tau_m=tau_m,
                    v_th=v_th, v_reset=v_reset, t_ref=t_ref)


def siegert_derivative(mu: ArrayLike, sigma: ArrayLike, *, tau_m: ArrayLike, v_th: ArrayLike,
                       v_reset: ArrayLike, t_ref: ArrayLike) -> NDArray | float:
    r"""Derivative of :func:`siegert_rate` with respect to ``mu`` (Hz/V), analytic.

    Differentiating the bounds of the Siegert integral gives

    .. math:: \frac{\partial r}{\partial\mu} = \frac{r^2\tau_m\sqrt\pi}{\sigma}
              \left[\mathrm{erfcx}(-y_{th}) - \mathrm{erfcx}(-y_r)\right],

    evaluated in scaled form (no overflow for strongly sub-threshold input). For
    ``sigma == 0`` the derivative of :func:`deterministic_rate` is returned (0 for
    ``mu <= v_th``). Parameters as in :func:`siegert_rate`.

    Returns
    -------
    ndarray or float
        ``d rate / d mu`` in Hz/V.
    """
    return by_noise(_deterministic_derivative, _siegert_derivative_noisy, mu=mu, sigma=sigma,
                    tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref)


def _siegert_noisy(mu, sigma, tau_m, v_th, v_reset, t_ref):
    """The Siegert rate where ``sigma > 0`` (1-D arrays)."""
    _, _, s, _, nu_s = siegert_parts(mu, sigma, tau_m, v_th, v_reset, t_ref)
    return np.exp(-s) * nu_s


def _siegert_derivative_noisy(mu, sigma, tau_m, v_th, v_reset, t_ref):
    """``d rate / d mu`` where ``sigma > 0``: ``tau sqrt(pi) / sigma nu_s r [..]`` (1-D)."""
    y_r, y_th, s, _, nu_s = siegert_parts(mu, sigma, tau_m, v_th, v_reset, t_ref)
    rate = np.exp(-s) * nu_s
    bracket = scaled_erfcx_neg(y_th, s) - scaled_erfcx_neg(y_r, s)
    return tau_m * SQRT_PI / sigma * nu_s * rate * bracket
