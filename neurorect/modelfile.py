"""TOML model files: read a file into a validated Model, write a Model back as TOML.

The file layout (tables ``[simulation]``, ``[populations.NAME]``, ``[drives.NAME]``,
``[connections.NAME]``, ``[lif]``) and its validation are those of
:func:`neurorect.spec.model_from_dict`; this module adds the text layer: reading (the
standard library's ``tomllib``, with errors naming the file) and writing (the standard
library reads TOML but does not write it).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from neurorect.errors import ModelError
from neurorect.spec import Model, model_from_dict

__all__ = ["load_model", "dumps_model", "dump_model"]


def load_model(path: str | Path) -> Model:
    """Load and validate a TOML model file.

    Parameters
    ----------
    path : str or Path
        The ``.toml`` file.

    Returns
    -------
    Model

    Raises
    ------
    ModelError
        Naming the file, the key, the value and what is allowed.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ModelError(f"cannot read model file: {error.strerror}", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ModelError(f"not valid TOML: {error}", file=str(path)) from None
    return model_from_dict(data, source=str(path))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} to TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def dumps_model(model: Model) -> str:
    """The model as TOML text (SI floats); ``load_model`` reads it back to an equal Model."""
    data = model.to_dict()
    lines = [f"{_toml_key(k)} = {_toml_value(data[k])}" for k in ("name", "description")
             if k in data]
    lines += ["", "[simulation]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in data["simulation"].items()]
    for group in ("populations", "drives", "connections"):
        for name, table in data.get(group, {}).items():
            lines += ["", f"[{group}.{_toml_key(name)}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    if "lif" in data:
        lines += ["", "[lif]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in data["lif"].items()]
    return "\n".join(lines) + "\n"


def dump_model(model: Model, path: str | Path) -> None:
    """Write ``model`` to a TOML file that :func:`load_model` reads back to an equal model."""
    Path(path).write_text(dumps_model(model))
