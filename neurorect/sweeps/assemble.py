"""The result of a sweep: the chunks' point-wise variables put back on the grid, with
coordinates (``units``, ``long_name``, ``path``) and provenance attrs."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from neurorect._schema import attrs as variable_attrs
from neurorect._schema import path_units, provenance
from neurorect.errors import ModelError
from neurorect.spec import Model
from neurorect.sweeps.layout import THEORY, Layout
from neurorect.sweeps.store import StoreMismatchError

__all__ = ["assemble", "result_attrs"]

_LONG_NAMES = {
    "alpha": "leak slope", "freq": "drive frequency", "I0": "mean input", "I1":
    "drive amplitude", "phase": "drive phase", "tau": "time constant", "gain": "transfer gain",
    "threshold": "threshold", "weight": "connection weight", "seed": "noise seed",
    "sigma": "noise amplitude", "dt": "time step", "duration": "simulated time",
    "transient": "transient", "size": "population size", "g": "random coupling gain",
    "probability": "connection probability", "baseline": "baseline rate",
    "rate_min": "lower rate bound", "rate_max": "upper rate bound", "init": "initial state",
    "method": "integration method", "form": "dynamics form",
}


def _long_name(path: str) -> str:
    """``"leak slope (populations.E.transfer.alpha)"``; the path alone if not tabulated."""
    parts = path.split(".")
    description = _LONG_NAMES.get(parts[-1])
    if parts[-1] == "tau" and "noise" in parts:
        description = "noise correlation time"
    return f"{description} ({path})" if description else path


def result_attrs(layout: Layout, manifest: dict[str, Any], model: Model, *, mode: str,
                 measure: Any, n_periods: int) -> dict[str, Any]:
    """Provenance and the rules of the sweep (see :func:`neurorect.sweeps.run_sweep`)."""
    dims = layout.dims
    seed_swept = any("simulation.seed" in d.paths for d in dims)
    out = provenance(
        model,
        model_sha256=manifest["model_sha256"],
        seed="swept (coordinate)" if seed_swept else model.simulation.seed,
        measure=manifest["measure"],
        grid=json.dumps(manifest["grid"]),
        sweep_dims=json.dumps([[d.name, list(d.paths)] for d in dims]),
        mode=mode,
        dt=model.simulation.dt,
        method=model.simulation.method,
        duration_rule=layout.duration_rule,
        transient=layout.transient if layout.transient is not None else "per point",
        n_points=layout.n_points,
        n_chunks=len(layout.chunks),
        chunk_size=layout.chunk_size,
        sweep_key=manifest["sweep_key"],
    )
    if measure == "response":
        out["n_periods"] = int(n_periods)
        out["fourier_convention"] = "r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)"
    if isinstance(measure, str) and measure in THEORY:
        out["theory"] = ("fixed point of the constant input I0 (sinusoids, steps, pulses "
                         "and noise ignored), neurorect.theory.fixed_point")
    return out


def assemble(layout: Layout, results: dict[int, xr.Dataset], attrs: dict[str, Any],
             model: Model) -> xr.Dataset:
    """The sweep's Dataset from the results of all its chunks (``{chunk index: Dataset over
    point}``): dims ``(*sweep dims, *measure dims)``."""
    dims = layout.dims
    shape = tuple(d.size for d in dims)
    ordered = [results[c.index] for c in layout.chunks]
    points = np.concatenate([ds["point"].values for ds in ordered])
    if points.size != layout.n_points or np.unique(points).size != layout.n_points:
        raise StoreMismatchError("the chunks do not cover the grid exactly once; the store "
                                 "is damaged: use overwrite=True (--overwrite)")
    order = np.argsort(points, kind="stable")
    first = ordered[0]
    grid_dims = tuple(d.name for d in dims)
    data = {}
    for name, variable in first.data_vars.items():
        if "point" not in variable.dims:
            continue
        rest = tuple(dim for dim in variable.dims if dim != "point")
        stacked = np.concatenate([ds[name].transpose("point", *rest).values for ds in ordered])
        values = stacked[order].reshape(shape + stacked.shape[1:])
        data[name] = (grid_dims + rest, values, dict(variable.attrs))
    coords: dict[str, Any] = {}
    for name, coord in first.coords.items():
        if name != "point" and "point" not in coord.dims:
            coords[name] = coord.variable.copy()
    if "population" in coords:
        coords["population"] = ("population", [p.name for p in model.populations],
                                variable_attrs("1", "population"))
    for dim in dims:
        for path, values, name in zip(dim.paths, dim.values, dim.names, strict=True):
            if name in data:
                raise ModelError("a measure variable has the name of a swept parameter",
                                 key=path, value=name, allowed="another variable name")
            coords[name] = (dim.name, values, variable_attrs(path_units(path), _long_name(path),
                                                             path=path))
    return xr.Dataset(data, coords=coords, attrs=attrs)
