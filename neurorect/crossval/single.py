r"""One LIF population against its matched rate model and LIF theory (the three-way comparison).

A population of leaky integrate-and-fire neurons (Brunel's convention, see
:mod:`neurorect.lif`: ``tau_m dV/dt = -V + mu(t) + sigma sqrt(tau_m) xi(t)``, free membrane
variance ``sigma**2 / 2``) and the leaky-ReLU rate model matched to it are given the same
sinusoidal drive ``mu(t) = mu0 + mu1 sin(2 pi f t)`` (volts). Three sources answer
(:func:`compare`):

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

:func:`matched_model` returns a model whose population uses the fits of
:mod:`neurorect.fit` (a leaky ReLU fitted to the Siegert f-I curve, the low-pass ``tau_mu``
fitted to ``chi(f) / chi(0)``); the fitting functions are re-exported here.

This module never imports Brian2 or Numba at import time: :func:`compare` imports the
Brian2 bridge, and the rate engine for ``rate_method="simulate"``, when it runs them. The
comparison itself (z-scores, the dense theory curves, the table) works on arrays.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurorect import lif as lif_theory
from neurorect._arguments import frequencies_argument, model_argument, quantity_argument
from neurorect._schema import attrs, provenance
from neurorect._validate import check_choice
from neurorect.errors import ModelError
from neurorect.fit import (
    FitInfo,
    default_mu_range,
    fit_leaky_relu,
    fit_lowpass_tau,
    fit_siegert,
    fit_to_lif,
    lif_parameters,
)
from neurorect.fourier import wrap_phase
from neurorect.spec import Model
from neurorect.theory import sinusoid_response
from neurorect.units import parse_quantity

__all__ = [
    "FitInfo", "fit_leaky_relu", "fit_to_lif", "fit_siegert", "fit_lowpass_tau",
    "matched_model", "compare", "default_mu_range", "SOURCES", "format_table",
]

#: The ``source`` coordinate of :func:`compare`.
SOURCES = ("rate", "lif_brian2", "lif_theory")
RATE_METHODS = ("analytic", "simulate")
#: Points of the dense theory curves of :func:`compare` (``fine_freq``, ``fine_mu``).
_FINE_FREQS = 200
_FINE_MU = 400


def matched_model(model: Model, *, mu_range: tuple[float, float] | None = None,
                  n_points: int = 41, tau_freqs: ArrayLike | None = None, clip: bool = False,
                  fit_tau: bool = True) -> Model:
    """The model with its LIF-matched population refitted to LIF theory.

    The population named by ``lif.population`` gets the leaky ReLU fitted to the Siegert
    f-I curve (:func:`~neurorect.fit.fit_siegert`) and, if ``fit_tau``, the time constant
    ``tau_mu`` fitted to ``chi(f) / chi(0)`` at the drive's ``mu0``
    (:func:`~neurorect.fit.fit_lowpass_tau`). The form (rate or voltage) is kept: both give
    the filter ``1 / (1 + i 2 pi f tau)`` for small signals.

    Parameters
    ----------
    model : Model
        A model with an ``[lif]`` table.
    mu_range : (float, float), optional
        f-I range of the fit, V (default :func:`~neurorect.fit.default_mu_range`).
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
    model = model_argument(model)
    lif = model.require_lif()
    pop = lif.population
    transfer = fit_siegert(lif, mu_range, n_points=n_points, clip=clip)
    values: dict[str, Any] = {f"populations.{pop}.transfer": transfer.to_dict()}
    if fit_tau:
        mu0 = model.drive_scalar(pop, "I0")
        freqs = (np.geomspace(1.0, 100.0, 30) if tau_freqs is None
                 else np.asarray(tau_freqs, dtype=float))
        kwargs = lif_parameters(lif)
        chi = lif_theory.susceptibility(freqs, mu0, lif.sigma, **kwargs)
        chi0 = lif_theory.siegert_derivative(mu0, lif.sigma, **kwargs)
        values[f"populations.{pop}.tau"] = fit_lowpass_tau(freqs, chi, chi0=chi0)
    return model.with_values(values)


def _check_rate_method(model: Model, method: str) -> None:
    check_choice("rate_method", method, RATE_METHODS)
    if method == "analytic" and model.is_coupled:
        raise ModelError("the analytic rate response is for an uncoupled population",
                         key="rate_method", value=method,
                         allowed="'simulate' for a coupled model", file=model.source)


def _rate_response(model: Model, pop: str, mu0: float, mu1: float, freqs: np.ndarray,
                   method: str, n_harmonics: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """r0 (Hz), gain (Hz/V) and phase (rad) of the rate model at each frequency."""
    _check_rate_method(model, method)
    population = model.population(pop)
    if method == "analytic":
        result = sinusoid_response(population.transfer, mu0, mu1, freqs, tau=population.tau,
                                   form=population.form, n_harmonics=n_harmonics)
        r0 = np.broadcast_to(result["r0"].values, freqs.shape)
        amplitude = result["amplitude"].sel(harmonic=1).values
        phase = result["phase"].sel(harmonic=1).values
        return r0.astype(float), amplitude / mu1, phase
    from neurorect.driver import simulate

    driven = model.with_values({f"drives.{pop}.I0": mu0, f"drives.{pop}.I1": mu1,
                                f"drives.{pop}.phase": 0.0})
    result = simulate(driven, record="none", n_harmonics=n_harmonics, progress=False,
                      batch={f"drives.{pop}.freq": freqs})
    first, stop = driven.offsets[pop]
    part = result.isel(neuron=slice(first, stop))
    z = (part["amplitude"].sel(harmonic=1) * np.exp(1j * part["phase"].sel(harmonic=1)))
    z = z.mean("neuron").values
    return part["r0"].mean("neuron").values, np.abs(z) / mu1, np.angle(z)


def _check_request(model: Model, freqs: ArrayLike, mu0: float | None, mu1: float | None,
                   rate_method: str) -> tuple[float, float, np.ndarray]:
    """The drive's ``mu0``, ``mu1`` (V) and the frequencies (Hz), checked before any run."""
    pop = model.require_lif().population
    drive = model.drive(pop)
    if drive.steps or drive.pulses or drive.noise is not None:
        raise ModelError("cross-validation needs a plain sinusoidal drive",
                         key=f"drives.{pop}", value="steps, pulses or noise",
                         allowed="I0, I1, freq only (the LIF's noise is lif.sigma)",
                         file=model.source)
    mu0 = model.drive_scalar(pop, "I0") if mu0 is None else parse_quantity(
        quantity_argument("mu0", mu0, "V"), "voltage", key="mu0")
    mu1 = model.drive_scalar(pop, "I1") if mu1 is None else parse_quantity(
        quantity_argument("mu1", mu1, "V"), "voltage", key="mu1")
    if not (math.isfinite(mu1) and mu1 > 0):
        raise ModelError("the drive amplitude must be > 0", key="mu1", value=mu1,
                         allowed="mu1 > 0 V")
    freqs = frequencies_argument("freqs", freqs)
    if np.unique(freqs).size != freqs.size:
        raise ModelError("frequencies must be distinct", key="freqs", value=freqs.tolist(),
                         allowed="distinct values")
    _check_rate_method(model, rate_method)
    return mu0, mu1, freqs


def _z_scores(se: np.ndarray, values: np.ndarray, *, phase: bool = False) -> np.ndarray:
    """``(values[source] - values[lif_theory]) / se`` per source (the Brian2 SE; phases
    wrapped; NaN for the theory itself)."""
    theory = values[SOURCES.index("lif_theory")]
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = values - theory[None, :]
        z = (wrap_phase(difference) if phase else difference) / se[None, :]
    z[SOURCES.index("lif_theory")] = np.nan
    return z


def _relative(values: np.ndarray, *, phase: bool = False) -> np.ndarray:
    """``values[source] / values[lif_theory] - 1`` (phases: the wrapped difference)."""
    theory = values[SOURCES.index("lif_theory")]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = wrap_phase(values - theory[None, :]) if phase else values / theory[None, :] - 1.0
    out[SOURCES.index("lif_theory")] = np.nan
    return out


def _by_source(rate: np.ndarray, brian2: np.ndarray | None, theory: np.ndarray) -> np.ndarray:
    """Stack per-source rows in the order of :data:`SOURCES` (NaN where ``brian2`` is None)."""
    return np.stack([rate, np.full(theory.shape, np.nan) if brian2 is None else brian2,
                     theory])


def _dense(values: np.ndarray, n: int, *, log: bool) -> np.ndarray:
    """``n`` points spanning ``values`` (geometric if ``log``), or ``values`` if one point."""
    if np.unique(values).size < 2:
        return np.unique(values)
    space = np.geomspace if log else np.linspace
    return space(values.min(), values.max(), n)


def _bode_part(spikes: xr.Dataset, rate: tuple, chi: np.ndarray, t_r0: float
               ) -> dict[str, tuple]:
    """Variables on (source, freq): r0, gain, phase, their errors and z-scores vs Brian2."""
    dims = ("source", "freq")
    b_r0, b_r0_se = spikes["r0"].values, spikes["r0_se"].values
    b_gain, b_gain_se = spikes["gain"].values, spikes["gain_se"].values
    b_phase = spikes["phase"].sel(harmonic=1).values
    b_phase_se = spikes["phase_se"].sel(harmonic=1).values
    r_r0, r_gain, r_phase = rate
    r0 = _by_source(r_r0, b_r0, np.full(b_r0.shape, t_r0))
    gain = _by_source(r_gain, b_gain, np.abs(chi))
    phase = _by_source(wrap_phase(r_phase), b_phase, wrap_phase(np.angle(chi)))
    nan = np.full(b_r0.shape, np.nan)
    return {
        "r0": (dims, r0, attrs("Hz", "mean rate")),
        "gain": (dims, gain, attrs("Hz/V", "gain A_1 / mu1 (theory: |chi|)")),
        "phase": (dims, phase, attrs("rad", "phase of the first harmonic relative to the "
                                            "drive's sine (negative: lag)")),
        "r0_se": (dims, _by_source(nan, b_r0_se, nan), attrs("Hz", "standard error of r0")),
        "gain_se": (dims, _by_source(nan, b_gain_se, nan),
                    attrs("Hz/V", "standard error of gain")),
        "phase_se": (dims, _by_source(nan, b_phase_se, nan),
                     attrs("rad", "standard error of phase")),
        "z_r0": (dims, _z_scores(b_r0_se, r0),
                 attrs("1", "(r0 of source - r0 of lif_theory) / r0_se of lif_brian2")),
        "z_gain": (dims, _z_scores(b_gain_se, gain),
                   attrs("1", "(gain of source - gain of lif_theory) / gain_se of lif_brian2")),
        "z_phase": (dims, _z_scores(b_phase_se, phase, phase=True),
                    attrs("1", "wrapped (phase of source - phase of lif_theory) / phase_se "
                               "of lif_brian2")),
        "rel_r0": (dims, _relative(r0), attrs("1", "r0 / r0 of lif_theory - 1")),
        "rel_gain": (dims, _relative(gain), attrs("1", "gain / gain of lif_theory - 1")),
        "dphase": (dims, _relative(phase, phase=True),
                   attrs("rad", "phase minus the phase of lif_theory (wrapped)")),
    }


def _fi_part(spikes: xr.Dataset, rate: np.ndarray, siegert: np.ndarray) -> dict[str, tuple]:
    """Variables on (source, mu): the f-I rates, their errors and z-scores vs Brian2."""
    dims = ("source", "mu")
    b_rate, b_se = spikes["r0"].values, spikes["r0_se"].values
    fi_rate = _by_source(rate, b_rate, siegert)
    nan = np.full(b_rate.shape, np.nan)
    return {
        "fi_rate": (dims, fi_rate, attrs("Hz", "stationary rate at constant input mu "
                                               "(rate model: phi(mu); theory: Siegert)")),
        "fi_rate_se": (dims, _by_source(nan, b_se, nan),
                       attrs("Hz", "standard error of fi_rate")),
        "z_fi": (dims, _z_scores(b_se, fi_rate),
                 attrs("1", "(fi_rate of source - fi_rate of lif_theory) / fi_rate_se of "
                            "lif_brian2")),
        "rel_fi": (dims, _relative(fi_rate), attrs("1", "fi_rate / Siegert rate - 1")),
    }


def _dense_curves(model: Model, freqs: np.ndarray, fi: np.ndarray | None, *, mu0: float,
                  mu1: float, rate_method: str) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """Theory curves on dense grids (``fine_freq``, ``fine_mu``), for figures.

    LIF theory always; the rate model where it is exact (``rate_method="analytic"`` for the
    Bode curves; its transfer ``phi(mu)`` for the f-I curve), NaN otherwise and for Brian2.
    """
    lif = model.require_lif()
    kwargs = lif_parameters(lif)
    population = model.population(lif.population)
    fine_freq = _dense(freqs, _FINE_FREQS, log=True)
    chi = np.asarray(lif_theory.susceptibility(fine_freq, mu0, lif.sigma, **kwargs))
    nan = np.full(fine_freq.shape, np.nan)
    rate_gain = rate_phase = nan
    if rate_method == "analytic":
        _, rate_gain, rate_phase = _rate_response(model, lif.population, mu0, mu1, fine_freq,
                                                  "analytic", 1)
    dims = ("source", "fine_freq")
    data = {
        "fine_gain": (dims, _by_source(rate_gain, None, np.abs(chi)),
                      attrs("Hz/V", "gain on the dense grid fine_freq (theory: |chi|; rate "
                                    "model: exact theory, NaN if simulated)")),
        "fine_phase": (dims, _by_source(wrap_phase(rate_phase), None,
                                        wrap_phase(np.angle(chi))),
                       attrs("rad", "phase on the dense grid fine_freq (theory: arg chi)")),
    }
    coords = {"fine_freq": ("fine_freq", fine_freq,
                            attrs("Hz", "dense frequency grid of the theory curves"))}
    if fi is not None:
        fine_mu = _dense(fi, _FINE_MU, log=False)
        data["fine_fi_rate"] = (("source", "fine_mu"), _by_source(
            np.asarray(population.transfer(fine_mu), dtype=float), None,
            np.asarray(lif_theory.siegert_rate(fine_mu, lif.sigma, **kwargs), dtype=float)),
            attrs("Hz", "stationary rate on the dense grid fine_mu (rate model: phi(mu); "
                        "theory: Siegert)"))
        coords["fine_mu"] = ("fine_mu", fine_mu,
                             attrs("V", "dense input grid of the f-I curves"))
    return data, coords


def _compare_attrs(model: Model, spikes: xr.Dataset, *, mu0: float, mu1: float,
                   rate_method: str) -> dict[str, Any]:
    lif = model.require_lif()
    population = model.population(lif.population)
    out = provenance(
        model,
        description="rate model vs Brian2 LIF population vs LIF theory under "
                    "mu(t) = mu0 + mu1 sin(2 pi f t)",
        mu0=mu0, mu1=mu1, sigma=lif.sigma,
        lif_convention=spikes.attrs["lif_convention"],
        fourier_convention=spikes.attrs["fourier_convention"],
        **lif_parameters(lif), rate_method=rate_method,
        rate_transfer=json.dumps(population.transfer.to_dict()),
        rate_tau=population.tau, rate_form=population.form)
    for key in ("threshold_correction", "threshold_correction_description", "target", "dt",
                "duration", "transient", "seed", "n_neurons_per_condition", "n_splits",
                "run_time", "build_time", "brian2_version"):
        out[key if key.startswith("brian2") else f"brian2_{key}"] = spikes.attrs[key]
    return out


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
        * ``z_r0``, ``z_gain``, ``z_phase``: every source against LIF theory in the Brian2
          standard error, ``(source - lif_theory) / se_brian2`` (phase difference wrapped;
          NaN for ``lif_theory`` itself): for ``lif_brian2`` a test of the theory, for
          ``rate`` whether the rate model's error would be seen at the Brian2 precision.
          LIF theory is linear response: its ``r0`` is the Siegert rate at ``mu0``, so
          ``z_r0`` also measures the second-order rise of the mean rate with ``mu1``;
        * ``rel_r0``, ``rel_gain``: relative errors against LIF theory, ``dphase`` the
          phase difference (rad);
        * ``fine_gain``, ``fine_phase`` (source, fine_freq): the theory curves on a dense
          log-spaced grid between the lowest and highest frequency (200 points), for
          figures: LIF theory, and the rate model when ``rate_method="analytic"`` (NaN
          otherwise and for ``lif_brian2``).

        With ``fi_mu``, also dim ``mu`` with ``fi_rate`` (Hz; the rate model's static
        ``phi(mu)``, the Brian2 rate, the Siegert rate), ``fi_rate_se``, ``z_fi`` and
        ``rel_fi``, and
        ``fine_fi_rate`` (source, fine_mu): ``phi`` and Siegert on a dense grid (400 points).
        Attrs: the drive, the LIF parameters, the rate model (transfer, tau, form), the
        Brian2 settings and the threshold correction, the model as TOML.
    """
    from neurorect.brian2_lif import simulate_lif

    model = model_argument(model)
    lif = model.require_lif()
    mu0, mu1, freqs = _check_request(model, freqs, mu0, mu1, rate_method)
    fi = None if fi_mu is None else np.atleast_1d(np.asarray(fi_mu, dtype=float)).ravel()
    fi_inputs = np.zeros(0) if fi is None else fi
    # Brian2: every frequency and every f-I input (no sinusoid) in one NeuronGroup
    conditions = {"mu0": np.concatenate([np.full(freqs.size, mu0), fi_inputs]),
                  "mu1": np.concatenate([np.full(freqs.size, mu1), np.zeros(fi_inputs.size)]),
                  "freq": np.concatenate([freqs, np.zeros(fi_inputs.size)]), "phase": 0.0}
    spikes = simulate_lif(model, duration, conditions=conditions, n_neurons=n_neurons, dt=dt,
                          seed=seed, transient=transient,
                          threshold_correction=threshold_correction, target=target,
                          n_harmonics=n_harmonics)
    kwargs = lif_parameters(lif)
    chi = np.asarray(lif_theory.susceptibility(freqs, mu0, lif.sigma, **kwargs))
    t_r0 = float(lif_theory.siegert_rate(mu0, lif.sigma, **kwargs))
    rate = _rate_response(model, lif.population, mu0, mu1, freqs, rate_method, n_harmonics)
    data = _bode_part(spikes.isel(condition=slice(0, freqs.size)), rate, chi, t_r0)
    coords: dict[str, Any] = {
        "source": ("source", list(SOURCES), attrs("1", "rate model, Brian2 LIF population, "
                                                       "LIF theory")),
        "freq": ("freq", freqs, attrs("Hz", "drive frequency")),
    }
    if fi is not None:
        siegert = np.asarray(lif_theory.siegert_rate(fi, lif.sigma, **kwargs), dtype=float)
        phi = np.asarray(model.population(lif.population).transfer(fi), dtype=float)
        data.update(_fi_part(spikes.isel(condition=slice(freqs.size, None)), phi, siegert))
        coords["mu"] = ("mu", fi, attrs("V", "constant mean input of the f-I curve"))
    fine_data, fine_coords = _dense_curves(model, freqs, fi, mu0=mu0, mu1=mu1,
                                           rate_method=rate_method)
    ds = xr.Dataset({**data, **fine_data}, coords={**coords, **fine_coords})
    ds.attrs = _compare_attrs(model, spikes, mu0=mu0, mu1=mu1, rate_method=rate_method)
    return ds


def format_table(result: xr.Dataset) -> str:
    """A plain-text table of a :func:`compare` result (rates Hz, gains Hz/mV, phases rad)."""
    lines = []
    head = (f"{'f (Hz)':>8} | {'r0 brian2':>15} {'theory':>7} {'rate':>7} | "
            f"{'gain brian2':>15} {'theory':>7} {'rate':>7} | "
            f"{'phase brian2':>15} {'theory':>7} {'rate':>7} | {'z brian2 (r0 gain phase)':>24} | "
            f"{'rate: rel r0, rel gain, dphase':>30}")
    lines += ["gain in Hz/mV, phase in rad; brian2 values +- one standard error; z: (source - "
              "theory) / brian2 SE", head, "-" * len(head)]

    def pick(name, source, j, scale=1.0):
        return float(result[name].sel(source=source).values[j]) * scale

    for j, f in enumerate(result["freq"].values):
        parts = [f"{f:>8.3g} |"]
        for name, scale in (("r0", 1.0), ("gain", 1e-3), ("phase", 1.0)):
            value = pick(name, "lif_brian2", j, scale)
            se = pick(f"{name}_se", "lif_brian2", j, scale)
            parts.append(f"{value:>7.3f} +- {se:<5.3f} {pick(name, 'lif_theory', j, scale):>7.3f}"
                         f" {pick(name, 'rate', j, scale):>7.3f} |")
        z = [pick(f"z_{name}", "lif_brian2", j) for name in ("r0", "gain", "phase")]
        parts.append(f"{z[0]:>8.2f} {z[1]:>7.2f} {z[2]:>7.2f} |")
        rel_r0, rel_gain = pick("rel_r0", "rate", j), pick("rel_gain", "rate", j)
        parts.append(f"{100 * rel_r0:>+9.2f} % {100 * rel_gain:>+8.2f} % "
                     f"{pick('dphase', 'rate', j):>+7.3f}")
        lines.append(" ".join(parts))
    lines.append("theory r0 is the Siegert rate at mu0 (linear response); the mean rate under "
                 "the sinusoid rises at second order, by ~r''(mu0) mu1^2 / 4 at low frequency")
    if "fi_rate" in result:
        lines += ["", "f-I curve (Hz)",
                  f"{'mu (mV)':>8} | {'brian2':>15} {'siegert':>8} {'rate':>8} | "
                  f"{'z brian2':>8} {'z rate':>8} | {'rate rel':>9}"]
        for j, mu in enumerate(result["mu"].values):
            rate = result["fi_rate"].values[:, j]
            se = float(result["fi_rate_se"].sel(source="lif_brian2").values[j])
            z = result["z_fi"].values[:, j]
            rel = float(result["rel_fi"].sel(source="rate").values[j])
            lines.append(f"{mu * 1e3:>8.3g} | {rate[1]:>7.3f} +- {se:<5.3f} {rate[2]:>8.3f} "
                         f"{rate[0]:>8.3f} | {z[1]:>8.2f} {z[0]:>8.2f} | {100 * rel:>+8.2f} %")
    return "\n".join(lines)
