"""Simulator-agnostic harmonic analysis of rate traces and spike trains.

Everything here works on plain arrays or on the xarray result schema, so a rate trace from
:func:`neurorect.simulate` and a spike train from the Brian2 bridge go through the same code.
This module never imports Numba or Brian2.

Convention (the project's Fourier contract)
-------------------------------------------
Over whole periods of the drive frequency ``f`` after a discarded transient::

    r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)

``r0`` is the mean rate (Hz), ``A_k >= 0`` the amplitude of harmonic ``k`` (Hz) and ``phase_k``
the phase in radians relative to the drive's sine ``I1 sin(2 pi f t)`` (phase 0 at ``t = 0``,
absolute time), negative for a lag, wrapped to ``(-pi, pi]``. A pure ``A sin(2 pi f t + p)``
gives ``A_1 = A``, ``phase_1 = p``.

The *complex coefficient* of harmonic ``k`` is ``z_k = A_k exp(i phase_k)``. It is related to
the usual complex Fourier projection over a window of whole periods ``T``::

    c_k = (2 / T) integral r(t) exp(-i 2 pi k f t) dt,        z_k = i c_k,

so ``Re z_k = (2/T) integral r sin(2 pi k f t) dt`` and ``Im z_k = (2/T) integral r cos(...)``.
For a linear filter with frequency response ``H(f)`` (forward transform ``exp(-i 2 pi f t)``,
as in numpy and scipy) the drive ``sin(2 pi f t)`` gives ``|H| sin(2 pi f t + arg H)``, so the
phases returned by :func:`transfer_function` (``arg H``) and by :func:`harmonics` are the same
quantity. Complex numbers are never stored in a Dataset: they travel as ``amplitude`` +
``phase``; use :func:`complex_coefficient` to get ``z_k`` back.

Public functions
----------------
harmonics
    Harmonics of sampled traces (rate model output), exact for band-limited signals.
spike_harmonics
    Harmonics of spike trains from the spike times themselves (no binning), with standard
    errors from a block (batch-means) estimate and from the Poisson shot-noise formula.
transfer_function
    Broadband (Welch) estimate of gain, phase and coherence from one noise-driven run.
spike_transfer_function
    The same for a spike train, binned at the stimulus sampling step.
complex_coefficient, to_amplitude_phase, from_amplitude_phase, wrap_phase
    Helpers for the sine-phase convention.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy import signal

__all__ = [
    "harmonics", "spike_harmonics", "transfer_function", "spike_transfer_function",
    "complex_coefficient", "to_amplitude_phase", "from_amplitude_phase", "wrap_phase",
    "harmonics_from_sums", "amplitude_phase_se",
]

_TWO_PI = 2.0 * np.pi
#: Relative tolerance (in samples or periods) used when comparing times on a grid, so that
#: round-off in ``n * dt`` never moves a sample or a period boundary.
_GRID_TOL = 1e-6


# --------------------------------------------------------------------------------------------
# Convention helpers
# --------------------------------------------------------------------------------------------

def wrap_phase(phase: ArrayLike) -> np.ndarray:
    """Wrap phases (rad) to the interval ``(-pi, pi]``."""
    phase = np.asarray(phase, dtype=float)
    return np.pi - np.mod(np.pi - phase, _TWO_PI)


def to_amplitude_phase(z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Split complex coefficients ``z = A exp(i phase)`` into ``(A, phase)``.

    Parameters
    ----------
    z : array_like of complex
        Complex coefficients in the sine convention (``A_k exp(i phase_k)``, in the units of
        the signal, e.g. Hz).

    Returns
    -------
    amplitude : ndarray
        ``|z|``, same units as ``z``.
    phase : ndarray
        ``arg z`` in rad, wrapped to ``(-pi, pi]`` (0 where ``z == 0``).
    """
    z = np.asarray(z, dtype=complex)
    return np.abs(z), wrap_phase(np.angle(z))


def from_amplitude_phase(amplitude: ArrayLike, phase: ArrayLike) -> np.ndarray:
    """Complex coefficient ``amplitude * exp(i phase)`` (phase in rad, sine convention)."""
    return np.asarray(amplitude, dtype=float) * np.exp(1j * np.asarray(phase, dtype=float))


def complex_coefficient(result: xr.Dataset) -> xr.DataArray:
    """The complex coefficients ``z_k = A_k exp(i phase_k)`` of a harmonics result.

    Parameters
    ----------
    result : xarray.Dataset
        Any Dataset with ``amplitude`` and ``phase`` (rad) variables, e.g. the output of
        :func:`harmonics`, :func:`spike_harmonics` or ``theory.sinusoid_response``.

    Returns
    -------
    xarray.DataArray
        Complex, in the units of ``amplitude``. ``z_k = i c_k`` where ``c_k`` is the projection
        ``(2/T) integral r(t) exp(-i 2 pi k f t) dt`` (see the module docstring).
    """
    z = result["amplitude"] * np.exp(1j * result["phase"])
    z.attrs = {"units": result["amplitude"].attrs.get("units", ""),
               "long_name": "complex coefficient A exp(i phase) (sine convention)"}
    return z.rename("complex_coefficient")


def _attrs(units: str, long_name: str, **extra) -> dict:
    return {"units": units, "long_name": long_name, **extra}


def harmonics_from_sums(acc: np.ndarray, counts: np.ndarray):
    """Mean, amplitudes and phases from streaming sums (the rate engine's statistics).

    Parameters
    ----------
    acc : ndarray of complex, shape (..., K + 1)
        ``acc[..., 0] = sum_n r_n`` and ``acc[..., k] = sum_n r_n exp(-i 2 pi k f t_n)`` over
        ``counts`` samples of a window of whole periods.
    counts : ndarray, shape (...)
        Number of samples in each window.

    Returns
    -------
    r0, amplitude, phase : ndarray
        ``r0`` (units of r), ``A_k`` (units of r) and ``phase_k`` (rad, wrapped to
        ``(-pi, pi]``), shapes (...) and (..., K), in the sine convention:
        ``A_k exp(i phase_k) = i 2 acc[..., k] / counts``.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        r0 = acc[..., 0].real / counts
        coefficient = 1j * 2.0 * acc[..., 1:] / counts[..., None]  # A exp(i phase)
    return r0, np.abs(coefficient), wrap_phase(np.angle(coefficient))


# --------------------------------------------------------------------------------------------
# Sampled traces
# --------------------------------------------------------------------------------------------

def _leading_dims(ndim: int) -> list[str]:
    """Names for the non-time axes of a numpy input: ``neuron`` for one, ``dim_i`` otherwise."""
    if ndim == 1:
        return ["neuron"]
    return [f"dim_{i}" for i in range(ndim)]


def _uniform_step(t: np.ndarray, dim: Hashable) -> float:
    """The sampling step of a uniform time grid (s); raise if the grid is not uniform."""
    if t.size < 2:
        raise ValueError(f"need at least 2 samples along {dim!r}, got {t.size}")
    dt = (t[-1] - t[0]) / (t.size - 1)
    if not dt > 0 or np.max(np.abs(np.diff(t) - dt)) > _GRID_TOL * dt:
        raise ValueError(f"the {dim!r} coordinate must be increasing and uniformly sampled")
    return float(dt)


def _as_series(x, *, dim: Hashable, dt: float | None, time: ArrayLike | None,
               t0: float) -> tuple[xr.DataArray, float]:
    """Return ``(DataArray with dim last and a float time coordinate in s, dt in s)``."""
    if isinstance(x, xr.Dataset):
        if "rate" not in x:
            raise ValueError("a Dataset input must hold a 'rate' variable; pass the DataArray")
        x = x["rate"]
    if isinstance(x, xr.DataArray):
        if dim not in x.dims:
            raise ValueError(f"the DataArray has no {dim!r} dim (dims: {x.dims}); pass dim=")
        x = x.transpose(..., dim)
        if dim in x.coords:
            t = np.asarray(x[dim].values, dtype=float)
        elif time is not None or dt is not None:
            t = _time_grid(x.sizes[dim], dt=dt, time=time, t0=t0)
            x = x.assign_coords({dim: t})
        else:
            raise ValueError(f"the DataArray has no {dim!r} coordinate: pass dt= (and t0=)")
    else:
        arr = np.asarray(x, dtype=float)
        if arr.ndim == 0:
            raise ValueError("the signal must have a time axis (its last axis)")
        t = _time_grid(arr.shape[-1], dt=dt, time=time, t0=t0)
        x = xr.DataArray(arr, dims=[*_leading_dims(arr.ndim - 1)[: arr.ndim - 1], dim],
                         coords={dim: t})
    step = _uniform_step(t, dim)
    if dt is not None and abs(step - dt) > _GRID_TOL * dt:
        raise ValueError(f"dt = {dt:g} s disagrees with the {dim!r} coordinate's step "
                         f"{step:g} s")
    return x, step


def _time_grid(n: int, *, dt: float | None, time: ArrayLike | None, t0: float) -> np.ndarray:
    if time is not None:
        t = np.asarray(time, dtype=float).ravel()
        if t.size != n:
            raise ValueError(f"time has {t.size} entries but the signal has {n} samples")
        return t
    if dt is None:
        raise ValueError("a numpy signal needs dt= (s) or time= (the sample times, s)")
    if not dt > 0:
        raise ValueError(f"dt must be > 0 s, got {dt!r}")
    return t0 + dt * np.arange(n)


def _as_freq(freq, units: xr.DataArray) -> xr.DataArray:
    """Drive frequency (Hz) as a DataArray broadcastable against ``units`` (the non-time part)."""
    if isinstance(freq, xr.DataArray):
        f = freq.astype(float)
    else:
        arr = np.asarray(freq, dtype=float)
        if arr.ndim == 0:
            f = xr.DataArray(arr)
        else:
            try:
                arr = np.broadcast_to(arr, units.shape)
            except ValueError:
                raise ValueError(f"freq of shape {arr.shape} does not broadcast against the "
                                 f"non-time dims {dict(units.sizes)}; pass a DataArray") from None
            f = xr.DataArray(arr, dims=units.dims)
    if not np.all(np.isfinite(f.values)) or np.any(f.values <= 0):
        raise ValueError(f"freq must be finite and > 0 Hz, got {f.values!r}")
    return f


def _sample_window(t: np.ndarray, dt: float, f: float, t_start: float,
                   min_periods: int) -> tuple[int, int, int]:
    """First sample, number of samples and number of whole periods of the analysis window."""
    n0 = int(np.searchsorted(t, t_start - _GRID_TOL * dt, side="left"))
    available = t.size - n0
    samples_per_period = 1.0 / (f * dt)
    n_periods = int(np.floor(available / samples_per_period + _GRID_TOL))
    if n_periods < min_periods:
        raise ValueError(
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
    theta = _TWO_PI * cycles
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
        raise ValueError(f"n_harmonics and min_periods must be >= 1, got {n_harmonics}, "
                         f"{min_periods}")
    series, step = _as_series(rate, dim=dim, dt=dt, time=time, t0=t0)
    t = np.asarray(series[dim].values, dtype=float)
    start = float(t[0]) if t_start is None else float(t_start)
    units_da = series.isel({dim: 0}, drop=True)
    freq_da = _as_freq(freq, units_da)
    if dim in freq_da.dims:
        raise ValueError(f"freq must not have the time dim {dim!r}")
    nyquist = 0.5 / step
    if n_harmonics * float(freq_da.max()) >= nyquist:
        raise ValueError(f"harmonic {n_harmonics} of {float(freq_da.max()):g} Hz is at or above "
                         f"the Nyquist frequency {nyquist:g} Hz (dt = {step:g} s)")

    try:
        units_da, freq_da = xr.align(units_da, freq_da, join="exact")
    except ValueError as err:
        raise ValueError(f"freq's coordinates do not match the rate's: {err}") from None
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
            "r0": (out_dims, r0.reshape(shape), _attrs(unit_name, f"mean {what}")),
            "amplitude": ((*out_dims, "harmonic"), amplitude.reshape(*shape, n_harmonics),
                          _attrs(unit_name, f"harmonic amplitude of {what}")),
            "phase": ((*out_dims, "harmonic"), phase.reshape(*shape, n_harmonics),
                      _attrs("rad", "harmonic phase relative to the drive's sine")),
        },
        coords=units_b.coords,
    )
    where = np.searchsorted(unique_f, freq_da.values)
    ds = ds.assign_coords(
        harmonic=("harmonic", np.arange(1, n_harmonics + 1), _attrs("1", "harmonic number")),
        freq=(freq_da.dims, freq_da.values, _attrs("Hz", "drive frequency")),
        window_start=((), float(t[n0]), _attrs("s", "start of the analysis window")),
        window_stop=(freq_da.dims, stop_of_f[where],
                     _attrs("s", "end of the analysis window (exclusive)")),
        n_periods=(freq_da.dims, periods_of_f[where],
                   _attrs("1", "whole drive periods in the analysis window")),
    )
    ds.attrs["description"] = ("harmonics r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k) by "
                               "projection on the sample times over whole periods")
    if unique_f.size == 1:
        ds.attrs.update(freq=float(unique_f[0]), window_start=float(t[n0]),
                        window_stop=float(stop_of_f[0]), n_periods=int(periods_of_f[0]))
    return ds


# --------------------------------------------------------------------------------------------
# Spike trains
# --------------------------------------------------------------------------------------------

def _per_condition(name: str, value, n_cond: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    try:
        return np.broadcast_to(arr, (n_cond,)).astype(float)
    except ValueError:
        raise ValueError(f"{name} must be a scalar or have one entry per condition "
                         f"({n_cond}), got shape {arr.shape}") from None


def _spike_conditions(spike_times, spike_neuron, group, n_neurons):
    """Flattened spike times (s), condition of each spike, number of conditions, N per cond."""
    t = np.asarray(spike_times, dtype=float).ravel()
    neuron = None
    if spike_neuron is not None:
        neuron = np.asarray(spike_neuron).ravel()
        if neuron.shape != t.shape:
            raise ValueError(f"spike_neuron has {neuron.size} entries, spike_times {t.size}")
        if not np.issubdtype(neuron.dtype, np.integer):
            raise ValueError("spike_neuron must hold integer neuron indices")
    if group is None:
        if n_neurons is None:
            raise ValueError("n_neurons (the population size) is required")
        n_cond = 1
        cond = np.zeros(t.size, dtype=np.intp)
        if neuron is not None and neuron.size and (neuron.min() < 0
                                                   or neuron.max() >= np.max(n_neurons)):
            raise ValueError(f"spike_neuron must lie in [0, {n_neurons}), got "
                             f"[{neuron.min()}, {neuron.max()}]")
    else:
        group = np.asarray(group).ravel()
        if not np.issubdtype(group.dtype, np.integer) or group.size == 0 or group.min() < 0:
            raise ValueError("group must be a non-empty array of integer condition indices >= 0")
        if neuron is None:
            raise ValueError("group needs spike_neuron (the neuron index of each spike)")
        if neuron.size and (neuron.min() < 0 or neuron.max() >= group.size):
            raise ValueError(f"spike_neuron must index group (length {group.size}), got "
                             f"[{neuron.min()}, {neuron.max()}]")
        n_cond = int(group.max()) + 1
        cond = group[neuron].astype(np.intp)
        counts = np.bincount(group, minlength=n_cond)
        if n_neurons is None:
            n_neurons = counts
        elif not np.array_equal(np.broadcast_to(n_neurons, (n_cond,)), counts):
            raise ValueError(f"n_neurons {n_neurons!r} disagrees with the neurons per condition "
                             f"in group {counts!r}")
    n = _per_condition("n_neurons", n_neurons, n_cond)
    if np.any(n <= 0):
        raise ValueError(f"every condition needs n_neurons > 0, got {n!r}")
    return t, cond, n_cond, n


def amplitude_phase_se(amplitude, phase, vxx, vyy, vxy):
    """Standard errors of ``|z|`` and ``arg z`` from the covariance of ``(Re z, Im z)``.

    First-order (delta method): with ``z = x + i y = A exp(i phi)``::

        var A   = cos^2 phi Vxx + 2 sin phi cos phi Vxy + sin^2 phi Vyy
        var phi = (sin^2 phi Vxx - 2 sin phi cos phi Vxy + cos^2 phi Vyy) / A^2

    Valid for ``A >> se``; near ``A = 0`` the amplitude is Rice-distributed (biased upwards
    by about ``se^2 / (2 A)``) and the phase nearly uniform.
    """
    c, s = np.cos(phase), np.sin(phase)
    var_a = c * c * vxx + 2 * s * c * vxy + s * s * vyy
    with np.errstate(divide="ignore", invalid="ignore"):
        var_p = (s * s * vxx - 2 * s * c * vxy + c * c * vyy) / amplitude**2
    return np.sqrt(np.maximum(var_a, 0.0)), np.sqrt(np.maximum(var_p, 0.0))


def _block_covariance(x_b, y_b, x, y, weight, n_blocks):
    """Covariance of the full-window estimates ``(x, y)`` from block estimates.

    Blocks ``b`` of duration ``T_b`` give estimates ``x_b``; the full estimate is
    ``x = sum_b w_b x_b`` with ``w_b = T_b / T``. If ``var x_b = s^2 / T_b`` (variance
    inversely proportional to duration, blocks independent), then
    ``E[sum_b w_b (x_b - x)^2] = (B - 1) s^2 / T = (B - 1) var x``: the estimate below is
    unbiased, and for equal blocks it is the usual batch-means ``sum (x_b - x)^2 / (B (B-1))``.
    """
    dx, dy = x_b - x[:, None], y_b - y[:, None]
    norm = n_blocks - 1
    return ((weight * dx * dx).sum(1) / norm, (weight * dy * dy).sum(1) / norm,
            (weight * dx * dy).sum(1) / norm)


def spike_harmonics(spike_times: ArrayLike, spike_neuron: ArrayLike | None = None, *,
                    freq: float | ArrayLike, t_start: float | ArrayLike,
                    t_stop: float | ArrayLike, n_neurons: int | ArrayLike | None = None,
                    group: ArrayLike | None = None, n_harmonics: int = 3,
                    n_blocks: int | None = 10) -> xr.Dataset:
    """Mean rate and harmonics of a population spike train, from the spike times directly.

    The window ``[t_start, t_stop)`` is trimmed to ``M`` whole periods of ``freq`` counted
    from ``t_start``: ``[t_start, t_start + M / freq)``, duration ``T``. For a population of
    ``N`` neurons with ``n`` spikes at times ``t_s`` in the window (no binning)::

        r0  = n / (N T)                                             (Hz per neuron)
        z_k = (2 / (N T)) sum_s [sin(theta_s) + i cos(theta_s)],    theta_s = 2 pi k f t_s

    i.e. ``z_k = i c_k`` with ``c_k = (2/(N T)) sum_s exp(-i theta_s)``, and ``amplitude`` =
    ``|z_k|``, ``phase`` = ``arg z_k`` in the sine convention of the module docstring.

    Standard errors are reported two ways:

    * ``*_se`` -- block (batch-means) estimate: the window is split into ``n_blocks`` blocks
      of whole periods (``M // B`` or ``M // B + 1`` each), each block gives its own ``r0``
      and ``z_k``, and their duration-weighted spread gives the covariance of the full-window
      ``(Re z_k, Im z_k)`` (see below). Model-free: valid for non-Poisson (regular or bursty,
      refractory, LIF) and for coupled neurons, as long as correlations decay within a block.
      With ``B`` blocks the SE itself has ``B - 1`` degrees of freedom (relative scatter about
      ``1 / sqrt(2 (B - 1))``, 24 % for ``B = 10``), so z-scores follow Student's t.
    * ``*_se_shot`` -- shot-noise formula, exact if the pooled spike train is an
      inhomogeneous Poisson process (intensity ``N lambda(t)``). By Campbell's theorem a sum
      ``X = sum_s g(t_s)`` has ``var X = integral g^2 N lambda dt``, estimated without bias by
      ``sum_s g(t_s)^2``. With ``a = 2 / (N T)``::

          var r0      = n / (N T)^2
          var Re z_k  = a^2 sum_s sin^2 theta_s,    var Im z_k = a^2 sum_s cos^2 theta_s
          cov         = a^2 sum_s sin theta_s cos theta_s

      and through the delta method this collapses to
      ``var A_k = a^2 sum_s sin^2(theta_s + phase_k)`` (the in-phase part) and
      ``var phase_k = a^2 sum_s cos^2(theta_s + phase_k) / A_k^2`` (the quadrature part);
      for a weak modulation ``se_A ~ sqrt(2 r0 / (N T))`` and ``se_phase ~ se_A / A``.
      Regular (refractory) trains have a smaller variance than this and bursty ones a larger.

    Amplitude and phase standard errors use the delta method (first order in ``se / A``), so
    they are meaningful for ``A >> se``; for ``A`` within a few ``se`` of zero the amplitude is
    biased upwards (Rice) and the phase is nearly uniform.

    Parameters
    ----------
    spike_times : array_like
        Spike times in s (any order; Brian2 quantities are accepted and read in s).
    spike_neuron : array_like of int, optional
        Neuron index of each spike; required with ``group``, otherwise only range-checked.
    freq : float or array_like
        Drive frequency in Hz (one per condition with ``group``).
    t_start, t_stop : float or array_like
        Analysis window in s (scalar, or one per condition).
    n_neurons : int or array_like of int
        Number of neurons ``N`` in the population (per condition with ``group``; defaults
        then to the counts in ``group``, and must agree with them).
    group : array_like of int, optional
        Condition index of every neuron (length = total number of neurons), e.g. for a Brian2
        NeuronGroup holding many conditions as blocks of neurons. The output then has a
        leading ``condition`` dim (0..C-1; rename it as you like).
    n_harmonics : int
        Number of harmonics ``K``.
    n_blocks : int or None
        Number of blocks ``B >= 2`` for the block standard errors (needs ``M >= B``). ``None``
        skips them (the block ``*_se`` variables are then NaN).

    Returns
    -------
    xarray.Dataset
        Variables ``r0`` (Hz), ``amplitude`` (Hz, dim ``harmonic``), ``phase`` (rad),
        ``r0_se``, ``amplitude_se``, ``phase_se`` (block estimate), ``r0_se_shot``,
        ``amplitude_se_shot``, ``phase_se_shot`` (Poisson formula) and ``n_spikes`` (in the
        window); coordinates ``harmonic``, ``freq`` (Hz), ``n_neurons``, ``window_start``,
        ``window_stop`` (s), ``n_periods`` (and ``condition`` with ``group``).

    Raises
    ------
    ValueError
        If a window holds no whole period (or fewer than ``n_blocks``), or inputs disagree.
    """
    if n_harmonics < 1:
        raise ValueError(f"n_harmonics must be >= 1, got {n_harmonics}")
    if n_blocks is not None and n_blocks < 2:
        raise ValueError(f"n_blocks must be >= 2 (or None), got {n_blocks}")
    t, cond, n_cond, n_neur = _spike_conditions(spike_times, spike_neuron, group, n_neurons)
    f = _per_condition("freq", freq, n_cond)
    start = _per_condition("t_start", t_start, n_cond)
    stop_req = _per_condition("t_stop", t_stop, n_cond)
    if not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ValueError(f"freq must be finite and > 0 Hz, got {freq!r}")
    n_periods = np.floor((stop_req - start) * f + _GRID_TOL).astype(int)
    need = 1 if n_blocks is None else n_blocks
    short = np.flatnonzero(n_periods < need)
    if short.size:
        c = short[0]
        raise ValueError(
            f"window [{start[c]:g}, {stop_req[c]:g}) s holds {n_periods[c]} whole periods of "
            f"{1 / f[c]:g} s (f = {f[c]:g} Hz); need at least {need}"
            + ("" if n_blocks is None else " (n_blocks; pass n_blocks=None to skip blocks)"))
    duration = n_periods / f
    stop = start + duration

    inside = (t >= start[cond]) & (t < stop[cond])
    t, cond = t[inside], cond[inside]
    fs = f[cond]
    norm = n_neur * duration  # N T per condition
    n_spikes = np.bincount(cond, minlength=n_cond)
    r0 = n_spikes / norm
    r0_se_shot = np.sqrt(n_spikes) / norm

    if n_blocks is not None:
        period = np.minimum(np.floor((t - start[cond]) * fs).astype(np.intp),
                            n_periods[cond] - 1)
        block = period * n_blocks // n_periods[cond]
        key = cond * n_blocks + block
        b = np.arange(n_blocks)
        first = -(-(b[None, :] * n_periods[:, None]) // n_blocks)  # ceil(b M / B)
        last = -(-((b[None, :] + 1) * n_periods[:, None]) // n_blocks)
        block_dur = (last - first) / f[:, None]  # (C, B), s
        weight = block_dur / duration[:, None]
        block_norm = n_neur[:, None] * block_dur

        def per_block(w=None):
            counts = np.bincount(key, weights=w, minlength=n_cond * n_blocks)
            return counts.reshape(n_cond, n_blocks)

        r0_b = per_block() / block_norm
        v0 = _block_covariance(r0_b, r0_b, r0, r0, weight, n_blocks)[0]
        r0_se = np.sqrt(v0)
    else:
        r0_se = np.full(n_cond, np.nan)

    shape = (n_cond, n_harmonics)
    z = np.empty(shape, dtype=complex)
    se_a_shot, se_p_shot = np.empty(shape), np.empty(shape)
    se_a, se_p = np.full(shape, np.nan), np.full(shape, np.nan)
    for k in range(1, n_harmonics + 1):
        cycles = k * fs * t
        theta = _TWO_PI * (cycles - np.floor(cycles))
        sin, cos = np.sin(theta), np.cos(theta)
        a = 2.0 / norm
        x = a * np.bincount(cond, weights=sin, minlength=n_cond)
        y = a * np.bincount(cond, weights=cos, minlength=n_cond)
        zk = x + 1j * y
        amp, ph = to_amplitude_phase(zk)
        z[:, k - 1] = zk
        vxx = a * a * np.bincount(cond, weights=sin * sin, minlength=n_cond)
        vyy = a * a * np.bincount(cond, weights=cos * cos, minlength=n_cond)
        vxy = a * a * np.bincount(cond, weights=sin * cos, minlength=n_cond)
        se_a_shot[:, k - 1], se_p_shot[:, k - 1] = amplitude_phase_se(amp, ph, vxx, vyy, vxy)
        if n_blocks is not None:
            a_b = 2.0 / block_norm
            x_b, y_b = a_b * per_block(sin), a_b * per_block(cos)
            cov = _block_covariance(x_b, y_b, x, y, weight, n_blocks)
            se_a[:, k - 1], se_p[:, k - 1] = amplitude_phase_se(amp, ph, *cov)

    amplitude, phase = to_amplitude_phase(z)
    return _spike_dataset(
        dict(r0=r0, amplitude=amplitude, phase=phase, r0_se=r0_se, amplitude_se=se_a,
             phase_se=se_p, r0_se_shot=r0_se_shot, amplitude_se_shot=se_a_shot,
             phase_se_shot=se_p_shot, n_spikes=n_spikes),
        grouped=group is not None, freq=f, n_neurons=n_neur, start=start, stop=stop,
        n_periods=n_periods, n_blocks=n_blocks)


_SPIKE_VARS = {
    "r0": ("Hz", "mean firing rate per neuron"),
    "amplitude": ("Hz", "harmonic amplitude of the firing rate"),
    "phase": ("rad", "harmonic phase relative to the drive's sine"),
    "r0_se": ("Hz", "standard error of r0 (block estimate)"),
    "amplitude_se": ("Hz", "standard error of amplitude (block estimate, delta method)"),
    "phase_se": ("rad", "standard error of phase (block estimate, delta method)"),
    "r0_se_shot": ("Hz", "standard error of r0 (Poisson shot noise)"),
    "amplitude_se_shot": ("Hz", "standard error of amplitude (Poisson shot noise, delta method)"),
    "phase_se_shot": ("rad", "standard error of phase (Poisson shot noise, delta method)"),
    "n_spikes": ("1", "number of spikes in the analysis window"),
}


def _spike_dataset(values: dict, *, grouped: bool, freq, n_neurons, start, stop, n_periods,
                   n_blocks) -> xr.Dataset:
    lead = ("condition",) if grouped else ()

    def pick(arr):
        arr = np.asarray(arr)
        return arr if grouped else arr[0]

    data = {}
    for name, arr in values.items():
        dims = (*lead, "harmonic") if np.ndim(arr) == 2 else lead
        data[name] = (dims, pick(arr), _attrs(*_SPIKE_VARS[name]))
    coords = {
        "harmonic": ("harmonic", np.arange(1, np.shape(values["amplitude"])[1] + 1),
                     _attrs("1", "harmonic number")),
        "freq": (lead, pick(freq), _attrs("Hz", "drive frequency")),
        "n_neurons": (lead, pick(n_neurons).astype(int), _attrs("1", "number of neurons")),
        "window_start": (lead, pick(start), _attrs("s", "start of the analysis window")),
        "window_stop": (lead, pick(stop), _attrs("s", "end of the analysis window (exclusive)")),
        "n_periods": (lead, pick(n_periods), _attrs("1", "whole drive periods in the window")),
    }
    if grouped:
        coords["condition"] = ("condition", np.arange(len(freq)), _attrs("1", "condition index"))
    ds = xr.Dataset(data, coords=coords)
    ds.attrs["description"] = ("harmonics of the population rate from spike times (no binning); "
                               "*_se: block estimate, *_se_shot: Poisson shot-noise formula")
    ds.attrs["n_blocks"] = 0 if n_blocks is None else int(n_blocks)
    return ds


# --------------------------------------------------------------------------------------------
# Broadband transfer function
# --------------------------------------------------------------------------------------------

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
    s, step_s = _as_series(stimulus, dim=dim, dt=dt, time=None, t0=0.0)
    r, step_r = _as_series(response, dim=dim, dt=dt, time=None, t0=0.0)
    if s.sizes[dim] != r.sizes[dim]:
        raise ValueError(f"stimulus and response lengths differ: {s.sizes[dim]} and "
                         f"{r.sizes[dim]} samples")
    if abs(step_s - step_r) > _GRID_TOL * step_s:
        raise ValueError(f"stimulus and response steps differ: {step_s:g} and {step_r:g} s")
    if both_timed and abs(float(s[dim][0] - r[dim][0])) > _GRID_TOL * step_s:
        raise ValueError(f"stimulus starts at {float(s[dim][0]):g} s but the response at "
                         f"{float(r[dim][0]):g} s")
    n = s.sizes[dim]
    nperseg = _default_nperseg(n) if nperseg is None else int(nperseg)
    noverlap = nperseg // 2 if noverlap is None else int(noverlap)
    if not 0 < nperseg <= n or not 0 <= noverlap < nperseg:
        raise ValueError(f"need 0 < nperseg <= {n} and 0 <= noverlap < nperseg, got "
                         f"nperseg={nperseg}, noverlap={noverlap}")
    missing = [d for d in average_over if d not in r.dims]
    if missing:
        raise ValueError(f"average_over dims {missing} are not response dims {r.dims}")
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
        "gain": gain.assign_attrs(_attrs(g_units, "gain |H| of the transfer function")),
        "phase": xr.apply_ufunc(lambda v: wrap_phase(np.angle(v)), h).assign_attrs(
            _attrs("rad", "phase arg H relative to the stimulus (negative: lag)")),
        "coherence": coh.clip(0.0, 1.0).assign_attrs(_attrs("1", "magnitude-squared coherence")),
        "gain_se": (gain * rel).assign_attrs(_attrs(g_units, "standard error of gain")),
        "phase_se": rel.assign_attrs(_attrs("rad", "standard error of phase")),
        "stimulus_psd": s_ss.assign_attrs(_attrs(f"({s_units})^2/Hz" if s_units != "1"
                                                 else "1/Hz", "stimulus power spectral density")),
        "response_psd": s_rr.assign_attrs(_attrs(f"({r_units})^2/Hz",
                                                 "response power spectral density")),
    })
    ds = ds.assign_coords(freq=("freq", freqs, _attrs("Hz", "frequency")))
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
    s, step = _as_series(stimulus, dim=dim, dt=dt, time=None, t0=t0)
    if group is not None and s.ndim == 2 and "condition" not in s.dims:
        s = s.rename({s.dims[0]: "condition"})
    t_grid = np.asarray(s[dim].values, dtype=float)
    times, cond, n_cond, n_neur = _spike_conditions(spike_times, spike_neuron, group, n_neurons)
    n_t = t_grid.size
    index = np.floor((times - t_grid[0]) / step + _GRID_TOL).astype(np.intp)
    keep = (index >= 0) & (index < n_t)
    counts = np.bincount(cond[keep] * n_t + index[keep], minlength=n_cond * n_t)
    rate = counts.reshape(n_cond, n_t) / (n_neur[:, None] * step)
    if group is None:
        rate_da = xr.DataArray(rate[0], dims=[dim], coords={dim: t_grid})
    else:
        rate_da = xr.DataArray(rate, dims=["condition", dim],
                               coords={"condition": np.arange(n_cond), dim: t_grid})
    rate_da.attrs = _attrs("Hz", "population firing rate per neuron")
    first = int(np.searchsorted(t_grid, t_start - _GRID_TOL * step))
    ds = transfer_function(s.isel({dim: slice(first, None)}),
                           rate_da.isel({dim: slice(first, None)}), nperseg=nperseg,
                           noverlap=noverlap, window=window, detrend=detrend, dim=dim)
    if group is not None:
        ds = ds.assign_coords(condition=("condition", np.arange(n_cond),
                                         _attrs("1", "condition index")))
    ds = ds.assign_coords(n_neurons=(("condition",) if group is not None else (),
                                     (n_neur if group is not None else n_neur[0]).astype(int),
                                     _attrs("1", "number of neurons")))
    ds.attrs["t_start"] = float(t_grid[first])
    return ds
