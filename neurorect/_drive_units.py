"""One drive unit per model file: its drive quantities in volts, or all dimensionless.

The rate model's input is in drive units, dimensionless or volts (a model matched to an LIF
neuron, whose input is a voltage). Each quantity alone accepts both (see
:mod:`neurorect.units`), but the quantities of one model must agree: ``I0 = "15 mV"`` with
``gain = "10 Hz"`` (a gain per dimensionless unit) applies a gain of 10 Hz per volt to a
15 mV input, almost surely not what was meant (``gain = "10 Hz/mV"``). A unit string states
which drive unit it is in (``"15 mV"``: volts; ``"10 Hz"`` for a gain: dimensionless; a bare
number states nothing, it is SI of either), and so does an ``[lif]`` table (volts).
:func:`check_drive_units` refuses a model file whose statements disagree, naming both keys.

Only the file's text says which unit a quantity was written in, so the check runs where
files are read (:func:`neurorect.modelfile.model_from_dict`); a model changed in Python holds
SI floats, which state nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from neurorect.errors import ModelError
from neurorect.transfer import TRANSFER_KINDS
from neurorect.units import FIELD_DIMENSIONS, drive_unit, expected, parse_quantity

__all__ = ["check_drive_units"]

_Statement = tuple[str, Any, str]  # (key, value, "V" or "1")


def _fields(prefix: str, table: Any, cls: str, **context: Any) -> Iterator[_Statement]:
    """The drive-unit statements of the fields of one table of class ``cls``."""
    if not isinstance(table, Mapping):
        return
    for name, value in table.items():
        dimension = FIELD_DIMENSIONS.get(cls, {}).get(name)
        if dimension is None:
            continue
        want = expected(dimension, **context)
        for item in value if isinstance(value, list) else [value]:
            unit = drive_unit(item, want)
            if unit is not None:
                yield f"{prefix}.{name}", item, unit


def _transfer(prefix: str, table: Any) -> Iterator[_Statement]:
    if not isinstance(table, Mapping):
        return
    kind = table.get("kind", "leaky_relu")
    cls = TRANSFER_KINDS.get("leaky_relu" if kind == "relu" else kind)
    if cls is None:
        return
    try:
        n = parse_quantity(table.get("n", 2.0))
    except ValueError:
        n = None
    yield from _fields(prefix, table, cls.__name__, n=n)


def _members(data: Mapping[str, Any], group: str) -> Iterator[tuple[str, Any]]:
    value = data.get(group, {})
    if isinstance(value, Mapping):
        yield from value.items()


def _statements(data: Mapping[str, Any]) -> Iterator[_Statement]:
    """Every drive-unit statement of a model file's tables, in file order."""
    for name, table in _members(data, "populations"):
        if isinstance(table, Mapping):
            prefix = f"populations.{name}"
            yield from _fields(prefix, table, "Population", form=table.get("form", "rate"))
            yield from _transfer(f"{prefix}.transfer", table.get("transfer"))
    for name, table in _members(data, "drives"):
        if isinstance(table, Mapping):
            prefix = f"drives.{name}"
            yield from _fields(prefix, table, "Drive")
            yield from _fields(f"{prefix}.noise", table.get("noise"), "Noise")
            for group, cls in (("steps", "Step"), ("pulses", "PulseTrain")):
                for i, item in enumerate(table.get(group, []) or []):
                    yield from _fields(f"{prefix}.{group}[{i}]", item, cls)
    for name, table in _members(data, "connections"):
        yield from _fields(f"connections.{name}", table, "Connection")
    if "lif" in data:
        yield "lif", "an [lif] table (its input is a voltage)", "V"


def check_drive_units(data: Mapping[str, Any], source: str | None = None) -> None:
    """ModelError naming the file and two keys whose units state different drive units.

    Parameters
    ----------
    data : mapping
        The nested dict of a model file (as read, unit strings not yet converted).
    source : str, optional
        The file, named in the error.
    """
    first: dict[str, _Statement] = {}
    for statement in _statements(data):
        first.setdefault(statement[2], statement)
        if len(first) == 2:
            break
    if len(first) < 2:
        return
    volts_key, volts_value, _ = first["V"]
    key, value, _ = first["1"]
    volts = volts_value if volts_key == "lif" else f"{volts_key} = {volts_value!r}"
    raise ModelError(f"drive units disagree: this is in dimensionless drive units, but "
                     f"{volts} puts the input in volts", key=key, value=value,
                     allowed="every drive quantity in volts (gains in Hz/V, e.g. '4 Hz/mV'; "
                             "weights in V/Hz) or every one dimensionless; bare numbers are SI "
                             "and agree with either", file=source)
