"""Unit strings to SI floats: the one place unit strings are parsed.

``parse_quantity("10 ms") == 0.01``; ``parse_quantity("100 Hz/mV") == 1e5``. A bare number (or a
string holding one) is taken as already SI. Supported units: s, Hz, V, A, ohm, F, S and
dimensionless, each with the prefixes p n u (or µ) m c k M G, combined with ``*`` and ``/``
(``Hz/mV``, ``mV*ms``), and powers written ``^2`` or ``**2``.
"""

from __future__ import annotations

import re

import numpy as np

_PREFIXES = {
    "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "m": 1e-3, "c": 1e-2,
    "k": 1e3, "M": 1e6, "G": 1e9,
}
_BASE_UNITS = {"s": "s", "Hz": "Hz", "V": "V", "A": "A", "ohm": "ohm", "Ohm": "ohm", "F": "F",
               "S": "S", "1": "1"}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*(.*?)\s*$")

__all__ = ["parse_quantity", "unit_scale", "to_si"]


def _factor_scale(token: str) -> float:
    """SI scale of one unit factor such as ``mV``, ``ms^2`` or ``Hz``."""
    power = 1
    match = re.fullmatch(r"(.+?)(?:\^|\*\*)([-+]?\d+)", token)
    if match:
        token, power = match.group(1), int(match.group(2))
    if token in _BASE_UNITS:
        return 1.0 ** power
    if len(token) > 1 and token[0] in _PREFIXES and token[1:] in _BASE_UNITS:
        return _PREFIXES[token[0]] ** power
    raise ValueError(f"unknown unit {token!r}")


def unit_scale(unit: str) -> float:
    """Return the factor that converts a value in ``unit`` to SI.

    Parameters
    ----------
    unit : str
        A unit expression such as ``"ms"``, ``"Hz/mV"`` or ``""`` (dimensionless).

    Returns
    -------
    float
        Multiply a number in ``unit`` by this to get SI.
    """
    unit = unit.strip()
    if unit in ("", "1"):
        return 1.0
    scale = 1.0
    # split on * and / keeping the operator; '**' is a power, not a product
    tokens = re.split(r"(?<!\*)(\*(?!\*)|/)(?!\*)", unit.replace(" ", ""))
    operator = "*"
    for token in tokens:
        if token in ("*", "/"):
            operator = token
            continue
        if not token:
            raise ValueError(f"malformed unit {unit!r}")
        factor = _factor_scale(token)
        scale = scale * factor if operator == "*" else scale / factor
    return scale


def parse_quantity(value: str | float | int) -> float:
    """Convert ``"10 ms"`` (or a number, or a Brian2 quantity) to an SI float.

    Parameters
    ----------
    value : str, float, int or brian2 Quantity
        ``"<number> <unit>"``; a plain number is returned as float (already SI).

    Returns
    -------
    float
        The value in SI units (s, Hz, V, ...).

    Raises
    ------
    ValueError
        If the string is not a number followed by a known unit.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number or a quantity string, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if hasattr(value, "dim") and hasattr(value, "__float__"):  # a Brian2 Quantity
        return float(np.asarray(value))
    if not isinstance(value, str):
        raise ValueError(f"expected a number or a quantity string, got {value!r}")
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"expected '<number> <unit>' such as '10 ms', got {value!r}")
    number, unit = match.groups()
    return float(number) * unit_scale(unit)


def to_si(value):
    """Convert a scalar, a string, a (nested) list of them, or an array to SI floats.

    Returns a float for scalars and a float64 ndarray for sequences.
    """
    if isinstance(value, (list, tuple)):
        return np.array([to_si(item) for item in value], dtype=float)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iuf":
            return value.astype(float)
        return np.array([to_si(item) for item in value.tolist()], dtype=float)
    return parse_quantity(value)
