r"""Rate-versus-spike cross-validation: fit rectifiers to LIF neurons and compare responses.

A population of leaky integrate-and-fire neurons (Brunel's convention, see
:mod:`neurorect.lif`: ``tau_m dV/dt = -V + mu(t) + sigma sqrt(tau_m) xi(t)``, free membrane
variance ``sigma**2 / 2``) and the leaky-ReLU rate model matched to it are given the same
sinusoidal drive ``mu(t) = mu0 + mu1 sin(2 pi f t)`` (volts). Three sources answer:

``"rate"``
    the rate model (exact theory, :func:`neurorect.theory.sinusoid_response`, or
    :func:`neurorect.simulate`);
``"lif_brian2"``
    the Brian2 LIF population (:func:`neurorect.brian2_lif.simulate_lif`: every frequency
    and every f-I point a block of one NeuronGroup, spikes analysed by
    :func:`neurorect.fourier.spike_harmonics`), with standard errors;
``"lif_theory"``
    LIF theory: Siegert rate and the linear-response susceptibility ``chi(f)``
    (:mod:`neurorect.lif`).

Matching a rate model to an LIF neuron:

* :func:`fit_leaky_relu` fits ``gain``, ``threshold``, ``alpha`` and ``baseline`` (optionally
  clipped at 0) to an f-I curve; on the noisy Siegert curve the fitted ``alpha`` is the leak
  slope that the noise buys (a noiseless LIF has ``alpha = 0``: silent below threshold).
  :func:`fit_to_lif` draws the curve from Siegert or from a Brian2 simulation.
* :func:`fit_lowpass_tau` fits the time constant ``tau_mu`` of an LN model with an
  exponential filter, ``1 / (1 + i 2 pi f tau_mu) ~ chi(f) / chi(0)``.
* :func:`matched_model` returns a model whose population uses both.

This module never imports Brian2 or Numba at import time: the Brian2 bridge is imported
inside the functions that run it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy import optimize

from neurorect import lif as lif_theory
from neurorect._version import __version__
from neurorect.errors import ModelError
from neurorect.fourier import wrap_phase
from neurorect.modelfile import dumps_model
from neurorect.spec import LIFNeuron, Model
from neurorect.transfer import LeakyReLU

__all__ = [
    "FitInfo", "fit_leaky_relu", "fit_to_lif", "fit_siegert", "fit_lowpass_tau",
    "matched_model", "compare", "default_mu_range", "SOURCES", "format_table",
]

#: The ``source`` coordinate of :func:`compare`.
SOURCES = ("rate", "lif_brian2", "lif_theory")
_PARAMS = ("gain", "threshold", "alpha", "baseline")


def _attrs(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name}


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
    mu_arr = np.asarray(mu, dtype=float).ravel()
    rate_arr = np.asarray(rate, dtype=float).ravel()
    if mu_arr.shape != rate_arr.shape:
        raise ModelError("mu and rate have different lengths", key="rate",
                         value=f"{rate_arr.size} values for {mu_arr.size} inputs",
                         allowed="one rate per input")
    if not (np.all(np.isfinite(mu_arr)) and np.all(np.isfinite(rate_arr))):
        raise ModelError("mu and rate must be finite", key="rate", value="non-finite values",
                         allowed="finite numbers")
    if np.unique(mu_arr).size < 5:
        raise ModelError("too few distinct inputs to fit four parameters", key="mu",
                         value=np.unique(mu_arr).size, allowed="at least 5 distinct values")
    if rate_se is None:
        weight = np.ones_like(rate_arr)
    else:
        se = np.broadcast_to(np.asarray(rate_se, dtype=float).ravel(), rate_arr.shape)
        if not np.all(np.isfinite(se) & (se > 0)):
            raise ModelError("rate_se must be finite and > 0", key="rate_se",
                             value=float(se[~(np.isfinite(se) & (se > 0))][0]),
                             allowed="> 0 Hz")
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


def _lif_kwargs(lif: LIFNeuron) -> dict[str, float]:
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
        rate = np.asarray(lif_theory.siegert_rate(mu, sigma, **_lif_kwargs(lif)))
    elif source == "brian2":
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
    else:
        raise ModelError("unknown f-I source", key="source", value=source,
                         allowed="'siegert' or 'brian2'")
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
    if np.any(~np.isfinite(f) | (f < 0)) or not np.all(np.isfinite(h)):
        raise ModelError("freq must be finite and >= 0 and chi finite", key="freq",
                         value=f.tolist(), allowed="finite values, freq >= 0 Hz")
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


# --------------------------------------------------------------------------------------------
# matched model and comparison
# --------------------------------------------------------------------------------------------

def _lif_of(model: Model) -> LIFNeuron:
    if model.lif is None:
        raise ModelError("the model has no [lif] table", key="lif", value=None,
                         allowed="a model with an [lif] table (see models/lif_matched.toml)",
                         file=model.source)
    return model.lif


def matched_model(model: Model, *, mu_range: tuple[float, float] | None = None,
                  n_points: int = 41, tau_freqs: ArrayLike | None = None, clip: bool = False,
                  fit_tau: bool = True) -> Model:
    """The model with its LIF-matched population refitted to LIF theory.

    The population named by ``lif.population`` gets the leaky ReLU fitted to the Siegert
    f-I curve (:func:`fit_siegert`) and, if ``fit_tau``, the time constant ``tau_mu`` fitted
    to ``chi(f) / chi(0)`` at the drive's ``mu0`` (:func:`fit_lowpass_tau`). The form
    (rate or voltage) is kept: both give the filter ``1 / (1 + i 2 pi f tau)`` for small
    signals.

    Parameters
    ----------
    model : Model
        A model with an ``[lif]`` table.
    mu_range : (float, float), optional
        f-I range of the fit, V (default :func:`default_mu_range`).
    n_points : int
        Points of the f-I curve.
    tau_freqs : array_like, optional
        Frequencies for the ``tau_mu`` fit, Hz (default 30 log-spaced from 1 to 100 Hz).
    clip : bool
        Clip the fitted transfer at 0 Hz.
    fit_tau : bool
        Also refit the population's time constant.

    Returns
    -------
    Model
        A copy (validated) with ``populations.<P>.transfer`` (and ``.tau``) replaced.
    """
    lif = _lif_of(model)
    pop = lif.population
    transfer = fit_siegert(lif, mu_range, n_points=n_points, clip=clip)
    values: dict[str, Any] = {f"populations.{pop}.transfer": transfer.to_dict()}
    if fit_tau:
        mu0 = model.drive_scalar(model.lif.population, "I0")
        freqs = (np.geomspace(1.0, 100.0, 30) if tau_freqs is None
                 else np.asarray(tau_freqs, dtype=float))
        kwargs = _lif_kwargs(lif)
        chi = lif_theory.susceptibility(freqs, mu0, lif.sigma, **kwargs)
        chi0 = lif_theory.siegert_derivative(mu0, lif.sigma, **kwargs)
        values[f"populations.{pop}.tau"] = fit_lowpass_tau(freqs, chi, chi0=chi0)
    return model.with_values(values)


def _rate_response(model: Model, pop: str, mu0: float, mu1: float, freqs: np.ndarray,
                   method: str, n_harmonics: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """r0 (Hz), gain (Hz/V) and phase (rad) of the rate model at each frequency."""
    population = model.population(pop)
    if method == "analytic":
        if model.is_coupled:
            raise ModelError("the analytic rate response is for an uncoupled population",
                             key="rate_method", value=method,
                             allowed="'simulate' for a coupled model", file=model.source)
        from neurorect.theory import sinusoid_response

        result = sinusoid_response(population.transfer, mu0, mu1, freqs, tau=population.tau,
                                   form=population.form, n_harmonics=n_harmonics)
        r0 = np.broadcast_to(result["r0"].values, freqs.shape)
        amplitude = result["amplitude"].sel(harmonic=1).values
        phase = result["phase"].sel(harmonic=1).values
        return r0.astype(float), amplitude / mu1, phase
    if method == "simulate":
        from neurorect.driver import simulate

        driven = model.with_values({f"drives.{pop}.I0": mu0, f"drives.{pop}.I1": mu1,
                                    f"drives.{pop}.phase": 0.0})
        result = simulate(driven, record="none", n_harmonics=n_harmonics, progress=False,
                          batch={f"drives.{pop}.freq": freqs})
        first, stop = driven.offsets[pop]
        part = result.isel(neuron=slice(first, stop))
        z = (part["amplitude"].sel(harmonic=1) * np.exp(1j * part["phase"].sel(harmonic=1)))
        z = z.mean("neuron").values
        return (part["r0"].mean("neuron").values, np.abs(z) / mu1,
                np.angle(z))
    raise ModelError("unknown rate method", key="rate_method", value=method,
                     allowed="'analytic' or 'simulate'")


def compare(model: Model, freqs: ArrayLike, *, mu0: float | None = None,
            mu1: float | None = None, rate_method: str = "analytic",
            fi_mu: ArrayLike | None = None, n_neurons: int | None = None,
            duration: float | None = None, transient: float | None = None,
            dt: float | None = None, seed: int | None = None,
            threshold_correction: str | None = "bridge", target: str = "cython",
            n_harmonics: int = 3) -> xr.Dataset:
    """Rate model, Brian2 LIF population and LIF theory under the same sinusoidal drives.

    Every source gets ``mu(t) = mu0 + mu1 sin(2 pi f t)`` (volts) at each frequency. The
    Brian2 population runs all frequencies (and the f-I inputs ``fi_mu``) as blocks of one
    NeuronGroup in one run.

    Parameters
    ----------
    model : Model
        A model with an ``[lif]`` table; its population ``lif.population`` is the rate
        model (transfer in Hz per volt, its ``tau`` and ``form``). Its drive must be a
        plain sinusoid (no steps, pulses or noise: the LIF's noise is ``lif.sigma``).
    freqs : array_like
        Drive frequencies, Hz (> 0, distinct).
    mu0, mu1 : float, optional
        Mean and amplitude of the drive, V (default: the drive's ``I0`` and ``I1``;
        ``mu1 > 0``).
    rate_method : {"analytic", "simulate"}
        Rate model by exact theory (:func:`neurorect.theory.sinusoid_response`, uncoupled
        population) or by :func:`neurorect.simulate` (batched over frequency; the model's
        ``[simulation]`` settings).
    fi_mu : array_like, optional
        Constant inputs (V) for f-I curves of all three sources (dim ``mu``).
    n_neurons, duration, transient, dt, seed, threshold_correction, target
        Of the Brian2 run (:func:`neurorect.brian2_lif.simulate_lif`; defaults from the
        model's ``[lif]`` and ``[simulation]`` tables).
    n_harmonics : int
        Harmonics analysed (only the first is reported).

    Returns
    -------
    xarray.Dataset
        Dims ``source`` (``"rate"``, ``"lif_brian2"``, ``"lif_theory"``) and ``freq``:

        * ``r0`` (Hz), ``gain`` (Hz/V; ``A_1 / mu1``, for theory ``|chi|``), ``phase``
          (rad; ``arg chi`` for theory, negative for a lag);
        * ``r0_se``, ``gain_se``, ``phase_se``: standard errors (NaN except for
          ``lif_brian2``, whose errors come from disjoint neuron subsets);
        * ``z_r0``, ``z_gain``, ``z_phase``: ``(brian2 - source) / se_brian2`` (phase
          difference wrapped; NaN for ``lif_brian2`` itself). LIF theory is linear
          response: its ``r0`` is the Siegert rate at ``mu0``, so ``z_r0`` against it also
          measures the second-order rise of the mean rate with ``mu1``.

        With ``fi_mu``, also dim ``mu`` with ``fi_rate`` (Hz; the rate model's static
        ``phi(mu)``, the Brian2 rate, the Siegert rate), ``fi_rate_se`` and ``z_fi``.
        Attrs: the drive, the LIF parameters, the rate model (transfer, tau, form), the
        Brian2 settings and the threshold correction, the model as TOML.
    """
    from neurorect.brian2_lif import simulate_lif

    lif = _lif_of(model)
    pop = lif.population
    drive = model.drive(pop)
    if drive.steps or drive.pulses or drive.noise is not None:
        raise ModelError("cross-validation needs a plain sinusoidal drive",
                         key=f"drives.{pop}", value="steps, pulses or noise",
                         allowed="I0, I1, freq only (the LIF's noise is lif.sigma)",
                         file=model.source)
    mu0 = model.drive_scalar(lif.population, "I0") if mu0 is None else float(mu0)
    mu1 = model.drive_scalar(lif.population, "I1") if mu1 is None else float(mu1)
    if not (math.isfinite(mu1) and mu1 > 0):
        raise ModelError("the drive amplitude must be > 0", key="mu1", value=mu1,
                         allowed="mu1 > 0 V")
    freqs = np.atleast_1d(np.asarray(freqs, dtype=float)).ravel()
    if freqs.size == 0 or np.any(~np.isfinite(freqs) | (freqs <= 0)):
        raise ModelError("frequencies must be finite and > 0", key="freqs",
                         value=freqs.tolist(), allowed="freq > 0 Hz")
    if np.unique(freqs).size != freqs.size:
        raise ModelError("frequencies must be distinct", key="freqs", value=freqs.tolist(),
                         allowed="distinct values")
    fi = None if fi_mu is None else np.atleast_1d(np.asarray(fi_mu, dtype=float)).ravel()
    sigma = lif.sigma
    kwargs = _lif_kwargs(lif)

    # -- Brian2: every frequency and every f-I input in one NeuronGroup ------------------
    n_f = freqs.size
    cond_mu0 = np.full(n_f, mu0)
    cond_mu1 = np.full(n_f, mu1)
    cond_freq = freqs.copy()
    if fi is not None:
        cond_mu0 = np.concatenate([cond_mu0, fi])
        cond_mu1 = np.concatenate([cond_mu1, np.zeros(fi.size)])
        cond_freq = np.concatenate([cond_freq, np.zeros(fi.size)])
    spikes = simulate_lif(model, duration, conditions={"mu0": cond_mu0, "mu1": cond_mu1,
                                                       "freq": cond_freq, "phase": 0.0},
                          n_neurons=n_neurons, dt=dt, seed=seed, transient=transient,
                          threshold_correction=threshold_correction, target=target,
                          n_harmonics=n_harmonics)
    sin_part = spikes.isel(condition=slice(0, n_f))
    b_r0, b_r0_se = sin_part["r0"].values, sin_part["r0_se"].values
    b_gain, b_gain_se = sin_part["gain"].values, sin_part["gain_se"].values
    b_phase = sin_part["phase"].sel(harmonic=1).values
    b_phase_se = sin_part["phase_se"].sel(harmonic=1).values

    # -- LIF theory and the rate model -----------------------------------------------------
    t_r0 = np.full(n_f, float(lif_theory.siegert_rate(mu0, sigma, **kwargs)))
    chi = np.asarray(lif_theory.susceptibility(freqs, mu0, sigma, **kwargs))
    r_r0, r_gain, r_phase = _rate_response(model, pop, mu0, mu1, freqs, rate_method,
                                           n_harmonics)

    nan = np.full(n_f, np.nan)
    r0 = np.stack([r_r0, b_r0, t_r0])
    gain = np.stack([r_gain, b_gain, np.abs(chi)])
    phase = np.stack([wrap_phase(r_phase), b_phase, wrap_phase(np.angle(chi))])
    with np.errstate(divide="ignore", invalid="ignore"):
        z_r0 = (b_r0[None, :] - r0) / b_r0_se[None, :]
        z_gain = (b_gain[None, :] - gain) / b_gain_se[None, :]
        z_phase = wrap_phase(b_phase[None, :] - phase) / b_phase_se[None, :]
    for z in (z_r0, z_gain, z_phase):
        z[1] = np.nan
    dims = ("source", "freq")
    data = {
        "r0": (dims, r0, _attrs("Hz", "mean rate")),
        "gain": (dims, gain, _attrs("Hz/V", "gain A_1 / mu1 (theory: |chi|)")),
        "phase": (dims, phase, _attrs("rad", "phase of the first harmonic relative to the "
                                             "drive's sine (negative: lag)")),
        "r0_se": (dims, np.stack([nan, b_r0_se, nan]), _attrs("Hz", "standard error of r0")),
        "gain_se": (dims, np.stack([nan, b_gain_se, nan]),
                    _attrs("Hz/V", "standard error of gain")),
        "phase_se": (dims, np.stack([nan, b_phase_se, nan]),
                     _attrs("rad", "standard error of phase")),
        "z_r0": (dims, z_r0, _attrs("1", "(r0 of lif_brian2 - r0 of source) / r0_se")),
        "z_gain": (dims, z_gain, _attrs("1", "(gain of lif_brian2 - gain of source) / "
                                             "gain_se")),
        "z_phase": (dims, z_phase, _attrs("1", "wrapped (phase of lif_brian2 - phase of "
                                               "source) / phase_se")),
    }
    coords: dict[str, Any] = {
        "source": ("source", list(SOURCES), _attrs("1", "rate model, Brian2 LIF population, "
                                                        "LIF theory")),
        "freq": ("freq", freqs, _attrs("Hz", "drive frequency")),
    }
    if fi is not None:
        fi_part = spikes.isel(condition=slice(n_f, None))
        fi_rate = np.stack([
            np.asarray(model.population(pop).transfer(fi), dtype=float),
            fi_part["r0"].values,
            np.asarray(lif_theory.siegert_rate(fi, sigma, **kwargs), dtype=float),
        ])
        fi_se = fi_part["r0_se"].values
        nan_fi = np.full(fi.size, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            z_fi = (fi_part["r0"].values[None, :] - fi_rate) / fi_se[None, :]
        z_fi[1] = np.nan
        data["fi_rate"] = (("source", "mu"), fi_rate,
                           _attrs("Hz", "stationary rate at constant input mu "
                                        "(rate model: phi(mu); theory: Siegert)"))
        data["fi_rate_se"] = (("source", "mu"), np.stack([nan_fi, fi_se, nan_fi]),
                              _attrs("Hz", "standard error of fi_rate"))
        data["z_fi"] = (("source", "mu"), z_fi,
                        _attrs("1", "(fi_rate of lif_brian2 - fi_rate of source) / "
                                    "fi_rate_se"))
        coords["mu"] = ("mu", fi, _attrs("V", "constant mean input of the f-I curve"))
    ds = xr.Dataset(data, coords=coords)
    population = model.population(pop)
    ds.attrs = {
        "description": "rate model vs Brian2 LIF population vs LIF theory under "
                       "mu(t) = mu0 + mu1 sin(2 pi f t)",
        "neurorect_version": __version__, "model_name": model.name,
        "model": dumps_model(model), "mu0": mu0, "mu1": mu1, "sigma": sigma,
        "lif_convention": spikes.attrs["lif_convention"],
        "fourier_convention": spikes.attrs["fourier_convention"],
        "tau_m": lif.tau_m, "v_th": lif.v_th, "v_reset": lif.v_reset, "t_ref": lif.t_ref,
        "rate_method": rate_method,
        "rate_transfer": json.dumps(population.transfer.to_dict()),
        "rate_tau": population.tau, "rate_form": population.form,
    }
    for key in ("threshold_correction", "threshold_correction_description", "target", "dt",
                "duration", "transient", "seed", "n_neurons_per_condition", "n_splits",
                "run_time", "build_time", "brian2_version"):
        ds.attrs[f"brian2_{key}" if not key.startswith("brian2") else key] = spikes.attrs[key]
    return ds


# --------------------------------------------------------------------------------------------
# table and figures
# --------------------------------------------------------------------------------------------

def format_table(result: xr.Dataset) -> str:
    """A plain-text table of a :func:`compare` result (rates Hz, gains Hz/mV, phases rad)."""
    lines = []
    head = (f"{'f (Hz)':>8} | {'r0 brian2':>15} {'theory':>7} {'rate':>7} | "
            f"{'gain brian2':>15} {'theory':>7} {'rate':>7} | "
            f"{'phase brian2':>15} {'theory':>7} {'rate':>7} | {'z vs theory (r0 gain phase)':>27}")
    lines += ["gain in Hz/mV, phase in rad; brian2 values +- one standard error", head,
              "-" * len(head)]

    def pick(name, source, j, scale=1.0):
        return float(result[name].sel(source=source).values[j]) * scale

    for j, f in enumerate(result["freq"].values):
        parts = [f"{f:>8.3g} |"]
        for name, scale in (("r0", 1.0), ("gain", 1e-3), ("phase", 1.0)):
            value = pick(name, "lif_brian2", j, scale)
            se = pick(f"{name}_se", "lif_brian2", j, scale)
            parts.append(f"{value:>7.3f} +- {se:<5.3f} {pick(name, 'lif_theory', j, scale):>7.3f}"
                         f" {pick(name, 'rate', j, scale):>7.3f} |")
        z = [pick(f"z_{name}", "lif_theory", j) for name in ("r0", "gain", "phase")]
        parts.append(f"{z[0]:>9.2f} {z[1]:>8.2f} {z[2]:>8.2f}")
        lines.append(" ".join(parts))
    lines.append("theory r0 is the Siegert rate at mu0 (linear response); the mean rate under "
                 "the sinusoid rises at second order, by ~r''(mu0) mu1^2 / 4 at low frequency")
    if "fi_rate" in result:
        lines += ["", "f-I curve (Hz)",
                  f"{'mu (mV)':>8} | {'brian2':>15} {'siegert':>8} {'rate':>8} | {'z siegert':>9}"]
        for j, mu in enumerate(result["mu"].values):
            rate = result["fi_rate"].values[:, j]
            se = float(result["fi_rate_se"].sel(source="lif_brian2").values[j])
            z = float(result["z_fi"].sel(source="lif_theory").values[j])
            lines.append(f"{mu * 1e3:>8.3g} | {rate[1]:>7.3f} +- {se:<5.3f} {rate[2]:>8.3f} "
                         f"{rate[0]:>8.3f} | {z:>9.2f}")
    return "\n".join(lines)
