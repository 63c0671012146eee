"""Result-schema helpers shared by every module that builds an xarray Dataset.

DESIGN.md's schema: every variable and coordinate carries ``units`` and ``long_name``;
files carry provenance (the package version and, where there is one, the model as TOML).
This module is the one place those attrs are written, and the one table of the units of a
model parameter addressed by its dotted path (``populations.E.tau`` -> ``"s"``).
"""

from __future__ import annotations

from typing import Any

from neurorect._version import __version__
from neurorect.modelfile import dumps_model

__all__ = ["attrs", "path_units", "provenance"]


def attrs(units: str, long_name: str, **extra: Any) -> dict[str, Any]:
    """The attrs of a Dataset variable: ``{"units": units, "long_name": long_name, ...}``."""
    return {"units": units, "long_name": long_name, **extra}


#: Units of a parameter by its last path component (SI; "1" is dimensionless).
_LEAF_UNITS = {
    "tau": "s", "freq": "Hz", "phase": "rad", "seed": "1", "alpha": "1",
    "gain": "Hz per drive unit", "threshold": "drive units", "I0": "drive units",
    "I1": "drive units", "sigma": "drive units", "weight": "drive units per Hz",
    "rate_min": "Hz", "rate_max": "Hz", "baseline": "Hz", "init": "state units",
    "size": "1", "form": "1", "kind": "1", "probability": "1", "g": "1",
}
_PATH_UNITS = {
    "simulation.dt": "s", "simulation.duration": "s", "simulation.transient": "s",
    "simulation.seed": "1", "simulation.method": "1",
}


def path_units(path: str) -> str:
    """Units of the model parameter at a dotted ``path`` (``"SI"`` when not tabulated)."""
    if path in _PATH_UNITS:
        return _PATH_UNITS[path]
    parts = path.split(".")
    if parts[-1] == "tau" and "noise" in parts:
        return "s"
    return _LEAF_UNITS.get(parts[-1], "SI")


def provenance(model: Any = None, **extra: Any) -> dict[str, Any]:
    """Provenance attrs of a result: the package version, and the model as TOML and its name.

    Parameters
    ----------
    model : neurorect.Model, optional
        The model the result was computed from.
    **extra
        Further attrs (seed, dt, ...), appended in order.
    """
    out: dict[str, Any] = {"neurorect_version": __version__}
    if model is not None:
        out["model"] = model_text(model)
        out["model_name"] = model.name
    out.update(extra)
    return out


def model_text(model: Any) -> str:
    """``dumps_model(model)``, kept on the (immutable) model after the first call: a batch
    or a sweep writes the same text into every result (~0.1 ms a call saved)."""
    text = model.__dict__.get("_provenance_text")
    if text is None:
        text = dumps_model(model)
        object.__setattr__(model, "_provenance_text", text)  # a cache, not a field
    return text
