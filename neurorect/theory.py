"""Closed-form theory of rectifier rate neurons (numpy, scipy and xarray only).

Contents
--------
sinusoid_response
    Exact periodic response (mean rate and harmonics) of a rectifier to
    ``I(t) = I0 + I1 sin(2 pi f t)``, static or through a first-order filter.
gaussian_mean_rate, gaussian_gain
    ``E[phi(x)]`` and ``E[phi'(x)]`` for Gaussian input ``x ~ N(mu, s**2)``.
fixed_point, FixedPoint
    Fixed points ``r* = phi(W r* + I0)`` of rate networks, with a contraction test,
    a solver and linear stability.
network_susceptibility, linear_response
    Linear response of a network around a fixed point to a sinusoidal input modulation.
lowpass
    The first-order low-pass ``1 / (1 + i 2 pi f tau)``.

Conventions (DESIGN.md): SI units (s, Hz); input in drive units. Fourier series in the sine
convention ``r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)``, ``A_k >= 0`` (Hz), ``phase_k``
in rad relative to the drive's sine, negative for a lag, wrapped to ``(-pi, pi]``. A complex
response ``chi`` means ``|chi| I1 sin(2 pi f t + arg chi)`` for an input ``I1 sin(2 pi f t)``.

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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import scipy.optimize
import xarray as xr
from scipy.special import ndtr

from neurorect._validate import check_choice, check_finite, check_range
from neurorect.errors import ModelError
from neurorect.fourier import wrap_phase
from neurorect.transfer import LeakyReLU, LIFTransfer, PowerLaw, Transfer

__all__ = [
    "sinusoid_response", "gaussian_mean_rate", "gaussian_gain", "fixed_point", "FixedPoint",
    "network_susceptibility", "linear_response", "lowpass",
]

_TWO_PI = 2.0 * math.pi
#: Harmonic coefficients below this fraction of the largest possible amplitude are exact zeros
#: (rounding noise); they are reported as 0 so that their phase is deterministic.
_ZERO_REL = 1e-12
#: Composite Gauss-Legendre rule of the numerical fall-backs: panels and nodes per panel.
_SINE_PANELS, _SINE_NODES = 8, 24
_GAUSS_PANELS, _GAUSS_NODES, _GAUSS_HALF_WIDTH = 12, 20, 12.0
_GRADING, _GRADING_LEVELS = 0.15, 14
#: fixed_point: the iteration hands over to Newton's method at this relative residual.
_POLISH_FROM = 1e-8
_CHUNK = 2048  # points per block in the numerical fall-backs (bounds memory)

_DRIVE = "drive unit"
_COORD_ATTRS = {
    "freq": ("Hz", "drive frequency"),
    "harmonic": ("1", "harmonic number k"),
    "I0": (_DRIVE, "mean drive"),
    "I1": (_DRIVE, "drive amplitude"),
    "tau": ("s", "time constant"),
    "neuron": ("1", "neuron index"),
}
_PARAM_UNITS = {
    "gain": "Hz/drive unit", "threshold": _DRIVE, "alpha": "1", "rate_min": "Hz",
    "rate_max": "Hz", "baseline": "Hz", "sharpness": "1/drive unit", "k": "Hz/drive unit^n",
    "n": "1", "slope": "1/drive unit", "tau_m": "s", "v_th": "V", "v_reset": "V", "t_ref": "s",
}


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------

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
    return 1.0 / (1.0 + 1j * _TWO_PI * np.asarray(freq, float) * np.asarray(tau, float))


def _gauss_legendre_panels(edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of an ``n``-point Gauss-Legendre rule on each panel.

    ``edges`` has shape ``(..., E)`` (sorted along the last axis); the result has shape
    ``(..., (E - 1) * n)``. Empty panels get zero weight.
    """
    x, w = np.polynomial.legendre.leggauss(n)
    half = 0.5 * np.diff(edges, axis=-1)[..., None]
    mid = 0.5 * (edges[..., 1:] + edges[..., :-1])[..., None]
    shape = edges.shape[:-1] + (-1,)
    return (mid + half * x).reshape(shape), (half * w).reshape(shape)


def _breaks(transfer: Transfer) -> list[float]:
    """Inputs where the quadrature panels are split and graded: the threshold.

    ELU, PowerLaw and the LIF curve have a kink there (the LIF and sub-linear power-law
    slopes even diverge); smooth transfers bend most sharply there.
    """
    if isinstance(transfer, LIFTransfer):
        return [transfer.v_th]
    threshold = getattr(transfer, "threshold", None)
    return [] if threshold is None else [threshold]


def _singular_slope(transfer: Transfer) -> bool:
    """True if ``phi'`` diverges at the threshold (LIF, power law with ``n < 1``)."""
    return isinstance(transfer, LIFTransfer) or (isinstance(transfer, PowerLaw)
                                                 and transfer.n < 1.0)


def _graded_edges(points: np.ndarray, scale: float, low: float, high: float) -> np.ndarray:
    """Panel edges graded geometrically towards ``points`` (shape ``(P, 1)``), clipped.

    Panels next to a kink shrink by ``_GRADING`` per level down to ``scale * _GRADING**L``
    (hp-style grading: exponential convergence for algebraic endpoint singularities).
    """
    offsets = scale * _GRADING ** np.arange(1, _GRADING_LEVELS + 1)
    offsets = np.concatenate([-offsets, offsets])
    return np.clip(points + offsets, low, high)


# --------------------------------------------------------------------------------------------
# the leaky ReLU as a sum of ramps
# --------------------------------------------------------------------------------------------

_LEAKY_NAMES = tuple(f.name for f in fields(LeakyReLU))


@dataclass(frozen=True)
class _Ramps:
    """``phi(x) = base + b0 (x - t) + sum_j delta_j R(x - kappa_j)``, ``R(u) = max(u, 0)``.

    ``base = phi(t) - sum_j delta_j R(t - kappa_j)`` (``t`` the threshold): referring the
    linear part to the threshold keeps it well conditioned. Arrays broadcast together;
    ``kappa`` and ``delta`` carry the kinks on the last axis.
    """

    threshold: np.ndarray
    base: np.ndarray
    b0: np.ndarray
    kappa: np.ndarray
    delta: np.ndarray

    def active(self) -> _Ramps:
        """Drop the kinks whose slope change is zero everywhere (e.g. absent clipping)."""
        keep = np.any(self.delta != 0, axis=tuple(range(self.delta.ndim - 1)))
        return _Ramps(self.threshold, self.base, self.b0, self.kappa[..., keep],
                      self.delta[..., keep])

    def expand(self, src_dims: tuple, dims: tuple, shape: tuple) -> _Ramps:
        """Broadcast views from the parameters' dims ``src_dims`` to ``dims`` / ``shape``."""
        return _Ramps(*(_expand(getattr(self, f.name), src_dims, dims, shape)
                        for f in fields(self)))


def _expand(values: np.ndarray, src_dims: tuple, dims: tuple, shape: tuple) -> np.ndarray:
    """View of ``values`` (dims ``src_dims`` plus trailing extra axes) broadcast to ``dims``."""
    n_src = len(src_dims)
    extra = values.shape[n_src:]
    order = [src_dims.index(d) for d in dims if d in src_dims]
    moved = values.transpose(order + list(range(n_src, values.ndim)))
    keep = iter(moved.shape[:n_src])
    target = [next(keep) if d in src_dims else 1 for d in dims]
    return np.broadcast_to(moved.reshape(target + list(extra)), tuple(shape) + extra)


def _leaky_relu_ramps(gain, threshold, alpha, rate_min, rate_max, baseline) -> _Ramps:
    """Ramp decomposition of the clipped leaky ReLU (all parameters broadcast).

    The rate lies strictly inside the clipping bounds on ``(x_lo, x_hi)``; there the slope is
    ``gain * alpha`` below the threshold and ``gain`` above; outside it is 0. The kinks are
    ``x_lo <= clip(t, x_lo, x_hi) <= x_hi`` (infinite ones absent).
    """
    g, t, a, lo, hi, b = np.broadcast_arrays(
        *(np.asarray(p, float) for p in (gain, threshold, alpha, rate_min, rate_max, baseline)))
    leak = g * a
    with np.errstate(divide="ignore", invalid="ignore"):
        x_lo = np.where(b <= lo, t + (lo - b) / g, np.where(a > 0, t + (lo - b) / leak, -np.inf))
        x_hi = np.where(b < hi, t + (hi - b) / g, np.where(a > 0, t + (hi - b) / leak, -np.inf))
    kappa = np.stack([x_lo, np.clip(t, x_lo, x_hi), x_hi], axis=-1)
    slopes = np.stack([np.zeros_like(g), leak, g, np.zeros_like(g)], axis=-1)
    finite = np.isfinite(kappa)
    n_left = np.sum(kappa == -np.inf, axis=-1)  # the leftmost region's slope is slopes[n_left]
    b0 = np.take_along_axis(slopes, n_left[..., None], axis=-1)[..., 0]
    delta = np.where(finite, np.diff(slopes, axis=-1), 0.0)
    kappa = np.where(finite, kappa, t[..., None])
    base = np.clip(b, lo, hi) - np.sum(delta * np.maximum(t[..., None] - kappa, 0.0), -1)
    return _Ramps(t, base, b0, kappa, delta)


def _ramp_angle(I0, I1, kappa):
    """``beta = arccos(clip((kappa - I0) / I1, -1, 1))``: the ramp is active for ``psi < beta``.

    At ``I1 = 0`` the ratio is +-inf (clipped), or 0/0 exactly at the kink, where the limit
    ``I1 -> 0+`` is ``beta = pi/2``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (kappa - I0) / I1
    c = np.clip(np.where(np.isnan(c), 0.0, c), -1.0, 1.0)
    return c, np.arccos(c)


def _pwl_static(I0, I1, ramps: _Ramps, n_harmonics: int):
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


# --------------------------------------------------------------------------------------------
# numerical fall-backs for smooth (or singly kinked) transfers
# --------------------------------------------------------------------------------------------

def _quad_static(transfer: Transfer, I0, I1, n_harmonics: int):
    """Static response by composite Gauss-Legendre quadrature in ``psi`` (1-D inputs)."""
    I0, I1 = np.broadcast_arrays(np.asarray(I0, float), np.asarray(I1, float))
    r0 = np.empty(I0.shape)
    coef = np.empty(I0.shape + (n_harmonics,))
    k = np.arange(1, n_harmonics + 1)
    for lo in range(0, I0.size, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        i0, i1 = I0[sl, None], I1[sl, None]
        edges = [np.broadcast_to(np.linspace(0.0, np.pi, _SINE_PANELS + 1), (i0.shape[0],
                                                                             _SINE_PANELS + 1))]
        for kink in _breaks(transfer):
            with np.errstate(divide="ignore", invalid="ignore"):
                c = np.where(i1 > 0, (kink - i0) / i1, 1.0)
            angle = np.arccos(np.clip(c, -1.0, 1.0))
            edges += [angle, _graded_edges(angle, np.pi / _SINE_PANELS, 0.0, np.pi)]
        psi, w = _gauss_legendre_panels(np.sort(np.concatenate(edges, axis=1), axis=1),
                                        _SINE_NODES)
        rate = np.asarray(transfer(i0 + i1 * np.cos(psi)), float)
        r0[sl] = np.sum(w * rate, -1) / np.pi
        block = 2.0 / np.pi * np.einsum("pn,pnk->pk", w * rate, np.cos(psi[..., None] * k))
        spread = np.max(np.abs(rate - r0[sl, None]), -1, keepdims=True)
        coef[sl] = np.where(np.abs(block) <= _ZERO_REL * spread, 0.0, block)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(I1 > 0, coef[..., 0] / I1, np.asarray(transfer.derivative(I0), float))
    return r0, coef, gain


def _gaussian_quad(transfer: Transfer, mu, s, which: str) -> np.ndarray:
    """``E[phi(x)]`` (``which="rate"``) or ``E[phi'(x)]`` for ``x ~ N(mu, s^2)``, 1-D inputs.

    Composite Gauss-Legendre on ``z in [-12, 12]`` (the Gaussian tail beyond is < 1e-31),
    split at the transfer's threshold and graded towards it. Where ``phi'`` diverges, the gain
    uses Stein's identity ``E[phi'(x)] = E[z phi(mu + s z)] / s`` instead.
    """
    stein = which == "gain" and _singular_slope(transfer)
    func = transfer if which == "rate" or stein else transfer.derivative
    out = np.empty(mu.shape)
    L = _GAUSS_HALF_WIDTH
    for lo in range(0, mu.size, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        m, sd = mu[sl, None], s[sl, None]
        edges = [np.broadcast_to(np.linspace(-L, L, _GAUSS_PANELS + 1),
                                 (m.shape[0], _GAUSS_PANELS + 1))]
        for kink in _breaks(transfer):
            with np.errstate(divide="ignore", invalid="ignore"):
                z_kink = np.clip(np.where(sd > 0, (kink - m) / sd, L), -L, L)
            edges += [z_kink, _graded_edges(z_kink, 2 * L / _GAUSS_PANELS, -L, L)]
        z, w = _gauss_legendre_panels(np.sort(np.concatenate(edges, axis=1), axis=1),
                                      _GAUSS_NODES)
        density = np.exp(-0.5 * z * z) / math.sqrt(_TWO_PI)
        values = np.asarray(func(m + sd * z), float)
        if stein:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(sd > 0, z * values / sd, np.asarray(transfer.derivative(m)))
        out[sl] = np.sum(w * density * values, -1)
    return out


# --------------------------------------------------------------------------------------------
# sinusoid_response
# --------------------------------------------------------------------------------------------

def _annotate(obj, name: str, units: str, long_name: str):
    obj.attrs.update(units=units, long_name=long_name)
    return obj


def _argument(name: str, value, *, low: float | None = None) -> xr.DataArray:
    """A scalar, 1-D array (dim named ``name``) or DataArray argument, validated."""
    if isinstance(value, xr.DataArray):
        da = value.astype(float)
    else:
        arr = np.asarray(value, dtype=float)
        if arr.ndim > 1:
            raise ModelError("must be a scalar or a 1-D array (use an xarray.DataArray for "
                             "other shapes)", key=name, value=value, allowed="ndim <= 1")
        da = xr.DataArray(arr, dims=[name], coords={name: arr}) if arr.ndim else xr.DataArray(arr)
    check_finite(name, da.values)
    if low is not None:
        check_range(name, da.values, low=low, high=math.inf, high_open=True)
    return da


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
                              for name in _LEAKY_NAMES))
        ramps = _leaky_relu_ramps(*(p.values for p in pars)).active()
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
    rounding (see the module docstring). Other transfers are integrated NUMERICALLY by
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
    check_choice("form", form, ("static", "rate", "voltage"))
    if not isinstance(n_harmonics, (int, np.integer)) or isinstance(n_harmonics, bool) or (
            n_harmonics < 1):
        raise ModelError("must be a positive integer", key="n_harmonics", value=n_harmonics,
                         allowed="n_harmonics >= 1")
    if form == "static" and tau is not None:
        raise ModelError("the static form has no time constant", key="tau", value=tau,
                         allowed="None for form='static'")
    if form != "static" and tau is None:
        raise ModelError(f"form={form!r} needs a time constant", key="tau", value=tau,
                         allowed="tau >= 0 (s)")
    names = type(transfer).param_names() if isinstance(transfer, Transfer) else ()
    if not names:
        raise ModelError("not a Transfer", key="transfer", value=transfer,
                         allowed="a neurorect.transfer.Transfer instance")
    for name in params:
        if name not in names:
            raise ModelError(f"unknown parameter of {type(transfer).__name__}", key=name,
                             value=params[name], allowed=", ".join(names))

    if not isinstance(freq, xr.DataArray) or freq.ndim == 0:
        freq = np.atleast_1d(np.asarray(freq, dtype=float))
    freq_da = _argument("freq", freq, low=0.0)
    I0_da = _argument("I0", I0)
    I1_da = _argument("I1", I1, low=0.0)
    tau_da = None if tau is None else _argument("tau", tau, low=0.0)
    overrides = {name: _argument(name, value) for name, value in params.items()}

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
        "r0": _annotate(r0.transpose(*lead), "r0", "Hz", "mean rate"),
        "amplitude": _annotate(amplitude.transpose(*lead, "harmonic"), "amplitude", "Hz",
                               "amplitude of harmonic k"),
        "phase": _annotate(phase.transpose(*lead, "harmonic"), "phase", "rad",
                           "phase of harmonic k relative to the drive's sine (negative: lag)"),
        "gain": _annotate(gain.transpose(*lead), "gain", "Hz/drive unit",
                          "first-harmonic gain A_1 / I1"),
    })
    ds = ds.assign_coords(harmonic=np.arange(1, n_harmonics + 1))
    scalars = {"I0": I0_da, "I1": I1_da, "tau": tau_da, **overrides}
    for name, da in scalars.items():
        if da is not None and da.ndim == 0:
            ds = ds.assign_coords({name: da.values})
    for name in ds.coords:
        if name in _COORD_ATTRS:
            _annotate(ds.coords[name], name, *_COORD_ATTRS[name])
        elif name in overrides:
            _annotate(ds.coords[name], name, _PARAM_UNITS.get(name, "1"),
                      f"{type(transfer).kind} {name}")
    ds.attrs.update(
        form=form, transfer=repr(transfer), method=method,
        convention="r(t) = r0 + sum_k amplitude_k sin(2 pi k freq t + phase_k)")
    return ds


# --------------------------------------------------------------------------------------------
# Gaussian-input averages
# --------------------------------------------------------------------------------------------

def _gaussian(transfer: Transfer, mu, s, which: str) -> float | np.ndarray:
    if not isinstance(transfer, Transfer):
        raise ModelError("not a Transfer", key="transfer", value=transfer,
                         allowed="a neurorect.transfer.Transfer instance")
    mu, s = np.broadcast_arrays(np.asarray(check_finite("mu", mu), float),
                                np.asarray(s, float))
    check_range("s", s, low=0.0, high=math.inf, high_open=True)
    if isinstance(transfer, LeakyReLU):
        ramps = _leaky_relu_ramps(*(getattr(transfer, name) for name in _LEAKY_NAMES)).active()
        kappa, delta = ramps.kappa, ramps.delta
        m, sd = mu[..., None], s[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = (m - kappa) / sd
            if which == "rate":
                density = np.exp(-0.5 * d * d) / math.sqrt(_TWO_PI)
                ramp = np.where(sd > 0, sd * (d * ndtr(d) + density), np.maximum(m - kappa, 0))
                out = ramps.base + ramps.b0 * (mu - ramps.threshold) + np.sum(delta * ramp, -1)
            else:
                step = np.where(sd > 0, ndtr(d), 0.5 * (1.0 + np.sign(m - kappa)))
                out = ramps.b0 + np.sum(delta * step, -1)
    else:
        flat = _gaussian_quad(transfer, mu.ravel(), s.ravel(), which)
        out = flat.reshape(mu.shape)
    return float(out) if out.ndim == 0 else out


def gaussian_mean_rate(transfer: Transfer, mu, s) -> float | np.ndarray:
    """Mean rate ``E[phi(x)]`` for Gaussian input ``x ~ N(mu, s^2)``.

    Exact for the leaky ReLU (normal CDF and PDF, clipping included). Other transfers:
    numerical, composite Gauss-Legendre quadrature on ``mu +- 12 s`` with panels graded
    towards the threshold (~1e-14 relative against adaptive quadrature).

    Parameters
    ----------
    transfer : Transfer
        Rate transfer ``phi`` (Hz).
    mu : array_like
        Mean input, drive units.
    s : array_like
        Standard deviation of the input, drive units, ``>= 0`` (broadcast against ``mu``).

    Returns
    -------
    float or numpy.ndarray
        Mean rate, Hz.
    """
    return _gaussian(transfer, mu, s, "rate")


def gaussian_gain(transfer: Transfer, mu, s) -> float | np.ndarray:
    """Effective gain ``E[phi'(x)]`` (= ``d E[phi(x)] / d mu``) for ``x ~ N(mu, s^2)``.

    Exact for the leaky ReLU; at ``s = 0`` the slope at ``mu``, with the mean of the two
    slopes at a kink (the limit ``s -> 0``). Other transfers: quadrature of ``phi'`` as in
    :func:`gaussian_mean_rate`, or, where ``phi'`` diverges (LIF, PowerLaw with ``n < 1``),
    of Stein's identity ``E[phi'(x)] = E[(x - mu) phi(x)] / s**2`` (at ``s = 0``:
    ``transfer.derivative(mu)``).

    Parameters
    ----------
    transfer : Transfer
        Rate transfer ``phi`` (Hz).
    mu : array_like
        Mean input, drive units.
    s : array_like
        Standard deviation of the input, drive units, ``>= 0``.

    Returns
    -------
    float or numpy.ndarray
        Gain, Hz per drive unit.
    """
    return _gaussian(transfer, mu, s, "gain")


# --------------------------------------------------------------------------------------------
# fixed points
# --------------------------------------------------------------------------------------------

class _Neurons:
    """One transfer per neuron, evaluated group by group (neurons sharing a transfer)."""

    def __init__(self, transfer: Transfer | Sequence[Transfer], n: int):
        items = [transfer] * n if isinstance(transfer, Transfer) else list(transfer)
        if len(items) != n or not all(isinstance(t, Transfer) for t in items):
            raise ModelError("need one Transfer, or one per neuron", key="transfer",
                             value=transfer, allowed=f"a Transfer or a sequence of {n}")
        groups: dict[Transfer, list[int]] = {}
        for i, item in enumerate(items):
            groups.setdefault(item, []).append(i)
        self.groups = [(t, np.array(idx)) for t, idx in groups.items()]
        self.n = n

    def _apply(self, method: str, x: np.ndarray) -> np.ndarray:
        out = np.empty(self.n)
        for t, idx in self.groups:
            func = t if method == "value" else t.derivative
            out[idx] = func(x[idx])
        return out

    def value(self, x: np.ndarray) -> np.ndarray:
        return self._apply("value", x)

    def derivative(self, x: np.ndarray) -> np.ndarray:
        return self._apply("derivative", x)

    def per_neuron(self, get) -> np.ndarray:
        out = np.empty(self.n)
        for t, idx in self.groups:
            out[idx] = get(t)
        return out


def _network_arrays(W, I0, tau):
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ModelError("must be a square (post x pre) matrix", key="W",
                         value=f"array of shape {W.shape}", allowed="shape (N, N)")
    n = W.shape[0]
    check_finite("W", W)
    I0 = np.broadcast_to(np.asarray(check_finite("I0", I0), float), (n,)).copy()
    tau = np.broadcast_to(np.asarray(tau, float), (n,)).copy()
    check_range("tau", tau, low=0.0, low_open=True, high=math.inf, high_open=True, unit="s")
    return W, I0, tau


def _contraction_bound(W: np.ndarray, lip: np.ndarray, form: str) -> float:
    """``|| diag(Lip) W ||_2`` (rate form) or ``|| W diag(Lip) ||_2`` (voltage form)."""
    infinite = ~np.isfinite(lip)
    finite_lip = np.where(infinite, 0.0, lip)
    if form == "rate":
        scaled, touched = finite_lip[:, None] * W, np.any(W[infinite, :] != 0)
    else:
        scaled, touched = W * finite_lip[None, :], np.any(W[:, infinite] != 0)
    return math.inf if touched else float(np.linalg.norm(scaled, 2))


class _System:
    """The fixed-point problem ``y = G(y)`` in the state of the chosen form.

    Rate form: ``y = r``, ``G(r) = phi(W r + I0)``. Voltage form: ``y = v``,
    ``G(v) = W phi(v) + I0``. Both have the same fixed rates ``r* = phi(W r* + I0)``.
    """

    def __init__(self, W, I0, neurons: _Neurons, form: str):
        self.W, self.I0, self.neurons, self.form = W, I0, neurons, form

    def input(self, y):
        return self.W @ y + self.I0 if self.form == "rate" else y

    def map(self, y):
        if self.form == "rate":
            return self.neurons.value(self.W @ y + self.I0)
        return self.W @ self.neurons.value(y) + self.I0

    def residual(self, y):
        return y - self.map(y)

    def jacobian(self, y):
        """Jacobian of the residual: ``I - D W`` (rate) or ``I - W D`` (voltage)."""
        slope = self.neurons.derivative(self.input(y))
        product = slope[:, None] * self.W if self.form == "rate" else self.W * slope[None, :]
        return np.eye(len(y)) - product


def _tolerance(y, tol: float) -> float:
    return tol * (1.0 + float(np.max(np.abs(y), initial=0.0)))


def _relax(system: _System, y, rate, tol: float, max_iter: int):
    """Damped iteration ``y <- y + rate (G(y) - y)``; returns (y, residual, steps)."""
    limit = 1e12 * (1.0 + float(np.max(np.abs(y), initial=0.0)) + np.max(np.abs(system.I0)))
    residual = math.inf
    for step in range(max_iter + 1):
        update = system.map(y) - y
        residual = float(np.max(np.abs(update), initial=0.0))
        if not np.isfinite(residual) or np.max(np.abs(y), initial=0.0) > limit:
            return y, math.inf, step
        if residual <= _tolerance(y, tol) or step == max_iter:
            return y, residual, step
        y = y + rate * update
    return y, residual, max_iter  # pragma: no cover - the loop always returns


def _newton(system: _System, y, tol: float, max_steps: int = 100):
    """Newton's method with the piecewise-linear Jacobian and a backtracking line search."""
    res = system.residual(y)
    for step in range(max_steps + 1):
        if not np.all(np.isfinite(res)):
            return y, math.inf, step
        if np.max(np.abs(res), initial=0.0) <= _tolerance(y, tol) or step == max_steps:
            return y, float(np.max(np.abs(res), initial=0.0)), step
        jac = system.jacobian(y)
        try:
            direction = np.linalg.solve(jac, -res)
        except np.linalg.LinAlgError:
            direction = np.linalg.lstsq(jac, -res, rcond=None)[0]
        norm, lam = np.linalg.norm(res), 1.0
        while lam >= 1e-6:
            trial = y + lam * direction
            trial_res = system.residual(trial)
            if np.linalg.norm(trial_res) < (1.0 - 1e-4 * lam) * norm:
                break
            lam *= 0.5
        else:
            return y, float(np.max(np.abs(res))), step
        y, res = trial, trial_res
    return y, float(np.max(np.abs(res))), max_steps  # pragma: no cover


@dataclass(frozen=True, eq=False)
class FixedPoint:
    """A fixed point of ``r* = phi(W r* + I0)`` and its linear stability.

    Attributes
    ----------
    rate : numpy.ndarray
        ``r*`` per neuron, Hz.
    input : numpy.ndarray
        Total input ``h* = W r* + I0`` per neuron, drive units (the voltage ``v*`` of the
        voltage form).
    slope : numpy.ndarray
        ``D = phi'(h*)`` per neuron, Hz per drive unit (right derivative at a kink).
    eigenvalues : numpy.ndarray
        Eigenvalues of the dynamics' Jacobian, 1/s (complex): ``(-I + D W) / tau`` (rate
        form) or ``(-I + W D) / tau`` (voltage form), rows divided by each neuron's tau.
    form : str
        ``"rate"`` or ``"voltage"``.
    stable : bool
        ``max_real_eigenvalue < 0``. A neuron sitting exactly on a kink makes this the
        stability of the right-hand linearisation only.
    max_real_eigenvalue : float
        Largest real part of ``eigenvalues``, 1/s.
    contraction_bound : float
        ``|| diag(Lip) W ||_2`` (rate form) or ``|| W diag(Lip) ||_2`` (voltage form) with
        the per-neuron Lipschitz constants; equals ``Lip ||W||_2`` for a shared transfer.
    unique_guaranteed : bool
        ``contraction_bound < 1``: the fixed point is unique and plain iteration converges.
    silent_fraction : float
        Fraction of neurons whose input ``h*`` is strictly below their transfer's threshold
        (``threshold``, or ``v_th`` for the LIF transfer).
    residual : float
        ``max |y - G(y)|`` at the returned state (Hz for the rate form, drive units for the
        voltage form).
    n_iter : int
        Iterations plus Newton steps used.
    converged : bool
        ``residual <= tol (1 + max |y|)``.
    method : str
        The stages that ran, e.g. ``"iteration+newton"``.
    """

    rate: np.ndarray
    input: np.ndarray
    slope: np.ndarray
    eigenvalues: np.ndarray
    form: str
    stable: bool
    max_real_eigenvalue: float
    contraction_bound: float
    unique_guaranteed: bool
    silent_fraction: float
    residual: float
    n_iter: int
    converged: bool
    method: str

    def to_dataset(self) -> xr.Dataset:
        """The fixed point as a Dataset over dim ``neuron`` (scalars as 0-d variables)."""
        neuron = np.arange(self.rate.size)
        per_neuron = {
            "rate": (self.rate, "Hz", "fixed-point rate"),
            "input": (self.input, _DRIVE, "total input W r + I0"),
            "slope": (self.slope, "Hz/drive unit", "transfer slope at the fixed point"),
        }
        scalars = {
            "stable": (self.stable, "1", "linearly stable"),
            "max_real_eigenvalue": (self.max_real_eigenvalue, "1/s",
                                    "largest real part of the Jacobian's eigenvalues"),
            "contraction_bound": (self.contraction_bound, "1", "Lipschitz bound of the map"),
            "unique_guaranteed": (self.unique_guaranteed, "1", "contraction_bound < 1"),
            "silent_fraction": (self.silent_fraction, "1",
                                "fraction of neurons below threshold"),
            "residual": (self.residual, "Hz" if self.form == "rate" else _DRIVE,
                         "fixed-point residual"),
            "n_iter": (self.n_iter, "1", "iterations and Newton steps"),
            "converged": (self.converged, "1", "residual below tolerance"),
        }
        ds = xr.Dataset(coords={"neuron": neuron})
        _annotate(ds.coords["neuron"], "neuron", *_COORD_ATTRS["neuron"])
        for name, (value, units, long_name) in per_neuron.items():
            ds[name] = xr.DataArray(value, dims=["neuron"], attrs={"units": units,
                                                                   "long_name": long_name})
        for name, (value, units, long_name) in scalars.items():
            ds[name] = xr.DataArray(value, attrs={"units": units, "long_name": long_name})
        ds.attrs.update(form=self.form, method=self.method)
        return ds


def fixed_point(W, I0, transfer: Transfer | Sequence[Transfer], *, tau=1.0,
                form: str = "rate", r_init=None, tol: float = 1e-12, max_iter: int = 10_000,
                method: str = "auto", damping: float = 0.5) -> FixedPoint:
    """Fixed point of a rate network, ``r* = phi(W r* + I0)``, with its stability.

    The rate form ``tau dr/dt = -r + phi(W r + I0)`` and the voltage form
    ``tau dv/dt = -v + W phi(v) + I0`` have the same fixed points (``v* = W r* + I0``).
    Their Jacobians ``T^-1 (D W - I)`` and ``T^-1 (W D - I)`` (``T = diag(tau)``,
    ``D = diag(phi')``) differ but are similar (``D^-1 [.] D`` when ``D`` is invertible, by
    continuity otherwise), so stability is the same in both forms, also for heterogeneous
    ``tau``; the form matters for the search (which state is iterated) and the residual.

    Search (``method="auto"``): if the contraction bound is below 1 the map is iterated
    as is (Banach: unique fixed point, geometric convergence); otherwise by damped
    iteration, an Euler scheme of the network's own dynamics with step ``damping *
    min(tau)``, which settles on a stable state reached from ``r_init``. The iteration hands
    over at a relative residual of 1e-8 to Newton's method with the piecewise-linear
    Jacobian (exact for piecewise-linear ``phi`` once the active pieces are found); if that
    fails, the iteration resumes, and then ``scipy.optimize.root`` (hybrid Powell) is tried.
    If the iteration runs away (unbounded ``phi``), Newton starts from ``r_init``.
    ``method="newton"`` skips the iteration and so finds the fixed point near ``r_init``
    even when it is unstable; ``method="iterate"`` only iterates. A failure is reported
    (``converged=False``), not raised. Non-contracting networks may have several fixed
    points (or none, for unbounded ``phi``): the one found depends on ``r_init``.

    Parameters
    ----------
    W : array_like, shape (N, N)
        Coupling, post x pre, Hz^-1 times drive units (input per unit rate).
    I0 : array_like, shape (N,) or scalar
        External input, drive units.
    transfer : Transfer or sequence of N Transfer
        Shared or per-neuron transfer (Hz).
    tau : float or array_like, shape (N,)
        Time constants, s (> 0); only affect stability and the damped iteration.
    form : {"rate", "voltage"}
        Which dynamics the stability refers to.
    r_init : array_like, shape (N,), optional
        Initial rates, Hz (default: 0). The voltage form starts at ``W r_init + I0``.
    tol : float
        Convergence: ``max |y - G(y)| <= tol (1 + max |y|)``.
    max_iter : int
        Maximum number of iterations.
    method : {"auto", "newton", "iterate"}
        Search strategy (above).
    damping : float
        Step of the damped iteration in units of ``min(tau)`` (0 < damping <= 1).

    Returns
    -------
    FixedPoint
        Rates, inputs, slopes, stability, contraction bound, residual and counts.
    """
    check_choice("form", form, ("rate", "voltage"))
    check_choice("method", method, ("auto", "newton", "iterate"))
    check_range("damping", damping, low=0.0, low_open=True, high=1.0)
    check_range("tol", tol, low=0.0, low_open=True, high=math.inf, high_open=True)
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ModelError("must be a non-negative integer", key="max_iter", value=max_iter,
                         allowed="max_iter >= 0")
    W, I0, tau = _network_arrays(W, I0, tau)
    n = W.shape[0]
    neurons = _Neurons(transfer, n)
    bound = _contraction_bound(W, neurons.per_neuron(lambda t: t.lipschitz), form)
    unique = bound < 1.0
    system = _System(W, I0, neurons, form)
    rates0 = np.zeros(n) if r_init is None else np.broadcast_to(
        np.asarray(check_finite("r_init", r_init), float), (n,)).copy()
    y = rates0 if form == "rate" else W @ rates0 + I0

    rate = 1.0 if unique else damping * tau.min() / tau
    y, n_iter, stages = _search(system, y, rate, tol, max_iter, method)
    residual = float(np.max(np.abs(system.residual(y)), initial=0.0))
    return _describe(system, y, tau, bound, residual, n_iter, tol, "+".join(stages))


def _search(system: _System, y, rate, tol: float, max_iter: int, method: str):
    """Iteration, then Newton, then more iteration, then ``scipy.optimize.root``.

    Each stage starts from the best state so far (smallest residual) and runs only while
    the tolerance is not met. Returns (state, iterations, stages run).
    """
    best = {"y": y, "res": float(np.max(np.abs(system.residual(y)), initial=0.0))}
    stages, n_iter = [], 0

    def consider(candidate, res, steps, stage):
        nonlocal n_iter
        n_iter += steps
        stages.append(stage)
        if res < best["res"]:
            best.update(y=candidate, res=res)

    def done():
        return best["res"] <= _tolerance(best["y"], tol)

    if method in ("auto", "iterate"):
        loose = tol if method == "iterate" else max(tol, _POLISH_FROM)
        consider(*_relax(system, y, rate, loose, max_iter), "iteration")
    if method == "iterate":
        return best["y"], n_iter, stages
    consider(*_newton(system, best["y"], tol), "newton")
    if not done() and method == "auto" and n_iter < max_iter:
        consider(*_relax(system, best["y"], rate, tol, max_iter - n_iter), "iteration")
    if not done():
        sol = scipy.optimize.root(system.residual, best["y"], jac=system.jacobian,
                                  method="hybr", tol=tol)
        res = float(np.max(np.abs(system.residual(sol.x)), initial=0.0))
        consider(sol.x, res if np.isfinite(res) else math.inf, int(sol.nfev), "root")
    return best["y"], n_iter, stages


def _describe(system: _System, y, tau, bound, residual, n_iter, tol, method) -> FixedPoint:
    """Assemble the FixedPoint (rates, slopes, eigenvalues) at state ``y``."""
    neurons, W = system.neurons, system.W
    rate = y.copy() if system.form == "rate" else neurons.value(y)
    h = W @ rate + system.I0 if system.form == "rate" else y.copy()
    slope = neurons.derivative(h)
    product = slope[:, None] * W if system.form == "rate" else W * slope[None, :]
    eig = np.linalg.eigvals((product - np.eye(len(y))) / tau[:, None])
    threshold = neurons.per_neuron(
        lambda t: getattr(t, "threshold", getattr(t, "v_th", math.nan)))
    max_real = float(np.max(eig.real))
    return FixedPoint(
        rate=rate, input=h, slope=slope, eigenvalues=eig, form=system.form,
        stable=bool(max_real < 0.0), max_real_eigenvalue=max_real, contraction_bound=bound,
        unique_guaranteed=bool(bound < 1.0), silent_fraction=float(np.mean(h < threshold)),
        residual=residual, n_iter=int(n_iter), converged=bool(residual <= _tolerance(y, tol)),
        method=method)


# --------------------------------------------------------------------------------------------
# network linear response
# --------------------------------------------------------------------------------------------

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
    W, _, tau = _network_arrays(W, 0.0, tau)
    n = W.shape[0]
    slope = np.broadcast_to(np.asarray(check_finite("slope", slope), float), (n,))
    freq = np.atleast_1d(np.asarray(check_range("freq", freq, low=0.0, high=math.inf,
                                                high_open=True), float))
    if freq.ndim != 1:
        raise ModelError("must be a scalar or 1-D", key="freq", value=freq, allowed="ndim <= 1")
    e = np.eye(n) if input_vector is None else np.asarray(input_vector, float)
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
        system = np.eye(n) - coupled + np.einsum("fi,ij->fij", 1j * _TWO_PI * f * tau,
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
                 {"units": "Hz/drive unit", "long_name": "linear rate response |chi|"}),
        "phase": (("freq", "neuron"), wrap_phase(np.angle(chi)),
                  {"units": "rad", "long_name": "phase of chi relative to the input's sine"}),
        "rate": (("neuron",), fp.rate, {"units": "Hz", "long_name": "fixed-point rate"}),
        "input": (("neuron",), fp.input, {"units": _DRIVE, "long_name": "total input"}),
        "slope": (("neuron",), fp.slope,
                  {"units": "Hz/drive unit", "long_name": "transfer slope at the fixed point"}),
    }, coords=coords)
    for name in coords:
        _annotate(ds.coords[name], name, *_COORD_ATTRS[name])
    ds.attrs.update(form=form, stable=int(fp.stable),
                    max_real_eigenvalue=fp.max_real_eigenvalue,
                    contraction_bound=fp.contraction_bound)
    return ds
