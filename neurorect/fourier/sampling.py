"""Sampled signals: a numpy array or DataArray as a uniformly sampled series in seconds.

Shared by :mod:`~neurorect.fourier.harmonics` and :mod:`~neurorect.fourier.spectra`, which
accept the same inputs (time on the last axis of a numpy array, or a named time dim).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurorect._arguments import float_array
from neurorect.errors import ModelError

__all__: list[str] = []  # internal to the subpackage: GRID_TOL, as_series

#: Relative tolerance (in samples or periods) used when comparing times on a grid, so that
#: round-off in ``n * dt`` never moves a sample or a period boundary.
GRID_TOL = 1e-6


def _leading_dims(ndim: int) -> list[str]:
    """Names for the non-time axes of a numpy input: ``neuron`` for one, ``dim_i`` otherwise."""
    if ndim == 1:
        return ["neuron"]
    return [f"dim_{i}" for i in range(ndim)]


def _uniform_step(t: np.ndarray, dim: Hashable) -> float:
    """The sampling step of a uniform time grid (s); raise if the grid is not uniform."""
    if t.size < 2:
        raise ModelError(f"need at least 2 samples along {dim!r}, got {t.size}")
    dt = (t[-1] - t[0]) / (t.size - 1)
    if not dt > 0 or np.max(np.abs(np.diff(t) - dt)) > GRID_TOL * dt:
        raise ModelError(f"the {dim!r} coordinate must be increasing and uniformly sampled")
    return float(dt)


def as_series(x, *, dim: Hashable, dt: float | None, time: ArrayLike | None,
               t0: float) -> tuple[xr.DataArray, float]:
    """Return ``(DataArray with dim last and a float time coordinate in s, dt in s)``."""
    if isinstance(x, xr.Dataset):
        if "rate" not in x:
            raise ModelError("a Dataset input must hold a 'rate' variable; pass the DataArray")
        x = x["rate"]
    if isinstance(x, xr.DataArray):
        if dim not in x.dims:
            raise ModelError(f"the DataArray has no {dim!r} dim (dims: {x.dims}); pass dim=")
        x = x.transpose(..., dim)
        if dim in x.coords:
            t = np.asarray(x[dim].values, dtype=float)
        elif time is not None or dt is not None:
            t = _time_grid(x.sizes[dim], dt=dt, time=time, t0=t0)
            x = x.assign_coords({dim: t})
        else:
            raise ModelError(f"the DataArray has no {dim!r} coordinate: pass dt= (and t0=)")
    else:
        arr = float_array("rate", x, allowed="a numeric array (time on the last axis)")
        if arr.ndim == 0:
            raise ModelError("the signal must have a time axis (its last axis)")
        t = _time_grid(arr.shape[-1], dt=dt, time=time, t0=t0)
        x = xr.DataArray(arr, dims=[*_leading_dims(arr.ndim - 1)[: arr.ndim - 1], dim],
                         coords={dim: t})
    step = _uniform_step(t, dim)
    if dt is not None and abs(step - dt) > GRID_TOL * dt:
        raise ModelError(f"dt = {dt:g} s disagrees with the {dim!r} coordinate's step "
                         f"{step:g} s")
    return x, step


def _time_grid(n: int, *, dt: float | None, time: ArrayLike | None, t0: float) -> np.ndarray:
    if time is not None:
        t = np.asarray(time, dtype=float).ravel()
        if t.size != n:
            raise ModelError(f"time has {t.size} entries but the signal has {n} samples")
        return t
    if dt is None:
        raise ModelError("a numpy signal needs dt= (s) or time= (the sample times, s)")
    if not dt > 0:
        raise ModelError(f"dt must be > 0 s, got {dt!r}")
    return t0 + dt * np.arange(n)

