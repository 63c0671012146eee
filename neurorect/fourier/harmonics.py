"""Harmonics of sampled traces (rate-model output), exact for band-limited signals."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurorect._arguments import float_array
from neurorect._schema import attrs
from neurorect.errors import ModelError
from neurorect.fourier.phase import TWO_PI, to_amplitude_phase
from neurorect.fourier.sampling import GRID_TOL, as_series

__all__ = ["harmonics"]


def _as_freq(freq, units: xr.DataArray) -> xr.DataArray:
    """Drive frequency (Hz) as a DataArray broadcastable against ``units`` (the non-time part)."""
    if isinstance(freq, xr.DataArray):
        f = freq.astype(float)
    else:
        arr = float_array("freq", freq, allowed="frequencies in Hz")
        if arr.ndim == 0:
            f = xr.DataArray(arr)
        else:
            try:
                arr = np.broadcast_to(arr, units.shape)
            except ValueError:
                raise ModelError(f"freq of shape {arr.shape} does not broadcast against the "
                                 f"non-time dims {dict(units.sizes)}; pass a DataArray") from None
            f = xr.DataArray(arr, dims=units.dims)
    if not np.all(np.isfinite(f.values)) or np.any(f.values <= 0):
        raise ModelError(f"freq must be finite and > 0 Hz, got {f.values!r}")
    return f


def _sample_window(t: np.ndarray, dt: float, f: float, t_start: float,
                   min_periods: int) -> tuple[int, int, int]:
    """First sample, number of samples and number of whole periods of the analysis window."""
    n0 = int(np.searchsorted(t, t_start - GRID_TOL * dt, side="left"))
    available = t.size - n0
    samples_per_period = 1.0 / (f * dt)
    n_periods = int(np.floor(available / samples_per_period + GRID_TOL))
    if n_periods < min_periods:
        raise ModelError(
            f"analysis window too short: {available * dt:g} s of samples from t_start = "
            f"{t_start:g} s holds {available / samples_per_period:.3g} periods of "
            f"{1.0 / f:g} s (f = {f:g} Hz), fewer than min_periods = {min_periods}")
    n_samples = min(int(round(n_periods * samples_per_period)), available)
    return n0, n_samples, n_periods


def _project_samples(values: np.ndarray, t: np.ndarray, f: float,
                     n_harmonics: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and complex coefficients ``z_k`` of rows of ``values`` sampled at times ``t``.

    Rectangle rule: ``r0 = mean(r)``, ``z_k = (2/N) sum_n r_n [sin + i cos](2 pi k f t_n)``.
    """
    k = np.arange(1, n_harmonics + 1)
    cycles = np.outer(t, k * f)
    cycles -= np.floor(cycles)  # keep the argument small: exact phase for long runs
    theta = TWO_PI * cycles
    basis = np.concatenate([np.sin(theta), np.cos(theta)], axis=1)  # (N, 2K), real
    proj = values @ basis * (2.0 / t.size)
    z = proj[:, :n_harmonics] + 1j * proj[:, n_harmonics:]
    return values.mean(axis=-1), z


def harmonics(rate: xr.DataArray | xr.Dataset | ArrayLike, *, freq: float | ArrayLike,
              dt: float | None = None, time: ArrayLike | None = None, t0: float = 0.0,
              t_start: float | None = None, n_harmonics: int = 3, min_periods: int = 3,
              dim: Hashable = "time") -> xr.Dataset:
    """Mean and harmonics of sampled traces over whole periods of the drive.

    The samples with ``t >= t_start`` are trimmed to the largest whole number ``M`` of drive
    periods and projected on ``sin`` and ``cos`` of ``2 pi k f t`` at the sample times
    (absolute time, so phases are relative to the drive ``sin(2 pi f t)``).

    Accuracy: the rectangle rule over ``N`` samples is exact (to round-off) for a signal with
    no harmonic at or above the Nyquist frequency ``1 / (2 dt)`` whenever the ``N`` samples
    span exactly ``M`` periods, i.e. whenever ``period / dt`` is an integer (more generally,
    whenever ``M period / dt`` is). Otherwise ``N = round(M period / dt)`` and the window
    misses or exceeds whole periods by at most ``dt / 2``, giving an error of order
    ``dt / (M period)`` times the signal's harmonic content; the window actually used is
    reported in the ``window_start``, ``window_stop`` and ``n_periods`` coordinates. A signal
    that is not band-limited (e.g. a rectified sinusoid) is aliased: harmonic ``j`` leaks into
    ``k`` when ``j = k (mod P)`` or ``j = -k (mod P)``, with ``P`` samples per period.

    Parameters
    ----------
    rate : xarray.DataArray, xarray.Dataset or array_like
        The traces (Hz, or any unit: it is carried to the output). A DataArray must have the
        ``dim`` dimension; its coordinate gives the sample times (s), otherwise pass ``dt``.
        A Dataset is analysed through its ``rate`` variable. A numpy array has time on its last
        axis, sampled every ``dt`` seconds from ``t0`` (or at ``time``); its other axes are
        named ``neuron`` (one axis) or ``dim_0, dim_1, ...``. Non-time dims are kept.
    freq : float or array_like or xarray.DataArray
        Drive frequency in Hz. An array broadcasts against the non-time dims (numpy rules for
        a numpy array, by name for a DataArray, which may also add dims, e.g. to analyse one
        trace at several frequencies); every unit is analysed over whole periods of its own
        frequency.
    dt : float, optional
        Sampling step in s (required for a numpy ``rate`` unless ``time`` is given; checked
        against the coordinate otherwise).
    time : array_like, optional
        Sample times in s for a numpy ``rate`` (uniform).
    t0 : float
        Time of the first sample in s when the times come from ``dt`` (default 0).
    t_start : float, optional
        Start of the analysis in s: earlier samples are discarded as transient (default: the
        first sample).
    n_harmonics : int
        Number ``K`` of harmonics (``k = 1..K``). ``K f`` must stay below the Nyquist
        frequency ``1 / (2 dt)``.
    min_periods : int
        Refuse (``ValueError``) windows holding fewer whole periods than this.
    dim : hashable
        Name of the time dimension (default ``"time"``).

    Returns
    -------
    xarray.Dataset
        ``r0`` (mean, units of ``rate``), ``amplitude`` (``A_k >= 0``, dim ``harmonic`` =
        1..K, units of ``rate``) and ``phase`` (rad, in ``(-pi, pi]``) over the non-time dims;
        coordinates ``freq`` (Hz), ``window_start`` and ``window_stop`` (s; the window is
        ``[window_start, window_stop)`` with one sample per ``dt``), ``n_periods``. When these
        are the same for every unit they are repeated as Dataset attrs.

    Raises
    ------
    ValueError
        If the window is shorter than ``min_periods`` periods, the sampling is not uniform,
        ``n_harmonics * freq`` reaches the Nyquist frequency, or the inputs are inconsistent.
    """
    if n_harmonics < 1 or min_periods < 1:
        raise ModelError(f"n_harmonics and min_periods must be >= 1, got {n_harmonics}, "
                         f"{min_periods}")
    series, step = as_series(rate, dim=dim, dt=dt, time=time, t0=t0)
    t = np.asarray(series[dim].values, dtype=float)
    start = float(t[0]) if t_start is None else float(t_start)
    units_da = series.isel({dim: 0}, drop=True)
    freq_da = _as_freq(freq, units_da)
    if dim in freq_da.dims:
        raise ModelError(f"freq must not have the time dim {dim!r}")
    nyquist = 0.5 / step
    if n_harmonics * float(freq_da.max()) >= nyquist:
        raise ModelError(f"harmonic {n_harmonics} of {float(freq_da.max()):g} Hz is at or above "
                         f"the Nyquist frequency {nyquist:g} Hz (dt = {step:g} s)")

    try:
        units_da, freq_da = xr.align(units_da, freq_da, join="exact")
    except ValueError as err:
        raise ModelError(f"freq's coordinates do not match the rate's: {err}") from None
    units_b, freq_b = xr.broadcast(units_da, freq_da)
    out_dims = units_b.dims
    values = series.broadcast_like(units_b).transpose(*out_dims, dim).values
    values = values.reshape(-1, t.size)
    freq_flat = freq_b.transpose(*out_dims).values.ravel()

    unique_f, inverse = np.unique(freq_flat, return_inverse=True)
    r0 = np.empty(freq_flat.size)
    z = np.empty((freq_flat.size, n_harmonics), dtype=complex)
    stop_of_f = np.empty(unique_f.size)
    periods_of_f = np.empty(unique_f.size, dtype=int)
    n0 = 0
    for j, f in enumerate(unique_f):
        n0, n, periods_of_f[j] = _sample_window(t, step, f, start, min_periods)
        stop_of_f[j] = t[n0] + n * step
        rows = slice(None) if unique_f.size == 1 else np.flatnonzero(inverse == j)
        r0[rows], z[rows] = _project_samples(values[rows, n0:n0 + n], t[n0:n0 + n], f,
                                             n_harmonics)

    amplitude, phase = to_amplitude_phase(z)
    shape = tuple(units_b.shape)
    unit_name = series.attrs.get("units", "Hz")
    what = series.attrs.get("long_name", "rate")
    ds = xr.Dataset(
        {
            "r0": (out_dims, r0.reshape(shape), attrs(unit_name, f"mean {what}")),
            "amplitude": ((*out_dims, "harmonic"), amplitude.reshape(*shape, n_harmonics),
                          attrs(unit_name, f"harmonic amplitude of {what}")),
            "phase": ((*out_dims, "harmonic"), phase.reshape(*shape, n_harmonics),
                      attrs("rad", "harmonic phase relative to the drive's sine")),
        },
        coords=units_b.coords,
    )
    where = np.searchsorted(unique_f, freq_da.values)
    ds = ds.assign_coords(
        harmonic=("harmonic", np.arange(1, n_harmonics + 1), attrs("1", "harmonic number")),
        freq=(freq_da.dims, freq_da.values, attrs("Hz", "drive frequency")),
        window_start=((), float(t[n0]), attrs("s", "start of the analysis window")),
        window_stop=(freq_da.dims, stop_of_f[where],
                     attrs("s", "end of the analysis window (exclusive)")),
        n_periods=(freq_da.dims, periods_of_f[where],
                   attrs("1", "whole drive periods in the analysis window")),
    )
    ds.attrs["description"] = ("harmonics r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k) by "
                               "projection on the sample times over whole periods")
    if unique_f.size == 1:
        ds.attrs.update(freq=float(unique_f[0]), window_start=float(t[n0]),
                        window_stop=float(stop_of_f[0]), n_periods=int(periods_of_f[0]))
    return ds

