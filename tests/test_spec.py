"""Model files: loading, round trip, dotted paths, and every error message naming file/key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurorect import Drive, LeakyReLU, ModelError, load_model, single_population
from neurorect.modelfile import dump_model, dumps_model, loads_model
from neurorect.units import parse_quantity, unit_scale

#: Every shipped model (a new one is covered without editing this list).
MODEL_FILES = sorted(path.stem for path in (Path(__file__).resolve().parents[1] / "models"
                                            ).glob("*.toml"))


@pytest.mark.parametrize("name", MODEL_FILES)
def test_shipped_models_load_and_round_trip(name, models_dir, tmp_path):
    model = load_model(models_dir / f"{name}.toml")
    dump_model(model, tmp_path / "copy.toml")
    again = load_model(tmp_path / "copy.toml")
    assert again == model
    assert dumps_model(again) == dumps_model(model)
    np.testing.assert_array_equal(again.coupling_matrix(), model.coupling_matrix())


def test_every_connection_field_survives_a_round_trip(models_dir):
    """dumps_model wrote no delay and no tau_syn: a saved model lost its delays."""
    model = load_model(models_dir / "ei_pair.toml").with_values(
        {"connections.EE.delay": "1.5 ms", "connections.EI.tau_syn": "4 ms"})
    again = loads_model(dumps_model(model))
    assert again == model
    by_name = {c.name: c for c in again.connections}
    assert by_name["EE"].delay == 1.5e-3 and by_name["EI"].tau_syn == 4e-3


def test_units_are_converted_on_load(models_dir):
    model = load_model(models_dir / "lif_matched.toml")
    pop = model.population("E")
    assert pop.tau == pytest.approx(0.00596, rel=1e-15)  # "5.96 ms"
    assert pop.transfer.gain == pytest.approx(3884.0, rel=1e-15)  # 3.884 Hz/mV in Hz/V
    assert pop.transfer.threshold == pytest.approx(0.01515, rel=1e-15)
    assert model.drive("E").freq == 10.0 and model.lif.t_ref == 0.002


@pytest.mark.parametrize("text, value", [("10 ms", 0.01), ("15 mV", 0.015), ("5 Hz", 5.0),
                                         ("100 Hz/mV", 1e5), ("2 kHz", 2000.0),
                                         ("1 mV^2", 1e-6), ("-70 mV", -0.07), (3, 3.0)])
def test_parse_quantity(text, value):
    assert parse_quantity(text) == pytest.approx(value, rel=1e-15)


def test_bad_unit_strings():
    with pytest.raises(ValueError, match="unknown unit 'parsec'"):
        unit_scale("parsec")
    with pytest.raises(ValueError, match="expected '<number> <unit>'"):
        parse_quantity("ms")


def test_with_values_and_get_value(models_dir):
    model = load_model(models_dir / "single_neuron.toml")
    changed = model.with_values({"populations.E.transfer.alpha": 0.4, "drives.E.freq": "7 Hz"})
    assert changed.get_value("populations.E.transfer.alpha") == 0.4
    assert changed.drive("E").freq == 7.0
    assert model.population("E").transfer.alpha == 0.1  # the original is unchanged


def write(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


GOOD = """
name = "t"
[simulation]
dt = "0.1 ms"
duration = "1 s"
[populations.E]
tau = "10 ms"
transfer = { kind = "leaky_relu", gain = 1.0, alpha = 0.1 }
[drives.E]
I0 = 1.0
"""


@pytest.mark.parametrize("old, new, message", [
    # unknown keys, with the closest valid name
    ("tau = \"10 ms\"", "tua = \"10 ms\"",
     r"bad.toml: populations.E.tua = '10 ms': unknown key; did you mean 'tau'\?"),
    ("I0 = 1.0", "I0 = 1.0\nfrq = 5",
     r"bad.toml: drives.E.frq = 5: unknown key; did you mean 'freq'\?"),
    ("alpha = 0.1", "alpah = 0.1",
     r"bad.toml: populations.E.transfer.alpah = 0.1: unknown parameter.*did you mean 'alpha'"),
    ("[simulation]", "[simulaton]", r"bad.toml: simulaton = .*did you mean 'simulation'"),
    # missing keys
    ("tau = \"10 ms\"", "size = 2",
     r"bad.toml: populations.E.tau = None: missing required key"),
    # bad units
    ("tau = \"10 ms\"", "tau = \"10 parsecs\"",
     r"bad.toml: populations.E.tau = '10 parsecs': unknown unit 'parsecs'"),
    ("dt = \"0.1 ms\"", "dt = \"fast\"", r"bad.toml: simulation.dt = 'fast': expected"),
    # alpha outside [0, 1]
    ("alpha = 0.1", "alpha = 1.5",
     r"bad.toml: populations.E.transfer.alpha = 1.5: out of range \(allowed: 0 <= alpha <= 1\)"),
    # tau <= 0
    ("tau = \"10 ms\"", "tau = \"0 ms\"",
     r"bad.toml: populations.E.tau = 0.0: out of range \(allowed: 0 < tau < inf \(in s\)\)"),
    # dt too large for an explicit method
    ("duration = \"1 s\"", "duration = \"1 s\"\nmethod = \"euler\"\ndt = \"20 ms\"", None),
    # drive above Nyquist
    ("I0 = 1.0", "I0 = 1.0\nI1 = 1.0\nfreq = \"6 kHz\"",
     r"bad.toml: drives.E.freq = 6000.0: drive frequency at or above the Nyquist.*5000 Hz"),
    ("[drives.E]", "[drives.X]",
     r"bad.toml: drives.X = 'X': drive for an unknown population \(allowed: E\)"),
    ("I0 = 1.0", "I0 = [1.0, 2.0]",
     r"bad.toml: drives.E.I0 = \[1.0, 2.0\]: per-neuron list has the wrong length"),
    ("name = \"t\"", "name = \"t\"\n[connections.EE]\npre = \"E\"\npost = \"F\"",
     r"bad.toml: connections.EE.post = 'F': unknown population \(allowed: E\)"),
    ("name = \"t\"", "name = \"t\"\n[connections.EE]\npre = \"E\"\npost = \"E\"\nkind = \"ful\"",
     r"bad.toml: connections.EE.kind = 'ful': unknown value; did you mean 'full'\?"),
])
def test_model_file_errors_name_file_key_value_and_range(tmp_path, old, new, message):
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    if message is None:  # duplicated dt key is a TOML error; build the dt case separately
        text = GOOD.replace('dt = "0.1 ms"', 'dt = "20 ms"').replace(
            'duration = "1 s"', 'duration = "1 s"\nmethod = "euler"')
        message = (r"bad.toml: simulation.dt = 0.02: dt too large for the explicit method "
                   r"'euler' \(allowed: dt <= 0.01 s .*or method = 'exp_euler'\)")
    with pytest.raises(ModelError, match=message):
        load_model(write(tmp_path, text))


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ModelError, match=r"bad.toml: not valid TOML"):
        load_model(write(tmp_path, "name = [unclosed"))
    with pytest.raises(ModelError, match=r"nope.toml: cannot read model file"):
        load_model(tmp_path / "nope.toml")


def test_single_population_and_replace():
    model = single_population(LeakyReLU(2.0, 0.0, 0.3), tau=0.02, drive=Drive(I0=1.0),
                              dt=1e-4, duration=0.5)
    assert model.size == 1 and model.simulation.duration == 0.5
    with pytest.raises(ModelError, match=r"populations.E.tau = -1.0: out of range"):
        single_population(LeakyReLU(), tau=-1.0)
    with pytest.raises(ModelError, match=r"simulaton = 1: unknown field; did you mean "
                                         r"'simulation'\?"):
        model.replace(simulaton=1)


def test_drive_scalar_accepts_equal_per_neuron_values_only():
    from neurorect import frequency_response

    assert Drive(I1=(0.5, 0.5, 0.5)).scalar("I1") == 0.5 and Drive(freq=3.0).scalar("freq") == 3.0
    model = load_model("models/single_neuron.toml").with_values(
        {"populations.E.size": 2, "drives.E.I1": [1.0, 0.5]})
    with pytest.raises(ModelError, match=r"single_neuron.toml: drives.E.I1 = \[1.0, 0.5\]: "
                                         r"per-neuron values where one number is needed"):
        frequency_response(model, [1.0])
