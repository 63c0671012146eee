"""Unit strings and quantities to SI floats, their dimension checked: the one place units are
parsed.

``parse_quantity("10 ms") == 0.01``; ``parse_quantity("100 Hz/mV") == 1e5``. Given the
dimension a parameter has, a value of another one is refused::

    parse_quantity("10 ms", "time")   # 0.01
    parse_quantity("10 kHz", "time")  # DimensionError: '10 kHz' is a frequency (Hz), not a time

A bare number (or a string holding one) is taken as already SI and is accepted for every
dimension. Brian2 quantities are accepted where numbers are, and their dimension is checked
the same way.

Units and dimensions
--------------------
A dimension is a vector of exponents over the SI base units (m, kg, s, A, K, mol, cd): the
basis Brian2 uses, so a Brian2 quantity is compared exactly. The units written in strings:
``s``, ``Hz`` (1/s), ``V`` (kg m^2 s^-3 A^-1), ``A``, ``ohm`` (V/A), ``F`` (A s/V), ``S``
(A/V), ``rad`` and ``1`` (dimensionless), each with the prefixes p n u (or µ) m c k M G,
combined with ``*`` (or a space) and ``/`` (``Hz/mV``, ``mV*ms``, ``mV ms``, ``/mV``), and
powers written ``^2`` or ``**2``.

What a parameter accepts (:data:`DIMENSIONS`) is named: ``"time"``, ``"frequency"``,
``"rate"`` (a firing rate, Hz), ``"voltage"``, ``"dimensionless"``, ``"angle"`` (rad),
``"count"`` (an integer), and the ones of the rate model's input:

* ``"drive"``: drive units are dimensionless, or volts when a model is matched to an LIF
  neuron (its input ``mu`` is a voltage), so a drive quantity accepts both ``0.5`` and
  ``"15 mV"``;
* ``"rate/drive"`` (a gain: ``"10 Hz"`` or ``"3.9 Hz/mV"``), ``"1/drive"`` (a slope or
  sharpness: ``2`` or ``"0.5 /mV"``), ``"drive/rate"`` (a coupling weight: drive units per Hz,
  ``0.1`` read as seconds, or ``"0.2 mV/Hz"``), ``"rate/drive^n"`` (the scale of a power law
  of exponent ``n``);
* ``"state"``: a population's state, a rate in rate form and drive units in voltage form.

Each quantity is checked on its own; whether a model's drive quantities agree with each
other (all volts or all dimensionless) is checked by the model-file loader, where the units
are written (:func:`drive_unit`).

:data:`FIELD_DIMENSIONS` is the one table of the dimension of every numeric field of the
model's tables (keyed by class name: ``Population``, ``Drive``, ``LeakyReLU``, ...); the
dataclasses validate their fields with it, and :func:`neurorect._paths.dimension_at` looks a
dotted path up in it (``with_values``, batches, sweep grids).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from neurorect.errors import ModelError

__all__ = ["parse_quantity", "unit_scale", "parse_unit", "to_si", "Dimension", "Expected",
           "DimensionError", "DIMENSIONS", "FIELD_DIMENSIONS", "expected", "field_dimension",
           "dimension_of", "drive_unit"]

_BASIS = ("m", "kg", "s", "A", "K", "mol", "cd")


@dataclass(frozen=True)
class Dimension:
    """A physical dimension: exponents over the SI base units (m, kg, s, A, K, mol, cd)."""

    exponents: tuple[Fraction, ...] = (Fraction(0),) * len(_BASIS)

    @classmethod
    def of(cls, **exponents: float) -> Dimension:
        """``Dimension.of(kg=1, m=2, s=-3, A=-1)`` (a volt)."""
        return cls(tuple(Fraction(exponents.get(b, 0)).limit_denominator(1000) for b in _BASIS))

    def __mul__(self, other: Dimension) -> Dimension:
        return Dimension(tuple(a + b for a, b in zip(self.exponents, other.exponents,
                                                     strict=True)))

    def __truediv__(self, other: Dimension) -> Dimension:
        return Dimension(tuple(a - b for a, b in zip(self.exponents, other.exponents,
                                                     strict=True)))

    def __pow__(self, power: float) -> Dimension:
        power = Fraction(power).limit_denominator(1000)
        return Dimension(tuple(a * power for a in self.exponents))

    def __repr__(self) -> str:
        return f"Dimension({_format_dimension(self)!r})"

    @property
    def is_dimensionless(self) -> bool:
        return not any(self.exponents)

    def __str__(self) -> str:
        return _format_dimension(self)


ONE = Dimension()
SECOND = Dimension.of(s=1)
HERTZ = Dimension.of(s=-1)
AMPERE = Dimension.of(A=1)
VOLT = Dimension.of(kg=1, m=2, s=-3, A=-1)

#: A unit symbol -> its dimension (all scales are 1 in SI).
_UNITS = {"s": SECOND, "Hz": HERTZ, "V": VOLT, "A": AMPERE, "ohm": VOLT / AMPERE,
          "Ohm": VOLT / AMPERE, "F": AMPERE * SECOND / VOLT, "S": AMPERE / VOLT, "rad": ONE,
          "1": ONE}
_PREFIXES = {
    "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "m": 1e-3, "c": 1e-2,
    "k": 1e3, "M": 1e6, "G": 1e9,
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*(.*?)\s*$")
_NAMED = {ONE: "dimensionless", SECOND: "a time (s)", HERTZ: "a frequency (Hz)",
          VOLT: "a voltage (V)", AMPERE: "a current (A)", VOLT / AMPERE: "a resistance (ohm)",
          AMPERE * SECOND / VOLT: "a capacitance (F)", AMPERE / VOLT: "a conductance (S)"}


def _power(symbol: str, exponent: Fraction) -> str:
    return symbol if exponent == 1 else f"{symbol}^{exponent}"


def _format_dimension(dim: Dimension) -> str:
    """``"s"``, ``"Hz"``, ``"Hz/V"``, ``"V s"``, ``"1/V"``: in V, A and s when the dimension
    is one of theirs (m and kg only through volts), else in base units."""
    m, kg, s, a, *rest = dim.exponents
    if dim.is_dimensionless:
        return "1"
    if m == 2 * kg and not any(rest):
        factors = [("V", kg), ("A", a + kg), ("s", s + 3 * kg)]
    else:
        factors = list(zip(_BASIS, dim.exponents, strict=True))
    top = [_power(sym, e) for sym, e in factors if e > 0]
    bottom = [_power(sym, -e) for sym, e in factors if e < 0]
    if bottom == ["s"]:  # 1/s reads as Hz
        return " ".join(top + ["Hz"]) if not top else " ".join(top) + "/s"
    if "s" in bottom and not top:
        bottom.remove("s")
        return "Hz/" + " ".join(bottom)
    text = " ".join(top) or "1"
    return text + ("/" + " ".join(bottom) if bottom else "")


def _describe(dim: Dimension) -> str:
    """``"a frequency (Hz)"`` for a named dimension, else ``"a quantity in Hz/V"``."""
    return _NAMED.get(dim, f"a quantity in {_format_dimension(dim)}")


def _factor(token: str) -> tuple[float, Dimension]:
    """Scale and dimension of one unit factor such as ``mV``, ``ms^2`` or ``Hz``."""
    power = 1
    match = re.fullmatch(r"(.+?)(?:\^|\*\*)([-+]?\d+)", token)
    if match:
        token, power = match.group(1), int(match.group(2))
    if token in _UNITS:
        return 1.0, _UNITS[token] ** power
    if len(token) > 1 and token[0] in _PREFIXES and token[1:] in _UNITS:
        return _PREFIXES[token[0]] ** power, _UNITS[token[1:]] ** power
    raise ValueError(f"unknown unit {token!r}")


def parse_unit(unit: str) -> tuple[float, Dimension]:
    """The SI scale and the dimension of a unit expression (``"Hz/mV"`` -> ``(1e3, Hz/V)``).

    Factors are multiplied by ``*`` or a space and divided by ``/``, left to right (``a/b*c``
    is ``(a / b) * c``); a leading ``/`` divides 1 (``"/mV"``).
    Raises ValueError for an unknown or malformed unit.
    """
    text = re.sub(r"\s*(\*\*|\^)\s*", r"\1", unit.strip())  # "ms ^ 2" -> "ms^2"
    text = re.sub(r"\s*(?<!\*)\*(?!\*)\s*", "*", text)
    text = re.sub(r"\s*/\s*", "/", text)
    text = re.sub(r"\s+", "*", text)
    if text in ("", "1"):
        return 1.0, ONE
    if text.startswith("/"):
        text = "1" + text
    scale, dim = 1.0, ONE
    # split on * and / keeping the operator; '**' is a power, not a product
    tokens = re.split(r"(?<!\*)(\*(?!\*)|/)(?!\*)", text)
    operator = "*"
    for token in tokens:
        if token in ("*", "/"):
            operator = token
            continue
        if not token:
            raise ValueError(f"malformed unit {unit!r}")
        factor, factor_dim = _factor(token)
        if operator == "*":
            scale, dim = scale * factor, dim * factor_dim
        else:
            scale, dim = scale / factor, dim / factor_dim
    return scale, dim


def unit_scale(unit: str) -> float:
    """The factor that converts a value in ``unit`` (``"ms"``, ``"Hz/mV"``, ``""``) to SI."""
    return parse_unit(unit)[0]


@dataclass(frozen=True)
class Expected:
    """What a parameter accepts: a name for messages, the dimensions allowed (several for
    drive units: dimensionless or volts), the units in words and an example."""

    name: str
    dimensions: tuple[Dimension, ...]
    units: str
    example: str
    integer: bool = False

    def describe(self) -> str:
        """``"a time (s), e.g. '10 ms'; a bare number is SI"``."""
        return f"{self.name} ({self.units}), e.g. {self.example}; a bare number is SI"


class DimensionError(ModelError):
    """A quantity of the wrong dimension (``"10 kHz"`` where a time is expected); the message
    names the value, its dimension and the expected one."""


def _drive(power: float) -> tuple[Dimension, Dimension]:
    """(dimensionless drive, volt drive) to the power ``power``."""
    return ONE, VOLT ** power


#: Named dimensions a parameter can have (see the module docstring).
DIMENSIONS: dict[str, Expected] = {
    "time": Expected("a time", (SECOND,), "s", "'10 ms'"),
    "frequency": Expected("a frequency", (HERTZ,), "Hz", "'5 Hz'"),
    "rate": Expected("a firing rate", (HERTZ,), "Hz", "'8 Hz'"),
    "voltage": Expected("a voltage", (VOLT,), "V", "'15 mV'"),
    "dimensionless": Expected("a dimensionless number", (ONE,), "1", "0.1"),
    "angle": Expected("an angle", (ONE,), "rad", "'1.57 rad'"),
    "count": Expected("an integer", (ONE,), "1", "3", integer=True),
    "drive": Expected("an input in drive units", _drive(1),
                      "dimensionless, or V for a model matched to an LIF neuron",
                      "0.5 or '15 mV'"),
    "rate/drive": Expected("a rate per drive unit", tuple(HERTZ * d for d in _drive(-1)),
                           "Hz, or Hz/V for an input in volts", "'10 Hz' or '3.9 Hz/mV'"),
    "1/drive": Expected("a reciprocal drive unit", _drive(-1),
                        "1 per drive unit, or 1/V for an input in volts", "2 or '0.5 /mV'"),
    "drive/rate": Expected("a weight in drive units per Hz",
                           tuple(SECOND * d for d in _drive(1)),
                           "1/Hz, or V/Hz for an input in volts", "0.1 or '0.2 mV/Hz'"),
}

#: The dimension of every numeric field of the model's tables, by class name (the
#: dataclasses of :mod:`neurorect.spec`, :mod:`neurorect.drive` and
#: :mod:`neurorect.transfer`); ``"state"`` and ``"rate/drive^n"`` are resolved by
#: :func:`expected` from the object's ``form`` and ``n``. tests/test_units.py checks that
#: this table and the dataclasses' fields agree.
FIELD_DIMENSIONS: dict[str, dict[str, str]] = {
    "Simulation": {"dt": "time", "duration": "time", "transient": "time", "seed": "count",
                   "record_every": "count", "n_harmonics": "count"},
    "Population": {"tau": "time", "size": "count", "init": "state"},
    "Connection": {"weight": "drive/rate", "probability": "dimensionless", "g": "drive/rate",
                   "seed": "count", "delay": "time", "tau_syn": "time"},
    "LIFNeuron": {"tau_m": "time", "v_th": "voltage", "v_reset": "voltage", "t_ref": "time",
                  "sigma": "voltage", "n_neurons": "count", "dt": "time"},
    "Drive": {"I0": "drive", "I1": "drive", "freq": "frequency", "phase": "angle"},
    "Step": {"start": "time", "amplitude": "drive", "stop": "time"},
    "PulseTrain": {"start": "time", "period": "time", "width": "time", "amplitude": "drive",
                   "stop": "time"},
    "Noise": {"sigma": "drive", "tau": "time"},
    "LeakyReLU": {"gain": "rate/drive", "threshold": "drive", "alpha": "dimensionless",
                  "rate_min": "rate", "rate_max": "rate", "baseline": "rate"},
    "Softplus": {"gain": "rate/drive", "threshold": "drive", "sharpness": "1/drive"},
    "ELU": {"gain": "rate/drive", "threshold": "drive", "alpha": "dimensionless"},
    "GELU": {"gain": "rate/drive", "threshold": "drive"},
    "PowerLaw": {"k": "rate/drive^n", "threshold": "drive", "n": "dimensionless"},
    "Sigmoid": {"rate_max": "rate", "threshold": "drive", "slope": "1/drive"},
    "LIFTransfer": {"tau_m": "time", "v_th": "voltage", "v_reset": "voltage",
                    "t_ref": "time"},
    "LIFNetwork": {"N_E": "count", "N_I": "count", "C_E": "count", "C_I": "count",
                   "J": "voltage", "g": "dimensionless", "delay": "time",
                   "eta": "dimensionless", "tau_m": "time", "v_th": "voltage",
                   "v_reset": "voltage", "t_ref": "time", "dt": "time",
                   "mod_depth": "dimensionless", "seed": "count"},
}


def expected(dimension: str | Expected, *, form: str | None = None,
             n: float | None = None) -> Expected:
    """The :class:`Expected` of a named dimension; ``"state"`` needs the population's
    ``form`` (rate form: a rate; voltage form: drive units), ``"rate/drive^n"`` the power
    law's exponent ``n``."""
    if isinstance(dimension, Expected):
        return dimension
    if dimension == "state":
        return DIMENSIONS["drive" if form == "voltage" else "rate"]
    if dimension == "rate/drive^n":
        power = 1.0 if n is None or not math.isfinite(n) else n
        return Expected(f"a rate per drive unit to the power n = {power:g}",
                        tuple(HERTZ * d for d in _drive(-power)),
                        f"Hz (or Hz/V^{power:g} for an input in volts)",
                        f"'10 Hz' or '2 Hz/mV^{power:g}'" if float(power).is_integer()
                        else "'10 Hz'")
    try:
        return DIMENSIONS[dimension]
    except KeyError:
        raise ValueError(f"unknown dimension {dimension!r}; known: "
                         + ", ".join([*DIMENSIONS, "state", "rate/drive^n"])) from None


def field_dimension(table: str, name: str, **context: Any) -> Expected | None:
    """The :class:`Expected` of field ``name`` of the class ``table`` (``"Population"``,
    ``"LeakyReLU"``, ...), or None for a field that is not a number (a word, a table)."""
    dimension = FIELD_DIMENSIONS.get(table, {}).get(name)
    return None if dimension is None else expected(dimension, **context)


def _brian2_dimension(value: Any) -> Dimension | None:
    """The dimension of a Brian2 quantity (duck-typed: Brian2 is not imported), else None."""
    dim = getattr(value, "dim", None)
    exponents = getattr(dim, "_dims", None)
    if exponents is None or len(exponents) != len(_BASIS):
        return None
    return Dimension(tuple(Fraction(e).limit_denominator(1000) for e in exponents))


def _check(value: Any, dim: Dimension, want: Expected | None, key: str | None) -> None:
    if want is not None and dim not in want.dimensions:
        raise DimensionError(f"wrong dimension: {_describe(dim)}, not {want.name}", key=key,
                             value=value, allowed=want.describe())


def _malformed(value: Any, reason: str, want: Expected | None, key: str | None) -> ModelError:
    allowed = want.describe() if want is not None else (
        "a number (SI) or a string '<number> <unit>' such as '10 ms'")
    return ModelError(reason, key=key, value=value, allowed=allowed)


def dimension_of(value: Any) -> Dimension | None:
    """The dimension a value states: a unit string's or a Brian2 quantity's; None for a bare
    number (SI, of whatever dimension is expected) and for anything unparsable."""
    dim = _brian2_dimension(value)
    if dim is not None or not isinstance(value, str):
        return dim
    match = _QUANTITY.match(value)
    if not match or not match.group(2):
        return None
    try:
        return parse_unit(match.group(2))[1]
    except ValueError:
        return None


def parse_quantity(value: str | float | int, dimension: str | Expected | None = None, *,
                   key: str | None = None) -> float:
    """Convert ``"10 ms"`` (or a number, or a Brian2 quantity) to an SI float.

    Parameters
    ----------
    value : str, float, int or brian2 Quantity
        ``"<number> <unit>"``; a plain number is returned as float (already SI).
    dimension : str or Expected, optional
        What the value must be (a name of :data:`DIMENSIONS`, e.g. ``"time"``); default:
        anything.
    key : str, optional
        The parameter's name, put in errors.

    Returns
    -------
    float
        The value in SI units (s, Hz, V, ...).

    Raises
    ------
    DimensionError
        A unit string or a Brian2 quantity of another dimension than ``dimension``.
    ModelError
        A string that is not a number followed by a known unit (a ValueError too).
    """
    if type(value) is float or type(value) is int:  # the common case: an SI number, fast
        return float(value)
    want = expected(dimension) if dimension is not None else None
    if isinstance(value, (bool, np.bool_)):
        raise _malformed(value, "must be a number, not a boolean", want, key)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    dim = _brian2_dimension(value)
    if dim is not None:
        _check(value, dim, want, key)
        if np.ndim(value) != 0:
            raise _malformed(value, "expected one value, got an array", want, key)
        return float(np.asarray(value))
    if not isinstance(value, str):
        raise _malformed(value, "must be a number or a quantity string", want, key)
    match = _QUANTITY.match(value)
    if not match:
        raise _malformed(value, "expected '<number> <unit>' such as '10 ms'", want, key)
    number, unit = match.groups()
    try:
        scale, dim = parse_unit(unit)
    except ValueError as error:
        raise _malformed(value, str(error), want, key) from None
    if unit:
        _check(value, dim, want, key)
    return float(number) * scale


def to_si(value: Any, dimension: str | Expected | None = None, *, key: str | None = None):
    """Convert a scalar, a string, a (nested) list of them, or an array to SI floats, each
    checked against ``dimension`` (see :func:`parse_quantity`).

    Returns a float for scalars and a float64 ndarray for sequences and arrays.
    """
    if type(value) is float or type(value) is int:  # the common case: an SI number, fast
        return float(value)
    want = expected(dimension) if dimension is not None else None
    dim = _brian2_dimension(value)
    if dim is not None:  # a Brian2 quantity (an ndarray, 0-d for a scalar): one dimension
        _check(value, dim, want, key)
        return np.asarray(value, dtype=float) if np.ndim(value) else float(np.asarray(value))
    if isinstance(value, (list, tuple)):
        if all(type(item) in (float, int) for item in value):  # plain SI numbers: fast
            return np.array(value, dtype=float)
        return np.array([to_si(item, want, key=key) for item in value], dtype=float)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iuf":
            return value.astype(float)
        return np.array([to_si(item, want, key=key) for item in value.tolist()], dtype=float)
    return parse_quantity(value, want, key=key)


def drive_unit(value: Any, dimension: str | Expected) -> str | None:
    """Which drive unit a value states for a drive-unit parameter: ``"V"`` (volts),
    ``"1"`` (dimensionless), or None (a bare number, or a dimension that does not say).

    Used to check that the quantities of one model agree (``I0 = "15 mV"`` with
    ``gain = "10 Hz"`` is a gain for a dimensionless input applied to volts).
    """
    want = expected(dimension)
    if len(want.dimensions) != 2 or want.dimensions[0] == want.dimensions[1]:
        return None
    dim = dimension_of(value)
    if dim is None:
        return None
    if dim == want.dimensions[0]:
        return "1"
    return "V" if dim == want.dimensions[1] else None
