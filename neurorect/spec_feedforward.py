"""The ``[feedforward]`` table of a model file: a layered network, expanded into populations,
connections and drives (see :mod:`neurorect.feedforward`, which also has the builder and the
forward pass; this module is what :mod:`neurorect.modelfile` needs, without the result
layer)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from neurorect._validate import (
    check_integer,
    check_nonnegative,
)
from neurorect.drive import Drive
from neurorect.errors import ModelError
from neurorect.spec import Connection, Population
from neurorect.transfer import LeakyReLU, Transfer
from neurorect.units import to_si

__all__ = ["FeedForward"]


def _seed(seed: int, layer: int, stream: int) -> np.random.SeedSequence:
    """Independent, reproducible streams: the weights into layer ``l`` (stream 0) and the
    biases or input pattern of layer ``l`` (stream 1)."""
    return np.random.SeedSequence([seed, layer, stream])


@dataclass(frozen=True)
class FeedForward:
    """The ``[feedforward]`` table: a layered network, expanded into populations.

    Parameters
    ----------
    layers : int
        Number of layers ``L`` (>= 1).
    size : int
        Units per layer ``N`` (>= 1).
    weight_var : float
        ``W_ij ~ N(0, weight_var / N)`` between consecutive layers (>= 0); drive units per
        Hz, squared, times ``N``.
    tau : float
        Time constant of every unit, s.
    transfer : Transfer or dict
        The units' transfer (or its table).
    bias_var, bias_mean : float
        Biases of layers 2..L, ``N(bias_mean, bias_var)``, drive units (``bias_var >= 0``).
    input_var, input_mean : float
        Input pattern of layer 1, ``N(input_mean, input_var)``, drive units.
    seed : int
        Seed of the weights, biases and input pattern (>= 0).
    form : {"rate", "voltage"}
    prefix : str
        Layer ``l`` is the population ``f"{prefix}{l}"``.
    """

    layers: int
    size: int
    weight_var: float
    tau: float
    transfer: Transfer = field(default_factory=LeakyReLU)
    bias_var: float = 0.0
    bias_mean: float = 0.0
    input_var: float = 0.0
    input_mean: float = 0.0
    seed: int = 0
    form: str = "rate"
    prefix: str = "L"

    def __post_init__(self) -> None:
        check_integer("layers", self.layers, low=1)
        check_integer("seed", self.seed, low=0)
        for name in ("weight_var", "bias_var", "bias_mean", "input_var", "input_mean"):
            try:
                value = float(to_si(getattr(self, name)))
            except (ValueError, TypeError):
                raise ModelError("must be a number", key=name, value=getattr(self, name),
                                 allowed="a number or a quantity string") from None
            object.__setattr__(self, name, value)
        for name in ("weight_var", "bias_var", "input_var"):
            check_nonnegative(name, getattr(self, name))
        for name in ("bias_mean", "input_mean"):
            if not math.isfinite(getattr(self, name)):
                raise ModelError("must be finite", key=name, value=getattr(self, name),
                                 allowed="a finite number")
        if not isinstance(self.prefix, str) or not self.prefix:
            raise ModelError("must be a non-empty name", key="prefix", value=self.prefix,
                             allowed="a string such as 'L'")
        # a layer validates (and converts) tau, transfer, size and form, with these keys
        layer = Population(name=f"{self.prefix}1", tau=self.tau, transfer=self.transfer,
                           size=self.size, form=self.form)
        object.__setattr__(self, "tau", layer.tau)
        object.__setattr__(self, "transfer", layer.transfer)

    def names(self) -> list[str]:
        """Population names of the layers, in order."""
        return [f"{self.prefix}{layer}" for layer in range(1, self.layers + 1)]

    def populations(self) -> list[Population]:
        """The layers as populations."""
        return [Population(name=name, tau=self.tau, transfer=self.transfer, size=self.size,
                           form=self.form) for name in self.names()]

    def connections(self) -> list[Connection]:
        """Gaussian connections from each layer to the next (zero mean)."""
        names = self.names()
        g = math.sqrt(self.weight_var)
        return [Connection(name=f"{pre}_{post}", pre=pre, post=post, kind="gaussian",
                           weight=0.0, g=g,
                           seed=int(_seed(self.seed, layer, 0).generate_state(1)[0]))
                for layer, (pre, post) in enumerate(zip(names[:-1], names[1:], strict=True),
                                                    start=2)]

    def pattern(self, layer: int) -> np.ndarray:
        """The constant input ``I0`` of layer ``layer`` (1-based): input pattern or biases."""
        mean, var = ((self.input_mean, self.input_var) if layer == 1
                     else (self.bias_mean, self.bias_var))
        rng = np.random.default_rng(_seed(self.seed, layer, 1))
        return mean + math.sqrt(var) * rng.standard_normal(self.size)

    def drives(self, given: Mapping[str, Drive]) -> dict[str, Drive]:
        """The drives of the model: each layer's pattern added to its given drive's ``I0``."""
        out = dict(given)
        for layer, name in enumerate(self.names(), start=1):
            drive = given.get(name, Drive())
            values = self.pattern(layer) + drive.per_neuron("I0", self.size)
            if np.any(values != 0.0):
                out[name] = replace(drive, I0=tuple(float(v) for v in values))
        return out

    def expand(self, populations=(), connections=(), drives: Mapping[str, Drive] | None = None,
               file: str | None = None):
        """(populations, connections, drives) of a model with these layers added to the
        given ones; ModelError for a given population named like a layer."""
        clash = sorted({p.name for p in populations} & set(self.names()))
        if clash:
            raise ModelError("a population has the name of a feed-forward layer",
                             key=f"populations.{clash[0]}", value=clash[0],
                             allowed=f"names other than {self.prefix}1..{self.prefix}"
                                     f"{self.layers} (or another feedforward.prefix)",
                             file=file)
        return (self.populations() + list(populations),
                self.connections() + list(connections), self.drives(dict(drives or {})))
