"""Averages of a transfer over Gaussian input ``x ~ N(mu, s^2)``: moments of ``phi`` and ``phi'``.

``E[phi(x)^k]`` and ``E[phi'(x)^k]`` (``k = 1..4``, raw or central), the mean rate and the
gain, and a Dataset of the derived statistics (variance, skewness, kurtosis, the CV of the
slope, the fraction of inputs below threshold).

Leaky ReLU (clipping and baseline included): closed form. ``phi`` is linear on the pieces
between its kinks; on each piece, split at ``z = (x - mu)/s = 0``, ``(phi - c)^k`` is a
polynomial in ``z`` integrated against the normal density by the tail moments of
:mod:`~neurorect.theory.normal` (relative error <= 5e-14 per moment; no cancellation in the
tails). ``phi'`` is piecewise constant: ``E[phi'^k] = sum_j b_j^k P_j``. Central moments are
computed as ``E[(phi - m)^k]`` directly (``m`` the mean), never from raw moments, so the
variance of a nearly linear unit far above threshold keeps its digits.

Other transfers: composite Gauss-Legendre quadrature on the standardised input
``z in [-12, 12]`` (the tail beyond is < 1e-31 of the mass), 12 panels of 20 nodes, split at
the threshold and graded geometrically towards it. Against adaptive quadrature this is
~1e-14 relative for Softplus, ELU, GELU, Sigmoid and PowerLaw (tests/test_gaussian.py:
<= 1e-10 of ``E[|phi - c|^k]``). Where ``phi'`` diverges at the threshold (the LIF curve,
PowerLaw with ``n < 1``), ``E[phi']`` uses Stein's identity ``E[phi'(x)] = E[z phi(x)] / s``;
``E[phi'^k]`` for ``k >= 2`` is ``inf`` for the LIF curve and for PowerLaw with
``k (1 - n) >= 1`` (a non-integrable singularity), and otherwise integrated after the
substitution ``u - t = (s w)^(1/(1 - p))``, ``p = k (1 - n)``, that removes the singularity.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import xarray as xr
from scipy.special import ndtr

from neurorect._arguments import float_array
from neurorect._validate import check_finite, check_integer, check_range
from neurorect.errors import ModelError, NeurorectWarning
from neurorect.theory.common import DRIVE, PARAM_UNITS, annotate, argument, check_transfer
from neurorect.theory.gaussian_quad import METHOD as QUADRATURE_METHOD
from neurorect.theory.gaussian_quad import expect, quad_powers, quad_slope_powers
from neurorect.theory.normal import (
    density,
    interval_moments,
    piece_power_sums,
    tail_moments,
)
from neurorect.theory.pwl import LEAKY_NAMES, Ramps, leaky_relu_ramps
from neurorect.transfer import LeakyReLU, Transfer

__all__ = ["gaussian_mean_rate", "gaussian_gain", "gaussian_moment", "gaussian_slope_moment",
           "gaussian_stats"]

#: Highest power k of gaussian_moment / gaussian_slope_moment.
MAX_POWER = 4
_CLOSED = "closed form (piecewise linear: tail moments of the normal on each piece)"


# --------------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------------

class _Inputs:
    """Validated, broadcast ``mu``, ``s`` and transfer parameters; the distinct transfers.

    ``combos[i]`` is the transfer of the points where ``index == i`` (one combination of the
    overridden parameters); ``params`` are the leaky ReLU's parameter arrays (broadcast to
    ``shape``) when ``transfer`` is one.
    """

    def __init__(self, transfer: Transfer, mu, s, params: dict):
        check_transfer(transfer, params)
        arrays = [np.asarray(check_finite("mu", float_array("mu", mu)), float),
                  np.asarray(float_array("s", s), float)]
        arrays += [np.asarray(value, float) for value in params.values()]
        arrays = np.broadcast_arrays(*arrays)
        check_range("s", arrays[1], low=0.0, high=math.inf, high_open=True)
        self.mu, self.s, self.shape = arrays[0], arrays[1], arrays[0].shape
        overrides = dict(zip(params, arrays[2:], strict=True))
        table = np.stack([a.ravel() for a in overrides.values()], -1) if overrides else None
        if table is None:
            self.combos, self.index = [transfer], np.zeros(self.shape, dtype=int)
        else:
            rows, inverse = np.unique(table, axis=0, return_inverse=True)
            self.combos = [transfer.replace(**dict(zip(overrides, map(float, row),
                                                       strict=True))) for row in rows]
            self.index = np.asarray(inverse).reshape(self.shape)
        self.leaky = isinstance(transfer, LeakyReLU)
        if self.leaky:
            self.params = [overrides.get(name, np.full(self.shape, getattr(transfer, name)))
                           for name in LEAKY_NAMES]
        self.kind = type(transfer)

    def ramps(self) -> Ramps:
        ramps = leaky_relu_ramps(*self.params)
        return ramps.active() if ramps.delta.size else ramps  # absent clipping: one kink

    def per_combo(self, compute: Callable[[Transfer, np.ndarray], np.ndarray]) -> np.ndarray:
        """``compute(transfer, mask)`` (values at the points of ``mask``), assembled."""
        out = np.empty(self.shape)
        for number, transfer in enumerate(self.combos):
            mask = self.index == number
            out[mask] = compute(transfer, mask)
        return out


def _power(k) -> int:
    """``k`` checked: an integer in ``1..MAX_POWER``."""
    check_integer("k", k, low=1)
    if k > MAX_POWER:
        raise ModelError("power out of range", key="k", value=k,
                         allowed=f"an integer 1 <= k <= {MAX_POWER}")
    return int(k)


def _finish(out: np.ndarray) -> float | np.ndarray:
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# leaky ReLU: closed form
# --------------------------------------------------------------------------------------------

def _ramp_value(ramps: Ramps, x: np.ndarray) -> np.ndarray:
    """``phi(x)`` from its ramps (broadcast over the points)."""
    return (ramps.base + ramps.b0 * (x - ramps.threshold)
            + np.sum(ramps.delta * np.maximum(x[..., None] - ramps.kappa, 0.0), -1))


class _Pieces:
    """The linear pieces of a leaky ReLU in standardised coordinates, with their tail moments.

    Piece ``r`` lies between ``z_{r-1}`` and ``z_r`` (``z_{-1} = -inf``, ``z_K = inf``), has
    slope ``slopes[..., r]`` (Hz per drive unit) and is integrated in two parts, above and
    below ``z = 0``, each expanded about its end nearer to 0.
    """

    def __init__(self, ramps: Ramps, mu: np.ndarray, s: np.ndarray, powers: int):
        order = np.argsort(ramps.kappa, axis=-1)
        kappa = np.take_along_axis(ramps.kappa, order, -1)
        delta = np.take_along_axis(ramps.delta, order, -1)
        self.ramps, self.mu, self.K = ramps, mu, kappa.shape[-1]
        self.positive = s > 0
        self.sd = np.where(self.positive, s, 1.0)  # s = 0 is handled by the callers
        self.slopes = np.concatenate([ramps.b0[..., None],
                                      ramps.b0[..., None] + np.cumsum(delta, -1)], -1)
        self.kappa, self.delta = kappa, delta
        self.z = (kappa - mu[..., None]) / self.sd[..., None]
        self.above = tail_moments(np.maximum(self.z, 0.0), powers)  # (n, ..., kink)
        self.below = tail_moments(np.maximum(-self.z, 0.0), powers)
        self.origin = tail_moments(np.zeros(mu.shape), powers)

    def parts(self):
        """For each piece and each side of 0: (anchor z, direction, S_n moments)."""
        inf = np.full(self.mu.shape, math.inf)
        for r in range(self.K + 1):
            first, last = r == 0, r == self.K
            # above 0: from max(z_{r-1}, 0) to max(z_r, 0)
            start = self.origin if first else self.above[..., r - 1]
            stop = np.zeros_like(self.origin) if last else self.above[..., r]
            lo = np.zeros(self.mu.shape) if first else np.maximum(self.z[..., r - 1], 0.0)
            hi = inf if last else np.maximum(self.z[..., r], 0.0)
            yield r, lo, 1.0, interval_moments(start, stop, hi - lo)
            # below 0, mirrored (w = -z): from max(-z_r, 0) to max(-z_{r-1}, 0)
            start = self.origin if last else self.below[..., r]
            stop = np.zeros_like(self.origin) if first else self.below[..., r - 1]
            lo = np.zeros(self.mu.shape) if last else np.maximum(-self.z[..., r], 0.0)
            hi = inf if first else np.maximum(-self.z[..., r - 1], 0.0)
            yield r, -lo, -1.0, interval_moments(start, stop, hi - lo)

    def powers(self, shift) -> np.ndarray:
        """``E[(phi - shift)^k]`` for ``k = 0..powers``, where ``s > 0``."""
        total = 0.0
        for r, anchor, direction, moments in self.parts():
            value = _ramp_value(self.ramps, self.mu + self.sd * anchor) - shift
            total = total + piece_power_sums(value, direction * self.slopes[..., r] * self.sd,
                                             moments)
        return total

    def probabilities(self) -> np.ndarray:
        """``P(piece r)`` (last axis), limits ``s -> 0`` included (half each side of a kink)."""
        prob = np.zeros(self.slopes.shape)
        for r, _, _, moments in self.parts():
            prob[..., r] += moments[0]
        # s -> 0: Phi(z_r) - Phi(z_{r-1}) -> H(kappa_r - mu) - H(kappa_{r-1} - mu), H(0) = 1/2
        step = 0.5 * (1.0 + np.sign(self.kappa - self.mu[..., None]))
        ones = np.ones(step.shape[:-1] + (1,))
        limit = np.diff(np.concatenate([0.0 * ones, step, ones], -1), axis=-1)
        return np.where(self.positive[..., None], prob, limit)


def _leaky_powers(inputs: _Inputs, powers: int, shift) -> np.ndarray:
    """``E[(phi - shift)^k]``, ``k = 0..powers`` (first axis), leaky ReLU."""
    ramps = inputs.ramps()
    pieces = _Pieces(ramps, inputs.mu, inputs.s, powers)
    out = pieces.powers(shift)
    degenerate = _ramp_value(ramps, inputs.mu) - shift  # s = 0: the point mass at mu
    k = np.arange(powers + 1).reshape((-1,) + (1,) * inputs.mu.ndim)
    return np.where(pieces.positive, out, degenerate ** k)


def _leaky_slope_powers(inputs: _Inputs, powers: int, shift) -> np.ndarray:
    """``E[(phi' - shift)^k]``, ``k = 0..powers``: ``sum_j (b_j - shift)^k P_j``."""
    pieces = _Pieces(inputs.ramps(), inputs.mu, inputs.s, 0)
    prob = pieces.probabilities()
    centred = pieces.slopes - np.asarray(shift, float)[..., None]
    return np.stack([np.sum(prob * centred ** k, -1) for k in range(powers + 1)])


def _leaky_curvature(inputs: _Inputs) -> np.ndarray:
    """``E[phi(x) phi''(x)] = sum_j delta_j phi(kappa_j) pdf_x(kappa_j)`` (``phi''``: the
    slope changes at the kinks); at ``s = 0`` its limit (0, or +-inf at a kink where
    ``phi != 0``)."""
    ramps = inputs.ramps()
    pieces = _Pieces(ramps, inputs.mu, inputs.s, 0)
    values = np.zeros(pieces.kappa.shape)  # phi at each kink
    for j in range(pieces.K):
        values[..., j] = _ramp_value(ramps, pieces.kappa[..., j])
    term = pieces.delta * values
    smooth = np.sum(term * density(pieces.z), -1) / pieces.sd
    on_kink = (pieces.kappa == inputs.mu[..., None]) & (term != 0)
    sign = np.sum(np.where(on_kink, np.sign(term), 0.0), -1)
    limit = np.select([sign > 0, sign < 0], [math.inf, -math.inf], 0.0)
    return np.where(pieces.positive, smooth, limit)


# --------------------------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------------------------

def _powers(inputs: _Inputs, powers: int, shift=0.0, slope: bool = False) -> np.ndarray:
    """``E[(f - shift)^k]``, ``k = 0..powers``, ``f = phi`` or ``phi'``, over the points."""
    shift = np.broadcast_to(np.asarray(shift, float), inputs.shape)
    if inputs.leaky:
        compute = _leaky_slope_powers if slope else _leaky_powers
        return compute(inputs, powers, shift)
    rule = quad_slope_powers if slope else quad_powers
    out = np.empty((powers + 1,) + inputs.shape)
    for number, transfer in enumerate(inputs.combos):
        mask = inputs.index == number
        out[:, mask] = rule(transfer, inputs.mu[mask], inputs.s[mask], powers, shift[mask])
    return out


def _moment(transfer, mu, s, k, central: bool, params: dict, slope: bool):
    k = _power(k)
    inputs = _Inputs(transfer, mu, s, params)
    if not central:
        return _finish(_powers(inputs, k, 0.0, slope)[k])
    mean = _powers(inputs, 1, 0.0, slope)[1]
    return _finish(_powers(inputs, k, mean, slope)[k])


def gaussian_moment(transfer: Transfer, mu, s, k: int, *, central: bool = False,
                    **params) -> float | np.ndarray:
    """``E[phi(x)^k]`` (or ``E[(phi(x) - E[phi(x)])^k]``) for Gaussian input ``x ~ N(mu, s^2)``.

    Exact for the leaky ReLU, clipping and baseline included (error <= 5e-14 of
    ``E[|phi - c|^k]``, far tails included, plus for a central moment the effect of the
    mean's own rounding, ~1e-16 ``|E[phi]|``; see :mod:`neurorect.theory.gaussian`);
    quadrature with ~1e-14 relative accuracy for the other transfers. At ``s = 0``:
    ``phi(mu)^k`` (central: 0).

    Parameters
    ----------
    transfer : Transfer
        Rate transfer ``phi`` (Hz).
    mu : array_like
        Mean input, drive units.
    s : array_like
        Standard deviation of the input, drive units, ``>= 0``.
    k : int
        The power, ``1 <= k <= 4``.
    central : bool
        Central moment ``E[(phi - m)^k]``, ``m = E[phi]``, computed directly (not from the
        raw moments, so no cancellation).
    **params : array_like
        Overrides of the transfer's parameters (e.g. ``alpha=[0, 0.1, 0.5]``); ``mu``, ``s``
        and the overrides broadcast together (numpy rules). Each combination is validated
        as the transfer class would.

    Returns
    -------
    float or numpy.ndarray
        Hz^k, the broadcast shape of ``mu``, ``s`` and ``params``.

    Raises
    ------
    ModelError
        ``s < 0``, non-finite ``mu``, ``k`` outside 1..4, an unknown or invalid parameter.
    """
    return _moment(transfer, mu, s, k, central, params, slope=False)


def gaussian_slope_moment(transfer: Transfer, mu, s, k: int, *, central: bool = False,
                          **params) -> float | np.ndarray:
    """``E[phi'(x)^k]`` (or the central moment) for Gaussian input ``x ~ N(mu, s^2)``.

    Leaky ReLU: exact, ``sum_j b_j^k P(piece j)`` (slopes ``b_j``: ``gain alpha``, ``gain``,
    0 where clipped); at ``s = 0`` the limit ``s -> 0``, half of each side's ``b^k`` on a kink.
    Other transfers: quadrature (module docstring); ``inf`` where the moment diverges (LIF
    curve for ``k >= 2``, PowerLaw for ``k (1 - n) >= 1``); ``k = 1`` with a divergent slope
    by Stein's identity.

    Parameters
    ----------
    transfer, mu, s, k, central, **params
        As in :func:`gaussian_moment`.

    Returns
    -------
    float or numpy.ndarray
        (Hz per drive unit)^k.
    """
    return _moment(transfer, mu, s, k, central, params, slope=True)


def gaussian_mean_rate(transfer: Transfer, mu, s, **params) -> float | np.ndarray:
    """Mean rate ``E[phi(x)]`` for Gaussian input ``x ~ N(mu, s^2)``.

    Exact for the leaky ReLU (clipping included); other transfers: quadrature on
    ``mu +- 12 s`` graded towards the threshold (~1e-14 relative against adaptive quadrature).

    Parameters
    ----------
    transfer, mu, s, **params
        As in :func:`gaussian_moment`: the transfer ``phi`` (Hz), the mean input and its
        standard deviation (drive units, ``s >= 0``), parameter overrides (all broadcast).

    Returns
    -------
    float or numpy.ndarray
        Mean rate, Hz.
    """
    return gaussian_moment(transfer, mu, s, 1, **params)


def gaussian_gain(transfer: Transfer, mu, s, **params) -> float | np.ndarray:
    """Effective gain ``E[phi'(x)]`` (= ``d E[phi(x)] / d mu``) for ``x ~ N(mu, s^2)``.

    Exact for the leaky ReLU; at ``s = 0`` the slope at ``mu``, with the mean of the two
    slopes at a kink (the limit ``s -> 0``). Other transfers: quadrature of ``phi'`` as in
    :func:`gaussian_mean_rate`, or, where ``phi'`` diverges (LIF, PowerLaw with ``n < 1``),
    of Stein's identity ``E[phi'(x)] = E[(x - mu) phi(x)] / s**2`` (at ``s = 0``:
    ``transfer.derivative(mu)``).

    Parameters
    ----------
    transfer, mu, s, **params
        As in :func:`gaussian_moment`.

    Returns
    -------
    float or numpy.ndarray
        Gain, Hz per drive unit.
    """
    return gaussian_slope_moment(transfer, mu, s, 1, **params)


def variance_slope(transfer: Transfer, mu, s) -> np.ndarray:
    """``d E[phi(x)^2] / d(s^2) = E[phi'^2] + E[phi phi'']`` (= ``E[z phi phi'] / s``), the
    slope of the variance map of depth propagation (internal; numpy arrays, no overrides)."""
    inputs = _Inputs(transfer, mu, s, {})
    if inputs.leaky:
        return _leaky_slope_powers(inputs, 2, 0.0)[2] + _leaky_curvature(inputs)
    mu_, s_ = inputs.mu.ravel(), inputs.s.ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        stein = expect(transfer, mu_, s_, lambda x, z: z * np.asarray(transfer(x), float)
                        * np.asarray(transfer.derivative(x), float)) / s_
    at_zero = np.asarray(transfer.derivative(mu_), float) ** 2
    return np.where(s_ > 0, stein, at_zero).reshape(inputs.shape)


# --------------------------------------------------------------------------------------------
# the statistics as a Dataset
# --------------------------------------------------------------------------------------------

_STATS = {
    "mean_rate": ("Hz", "mean rate E[phi]"),
    "second_moment": ("Hz^2", "second moment E[phi^2]"),
    "variance": ("Hz^2", "variance of the rate"),
    "rate_std": ("Hz", "standard deviation of the rate"),
    "skewness": ("1", "skewness of the rate"),
    "excess_kurtosis": ("1", "excess kurtosis of the rate"),
    "gain": ("Hz/drive unit", "mean slope E[phi']"),
    "slope_second_moment": ("(Hz/drive unit)^2", "second moment of the slope E[phi'^2]"),
    "slope_cv": ("1", "coefficient of variation of the slope"),
    "below_threshold": ("1", "fraction of inputs below threshold P(x < threshold)"),
}


def gaussian_stats(transfer: Transfer, mu, s, **params) -> xr.Dataset:
    """Statistics of ``phi(x)`` and ``phi'(x)`` for Gaussian input ``x ~ N(mu, s^2)``.

    The moments of :func:`gaussian_moment` and :func:`gaussian_slope_moment` (exact for the
    leaky ReLU, quadrature otherwise), the central ones computed directly.

    Parameters
    ----------
    transfer : Transfer
        Rate transfer ``phi`` (Hz).
    mu, s : float, 1-D array or xarray.DataArray
        Mean and standard deviation (``>= 0``) of the input, drive units; a 1-D array becomes
        a dim of that name, a DataArray keeps its dims, a scalar is a scalar coordinate.
    **params : float, 1-D array or xarray.DataArray
        Overrides of the transfer's parameters (a 1-D array becomes a dim named after it).

    Returns
    -------
    xarray.Dataset
        ``mean_rate`` (Hz), ``second_moment`` (Hz^2), ``variance`` (Hz^2), ``rate_std`` (Hz),
        ``skewness``, ``excess_kurtosis``, ``gain`` (``E[phi']``, Hz per drive unit),
        ``slope_second_moment``, ``slope_cv`` (``sd(phi') / E[phi']``) and
        ``below_threshold`` (``P(x < threshold)``, ``v_th`` for the LIF curve; NaN for a
        transfer without a threshold). Skewness, kurtosis and the slope CV are NaN where the
        variance (or mean slope) is 0 (a point mass: ``s = 0`` or everything clipped), with
        a :class:`~neurorect.NeurorectWarning`.
    """
    mu_da, s_da = argument("mu", mu), argument("s", s, low=0.0)
    overrides = {name: argument(name, value) for name, value in params.items()}
    grids = xr.broadcast(mu_da, s_da, *overrides.values())
    dims, coords = grids[0].dims, grids[0].coords
    inputs = _Inputs(transfer, grids[0].values, grids[1].values,
                     dict(zip(overrides, (g.values for g in grids[2:]), strict=True)))
    raw = _powers(inputs, 2)
    central = _powers(inputs, 4, raw[1])
    slope_raw = _powers(inputs, 2, slope=True)
    slope_var = _powers(inputs, 2, slope_raw[1], slope=True)[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "mean_rate": raw[1], "second_moment": raw[2], "variance": central[2],
            "rate_std": np.sqrt(central[2]), "skewness": central[3] / central[2] ** 1.5,
            "excess_kurtosis": central[4] / central[2] ** 2 - 3.0,
            "gain": slope_raw[1], "slope_second_moment": slope_raw[2],
            "slope_cv": np.sqrt(slope_var) / slope_raw[1],
            "below_threshold": _below_threshold(inputs),
        }
    degenerate = (central[2] <= 0) | (slope_raw[1] == 0)
    for name in ("skewness", "excess_kurtosis"):
        values[name] = np.where(central[2] > 0, values[name], math.nan)
    values["slope_cv"] = np.where(slope_raw[1] != 0, values["slope_cv"], math.nan)
    if np.any(degenerate):
        warnings.warn(f"gaussian_stats: {int(np.sum(degenerate))} point(s) have a rate of zero "
                      "variance or a zero mean slope (s = 0, or all input clipped): their "
                      "skewness, kurtosis or slope CV is NaN", NeurorectWarning, stacklevel=2)
    ds = xr.Dataset({name: annotate(xr.DataArray(values[name], dims=dims, coords=coords),
                                    *_STATS[name]) for name in _STATS})
    for name, da in (("mu", mu_da), ("s", s_da), *overrides.items()):
        if da.ndim == 0:
            ds = ds.assign_coords({name: da.values})
    for name in ds.coords:
        if name in ("mu", "s"):
            annotate(ds.coords[name], DRIVE, "mean input" if name == "mu" else "input s.d.")
        elif name in overrides:
            annotate(ds.coords[name], PARAM_UNITS.get(name, "1"), f"{transfer.kind} {name}")
    ds.attrs.update(transfer=repr(transfer), method=_CLOSED if inputs.leaky else QUADRATURE_METHOD,
                    convention="x ~ N(mu, s^2); moments of phi(x) and phi'(x)")
    return ds


def _below_threshold(inputs: _Inputs) -> np.ndarray:
    """``P(x < threshold)``; at ``s = 0``: 1 if ``mu < threshold`` else 0."""
    def compute(transfer: Transfer, mask: np.ndarray) -> np.ndarray:
        threshold = getattr(transfer, "threshold", getattr(transfer, "v_th", math.nan))
        mu, s = inputs.mu[mask], inputs.s[mask]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(s > 0, ndtr((threshold - mu) / s), (mu < threshold) * 1.0)
    if inputs.leaky:
        threshold = inputs.params[LEAKY_NAMES.index("threshold")]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(inputs.s > 0, ndtr((threshold - inputs.mu) / inputs.s),
                            (inputs.mu < threshold) * 1.0)
    return inputs.per_combo(compute)
