"""Small validators shared by the specification classes and the model-file layer; they raise
ModelError naming the key, the offending value and what is allowed."""

from __future__ import annotations

import math

import numpy as np

from neurorect.errors import ModelError


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_range(key: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, unit: str = ""):
    """Check that ``value`` (a number or an array) lies in the given interval.

    Raises ModelError naming the key, the first offending value and the interval; returns
    ``value`` unchanged so that it can be used inline.
    """
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr) if (low is not None and high is not None) else np.isnan(arr)
    if low is not None:
        bad |= (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad |= (arr >= high) if high_open else (arr > high)
    if np.any(bad):
        offending = arr[bad].flat[0] if arr.ndim else float(arr)
        lo = "" if low is None else f"{_fmt(low)} {'<' if low_open else '<='} "
        hi = "" if high is None else f" {'<' if high_open else '<='} {_fmt(high)}"
        name = key.rsplit(".", 1)[-1]
        units = f" (in {unit})" if unit else ""
        raise ModelError("out of range", key=key, value=float(offending),
                         allowed=f"{lo}{name}{hi}{units}")
    return value


def check_positive(key: str, value, *, unit: str = ""):
    """Check that ``value`` (a number or an array) is finite and > 0 (``0 < name < inf``)."""
    return check_range(key, value, low=0.0, low_open=True, high=math.inf, high_open=True,
                       unit=unit)


def check_nonnegative(key: str, value, *, unit: str = ""):
    """Check that ``value`` (a number or an array) is finite and >= 0 (``0 <= name < inf``)."""
    return check_range(key, value, low=0.0, high=math.inf, high_open=True, unit=unit)


def check_finite(key: str, value):
    """Check that ``value`` is finite (no nan or inf)."""
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        offending = arr[~np.isfinite(arr)].flat[0]
        raise ModelError("must be finite", key=key, value=float(offending),
                         allowed="a finite number")
    return value


def check_choice(key: str, value, choices):
    """Check that ``value`` is one of ``choices``; suggest the closest one."""
    if value not in choices:
        raise ModelError(f"unknown value{closest_hint(str(value), choices)}", key=key,
                         value=value, allowed=", ".join(map(str, choices)))
    return value


def closest_hint(word: str, candidates) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    import difflib

    match = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=0.5)
    return f"; did you mean {match[0]!r}?" if match else ""


def check_integer(key: str, value, *, low: int) -> int:
    """Check that ``value`` is an integer (not a bool) ``>= low``; return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ModelError("must be an integer", key=key, value=value, allowed=f"integer >= {low}")
    return int(value)


def check_keys(prefix: str, data, allowed, required=()) -> None:
    """Check a table's keys: each in ``allowed`` (suggesting the closest one), every one of
    ``required`` present. ``prefix`` (the table's path, or ``""``) is put before the key."""
    for key in data:
        if key not in allowed:
            raise ModelError(f"unknown key{closest_hint(key, allowed)}", key=f"{prefix}.{key}"
                             if prefix else key, value=data[key], allowed=", ".join(allowed))
    for key in required:
        if key not in data:
            raise ModelError("missing required key", key=f"{prefix}.{key}" if prefix else key,
                             value=None, allowed=f"the table must set {key!r}")
