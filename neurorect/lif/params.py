"""The LIF parameters: validation, broadcasting, and the noiseless/noisy split.

Every public function of :mod:`neurorect.lif` takes the same parameters (``mu``, ``sigma``,
``tau_m``, ``v_th``, ``v_reset``, ``t_ref``; ``freq`` for the susceptibility), broadcasts them
against each other and evaluates a closed form where ``sigma == 0`` and a quadrature where
``sigma > 0``. :func:`by_noise` does that once for all of them.

Each parameter is a number (SI), a unit string (``"20 ms"``) or a Brian2 quantity, its
dimension checked (``tau_m = 20 * mV`` is refused, naming the dimension expected).
Validation is vectorised (the first offending element of an array is named) and its message
``"LIF parameter <name> = <value> is invalid: allowed range is <range>"`` is part of the
tested interface; :mod:`neurorect._validate` checks scalars and arrays too but words its
errors as ``<key> = <value>: out of range (allowed: ...)``, so the LIF rules stay here, in
one table.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from neurorect._arguments import float_array
from neurorect.errors import ModelError
from neurorect.units import to_si

__all__: list[str] = []  # internal to neurorect.lif (see its docstring)

_RULES = {  # name -> (predicate or None for "finite only", allowed range)
    "freq": (lambda a: a >= 0, "freq >= 0 Hz (finite)"),
    "mu": (None, "any finite value (V)"),
    "sigma": (lambda a: a >= 0, "sigma >= 0 V (finite)"),
    "tau_m": (lambda a: a > 0, "tau_m > 0 s (finite)"),
    "v_th": (None, "any finite value (V), above v_reset"),
    "v_reset": (None, "any finite value (V), below v_th"),
    "t_ref": (lambda a: a >= 0, "t_ref >= 0 s (finite)"),
}
#: The dimension of each parameter (neurorect.units.DIMENSIONS): numbers are SI, and unit
#: strings or Brian2 quantities of another dimension are refused (DimensionError).
_DIMENSIONS = {"freq": "frequency", "mu": "voltage", "sigma": "voltage", "tau_m": "time",
               "v_th": "voltage", "v_reset": "voltage", "t_ref": "time"}
#: The neuron parameters in the order the branch functions of :func:`by_noise` take them.
NEURON = ("mu", "sigma", "tau_m", "v_th", "v_reset", "t_ref")


def _check(name: str, value: ArrayLike) -> NDArray:
    """``value`` as a float array; ModelError naming ``name``, the first bad value and range."""
    ok_fn, allowed = _RULES[name]
    arr = float_array(name, to_si(value, _DIMENSIONS[name], key=name), allowed=allowed)
    ok = np.isfinite(arr)
    if ok_fn is not None:
        ok &= ok_fn(arr)
    if not np.all(ok):
        bad = float(arr[~ok].flat[0])
        raise ModelError(f"LIF parameter {name} = {bad!r} is invalid: allowed range is {allowed}")
    return arr


def check_params(**params: ArrayLike) -> dict[str, NDArray]:
    """Check each given parameter against its rule and ``v_reset < v_th``; float arrays."""
    out = {name: _check(name, value) for name, value in params.items()}
    if "v_th" in out and "v_reset" in out:
        vr, vt = np.broadcast_arrays(out["v_reset"], out["v_th"])
        ok = vr < vt
        if not np.all(ok):
            raise ModelError(
                f"LIF parameter v_reset = {float(vr[~ok].flat[0])!r} is invalid: allowed range "
                f"is v_reset < v_th (here v_th = {float(vt[~ok].flat[0])!r})"
            )
    return out


def broadcast_flat(*arrays: NDArray) -> tuple[tuple[int, ...], list[NDArray]]:
    """The broadcast shape of ``arrays`` and each of them broadcast and flattened (copies)."""
    b = np.broadcast_arrays(*arrays)
    return b[0].shape, [np.ascontiguousarray(a, dtype=float).ravel() for a in b]


def as_output(x: NDArray, shape: tuple[int, ...]) -> NDArray | float:
    """``x`` reshaped to ``shape``; a 0-d result as a numpy scalar."""
    x = x.reshape(shape)
    return x[()] if x.ndim == 0 else x


def by_noise(noiseless: Callable[..., NDArray], noisy: Callable[..., NDArray],
             **params: ArrayLike) -> NDArray | float:
    """Validate and broadcast the :data:`NEURON` parameters, then evaluate by branch.

    ``noiseless(mu, tau_m, v_th, v_reset, t_ref)`` gives the value of every element (the
    ``sigma == 0`` result, 1-D arrays); ``noisy(mu, sigma, tau_m, v_th, v_reset, t_ref)``
    replaces it where ``sigma > 0``. Returns the broadcast shape (a scalar for scalars).
    """
    checked = check_params(**params)
    shape, (mu, sigma, tau_m, v_th, v_reset, t_ref) = broadcast_flat(
        *(checked[name] for name in NEURON))
    out = noiseless(mu, tau_m, v_th, v_reset, t_ref)
    n = sigma > 0
    if np.any(n):
        out[n] = noisy(mu[n], sigma[n], tau_m[n], v_th[n], v_reset[n], t_ref[n])
    return as_output(out, shape)
