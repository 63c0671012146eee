"""The rectifier family of rate transfer functions (numpy definitions).

Every transfer maps an input ``x`` (drive units: dimensionless, or volts for a model matched to
an LIF neuron) to a firing rate in Hz. Each class is a frozen dataclass, validated on
construction, callable on arrays, with ``.derivative(x)`` (Hz per drive unit), ``.lipschitz``
(the smallest global Lipschitz constant, ``inf`` where the derivative is unbounded) and,
where it exists, ``.inverse(r)``.

These numpy definitions are the reference. The engine evaluates the same functions through
scalar Numba kernels in :mod:`neurorect.kernels.transfer`, selected by each class's
``code`` and fed its ``kernel_params()``; the tests check the two agree. Keeping Numba out of
this module lets analysis code (theory, crossval, plotting) use transfers without importing
Numba.

Leaky ReLU (the family's centre)::

    phi(x) = clip(baseline + gain * max(x - threshold, alpha * (x - threshold)),
                  rate_min, rate_max)

``alpha = 0`` is ReLU, ``alpha = 1`` is linear. Clipping is applied last, to the rate.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np
from scipy.special import erf

from neurorect._validate import (
    check_finite,
    check_nonnegative,
    check_positive,
    check_range,
    closest_hint,
)
from neurorect.errors import ModelError
from neurorect.kernels import layout as codes
from neurorect.units import DimensionError, field_dimension, parse_quantity

__all__ = [
    "Transfer", "LeakyReLU", "ReLU", "Softplus", "ELU", "GELU", "PowerLaw", "Sigmoid",
    "LIFTransfer", "TRANSFER_KINDS", "transfer_from_dict", "N_TRANSFER_PARAMS",
]

#: Length of the parameter vector every transfer hands to the kernels.
N_TRANSFER_PARAMS = 6

_SQRT2 = math.sqrt(2.0)


def _as_array(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


@dataclass(frozen=True)
class Transfer:
    """Base class: a rate transfer function ``phi`` (input in drive units, output in Hz)."""

    kind: ClassVar[str] = ""
    code: ClassVar[int] = -1

    def __post_init__(self) -> None:
        # numbers, Brian2 quantities and unit strings ("10 Hz/mV") -> SI floats, each of the
        # dimension neurorect.units.FIELD_DIMENSIONS gives it; the scale of a power law
        # depends on its exponent, so the other fields are converted first
        names = [f.name for f in fields(self)]
        for name in sorted(names, key=lambda n: n == "k"):
            value = getattr(self, name)
            if type(value) is float:  # already SI (the common case): nothing to convert
                continue
            dimension = field_dimension(type(self).__name__, name,
                                        **self._dimension_context(name))
            try:
                number = parse_quantity(value, dimension, key=f"{self.kind}.{name}")
            except DimensionError:
                raise
            except (ValueError, TypeError):
                raise ModelError("must be a number", key=f"{self.kind}.{name}", value=value,
                                 allowed=f"a Brian2 quantity, or {dimension.describe()}"
                                 ) from None
            object.__setattr__(self, name, number)
        self._validate()

    def _validate(self) -> None:  # pragma: no cover - overridden
        pass

    def _dimension_context(self, name: str) -> dict[str, Any]:
        """What the dimension of field ``name`` depends on (see neurorect.units.expected)."""
        return {}

    def __call__(self, x):
        """Rate (Hz) at input ``x`` (array-like, drive units)."""
        raise NotImplementedError

    def derivative(self, x):
        """``d phi / d x`` (Hz per drive unit) at ``x``; right derivative at kinks."""
        raise NotImplementedError

    @property
    def lipschitz(self) -> float:
        """Global Lipschitz constant ``sup |phi'|`` (Hz per drive unit); may be ``inf``."""
        raise NotImplementedError

    def inverse(self, rate):
        """Input that gives ``rate``; only where phi is invertible."""
        raise ModelError(f"{type(self).__name__} has no inverse", key=f"{self.kind}",
                         value=self, allowed="LeakyReLU with alpha > 0, Softplus, Sigmoid")

    def kernel_params(self) -> np.ndarray:
        """Parameter vector (length ``N_TRANSFER_PARAMS``) in the order of ``param_names``."""
        values = [getattr(self, name) for name in self.param_names()]
        values += [0.0] * (N_TRANSFER_PARAMS - len(values))
        return np.array(values, dtype=float)

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Names of the numeric parameters, in kernel order."""
        return tuple(field.name for field in fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": ..., **parameters}`` (SI floats), the model-file form."""
        return {"kind": self.kind, **asdict(self)}

    def replace(self, **changes) -> Transfer:
        """A copy with some parameters changed (validated)."""
        return type(self)(**{**asdict(self), **changes})


@dataclass(frozen=True)
class LeakyReLU(Transfer):
    """Leaky rectified-linear transfer.

    ``phi(x) = clip(baseline + gain * max(u, alpha * u), rate_min, rate_max)``,
    ``u = x - threshold``.

    Parameters
    ----------
    gain : float
        Slope above threshold, Hz per drive unit (> 0).
    threshold : float
        Firing threshold, drive units.
    alpha : float
        Leak slope below threshold relative to ``gain``, ``0 <= alpha <= 1`` (0: ReLU,
        1: linear).
    rate_min, rate_max : float
        Clipping bounds on the rate, Hz (``rate_min < rate_max``; defaults: no clipping).
    baseline : float
        Rate at threshold, Hz (added before clipping).
    """

    gain: float = 1.0
    threshold: float = 0.0
    alpha: float = 0.0
    _: KW_ONLY
    rate_min: float = -math.inf
    rate_max: float = math.inf
    baseline: float = 0.0

    kind: ClassVar[str] = "leaky_relu"
    code: ClassVar[int] = codes.LEAKY_RELU

    def _validate(self) -> None:
        check_positive("leaky_relu.gain", self.gain)
        check_finite("leaky_relu.threshold", self.threshold)
        check_range("leaky_relu.alpha", self.alpha, low=0.0, high=1.0)
        check_finite("leaky_relu.baseline", self.baseline)
        if math.isnan(self.rate_min) or math.isnan(self.rate_max) or not (
                self.rate_min < self.rate_max):
            raise ModelError("clipping bounds out of order", key="leaky_relu.rate_max",
                             value=self.rate_max,
                             allowed=f"rate_max > rate_min = {self.rate_min:g} Hz")

    def __call__(self, x):
        u = _as_array(x) - self.threshold
        rate = self.baseline + self.gain * np.maximum(u, self.alpha * u)
        return np.clip(rate, self.rate_min, self.rate_max)

    def derivative(self, x):
        u = _as_array(x) - self.threshold
        slope = np.where(u >= 0.0, self.gain, self.gain * self.alpha)
        unclipped = self.baseline + self.gain * np.maximum(u, self.alpha * u)
        inside = (unclipped > self.rate_min) & (unclipped < self.rate_max)
        return np.where(inside, slope, 0.0)

    @property
    def lipschitz(self) -> float:
        return self.gain  # alpha <= 1

    def breakpoints(self) -> tuple[float, ...]:
        """Inputs (drive units) where the slope changes: the threshold and the clip points."""
        points = {self.threshold}
        for bound in (self.rate_min, self.rate_max):
            if math.isfinite(bound):
                excess = bound - self.baseline
                slope = self.gain if excess >= 0 else self.gain * self.alpha
                if slope > 0:
                    points.add(self.threshold + excess / slope)
        return tuple(sorted(points))

    @property
    def is_clipped(self) -> bool:
        """True if either clipping bound is finite."""
        return math.isfinite(self.rate_min) or math.isfinite(self.rate_max)

    def inverse(self, rate):
        if self.alpha <= 0.0:
            return super().inverse(rate)
        r = _as_array(rate)
        if np.any((r < self.rate_min) | (r > self.rate_max)):
            raise ModelError("rate outside the clipped range", key="rate",
                             value=float(r[(r < self.rate_min) | (r > self.rate_max)].flat[0]),
                             allowed=f"{self.rate_min:g} <= rate <= {self.rate_max:g} Hz")
        excess = r - self.baseline
        slope = np.where(excess >= 0.0, self.gain, self.gain * self.alpha)
        return self.threshold + excess / slope


def ReLU(gain: float = 1.0, threshold: float = 0.0, *, rate_min: float = -math.inf,
         rate_max: float = math.inf, baseline: float = 0.0) -> LeakyReLU:
    """Rectified-linear transfer: :class:`LeakyReLU` with ``alpha = 0``."""
    return LeakyReLU(gain, threshold, 0.0, rate_min=rate_min, rate_max=rate_max,
                     baseline=baseline)


@dataclass(frozen=True)
class Softplus(Transfer):
    """Smooth rectifier ``gain * log(1 + exp(sharpness * u)) / sharpness``, ``u = x - threshold``.

    Parameters
    ----------
    gain : float
        Asymptotic slope, Hz per drive unit (> 0).
    threshold : float
        Centre of the bend, drive units.
    sharpness : float
        Inverse width of the bend, per drive unit (> 0); ``sharpness -> inf`` is ReLU.
    """

    gain: float = 1.0
    threshold: float = 0.0
    sharpness: float = 1.0

    kind: ClassVar[str] = "softplus"
    code: ClassVar[int] = codes.SOFTPLUS

    def _validate(self) -> None:
        check_positive("softplus.gain", self.gain)
        check_finite("softplus.threshold", self.threshold)
        check_positive("softplus.sharpness", self.sharpness)

    def __call__(self, x):
        z = self.sharpness * (_as_array(x) - self.threshold)
        return self.gain * np.logaddexp(0.0, z) / self.sharpness

    def derivative(self, x):
        z = self.sharpness * (_as_array(x) - self.threshold)
        return self.gain * 0.5 * (1.0 + np.tanh(0.5 * z))

    @property
    def lipschitz(self) -> float:
        return self.gain

    def inverse(self, rate):
        r = _as_array(rate)
        if np.any(r <= 0.0):
            raise ModelError("softplus rates are positive", key="rate",
                             value=float(r[r <= 0].flat[0]), allowed="rate > 0 Hz")
        y = self.sharpness * r / self.gain
        # log(exp(y) - 1) = y + log(1 - exp(-y)), stable for large y
        return self.threshold + (y + np.log(-np.expm1(-y))) / self.sharpness


@dataclass(frozen=True)
class ELU(Transfer):
    """Exponential linear unit: ``gain * u`` for ``u >= 0``, ``gain * alpha (e^u - 1)`` below.

    Parameters
    ----------
    gain : float
        Slope above threshold, Hz per drive unit (> 0).
    threshold : float
        Drive units.
    alpha : float
        Depth of the negative saturation in units of ``gain`` (>= 0); the rate tends to
        ``-gain * alpha`` far below threshold. (ELU's own parameter, not a leak slope.)
    """

    gain: float = 1.0
    threshold: float = 0.0
    alpha: float = 1.0

    kind: ClassVar[str] = "elu"
    code: ClassVar[int] = codes.ELU

    def _validate(self) -> None:
        check_positive("elu.gain", self.gain)
        check_finite("elu.threshold", self.threshold)
        check_nonnegative("elu.alpha", self.alpha)

    def __call__(self, x):
        u = _as_array(x) - self.threshold
        return self.gain * np.where(u >= 0.0, u, self.alpha * np.expm1(np.minimum(u, 0.0)))

    def derivative(self, x):
        u = _as_array(x) - self.threshold
        return self.gain * np.where(u >= 0.0, 1.0, self.alpha * np.exp(np.minimum(u, 0.0)))

    @property
    def lipschitz(self) -> float:
        return self.gain * max(1.0, self.alpha)


@dataclass(frozen=True)
class GELU(Transfer):
    """Gaussian-error linear unit ``gain * u * Phi(u)``, ``u = x - threshold``, Phi the normal CDF.

    Parameters
    ----------
    gain : float
        Asymptotic slope, Hz per drive unit (> 0).
    threshold : float
        Drive units.
    """

    gain: float = 1.0
    threshold: float = 0.0

    kind: ClassVar[str] = "gelu"
    code: ClassVar[int] = codes.GELU

    def _validate(self) -> None:
        check_positive("gelu.gain", self.gain)
        check_finite("gelu.threshold", self.threshold)

    def __call__(self, x):
        u = _as_array(x) - self.threshold
        return self.gain * u * 0.5 * (1.0 + erf(u / _SQRT2))

    def derivative(self, x):
        u = _as_array(x) - self.threshold
        density = np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)
        return self.gain * (0.5 * (1.0 + erf(u / _SQRT2)) + u * density)

    @property
    def lipschitz(self) -> float:
        # phi'' = (2 - u^2) pdf(u) vanishes at u = sqrt(2), where phi' is largest
        return float(self.derivative(self.threshold + _SQRT2))


@dataclass(frozen=True)
class PowerLaw(Transfer):
    """Threshold power law ``k * max(x - threshold, 0) ** n``.

    Parameters
    ----------
    k : float
        Scale, Hz per (drive unit)^n (> 0).
    threshold : float
        Drive units.
    n : float
        Exponent (> 0); n = 1 is ReLU, n = 2 the supralinear stabilised-network case.
    """

    k: float = 1.0
    threshold: float = 0.0
    n: float = 2.0

    kind: ClassVar[str] = "power_law"
    code: ClassVar[int] = codes.POWER_LAW

    def _dimension_context(self, name: str) -> dict[str, Any]:
        return {"n": self.n} if name == "k" else {}

    def _validate(self) -> None:
        check_positive("power_law.k", self.k)
        check_finite("power_law.threshold", self.threshold)
        check_positive("power_law.n", self.n)

    def __call__(self, x):
        u = np.maximum(_as_array(x) - self.threshold, 0.0)
        return self.k * u**self.n

    def derivative(self, x):
        u = _as_array(x) - self.threshold
        positive = np.maximum(u, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = self.k * self.n * positive ** (self.n - 1.0)
        if self.n < 1.0:
            slope = np.where(u > 0.0, slope, np.where(u == 0.0, np.inf, 0.0))
        return np.where(u >= 0.0, slope, 0.0)

    @property
    def lipschitz(self) -> float:
        return self.k if self.n == 1.0 else math.inf


@dataclass(frozen=True)
class Sigmoid(Transfer):
    """Logistic transfer ``rate_max / (1 + exp(-slope * (x - threshold)))``.

    Parameters
    ----------
    rate_max : float
        Saturation rate, Hz (> 0).
    threshold : float
        Half-activation input, drive units.
    slope : float
        Steepness, per drive unit (> 0); the largest derivative is ``rate_max * slope / 4``.
    """

    rate_max: float = 1.0
    threshold: float = 0.0
    slope: float = 1.0

    kind: ClassVar[str] = "sigmoid"
    code: ClassVar[int] = codes.SIGMOID

    def _validate(self) -> None:
        check_positive("sigmoid.rate_max", self.rate_max)
        check_finite("sigmoid.threshold", self.threshold)
        check_positive("sigmoid.slope", self.slope)

    def __call__(self, x):
        z = self.slope * (_as_array(x) - self.threshold)
        return self.rate_max * 0.5 * (1.0 + np.tanh(0.5 * z))

    def derivative(self, x):
        z = self.slope * (_as_array(x) - self.threshold)
        s = 0.5 * (1.0 + np.tanh(0.5 * z))
        return self.rate_max * self.slope * s * (1.0 - s)

    @property
    def lipschitz(self) -> float:
        return 0.25 * self.rate_max * self.slope

    def inverse(self, rate):
        r = _as_array(rate)
        if np.any((r <= 0.0) | (r >= self.rate_max)):
            raise ModelError("sigmoid rates lie strictly inside (0, rate_max)", key="rate",
                             value=float(r[(r <= 0.0) | (r >= self.rate_max)].flat[0]),
                             allowed=f"0 < rate < {self.rate_max:g} Hz")
        return self.threshold + np.log(r / (self.rate_max - r)) / self.slope


@dataclass(frozen=True)
class LIFTransfer(Transfer):
    """Deterministic leaky integrate-and-fire f-I curve (input: mean drive ``mu`` in volts).

    ``rate = 1 / (t_ref + tau_m * ln((mu - v_reset) / (mu - v_th)))`` for ``mu > v_th``,
    else 0. Voltages are measured from rest (the leak reversal), as in Brunel (2000).

    Parameters
    ----------
    tau_m : float
        Membrane time constant, s (> 0).
    v_th : float
        Threshold, V.
    v_reset : float
        Reset, V (< v_th).
    t_ref : float
        Absolute refractory period, s (>= 0).
    """

    tau_m: float = 0.02
    v_th: float = 0.02
    v_reset: float = 0.01
    t_ref: float = 0.002

    kind: ClassVar[str] = "lif"
    code: ClassVar[int] = codes.LIF

    def _validate(self) -> None:
        check_positive("lif.tau_m", self.tau_m, unit="s")
        check_finite("lif.v_th", self.v_th)
        check_range("lif.v_reset", self.v_reset, low=-math.inf, high=self.v_th,
                    high_open=True, unit="V")
        check_nonnegative("lif.t_ref", self.t_ref, unit="s")

    def __call__(self, x):
        mu = _as_array(x)
        above = mu > self.v_th
        safe = np.where(above, mu, self.v_th + 1.0)
        period = self.t_ref + self.tau_m * np.log((safe - self.v_reset) / (safe - self.v_th))
        return np.where(above, 1.0 / period, 0.0)

    def derivative(self, x):
        mu = _as_array(x)
        above = mu > self.v_th
        safe = np.where(above, mu, self.v_th + 1.0)
        rate = self(safe)
        dlog = 1.0 / (safe - self.v_reset) - 1.0 / (safe - self.v_th)  # d ln(...)/d mu < 0
        return np.where(above, -rate * rate * self.tau_m * dlog, 0.0)

    @property
    def lipschitz(self) -> float:
        return math.inf  # the slope diverges at threshold


TRANSFER_KINDS: dict[str, type[Transfer]] = {
    cls.kind: cls for cls in (LeakyReLU, Softplus, ELU, GELU, PowerLaw, Sigmoid, LIFTransfer)
}


def transfer_from_dict(data: dict[str, Any]) -> Transfer:
    """Build a transfer from ``{"kind": ..., **parameters}``, the model-file table.

    Parameters are SI numbers or unit strings (``"10 Hz/mV"``). Raises ModelError naming the
    key for an unknown kind, an unknown or a bad parameter.
    """
    data = dict(data)
    kind = data.pop("kind", "leaky_relu")
    if kind == "relu":
        kind = "leaky_relu"
        if "alpha" in data and parse_quantity(data["alpha"], "dimensionless",
                                              key="alpha") != 0.0:
            raise ModelError("relu has no leak slope; use kind = 'leaky_relu'", key="alpha",
                             value=data["alpha"], allowed="0 for relu")
    if kind not in TRANSFER_KINDS:
        raise ModelError(f"unknown transfer kind{closest_hint(str(kind), TRANSFER_KINDS)}",
                         key="kind", value=kind, allowed=", ".join(TRANSFER_KINDS) + ", relu")
    cls = TRANSFER_KINDS[kind]
    names = cls.param_names()
    for key in data:
        if key not in names:
            raise ModelError(f"unknown parameter of {kind}{closest_hint(key, names)}",
                             key=key, value=data[key], allowed=", ".join(names))
    try:
        return cls(**data)
    except ModelError as error:
        # keys inside the class are "<kind>.<name>"; report just the name here
        key = error.key.split(".", 1)[1] if error.key and "." in error.key else error.key
        raise ModelError(error.detail, key=key, value=error.value,
                         allowed=error.allowed) from None
