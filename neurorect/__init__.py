"""neurorect: rectifier rate neurons, exact Fourier theory, and spiking cross-validation.

Public names are listed in ``__all__``; each is imported on first use (so ``import
neurorect`` and the command line start fast, and analysis code never pulls in Numba).
``neurorect.simulate`` is the function; its module is :mod:`neurorect.driver` (a module of
the same name as the function would shadow it once imported).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from neurorect._version import __version__
from neurorect.errors import ModelError, NeurorectError, NeurorectWarning, SimulationError

_LAZY = {
    "Drive": "neurorect.drive", "Noise": "neurorect.drive", "PulseTrain": "neurorect.drive",
    "Step": "neurorect.drive",
    "simulate": "neurorect.driver",
    "dump_model": "neurorect.modelfile", "load_model": "neurorect.modelfile",
    "Connection": "neurorect.spec", "Model": "neurorect.spec", "Population": "neurorect.spec",
    "Simulation": "neurorect.spec", "single_population": "neurorect.spec",
    **{name: "neurorect.transfer" for name in ("ELU", "GELU", "LeakyReLU", "LIFTransfer",
                                               "PowerLaw", "ReLU", "Sigmoid", "Softplus",
                                               "Transfer")},
    "frequency_response": "neurorect.response",
    "run_sweep": "neurorect.sweeps",
    # the other exceptions (all NeurorectError), for callers to catch by name
    "DimensionError": "neurorect.units", "FileError": "neurorect.io",
    "SchedulerError": "neurorect.sweeps.execute", "StoreMismatchError": "neurorect.sweeps.store",
}

__all__ = [
    "Connection", "Drive", "ELU", "GELU", "LIFTransfer", "LeakyReLU", "Model", "ModelError",
    "Noise", "NeurorectError", "NeurorectWarning", "Population", "PowerLaw", "PulseTrain",
    "ReLU", "Sigmoid", "Simulation", "SimulationError", "Softplus", "Step", "Transfer",
    "__version__", "dump_model", "load_model", "simulate", "single_population",
    "frequency_response", "run_sweep",
    "DimensionError", "FileError", "SchedulerError", "StoreMismatchError",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module 'neurorect' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
