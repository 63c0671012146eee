"""What several theory modules share: units, coordinate attrs and argument handling.

Arguments are scalars, 1-D arrays (which become a dim named after the argument) or
DataArrays (which bring their own dims); :func:`argument` turns each into a validated
DataArray.
"""

from __future__ import annotations

import math

import xarray as xr

from neurorect._arguments import float_array
from neurorect._schema import attrs
from neurorect._validate import check_finite, check_range
from neurorect.errors import ModelError
from neurorect.transfer import Transfer

__all__: list[str] = []  # internal to neurorect.theory (see its docstring)

TWO_PI = 2.0 * math.pi
DRIVE = "drive unit"
#: Units and long names of the coordinates theory results carry.
COORD_ATTRS = {
    "freq": ("Hz", "drive frequency"),
    "harmonic": ("1", "harmonic number k"),
    "I0": (DRIVE, "mean drive"),
    "I1": (DRIVE, "drive amplitude"),
    "tau": ("s", "time constant"),
    "neuron": ("1", "neuron index"),
}
#: Units of the transfers' parameters (for override coordinates).
PARAM_UNITS = {
    "gain": "Hz/drive unit", "threshold": DRIVE, "alpha": "1", "rate_min": "Hz",
    "rate_max": "Hz", "baseline": "Hz", "sharpness": "1/drive unit", "k": "Hz/drive unit^n",
    "n": "1", "slope": "1/drive unit", "tau_m": "s", "v_th": "V", "v_reset": "V", "t_ref": "s",
}


def annotate(obj, units: str, long_name: str):
    """Set ``units`` and ``long_name`` on a DataArray (or coordinate) in place; return it."""
    obj.attrs.update(attrs(units, long_name))
    return obj


def check_transfer(transfer, params: dict | None = None) -> None:
    """Raise ModelError unless ``transfer`` is a :class:`~neurorect.transfer.Transfer` and
    every key of ``params`` (overrides of its parameters) is one of its parameters."""
    if not isinstance(transfer, Transfer):
        raise ModelError("not a Transfer", key="transfer", value=transfer,
                         allowed="a neurorect.transfer.Transfer instance")
    names = type(transfer).param_names()
    for name in params or {}:
        if name not in names:
            raise ModelError(f"unknown parameter of {type(transfer).__name__}", key=name,
                             value=params[name], allowed=", ".join(names))


def argument(name: str, value, *, low: float | None = None) -> xr.DataArray:
    """A scalar, 1-D array (dim named ``name``) or DataArray argument, validated."""
    if isinstance(value, xr.DataArray):
        da = value.copy(data=float_array(name, value.values))
    else:
        arr = float_array(name, value)
        if arr.ndim > 1:
            raise ModelError("must be a scalar or a 1-D array (use an xarray.DataArray for "
                             "other shapes)", key=name, value=value, allowed="ndim <= 1")
        da = xr.DataArray(arr, dims=[name], coords={name: arr}) if arr.ndim else xr.DataArray(arr)
    check_finite(name, da.values)
    if low is not None:
        check_range(name, da.values, low=low, high=math.inf, high_open=True)
    return da

