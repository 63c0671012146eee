r"""From the spikes of a Brian2 E-I network to the result schema (no Brian2 here).

Per population, over the analysis window ``[transient, duration)``:

* ``r0`` with block standard errors (batch means over ``n_blocks`` stretches of time: the
  neurons of a network are correlated, so subsets of neurons are not independent and the
  spread between them would understate the error), from
  :func:`neurorect.fourier.spike_harmonics`;
* the ISI coefficient of variation (mean over the neurons with at least 3 spikes in the
  window; SE from their spread, which excludes the slow rate fluctuations common to all);
* the power spectrum of the population rate ``A(t)`` (spikes per neuron and second, binned
  at the Brian2 step), by Welch's method with ``n_segments`` non-overlapping Hann segments:
  one-sided, Hz^2/Hz, relative standard error ``1/sqrt(n_segments)``; ``2 r0 / N`` for
  independent Poisson neurons. Under a modulation, the bins within two bin widths of a
  modulation frequency hold its spectral line, not the network's fluctuations: NaN;
* synchrony: the variance of ``A`` binned at ``bin_width`` over its Poisson level
  ``r0 / (N bin_width)`` (1 for independent Poisson neurons, more for synchronous activity),
  with a block standard error;
* under a modulation of the external rate, gain and phase of the population rate at every
  modulation frequency, from the same spike trains by
  :func:`~neurorect.fourier.spike_harmonics` (whole periods of each frequency, block
  errors): ``gain = A_1 / (mod_depth nu_ext)`` in Hz per Hz of external rate.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import signal

from neurorect import fourier
from neurorect._schema import attrs
from neurorect.spec_lif import POPULATIONS

__all__ = ["analyse_network", "isi_cv_per_population", "population_spectrum", "synchrony"]


def _window(raw: dict, t_start: float, t_stop: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(raw["spike_time"], dtype=float)
    i = np.asarray(raw["spike_neuron"], dtype=np.int64)
    inside = (t >= t_start) & (t < t_stop)
    return t[inside], i[inside]


def isi_cv_per_population(t: np.ndarray, neuron: np.ndarray, population: np.ndarray,
                          n_pop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean ISI CV per population (neurons with >= 3 spikes), its SE, and the fraction of
    neurons that had a CV."""
    order = np.lexsort((t, neuron))
    t, neuron = t[order], neuron[order]
    same = neuron[1:] == neuron[:-1]
    isi, owner = np.diff(t)[same], neuron[1:][same]
    count = np.bincount(owner, minlength=population.size).astype(float)
    s1 = np.bincount(owner, weights=isi, minlength=population.size)
    s2 = np.bincount(owner, weights=isi * isi, minlength=population.size)
    ok = count >= 2
    mean = np.where(ok, s1 / np.maximum(count, 1), np.nan)
    var = np.where(ok, (s2 - count * mean**2) / np.maximum(count - 1, 1), np.nan)
    cv = np.sqrt(np.maximum(var, 0.0)) / mean
    out_mean, out_se, fraction = (np.full(n_pop, np.nan) for _ in range(3))
    for p in range(n_pop):
        values = cv[(population == p) & ok]
        fraction[p] = values.size / max(int(np.sum(population == p)), 1)
        if values.size:
            out_mean[p] = values.mean()
        if values.size > 1:
            out_se[p] = values.std(ddof=1) / np.sqrt(values.size)
    return out_mean, out_se, fraction


def _binned(t: np.ndarray, t_start: float, t_stop: float, width: float, n: int) -> np.ndarray:
    """Population rate (Hz per neuron) in bins of ``width`` from ``t_start``."""
    n_bins = int(np.floor((t_stop - t_start) / width + 1e-9))
    index = np.floor((t - t_start) / width + 1e-9).astype(np.int64)
    index = index[(index >= 0) & (index < n_bins)]
    return np.bincount(index, minlength=n_bins) / (n * width)


def population_spectrum(t: np.ndarray, t_start: float, t_stop: float, dt: float, n: int,
                        n_segments: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Welch power spectrum (one-sided, Hz) of the population rate binned at ``dt``:
    frequencies (Hz), spectrum, and the number of segments actually averaged."""
    rate = _binned(t, t_start, t_stop, dt, n)
    nperseg = max(16, rate.size // n_segments)
    freq, psd = signal.welch(rate, fs=1.0 / dt, window="hann", nperseg=nperseg, noverlap=0,
                             detrend="constant")
    return freq, psd, rate.size // nperseg


def synchrony(t: np.ndarray, t_start: float, t_stop: float, width: float, n: int,
              r0: float, n_blocks: int) -> tuple[float, float]:
    """``var(A_width) / (r0 / (n width))`` and its block standard error."""
    rate = _binned(t, t_start, t_stop, width, n)
    poisson = r0 / (n * width)
    if not np.isfinite(poisson) or poisson <= 0 or rate.size < 2 * n_blocks:
        return np.nan, np.nan
    blocks = np.array_split(rate, n_blocks)
    values = np.array([b.var(ddof=1) for b in blocks]) / poisson
    return float(rate.var(ddof=1) / poisson), float(values.std(ddof=1) / np.sqrt(n_blocks))


def _modulation(t, neuron, population, spec, t_start, t_stop, n_blocks) -> dict[str, tuple]:
    """Gain (Hz/Hz), phase (rad) and their block SEs per (population, freq)."""
    freqs = np.asarray(spec["mod_freqs"], dtype=float)
    scale = spec["mod_depth"] * spec["nu_ext"]
    n_pop = len(POPULATIONS)
    shape = (n_pop, freqs.size)
    gain, gain_se, phase, phase_se = (np.full(shape, np.nan) for _ in range(4))
    for k, f in enumerate(freqs):
        h = fourier.spike_harmonics(t, neuron, freq=f, t_start=t_start, t_stop=t_stop,
                                    group=population, n_harmonics=1, n_blocks=n_blocks)
        gain[:, k] = h["amplitude"].values[:, 0] / scale
        gain_se[:, k] = h["amplitude_se"].values[:, 0] / scale
        phase[:, k] = h["phase"].values[:, 0]
        phase_se[:, k] = h["phase_se"].values[:, 0]
    dims = ("population", "freq")
    return {
        "gain": (dims, gain, attrs("Hz/Hz", "first-harmonic amplitude of the population rate "
                                            "per Hz of external-rate modulation")),
        "gain_se": (dims, gain_se, attrs("Hz/Hz", "standard error of gain (blocks)")),
        "phase": (dims, phase, attrs("rad", "phase relative to the modulation's sine "
                                            "(negative: a lag)")),
        "phase_se": (dims, phase_se, attrs("rad", "standard error of phase (blocks)")),
    }


def analyse_network(raw: dict, spec: dict, *, t_start: float, t_stop: float, n_blocks: int,
                    bin_width: float, n_segments: int) -> xr.Dataset:
    """The result Dataset of a network run (see the module docstring)."""
    sizes = (spec["N_E"], spec["N_I"])
    population = np.repeat(np.arange(len(sizes)), sizes)
    t, neuron = _window(raw, t_start, t_stop)
    window = t_stop - t_start
    rates = fourier.spike_harmonics(t, neuron, freq=n_blocks / window, t_start=t_start,
                                    t_stop=t_stop, group=population, n_harmonics=1,
                                    n_blocks=n_blocks)
    r0 = rates["r0"].values
    cv, cv_se, cv_fraction = isi_cv_per_population(t, neuron, population, len(sizes))
    spectra, sync, sync_se = [], np.full(len(sizes), np.nan), np.full(len(sizes), np.nan)
    n_avg = 0
    for p, n in enumerate(sizes):
        mine = population[neuron] == p
        freq, psd, n_avg = population_spectrum(t[mine], t_start, t_stop, spec["dt"], n,
                                               n_segments)
        spectra.append(psd)
        sync[p], sync_se[p] = synchrony(t[mine], t_start, t_stop, bin_width, n, r0[p],
                                        n_blocks)
    psd = np.array(spectra)
    for f in spec["mod_freqs"]:  # the modulation's own lines (module docstring)
        psd[:, np.abs(freq - f) <= 2.0 * (freq[1] - freq[0])] = np.nan
    poisson = 2.0 * r0 / np.asarray(sizes, dtype=float)
    data = {
        "r0": ("population", r0, attrs("Hz", "mean firing rate")),
        "r0_se": ("population", rates["r0_se"].values,
                  attrs("Hz", f"standard error of r0 ({n_blocks} time blocks)")),
        "r0_se_shot": ("population", rates["r0_se_shot"].values,
                       attrs("Hz", "standard error of r0 for independent Poisson neurons")),
        "cv": ("population", cv, attrs("1", "mean ISI coefficient of variation")),
        "cv_se": ("population", cv_se, attrs("1", "standard error of cv (across neurons)")),
        "cv_fraction": ("population", cv_fraction,
                        attrs("1", "fraction of neurons with >= 3 spikes (with a CV)")),
        "psd": (("population", "spectrum_freq"), psd,
                attrs("Hz", "power spectrum of the population rate (one-sided, Hz^2/Hz)")),
        "psd_se": (("population", "spectrum_freq"), psd / np.sqrt(max(n_avg, 1)),
                   attrs("Hz", f"standard error of psd ({n_avg} Welch segments)")),
        "psd_poisson": ("population", poisson,
                        attrs("Hz", "spectrum of independent Poisson neurons, 2 r0 / N")),
        "synchrony": ("population", sync, attrs("1", f"variance of the population rate in "
                                                     f"{bin_width * 1e3:g} ms bins over its "
                                                     "Poisson level")),
        "synchrony_se": ("population", sync_se,
                         attrs("1", f"standard error of synchrony ({n_blocks} time blocks)")),
        "n_spikes": ("population", rates["n_spikes"].values,
                     attrs("1", "spikes in the analysis window")),
    }
    coords = {
        "population": ("population", list(POPULATIONS), attrs("1", "population")),
        "spectrum_freq": ("spectrum_freq", freq, attrs("Hz", "frequency of the spectrum")),
        "n_neurons": ("population", np.asarray(sizes), attrs("1", "neurons")),
    }
    if spec["mod_freqs"]:
        data.update(_modulation(t, neuron, population, spec, t_start, t_stop, n_blocks))
        coords["freq"] = ("freq", np.asarray(spec["mod_freqs"], dtype=float),
                          attrs("Hz", "modulation frequency of the external rate"))
    return xr.Dataset(data, coords=coords)
