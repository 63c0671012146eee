"""Broadband (Welch) transfer functions of sampled responses and of spike trains."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy import signal

from neurorect._schema import attrs
from neurorect.errors import ModelError
from neurorect.fourier.phase import wrap_phase
from neurorect.fourier.sampling import GRID_TOL, as_series
from neurorect.fourier.spikes import spike_conditions

__all__ = ["transfer_function", "spike_transfer_function"]


def _effective_segments(window: np.ndarray, n_samples: int, noverlap: int) -> tuple[int, float]:
    """Number of Welch segments and the equivalent number of independent ones.

    For ``K`` segments of window ``w`` shifted by ``S = nperseg - noverlap`` samples (Welch
    1967; Percival & Walden 1993, eq. 292b), assuming a locally white spectrum::

        1 / K_eff = (1 / K) [1 + 2 sum_{m=1}^{K-1} (1 - m / K) rho(m)^2],
        rho(m) = sum_n w_n w_{n+mS} / sum_n w_n^2.

    For a Hann window with 50 % overlap ``rho(1) = 1/6`` and ``K_eff ~ 0.95 K``.
    """
    nperseg = window.size
    step = nperseg - noverlap
    k = (n_samples - noverlap) // step
    energy = np.sum(window**2)
    total = 1.0
    for m in range(1, k):
        if m * step >= nperseg:
            break
        rho = np.sum(window[m * step:] * window[:nperseg - m * step]) / energy
        total += 2.0 * (1.0 - m / k) * rho**2
    return int(k), k / total


def _default_nperseg(n: int) -> int:
    """Largest power of two <= n / 8 (about 15 half-overlapping segments), at least 16."""
    return int(min(n, max(16, 2 ** int(np.floor(np.log2(max(n / 8, 1)))))))


def _units_ratio(num: str, den: str) -> str:
    if den in ("", "1"):
        return num
    return f"{num}/({den})" if "/" in den or "*" in den else f"{num}/{den}"


def transfer_function(stimulus: xr.DataArray | ArrayLike, response: xr.DataArray | ArrayLike, *,
                      dt: float | None = None, nperseg: int | None = None,
                      noverlap: int | None = None, window: str | tuple = "hann",
                      detrend: str | bool = "mean", average_over: Sequence[Hashable] = (),
                      dim: Hashable = "time") -> xr.Dataset:
    """Broadband estimate of the frequency response ``H(f) = S_sr / S_ss`` (Welch).

    One noise-driven run gives a whole Bode curve: the cross-spectral density ``S_sr`` of
    stimulus and response and the stimulus power ``S_ss`` are estimated with Welch's method
    (:func:`scipy.signal.csd` / :func:`scipy.signal.welch`, same window and segments). scipy
    computes ``S_sr ~ conj(S) R``, so for ``r(t) = s(t - d)`` ``H = exp(-i 2 pi f d)``: a lag
    gives a negative phase, the sine convention of :func:`harmonics` (``sin(2 pi f t)`` in,
    ``|H| sin(2 pi f t + arg H)`` out). Noise in the response does not bias ``H`` (noise in the
    stimulus would). Coherence ``gamma^2 = |S_sr|^2 / (S_ss S_rr)``.

    Standard errors (Bendat & Piersol, *Random Data*, 4th ed., table 9.6), with ``n_d`` the
    number of independent averages::

        gain_se / gain = sqrt((1 - gamma^2) / (2 n_d gamma^2)),   phase_se = same (rad).

    ``n_d`` is the equivalent number of independent Welch segments ``K_eff`` (overlapping
    segments are correlated: ``K_eff ~ 0.95 K`` for Hann with 50 % overlap, computed from the
    window) times the number of records averaged with ``average_over``. These are
    random errors only, valid for ``n_d`` large (say > 20) and ``gamma^2`` not tiny. Bias
    errors are not included: a system with memory ``tau`` (impulse-response length) biases
    ``H`` by a fraction of order ``tau / (nperseg dt)`` (segment-edge leakage: about
    ``0.3 tau / (nperseg dt)`` for a first-order low-pass), and a response delayed by ``d``
    lowers the coherence by a fraction of order ``d / (nperseg dt)``. Choose segments much
    longer than the system's memory. Averaging over neurons assumes their noise is independent
    given the stimulus (not true in a coupled network, where ``n_d`` is overestimated).

    Parameters
    ----------
    stimulus : xarray.DataArray or array_like
        The input, sampled every ``dt`` along ``dim`` (time on the last axis for numpy).
        Either one series shared by all responses or one per record (dims matched by name).
    response : xarray.DataArray or array_like
        The output, same sampling and length; may have extra dims (e.g. ``neuron``), kept in
        the output unless listed in ``average_over``. numpy leading axes are named as in
        :func:`harmonics`.
    dt : float, optional
        Sampling step in s (inferred from a DataArray's time coordinate if omitted).
    nperseg : int, optional
        Samples per Welch segment; default the largest power of two <= n/8 (frequency
        resolution ``1 / (nperseg dt)``).
    noverlap : int, optional
        Overlap in samples (default ``nperseg // 2``).
    window : str or tuple
        Window passed to :func:`scipy.signal.get_window` (default Hann).
    detrend : str or False
        ``"mean"`` (default): subtract each record's mean over the whole window, then no
        per-segment detrending. Anything else (``"constant"``, ``"linear"``, ``False``) is
        passed to scipy as per-segment detrending; note that removing each segment's mean
        leaks into the lowest bin through the window's main lobe and biases ``H`` there by
        several standard errors, which the whole-record mean does not.
    average_over : sequence of hashable
        Response dims over which the spectra are averaged (neurons, trials) before forming
        ``H`` and ``gamma^2``.
    dim : hashable
        Name of the time dim (default ``"time"``).

    Returns
    -------
    xarray.Dataset
        Over ``freq`` (Hz, ``0 < f <= 1/(2 dt)``) and the remaining response dims: ``gain``
        (``|H|``, response units per stimulus unit), ``phase`` (rad, ``arg H``, negative for a
        lag), ``coherence`` (``gamma^2``, 1), ``gain_se``, ``phase_se``, ``stimulus_psd`` and
        ``response_psd`` (one-sided densities, units^2/Hz). Attrs: ``nperseg``, ``noverlap``,
        ``n_segments``, ``n_segments_effective``, ``n_averaged``, ``dt``.
    """
    both_timed = all(isinstance(x, xr.DataArray) and dim in x.coords
                     for x in (stimulus, response))
    s, step_s = as_series(stimulus, dim=dim, dt=dt, time=None, t0=0.0)
    r, step_r = as_series(response, dim=dim, dt=dt, time=None, t0=0.0)
    if s.sizes[dim] != r.sizes[dim]:
        raise ModelError(f"stimulus and response lengths differ: {s.sizes[dim]} and "
                         f"{r.sizes[dim]} samples")
    if abs(step_s - step_r) > GRID_TOL * step_s:
        raise ModelError(f"stimulus and response steps differ: {step_s:g} and {step_r:g} s")
    if both_timed and abs(float(s[dim][0] - r[dim][0])) > GRID_TOL * step_s:
        raise ModelError(f"stimulus starts at {float(s[dim][0]):g} s but the response at "
                         f"{float(r[dim][0]):g} s")
    n = s.sizes[dim]
    nperseg = _default_nperseg(n) if nperseg is None else int(nperseg)
    noverlap = nperseg // 2 if noverlap is None else int(noverlap)
    if not 0 < nperseg <= n or not 0 <= noverlap < nperseg:
        raise ModelError(f"need 0 < nperseg <= {n} and 0 <= noverlap < nperseg, got "
                         f"nperseg={nperseg}, noverlap={noverlap}")
    missing = [d for d in average_over if d not in r.dims]
    if missing:
        raise ModelError(f"average_over dims {missing} are not response dims {r.dims}")
    s_units = s.attrs.get("units", "1")
    r_units = r.attrs.get("units", "Hz")
    if detrend == "mean":
        s, r, detrend = s - s.mean(dim), r - r.mean(dim), False
    win = signal.get_window(window, nperseg)
    opts = dict(fs=1.0 / step_s, window=win, nperseg=nperseg, noverlap=noverlap,
                detrend=detrend, axis=-1)
    freqs = np.fft.rfftfreq(nperseg, step_s)

    def spectrum(func, *arrays):
        def core(*xs):
            return func(*xs, **opts)[1]
        return xr.apply_ufunc(core, *[a.drop_vars(dim) for a in arrays],
                              input_core_dims=[[dim]] * len(arrays),
                              output_core_dims=[["freq"]], join="outer")

    s_ss = spectrum(signal.welch, s)
    s_rr = spectrum(signal.welch, r)
    s_sr = spectrum(signal.csd, s, r)
    n_avg = 1
    if average_over:
        n_avg = int(np.prod([r.sizes[d] for d in average_over]))
        s_rr, s_sr = s_rr.mean(list(average_over)), s_sr.mean(list(average_over))
        s_ss = s_ss.mean([d for d in average_over if d in s_ss.dims])

    n_seg, k_eff = _effective_segments(win, n, noverlap)
    n_d = k_eff * n_avg
    h = s_sr / s_ss
    with np.errstate(divide="ignore", invalid="ignore"):
        coh = np.abs(s_sr) ** 2 / (s_ss * s_rr)
        rel = np.sqrt((1.0 - coh) / (2.0 * n_d * coh))
    gain = np.abs(h)
    g_units = _units_ratio(r_units, s_units)
    ds = xr.Dataset({
        "gain": gain.assign_attrs(attrs(g_units, "gain |H| of the transfer function")),
        "phase": xr.apply_ufunc(lambda v: wrap_phase(np.angle(v)), h).assign_attrs(
            attrs("rad", "phase arg H relative to the stimulus (negative: lag)")),
        "coherence": coh.clip(0.0, 1.0).assign_attrs(attrs("1", "magnitude-squared coherence")),
        "gain_se": (gain * rel).assign_attrs(attrs(g_units, "standard error of gain")),
        "phase_se": rel.assign_attrs(attrs("rad", "standard error of phase")),
        "stimulus_psd": s_ss.assign_attrs(attrs(f"({s_units})^2/Hz" if s_units != "1"
                                                 else "1/Hz", "stimulus power spectral density")),
        "response_psd": s_rr.assign_attrs(attrs(f"({r_units})^2/Hz",
                                                 "response power spectral density")),
    })
    ds = ds.assign_coords(freq=("freq", freqs, attrs("Hz", "frequency")))
    ds = ds.isel(freq=slice(1, None)).transpose(..., "freq")
    ds.attrs.update(nperseg=nperseg, noverlap=noverlap, n_segments=n_seg,
                    n_segments_effective=float(k_eff), n_averaged=n_avg, dt=step_s,
                    description="Welch estimate H = S_sr / S_ss; errors from coherence "
                                "(Bendat & Piersol) with n_d = n_segments_effective * "
                                "n_averaged")
    return ds


def spike_transfer_function(stimulus: xr.DataArray | ArrayLike, spike_times: ArrayLike,
                            spike_neuron: ArrayLike | None = None, *, dt: float | None = None,
                            t_start: float, n_neurons: int | ArrayLike | None = None,
                            group: ArrayLike | None = None, t0: float = 0.0,
                            nperseg: int | None = None, noverlap: int | None = None,
                            window: str | tuple = "hann", detrend: str | bool = "mean",
                            dim: Hashable = "time") -> xr.Dataset:
    """Broadband transfer function from a stimulus to a population spike train.

    The population spike train is binned on the stimulus grid: stimulus sample ``n`` is taken
    to hold on ``[t0 + n dt, t0 + (n+1) dt)`` (a piecewise-constant drive, as a Brian2
    ``TimedArray`` or the rate engine applies it), and the rate in the same bin is
    ``count / (N dt)`` (Hz per neuron). This is the natural discretisation of a discrete
    stimulus: the stimulus' zero-order hold delays it by half a bin and the bin average
    advances the response by half a bin, so the phase is unbiased and the gain of the
    continuous response is multiplied by about ``sinc^2(f dt) ~ 1 - (pi f dt)^2 / 3`` (plus
    aliasing near the Nyquist frequency). Bins from ``t_start`` on are analysed with
    :func:`transfer_function`.

    Parameters
    ----------
    stimulus : xarray.DataArray or array_like
        Stimulus samples (time on the last axis; one series, or one per condition with a
        ``condition`` dim / leading axis when ``group`` is given). A DataArray's time
        coordinate gives ``t0`` and ``dt``.
    spike_times : array_like
        Spike times in s.
    spike_neuron : array_like of int, optional
        Neuron index of each spike (required with ``group``).
    dt : float, optional
        Stimulus sampling step in s (required for a numpy stimulus).
    t_start : float
        Start of the analysis in s (transient discarded).
    n_neurons : int or array_like of int
        Population size (per condition with ``group``, default there the counts in ``group``).
    group : array_like of int, optional
        Condition index of every neuron; the output then has a ``condition`` dim.
    t0 : float
        Time of the first stimulus sample in s for a numpy stimulus (default 0).
    nperseg, noverlap, window, detrend, dim
        As in :func:`transfer_function`.

    Returns
    -------
    xarray.Dataset
        As :func:`transfer_function`, with the response in Hz (per neuron).
    """
    s, step = as_series(stimulus, dim=dim, dt=dt, time=None, t0=t0)
    if group is not None and s.ndim == 2 and "condition" not in s.dims:
        s = s.rename({s.dims[0]: "condition"})
    t_grid = np.asarray(s[dim].values, dtype=float)
    times, cond, n_cond, n_neur = spike_conditions(spike_times, spike_neuron, group, n_neurons)
    n_t = t_grid.size
    index = np.floor((times - t_grid[0]) / step + GRID_TOL).astype(np.intp)
    keep = (index >= 0) & (index < n_t)
    counts = np.bincount(cond[keep] * n_t + index[keep], minlength=n_cond * n_t)
    rate = counts.reshape(n_cond, n_t) / (n_neur[:, None] * step)
    if group is None:
        rate_da = xr.DataArray(rate[0], dims=[dim], coords={dim: t_grid})
    else:
        rate_da = xr.DataArray(rate, dims=["condition", dim],
                               coords={"condition": np.arange(n_cond), dim: t_grid})
    rate_da.attrs = attrs("Hz", "population firing rate per neuron")
    first = int(np.searchsorted(t_grid, t_start - GRID_TOL * step))
    ds = transfer_function(s.isel({dim: slice(first, None)}),
                           rate_da.isel({dim: slice(first, None)}), nperseg=nperseg,
                           noverlap=noverlap, window=window, detrend=detrend, dim=dim)
    if group is not None:
        ds = ds.assign_coords(condition=("condition", np.arange(n_cond),
                                         attrs("1", "condition index")))
    ds = ds.assign_coords(n_neurons=(("condition",) if group is not None else (),
                                     (n_neur if group is not None else n_neur[0]).astype(int),
                                     attrs("1", "number of neurons")))
    ds.attrs["t_start"] = float(t_grid[first])
    return ds
