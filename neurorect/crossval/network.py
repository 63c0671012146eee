r"""Brunel's E-I network three ways: Brian2 LIF neurons, mean-field theory, matched rate network.

:func:`compare_network` gives the three sources the same network and the same modulation of
the external rate, ``nu_ext (1 + m sum_k sin(2 pi f_k t))``:

``"brian2"``
    the LIF network in Brian2 (:func:`neurorect.brian2_lif.simulate_network`): every
    frequency from ONE run (multi-sine modulation), with block standard errors;
``"mean_field"``
    :func:`neurorect.lif.mean_field`: the self-consistent rate, the linear response (mean
    and variance channels, with the delay) and the leading eigenvalue; the finite-size
    population spectrum (:func:`neurorect.lif.population_spectrum`);
``"rate_model"``
    the leaky-ReLU rate network of the model file's populations E and I (by default as the
    file gives them, so that the matched model does not depend on the frequencies asked
    for; ``refit=True`` recomputes it with :func:`~neurorect.crossval.matched.matched_network`)
    by its exact theory (fixed point, Lambert-W eigenvalues, response) or by
    :func:`neurorect.simulate` (``rate_method="simulate"``).

Every source is scored against the mean-field theory, in the one unit that says whether a
difference would be seen: the Brian2 standard error (``z_* = (source - mean_field) / se``),
and as relative errors (``rel_*``; phase differences in rad, ``dphase``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurorect import _progress
from neurorect._arguments import model_argument
from neurorect._schema import attrs, provenance
from neurorect._validate import check_choice
from neurorect.crossval.matched import (
    matched_network,
    rate_network_arrays,
    rate_network_theory,
)
from neurorect.errors import ModelError
from neurorect.fourier import wrap_phase
from neurorect.lif import isi_cv
from neurorect.lif.mean_field import mean_field
from neurorect.lif.spectrum import population_spectrum
from neurorect.spec import Model
from neurorect.spec_lif import POPULATIONS

__all__ = ["NETWORK_SOURCES", "compare_network", "format_network_table"]

#: The ``source`` coordinate of :func:`compare_network`.
NETWORK_SOURCES = ("brian2", "mean_field", "rate_model")
RATE_METHODS = ("theory", "simulate")
_FINE = 200  # points of the dense theory curves


def _check_freqs(freqs: ArrayLike) -> np.ndarray:
    f = np.atleast_1d(np.asarray(freqs, dtype=float)).ravel()
    if f.size == 0 or np.any(~np.isfinite(f) | (f <= 0)):
        raise ModelError("frequencies must be finite and > 0", key="freqs",
                         value=f.tolist(), allowed="freq > 0 Hz")
    return f


def _rate_model(model: Model, refit: bool) -> tuple[Model, float, str]:
    """The rate network, its delay (s) and where it came from."""
    if refit:
        matched, info = matched_network(model, full_output=True)
        return matched, info.delay, "refit to the mean field (matched_network)"
    names = {p.name for p in model.populations}
    if not set(POPULATIONS) <= names:
        raise ModelError("the rate network needs populations E and I", key="populations",
                         value=sorted(names), allowed="[populations.E] and [populations.I] "
                                                      "(or refit=True)", file=model.source)
    return model, rate_network_arrays(model).delay, "from the model file"


def _mean_field_part(network, freqs, fine, spectrum_freqs):
    ds = mean_field(network, freqs=np.concatenate([freqs, fine]))
    n = int(ds["n_solutions"])
    stable = np.flatnonzero(ds["stable"].values[:n] == 1.0)
    solution = 0 if n == 1 else (int(stable[0]) if stable.size == 1 else None)
    if solution is None:
        raise ModelError("the network has several self-consistent states", key="lif_network",
                         value=f"{n} solutions", allowed="a network with one stable state")
    pick = ds.isel(solution=solution)
    spectrum = population_spectrum(network, spectrum_freqs, solution=solution)
    cv = float(isi_cv(float(pick["mu"][0]), float(pick["sigma"][0]), tau_m=network.tau_m,
                      v_th=network.v_th, v_reset=network.v_reset, t_ref=network.t_ref))
    return pick, spectrum, cv


def _rate_part(rate: Model, delay: float, network, freqs, fine, depth, method, progress):
    theory = rate_network_theory(rate, np.concatenate([freqs, fine]), nu_ext=network.nu_ext,
                                 delay=delay)
    if method == "theory":
        return theory, theory
    from neurorect.driver import simulate

    values: dict[str, Any] = {}
    for pop in rate.populations:
        values[f"drives.{pop.name}.freq"] = freqs
        values[f"drives.{pop.name}.I1"] = np.full(freqs.size,
                                                  depth * rate.drive(pop.name).scalar("I0"))
    result = simulate(rate, record="none", n_harmonics=1, batch=values, progress=progress)
    amplitude = result["amplitude"].sel(harmonic=1).values  # (batch, neuron)
    phase = result["phase"].sel(harmonic=1).values
    sim = xr.Dataset({"r0": ("population", result["r0"].values.mean(axis=0)),
                      "gain": (("population", "freq"), amplitude.T / (depth * network.nu_ext)),
                      "phase": (("population", "freq"), phase.T)},
                     coords={"population": theory["population"].values, "freq": freqs})
    return sim, theory


def _stack(brian2, mean, rate) -> np.ndarray:
    return np.stack([np.asarray(brian2, float), np.asarray(mean, float),
                     np.asarray(rate, float)])


def _scores(name: str, values: np.ndarray, se: np.ndarray, dims: tuple,
            phase: bool = False) -> dict[str, tuple]:
    """z-scores against the mean field in Brian2 SEs, and relative errors (phase: diffs)."""
    reference = values[NETWORK_SOURCES.index("mean_field")]
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = values - reference[None]
        if phase:
            diff = wrap_phase(diff)
        z = diff / se[None]
        relative = diff if phase else values / reference[None] - 1.0
    z[NETWORK_SOURCES.index("mean_field")] = np.nan
    relative[NETWORK_SOURCES.index("mean_field")] = np.nan
    key = "dphase" if phase else f"rel_{name}"
    long = ("phase minus the mean field's (wrapped)" if phase
            else f"{name} / mean-field {name} - 1")
    return {f"z_{name}": (dims, z, attrs("1", f"({name} - mean-field {name}) / Brian2 SE")),
            key: (dims, relative, attrs("rad" if phase else "1", long))}


def compare_network(model: Model, freqs: ArrayLike, *, depth: float | None = None,
                    refit: bool = False, rate_method: str = "theory",
                    duration: float | None = None, transient: float | None = None,
                    seed: int | None = None, target: str = "cython", threads: int = 1,
                    progress: bool | None = None) -> xr.Dataset:
    """Brian2 LIF network, mean field and matched rate network under one modulation.

    Parameters
    ----------
    model : Model
        A model with an ``[lif_network]`` table and the rate network ``[populations.E]``,
        ``[populations.I]`` (as :func:`~neurorect.crossval.matched.matched_network` writes
        it; see ``models/brunel_ai.toml``).
    freqs : array_like
        Modulation frequencies, Hz: distinct, free of second-order collisions, each with at
        least ``n_blocks = 10`` periods in the analysis window (ModelError otherwise).
    depth : float, optional
        Relative modulation of each component (default: the table's ``mod_depth``, else
        ``min(0.05, 0.5 / len(freqs))``).
    refit : bool
        Recompute the rate network from the mean field instead of using the file's.
    rate_method : {"theory", "simulate"}
        The rate network by its exact theory, or simulated (batched over frequency).
    duration, transient, seed, target, threads
        Of the Brian2 run (:func:`neurorect.brian2_lif.simulate_network`).
    progress : bool, optional
        Phases and bars on stderr (default: the process setting).

    Returns
    -------
    xarray.Dataset
        Dims ``source`` (brian2, mean_field, rate_model), ``population`` (E, I), ``freq``:
        ``r0``, ``gain`` (Hz/Hz of external rate), ``phase`` (rad) and their ``*_se`` (Brian2
        only), ``z_r0``, ``z_gain``, ``z_phase`` (every source against the mean field, in
        Brian2 SEs), ``rel_r0``, ``rel_gain``, ``dphase``; ``cv`` (source, population);
        ``growth_rate``, ``oscillation_freq`` (source: the leading eigenvalue of the
        theories); ``synchrony`` (Brian2); dense theory curves ``fine_gain``,
        ``fine_phase`` (source, population, fine_freq); the population spectra
        ``psd_brian2``, ``psd_brian2_se``, ``psd_mean_field``, ``psd_poisson`` on
        ``spectrum_freq``. Attrs: the modulation, the rate network and how it was obtained,
        the Brian2 run.
    """
    from neurorect.brian2_lif import simulate_network

    model = model_argument(model)
    network = model.require_lif_network()
    freqs = _check_freqs(freqs)
    check_choice("rate_method", rate_method, RATE_METHODS)
    if depth is None:
        depth = network.mod_depth if network.mod_depth > 0 else min(0.05, 0.5 / freqs.size)
    driven = model.with_values({"lif_network.mod_freqs": freqs.tolist(),
                                "lif_network.mod_depth": float(depth)})
    rate, delay, origin = _rate_model(model, refit)
    spikes = simulate_network(driven, duration, seed=seed, transient=transient, target=target,
                              threads=threads, record_spikes=False, progress=progress)
    lo, hi = freqs.min(), freqs.max()
    fine = np.geomspace(lo, hi, _FINE) if hi > lo else np.array([lo])
    with _progress.phase("crossval: mean-field theory", enabled=progress):
        mf, spectrum, mf_cv = _mean_field_part(network, freqs, fine,
                                               spikes["spectrum_freq"].values[1:])
    with _progress.phase("crossval: rate network", enabled=progress):
        rate_values, rate_theory = _rate_part(rate, delay, network, freqs, fine, depth,
                                              rate_method, progress)
    return _assemble(model, driven.lif_network, spikes, mf, spectrum, mf_cv, rate,
                     rate_values, rate_theory, freqs, fine, depth, delay, origin, rate_method)


def _assemble(model, network, spikes, mf, spectrum, mf_cv, rate, rate_values, rate_theory,
              freqs, fine, depth, delay, origin, rate_method) -> xr.Dataset:
    k = freqs.size
    pops = ("population",)
    nan_pf = np.full((len(POPULATIONS), k), np.nan)
    nan_p = np.full(len(POPULATIONS), np.nan)
    r0 = _stack(spikes["r0"].values, mf["r0"].values, rate_values["r0"].values)
    r0_se = _stack(spikes["r0_se"].values, nan_p, nan_p)
    gain = _stack(spikes["gain"].values, mf["gain"].values[:, :k],
                  rate_values["gain"].values[:, :k])
    gain_se = _stack(spikes["gain_se"].values, nan_pf, nan_pf)
    phase = _stack(spikes["phase"].values, mf["phase"].values[:, :k],
                   rate_values["phase"].values[:, :k])
    phase_se = _stack(spikes["phase_se"].values, nan_pf, nan_pf)
    dims_p, dims_f = ("source", "population"), ("source", "population", "freq")
    data: dict[str, Any] = {
        "r0": (dims_p, r0, attrs("Hz", "mean rate (theories: the fixed point)")),
        "r0_se": (dims_p, r0_se, attrs("Hz", "standard error of r0 (Brian2, time blocks)")),
        "gain": (dims_f, gain, attrs("Hz/Hz", "first-harmonic response of the population rate "
                                              "per Hz of external-rate modulation")),
        "gain_se": (dims_f, gain_se, attrs("Hz/Hz", "standard error of gain (Brian2)")),
        "phase": (dims_f, phase, attrs("rad", "phase relative to the modulation's sine")),
        "phase_se": (dims_f, phase_se, attrs("rad", "standard error of phase (Brian2)")),
        "cv": (dims_p, _stack(spikes["cv"].values, np.full(2, mf_cv), nan_p),
               attrs("1", "ISI CV (mean field: the unperturbed neuron's)")),
        "synchrony": (pops, spikes["synchrony"].values, spikes["synchrony"].attrs),
        "synchrony_se": (pops, spikes["synchrony_se"].values, spikes["synchrony_se"].attrs),
    }
    data.update(_scores("r0", r0, r0_se[0], dims_p))
    data.update(_scores("gain", gain, gain_se[0], dims_f))
    data.update(_scores("phase", phase, phase_se[0], dims_f, phase=True))
    growth = [np.nan, float(mf["growth_rate"].values[0]),
              float(rate_theory["growth_rate"].values[0])]
    freq_osc = [np.nan, float(mf["oscillation_freq"].values[0]),
                float(rate_theory["oscillation_freq"].values[0])]
    data["growth_rate"] = ("source", np.array(growth),
                           attrs("1/s", "leading eigenvalue's real part (mean field: lowest-"
                                        "frequency root; rate model: rightmost)"))
    data["oscillation_freq"] = ("source", np.array(freq_osc),
                                attrs("Hz", "its imaginary part / 2 pi"))
    nan_fine = np.full((len(POPULATIONS), fine.size), np.nan)
    data["fine_gain"] = (("source", "population", "fine_freq"),
                         _stack(nan_fine, mf["gain"].values[:, k:],
                                rate_theory["gain"].values[:, k:]),
                         attrs("Hz/Hz", "theory gain on the dense grid fine_freq"))
    data["fine_phase"] = (("source", "population", "fine_freq"),
                          _stack(nan_fine, mf["phase"].values[:, k:],
                                 rate_theory["phase"].values[:, k:]),
                          attrs("rad", "theory phase on the dense grid fine_freq"))
    spec_dims = ("population", "spectrum_freq")
    data["psd_brian2"] = (spec_dims, spikes["psd"].values, spikes["psd"].attrs)
    data["psd_brian2_se"] = (spec_dims, spikes["psd_se"].values, spikes["psd_se"].attrs)
    data["psd_mean_field"] = (spec_dims, np.concatenate(
        [np.full((2, 1), np.nan), spectrum["psd"].values], axis=1),
        attrs("Hz", "linear-response spectrum of the population rate (mean field)"))
    data["psd_poisson"] = (pops, spikes["psd_poisson"].values, spikes["psd_poisson"].attrs)
    coords = {
        "source": ("source", list(NETWORK_SOURCES), attrs("1", "Brian2 LIF network, mean-field "
                                                               "theory, matched rate network")),
        "population": ("population", list(POPULATIONS), attrs("1", "population")),
        "freq": ("freq", freqs, attrs("Hz", "modulation frequency")),
        "fine_freq": ("fine_freq", fine, attrs("Hz", "dense frequency grid of the theory")),
        "spectrum_freq": ("spectrum_freq", spikes["spectrum_freq"].values,
                          attrs("Hz", "frequency of the population spectra")),
    }
    ds = xr.Dataset(data, coords=coords)
    transfer = rate.population("E").transfer
    ds.attrs = provenance(
        model, description="Brian2 LIF E-I network vs mean field vs matched rate network "
                           "under nu_ext (1 + depth sum_k sin(2 pi f_k t))",
        mod_depth=float(depth), nu_ext=network.nu_ext, eta=network.eta, g=network.g,
        rate_model_origin=origin, rate_method=rate_method,
        rate_transfer=json.dumps(transfer.to_dict()), rate_tau=rate.population("E").tau,
        rate_delay=float(delay), lif_delay=network.delay,
        **{key if key.startswith("brian2") else f"brian2_{key}": spikes.attrs[key]
           for key in ("target", "threads", "seed", "duration", "transient", "n_blocks",
                       "run_time", "build_time", "brian2_version")})
    return ds


def format_network_table(result: xr.Dataset) -> str:
    """A plain-text table of a :func:`compare_network` result."""
    a = result.attrs
    lines = [f"external rate nu_ext = {a['nu_ext']:.4g} Hz (eta = {a['eta']:g}, g = {a['g']:g}), "
             f"modulation depth {a['mod_depth']:g} per component",
             f"rate network ({a['rate_model_origin']}, {a['rate_method']}): tau "
             f"{a['rate_tau'] * 1e3:.3g} ms, delay {a['rate_delay'] * 1e3:.3g} ms "
             f"(LIF network: {a['lif_delay'] * 1e3:.3g} ms)", "",
             "rates (Hz): Brian2 +- SE | mean field | rate model | z vs mean field "
             "(brian2, rate) | relative error"]
    for p, pop in enumerate(result["population"].values):
        r = result["r0"].values[:, p]
        se = result["r0_se"].values[0, p]
        z = result["z_r0"].values[:, p]
        rel = result["rel_r0"].values[:, p]
        lines.append(f"  {pop}: {r[0]:8.3f} +- {se:<6.3f} | {r[1]:8.3f} | {r[2]:8.3f} | "
                     f"{z[0]:6.2f} {z[2]:8.2f} | {100 * rel[0]:+6.2f} % {100 * rel[2]:+6.2f} %")
    growth, osc = result["growth_rate"].values, result["oscillation_freq"].values
    lines += [f"leading eigenvalue: mean field {growth[1]:.4g} /s at {osc[1]:.4g} Hz; rate "
              f"model {growth[2]:.4g} /s at {osc[2]:.4g} Hz",
              f"ISI CV: Brian2 {', '.join(f'{v:.3f}' for v in result['cv'].values[0])}; "
              f"mean field {result['cv'].values[1, 0]:.3f}; synchrony (Brian2) "
              + ", ".join(f"{v:.3g}" for v in result["synchrony"].values), ""]
    head = (f"{'pop':>3} {'f (Hz)':>8} | {'gain brian2':>16} {'mean f.':>8} {'rate':>8} | "
            f"{'phase brian2':>15} {'mean f.':>8} {'rate':>8} | z gain (b2, rate) | "
            f"z phase (b2, rate)")
    lines += ["gain in Hz per Hz of external rate, phase in rad", head, "-" * len(head)]
    for p, pop in enumerate(result["population"].values):
        for j, f in enumerate(result["freq"].values):
            g = result["gain"].values[:, p, j]
            ph = result["phase"].values[:, p, j]
            gse = result["gain_se"].values[0, p, j]
            pse = result["phase_se"].values[0, p, j]
            zg = result["z_gain"].values[:, p, j]
            zp = result["z_phase"].values[:, p, j]
            lines.append(f"{pop:>3} {f:>8.4g} | {g[0]:7.3f} +- {gse:<5.3f} {g[1]:8.3f} "
                         f"{g[2]:8.3f} | {ph[0]:6.3f} +- {pse:<5.3f} {ph[1]:8.3f} {ph[2]:8.3f} | "
                         f"{zg[0]:7.2f} {zg[2]:8.2f} | {zp[0]:7.2f} {zp[2]:8.2f}")
    if not math.isnan(float(result["growth_rate"].values[1])):
        lines.append("z: (source - mean field) / Brian2 SE; the rate model's z says whether "
                     "its error would be seen at the Brian2 precision")
    return "\n".join(lines)
