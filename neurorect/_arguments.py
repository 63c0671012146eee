"""Checks of the public entry points' keyword arguments (simulate, run_sweep,
frequency_response, noise_input): each bad value is a ModelError naming the argument, the
value and what is allowed, raised before any work starts.

Model-file values (dt, method, ...) are validated where the model is built
(:mod:`neurorect.spec`); what is checked here is what arrives as a Python argument and would
otherwise reach NumPy or the kernels as a TypeError, an OverflowError, a ZeroDivisionError or
a hang.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neurorect.errors import ModelError
from neurorect.modelfile import load_model
from neurorect.spec import Model
from neurorect.units import to_si

__all__ = ["model_argument", "quantity_argument", "seed_argument", "whole_argument",
           "flag_argument", "limit_argument", "batch_argument", "frequencies_argument",
           "float_array", "text_argument", "SEED_LIMIT"]

#: Seeds are kept as int64 in the kernels' key derivation: 0 <= seed < 2**63.
SEED_LIMIT = 2**63


def model_argument(model: Any) -> Model:
    """A Model, or the path (str or Path) of a model file, which is loaded (as run_sweep and
    the command line do); anything else is a ModelError."""
    if isinstance(model, Model):
        return model
    if isinstance(model, (str, Path)):
        return load_model(model)
    raise ModelError("must be a model", key="model", value=_describe(model),
                     allowed="a neurorect.Model (load_model, single_population) or the path "
                             "of a model file (.toml)")


def quantity_argument(key: str, value: Any, unit: str = "s") -> Any:
    """None, one number, or one quantity string (``"2 s"``); a list, dict, bool, ... is a
    ModelError (the value itself is range-checked where the model takes it)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not _is_scalar_number(value):
        raise ModelError("must be one number or a quantity string", key=key,
                         value=_describe(value),
                         allowed=f"a number in {unit}, or a string such as '2 {unit}'")
    return value


def seed_argument(key: str, seed: Any) -> int | None:
    """None or an integer ``0 <= seed < 2**63`` (numpy integers too)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= int(seed) < SEED_LIMIT):
        raise ModelError("must be a whole number in the seed range", key=key,
                         value=_describe(seed), allowed="an integer 0 <= seed < 2**63")
    return int(seed)


def whole_argument(key: str, value: Any, *, low: int = 1, high: int | None = None,
                   optional: bool = True) -> int | None:
    """An integer (not a bool) in ``[low, high]``; None passes when ``optional``."""
    if value is None and optional:
        return None
    ok = (not isinstance(value, bool) and isinstance(value, (int, np.integer))
          and value >= low and (high is None or value <= high))
    if not ok:
        allowed = f"an integer >= {low}" if high is None else f"an integer {low}..{high}"
        raise ModelError("must be a whole number in range", key=key, value=_describe(value),
                         allowed=allowed + (", or None" if optional else ""))
    return int(value)


def flag_argument(key: str, value: Any, *, optional: bool = True) -> bool | None:
    """True or False (numpy bools too); None passes when ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise ModelError("must be True or False", key=key, value=_describe(value),
                         allowed="True or False" + (", or None" if optional else ""))
    return bool(value)


def limit_argument(key: str, value: Any, unit: str) -> float | None:
    """A positive limit (``math.inf`` lifts it); None passes (the default applies)."""
    if value is None:
        return None
    if isinstance(value, bool) or not _is_scalar_number(value) or not float(value) > 0:
        raise ModelError("must be a positive limit", key=key, value=_describe(value),
                         allowed=f"a number > 0 ({unit}); math.inf for no limit")
    return float(value)


def batch_argument(batch: Any) -> Mapping[str, Any] | None:
    """None or ``{dotted path: non-empty 1-D values}``; the values themselves are converted
    and range-checked by the plan."""
    if batch is None:
        return None
    if not isinstance(batch, Mapping):
        raise ModelError("must be a mapping of dotted paths to values", key="batch",
                         value=_describe(batch),
                         allowed="{'drives.E.freq': [1, 2, 5], ...} (zipped)")
    for path, values in batch.items():
        if not isinstance(path, str):
            raise ModelError("batch keys must be dotted paths", key="batch",
                             value=_describe(path), allowed="strings such as 'drives.E.freq'")
        if isinstance(values, (str, bytes, Mapping)) or np.ndim(values) != 1:
            raise ModelError("batch values must be a 1-D sequence", key=path,
                             value=_describe(values), allowed="a 1-D list or array")
        if len(values) == 0:
            raise ModelError("batch values must not be empty", key=path, value=[],
                             allowed="at least one value (a batch of B >= 1 copies)")
    return batch


def frequencies_argument(key: str, freqs: Any, *, nyquist: float | None = None) -> np.ndarray:
    """A non-empty 1-D array of finite frequencies > 0 Hz (below ``nyquist`` when given)."""
    allowed = "0 < freq" + (f" < 1/(2 dt) = {nyquist:g} Hz" if nyquist else " Hz")
    if isinstance(freqs, (str, bytes, Mapping)):
        raise ModelError("frequencies must be numbers", key=key, value=_describe(freqs),
                         allowed=f"a non-empty 1-D list of numbers, {allowed}")
    try:  # numbers (SI), quantity strings or Brian2 quantities: each must be a frequency
        if type(freqs) is np.ndarray and freqs.dtype.kind in "iuf":
            array = np.atleast_1d(freqs.astype(float))
        else:
            array = np.atleast_1d(np.asarray(to_si(
                freqs if isinstance(freqs, np.ndarray) or np.ndim(freqs) == 0
                else list(freqs), "frequency", key=key), dtype=float))
    except ModelError:
        raise
    except (TypeError, ValueError):
        raise ModelError("frequencies must be numbers", key=key, value=_describe(freqs),
                         allowed=f"a non-empty 1-D list of numbers, {allowed}") from None
    if array.ndim != 1 or array.size == 0:
        raise ModelError("frequencies must be a non-empty 1-D list", key=key,
                         value=_describe(freqs), allowed=f"a non-empty 1-D list, {allowed}")
    bad = ~np.isfinite(array) | (array <= 0)
    if np.any(bad):
        raise ModelError("frequencies must be finite and positive", key=key,
                         value=array[bad].tolist()[:4], allowed=allowed)
    if nyquist is not None and np.any(array >= nyquist):
        raise ModelError("frequency at or above the Nyquist frequency", key=key,
                         value=float(array.max()), allowed=allowed)
    return array


def float_array(key: str, value: Any, *, shape: tuple[int, ...] | None = None,
                allowed: str = "numbers") -> np.ndarray:
    """``value`` as a float array (broadcast to ``shape`` when given); ModelError naming
    ``key`` for text, objects or a shape that does not broadcast."""
    try:
        if isinstance(value, (str, bytes, Mapping)):
            raise TypeError
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ModelError("must be numbers", key=key, value=_describe(value),
                         allowed=allowed) from None
    if shape is not None:
        try:
            array = np.broadcast_to(array, shape)
        except ValueError:
            raise ModelError("wrong shape", key=key, value=f"shape {array.shape}",
                             allowed=f"one number or shape {shape}") from None
    return array


def text_argument(key: str, value: Any, *, optional: bool = True) -> str | None:
    """A string (None passes when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ModelError("must be a name", key=key, value=_describe(value),
                         allowed="a string" + (", or None" if optional else ""))
    return value


def _is_scalar_number(value: Any) -> bool:
    """A real number: int, float, numpy scalar or 0-d array (Brian2 quantities included)."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    if isinstance(value, (str, bytes, Mapping)) or np.ndim(value) != 0:
        return False
    if hasattr(value, "dim"):  # a Brian2 quantity: converted (and unit-checked) by units.py
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _describe(value: Any) -> Any:
    """The value for a message: itself when short, else its type and size."""
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 6:
        return value
    size = f" of {len(value)}" if hasattr(value, "__len__") else ""
    return f"{type(value).__name__}{size}"
