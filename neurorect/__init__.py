"""neurorect: rectifier rate neurons, exact Fourier theory, and spiking cross-validation.

Public names are listed in ``__all__``. ``frequency_response`` and ``run_sweep`` are imported
on first use. ``simulate`` is imported eagerly: the function shares its name with its module,
and only an eager import guarantees ``neurorect.simulate`` is the function whatever was
imported before.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from neurorect._version import __version__
from neurorect.drive import Drive, Noise, PulseTrain, Step
from neurorect.errors import ModelError, NeurorectError, SimulationError
from neurorect.simulate import simulate
from neurorect.spec import (
    Connection,
    Model,
    Population,
    Simulation,
    dump_model,
    load_model,
    single_population,
)
from neurorect.transfer import (
    ELU,
    GELU,
    LeakyReLU,
    LIFTransfer,
    PowerLaw,
    ReLU,
    Sigmoid,
    Softplus,
    Transfer,
)

_LAZY = {
    "frequency_response": "neurorect.response",
    "run_sweep": "neurorect.sweeps",
}

__all__ = [
    "Connection", "Drive", "ELU", "GELU", "LIFTransfer", "LeakyReLU", "Model", "ModelError",
    "Noise", "NeurorectError", "Population", "PowerLaw", "PulseTrain", "ReLU", "Sigmoid",
    "Simulation", "SimulationError", "Softplus", "Step", "Transfer", "__version__",
    "dump_model", "load_model", "simulate", "single_population", "frequency_response",
    "run_sweep",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neurorect' has no attribute {name!r}")
