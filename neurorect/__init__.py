"""neurorect: rectifier rate neurons, exact Fourier theory, and spiking cross-validation."""

from neurorect.errors import ModelError, NeurorectError, SimulationError

__version__ = "0.1.0"

__all__ = ["ModelError", "NeurorectError", "SimulationError", "__version__"]
