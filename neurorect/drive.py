"""Input signals of a population: constant, sinusoid, steps, pulse trains and noise.

A population's drive is one :class:`Drive`, the sum of its components::

    I(t) = I0 + I1 sin(2 pi freq t + phase) + sum(steps) + sum(pulses) + noise

in drive units (dimensionless, or volts for a model matched to an LIF neuron). ``I0``,
``I1``, ``freq`` and ``phase`` may be per-neuron sequences (one value per neuron of the
population). Noise is one of

* ``Noise(kind="ou", sigma, tau)``: an Ornstein-Uhlenbeck process added to the input, with
  stationary standard deviation ``sigma`` (drive units) and correlation time ``tau`` (s); it
  starts in its stationary distribution and is advanced by its exact update;
* ``Noise(kind="white", sigma)``: ``sigma sqrt(tau) xi(t)`` added to the right-hand side of the
  state equation (``tau`` the population's time constant, ``xi`` unit white noise): the
  convention of Brunel (2000) for LIF neurons, so a free linear unit has stationary variance
  ``sigma**2 / 2``. Integrated exactly (as an OU increment) by exponential Euler.

Each neuron draws its own noise, unless ``shared=True``: then every neuron of the population
receives the same realisation (a common input, as for a population-level broadband
stimulus).

The same objects drive the rate engine and the Brian2 LIF bridge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from neurorect._validate import (
    check_choice,
    check_finite,
    check_keys,
    check_nonnegative,
    check_positive,
    check_range,
)
from neurorect.errors import ModelError
from neurorect.units import field_dimension, to_si

__all__ = ["Step", "PulseTrain", "Noise", "Drive"]

Scalar = float | tuple[float, ...]


def _scalar_or_tuple(key: str, value, table: str) -> Scalar:
    """Accept a number, a unit string, or a sequence of them; return float or tuple. The
    dimension is checked against the field (the last part of ``key``) of the class ``table``
    in :data:`neurorect.units.FIELD_DIMENSIONS`."""
    try:
        si = to_si(value, field_dimension(table, key.rsplit(".", 1)[-1]), key=key)
    except ModelError:
        raise
    except (ValueError, TypeError) as error:
        raise ModelError(str(error), key=key, value=value,
                         allowed="a number, a quantity string like '5 Hz', or a list") from None
    if isinstance(si, np.ndarray):
        if si.ndim != 1 or si.size == 0:
            raise ModelError("must be a number or a flat, non-empty list", key=key,
                             value=value, allowed="one value per neuron")
        return tuple(float(v) for v in si)
    return float(si)


def _from_fields(cls, key: str, data: dict[str, Any]):
    check_keys(key, data, [f.name for f in fields(cls)])
    return cls(**data)


@dataclass(frozen=True)
class Step:
    """A step of ``amplitude`` (drive units) on ``[start, stop)`` (s)."""

    start: float
    amplitude: float
    stop: float = math.inf

    def __post_init__(self) -> None:
        for name in ("start", "amplitude", "stop"):
            object.__setattr__(self, name, _scalar_or_tuple(f"step.{name}", getattr(self, name),
                                                            "Step"))
        check_nonnegative("step.start", self.start, unit="s")
        check_finite("step.amplitude", self.amplitude)
        check_range("step.stop", self.stop, low=self.start, low_open=True, unit="s")

    def value(self, t) -> np.ndarray:
        """Drive (drive units) at times ``t`` (s)."""
        t = np.asarray(t, dtype=float)
        return np.where((t >= self.start) & (t < self.stop), self.amplitude, 0.0)

    def as_pulse(self) -> tuple[float, float, float, float, float]:
        """(start, stop, period, width, amplitude) for the engine."""
        return (self.start, self.stop, math.inf, math.inf, self.amplitude)


@dataclass(frozen=True)
class PulseTrain:
    """Pulses of ``amplitude`` and ``width`` (s) every ``period`` (s) from ``start`` to ``stop``."""

    start: float
    period: float
    width: float
    amplitude: float
    stop: float = math.inf

    def __post_init__(self) -> None:
        for name in ("start", "period", "width", "amplitude", "stop"):
            value = _scalar_or_tuple(f"pulses.{name}", getattr(self, name), "PulseTrain")
            object.__setattr__(self, name, value)
        check_nonnegative("pulses.start", self.start, unit="s")
        check_positive("pulses.period", self.period, unit="s")
        check_range("pulses.width", self.width, low=0.0, low_open=True, high=self.period,
                    high_open=True, unit="s")
        check_finite("pulses.amplitude", self.amplitude)
        check_range("pulses.stop", self.stop, low=self.start, low_open=True, unit="s")

    def value(self, t) -> np.ndarray:
        """Drive (drive units) at times ``t`` (s)."""
        t = np.asarray(t, dtype=float)
        phase = np.mod(t - self.start, self.period)
        on = (t >= self.start) & (t < self.stop) & (phase < self.width)
        return np.where(on, self.amplitude, 0.0)

    def as_pulse(self) -> tuple[float, float, float, float, float]:
        return (self.start, self.stop, self.period, self.width, self.amplitude)


NOISE_KINDS = ("ou", "white")


@dataclass(frozen=True)
class Noise:
    """Input noise: ``kind="ou"`` (sigma: stationary sd, tau: s) or ``"white"`` (see module);
    ``shared=True`` gives every neuron of the population the same realisation."""

    kind: str = "ou"
    sigma: float = 0.0
    tau: float = 0.0
    shared: bool = False

    def __post_init__(self) -> None:
        check_choice("noise.kind", self.kind, NOISE_KINDS)
        if not isinstance(self.shared, bool):
            raise ModelError("must be true or false", key="noise.shared", value=self.shared,
                             allowed="true (one common realisation) or false (per neuron)")
        for name in ("sigma", "tau"):
            object.__setattr__(self, name, _scalar_or_tuple(f"noise.{name}",
                                                            getattr(self, name), "Noise"))
        check_nonnegative("noise.sigma", self.sigma)
        if self.kind == "ou":
            check_positive("noise.tau", self.tau, unit="s")


@dataclass(frozen=True)
class Drive:
    """The input of one population (see module docstring for the formula and conventions).

    Parameters
    ----------
    I0 : float or sequence
        Constant input, drive units.
    I1 : float or sequence
        Sinusoid amplitude, drive units.
    freq : float or sequence
        Sinusoid frequency, Hz (>= 0).
    phase : float or sequence
        Sinusoid phase at t = 0, rad (``I1 sin(2 pi freq t + phase)``).
    steps, pulses : sequence of Step / PulseTrain
    noise : Noise or None
    """

    I0: Scalar = 0.0
    I1: Scalar = 0.0
    freq: Scalar = 0.0
    phase: Scalar = 0.0
    steps: tuple[Step, ...] = field(default_factory=tuple)
    pulses: tuple[PulseTrain, ...] = field(default_factory=tuple)
    noise: Noise | None = None

    def __post_init__(self) -> None:
        for name in ("I0", "I1", "freq", "phase"):
            object.__setattr__(self, name, _scalar_or_tuple(name, getattr(self, name), "Drive"))
            check_finite(name, getattr(self, name))
        check_nonnegative("freq", self.freq, unit="Hz")
        object.__setattr__(self, "steps", tuple(
            s if isinstance(s, Step) else _from_fields(Step, "steps", s) for s in self.steps))
        object.__setattr__(self, "pulses", tuple(
            p if isinstance(p, PulseTrain) else _from_fields(PulseTrain, "pulses", p)
            for p in self.pulses))
        if isinstance(self.noise, dict):
            object.__setattr__(self, "noise", _from_fields(Noise, "noise", self.noise))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Drive:
        """Build from the model-file table (unit strings allowed)."""
        return _from_fields(cls, "", data)

    def to_dict(self) -> dict[str, Any]:
        """The model-file table (SI floats), omitting defaults."""
        out: dict[str, Any] = {}
        for name in ("I0", "I1", "freq", "phase"):
            value = getattr(self, name)
            if value != 0.0:
                out[name] = list(value) if isinstance(value, tuple) else value
        if self.steps:
            out["steps"] = [{"start": s.start, "amplitude": s.amplitude, "stop": s.stop}
                            for s in self.steps]
        if self.pulses:
            out["pulses"] = [{"start": p.start, "period": p.period, "width": p.width,
                              "amplitude": p.amplitude, "stop": p.stop} for p in self.pulses]
        if self.noise is not None:
            out["noise"] = {"kind": self.noise.kind, "sigma": self.noise.sigma,
                            "tau": self.noise.tau}
            if self.noise.shared:
                out["noise"]["shared"] = True
        return out

    def per_neuron(self, name: str, size: int) -> np.ndarray:
        """``I0``, ``I1``, ``freq`` or ``phase`` as an array of ``size`` values."""
        value = getattr(self, name)
        if isinstance(value, tuple):
            if len(value) != size:
                raise ModelError("per-neuron list has the wrong length", key=name,
                                 value=list(value), allowed=f"a number or {size} values")
            return np.array(value, dtype=float)
        return np.full(size, float(value))

    def scalar(self, name: str) -> float:
        """``I0``, ``I1``, ``freq`` or ``phase`` as one number; per-neuron values are accepted
        only when they are all equal (ModelError otherwise)."""
        value = getattr(self, name)
        if isinstance(value, tuple):
            if len(set(value)) != 1:
                raise ModelError("per-neuron values where one number is needed", key=name,
                                 value=list(value)[:4], allowed="a single number")
            return float(value[0])
        return float(value)

    def deterministic(self, t, size: int = 1) -> np.ndarray:
        """Noise-free drive at times ``t`` (s), shape ``(len(t), size)`` (drive units)."""
        t = np.asarray(t, dtype=float)[:, None]
        I0, I1 = self.per_neuron("I0", size), self.per_neuron("I1", size)
        freq, phase = self.per_neuron("freq", size), self.per_neuron("phase", size)
        total = I0 + I1 * np.sin(2.0 * np.pi * freq * t + phase)
        for component in (*self.steps, *self.pulses):
            total = total + component.value(t)
        return total

    @property
    def is_sinusoidal(self) -> bool:
        """True if the drive has a sinusoid with a non-zero amplitude and frequency."""
        return np.any(np.asarray(self.I1) != 0.0) and np.any(np.asarray(self.freq) > 0.0)
