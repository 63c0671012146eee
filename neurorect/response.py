"""``frequency_response(model, freqs, ...)``: the response to ``I0 + I1 sin(2 pi f t)``, four ways.

Every method returns the same schema: dims ``population``, ``freq`` and ``harmonic``;
variables ``r0`` (Hz), ``amplitude`` (Hz), ``phase`` (rad, sine convention: negative is a
lag) and ``gain`` (``amplitude[harmonic=1] / I1``, Hz per drive unit), with ``*_se``
standard errors where noise makes them meaningful.

* ``"analytic"``: exact periodic response of uncoupled, noise-free populations (closed form for
  leaky ReLU: :func:`neurorect.theory.sinusoid_response`).
* ``"linear"``: first-order response of a network around its fixed point
  (:func:`neurorect.theory.linear_response`); harmonics beyond the first vanish at this
  order. Noise is ignored.
* ``"simulate"``: every frequency (times ``n_trials`` seeds when the model is noisy) in ONE
  batched engine call with streaming harmonics; the duration gives every frequency at least
  ``n_periods`` whole periods after the transient.
* ``"broadband"``: one noise-driven run: the driven population's sinusoid is replaced by OU
  noise of standard deviation ``I1``; ``H(f) = S_rs / S_ss`` from Welch cross-spectra
  (:func:`neurorect.fourier.transfer_function`), the stimulus reproduced exactly from the
  engine's counter-based noise. Uncoupled populations: private noise, each neuron an
  independent record. Networks: one common (``shared``) noise into the driven population,
  each seed (``n_trials``) a record, the population-mean rates the responses. For a
  nonlinear transfer this is the effective (Bussgang) linear response to Gaussian input of
  that size, not the response to a sinusoid.

Population responses are those of the population-mean rate (the mean of the neurons'
complex coefficients).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from neurorect._accuracy import integrator_order, step_error
from neurorect._arguments import (
    flag_argument,
    frequencies_argument,
    limit_argument,
    model_argument,
    quantity_argument,
    seed_argument,
    text_argument,
    whole_argument,
)
from neurorect._paths import si_values
from neurorect._schema import attrs, provenance
from neurorect._validate import check_choice, check_integer, closest_hint
from neurorect.errors import ModelError
from neurorect.fourier import amplitude_phase_se, transfer_function, wrap_phase
from neurorect.spec import Model
from neurorect.theory import linear_response, sinusoid_response
from neurorect.units import DimensionError, to_si

__all__ = ["frequency_response", "METHODS"]

METHODS = ("analytic", "linear", "simulate", "broadband")


def _driven_population(model: Model, population: str | None) -> str:
    names = [p.name for p in model.populations]
    if population is not None:
        if population not in names:
            raise ModelError(f"no such population{closest_hint(population, names)}",
                             key="population", value=population, allowed=", ".join(names))
        return population
    driven = [name for name, drive in model.drives.items() if drive.is_sinusoidal]
    if len(driven) == 1:
        return driven[0]
    if len(names) == 1:
        return names[0]
    raise ModelError("say which population the sinusoid drives", key="population",
                     value=None, allowed=", ".join(names))


def _check_options(*, n_periods, n_segments, nperseg, noise_tau) -> None:
    """Reject nonsense in the numeric options (ModelError naming key, value, range)."""
    def whole(key, value, low):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ModelError("must be a whole number", key=key, value=value,
                             allowed=f"an integer >= {low}")

    whole("n_periods", n_periods, 1)
    whole("n_segments", n_segments, 2)
    if nperseg is not None:
        whole("nperseg", nperseg, 16)
    if noise_tau is not None and not (isinstance(noise_tau, (int, float, np.floating))
                                      and math.isfinite(noise_tau) and noise_tau > 0):
        raise ModelError("must be a positive time", key="noise_tau", value=noise_tau,
                         allowed="0 < noise_tau < inf (s)")


def _has_noise(model: Model) -> bool:
    return any(d.noise is not None and np.any(np.asarray(d.noise.sigma) > 0)
               for d in model.drives.values())


def _dataset(model: Model, freqs: np.ndarray, r0: np.ndarray, coefficient: np.ndarray,
             I0: float, I1: float, method: str, population: str, **extra) -> xr.Dataset:
    """Build the shared schema from r0 (P, F) and complex coefficients (P, F, K)."""
    n_harmonics = coefficient.shape[-1]
    amplitude = np.abs(coefficient)
    phase = wrap_phase(np.angle(coefficient))
    dims = ("population", "freq")
    data: dict[str, Any] = {
        "r0": (dims, r0, attrs("Hz", "mean rate")),
        "amplitude": (dims + ("harmonic",), amplitude, attrs("Hz", "harmonic amplitude A_k")),
        "phase": (dims + ("harmonic",), phase,
                  attrs("rad", "harmonic phase relative to the drive's sine (negative: lag)")),
        "gain": (dims, amplitude[..., 0] / I1, attrs("Hz per drive unit", "gain A_1 / I1")),
    }
    for name, (values, var_attrs) in extra.items():
        data[name] = (dims + (("harmonic",) if np.ndim(values) == 3 else ()), values, var_attrs)
    coords = {
        "population": ("population", [p.name for p in model.populations],
                       attrs("1", "population")),
        "freq": ("freq", freqs, attrs("Hz", "drive frequency")),
        "harmonic": ("harmonic", np.arange(1, n_harmonics + 1), attrs("1", "harmonic number k")),
    }
    info = provenance(model, method=method, driven_population=population, I0=I0, I1=I1,
                      fourier_convention="r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)")
    return xr.Dataset(data, coords=coords, attrs=info)


def _analytic(model, freqs, I0, I1, population, n_harmonics):
    if model.is_coupled:
        raise ModelError("method 'analytic' is exact for uncoupled populations only; this "
                         "model has connections", key="method", value="analytic",
                         allowed="'linear' or 'simulate' for networks")
    if _has_noise(model):
        raise ModelError("method 'analytic' is noise-free but the model has noise",
                         key="method", value="analytic",
                         allowed="'simulate' or 'broadband' for noisy models")
    r0, coefficient = [], []
    for pop in model.populations:
        own_I0 = I0 if pop.name == population else model.drive_scalar(pop.name, "I0")
        own_I1 = I1 if pop.name == population else 0.0
        tau = None if pop.form == "static" else pop.tau
        exact = sinusoid_response(pop.transfer, own_I0, own_I1, freqs, tau=tau, form=pop.form,
                                  n_harmonics=n_harmonics)
        exact = exact.transpose("freq", "harmonic")
        r0.append(np.broadcast_to(exact["r0"].values, freqs.shape))
        coefficient.append(exact["amplitude"].values * np.exp(1j * exact["phase"].values))
    return np.array(r0), np.array(coefficient), {}


def _population_mean(model: Model, values: np.ndarray) -> np.ndarray:
    """Mean over each population's neurons along the last axis -> (..., P) moved first."""
    out = [values[..., lo:hi].mean(axis=-1) for lo, hi in model.offsets.values()]
    return np.stack(out, axis=0)


def _linear(model, freqs, I0, I1, population, n_harmonics):
    form = model.single_form("method 'linear'")
    neurons = model.neuron_arrays()
    transfers, taus, I0_vector = list(neurons.transfer), neurons.tau, neurons.I0.copy()
    lo, hi = model.offsets[population]
    I0_vector[lo:hi] = I0
    input_vector = np.zeros(model.size)
    input_vector[lo:hi] = 1.0
    W = model.coupling_matrix() if model.connections else np.zeros((model.size,) * 2)
    channels, delay, tau_syn = model.coupling_channels()  # delays and synaptic filters
    filtered = bool(np.any(delay > 0) or np.any(tau_syn > 0))
    linear = linear_response(channels if filtered else W, I0_vector, transfers, freqs,
                             tau=taus, form=form, input_vector=input_vector,
                             **({"delay": delay, "tau_syn": tau_syn} if filtered else {}))
    chi = (linear["gain"] * np.exp(1j * linear["phase"])).transpose("freq", "neuron").values
    coefficient = np.zeros((len(model.populations), freqs.size, n_harmonics), complex)
    coefficient[..., 0] = _population_mean(model, chi) * I1
    rates = _population_mean(model, linear["rate"].values)
    r0 = np.repeat(rates[:, None], freqs.size, axis=1)
    extra = {"stable": (np.full(r0.shape, int(linear.attrs["stable"])),
                        attrs("1", "fixed point stable (1) or not (0)"))}
    return r0, coefficient, extra


def _timing(model: Model, freqs, transient, n_periods, duration):
    tau_max = max(p.tau for p in model.populations)
    transient = float(max(model.simulation.transient, 10 * tau_max)
                      if transient is None else transient)
    if duration is None:
        duration = transient + n_periods / float(np.min(freqs))
    steps = math.ceil(duration / model.simulation.dt - 1e-9)
    return transient, steps * model.simulation.dt


def _trial_se(coefficients: np.ndarray, mean: np.ndarray):
    """Amplitude and phase SEs of the trial mean from trial coefficients (trial axis 0).

    The sample covariance of ``(Re z, Im z)`` over the ``n`` trials, divided by ``n``, through
    the delta method (:func:`neurorect.fourier.amplitude_phase_se`; valid for amplitude >> se).
    """
    n = coefficients.shape[0]
    dx, dy = coefficients.real - mean.real, coefficients.imag - mean.imag
    norm = n * (n - 1)
    vxx, vyy, vxy = ((dx * dx).sum(0) / norm, (dy * dy).sum(0) / norm,
                     (dx * dy).sum(0) / norm)
    return amplitude_phase_se(np.abs(mean), np.angle(mean), vxx, vyy, vxy)


def _simulate_trials(model, freqs, I0, I1, population, n_harmonics, *, transient, duration,
                     trials, base_seed, dtype, dt=None, max_work=None):
    """One batched run over every frequency (times ``trials`` seeds): the trial r0 (P, F, T)
    and coefficients (P, F, T, K) of the population means; ``dt`` overrides the model's."""
    from neurorect.driver import simulate

    batch = {f"drives.{population}.freq": np.repeat(freqs, trials),
             f"drives.{population}.I0": np.full(freqs.size * trials, I0),
             f"drives.{population}.I1": np.full(freqs.size * trials, I1)}
    if trials > 1:
        batch["simulation.seed"] = np.tile(base_seed + np.arange(trials), freqs.size)
    result = simulate(model, duration, dt=dt, transient=transient, seed=base_seed,
                      record="none", n_harmonics=n_harmonics, batch=batch, dtype=dtype,
                      max_work=max_work)
    coefficient = (result["amplitude"] * np.exp(1j * result["phase"])).values  # (B, N, K)
    coefficient = np.moveaxis(coefficient, 1, -1)  # (B, K, N)
    per_pop = _population_mean(model, coefficient)  # (P, B, K)
    r0 = _population_mean(model, result["r0"].values)  # (P, B)
    n_pop = len(model.populations)
    return (r0.reshape(n_pop, freqs.size, trials),
            per_pop.reshape(n_pop, freqs.size, trials, n_harmonics))


def _simulate(model, freqs, I0, I1, population, n_harmonics, *, transient, n_periods,
              duration, n_trials, seed, dtype, error_estimate=True, error_tol=1e-3,
              max_work=None):
    transient, duration = _timing(model, freqs, transient, n_periods, duration)
    noisy = _has_noise(model)
    trials = int(n_trials if n_trials is not None else (8 if noisy else 1))
    if trials < 1:
        raise ModelError("n_trials must be >= 1", key="n_trials", value=n_trials,
                         allowed="an integer >= 1")
    base_seed = model.simulation.seed if seed is None else int(seed)
    run = {"transient": transient, "duration": duration, "trials": trials,
           "base_seed": base_seed, "dtype": dtype, "max_work": max_work}
    r0, per_pop = _simulate_trials(model, freqs, I0, I1, population, n_harmonics, **run)
    mean = per_pop.mean(axis=2)
    extra = {"duration": (np.full(mean.shape[:2], duration),
                          attrs("s", "simulated time per frequency"))}
    if trials > 1:
        amplitude_se, phase_se = _trial_se(np.moveaxis(per_pop, 2, 0), mean)
        extra["amplitude_se"] = (amplitude_se, attrs("Hz", "standard error of A_k over trials"))
        extra["phase_se"] = (phase_se, attrs("rad", "standard error of phase_k over trials"))
        extra["r0_se"] = (r0.std(axis=2, ddof=1) / math.sqrt(trials),
                          attrs("Hz", "standard error of r0 over trials"))
        extra["gain_se"] = (amplitude_se[..., 0] / I1,
                            attrs("Hz per drive unit", "standard error of the gain"))
    if error_estimate:
        extra.update(step_error(model, freqs, r0, per_pop, I1, error_tol, lambda dt, some:
                                _simulate_trials(model, some, I0, I1, population,
                                                 n_harmonics, dt=dt, **run)))
    return r0.mean(axis=2), mean, extra


def _noise_run(model: Model, freqs, I0, I1, population, *, transient, seed, n_trials,
               nperseg, noise_tau, n_segments, max_work=None):
    """Simulate the model with OU noise of std ``I1`` instead of the driven sinusoid.

    Returns the rates and the stimulus (both with a ``batch`` dim), the analysed time window
    and the Welch segment length.
    """
    from neurorect.driver import noise_input, simulate

    coupled = model.is_coupled
    dt = model.simulation.dt
    if nperseg is None:  # resolve the lowest requested frequency with >= 2 bins
        nperseg = int(2 ** math.ceil(math.log2(2.0 / (float(np.min(freqs)) * dt))))
    noise_tau = dt if noise_tau is None else float(noise_tau)
    tau_max = max(p.tau for p in model.populations)
    transient = 10 * tau_max if transient is None else float(transient)
    first = math.ceil(transient / dt)
    n_steps = first + nperseg * (n_segments + 1) // 2
    # uncoupled: private noise, every neuron an independent record of the same system;
    # network: one common (shared) noise into the driven population, each seed a record
    noise = {"kind": "ou", "sigma": I1, "tau": noise_tau, "shared": coupled}
    noisy = model.with_values({f"drives.{population}.I1": 0.0, f"drives.{population}.I0": I0,
                               f"drives.{population}.noise": noise})
    size = model.population(population).size
    default_trials = 16 if coupled else max(1, math.ceil(16 / size))
    trials = int(n_trials if n_trials is not None else default_trials)
    base_seed = model.simulation.seed if seed is None else int(seed)
    lo, hi = model.offsets[population]
    batch = {"simulation.seed": base_seed + np.arange(trials)} if trials > 1 else None
    duration = n_steps * dt
    run = simulate(noisy, duration, transient=0.0, seed=base_seed, record="rate",
                   record_every=1, batch=batch, max_work=max_work)
    stimulus = noise_input(noisy, duration, seed=base_seed, batch=batch,
                           neurons=np.arange(lo, lo + 1 if coupled else hi)) + I0
    rates = run["rate"]
    if batch is None:
        rates = rates.expand_dims(batch=1)
        stimulus = stimulus.expand_dims(batch=1)
    return rates, stimulus, slice(first, n_steps), nperseg


def _on_grid(estimate: xr.Dataset, freqs: np.ndarray) -> dict[str, np.ndarray]:
    """A Welch estimate interpolated (in log frequency) to the requested frequencies."""
    grid = estimate["freq"].values
    if freqs.max() > grid.max() or freqs.min() < grid.min():
        raise ModelError("frequencies outside the broadband estimate's grid", key="freqs",
                         value=[float(freqs.min()), float(freqs.max())],
                         allowed=f"{grid.min():g} <= freq <= {grid.max():g} Hz "
                                 "(raise nperseg for lower frequencies)")
    log_grid, log_f = np.log(grid), np.log(freqs)
    out = {name: np.interp(log_f, log_grid, estimate[name].values)
           for name in ("gain", "gain_se", "phase_se", "coherence")}
    out["phase"] = np.interp(log_f, log_grid, np.unwrap(estimate["phase"].values))
    return out


def _broadband(model, freqs, I0, I1, population, n_harmonics, **options):
    rates, stimulus, window, nperseg = _noise_run(model, freqs, I0, I1, population, **options)
    coupled = model.is_coupled

    def records(values: xr.DataArray) -> xr.DataArray:
        stacked = values.isel(time=window).stack(record=("batch", "neuron"))
        return xr.DataArray(stacked.transpose("record", "time").values,
                            dims=("record", "time"))

    n_pop = len(model.populations)
    columns = {name: np.full((n_pop, freqs.size), np.nan) for name in
               ("gain", "phase", "gain_se", "phase_se", "coherence")}
    r0 = np.empty(n_pop)
    for index, pop in enumerate(model.populations):
        p_lo, p_hi = model.offsets[pop.name]
        response = rates.isel(neuron=slice(p_lo, p_hi))
        r0[index] = float(response.isel(time=window).mean())
        if coupled:  # the population-mean rate answers the common stimulus
            response = response.mean("neuron").expand_dims(neuron=1)
        elif pop.name != population:
            columns["gain"][index] = 0.0
            columns["phase"][index] = 0.0
            columns["coherence"][index] = 0.0
            continue
        estimate = transfer_function(records(stimulus), records(response),
                                     dt=model.simulation.dt, nperseg=nperseg,
                                     average_over=("record",))
        for name, values in _on_grid(estimate, freqs).items():
            columns[name][index] = values
    coefficient = np.full((n_pop, freqs.size, n_harmonics), np.nan + 0j)
    coefficient[..., 0] = columns["gain"] * I1 * np.exp(1j * columns["phase"])
    extra = {
        "gain_se": (columns["gain_se"],
                    attrs("Hz per drive unit", "standard error of the gain (coherence)")),
        "phase_se": (columns["phase_se"], attrs("rad", "standard error of the phase (coherence)")),
        "coherence": (columns["coherence"], attrs("1", "coherence gamma^2")),
    }
    return np.repeat(r0[:, None], freqs.size, axis=1), coefficient, extra


def frequency_response(model: Model, freqs, *, I0: float | None = None,
                       I1: float | None = None, method: str = "analytic",
                       n_harmonics: int = 3, population: str | None = None,
                       transient: float | None = None, n_periods: int = 5,
                       duration: float | None = None, n_trials: int | None = None,
                       seed: int | None = None, dtype: str = "float64",
                       nperseg: int | None = None, noise_tau: float | None = None,
                       n_segments: int = 32, error_estimate: bool = True,
                       error_tol: float = 1e-3, max_work: float | None = None) -> xr.Dataset:
    """Frequency response of a model to ``I0 + I1 sin(2 pi f t)`` on one population.

    Parameters
    ----------
    model : Model or path
        The model, or the path of a model file.
    freqs : array_like
        Drive frequencies, Hz (> 0, below the Nyquist frequency ``1/(2 dt)``).
    I0, I1 : float, optional
        Mean and amplitude of the drive, drive units (default: the model's drive of the
        driven population). For ``"broadband"``, ``I1`` is the noise's standard deviation.
    method : {"analytic", "linear", "simulate", "broadband"}
        See the module docstring.
    n_harmonics : int
        Harmonics k = 1..K reported.
    population : str, optional
        The driven population (default: the one whose drive has a sinusoid).
    transient : float, optional
        Discarded time, s (default: the larger of the model's transient and 10 tau).
    n_periods : int
        ``"simulate"``: whole periods of the lowest frequency after the transient.
    duration : float, optional
        ``"simulate"``: fix the simulated time, s, instead.
    n_trials : int, optional
        ``"simulate"``: seeds per frequency (default 8 for noisy models, else 1); standard
        errors come from their spread. ``"broadband"``: seeds (records) per run.
    seed : int, optional
        First seed (trials use seed, seed + 1, ...).
    dtype : {"float64", "float32"}
    nperseg, noise_tau, n_segments
        ``"broadband"``: Welch segment length (samples; default resolves the lowest
        frequency), OU correlation time of the stimulus (s; default dt, nearly white), and
        the number of half-overlapping segments simulated.
    error_estimate : bool
        ``"simulate"``: estimate each point's time-step error by Richardson extrapolation
        from the same batch run again at 2 dt (half the steps: about half a run more), with
        the integrator's order for this model (:func:`neurorect._accuracy.integrator_order`:
        2 for uncoupled exponential Euler). Default True.
    error_tol : float
        ``"simulate"``: a NeurorectWarning names the frequencies where the estimated
        relative error of the first harmonic ``|dz_1| / A_1`` exceeds this (default 1e-3).
    max_work : float, optional
        ``"simulate"``, ``"broadband"``: refuse runs over this many neuron-steps (default
        1e11 or NEURORECT_MAX_WORK; ``math.inf`` lifts it).

    Returns
    -------
    xarray.Dataset
        Dims (population, freq, harmonic): ``r0``, ``amplitude``, ``phase``, ``gain``, and
        method-specific standard errors (``*_se``), ``coherence``, ``stable``, ``duration``;
        ``"simulate"`` adds the time-step error estimates ``r0_dt_error``,
        ``amplitude_dt_error``, ``phase_dt_error``, ``gain_dt_error`` (attrs
        ``integrator_order``, ``error_tol``).

    Raises
    ------
    ModelError
        Unknown method, bad frequencies, or a method that does not apply to the model.
    """
    model = model_argument(model)
    check_choice("method", method, METHODS)
    check_integer("n_harmonics", n_harmonics, low=1)
    _check_options(n_periods=n_periods, n_segments=n_segments, nperseg=nperseg,
                   noise_tau=noise_tau)
    nyquist = 0.5 / model.simulation.dt
    freqs = frequencies_argument("freqs", freqs, nyquist=nyquist if method in (
        "simulate", "broadband") else None)
    check_choice("dtype", dtype, ("float64", "float32"))
    seed = seed_argument("seed", seed)
    n_trials = whole_argument("n_trials", n_trials)
    flag_argument("error_estimate", error_estimate, optional=False)
    error_tol = limit_argument("error_tol", error_tol, "relative error")
    transient, duration = (_seconds(key, value) for key, value in
                           (("transient", transient), ("duration", duration)))
    population = _driven_population(model, text_argument("population", population))
    I0 = model.drive_scalar(population, "I0") if I0 is None else _drive_value(
        model, population, "I0", I0)
    I1 = model.drive_scalar(population, "I1") if I1 is None else _drive_value(
        model, population, "I1", I1)
    if not I1 > 0:
        raise ModelError("the drive amplitude must be positive", key="I1", value=I1,
                         allowed="I1 > 0 (drive units)")
    if method == "analytic":
        r0, coefficient, extra = _analytic(model, freqs, I0, I1, population, n_harmonics)
    elif method == "linear":
        r0, coefficient, extra = _linear(model, freqs, I0, I1, population, n_harmonics)
    elif method == "simulate":
        r0, coefficient, extra = _simulate(model, freqs, I0, I1, population, n_harmonics,
                                           transient=transient, n_periods=n_periods,
                                           duration=duration, n_trials=n_trials, seed=seed,
                                           dtype=dtype, error_estimate=error_estimate,
                                           error_tol=error_tol, max_work=max_work)
    else:
        r0, coefficient, extra = _broadband(model, freqs, I0, I1, population, n_harmonics,
                                            transient=transient, seed=seed, n_trials=n_trials,
                                            nperseg=nperseg, noise_tau=noise_tau,
                                            n_segments=n_segments, max_work=max_work)
    result = _dataset(model, freqs, r0, coefficient, I0, I1, method, population, **extra)
    if method == "simulate" and error_estimate:
        result.attrs.update(integrator_order=integrator_order(model), error_tol=error_tol)
    return result


def _drive_value(model: Model, population: str, key: str, value) -> float:
    """A finite drive value in SI: a number, or a quantity string of the drive's dimension
    (that of ``drives.<population>.<key>`` in the model file); ModelError otherwise."""
    try:
        number = float(si_values(model, f"drives.{population}.{key}",
                                 quantity_argument(key, value, "drive units")))
    except DimensionError:
        raise
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise ModelError("must be a finite number", key=key, value=value,
                         allowed="a finite number (drive units)")
    return number


def _seconds(key: str, value) -> float | None:
    """None, or a time (number in s or a quantity string) as a float >= 0."""
    if value is None:
        return None
    quantity_argument(key, value)
    try:
        seconds = float(to_si(value))
    except ValueError as error:
        raise ModelError(f"not a time ({error})", key=key, value=value,
                         allowed="a number in s or a string such as '0.5 s'") from None
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ModelError("must be a finite time >= 0", key=key, value=value,
                         allowed="0 <= time < inf (s)")
    return seconds
