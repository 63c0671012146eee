"""Linear response: the first-order low-pass and networks linearised around a fixed point."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurorect._arguments import float_array
from neurorect._schema import attrs
from neurorect._validate import check_choice, check_finite, check_range
from neurorect.errors import ModelError, NeurorectWarning
from neurorect.fourier import wrap_phase
from neurorect.theory.common import COORD_ATTRS, DRIVE, TWO_PI, annotate
from neurorect.theory.fixed_point import fixed_point, network_arrays
from neurorect.transfer import Transfer

__all__ = ["lowpass", "coupling_kernel", "network_susceptibility", "linear_response"]


def lowpass(freq, tau) -> complex | np.ndarray:
    """First-order low-pass transfer function ``1 / (1 + i 2 pi f tau)``.

    Parameters
    ----------
    freq : array_like
        Frequency, Hz.
    tau : array_like
        Time constant, s (broadcast against ``freq``).

    Returns
    -------
    complex or numpy.ndarray
        Dimensionless, in the sine convention: ``arg = -atan(2 pi f tau)`` (a lag).
    """
    freq = check_range("freq", float_array("freq", freq), low=0.0, high=math.inf,
                       high_open=True, unit="Hz")
    tau = check_range("tau", float_array("tau", tau), low=0.0, high=math.inf,
                      high_open=True, unit="s")
    return 1.0 / (1.0 + 1j * TWO_PI * freq * tau)



def coupling_kernel(W, freq, *, delay=None, tau_syn=None) -> np.ndarray:
    """The frequency-dependent coupling ``W(f) = sum_k W_k exp(-i 2 pi f D_k) /
    (1 + i 2 pi f tau_syn_k)``, shape (F, N, N) complex.

    ``W`` is (N, N) or a stack (K, N, N) of channels; ``delay`` and ``tau_syn`` (s) broadcast
    against ``W`` (scalar, (K,) per channel of a stack, or (N, N) per entry); None is 0 (no
    delay, no filter), and then ``W(f) = W``.
    """
    W = np.asarray(W, float)
    freq = np.atleast_1d(np.asarray(freq, float))
    stack = W if W.ndim == 3 else W[None]
    if delay is None and tau_syn is None:
        return np.broadcast_to(stack.sum(axis=0), (freq.size,) + stack.shape[1:])
    delay = np.zeros(1) if delay is None else np.asarray(check_range(
        "delay", delay, low=0.0, high=math.inf, high_open=True, unit="s"), float)
    tau_syn = np.zeros(1) if tau_syn is None else np.asarray(check_range(
        "tau_syn", tau_syn, low=0.0, high=math.inf, high_open=True, unit="s"), float)
    def per_channel(values):  # (K,) per channel of a stack, (N, N) per entry of one W
        if W.ndim == 3 and values.ndim == 1 and values.size == W.shape[0]:
            return values.reshape(-1, 1, 1)
        return values[None] if W.ndim == 2 and values.ndim == 2 else values

    delay, tau_syn = per_channel(delay), per_channel(tau_syn)
    omega = TWO_PI * freq.reshape(-1, 1, 1, 1)
    try:
        kernel = np.exp(-1j * omega * delay) / (1.0 + 1j * omega * tau_syn)
        return (stack[None] * kernel).sum(axis=1)
    except ValueError:
        raise ModelError("delay and tau_syn must broadcast against W", key="delay",
                         value=f"shapes {np.shape(delay)}, {np.shape(tau_syn)}",
                         allowed=f"scalars, (K, 1, 1) or (N, N) for W of shape {W.shape}"
                         ) from None


def network_susceptibility(W, slope, freq, *, tau, form: str = "rate",
                           input_vector=None, delay=None, tau_syn=None) -> np.ndarray:
    """Complex linear rate response of a linearised network (sine convention).

    Rate form: ``chi(f) = [I + i 2 pi f T - D W(f)]^-1 D e``; voltage form:
    ``chi(f) = D [I + i 2 pi f T - W(f) D]^-1 e``; ``D = diag(slope)``, ``T = diag(tau)``,
    ``e`` the input vector, ``W(f) = W`` without delays and synaptic filters, else
    :func:`coupling_kernel` (each channel's ``W_k exp(-i 2 pi f D_k) / (1 + i 2 pi f
    tau_syn_k)``). For an input ``I1 sin(2 pi f t) e`` the rates are
    ``r_i* + |chi_i| I1 sin(2 pi f t + arg chi_i)`` to first order in ``I1``. Because ``D``
    and ``I + i 2 pi f T`` are both diagonal they commute, and the two expressions are equal
    (push-through identity): the forms have the same rate response at the same fixed point,
    for any ``tau``; both are computed as written.

    Parameters
    ----------
    W : array_like, shape (N, N) or (K, N, N)
        Coupling (post x pre), or its channels (connections sharing a delay and a filter).
    slope : array_like, shape (N,)
        ``phi'`` at the fixed point, Hz per drive unit.
    freq : array_like
        Frequencies, Hz (scalar or 1-D).
    tau : float or array_like, shape (N,)
        Time constants, s.
    form : {"rate", "voltage"}
        Network form.
    input_vector : array_like, shape (N,) or (N, M), optional
        Input direction(s), drive units per unit ``I1``. Default: the identity, i.e. the
        full matrix ``chi[f, i, j]`` (rate i per input into neuron j).
    delay, tau_syn : array_like, optional
        Transmission delays and synaptic filter time constants, s, broadcast against ``W``
        (see :func:`coupling_kernel`).

    Returns
    -------
    numpy.ndarray, complex
        Shape ``(F, N)`` for a vector input, ``(F, N, M)`` for a matrix (``M = N`` by
        default); Hz per drive unit.
    """
    check_choice("form", form, ("rate", "voltage"))
    stack = np.asarray(W, float)
    W, _, tau = network_arrays(stack.sum(axis=0) if stack.ndim == 3 else stack, 0.0, tau)
    n = W.shape[0]
    slope = float_array("slope", check_finite("slope", float_array("slope", slope)),
                        shape=(n,))
    freq = np.atleast_1d(check_range("freq", float_array("freq", freq), low=0.0,
                                     high=math.inf, high_open=True))
    if freq.ndim != 1:
        raise ModelError("must be a scalar or 1-D", key="freq", value=freq, allowed="ndim <= 1")
    e = np.eye(n) if input_vector is None else float_array("input_vector", input_vector)
    vector = e.ndim == 1
    e = e.reshape(n, -1) if e.shape[0] == n and e.ndim <= 2 else None
    if e is None:
        raise ModelError("wrong shape", key="input_vector", value=input_vector,
                         allowed=f"shape ({n},) or ({n}, M)")
    rhs = slope[:, None] * e if form == "rate" else e
    out = np.empty((freq.size, n, e.shape[1]), complex)
    block = max(1, int(2e6 // max(n * n * (stack.shape[0] if stack.ndim == 3 else 1), 1)))
    for lo in range(0, freq.size, block):
        f = freq[lo:lo + block, None]
        kernel = coupling_kernel(stack, f[:, 0], delay=delay, tau_syn=tau_syn)
        coupled = slope[:, None] * kernel if form == "rate" else kernel * slope[None, :]
        system = np.eye(n) - coupled + np.einsum("fi,ij->fij", 1j * TWO_PI * f * tau,
                                                   np.eye(n))
        sol = np.linalg.solve(system, np.broadcast_to(rhs, (len(f),) + rhs.shape))
        out[lo:lo + block] = sol if form == "rate" else slope[:, None] * sol
    return out[..., 0] if vector else out


def linear_response(W, I0, transfer: Transfer | Sequence[Transfer], freq, *, tau,
                    form: str = "rate", input_vector=None, r_init=None, delay=None,
                    tau_syn=None) -> xr.Dataset:
    """Linear response of a network around its fixed point to a sinusoidal input.

    The fixed point comes from :func:`fixed_point` (same ``form``, ``tau``, ``r_init``); the
    response from :func:`network_susceptibility` with the slopes there (the rate and voltage
    forms give the same response; see there). Slopes are right derivatives, so a neuron
    sitting exactly on a kink gets the slope above it.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Coupling (post x pre).
    I0 : array_like, shape (N,) or scalar
        Constant input, drive units.
    transfer : Transfer or sequence of N Transfer
        Shared or per-neuron transfer (Hz).
    freq : float or 1-D array_like
        Modulation frequencies, Hz.
    tau : float or array_like, shape (N,)
        Time constants, s.
    form : {"rate", "voltage"}
        Network form.
    input_vector : array_like, shape (N,), optional
        Direction of the modulation ``I1 sin(2 pi f t) input_vector`` (default: all ones,
        every neuron receives the same drive).
    r_init : array_like, shape (N,), optional
        Initial rates for the fixed-point search, Hz.
    delay, tau_syn : array_like, optional
        Transmission delays and synaptic filter time constants, s (see
        :func:`coupling_kernel`; ``W`` may then be a stack (K, N, N) of channels). They leave
        the fixed point unchanged and enter the response through ``W(f)``.

    Returns
    -------
    xarray.Dataset
        Dims ``freq`` and ``neuron``. ``gain`` = ``|chi|`` (Hz per drive unit) and ``phase``
        = ``arg chi`` (rad, sine convention: negative is a lag), so that
        ``chi = gain * exp(1j * phase)``; ``rate`` (Hz), ``input`` (drive units) and
        ``slope`` at the fixed point. Attrs: ``form``, ``stable`` (0/1),
        ``max_real_eigenvalue`` (1/s), ``contraction_bound``. With synaptic filters the
        stability is that of the network with its filter states (exact eigenvalues); with
        delays it is not computed here (``stable = -1``, ``max_real_eigenvalue = nan``, and
        a NeurorectWarning says so).

    Raises
    ------
    ModelError
        If no fixed point is found from ``r_init``.
    """
    stack = np.asarray(W, float)
    total = stack.sum(axis=0) if stack.ndim == 3 else stack
    fp = fixed_point(total, I0, transfer, tau=tau, form=form, r_init=r_init)
    if not fp.converged:
        raise ModelError(f"no fixed point found (residual {fp.residual:.3g})", key="r_init",
                         value=r_init, allowed="an initial rate vector near a fixed point")
    n = fp.rate.size
    e = np.ones(n) if input_vector is None else np.asarray(input_vector, float)
    if e.shape != (n,):
        raise ModelError("wrong shape", key="input_vector", value=input_vector,
                         allowed=f"shape ({n},)")
    freq_arr = np.atleast_1d(np.asarray(freq, float))
    chi = network_susceptibility(stack, fp.slope, freq_arr, tau=tau, form=form,
                                 input_vector=e, delay=delay, tau_syn=tau_syn)
    stable, max_real = _stability(fp, stack, tau, form, delay, tau_syn)
    coords = {"freq": freq_arr, "neuron": np.arange(n)}
    ds = xr.Dataset({
        "gain": (("freq", "neuron"), np.abs(chi),
                 attrs("Hz/drive unit", "linear rate response |chi|")),
        "phase": (("freq", "neuron"), wrap_phase(np.angle(chi)),
                  attrs("rad", "phase of chi relative to the input's sine")),
        "rate": (("neuron",), fp.rate, attrs("Hz", "fixed-point rate")),
        "input": (("neuron",), fp.input, attrs(DRIVE, "total input")),
        "slope": (("neuron",), fp.slope,
                  attrs("Hz/drive unit", "transfer slope at the fixed point")),
    }, coords=coords)
    for name in coords:
        annotate(ds.coords[name], *COORD_ATTRS[name])
    ds.attrs.update(form=form, stable=stable, max_real_eigenvalue=max_real,
                    contraction_bound=fp.contraction_bound)
    return ds


def _stability(fp, stack: np.ndarray, tau, form: str, delay, tau_syn) -> tuple[int, float]:
    """``(stable, max_real_eigenvalue)`` of the fixed point with the channels' filters.

    Without delays and filters: the fixed point's own. With synaptic filters only: the
    eigenvalues of the network with one filter state per neuron and filtered channel,
    ``tau_syn s_k' = -s_k + W_k r`` (rate form; ``W_k D v`` in voltage form). With delays
    the characteristic equation is transcendental: not computed here (-1, nan) and a warning.
    """
    if delay is None and tau_syn is None:
        return int(fp.stable), fp.max_real_eigenvalue
    channels = stack if stack.ndim == 3 else stack[None]
    k, n = channels.shape[0], channels.shape[1]
    if delay is not None and np.any(np.asarray(delay, float) > 0):
        warnings.warn("linear_response: the stability of a network with transmission delays "
                      "is not computed here (the characteristic equation is "
                      "transcendental); 'stable' is -1 and 'max_real_eigenvalue' nan",
                      NeurorectWarning, stacklevel=3)
        return -1, math.nan
    per_channel = _channel_values(np.asarray(0.0 if tau_syn is None else tau_syn, float),
                                  channels)
    slope = fp.slope
    gain = (lambda m: slope[:, None] * m) if form == "rate" else (lambda m: m * slope[None, :])
    tau_n = np.broadcast_to(np.asarray(tau, float), (n,))
    filtered = [c for c in range(k) if per_channel[c] > 0]
    size = n * (1 + len(filtered))
    J = np.zeros((size, size))
    J[:n, :n] = -np.eye(n)
    for c in range(k):
        if per_channel[c] == 0:
            J[:n, :n] += gain(channels[c])
    for j, c in enumerate(filtered):
        rows = slice(n * (j + 1), n * (j + 2))
        J[:n, rows] = np.diag(slope) if form == "rate" else np.eye(n)
        J[rows, :n] = (channels[c] if form == "rate" else channels[c] * slope[None, :])
        J[rows, rows] = -np.eye(n)
        J[rows] /= per_channel[c]
    J[:n] /= tau_n[:, None]
    max_real = float(np.max(np.linalg.eigvals(J).real))
    return int(max_real < 0), max_real


def _channel_values(values: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """One ``tau_syn`` per channel (K,), from a scalar, (K,) or per-entry values that agree
    on each channel's non-zero weights; ModelError otherwise."""
    k = channels.shape[0]
    if values.ndim == 0 or (values.ndim == 1 and values.size == k):
        return np.broadcast_to(values, (k,))
    entries = np.broadcast_to(values, channels.shape)
    out = np.zeros(k)
    for c in range(k):
        used = entries[c][channels[c] != 0]
        if used.size and np.any(used != used[0]):
            raise ModelError("the stability with synaptic filters needs one tau_syn per "
                             "channel", key="tau_syn", value="per-entry values",
                             allowed="a scalar, or one value per channel of W (K, N, N)")
        out[c] = used[0] if used.size else 0.0
    return out
