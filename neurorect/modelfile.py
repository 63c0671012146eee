"""TOML model files: load, validate, dump.

The file layout: top-level ``name`` and ``description``, and the tables ``[simulation]``,
``[populations.NAME]``, ``[drives.NAME]``, ``[connections.NAME]``, ``[lif]`` and
``[lif_network]``, each the
fields of one dataclass of :mod:`neurorect.spec` (a population's ``transfer`` is an inline
table ``{ kind = "leaky_relu", gain = ..., ... }``), and ``[feedforward]``, a layered network
that expands into populations, connections and drives on loading
(:class:`neurorect.spec_feedforward.FeedForward`; a saved model holds the expanded tables).
Two layers:

* tables: :func:`model_from_dict` builds and validates a Model from the nested dict of a
  file (errors name the file, the full key, the value and what is allowed);
  :func:`model_to_dict` is the reverse (SI floats, defaults of drives and connections
  omitted);
* text: :func:`load_model` and :func:`loads_model` read a file or a text (the standard
  library's ``tomllib``, errors naming the file); :func:`dumps_model` and :func:`dump_model`
  write one (the standard library reads TOML but does not write it).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from neurorect._drive_units import check_drive_units
from neurorect._paths import MODEL_KEYS, POPULATION_KEYS, table_errors, table_keys
from neurorect._validate import check_keys
from neurorect.drive import Drive
from neurorect.errors import ModelError
from neurorect.initial import InitialState
from neurorect.io import write_text
from neurorect.spec import Connection, LIFNeuron, Model, Population, Simulation
from neurorect.spec_feedforward import FeedForward
from neurorect.spec_lif import LIFNetwork

__all__ = ["load_model", "loads_model", "dumps_model", "dump_model", "model_from_dict",
           "model_to_dict"]


def model_from_dict(data: dict[str, Any], *, source: str | None = None) -> Model:
    """Build and validate a Model from the nested dict of a model file.

    Raises ModelError naming ``source`` (the file), the full key path, the value and what is
    allowed.
    """
    layered = "feedforward" in data  # [feedforward] expands into populations (below)
    with table_errors("", source, data):
        check_keys("", data, MODEL_KEYS + ("feedforward",))
        if "populations" not in data and "lif_network" in data and not layered:
            raise ModelError("missing required key: the rate network matched to the "
                             "[lif_network]", key="populations", value=None,
                             allowed="[populations.E] and [populations.I] tables; "
                                     "neurorect.crossval.matched_network(LIFNetwork(...)) "
                                     "computes them")
        check_keys("", data, MODEL_KEYS + ("feedforward",),
                   required=() if layered else ("populations",))

    def build(prefix: str, cls: type, table: Any, keys=None, required=(), **fixed):
        with table_errors(prefix, source, table):
            check_keys("", table, keys or table_keys(cls), required)
            return cls(**fixed, **table)

    def tables(key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ModelError("must be a table", key=key, value=value,
                             allowed=f"[{key}.NAME] tables", file=source)
        return value

    populations = [build(f"populations.{name}", Population, table, POPULATION_KEYS,
                         ("tau", "transfer"), name=name)
                   for name, table in tables("populations").items()]
    drives = {name: build(f"drives.{name}", Drive, table)
              for name, table in tables("drives").items()}
    connections = [build(f"connections.{name}", Connection, table, required=("pre", "post"),
                         name=name) for name, table in tables("connections").items()]
    if layered:
        layers = build("feedforward", FeedForward, data["feedforward"],
                       required=("layers", "size", "weight_var", "tau"))
        populations, connections, drives = layers.expand(populations, connections, drives,
                                                         file=source)
    simulation = build("simulation", Simulation, data.get("simulation", {}))
    lif = build("lif", LIFNeuron, data["lif"]) if "lif" in data else None
    network = (build("lif_network", LIFNetwork, data["lif_network"]) if "lif_network" in data
               else None)
    model = Model(populations=populations, drives=drives, connections=connections,
                  simulation=simulation, name=str(data.get("name", "model")),
                  description=str(data.get("description", "")), lif=lif, lif_network=network,
                  source=source)
    check_drive_units(data, source)  # every quantity's dimension is right: do they agree?
    return model


def model_to_dict(model: Model) -> dict[str, Any]:
    """The nested dict of a model file (SI floats); :func:`model_from_dict` reads it back."""
    out: dict[str, Any] = {"name": model.name}
    if model.description:
        out["description"] = model.description
    out["simulation"] = {f.name: getattr(model.simulation, f.name) for f in fields(Simulation)}
    out["populations"] = {p.name: {"size": p.size, "tau": p.tau, "form": p.form,
                                   "init": _init_table(p.init),
                                   "transfer": p.transfer.to_dict()}
                          for p in model.populations}
    if model.drives:
        out["drives"] = {name: drive.to_dict() for name, drive in model.drives.items()}
    if model.connections:
        out["connections"] = {c.name: _connection_table(c) for c in model.connections}
    if model.lif is not None:
        out["lif"] = {f.name: getattr(model.lif, f.name) for f in fields(LIFNeuron)}
    if model.lif_network is not None:
        out["lif_network"] = {f.name: getattr(model.lif_network, f.name)
                              for f in fields(LIFNetwork)}
    return out


def _init_table(init: Any) -> Any:
    """A population's ``init`` as written to a file: a number, a list or a table."""
    if isinstance(init, InitialState):
        return init.to_dict()
    return list(init) if isinstance(init, tuple) else init


def _connection_table(connection: Connection) -> dict[str, Any]:
    """A connection's table: the keys its kind uses (and ``autapses``, ``delay``,
    ``tau_syn`` when set)."""
    c = connection
    entry: dict[str, Any] = {"pre": c.pre, "post": c.post, "kind": c.kind, "weight": c.weight}
    if c.kind == "sparse":
        entry.update(probability=c.probability, seed=c.seed)
    if c.kind == "gaussian":
        entry.update(g=c.g, seed=c.seed)
    if c.kind == "dense":
        entry["matrix"] = (c.matrix if isinstance(c.matrix, str)
                           else [list(row) for row in c.matrix])
    if c.autapses:
        entry["autapses"] = True
    if c.delay:
        entry["delay"] = c.delay
    if c.tau_syn:
        entry["tau_syn"] = c.tau_syn
    return entry


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
    if not isinstance(path, (str, Path)):
        raise ModelError("must be the path of a model file", key="path",
                         value=type(path).__name__, allowed="a str or pathlib.Path (.toml)")
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ModelError(f"cannot read model file: {error.strerror}", file=str(path)) from None
    return loads_model(text, source=str(path))


def loads_model(text: str, *, source: str | None = None) -> Model:
    """The validated Model of a TOML text (``source``: the file it came from, named in
    errors, and the base of relative ``.npy`` matrix paths)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ModelError(f"not valid TOML: {error}", file=source) from None
    return model_from_dict(data, source=source)


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
    data = model_to_dict(model)
    lines = [f"{_toml_key(k)} = {_toml_value(data[k])}" for k in ("name", "description")
             if k in data]
    lines += ["", "[simulation]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in data["simulation"].items()]
    for group in ("populations", "drives", "connections"):
        for name, table in data.get(group, {}).items():
            lines += ["", f"[{group}.{_toml_key(name)}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    for table in ("lif", "lif_network"):
        if table in data:
            lines += ["", f"[{table}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in data[table].items()]
    return "\n".join(lines) + "\n"


def dump_model(model: Model, path: str | Path) -> None:
    """Write ``model`` to a TOML file that :func:`load_model` reads back to an equal model
    (atomically, see :func:`neurorect.io.atomic_path`)."""
    if not isinstance(model, Model):
        raise ModelError("must be a model", key="model", value=type(model).__name__,
                         allowed="a neurorect.Model")
    write_text(path, dumps_model(model))
