"""Linear response: the first-order low-pass and networks linearised around a fixed point."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurorect._arguments import float_array
from neurorect._schema import attrs
from neurorect._validate import check_choice, check_finite, check_range
from neurorect.errors import ModelError
from neurorect.fourier import wrap_phase
from neurorect.theory.common import COORD_ATTRS, DRIVE, TWO_PI, annotate
from neurorect.theory.fixed_point import fixed_point, network_arrays
from neurorect.transfer import Transfer

__all__ = ["lowpass", "network_susceptibility", "linear_response"]


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



def network_susceptibility(W, slope, freq, *, tau, form: str = "rate",
                           input_vector=None) -> np.ndarray:
    """Complex linear rate response of a linearised network (sine convention).

    Rate form: ``chi(f) = [I + i 2 pi f T - D W]^-1 D e``; voltage form:
    ``chi(f) = D [I + i 2 pi f T - W D]^-1 e``; ``D = diag(slope)``, ``T = diag(tau)``,
    ``e`` the input vector. For an input ``I1 sin(2 pi f t) e`` the rates are
    ``r_i* + |chi_i| I1 sin(2 pi f t + arg chi_i)`` to first order in ``I1``. Because ``D``
    and ``I + i 2 pi f T`` are both diagonal they commute, and the two expressions are equal
    (push-through identity): the forms have the same rate response at the same fixed point,
    for any ``tau``; both are computed as written.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Coupling (post x pre).
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

    Returns
    -------
    numpy.ndarray, complex
        Shape ``(F, N)`` for a vector input, ``(F, N, M)`` for a matrix (``M = N`` by
        default); Hz per drive unit.
    """
    check_choice("form", form, ("rate", "voltage"))
    W, _, tau = network_arrays(W, 0.0, tau)
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
    coupled = slope[:, None] * W if form == "rate" else W * slope[None, :]
    rhs = slope[:, None] * e if form == "rate" else e
    out = np.empty((freq.size, n, e.shape[1]), complex)
    block = max(1, int(2e6 // max(n * n, 1)))
    for lo in range(0, freq.size, block):
        f = freq[lo:lo + block, None]
        system = np.eye(n) - coupled + np.einsum("fi,ij->fij", 1j * TWO_PI * f * tau,
                                                   np.eye(n))
        sol = np.linalg.solve(system, np.broadcast_to(rhs, (len(f),) + rhs.shape))
        out[lo:lo + block] = sol if form == "rate" else slope[:, None] * sol
    return out[..., 0] if vector else out


def linear_response(W, I0, transfer: Transfer | Sequence[Transfer], freq, *, tau,
                    form: str = "rate", input_vector=None, r_init=None) -> xr.Dataset:
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

    Returns
    -------
    xarray.Dataset
        Dims ``freq`` and ``neuron``. ``gain`` = ``|chi|`` (Hz per drive unit) and ``phase``
        = ``arg chi`` (rad, sine convention: negative is a lag), so that
        ``chi = gain * exp(1j * phase)``; ``rate`` (Hz), ``input`` (drive units) and
        ``slope`` at the fixed point. Attrs: ``form``, ``stable`` (0/1),
        ``max_real_eigenvalue`` (1/s), ``contraction_bound``.

    Raises
    ------
    ModelError
        If no fixed point is found from ``r_init``.
    """
    fp = fixed_point(W, I0, transfer, tau=tau, form=form, r_init=r_init)
    if not fp.converged:
        raise ModelError(f"no fixed point found (residual {fp.residual:.3g})", key="r_init",
                         value=r_init, allowed="an initial rate vector near a fixed point")
    n = fp.rate.size
    e = np.ones(n) if input_vector is None else np.asarray(input_vector, float)
    if e.shape != (n,):
        raise ModelError("wrong shape", key="input_vector", value=input_vector,
                         allowed=f"shape ({n},)")
    freq_arr = np.atleast_1d(np.asarray(freq, float))
    chi = network_susceptibility(W, fp.slope, freq_arr, tau=tau, form=form, input_vector=e)
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
    ds.attrs.update(form=form, stable=int(fp.stable),
                    max_real_eigenvalue=fp.max_real_eigenvalue,
                    contraction_bound=fp.contraction_bound)
    return ds
