"""`neurorect run` and the netCDF round trip with provenance."""

from __future__ import annotations

import numpy as np

from neurorect import load_model, simulate
from neurorect.cli import main
from neurorect.io import load, save
from neurorect.modelfile import model_from_dict


def test_run_prints_rates_and_writes_the_same_result_as_simulate(tmp_path, capsys):
    out, png = tmp_path / "run.nc", tmp_path / "run.png"
    status = main(["run", "models/ei_pair.toml", "--duration", "1 s", "--seed", "3",
                   "--out", str(out), "--plot", str(png), "--quiet"])
    assert status == 0 and png.stat().st_size > 10_000
    written = load(out)
    direct = simulate(load_model("models/ei_pair.toml"), 1.0, seed=3)
    # the file holds exactly what simulate returns (netCDF stores float64 losslessly)
    np.testing.assert_array_equal(written["rate"].values, direct["rate"].values)
    np.testing.assert_array_equal(written["mean_rate"].values, direct["mean_rate"].values)
    printed = capsys.readouterr().out
    for name in ("E", "I"):
        rate = float(direct["mean_rate"].sel(population=name))
        assert f"{rate:.4f}" in printed


def test_heat_map_for_large_populations(tmp_path):
    png = tmp_path / "net.png"
    assert main(["run", "models/random_network.toml", "--duration", "0.3 s", "--plot",
                 str(png), "--quiet"]) == 0
    assert png.stat().st_size > 10_000


def test_run_reports_bad_model_with_exit_status_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[populations.E]\ntau = "-1 ms"\ntransfer = { kind = "leaky_relu" }\n')
    assert main(["run", str(bad)]) == 2
    assert "populations.E.tau = -0.001: out of range" in capsys.readouterr().err


def test_provenance_round_trip_rebuilds_the_model(tmp_path):
    import tomllib

    model = load_model("models/single_neuron.toml")
    result = simulate(model, seed=11)
    again = load(save(result, tmp_path / "r.nc"))
    assert again.attrs["seed"] == 11 and again.attrs["neurorect_version"]
    rebuilt = model_from_dict(tomllib.loads(again.attrs["model"]))
    assert rebuilt == model.with_values({"simulation.seed": 11})  # the model as it was run
    np.testing.assert_array_equal(simulate(rebuilt).rate.values, result.rate.values)
    for name in list(again.data_vars) + list(again.coords):
        assert "units" in again[name].attrs, name
