"""Unit dimensions: the algebra, the table of every model field's dimension, and its checks
in model files, with_values, replace, keyword arguments, sweep grids, LIF functions and CLI
option types.

Every check is exact: SI conversions are products of powers of ten (compared to 1e-15
relative, the rounding of one multiplication), and refusals are matched by the key, the
value and the expected dimension in the message.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import re

import numpy as np
import pytest

import neurorect.drive as drive_module
import neurorect.spec as spec_module
import neurorect.transfer as transfer_module
from neurorect import ModelError, load_model, simulate
from neurorect._paths import dimension_at
from neurorect.cli.common import quantities_type, quantity_type
from neurorect.lif import siegert_rate
from neurorect.modelfile import loads_model, model_from_dict, model_to_dict
from neurorect.sweeps import parse_values, run_sweep
from neurorect.sweeps.grid import build_dims
from neurorect.units import (
    DIMENSIONS,
    FIELD_DIMENSIONS,
    Dimension,
    DimensionError,
    expected,
    parse_quantity,
    parse_unit,
    to_si,
)

SINGLE_NEURON = """
name = "single"
[simulation]
dt = "0.1 ms"
duration = "0.5 s"
transient = "0.1 s"
[populations.E]
tau = "10 ms"
transfer = { kind = "leaky_relu", gain = "10 Hz", threshold = 0.0, alpha = 0.1 }
[drives.E]
I0 = 0.2
I1 = 1.0
freq = "5 Hz"
"""


# --------------------------------------------------------------- the four reproductions
def test_reproduction_tau_in_kilohertz_is_refused_in_a_model_file():
    """Issue 9.2: ``tau = "10 kHz"`` loaded as 10,000 s. Fails on main (accepted)."""
    text = SINGLE_NEURON.replace('tau = "10 ms"', 'tau = "10 kHz"')
    with pytest.raises(ModelError, match=r"^m.toml: populations.E.tau = '10 kHz': wrong "
                                         r"dimension: a frequency \(Hz\), not a time"):
        loads_model(text, source="m.toml")


def test_reproduction_with_values_refuses_a_frequency_for_tau():
    """Issue 9.2: ``with_values({"populations.E.tau": "10 Hz"})`` gave tau = 10 s. Fails on
    main (accepted)."""
    model = loads_model(SINGLE_NEURON, source="m.toml")
    with pytest.raises(ModelError, match=r"populations.E.tau = '10 Hz': wrong dimension.*"
                                         r"not a time \(allowed: a time \(s\), e.g. .10 ms."):
        model.with_values({"populations.E.tau": "10 Hz"})


def test_reproduction_drive_frequency_in_milliseconds_is_refused():
    """Issue 9.2: ``drives.E.freq = "5 ms"`` loaded as 0.005 Hz. Fails on main (accepted)."""
    text = SINGLE_NEURON.replace('freq = "5 Hz"', 'freq = "5 ms"')
    with pytest.raises(ModelError, match=r"m.toml: drives.E.freq = '5 ms': wrong dimension: "
                                         r"a time \(s\), not a frequency"):
        loads_model(text, source="m.toml")


def test_reproduction_simulate_refuses_a_voltage_time_step():
    """Issue 9.2: ``simulate(m, dt="0.05 mV")`` ran. Fails on main (it ran with dt = 5e-5 s).
    The other time arguments of simulate are checked the same way."""
    model = loads_model(SINGLE_NEURON)
    with pytest.raises(ModelError, match=r"simulation.dt = '0.05 mV': wrong dimension: a "
                                         r"voltage \(V\), not a time"):
        simulate(model, dt="0.05 mV")
    with pytest.raises(ModelError, match=r"simulation.duration = '5 Hz'.*not a time"):
        simulate(model, duration="5 Hz")
    with pytest.raises(ModelError, match=r"simulation.transient = '1 V'.*not a time"):
        simulate(model, transient="1 V")


# ------------------------------------------------------------------------ the algebra
@pytest.mark.parametrize("unit, scale, dimension", [
    ("ms", 1e-3, "s"), ("kHz", 1e3, "Hz"), ("Hz/mV", 1e3, "Hz/V"), ("mV ms", 1e-6, "V s"),
    ("mV*ms", 1e-6, "V s"), ("/mV", 1e3, "1/V"), ("1/Hz", 1.0, "s"), ("mV/Hz", 1e-3, "V s"),
    ("ms^2", 1e-6, "s^2"), ("mV**2", 1e-6, "V^2"), ("kohm", 1e3, "V/A"), ("nF", 1e-9, "A s/V"),
    ("uS", 1e-6, "A/V"), ("rad", 1.0, "1"), ("", 1.0, "1"), ("Hz / mV", 1e3, "Hz/V"),
    ("V/A*A", 1.0, "V"),
])
def test_unit_scale_and_dimension(unit, scale, dimension):
    got_scale, got_dim = parse_unit(unit)
    assert got_scale == pytest.approx(scale, rel=1e-15)  # one product of powers of ten
    assert str(got_dim) == dimension


def test_dimension_algebra_matches_si_base_units():
    volt = parse_unit("V")[1]
    assert volt == Dimension.of(kg=1, m=2, s=-3, A=-1)  # the SI definition of the volt
    assert parse_unit("ohm")[1] == volt / parse_unit("A")[1]
    assert parse_unit("F")[1] * parse_unit("ohm")[1] == parse_unit("s")[1]  # RC is a time
    assert parse_unit("Hz")[1] * parse_unit("s")[1] == Dimension()
    assert (volt ** 2) / volt == volt


@pytest.mark.parametrize("value, dimension, si", [
    ("10 ms", "time", 0.01), ("5 Hz", "frequency", 5.0), ("15 mV", "voltage", 0.015),
    ("15 mV", "drive", 0.015), ("0.5", "drive", 0.5), ("10 Hz", "rate/drive", 10.0),
    ("3.884 Hz/mV", "rate/drive", 3884.0), ("0.5 /mV", "1/drive", 500.0),
    ("2 mV/Hz", "drive/rate", 0.002), ("0.1 s", "drive/rate", 0.1), ("1.5 rad", "angle", 1.5),
    ("inf Hz", "rate", np.inf), (3, "time", 3.0), ("-70 mV", "voltage", -0.07),
])
def test_parse_quantity_accepts_the_right_dimension(value, dimension, si):
    assert parse_quantity(value, dimension) == pytest.approx(si, rel=1e-15)


@pytest.mark.parametrize("value, dimension, given", [
    ("10 kHz", "time", r"a frequency \(Hz\)"), ("5 ms", "frequency", r"a time \(s\)"),
    ("1 s", "voltage", r"a time \(s\)"), ("10 Hz", "drive", r"a frequency \(Hz\)"),
    ("10 ms", "rate/drive", r"a time \(s\)"),
    ("1 Hz/mV^2", "rate/drive", r"a quantity in Hz/V\^2"),
    ("2 mV", "1/drive", r"a voltage \(V\)"), ("1 Hz", "drive/rate", r"a frequency \(Hz\)"),
    ("3 mV", "dimensionless", r"a voltage \(V\)"), ("1 A", "time", r"a current \(A\)"),
])
def test_parse_quantity_refuses_another_dimension(value, dimension, given):
    want = expected(dimension)
    with pytest.raises(DimensionError, match=rf"^p = '{re.escape(value)}': wrong dimension: "
                                             rf"{given}, not {want.name}"):
        parse_quantity(value, dimension, key="p")


def test_power_law_scale_depends_on_the_exponent():
    assert parse_quantity("2 Hz/mV^2", expected("rate/drive^n", n=2)) == pytest.approx(2e6)
    with pytest.raises(DimensionError, match="power n = 2"):
        parse_quantity("2 Hz/mV", expected("rate/drive^n", n=2))
    assert transfer_module.PowerLaw(k="2 Hz/mV^3", n=3).k == pytest.approx(2e9, rel=1e-15)
    with pytest.raises(ModelError, match=r"power_law.k = '2 Hz/mV'"):
        transfer_module.PowerLaw(k="2 Hz/mV", n=3)


def test_population_init_has_the_dimension_of_the_state():
    """Rate form: the state is a rate (Hz); voltage form: drive units."""
    assert spec_module.Population("E", tau=0.01, init="5 Hz").init == 5.0
    assert spec_module.Population("E", tau=0.01, form="voltage", init="5 mV").init == 0.005
    with pytest.raises(ModelError, match=r"init = '5 mV'.*not a firing rate"):
        spec_module.Population("E", tau=0.01, init="5 mV")
    with pytest.raises(ModelError, match=r"init = '5 Hz'.*not an input in drive units"):
        spec_module.Population("E", tau=0.01, form="voltage", init="5 Hz")


def test_brian2_quantities_are_checked_too():
    b2 = pytest.importorskip("brian2")
    assert parse_quantity(20 * b2.ms, "time") == pytest.approx(0.02, rel=1e-15)
    assert parse_quantity(3.9 * b2.Hz / b2.mV, "rate/drive") == pytest.approx(3900, rel=1e-15)
    with pytest.raises(DimensionError, match=r"a voltage \(V\), not a time"):
        parse_quantity(20 * b2.mV, "time")
    np.testing.assert_allclose(to_si([1.0, 2.0] * b2.ms, "time"), [1e-3, 2e-3], rtol=1e-15)
    with pytest.raises(DimensionError):
        to_si([1.0, 2.0] * b2.mV, "time")
    with pytest.raises(ModelError, match=r"init = 10. \* msecond.*not a firing rate"):
        spec_module.Population("E", tau=10 * b2.ms, init=10 * b2.ms)
    with pytest.raises(ModelError, match=r"tau_m = 20. \* mvolt: wrong dimension"):
        siegert_rate(0.015, 0.005, tau_m=20 * b2.mV, v_th=0.02, v_reset=0.01, t_ref=0.002)


def test_lif_functions_check_dimensions():
    exact = siegert_rate(0.015, 0.005, tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002)
    assert siegert_rate("15 mV", "5 mV", tau_m="20 ms", v_th="20 mV", v_reset="10 mV",
                        t_ref="2 ms") == exact  # the same SI floats: bit for bit
    with pytest.raises(DimensionError, match=r"t_ref = '2 mV'.*not a time"):
        siegert_rate(0.015, 0.005, tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref="2 mV")


def test_cli_quantity_types_name_the_dimension():
    parser = argparse.ArgumentParser(prog="neurorect run", exit_on_error=False)
    parser.add_argument("--dt", type=quantity_type("time"))
    parser.add_argument("--freqs", type=quantities_type("frequency"))
    args = parser.parse_args(["--dt", "0.1 ms", "--freqs", "1 Hz,2.5,1 kHz"])
    assert args.dt == pytest.approx(1e-4, rel=1e-15) and args.freqs == [1.0, 2.5, 1000.0]
    with pytest.raises(argparse.ArgumentError, match=r"'0.05 mV': wrong dimension: a voltage "
                                                     r"\(V\), not a time"):
        parser.parse_args(["--dt", "0.05 mV"])
    with pytest.raises(argparse.ArgumentError, match=r"'2 ms'.*not a frequency"):
        parser.parse_args(["--freqs", "1 Hz,2 ms"])
    with pytest.raises(ValueError, match="unknown dimension 'tiem'"):
        quantity_type("tiem")


# -------------------------------------------------- one drive unit per model file
LIF_MATCHED = "models/lif_matched.toml"


def test_drive_units_of_a_model_file_must_agree(models_dir):
    text = SINGLE_NEURON.replace("I0 = 0.2", 'I0 = "200 mV"')
    with pytest.raises(ModelError, match=r"m.toml: populations.E.transfer.gain = '10 Hz': drive "
                                         r"units disagree.*drives.E.I0 = '200 mV' puts the "
                                         r"input in volts"):
        loads_model(text, source="m.toml")
    # a gain in Hz/V with an input in volts is right; so are bare (SI) numbers
    loads_model(text.replace('gain = "10 Hz"', 'gain = "10 Hz/mV"'))
    loads_model(text.replace('gain = "10 Hz"', "gain = 10000.0"))
    lif_text = (models_dir / "lif_matched.toml").read_text()
    with pytest.raises(ModelError, match=r"gain = '3884 Hz': drive units disagree"):
        loads_model(lif_text.replace('"3.884 Hz/mV"', '"3884 Hz"'))


# ------------------------------------------------------ the table against the dataclasses
def _table_classes() -> dict[str, type]:
    """Every model-table dataclass: those defined in the modules of the model's tables
    (found, not listed, so that a new table or field cannot be forgotten), but the Model."""
    modules = [spec_module, drive_module, transfer_module]
    for optional in ("neurorect.spec_lif",):  # tables that may move out of spec.py
        try:
            modules.append(importlib.import_module(optional))
        except ImportError:
            pass
    classes = {}
    for module in modules:
        for obj in vars(module).values():
            if (isinstance(obj, type) and dataclasses.is_dataclass(obj)
                    and obj.__module__ == module.__name__ and obj is not spec_module.Model
                    and dataclasses.fields(obj)):
                classes[obj.__name__] = obj
    return classes


def _numeric_fields(cls: type) -> set[str]:
    # annotations are strings (postponed evaluation); a drive's Scalar is float or per-neuron;
    # a union counts by its first member (Population.init: a number, per-unit values or a
    # seeded table)
    return {f.name for f in dataclasses.fields(cls)
            if str(f.type).split(" |")[0] in ("float", "int", "Scalar")}


def test_dimension_table_covers_exactly_the_numeric_fields():
    """FIELD_DIMENSIONS cannot drift from the dataclasses: every numeric field (float, int,
    or a per-neuron scalar) of every model table has a dimension, and nothing else has."""
    classes = _table_classes()
    assert set(FIELD_DIMENSIONS) == set(classes)
    for name, cls in classes.items():
        assert set(FIELD_DIMENSIONS[name]) == _numeric_fields(cls), name
        for dimension in FIELD_DIMENSIONS[name].values():
            assert dimension in DIMENSIONS or dimension in ("state", "rate/drive^n")


EVERYTHING = """
name = "every_table"
[simulation]
dt = "0.1 ms"
duration = "1 s"
transient = "0.1 s"
n_harmonics = 2
[populations.E]
size = 2
tau = "10 ms"
init = "1 Hz"
[populations.E.transfer]
kind = "leaky_relu"
gain = 10.0
threshold = 0.1
alpha = 0.1
rate_min = -1.0
rate_max = 100.0
baseline = 0.5
[populations.V]
tau = "5 ms"
form = "voltage"
init = 0.1
transfer = { kind = "softplus", gain = 2.0, threshold = 0.2, sharpness = 3.0 }
[populations.P]
tau = "5 ms"
transfer = { kind = "power_law", k = 0.5, threshold = 0.1, n = 2.0 }
[populations.S]
tau = "5 ms"
transfer = { kind = "sigmoid", rate_max = 50.0, threshold = 0.3, slope = 2.0 }
[populations.U]
tau = "5 ms"
transfer = { kind = "elu", gain = 1.0, threshold = 0.0, alpha = 0.5 }
[populations.G]
tau = "5 ms"
transfer = { kind = "gelu", gain = 1.0, threshold = 0.0 }
[populations.L]
tau = "20 ms"
transfer = { kind = "lif", tau_m = 0.02, v_th = 0.02, v_reset = 0.01, t_ref = 0.002 }
[drives.E]
I0 = 0.5
I1 = 0.2
freq = "5 Hz"
phase = 0.3
noise = { kind = "ou", sigma = 0.1, tau = "5 ms" }
[connections.EV]
pre = "E"
post = "V"
kind = "gaussian"
weight = 0.1
g = 0.2
seed = 1
[connections.VE]
pre = "V"
post = "E"
kind = "sparse"
weight = 0.05
probability = 0.5
seed = 2
[lif]
population = "L"
"""


def _paths(model) -> list[str]:
    """Every numeric parameter path of ``model``, from its objects' fields."""
    out = [f"simulation.{f}" for f in FIELD_DIMENSIONS["Simulation"]]
    for pop in model.populations:
        out += [f"populations.{pop.name}.{f}" for f in FIELD_DIMENSIONS["Population"]]
        out += [f"populations.{pop.name}.transfer.{f}"
                for f in FIELD_DIMENSIONS[type(pop.transfer).__name__]]
    for name, drive in model.drives.items():
        out += [f"drives.{name}.{f}" for f in FIELD_DIMENSIONS["Drive"]]
        if drive.noise is not None:
            out += [f"drives.{name}.noise.{f}" for f in FIELD_DIMENSIONS["Noise"]]
    for conn in model.connections:
        out += [f"connections.{conn.name}.{f}" for f in FIELD_DIMENSIONS["Connection"]]
    return out + [f"lif.{f}" for f in FIELD_DIMENSIONS["LIFNeuron"]]


MODEL = loads_model(EVERYTHING, source="every.toml")
PATHS = _paths(MODEL)
_PROBES = [parse_unit(u)[1] for u in ("s", "Hz", "V", "A", "Hz/V", "V s")]


def _quantities(path: str):
    """(a right unit string for each accepted dimension, a wrong one) of the value at
    ``path``: the same SI value written with a unit."""
    want = dimension_at(MODEL, path)
    value = MODEL.get_value(path)
    rights = [f"{value!r} {dim}" for dim in want.dimensions]
    wrong_dim = next(d for d in _PROBES if d not in want.dimensions)
    return want, value, rights, f"{value!r} {wrong_dim}"


def test_every_table_is_covered_by_the_path_test():
    """The model of the path test has a table of every kind (steps and pulses, lists inside
    a drive, are tested on their own below)."""
    tables = {"Simulation", "Population", "Drive", "Noise", "Connection", "LIFNeuron",
              *(cls.__name__ for cls in transfer_module.TRANSFER_KINDS.values())}
    assert {_owner_class(path) for path in PATHS} == tables
    seen = {dimension_at(MODEL, path).name for path in PATHS}
    assert {"a time", "a frequency", "a voltage", "an angle", "a firing rate",
            "a rate per drive unit", "a reciprocal drive unit", "an input in drive units",
            "a weight in drive units per Hz", "a dimensionless number", "an integer"} <= seen


def _owner_class(path: str) -> str:
    parts = path.split(".")
    if parts[0] == "simulation":
        return "Simulation"
    if parts[0] == "lif":
        return "LIFNeuron"
    if parts[0] == "connections":
        return "Connection"
    if parts[0] == "drives":
        return "Noise" if parts[2] == "noise" else "Drive"
    if parts[2] == "transfer":
        return type(MODEL.population(parts[1]).transfer).__name__
    return "Population"


@pytest.mark.parametrize("path", PATHS)
def test_every_path_refuses_a_wrong_dimension_and_accepts_a_right_one(path):
    """with_values, the model-file loader and sweep grids, for every numeric parameter: a
    unit of the wrong dimension is a ModelError naming the file, the path, the value and the
    expected dimension; the same SI value written in a right unit is accepted, equal."""
    want, value, rights, wrong = _quantities(path)
    if want.integer:  # counts take integers only: a unit string is refused
        with pytest.raises(ModelError, match=rf"{path} = '{wrong}'"):
            MODEL.with_values({path: wrong})
        return
    message = rf"^every.toml: {path} = '{wrong}': wrong dimension: .*, not {want.name} "
    for right in rights:  # with_values
        assert MODEL.with_values({path: right}).get_value(path) == pytest.approx(
            value, rel=1e-15)
    with pytest.raises(ModelError, match=message):
        MODEL.with_values({path: wrong})
    data = model_to_dict(MODEL)  # the model-file loader (its [lif] table: input in volts)
    *tables, leaf = path.split(".")
    table = data
    for part in tables:
        table = table[part]
    table[leaf] = rights[-1]
    assert model_from_dict(data, source="every.toml").get_value(path) == pytest.approx(
        value, rel=1e-15)
    table[leaf] = wrong
    with pytest.raises(ModelError, match=message):
        model_from_dict(data, source="every.toml")
    with pytest.raises(ModelError, match=message):  # a sweep grid
        build_dims(MODEL, {path: [wrong]}, "product", None, set())


@pytest.mark.parametrize("cls", [drive_module.Step, drive_module.PulseTrain])
def test_steps_and_pulses_check_dimensions(cls):
    good = {"start": "0.1 s", "amplitude": "2 mV", "stop": "0.5 s"}
    if cls is drive_module.PulseTrain:
        good.update(period="20 ms", width="5 ms")
    for name, dimension in FIELD_DIMENSIONS[cls.__name__].items():
        assert getattr(cls(**good), name) == pytest.approx(parse_quantity(good[name]),
                                                           rel=1e-15)
        wrong = "3 Hz" if dimension == "time" else "3 ms"
        with pytest.raises(ModelError, match=rf"{name} = '{wrong}': wrong dimension.*not "
                                             rf"{expected(dimension).name}"):
            cls(**{**good, name: wrong})


def test_replace_checks_dimensions():
    pop = MODEL.population("E")
    with pytest.raises(ModelError, match=r"tau = '3 mV'.*not a time"):
        dataclasses.replace(pop, tau="3 mV")
    with pytest.raises(ModelError, match=r"leaky_relu.gain = '3 ms'.*not a rate per drive"):
        pop.transfer.replace(gain="3 ms")
    assert pop.transfer.replace(gain="3 Hz/mV").gain == pytest.approx(3000.0, rel=1e-15)


def test_sweep_grids_check_dimensions_before_anything_runs():
    model = loads_model(SINGLE_NEURON, source="m.toml")
    with pytest.raises(ModelError, match=r"m.toml: drives.E.freq = '1 ms': wrong dimension"):
        run_sweep(model, {"drives.E.freq": "log:1 ms:1 s:3"}, progress=False)
    with pytest.raises(ModelError, match=r"populations.E.tau = '2 kHz'"):
        run_sweep(model, {"populations.E.tau": "1 ms, 2 kHz"}, progress=False)
    np.testing.assert_allclose(parse_values("log:1 Hz:1 kHz:4", dimension="frequency"),
                               [1.0, 10.0, 100.0, 1000.0], rtol=1e-15)
    assert parse_values(["rk4", "euler"], dimension=None).tolist() == ["rk4", "euler"]


def test_simulate_batches_check_dimensions():
    """A batch of simulate is checked like the model file: '5 mV' is not a tau."""
    model = loads_model(SINGLE_NEURON, source="m.toml")
    with pytest.raises(ModelError, match=r"m.toml: populations.E.tau = '5 mV': wrong "
                                         r"dimension: a voltage \(V\), not a time"):
        simulate(model, 0.4, batch={"populations.E.tau": ["5 mV", "10 ms"]}, record="none")
    with pytest.raises(ModelError, match=r"drives.E.freq = '1 ms'.*not a frequency"):
        simulate(model, 0.4, batch={"drives.E.freq": ["1 ms"]}, record="none")
    # the right dimension in any unit: '10 ms' and 0.01 are the same copy, bit for bit
    result = simulate(model, 0.4, batch={"populations.E.tau": ["10 ms", 0.01]},
                      record="none", transient=0.2)
    assert result.r0.values[0, 0] == result.r0.values[1, 0]

def test_shipped_models_still_load(models_dir):
    for name in ("single_neuron", "ei_pair", "random_network", "lif_matched"):
        load_model(models_dir / f"{name}.toml")
