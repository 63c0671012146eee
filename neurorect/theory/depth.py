"""Signal propagation through layers of rate neurons: the mean-field recursion.

A feed-forward network of ``L`` layers of ``N`` units (:func:`neurorect.feedforward.feedforward`)
in its steady state: layer 1 takes the external input ``h_1 = I``, ``I_i ~ N(input_mean,
input_var)`` across units; layer ``l + 1`` takes ``h_{l+1} = W_{l+1} phi(h_l) + b_{l+1}``,
``W_ij ~ N(0, weight_var / N)``, ``b_i ~ N(bias_mean, bias_var)``. For large ``N`` the
inputs of a layer are Gaussian across its units (Poole et al. 2016; Schoenholz et al. 2017),
with mean ``bias_mean`` and variance

    ``q_{l+1} = weight_var E[phi(h_l)^2] + bias_var``,   ``h_l ~ N(mean_l, q_l)``,

and a small perturbation (the Jacobian ``D_{l+1} W_{l+1}``, ``D = diag(phi')``) grows by

    ``chi_{l+1} = weight_var E[phi'(h_{l+1})^2]``

per layer in mean square. The expectations are the exact Gaussian moments of
:mod:`~neurorect.theory.gaussian`. The same map describes the static mean field of a random
recurrent network (``weight_var = g^2``, ``bias_mean = I0``): its fixed point ``q*`` and
``sqrt(chi*) = g sqrt(E[phi'^2])``, the radius of the Jacobian's eigenvalue disc.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import xarray as xr

from neurorect._validate import check_integer, check_range
from neurorect.errors import NeurorectWarning
from neurorect.theory.common import DRIVE, annotate, argument, check_transfer
from neurorect.theory.gaussian import (
    gaussian_moment,
    gaussian_slope_moment,
    variance_slope,
)
from neurorect.transfer import Transfer

__all__ = ["depth_propagation", "depth_fixed_point"]

_ARG_ATTRS = {
    "weight_var": ("1", "weight variance times fan-in (W_ij ~ N(0, weight_var / N))"),
    "bias_var": (f"{DRIVE}^2", "bias variance"),
    "bias_mean": (DRIVE, "bias mean"),
    "input_var": (f"{DRIVE}^2", "variance of the input to layer 1"),
    "input_mean": (DRIVE, "mean of the input to layer 1"),
}
#: Iterates of the variance map beyond this (times 1 + q_init + bias_var + bias_mean^2)
#: count as unbounded growth (q* = inf); so does growth whose steps stop shrinking.
_RUNAWAY = 1e30
_GROWTH_CHECK = 250  # iterations between two checks of the step size


def _arguments(**values) -> tuple[dict[str, xr.DataArray], tuple, dict]:
    """Validated DataArrays of the named arguments, broadcast; their dims and coords."""
    lows = {"weight_var": 0.0, "bias_var": 0.0, "input_var": 0.0}
    das = {name: argument(name, value, low=lows.get(name)) for name, value in values.items()}
    grids = dict(zip(das, xr.broadcast(*das.values()), strict=True))
    first = next(iter(grids.values()))
    return grids, first.dims, first.coords


def _annotated(ds: xr.Dataset, das: dict[str, xr.DataArray], transfer: Transfer) -> xr.Dataset:
    for name, da in das.items():
        if da.ndim == 0:
            ds = ds.assign_coords({name: da.values})
    for name in ds.coords:
        if name in _ARG_ATTRS:
            annotate(ds.coords[name], *_ARG_ATTRS[name])
        elif name == "layer":
            annotate(ds.coords[name], "1", "layer number (1: the input layer)")
    ds.attrs.update(transfer=repr(transfer),
                    method="mean-field recursion with exact Gaussian moments "
                           "(closed form for the leaky ReLU, quadrature otherwise)")
    return ds


def depth_propagation(transfer: Transfer, n_layers: int, *, weight_var, input_var,
                      bias_var=0.0, bias_mean=0.0, input_mean=0.0) -> xr.Dataset:
    """Mean-field statistics of each layer of a deep feed-forward rate network.

    Parameters
    ----------
    transfer : Transfer
        The units' transfer ``phi`` (Hz).
    n_layers : int
        Number of layers ``L`` (>= 1).
    weight_var : float, 1-D array or DataArray
        ``sigma_w^2``: weights ``W_ij ~ N(0, weight_var / N)`` (drive units per Hz, squared,
        times ``N``), ``>= 0``. The He initialisation of ReLU is ``weight_var = 2``.
    input_var, input_mean : float, 1-D array or DataArray
        Variance (``>= 0``) and mean of the input to layer 1 across its units, drive units.
    bias_var, bias_mean : float, 1-D array or DataArray
        Variance (``>= 0``) and mean of the biases of layers 2..L, drive units.

    Returns
    -------
    xarray.Dataset
        Over ``layer`` (1..L) and the dims of array arguments: ``h_mean`` and ``q``, the
        mean and variance across units of the layer's input ``h_l``,
        ``mean_rate`` ``E[phi(h_l)]``, ``second_moment`` ``E[phi(h_l)^2]``,
        ``slope_second_moment`` ``E[phi'(h_l)^2]``, ``jacobian_factor`` (layer 1:
        ``E[phi'(h_1)^2]``, the gain of ``dr_1/dI``; layer ``l > 1``: ``chi_l =
        weight_var E[phi'(h_l)^2]``) and ``jacobian_gain``, their product up to layer ``l``:
        the mean squared singular value of ``d r_l / d I``, ``||J||_F^2 / N``.
    """
    check_transfer(transfer)
    n_layers = check_integer("n_layers", n_layers, low=1)
    das, dims, coords = _arguments(weight_var=weight_var, input_var=input_var,
                                   bias_var=bias_var, bias_mean=bias_mean,
                                   input_mean=input_mean)
    wv, bv, bm = (das[k].values for k in ("weight_var", "bias_var", "bias_mean"))
    mean, var = das["input_mean"].values, das["input_var"].values
    rows = {name: [] for name in ("h_mean", "q", "mean_rate", "second_moment",
                                  "slope_second_moment", "jacobian_factor", "jacobian_gain")}
    gain = 1.0
    for layer in range(1, n_layers + 1):
        s = np.sqrt(var)
        second = gaussian_moment(transfer, mean, s, 2)
        slope2 = gaussian_slope_moment(transfer, mean, s, 2)
        factor = slope2 if layer == 1 else wv * slope2
        gain = gain * factor
        for name, value in (("h_mean", mean), ("q", var),
                            ("mean_rate", gaussian_moment(transfer, mean, s, 1)),
                            ("second_moment", second), ("slope_second_moment", slope2),
                            ("jacobian_factor", factor), ("jacobian_gain", gain)):
            rows[name].append(np.broadcast_to(value, np.shape(wv)))
        mean, var = bm, wv * second + bv
    units = {"h_mean": DRIVE, "q": f"{DRIVE}^2", "mean_rate": "Hz",
             "second_moment": "Hz^2", "slope_second_moment": "(Hz/drive unit)^2",
             "jacobian_factor": "1 (layer 1: (Hz/drive unit)^2)",
             "jacobian_gain": "(Hz/drive unit)^2"}
    names = {"h_mean": "mean of the layer's input across units",
             "q": "variance q_l of the layer's input across units",
             "mean_rate": "mean rate E[phi(h)]", "second_moment": "E[phi(h)^2]",
             "slope_second_moment": "E[phi'(h)^2]",
             "jacobian_factor": "mean-square perturbation gain of the layer",
             "jacobian_gain": "mean squared singular value of dr_l/dI"}
    layer_coord = np.arange(1, n_layers + 1)
    ds = xr.Dataset({
        name: annotate(xr.DataArray(np.stack(values), dims=("layer",) + dims,
                                    coords={**coords, "layer": layer_coord}),
                       units[name], names[name])
        for name, values in rows.items()})
    return _annotated(ds, das, transfer)


def _variance_map(transfer, mean, q, wv, bv, slope: bool = True):
    """``F(q) = wv E[phi(h)^2] + bv`` and ``F'(q)`` (None unless ``slope``), ``h ~ N(mean, q)``."""
    s = np.sqrt(q)
    value = wv * gaussian_moment(transfer, mean, s, 2) + bv
    return value, wv * variance_slope(transfer, mean, s) if slope else None


def _iterate(transfer, wv, bv, bm, q_init, tol, max_iter):
    """Iterate the variance map (1-D arrays) to its fixed point, then polish by Newton.

    Returns (q, iterations, converged); ``q`` is inf where it ran away, NaN where it did
    not settle.
    """
    q = np.full(wv.shape, q_init)
    moving = np.ones(wv.shape, dtype=bool)
    n_iter = np.zeros(wv.shape, dtype=np.int64)
    limit = _RUNAWAY * (1.0 + q_init + bv + bm * bm)
    earlier = np.full(wv.shape, math.inf)  # the step _GROWTH_CHECK iterations ago
    for step in range(1, max_iter + 1):
        index = np.flatnonzero(moving)
        if not index.size:
            break
        new = _variance_map(transfer, bm[index], q[index], wv[index], bv[index], False)[0]
        change = new - q[index]
        runaway = ~np.isfinite(new) | (new > limit[index])
        if step % _GROWTH_CHECK == 0:  # growing by steps that do not shrink: unbounded
            runaway |= (change > 0) & (change >= earlier[index])
            earlier[index] = change
        done = runaway | (np.abs(change) <= tol * (1.0 + np.abs(new)))
        q[index] = np.where(runaway, math.inf, new)
        n_iter[index] += 1
        moving[index[done]] = False
    converged = ~moving
    q[moving] = math.nan
    finite = np.flatnonzero(np.isfinite(q))
    for _ in range(3):  # Newton on F(q) - q: quadratic; exact for a linear variance map
        value, slope = _variance_map(transfer, bm[finite], q[finite], wv[finite], bv[finite])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(np.abs(slope - 1.0) > 1e-8, (value - q[finite]) / (slope - 1.0),
                            0.0)
        q[finite] = np.maximum(q[finite] - step, 0.0)
    return q, n_iter, converged


def depth_fixed_point(transfer: Transfer, *, weight_var, bias_var=0.0, bias_mean=0.0,
                      q_init=1.0, tol: float = 1e-13, max_iter: int = 20_000) -> xr.Dataset:
    """Fixed point ``q* = weight_var E[phi(h)^2] + bias_var``, ``h ~ N(bias_mean, q*)``.

    The variance map of :func:`depth_propagation`, iterated from ``q_init`` until successive
    iterates agree to ``tol (1 + q)``, then polished by Newton's method on ``F(q) - q``: the
    iteration settles on a stable fixed point (``|F'(q*)| < 1``) reached from ``q_init``.
    Unbounded growth gives ``q* = inf``: iterates beyond ``1e30 (1 + q_init + bias_var +
    bias_mean^2)`` (e.g. ReLU with ``weight_var > 2``), or growing by steps that have not
    shrunk over 250 iterations (ReLU at ``weight_var = 2`` with a bias). A point still moving
    after ``max_iter`` steps (a marginal map, ``F' -> 1``) gives NaN with a
    :class:`~neurorect.NeurorectWarning`.

    For a random recurrent network ``tau dr/dt = -r + phi(W r + I0)``, ``W_ij ~ N(0, g^2/N)``,
    pass ``weight_var = g**2`` and ``bias_mean = I0``: ``q*`` is the variance of the static
    inputs across neurons and ``sqrt(chi*) = g sqrt(E[phi'^2])`` the radius of the
    eigenvalue disc of ``D W`` (stable below 1).

    Parameters
    ----------
    transfer : Transfer
    weight_var, bias_var, bias_mean : float, 1-D array or DataArray
        As in :func:`depth_propagation`.
    q_init : float
        Starting variance, drive units squared (> 0).
    tol : float
        Relative convergence tolerance of the iteration.
    max_iter : int
        Iterations before giving up.

    Returns
    -------
    xarray.Dataset
        ``q_star`` (drive units^2), ``chi_star`` (``weight_var E[phi'^2]`` at ``q*``: > 1 a
        perturbation grows with depth, < 1 it shrinks), ``map_slope`` (``F'(q*)``),
        ``stable`` (``|F'(q*)| < 1``), ``converged`` and ``n_iter``.
    """
    check_transfer(transfer)
    check_range("q_init", q_init, low=0.0, low_open=True, high=math.inf, high_open=True)
    check_range("tol", tol, low=0.0, low_open=True, high=1.0)
    check_integer("max_iter", max_iter, low=1)
    das, dims, coords = _arguments(weight_var=weight_var, bias_var=bias_var,
                                   bias_mean=bias_mean)
    shape = das["weight_var"].shape
    wv, bv, bm = (das[k].values.ravel() for k in ("weight_var", "bias_var", "bias_mean"))
    q, n_iter, converged = _iterate(transfer, wv, bv, bm, float(q_init), tol, max_iter)
    if not converged.all():
        warnings.warn(f"depth_fixed_point: {int(np.sum(~converged))} point(s) did not converge "
                      f"in {max_iter} iterations (a marginal variance map): q_star is NaN "
                      "there", NeurorectWarning, stacklevel=2)
    finite = np.isfinite(q)
    chi = np.where(np.isnan(q), math.nan, math.inf)
    slope = chi.copy()
    chi[finite] = wv[finite] * gaussian_slope_moment(transfer, bm[finite], np.sqrt(q[finite]), 2)
    slope[finite] = _variance_map(transfer, bm[finite], q[finite], wv[finite], bv[finite])[1]
    q, chi, slope, converged, n_iter = (a.reshape(shape) for a in (q, chi, slope, converged,
                                                                   n_iter))

    def da(values, units, long_name):
        return annotate(xr.DataArray(values, dims=dims, coords=coords), units, long_name)

    ds = xr.Dataset({
        "q_star": da(q, f"{DRIVE}^2", "fixed-point variance of the inputs (inf: unbounded)"),
        "chi_star": da(chi, "1", "weight_var E[phi'^2] at the fixed point"),
        "map_slope": da(slope, "1", "slope F'(q*) of the variance map"),
        "stable": da(np.abs(slope) < 1.0, "1", "|F'(q*)| < 1"),
        "converged": da(converged, "1", "the iteration settled (or ran away)"),
        "n_iter": da(n_iter, "1", "iterations of the variance map"),
    })
    return _annotated(ds, das, transfer)
