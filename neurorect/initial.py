"""Initial states of a population: a number, one value per unit, or a seeded distribution.

``Population.init`` (state units: Hz in rate form, drive units in voltage form) is

* a number: every unit starts there (``init = 0.5``);
* a list of one value per unit (``init = [0.1, 0.2, 0.3]``; a numpy array in Python);
* a table :class:`InitialState`: ``init = { kind = "normal", mean = 1.0, std = 0.5,
  seed = 3 }`` or ``{ kind = "uniform", low = 0, high = 2, seed = 3 }``, drawn per unit with
  its own seed (independent of the noise seed). ``mean`` may be a list (one value per unit):
  ``{ kind = "normal", mean = [...], std = 1e-6, seed = 1 }`` is a given state plus a small
  random perturbation, the form :func:`neurorect.stability.lyapunov_exponent` batches.

A table's fields are dotted paths like any parameter (``populations.E.init.seed``), and
:func:`neurorect.simulate` batches them: copies with different seeds start from different
random states in one kernel call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from neurorect._validate import check_choice, check_integer, check_range
from neurorect.errors import ModelError
from neurorect.units import to_si

__all__ = ["InitialState", "INIT_KINDS", "as_init", "initial_values"]

INIT_KINDS = ("normal", "uniform")
#: The fields of each kind's table (``kind`` and ``seed`` besides).
_KIND_FIELDS = {"normal": ("mean", "std"), "uniform": ("low", "high")}


def _number_or_values(key: str, value) -> float | tuple[float, ...]:
    try:
        si = to_si(value)
    except (ValueError, TypeError):
        raise ModelError("must be a number or a list of numbers", key=key, value=value,
                         allowed="a number, a quantity string or one value per unit") from None
    array = np.asarray(si, dtype=float)
    if array.ndim > 1 or array.size == 0:
        raise ModelError("must be a number or a flat, non-empty list", key=key,
                         value=value, allowed="one value per unit")
    if not np.all(np.isfinite(array)):
        raise ModelError("must be finite", key=key, value=value, allowed="finite numbers")
    return float(array) if array.ndim == 0 else tuple(float(v) for v in array)


@dataclass(frozen=True)
class InitialState:
    """A seeded distribution of initial states, one draw per unit.

    Parameters
    ----------
    kind : {"normal", "uniform"}
    mean : float or tuple
        ``normal``: the mean, one number or one per unit (state units).
    std : float
        ``normal``: the standard deviation (>= 0; 0 gives ``mean`` exactly).
    low, high : float
        ``uniform``: the interval (``low <= high``).
    seed : int
        Seed of the draw (>= 0).
    """

    kind: str = "normal"
    mean: float | tuple[float, ...] = 0.0
    std: float = 0.0
    low: float = 0.0
    high: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, INIT_KINDS)
        object.__setattr__(self, "mean", _number_or_values("mean", self.mean))
        for name in ("std", "low", "high"):
            value = _number_or_values(name, getattr(self, name))
            if isinstance(value, tuple):
                raise ModelError("must be one number", key=name, value=list(value),
                                 allowed="a number (only mean may be a list)")
            object.__setattr__(self, name, value)
        check_range("std", self.std, low=0.0, high=math.inf, high_open=True)
        check_range("high", self.high, low=self.low, high=math.inf, high_open=True)
        if isinstance(self.seed, (float, np.floating)) and float(self.seed).is_integer():
            object.__setattr__(self, "seed", int(self.seed))  # batch and grid values: floats
        check_integer("seed", self.seed, low=0)

    def values(self, size: int) -> np.ndarray:
        """The ``size`` initial states (state units)."""
        rng = np.random.default_rng(self.seed)
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, size)
        mean = np.asarray(self.mean, dtype=float)
        if mean.ndim and mean.size != size:
            raise ModelError("per-unit list has the wrong length", key="mean",
                             value=f"{mean.size} values", allowed=f"a number or {size} values")
        return mean + self.std * rng.standard_normal(size)

    def to_dict(self) -> dict[str, Any]:
        """The model-file table (the fields of its kind, and the seed)."""
        table: dict[str, Any] = {"kind": self.kind}
        for name in _KIND_FIELDS[self.kind]:
            value = getattr(self, name)
            table[name] = list(value) if isinstance(value, tuple) else value
        table["seed"] = self.seed
        return table


def as_init(value) -> float | tuple[float, ...] | InitialState:
    """A population's ``init`` as a float, a tuple of floats or an :class:`InitialState`
    (from a number, unit string, list, array, table or InitialState); ModelError naming the
    key (``init`` or ``init.<field>``) otherwise."""
    if isinstance(value, InitialState):
        return value
    if isinstance(value, dict):
        names = [f.name for f in fields(InitialState)]
        for key in value:
            if key not in names:
                raise ModelError("unknown key of an initial-state table", key=f"init.{key}",
                                 value=value[key], allowed=", ".join(names))
        try:
            return InitialState(**value)
        except ModelError as error:
            raise error.in_context(prefix="init") from None
    return _number_or_values("init", value)


def initial_values(init: float | tuple[float, ...] | InitialState, size: int) -> np.ndarray:
    """The ``size`` initial states of a population's ``init`` (state units)."""
    if isinstance(init, InitialState):
        try:
            return init.values(size)
        except ModelError as error:
            raise error.in_context(prefix="init") from None
    if isinstance(init, tuple):
        if len(init) != size:
            raise ModelError("per-unit list has the wrong length", key="init",
                             value=f"{len(init)} values", allowed=f"a number or {size} values")
        return np.array(init, dtype=float)
    return np.full(size, float(init))
