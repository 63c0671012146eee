"""Exact periodic response of a rectifier to ``I(t) = I0 + I1 sin(2 pi f t)``.

Closed form of the rectified sinusoid
-------------------------------------
Write the drive phase as ``theta = 2 pi f t = psi + pi/2``, so that
``x(psi) = I0 + I1 cos(psi)``. ``x`` is even in ``psi``, hence so is ``r = phi(x)``, and
``r = r0 + sum_k s_k cos(k psi)`` with real ``s_k = (2/pi) int_0^pi r cos(k psi) dpsi``.
Since ``cos(k psi) = sin(k theta + (1 - k) pi/2)``, ``A_k = |s_k|`` and
``phase_k = (1 - k) pi/2`` (plus ``pi`` when ``s_k < 0``). A continuous piecewise-linear
``phi`` (the leaky ReLU, with its clipping) is a sum of ramps::

    phi(x) = phi(t) + b0 (x - t) + sum_j D_j [R(x - kappa_j) - R(t - kappa_j)],  R(u) = max(u, 0)

with ``t`` the threshold, ``b0`` the slope left of every kink and ``D_j`` the change of slope
at kink ``kappa_j``. A ramp at ``kappa`` is active for ``psi < beta``,
``beta = arccos(clip((kappa - I0) / I1, -1, 1))`` (0: never, pi: always), and integrating
``(I0 - kappa + I1 cos psi) cos(k psi)`` over ``(0, beta)`` gives its mean
``((I0 - kappa) beta + I1 sin beta) / pi`` and
``s_k = (I1/pi) [S_{k-1} + S_{k+1} - 2 cos(beta) sin(k beta) / k]``,
``S_n = sin(n beta) / n``, ``S_0 = beta``. The filters act on the harmonics afterwards.

Transfers without a closed form are integrated over the drive phase by graded composite
Gauss-Legendre quadrature (:mod:`~neurorect.theory.quadrature`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurorect._arguments import float_array
from neurorect._validate import check_choice, check_integer
from neurorect.errors import ModelError
from neurorect.fourier import wrap_phase
from neurorect.theory.common import (
    COORD_ATTRS,
    PARAM_UNITS,
    annotate,
    argument,
    check_transfer,
)
from neurorect.theory.linear import lowpass
from neurorect.theory.pwl import LEAKY_NAMES, Ramps, leaky_relu_ramps
from neurorect.theory.quadrature import CHUNK, breaks, graded_rule
from neurorect.transfer import LeakyReLU, Transfer

__all__ = ["sinusoid_response"]

#: Harmonic coefficients below this fraction of the largest possible amplitude are exact zeros
#: (rounding noise); they are reported as 0 so that their phase is deterministic.
_ZERO_REL = 1e-12
#: Composite Gauss-Legendre rule of the numerical fall-back: panels and nodes per panel.
_SINE_PANELS, _SINE_NODES = 8, 24


def _ramp_angle(I0, I1, kappa):
    """``beta = arccos(clip((kappa - I0) / I1, -1, 1))``: the ramp is active for ``psi < beta``.

    At ``I1 = 0`` the ratio is +-inf (clipped), or 0/0 exactly at the kink, where the limit
    ``I1 -> 0+`` is ``beta = pi/2``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (kappa - I0) / I1
    c = np.clip(np.where(np.isnan(c), 0.0, c), -1.0, 1.0)
    return c, np.arccos(c)


def _pwl_static(I0, I1, ramps: Ramps, n_harmonics: int):
    """Static response of the leaky ReLU from its ramps (see the module docstring).

    Returns ``r0`` (Hz), the cosine coefficients ``s_k`` (Hz, harmonic on the last axis) and
    ``s_1 / I1`` (Hz per drive unit, also at ``I1 = 0``).
    """
    I0, I1 = np.asarray(I0, float), np.asarray(I1, float)
    t, b0 = ramps.threshold, ramps.b0
    r0 = ramps.base + b0 * (I0 - t)
    gain = b0 + np.zeros_like(I0)
    coef = np.zeros((n_harmonics,) + I0.shape)
    coef[0] = b0 * I1
    scale = np.abs(b0) * I1
    for j in range(ramps.kappa.shape[-1]):
        kappa, delta = ramps.kappa[..., j], ramps.delta[..., j]
        c, beta = _ramp_angle(I0, I1, kappa)
        sin_b, cos_b = np.sin(beta), np.cos(beta)
        m = I0 - kappa
        mean = np.where(c <= -1.0, m, np.where(c >= 1.0, 0.0, (m * beta + I1 * sin_b) / np.pi))
        r0 = r0 + delta * mean
        gain = gain + delta * (beta - sin_b * cos_b) / np.pi
        scale = scale + np.abs(delta) * I1
        weight = delta * I1 / np.pi
        below, here = beta, sin_b  # S_{k-1} (S_0 = beta) and sin(k beta), from k = 1
        for k in range(1, n_harmonics + 1):
            ahead = np.sin((k + 1) * beta)
            coef[k - 1] += weight * (below + ahead / (k + 1) - 2.0 * cos_b * here / k)
            below, here = here / k, ahead
    coef = np.where(np.abs(coef) <= _ZERO_REL * scale, 0.0, coef)
    return r0, np.moveaxis(coef, 0, -1), gain


def _quad_static(transfer: Transfer, I0, I1, n_harmonics: int):
    """Static response by composite Gauss-Legendre quadrature in ``psi`` (1-D inputs)."""
    I0, I1 = np.broadcast_arrays(np.asarray(I0, float), np.asarray(I1, float))
    r0 = np.empty(I0.shape)
    coef = np.empty(I0.shape + (n_harmonics,))
    k = np.arange(1, n_harmonics + 1)
    for lo in range(0, I0.size, CHUNK):
        sl = slice(lo, lo + CHUNK)
        i0, i1 = I0[sl, None], I1[sl, None]
        angles = []  # the drive phase psi at which the input crosses each kink
        for kink in breaks(transfer):
            with np.errstate(divide="ignore", invalid="ignore"):
                c = np.where(i1 > 0, (kink - i0) / i1, 1.0)
            angles.append(np.arccos(np.clip(c, -1.0, 1.0)))
        psi, w = graded_rule(0.0, np.pi, _SINE_PANELS, _SINE_NODES, i0.shape[0], angles)
        rate = np.asarray(transfer(i0 + i1 * np.cos(psi)), float)
        r0[sl] = np.sum(w * rate, -1) / np.pi
        block = 2.0 / np.pi * np.einsum("pn,pnk->pk", w * rate, np.cos(psi[..., None] * k))
        spread = np.max(np.abs(rate - r0[sl, None]), -1, keepdims=True)
        coef[sl] = np.where(np.abs(block) <= _ZERO_REL * spread, 0.0, block)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(I1 > 0, coef[..., 0] / I1, np.asarray(transfer.derivative(I0), float))
    return r0, coef, gain


def _transfer_table(transfer: Transfer, overrides: dict[str, xr.DataArray]):
    """Validate every combination of overridden parameters.

    Returns the list of distinct transfers and an integer DataArray indexing it (over the
    dims of the overrides).
    """
    if not overrides:
        return [transfer], xr.DataArray(0)
    names = list(overrides)
    grids = xr.broadcast(*overrides.values())
    table = np.stack([g.values.ravel() for g in grids], axis=-1)
    rows, inverse = np.unique(table, axis=0, return_inverse=True)
    combos = [transfer.replace(**dict(zip(names, map(float, row), strict=True)))
              for row in rows]
    index = xr.DataArray(np.asarray(inverse).reshape(grids[0].shape), dims=grids[0].dims,
                         coords=grids[0].coords)
    return combos, index


def _validate_leaky_overrides(transfer: LeakyReLU, overrides: dict[str, xr.DataArray]):
    """Validate leaky-ReLU overrides value by value (cheap for large grids).

    Each value of each parameter is checked by the class itself; the one constraint that
    couples parameters, ``rate_min < rate_max``, is checked on their broadcast.
    """
    for name, values in overrides.items():
        if name in ("rate_min", "rate_max"):
            continue
        for value in np.unique(values.values):
            transfer.replace(**{name: float(value)})
    lo = overrides.get("rate_min", xr.DataArray(transfer.rate_min))
    hi = overrides.get("rate_max", xr.DataArray(transfer.rate_max))
    lo, hi = (np.asarray(a.values) for a in xr.broadcast(lo, hi))
    bad = np.isnan(lo) | np.isnan(hi) | ~(lo < hi)
    if np.any(bad):
        raise ModelError("clipping bounds out of order", key="leaky_relu.rate_max",
                         value=float(hi[bad].flat[0]),
                         allowed=f"rate_max > rate_min = {float(lo[bad].flat[0]):g} Hz")


def _static_response(transfer: Transfer, I0: xr.DataArray, I1: xr.DataArray,
                     overrides: dict[str, xr.DataArray], n_harmonics: int):
    """Static ``r0``, ``s_k`` and ``s_1 / I1`` as DataArrays (``s`` with dim ``harmonic``)."""
    if isinstance(transfer, LeakyReLU):
        _validate_leaky_overrides(transfer, overrides)
        pars = xr.broadcast(*(overrides.get(name, xr.DataArray(getattr(transfer, name)))
                              for name in LEAKY_NAMES))
        ramps = leaky_relu_ramps(*(p.values for p in pars)).active()
        grids = xr.broadcast(I0, I1, pars[0])
        ramps = ramps.expand(pars[0].dims, grids[0].dims, grids[0].shape)
        r0, coef, gain = _pwl_static(grids[0].values, grids[1].values, ramps, n_harmonics)
        method = "closed form (piecewise linear)"
    else:
        combos, index = _transfer_table(transfer, overrides)
        grids = xr.broadcast(I0, I1, index)
        i0, i1, idx = (g.values.ravel() for g in grids)
        r0, gain = np.empty(i0.shape), np.empty(i0.shape)
        coef = np.empty(i0.shape + (n_harmonics,))
        for number, combo in enumerate(combos):
            sel = idx == number
            r0[sel], coef[sel], gain[sel] = _quad_static(combo, i0[sel], i1[sel], n_harmonics)
        shape = grids[0].shape
        r0, gain, coef = r0.reshape(shape), gain.reshape(shape), coef.reshape(shape + (-1,))
        method = (f"numerical: composite Gauss-Legendre quadrature in phase, {_SINE_NODES} "
                  f"nodes per panel, panels graded towards the threshold crossing")
    dims, coords = grids[0].dims, grids[0].coords
    as_da = xr.DataArray
    return (as_da(r0, dims=dims, coords=coords),
            as_da(coef, dims=dims + ("harmonic",), coords=coords),
            as_da(gain, dims=dims, coords=coords), method)


def sinusoid_response(transfer: Transfer, I0, I1, freq, *, tau=None, form: str = "static",
                      n_harmonics: int = 3, **params) -> xr.Dataset:
    """Exact periodic response of a rectifier to ``I(t) = I0 + I1 sin(2 pi f t)``.

    For the :class:`~neurorect.transfer.LeakyReLU` (any ``alpha``, threshold, gain, baseline
    and clipping; ReLU and linear are special cases) the result is in closed form, exact to
    rounding (see :mod:`neurorect.theory.sinusoid`). Other transfers are integrated NUMERICALLY by
    composite Gauss-Legendre quadrature over the drive phase, with panels split at the
    threshold crossing and graded geometrically towards it (the ``method`` attribute says
    which was used). Against adaptive quadrature this agrees to ~1e-14 relative for Softplus,
    GELU, Sigmoid, ELU and PowerLaw (also ``n < 1``) and to ~1e-11 for the LIF f-I curve,
    whose slope diverges at threshold; very sharp bends (e.g. ``Softplus`` with
    ``sharpness * I1 >> 1e4``) need more nodes than the fixed rule has.

    Parameters
    ----------
    transfer : Transfer
        The rate transfer ``phi`` (Hz).
    I0 : float, 1-D array or xarray.DataArray
        Mean drive, drive units.
    I1 : float, 1-D array or xarray.DataArray
        Drive amplitude, drive units, ``>= 0``. (A negative amplitude is the same drive
        shifted by half a period: ``I0 - a sin(w t) = I0 + a sin(w t + pi)``; pass ``a`` and
        add ``k pi`` to ``phase_k``.)
    freq : float, 1-D array or xarray.DataArray
        Drive frequency, Hz, ``>= 0``; a scalar becomes a ``freq`` dim of length 1 (a
        DataArray keeps its own dims). Irrelevant for ``form="static"`` except as a
        coordinate.
    tau : float, 1-D array or xarray.DataArray, optional
        Time constant, s, ``>= 0``; required for ``form="rate"`` and ``"voltage"``, not
        allowed for ``"static"``.
    form : {"static", "rate", "voltage"}
        ``"static"``: ``r = phi(I(t))``. ``"rate"``: ``tau dr/dt = -r + phi(I(t))`` (harmonic
        k of the static response times ``lowpass(k f, tau)``). ``"voltage"``:
        ``tau dv/dt = -v + I(t)``, ``r = phi(v)`` (the static response to the low-passed
        sinusoid ``I0 + I1 |H| sin(2 pi f t + arg H)``, ``H = lowpass(f, tau)``; harmonic k
        shifted by ``k arg H``).
    n_harmonics : int
        Number K of harmonics (``>= 1``).
    **params : float, 1-D array or xarray.DataArray
        Overrides of the transfer's parameters (e.g. ``alpha=np.linspace(0, 1, 21)``); each
        combination is validated as the transfer class would.

    Returns
    -------
    xarray.Dataset
        Dims ``freq`` (always), ``harmonic`` (1..K) and one dim per argument given as a 1-D
        array (``I0``, ``I1``, ``tau``, or a parameter name such as ``alpha``), broadcast
        as xarray does (DataArray arguments bring their own dims; scalars become scalar
        coordinates). Variables:

        ``r0`` (Hz)
            Mean rate.
        ``amplitude`` (Hz), ``phase`` (rad), dim ``harmonic``
            ``A_k >= 0`` and ``phase_k`` in ``(-pi, pi]``: ``r(t) = r0 + sum_k A_k
            sin(2 pi k f t + phase_k)``. A harmonic that vanishes (to 1e-12 of the largest
            possible amplitude) has amplitude 0 and its structural phase
            ``(1 - k) pi / 2`` plus the filter's phase.
        ``gain`` (Hz per drive unit)
            ``A_1 / I1``; at ``I1 = 0`` its limit ``I1 -> 0``, the small-signal gain (closed
            form: at a kink exactly at ``I0``, the mean of the two slopes; numerical:
            ``|transfer.derivative(I0)|``), times the filter's ``|H|``.

    Raises
    ------
    ModelError
        On a bad argument (negative ``I1``, ``freq`` or ``tau``, unknown form or parameter).
    """
    _check_options(transfer, tau, form, n_harmonics, params)
    if not isinstance(freq, xr.DataArray) or freq.ndim == 0:
        freq = np.atleast_1d(float_array("freq", freq))
    freq_da = argument("freq", freq, low=0.0)
    I0_da = argument("I0", I0)
    I1_da = argument("I1", I1, low=0.0)
    tau_da = None if tau is None else argument("tau", tau, low=0.0)
    overrides = {name: argument(name, value) for name, value in params.items()}

    I1_eff = I1_da
    if form == "voltage":
        filt = xr.apply_ufunc(lowpass, freq_da, tau_da)
        I1_eff = I1_da * np.abs(filt)
    r0, coef, gain, method = _static_response(transfer, I0_da, I1_eff, overrides, n_harmonics)

    k = xr.DataArray(np.arange(1, n_harmonics + 1), dims=["harmonic"])
    phase = (1 - k) * (np.pi / 2) + np.pi * (coef < 0)
    amplitude = np.abs(coef)
    gain = np.abs(gain)
    if form == "rate":
        filt_k = xr.apply_ufunc(lowpass, k * freq_da, tau_da)
        amplitude = amplitude * np.abs(filt_k)
        phase = phase + xr.apply_ufunc(np.angle, filt_k)
        gain = gain * np.abs(filt_k.isel(harmonic=0, drop=True))
    elif form == "voltage":
        phase = phase + k * xr.apply_ufunc(np.angle, filt)
        gain = gain * np.abs(filt)
    r0, gain = xr.broadcast(r0, gain, freq_da)[:2]
    amplitude, phase = xr.broadcast(amplitude, phase, r0)[:2]
    phase = xr.apply_ufunc(wrap_phase, phase)

    lead = [d for d in ("freq",) if d in r0.dims] + [d for d in r0.dims if d != "freq"]
    ds = xr.Dataset({
        "r0": annotate(r0.transpose(*lead), "Hz", "mean rate"),
        "amplitude": annotate(amplitude.transpose(*lead, "harmonic"), "Hz",
                              "amplitude of harmonic k"),
        "phase": annotate(phase.transpose(*lead, "harmonic"), "rad",
                          "phase of harmonic k relative to the drive's sine (negative: lag)"),
        "gain": annotate(gain.transpose(*lead), "Hz/drive unit", "first-harmonic gain A_1 / I1"),
    })
    ds = ds.assign_coords(harmonic=np.arange(1, n_harmonics + 1))
    scalars = {"I0": I0_da, "I1": I1_da, "tau": tau_da, **overrides}
    for name, da in scalars.items():
        if da is not None and da.ndim == 0:
            ds = ds.assign_coords({name: da.values})
    for name in ds.coords:
        if name in COORD_ATTRS:
            annotate(ds.coords[name], *COORD_ATTRS[name])
        elif name in overrides:
            annotate(ds.coords[name], PARAM_UNITS.get(name, "1"), f"{type(transfer).kind} {name}")
    ds.attrs.update(
        form=form, transfer=repr(transfer), method=method,
        convention="r(t) = r0 + sum_k amplitude_k sin(2 pi k freq t + phase_k)")
    return ds


def _check_options(transfer, tau, form: str, n_harmonics, params: dict) -> None:
    """The checks of :func:`sinusoid_response` that do not need the arrays."""
    check_choice("form", form, ("static", "rate", "voltage"))
    check_integer("n_harmonics", n_harmonics, low=1)
    if form == "static" and tau is not None:
        raise ModelError("the static form has no time constant", key="tau", value=tau,
                         allowed="None for form='static'")
    if form != "static" and tau is None:
        raise ModelError(f"form={form!r} needs a time constant", key="tau", value=tau,
                         allowed="tau >= 0 (s)")
    check_transfer(transfer, params)
