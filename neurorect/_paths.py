"""Dotted parameter paths (``populations.E.transfer.alpha``) onto the model's dataclasses.

:meth:`neurorect.spec.Model.with_values` and :meth:`~neurorect.spec.Model.get_value` address
a parameter by the path of its key in the model file. They are implemented here, on the
model's attributes (``name``, ``description``, ``simulation``, ``populations``, ``drives``,
``connections``, ``lif``, ``lif_network``) rather than its class, so that
:mod:`neurorect.spec` uses this module without an import loop, and without a round trip
through the file layout of :mod:`neurorect.modelfile`:

* :func:`nest_paths`: ``{path: value}`` -> nested :class:`Changes`, one per changed table
  (a dict given as a value is a whole table, not a change inside one);
* :func:`changed`: one object rebuilt with :func:`dataclasses.replace`, all its changes at
  once, so that constraints between its fields are checked on the final values. A change
  inside a sub-table (``transfer``, ``noise``) is merged into that sub-object's table, which
  is handed to the constructor to convert and validate, as when a file is loaded;
* :func:`changed_fields`: the new top-level fields of a model (for ``Model.replace``);
* :func:`value_at`: the value at a path;
* :func:`table_keys`, :func:`table_errors`: a table's keys, and the context that makes the
  errors of building its object name the file and the full key (shared with
  :func:`neurorect.modelfile.model_from_dict`);
* :data:`MODEL_KEYS`, :data:`POPULATION_KEYS`: keys of the file's top level and of a
  population table (the other tables' keys are their classes' fields, but ``name``);
* :func:`dimension_at`, :func:`si_values`: the dimension of the parameter at a path (from
  :data:`neurorect.units.FIELD_DIMENSIONS`, the one table of them), and values given for it
  (a batch, a sweep grid) in SI with their dimension checked. ``with_values`` needs neither:
  the dataclasses check the dimension of what they are built from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields, is_dataclass, replace
from typing import Any

from neurorect._validate import check_keys, closest_hint
from neurorect.drive import Drive
from neurorect.errors import ModelError
from neurorect.transfer import Transfer
from neurorect.units import DimensionError, Expected, field_dimension, to_si

__all__ = ["MODEL_KEYS", "POPULATION_KEYS", "Changes", "nest_paths", "changed",
           "changed_fields", "value_at", "table_keys", "table_errors", "dimension_at",
           "si_values"]

MODEL_KEYS = ("name", "description", "simulation", "populations", "drives", "connections",
              "lif", "lif_network")
POPULATION_KEYS = ("size", "tau", "form", "init", "transfer")
_GROUPS = ("populations", "drives", "connections")  # tables of named members


class Changes(dict):
    """Changes inside one table, keyed by the next path component. ``path`` is the first
    full path through this table (named in errors)."""

    path: str = ""


def nest_paths(values: Mapping[str, Any]) -> Changes:
    """``{"a.b.c": v, "a.d": w}`` -> ``Changes(a=Changes(b=Changes(c=v), d=w))``."""
    tree = Changes()
    for path, value in values.items():
        node: dict = tree
        *tables, leaf = path.split(".")
        for part in tables:
            child = node.get(part)
            if child is None:
                child = node[part] = Changes()
                child.path = path
            elif isinstance(child, Changes):
                pass
            elif isinstance(child, dict):  # a whole table given earlier: change a copy
                child = node[part] = dict(child)
            else:
                raise ModelError("path goes through a value, not a table", key=path,
                                 value=child, allowed="a path to a parameter")
            node = child
        node[leaf] = value
    return tree


def table_of(node: Any) -> Any:
    """The table view of a model object: ``{field: value}`` (a transfer: ``{"kind": ...,
    **parameters}``); a dict or a plain value is returned as it is."""
    if isinstance(node, Transfer):
        return node.to_dict()
    if is_dataclass(node) and not isinstance(node, type):
        return {f.name: getattr(node, f.name) for f in fields(node)}
    return node


def changed(obj: Any, change: Any, prefix: str, file: str | None,
            keys: Sequence[str] | None = None) -> Any:
    """``obj`` (a frozen dataclass) with the parameters of ``change`` set, validated.

    Parameters
    ----------
    obj : dataclass instance
        The object at ``prefix`` (a population, drive, connection, ...).
    change : Mapping
        ``{key: value}``; a :class:`Changes` value is merged into the sub-table at ``key``.
    prefix : str
        The object's path, put before the keys of errors.
    file : str, optional
        The model file, named in errors.
    keys : sequence of str, optional
        The keys of the object's table in a model file (default: its fields but ``name``).
    """
    if not isinstance(change, Mapping):
        raise ModelError("must be a table", key=prefix, value=change,
                         allowed="a table of its parameters", file=file)
    values = dict(change)
    for key, value in change.items():
        if isinstance(value, Changes) and hasattr(obj, key):
            current = table_of(getattr(obj, key))
            if current is not None and not isinstance(current, dict):
                raise ModelError("path goes through a value, not a table", key=value.path,
                                 value=current, allowed="a path to a parameter", file=file)
            values[key] = {**(current or {}), **value}
    with table_errors(prefix, file, values):
        check_keys("", values, keys or table_keys(type(obj)))
        return replace(obj, **values)


def table_keys(cls: type) -> tuple[str, ...]:
    """The keys of the model-file table of a model dataclass: its fields but ``name``."""
    return tuple(f.name for f in fields(cls) if f.name != "name")


@contextmanager
def table_errors(prefix: str, file: str | None, value: Any) -> Iterator[None]:
    """Errors while building the object of the table at ``prefix`` (from ``value``) name the
    file and the full key; a constructor's TypeError (a malformed table) becomes one too."""
    try:
        yield
    except ModelError as error:
        raise error.in_context(prefix=prefix, file=file) from None
    except TypeError as error:
        raise ModelError(str(error), key=prefix, value=value,
                         allowed="see the model-file reference, docs/model-files.md",
                         file=file) from None


def _tables(model: Any) -> dict[str, Any]:
    """The model's top level as in the file; each group as ``{name: member}``."""
    top = {"name": model.name, "description": model.description,
           "simulation": model.simulation,
           "populations": {p.name: p for p in model.populations}, "drives": dict(model.drives),
           "connections": {c.name: c for c in model.connections}}
    optional = {"lif": model.lif, "lif_network": model.lif_network}
    return {**top, **{key: table for key, table in optional.items() if table is not None}}


def _missing_table(change: Any, name: str, tables: Mapping[str, Any]) -> ModelError:
    return ModelError(f"no such table{closest_hint(name, list(tables))}",
                      key=getattr(change, "path", "") or name, value=name,
                      allowed=", ".join(map(str, tables)))


def changed_fields(model: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``model`` that ``{path: value}`` changes, rebuilt and validated (errors
    name the model's file and the full key); pass them to ``Model.replace``."""
    tree = nest_paths(values)
    try:
        check_keys("", tree, MODEL_KEYS)
    except ModelError as error:
        raise error.in_context(file=model.source) from None
    tables = _tables(model)
    new: dict[str, Any] = {}
    for key, change in tree.items():
        if key in ("name", "description"):
            new[key] = str(change)
        elif key not in _GROUPS:  # simulation, lif, lif_network: one object
            if key not in tables:
                raise _missing_table(change, key, tables)
            new[key] = changed(tables[key], change, key, model.source)
        else:
            members = tables[key]
            if not isinstance(change, Mapping):
                raise ModelError("must be a table", key=key, value=change,
                                 allowed=f"[{key}.NAME] tables", file=model.source)
            for name, member_change in change.items():
                if name not in members and key != "drives":  # an undriven one gets a drive
                    raise _missing_table(member_change, name, members)
                members[name] = changed(members.get(name, Drive()), member_change,
                                        f"{key}.{name}", model.source,
                                        POPULATION_KEYS if key == "populations" else None)
            new[key] = members if key == "drives" else tuple(members.values())
    return new


def value_at(model: Any, path: str) -> Any:
    """The value at a dotted path of ``model`` (SI); ModelError for a path that is none."""
    node: Any = _tables(model)
    for part in path.split("."):
        if not isinstance(node, dict) or node.get(part) is None:  # None: an absent table
            keys = [k for k, v in node.items() if v is not None] if isinstance(node, dict) else []
            raise ModelError(f"no such parameter{closest_hint(part, keys)}", key=path,
                             value=part, allowed=", ".join(map(str, keys)))
        node = table_of(node[part])
    return node


#: Classes of the tables a model may lack (the defaults that a change would create).
_ABSENT_TABLES = {"noise": "Noise", "lif": "LIFNeuron"}


def dimension_at(model: Any, path: str) -> Expected | None:
    """The dimension of the parameter at a dotted path of ``model``, from
    :data:`neurorect.units.FIELD_DIMENSIONS`: its table's class (``populations.E.transfer.k``
    of a power law: ``PowerLaw``), with what it depends on (a population's ``form``, a power
    law's ``n``). None for a word, a table or a path that names no parameter (the model's
    validation reports those)."""
    *tables, leaf = path.split(".")
    node: Any = _tables(model)
    for depth, part in enumerate(tables):
        child = node.get(part) if isinstance(node, Mapping) else getattr(node, part, None)
        if child is None:
            if tables[0] == "drives" and depth == 1:  # an undriven population: a new drive
                child = Drive()
            else:
                return field_dimension(_ABSENT_TABLES.get(part, ""), leaf)
        node = child
    if isinstance(node, Mapping):
        return None
    context = {key: getattr(node, key) for key in ("form", "n") if hasattr(node, key)}
    return field_dimension(type(node).__name__, leaf, **context)


def si_values(model: Any, path: str, values: Any) -> Any:
    """``values`` (a number, a unit string, a Brian2 quantity, or a sequence or array of
    them) given for the parameter at ``path``, in SI: a float or a float ndarray.
    ModelError naming the model's file, the path, the value and what is allowed: a
    DimensionError for a unit of another dimension, else (not a number) a plain one."""
    try:
        return to_si(values, dimension_at(model, path), key=path)
    except ModelError as error:
        kind = DimensionError if isinstance(error, DimensionError) else ModelError
        raise kind(error.detail, key=error.key, value=error.value, allowed=error.allowed,
                   file=model.source) from None
