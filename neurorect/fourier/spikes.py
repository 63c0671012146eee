"""Harmonics of spike trains from the spike times (no binning), with two kinds of errors.

Standard errors come from a block (batch-means) estimate and from the Poisson shot-noise
formula; :func:`spike_conditions` (flattening spikes of many conditions, one per block of
neurons) is shared with :func:`neurorect.fourier.spike_transfer_function`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurorect._arguments import float_array
from neurorect._schema import attrs
from neurorect.errors import ModelError
from neurorect.fourier.phase import TWO_PI, amplitude_phase_se, to_amplitude_phase
from neurorect.fourier.sampling import GRID_TOL

__all__ = ["spike_harmonics"]


def _per_condition(name: str, value, n_cond: int) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    try:
        return np.broadcast_to(arr, (n_cond,)).astype(float)
    except ValueError:
        raise ModelError(f"{name} must be a scalar or have one entry per condition "
                         f"({n_cond}), got shape {arr.shape}") from None


def spike_conditions(spike_times, spike_neuron, group, n_neurons):
    """Flattened spike times (s), condition of each spike, number of conditions, N per cond."""
    t = float_array("spike_times", spike_times, allowed="spike times in s").ravel()
    neuron = None
    if spike_neuron is not None:
        neuron = np.asarray(spike_neuron).ravel()
        if neuron.shape != t.shape:
            raise ModelError(f"spike_neuron has {neuron.size} entries, spike_times {t.size}")
        if not np.issubdtype(neuron.dtype, np.integer):
            raise ModelError("spike_neuron must hold integer neuron indices")
    if group is None:
        if n_neurons is None:
            raise ModelError("n_neurons (the population size) is required")
        n_cond = 1
        cond = np.zeros(t.size, dtype=np.intp)
        if neuron is not None and neuron.size and (neuron.min() < 0
                                                   or neuron.max() >= np.max(n_neurons)):
            raise ModelError(f"spike_neuron must lie in [0, {n_neurons}), got "
                             f"[{neuron.min()}, {neuron.max()}]")
    else:
        group = np.asarray(group).ravel()
        if not np.issubdtype(group.dtype, np.integer) or group.size == 0 or group.min() < 0:
            raise ModelError("group must be a non-empty array of integer condition indices >= 0")
        if neuron is None:
            raise ModelError("group needs spike_neuron (the neuron index of each spike)")
        if neuron.size and (neuron.min() < 0 or neuron.max() >= group.size):
            raise ModelError(f"spike_neuron must index group (length {group.size}), got "
                             f"[{neuron.min()}, {neuron.max()}]")
        n_cond = int(group.max()) + 1
        cond = group[neuron].astype(np.intp)
        counts = np.bincount(group, minlength=n_cond)
        if n_neurons is None:
            n_neurons = counts
        elif not np.array_equal(np.broadcast_to(n_neurons, (n_cond,)), counts):
            raise ModelError(f"n_neurons {n_neurons!r} disagrees with the neurons per condition "
                             f"in group {counts!r}")
    n = _per_condition("n_neurons", n_neurons, n_cond)
    if np.any(n <= 0):
        raise ModelError(f"every condition needs n_neurons > 0, got {n!r}")
    return t, cond, n_cond, n


def _whole_periods(f, start, stop, n_blocks: int | None) -> np.ndarray:
    """Whole periods of ``f`` in ``[start, stop)`` per condition; refuse too few of them."""
    n_periods = np.floor((stop - start) * f + GRID_TOL).astype(int)
    need = 1 if n_blocks is None else n_blocks
    short = np.flatnonzero(n_periods < need)
    if short.size:
        c = short[0]
        raise ModelError(
            f"window [{start[c]:g}, {stop[c]:g}) s holds {n_periods[c]} whole periods of "
            f"{1 / f[c]:g} s (f = {f[c]:g} Hz); need at least {need}"
            + ("" if n_blocks is None else " (n_blocks; pass n_blocks=None to skip blocks)"))
    return n_periods


class _Blocks:
    """The ``B`` blocks of whole periods per condition behind the block (batch-means) errors.

    Block ``b`` of a window of ``M`` periods holds periods ``ceil(b M / B)`` to
    ``ceil((b + 1) M / B) - 1``, so blocks hold ``M // B`` or ``M // B + 1`` periods.
    """

    def __init__(self, t, cond, start, f, n_periods, duration, n_neurons, n_blocks: int):
        period = np.minimum(np.floor((t - start[cond]) * f[cond]).astype(np.intp),
                            n_periods[cond] - 1)
        self.key = cond * n_blocks + period * n_blocks // n_periods[cond]
        b = np.arange(n_blocks)
        first = -(-(b[None, :] * n_periods[:, None]) // n_blocks)  # ceil(b M / B)
        last = -(-((b[None, :] + 1) * n_periods[:, None]) // n_blocks)
        block_dur = (last - first) / f[:, None]  # (C, B), s
        self.weight = block_dur / duration[:, None]
        self.norm = n_neurons[:, None] * block_dur  # N T_b
        self.shape = (f.size, n_blocks)

    def sums(self, weights=None) -> np.ndarray:
        """Per-block sums of ``weights`` over the spikes (counts by default), shape (C, B)."""
        counts = np.bincount(self.key, weights=weights, minlength=self.shape[0] * self.shape[1])
        return counts.reshape(self.shape)

    def covariance(self, x_b, y_b, x, y):
        """Covariance of the full-window estimates ``(x, y)`` from block estimates.

        Blocks ``b`` of duration ``T_b`` give estimates ``x_b``; the full estimate is
        ``x = sum_b w_b x_b`` with ``w_b = T_b / T``. If ``var x_b = s^2 / T_b`` (variance
        inversely proportional to duration, blocks independent), then
        ``E[sum_b w_b (x_b - x)^2] = (B - 1) s^2 / T = (B - 1) var x``: the estimate below is
        unbiased, and for equal blocks it is the usual batch-means ``sum (x_b - x)^2 /
        (B (B-1))``.
        """
        dx, dy = x_b - x[:, None], y_b - y[:, None]
        norm = self.shape[1] - 1
        weight = self.weight
        return ((weight * dx * dx).sum(1) / norm, (weight * dy * dy).sum(1) / norm,
                (weight * dx * dy).sum(1) / norm)


def _harmonic(k: int, t, cond, f_spike, norm, blocks: _Blocks | None):
    """``z_k`` per condition and its shot-noise and block standard errors (amplitude, phase).

    ``t`` and ``cond`` are the spikes in the windows, ``f_spike`` the drive frequency of
    each spike's condition, ``norm`` = ``N T`` per condition.
    """
    n_cond = norm.size
    cycles = k * f_spike * t
    theta = TWO_PI * (cycles - np.floor(cycles))
    sin, cos = np.sin(theta), np.cos(theta)
    a = 2.0 / norm
    x = a * np.bincount(cond, weights=sin, minlength=n_cond)
    y = a * np.bincount(cond, weights=cos, minlength=n_cond)
    zk = x + 1j * y
    amp, ph = to_amplitude_phase(zk)
    vxx = a * a * np.bincount(cond, weights=sin * sin, minlength=n_cond)
    vyy = a * a * np.bincount(cond, weights=cos * cos, minlength=n_cond)
    vxy = a * a * np.bincount(cond, weights=sin * cos, minlength=n_cond)
    se_shot = amplitude_phase_se(amp, ph, vxx, vyy, vxy)
    if blocks is None:
        return zk, se_shot, (np.nan, np.nan)
    a_b = 2.0 / blocks.norm
    cov = blocks.covariance(a_b * blocks.sums(sin), a_b * blocks.sums(cos), x, y)
    return zk, se_shot, amplitude_phase_se(amp, ph, *cov)


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
        raise ModelError(f"n_harmonics must be >= 1, got {n_harmonics}")
    if n_blocks is not None and n_blocks < 2:
        raise ModelError(f"n_blocks must be >= 2 (or None), got {n_blocks}")
    t, cond, n_cond, n_neur = spike_conditions(spike_times, spike_neuron, group, n_neurons)
    f = _per_condition("freq", freq, n_cond)
    start = _per_condition("t_start", t_start, n_cond)
    stop_req = _per_condition("t_stop", t_stop, n_cond)
    if not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ModelError(f"freq must be finite and > 0 Hz, got {freq!r}")
    n_periods = _whole_periods(f, start, stop_req, n_blocks)
    duration = n_periods / f
    stop = start + duration

    inside = (t >= start[cond]) & (t < stop[cond])
    t, cond = t[inside], cond[inside]
    norm = n_neur * duration  # N T per condition
    n_spikes = np.bincount(cond, minlength=n_cond)
    r0 = n_spikes / norm
    r0_se_shot = np.sqrt(n_spikes) / norm
    if n_blocks is None:
        blocks, r0_se = None, np.full(n_cond, np.nan)
    else:
        blocks = _Blocks(t, cond, start, f, n_periods, duration, n_neur, n_blocks)
        r0_b = blocks.sums() / blocks.norm
        r0_se = np.sqrt(blocks.covariance(r0_b, r0_b, r0, r0)[0])

    shape = (n_cond, n_harmonics)
    z = np.empty(shape, dtype=complex)
    se_a_shot, se_p_shot = np.empty(shape), np.empty(shape)
    se_a, se_p = np.full(shape, np.nan), np.full(shape, np.nan)
    for k in range(1, n_harmonics + 1):
        z[:, k - 1], shot, block = _harmonic(k, t, cond, f[cond], norm, blocks)
        se_a_shot[:, k - 1], se_p_shot[:, k - 1] = shot
        se_a[:, k - 1], se_p[:, k - 1] = block

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
        data[name] = (dims, pick(arr), attrs(*_SPIKE_VARS[name]))
    coords = {
        "harmonic": ("harmonic", np.arange(1, np.shape(values["amplitude"])[1] + 1),
                     attrs("1", "harmonic number")),
        "freq": (lead, pick(freq), attrs("Hz", "drive frequency")),
        "n_neurons": (lead, pick(n_neurons).astype(int), attrs("1", "number of neurons")),
        "window_start": (lead, pick(start), attrs("s", "start of the analysis window")),
        "window_stop": (lead, pick(stop), attrs("s", "end of the analysis window (exclusive)")),
        "n_periods": (lead, pick(n_periods), attrs("1", "whole drive periods in the window")),
    }
    if grouped:
        coords["condition"] = ("condition", np.arange(len(freq)), attrs("1", "condition index"))
    ds = xr.Dataset(data, coords=coords)
    ds.attrs["description"] = ("harmonics of the population rate from spike times (no binning); "
                               "*_se: block estimate, *_se_shot: Poisson shot-noise formula")
    ds.attrs["n_blocks"] = 0 if n_blocks is None else int(n_blocks)
    return ds

