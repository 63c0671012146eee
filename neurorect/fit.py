r"""Fitting rate models to LIF neurons: a leaky ReLU to an f-I curve, a low-pass to chi(f).

The LIF neuron is in Brunel's convention (see :mod:`neurorect.lif`: ``tau_m dV/dt = -V +
mu(t) + sigma sqrt(tau_m) xi(t)``, free membrane variance ``sigma**2 / 2``), its input ``mu``
in volts.

* :func:`fit_leaky_relu` fits ``gain``, ``threshold``, ``alpha`` and ``baseline`` (optionally
  clipped at 0) to an f-I curve; on the noisy Siegert curve the fitted ``alpha`` is the leak
  slope that the noise buys (a noiseless LIF has ``alpha = 0``: silent below threshold).
  :func:`fit_to_lif` draws the curve from Siegert (:func:`fit_siegert`) or from a Brian2
  simulation.
* :func:`fit_lowpass_tau` fits the time constant ``tau_mu`` of an LN model with an
  exponential filter, ``1 / (1 + i 2 pi f tau_mu) ~ chi(f) / chi(0)``.

:func:`neurorect.crossval.matched_model` applies both to a model. Pure analysis: this module
imports neither Numba nor Brian2 (the Brian2 bridge is imported by :func:`fit_to_lif` only
for ``source="brian2"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from neurorect import lif as lif_theory
from neurorect._arguments import float_array
from neurorect._validate import check_choice, check_finite, check_range
from neurorect.errors import ModelError
from neurorect.spec import LIFNeuron
from neurorect.transfer import LeakyReLU

__all__ = [
    "FitInfo", "fit_leaky_relu", "fit_to_lif", "fit_siegert", "fit_lowpass_tau",
    "default_mu_range", "lif_parameters",
]

_PARAMS = ("gain", "threshold", "alpha", "baseline")


# --------------------------------------------------------------------------------------------
# fitting a leaky ReLU to an f-I curve
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FitInfo:
    """Diagnostics of :func:`fit_leaky_relu`.

    Attributes
    ----------
    params : dict
        Fitted ``gain`` (Hz per input unit), ``threshold`` (input units), ``alpha`` (1),
        ``baseline`` (Hz).
    param_se : dict
        Their standard errors from the Jacobian at the optimum (Gauss-Newton covariance,
        scaled by the reduced chi-square when no ``rate_se`` was given). Parameters at a
        bound (``alpha`` at 0 or 1) get the unconstrained value, which is only indicative.
    rms : float
        Root-mean-square residual, Hz.
    chi2 : float
        Sum of squared residuals divided by ``rate_se**2`` (by 1 Hz^2 without ``rate_se``).
    dof : int
        Degrees of freedom (points minus 4).
    """

    params: dict[str, float]
    param_se: dict[str, float]
    rms: float
    chi2: float
    dof: int
    extras: dict[str, Any] = field(default_factory=dict)


def _leaky(params: np.ndarray, mu: np.ndarray, rate_min: float, rate_max: float) -> np.ndarray:
    gain, threshold, alpha, baseline = params
    u = mu - threshold
    return np.clip(baseline + gain * np.maximum(u, alpha * u), rate_min, rate_max)


def _profile_start(mu: np.ndarray, rate: np.ndarray, weight: np.ndarray,
                   rate_min: float, rate_max: float) -> np.ndarray:
    """Best (gain, threshold, alpha, baseline) over a grid of thresholds.

    For a fixed threshold the unclipped model ``b + g max(u, 0) + g_a min(u, 0)`` is linear
    in ``(b, g, g_a)``: a weighted linear least-squares fit per candidate threshold gives a
    global starting point that the non-smooth kink would otherwise make hard to find.
    """
    lo, hi = float(mu.min()), float(mu.max())
    candidates = np.linspace(lo, hi, 241)[1:-1]
    best, best_cost = None, math.inf
    for threshold in candidates:
        u = mu - threshold
        design = np.column_stack([np.ones_like(u), np.maximum(u, 0.0), np.minimum(u, 0.0)])
        coef, *_ = np.linalg.lstsq(design * weight[:, None], rate * weight, rcond=None)
        baseline, gain, gain_below = coef
        gain = max(gain, 1e-12 * max(abs(gain_below), 1.0))
        alpha = float(np.clip(gain_below / gain, 0.0, 1.0))
        params = np.array([gain, threshold, alpha, baseline])
        cost = float(np.sum((weight * (_leaky(params, mu, rate_min, rate_max) - rate)) ** 2))
        if cost < best_cost:
            best, best_cost = params, cost
    return best


def fit_leaky_relu(mu: ArrayLike, rate: ArrayLike, *, rate_se: ArrayLike | None = None,
                   clip: bool = False, rate_max: float = math.inf,
                   full_output: bool = False) -> LeakyReLU | tuple[LeakyReLU, FitInfo]:
    """Least-squares fit of a leaky ReLU (with baseline) to an f-I curve.

    Model: ``phi(mu) = clip(baseline + gain * max(u, alpha u), rate_min, rate_max)``,
    ``u = mu - threshold``, with ``gain > 0``, ``0 <= alpha <= 1`` and the threshold inside
    the range of ``mu``. A grid of thresholds with a linear fit at each (the model is linear
    in ``baseline``, ``gain`` and ``gain * alpha`` once the threshold is fixed) gives the
    start; :func:`scipy.optimize.least_squares` then refines all four parameters.

    Parameters
    ----------
    mu : array_like
        Inputs (drive units; volts for an LIF f-I curve), at least 5 distinct values.
    rate : array_like
        Firing rates at ``mu``, Hz.
    rate_se : array_like, optional
        Standard errors of ``rate`` (Hz, > 0): weights ``1 / rate_se``. Default: equal.
    clip : bool
        Clip the fitted transfer below at ``rate_min = 0`` (rates cannot be negative), and
        fit with the clipping in place.
    rate_max : float
        Fixed upper clipping bound, Hz (default none).
    full_output : bool
        Also return a :class:`FitInfo`.

    Returns
    -------
    LeakyReLU or (LeakyReLU, FitInfo)
        ``gain`` in Hz per input unit, ``threshold`` in input units, ``alpha``, ``baseline``
        in Hz, ``rate_min = 0`` if ``clip``.

    Raises
    ------
    ModelError
        Inputs of different lengths, non-finite values, fewer than 5 distinct inputs, or
        non-positive ``rate_se``.
    """
    mu_arr = float_array("mu", mu, allowed="inputs (drive units)").ravel()
    rate_arr = float_array("rate", rate, allowed="rates (Hz)").ravel()
    if mu_arr.shape != rate_arr.shape:
        raise ModelError("mu and rate have different lengths", key="rate",
                         value=f"{rate_arr.size} values for {mu_arr.size} inputs",
                         allowed="one rate per input")
    check_finite("mu", mu_arr)
    check_finite("rate", rate_arr)
    if np.unique(mu_arr).size < 5:
        raise ModelError("too few distinct inputs to fit four parameters", key="mu",
                         value=np.unique(mu_arr).size, allowed="at least 5 distinct values")
    if rate_se is None:
        weight = np.ones_like(rate_arr)
    else:
        se = np.broadcast_to(np.asarray(rate_se, dtype=float).ravel(), rate_arr.shape)
        check_range("rate_se", se, low=0.0, low_open=True, high=math.inf, high_open=True,
                    unit="Hz")
        weight = 1.0 / se
    rate_min = 0.0 if clip else -math.inf
    if not rate_max > rate_min:
        raise ModelError("rate_max must exceed the lower clipping bound", key="rate_max",
                         value=rate_max, allowed=f"> {rate_min:g} Hz")
    start = _profile_start(mu_arr, rate_arr, weight, rate_min, rate_max)
    lo, hi = float(mu_arr.min()), float(mu_arr.max())
    span = hi - lo
    rate_span = float(np.ptp(rate_arr)) or 1.0
    lower = [0.0, lo, 0.0, -np.inf]
    upper = [np.inf, hi, 1.0, np.inf]
    start = np.clip(start, [1e-300, lo, 0.0, -np.inf], upper)

    def residual(params):
        return weight * (_leaky(params, mu_arr, rate_min, rate_max) - rate_arr)

    result = optimize.least_squares(residual, start, bounds=(lower, upper), method="trf",
                                    x_scale=[rate_span / span, span, 1.0, rate_span],
                                    xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000)
    params = result.x if result.cost <= 0.5 * np.sum(residual(start) ** 2) else start
    if params[0] <= 0:
        raise ModelError("the fit found no positive slope above threshold", key="rate",
                         value="a flat or decreasing f-I curve",
                         allowed="rates that increase with mu somewhere")
    gain, threshold, alpha, baseline = (float(p) for p in params)
    transfer = LeakyReLU(gain, threshold, alpha, rate_min=rate_min, rate_max=rate_max,
                         baseline=baseline)
    if not full_output:
        return transfer
    res = residual(params)
    chi2 = float(np.sum(res**2))
    dof = max(mu_arr.size - 4, 1)
    jac = optimize.approx_fprime(params, residual, epsilon=1e-7 * np.maximum(
        np.abs(params), [rate_span / span * 1e-3, span * 1e-3, 1e-3, rate_span * 1e-3]))
    cov = np.linalg.pinv(jac.T @ jac)
    if rate_se is None:
        cov = cov * chi2 / dof
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    rms = float(np.sqrt(np.mean((_leaky(params, mu_arr, rate_min, rate_max) - rate_arr) ** 2)))
    info = FitInfo(params=dict(zip(_PARAMS, map(float, params), strict=True)),
                   param_se=dict(zip(_PARAMS, map(float, se), strict=True)), rms=rms,
                   chi2=chi2, dof=dof)
    return transfer, info


def lif_parameters(lif: LIFNeuron) -> dict[str, float]:
    """``tau_m``, ``v_th``, ``v_reset`` and ``t_ref`` of ``lif`` (s, V, V, s): the keyword
    arguments of the :mod:`neurorect.lif` theory functions."""
    return {"tau_m": lif.tau_m, "v_th": lif.v_th, "v_reset": lif.v_reset, "t_ref": lif.t_ref}


def default_mu_range(lif: LIFNeuron, sigma: float | None = None) -> tuple[float, float]:
    """Default f-I range for fits and plots: ``v_th - 2 sigma`` to ``v_th + 2 sigma`` (V)."""
    sigma = lif.sigma if sigma is None else sigma
    width = 2.0 * max(sigma, 0.1 * (lif.v_th - lif.v_reset))
    return lif.v_th - width, lif.v_th + width


def fit_to_lif(lif: LIFNeuron, mu_range: tuple[float, float] | None = None, *,
               n_points: int = 41, sigma: float | None = None, source: str = "siegert",
               clip: bool = False, full_output: bool = False,
               **simulate_kwargs) -> LeakyReLU | tuple[LeakyReLU, FitInfo]:
    """Fit a leaky ReLU to the f-I curve of an LIF neuron (input ``mu`` in volts).

    Parameters
    ----------
    lif : LIFNeuron
    mu_range : (float, float), optional
        Range of the mean input, V (default :func:`default_mu_range`:
        ``v_th -+ 2 sigma``).
    n_points : int
        Number of equally spaced inputs.
    sigma : float, optional
        Noise amplitude, V (default ``lif.sigma``).
    source : {"siegert", "brian2"}
        The f-I curve: the Siegert formula (exact, instantaneous), or a Brian2 simulation
        (all inputs in one NeuronGroup; the fit is weighted by the standard errors).
    clip : bool
        Clip the fitted transfer at 0 Hz (see :func:`fit_leaky_relu`).
    full_output : bool
        Also return a :class:`FitInfo` (its ``extras`` hold the curve: ``mu``, ``rate``,
        ``rate_se``).
    **simulate_kwargs
        For ``source="brian2"``: ``duration`` (s, default 2), ``n_neurons``, ``dt``,
        ``seed``, ``transient``, ``threshold_correction``, ``target`` of
        :func:`neurorect.brian2_lif.simulate_lif`.

    Returns
    -------
    LeakyReLU or (LeakyReLU, FitInfo)
        Gain in Hz/V, threshold in V, baseline in Hz.
    """
    check_choice("source", source, ("siegert", "brian2"))
    if not isinstance(lif, LIFNeuron):
        raise ModelError("must be an LIF neuron", key="lif", value=type(lif).__name__,
                         allowed="a neurorect.spec.LIFNeuron (model.lif)")
    sigma = lif.sigma if sigma is None else float(sigma)
    lo, hi = default_mu_range(lif, sigma) if mu_range is None else map(float, mu_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ModelError("mu_range must be two finite values, low < high", key="mu_range",
                         value=mu_range, allowed="(low, high) in V")
    mu = np.linspace(lo, hi, int(n_points))
    rate_se = None
    if source == "siegert":
        if simulate_kwargs:
            raise ModelError("simulation arguments given for the Siegert curve",
                             key="source", value=source,
                             allowed=f"source='brian2' with {sorted(simulate_kwargs)}")
        rate = np.asarray(lif_theory.siegert_rate(mu, sigma, **lif_parameters(lif)))
    else:
        from neurorect.brian2_lif import simulate_lif

        simulate_kwargs.setdefault("duration", 2.0)
        result = simulate_lif(lif, conditions={"mu0": mu, "mu1": 0.0, "freq": 0.0,
                                               "sigma": sigma}, **simulate_kwargs)
        rate = result["r0"].values
        rate_se = result["r0_se"].values
        # a condition without spikes has zero spread: floor the error at one spike's worth
        floor = 1.0 / (result["n_neurons"].values * (result.attrs["duration"]
                                                      - result.attrs["transient"]))
        rate_se = np.maximum(rate_se, floor)
    fitted = fit_leaky_relu(mu, rate, rate_se=rate_se, clip=clip, full_output=full_output)
    if full_output:
        transfer, info = fitted
        info.extras.update(mu=mu, rate=rate, rate_se=rate_se, source=source, sigma=sigma)
        return transfer, info
    return fitted


def fit_siegert(lif: LIFNeuron, mu_range: tuple[float, float] | None = None, *,
                n_points: int = 41, sigma: float | None = None, clip: bool = False,
                full_output: bool = False) -> LeakyReLU | tuple[LeakyReLU, FitInfo]:
    """Fit a leaky ReLU to the Siegert f-I curve: ``fit_to_lif(..., source="siegert")``."""
    return fit_to_lif(lif, mu_range, n_points=n_points, sigma=sigma, source="siegert",
                      clip=clip, full_output=full_output)


# --------------------------------------------------------------------------------------------
# fitting the LN time constant
# --------------------------------------------------------------------------------------------

def fit_lowpass_tau(freq: ArrayLike, chi: ArrayLike, *, chi0: complex | None = None) -> float:
    """Time constant ``tau_mu`` of the first-order low-pass closest to ``chi(f) / chi(0)``.

    Minimises ``sum_f |1 / (1 + i 2 pi f tau) - chi(f) / chi0|**2`` (gain and phase together,
    sine/``exp(+i omega t)`` convention: a lag has negative phase) over ``tau > 0``. This is
    the exponential filter of an LN model ``r = phi(h * mu)`` that best reproduces the LIF's
    linear response at the given frequencies (the LIF's own response falls off as
    ``f**-1/2`` at high frequency, so the answer depends on the frequencies chosen).

    Parameters
    ----------
    freq : array_like
        Frequencies, Hz (>= 0).
    chi : array_like of complex
        Response at ``freq`` (any units, e.g. Hz/V from :func:`neurorect.lif.susceptibility`).
    chi0 : complex, optional
        Zero-frequency response (default: ``chi`` at ``freq == 0``, which must then be
        present).

    Returns
    -------
    float
        ``tau_mu`` in s.
    """
    f = np.asarray(freq, dtype=float).ravel()
    h = np.asarray(chi, dtype=complex).ravel()
    if f.shape != h.shape or f.size == 0:
        raise ModelError("freq and chi must have the same, non-zero length", key="chi",
                         value=f"{h.size} values for {f.size} frequencies",
                         allowed="one response per frequency")
    check_range("freq", f, low=0.0, high=math.inf, high_open=True, unit="Hz")
    check_finite("chi", np.abs(h))
    if chi0 is None:
        zero = f == 0
        if not np.any(zero):
            raise ModelError("chi0 is required when freq has no 0", key="chi0", value=None,
                             allowed="the zero-frequency response, e.g. siegert_derivative")
        chi0 = complex(h[zero][0])
    if chi0 == 0 or not np.isfinite(chi0):
        raise ModelError("chi0 must be finite and non-zero", key="chi0", value=chi0,
                         allowed="a non-zero response")
    target = h / chi0
    omega = 2 * np.pi * f
    if not np.any(omega > 0):
        raise ModelError("need at least one frequency > 0", key="freq", value=f.tolist(),
                         allowed="some freq > 0 Hz")

    def cost(log_tau: float) -> float:
        return float(np.sum(np.abs(1.0 / (1.0 + 1j * omega * math.exp(log_tau)) - target) ** 2))

    scale = 1.0 / omega[omega > 0]
    grid = np.linspace(math.log(scale.min()) - 7.0, math.log(scale.max()) + 7.0, 281)
    values = [cost(g) for g in grid]
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    best = optimize.minimize_scalar(cost, bounds=(lo, hi), method="bounded",
                                    options={"xatol": 1e-10})
    return float(math.exp(best.x if best.fun <= values[i] else grid[i]))
