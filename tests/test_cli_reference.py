"""docs/model-files.md cannot drift from the spec: its tables list exactly the keys of each
model dataclass, their defaults and allowed choices, and every example is valid."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from neurorect import transfer as transfers
from neurorect.drive import NOISE_KINDS, Drive, Noise, PulseTrain, Step
from neurorect.errors import ModelError
from neurorect.initial import INIT_KINDS, InitialState
from neurorect.modelfile import loads_model, model_from_dict
from neurorect.spec import (
    CONNECTION_KINDS,
    FORMS,
    METHODS,
    RECORD_CHOICES,
    Connection,
    LIFNeuron,
    Population,
    Simulation,
)
from neurorect.spec_feedforward import FeedForward
from neurorect.spec_lif import EXTERNAL_KINDS, LIFNetwork
from neurorect.units import parse_quantity

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "model-files.md"

#: The heading of each section and the dataclass whose file keys it documents.
SECTIONS = {
    "## `[simulation]`": Simulation, "## `[populations.NAME]`": Population,
    "## `[drives.NAME]`": Drive, "### `steps`": Step, "### `pulses`": PulseTrain,
    "### `noise`": Noise, "## `[connections.NAME]`": Connection, "## `[lif]`": LIFNeuron,
    "## `[lif_network]`": LIFNetwork, "### `init`": InitialState,
    "## `[feedforward]`": FeedForward,
    **{f"### transfer `{kind}`" + (" (also `relu`)" if kind == "leaky_relu" else ""): cls
       for kind, cls in transfers.TRANSFER_KINDS.items()},
}
#: Keys a model file must give although the dataclass has a default (modelfile's check).
FILE_REQUIRED = {(Population, "transfer")}
#: Keys whose documented default is a word for the dataclass's default object.
DEFAULT_OBJECTS = {(FeedForward, "transfer")}
#: Choices each documented key must list (all of them, and nothing else).
CHOICES = {(Simulation, "method"): METHODS, (Simulation, "record"): RECORD_CHOICES,
           (Population, "form"): FORMS, (Connection, "kind"): CONNECTION_KINDS,
           (Noise, "kind"): NOISE_KINDS, (LIFNetwork, "external"): EXTERNAL_KINDS,
           (InitialState, "kind"): INIT_KINDS, (FeedForward, "form"): FORMS}


def _sections() -> dict[str, list[str]]:
    """Heading -> the lines up to the next heading."""
    out: dict[str, list[str]] = {}
    current = None
    for line in REFERENCE.read_text().splitlines():
        if line.startswith("#"):
            current = line.strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


def _rows(lines: list[str]) -> dict[str, list[str]]:
    """Key -> cells of the section's table (key, dimension, default, allowed, meaning)."""
    rows = {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    return rows


def _default(field):
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    return MISSING


def _documented(text: str, key: str):
    """The default column as a value: numbers (SI), words, [] and none."""
    text = text.strip("`")
    if text == "(required)":
        return MISSING
    if text in ("none", "(empty)"):
        return None
    if text == "[]":
        return ()
    if text in ("true", "false"):
        return text == "true"
    if text in ("inf", "-inf"):
        return float(text)
    try:
        return parse_quantity(text)
    except ValueError:
        return text


def test_every_section_is_there():
    assert set(SECTIONS) <= set(_sections()), set(SECTIONS) - set(_sections())


@pytest.mark.parametrize("heading", list(SECTIONS))
def test_keys_and_defaults_match_the_dataclass(heading):
    cls = SECTIONS[heading]
    rows = _rows(_sections()[heading])
    spec_fields = {f.name: f for f in fields(cls) if f.name != "name"}
    assert set(rows) == set(spec_fields), (heading, set(rows) ^ set(spec_fields))
    for key, field in spec_fields.items():
        expected = _default(field)
        documented = _documented(rows[key][2], key)
        if (cls, key) in FILE_REQUIRED:
            expected = MISSING
        if (cls, key) in DEFAULT_OBJECTS:
            kind = {cls: kind for kind, cls in transfers.TRANSFER_KINDS.items()}
            assert documented == kind[type(expected)] and expected == type(expected)()
            continue
        if isinstance(expected, float) and isinstance(documented, float):
            assert documented == expected or (math.isinf(expected) and documented == expected)
        elif expected == "model" or expected == "":
            continue
        else:
            assert documented == expected, (heading, key, documented, expected)
        assert rows[key][1] and rows[key][3] and rows[key][4], (heading, key)  # all filled


@pytest.mark.parametrize(("cls", "key"), list(CHOICES))
def test_choices_are_the_allowed_ones(cls, key):
    heading = next(h for h, c in SECTIONS.items() if c is cls)
    allowed = _rows(_sections()[heading])[key][3]
    assert set(re.findall(r"`([a-z_0-9]+)`", allowed)) == set(CHOICES[(cls, key)])


def test_every_transfer_kind_is_documented():
    kinds = {h.split("`")[1] for h in _sections() if h.startswith("### transfer")}
    assert kinds == set(transfers.TRANSFER_KINDS)


def _toml_examples() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", REFERENCE.read_text(), flags=re.S)


def test_every_example_is_valid():
    examples = _toml_examples()
    assert len(examples) >= len(SECTIONS)
    unit = {"tau": 0.01, "transfer": {"kind": "relu"}}
    for text in examples:
        data = tomllib.loads(text)
        if "populations" in data and "simulation" in data:  # a whole file
            loads_model(text, source="example.toml")
            continue
        # a fragment, completed into the smallest model around it
        model: dict = {"populations": {"E": dict(unit), "I": dict(unit)}}
        if "transfer" in data:
            model["populations"]["E"]["transfer"] = data["transfer"]
        elif set(data) & {"steps", "pulses", "noise"}:
            model["drives"] = {"E": data}
        else:
            model.update(data)
        model_from_dict(model, source="example.toml")


def test_errors_point_at_the_reference():
    with pytest.raises(ModelError, match="docs/model-files.md"):
        model_from_dict({"populations": {"E": {"tau": 0.01, "transfer": {"kind": "relu"}}},
                         "drives": {"E": {"steps": [{"amplitude": 1.0}]}}})  # no start
