"""The subcommands do what their help says: models by name, show, run options, response
tables, sweep line plots and heat-map cells, the broadband theory the figure compares with."""

from __future__ import annotations

import re
import tomllib

import numpy as np
import pytest

from neurorect import load_model, simulate
from neurorect.catalogue import CATALOGUE_DIR, names, resolve
from neurorect.cli import main
from neurorect.cli.show import format_model
from neurorect.io import load
from neurorect.modelfile import loads_model
from neurorect.plotting.sweeps import cell_edges
from neurorect.response import frequency_response
from neurorect.theory.broadband import broadband_response


def test_version_and_the_catalogue(capsys, models_dir):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and re.fullmatch(r"neurorect \d+\.\d+\.\d+\S*\n",
                                                 capsys.readouterr().out)
    assert main(["models"]) == 0
    listed = capsys.readouterr().out.splitlines()
    files = sorted(models_dir.glob("*.toml"))
    assert names() == [path.stem for path in files] and len(listed) == len(files)
    for line, path in zip(listed, files, strict=True):
        description = tomllib.loads(path.read_text())["description"]
        assert line.split()[0] == path.stem and line.endswith(description)


def test_a_name_and_a_path_load_the_same_model(models_dir):
    assert resolve("single_neuron") == CATALOGUE_DIR / "single_neuron.toml"
    assert resolve(str(models_dir / "single_neuron.toml")) == models_dir / "single_neuron.toml"
    assert load_model(resolve("single_neuron")) == load_model(models_dir / "single_neuron.toml")


@pytest.mark.parametrize("name", ["single_neuron", "ei_pair", "random_network", "lif_matched"])
def test_show_prints_every_key_and_loads_back_to_the_same_model(name):
    model = load_model(resolve(name))
    text = format_model(model)
    assert loads_model(text) == model  # show writes units only where they parse back exactly
    assert "# default" in text or "; default" in text
    data = tomllib.loads(text)
    assert set(data["simulation"]) == {"dt", "duration", "method", "seed", "transient",
                                       "record", "record_every", "n_harmonics"}
    assert all(set(table) >= {"size", "tau", "form", "init", "transfer"}
               for table in data["populations"].values())


def test_run_options_change_what_is_simulated(tmp_path, capsys):
    out = tmp_path / "run.nc"
    assert main(["run", "single_neuron", "--param", "populations.E.transfer.alpha=0.3",
                 "--param", "drives.E.freq=20 Hz", "--transient", "0.1 s", "--duration",
                 "0.5 s", "--record-every", "5", "--out", str(out), "--quiet"]) == 0
    model = load_model(resolve("single_neuron")).with_values(
        {"populations.E.transfer.alpha": 0.3, "drives.E.freq": 20.0})
    direct = simulate(model, 0.5, transient=0.1, record_every=5, progress=False)
    written = load(out)
    np.testing.assert_array_equal(written["rate"].values, direct["rate"].values)  # bit for bit
    np.testing.assert_array_equal(written["r0"].values, direct["r0"].values)
    assert f"{float(direct['mean_rate'].sel(population='E')):.4f}" in capsys.readouterr().out
    assert main(["run", "single_neuron", "--record", "none", "--out", str(out),
                 "--quiet"]) == 0
    assert "rate" not in load(out)


def test_a_run_shorter_than_the_transient_runs_plots_and_says_why(tmp_path, capsys):
    out, png = tmp_path / "short.nc", tmp_path / "short.png"
    assert main(["run", "single_neuron", "--duration", "0.1 s", "--out", str(out), "--plot",
                 str(png), "--quiet"]) == 0
    printed = capsys.readouterr().out
    reasons = [line for line in printed.splitlines() if line.startswith("no statistics")]
    assert len(reasons) == 1 and "0.1 s" in reasons[0] and "0.2 s" in reasons[0]
    written = load(out)
    assert "r0" not in written and written["rate"].sizes["time"] == 100  # 0.1 s, every 10th
    assert written.attrs["transient"] == 0.2 and png.stat().st_size > 10_000


def test_the_table_shows_no_nan_for_populations_without_a_sinusoid(capsys):
    assert main(["run", "ei_pair", "--param", "drives.E.I1=0", "--duration", "1 s",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "nan" not in printed.lower()
    rows = [line.split() for line in printed.splitlines() if line.split()[:1] in (["E"], ["I"])]
    assert len(rows) == 2 and all(row[-3:] == ["-", "-", "-"] for row in rows)


def test_run_prints_the_harmonic_of_the_population_mean_rate(capsys):
    assert main(["run", "random_network", "--duration", "0.4 s", "--record", "none",
                 "--quiet"]) == 0
    result = simulate(load_model(resolve("random_network")), 0.4, record="none",
                      progress=False)
    printed = capsys.readouterr().out
    members = result["neuron_population"].values == "E"
    z = result["amplitude"].sel(harmonic=1).values * np.exp(
        1j * result["phase"].sel(harmonic=1).values)
    row = next(line.split() for line in printed.splitlines() if line.split()[:1] == ["E"])
    # printed to 4 decimals: |mean of the complex coefficients| and its angle
    assert float(row[-2]) == pytest.approx(abs(z[members].mean()), abs=5e-5)
    assert float(row[-1]) == pytest.approx(np.angle(z[members].mean()), abs=5e-5)


def test_response_csv_columns_and_a_theory_figure(tmp_path, capsys):
    csv, png = tmp_path / "r.csv", tmp_path / "bode.png"
    assert main(["response", "single_neuron", "--method", "analytic", "--freqs", "1,10,100",
                 "--csv", str(csv), "--plot", str(png)]) == 0
    header, *rows = csv.read_text().splitlines()
    assert header.split(",")[:4] == ["freq_Hz", "r0_Hz", "gain", "phase_rad"]
    exact = frequency_response(load_model(resolve("single_neuron")), [1.0, 10.0, 100.0])
    np.testing.assert_allclose([float(r.split(",")[2]) for r in rows],
                               exact["gain"].sel(population="E"), rtol=1e-15)
    assert png.stat().st_size > 10_000 and "nan" not in capsys.readouterr().out.lower()


def test_broadband_theory_matches_the_broadband_estimate():
    """The Gaussian-input (Bussgang) response against the noise-driven estimate of
    single_neuron (leaky ReLU, alpha 0.1, I0 0.2, noise sd 1): within 4 standard errors at
    every frequency (the estimate's SEs come from its coherence; 4 SE over 7 x 2 values)."""
    model = load_model(resolve("single_neuron"))
    freqs = np.geomspace(1.0, 200.0, 7)
    estimate = frequency_response(model, freqs, method="broadband").sel(population="E")
    pop = model.population("E")
    chi = broadband_response(pop.transfer, 0.2, 1.0, freqs, tau=pop.tau, form=pop.form,
                             stimulus_tau=model.simulation.dt, dt=model.simulation.dt)
    assert np.all(np.abs(estimate["gain"].values - np.abs(chi))
                  < 4 * estimate["gain_se"].values)
    assert np.all(np.abs(estimate["phase"].sel(harmonic=1).values - np.angle(chi))
                  < 4 * estimate["phase_se"].values)
    # the small-signal slope phi'(I0) = 10 Hz is far off: the estimate is not that theory
    # at f = 0: E[phi'] = gain (alpha + (1 - alpha) P(x > threshold)), Phi(0.2) = 0.57926
    static = broadband_response(pop.transfer, 0.2, 1.0, [0.0], tau=pop.tau)
    assert abs(static[0]) == pytest.approx(10.0 * (0.1 + 0.9 * 0.5792597094391030), rel=1e-12)


def test_sweep_of_one_parameter_is_a_line_plot(tmp_path):
    out, png = tmp_path / "rate.nc", tmp_path / "rate.png"
    assert main(["sweep", "single_neuron", "--param", "drives.E.I0=-1,0,0.5,1", "--out",
                 str(out), "--quiet"]) == 0
    assert main(["plot", str(out), "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000


def test_cell_edges_on_uniform_log_and_irregular_grids():
    # uniform: cells as wide as the others, half a step beyond the extreme values
    np.testing.assert_allclose(cell_edges(np.array([0.0, 0.5, 1.0]), False),
                               [-0.25, 0.25, 0.75, 1.25])
    np.testing.assert_allclose(cell_edges(np.array([1.0, 10.0, 100.0]), True),
                               [10 ** -0.5, 10 ** 0.5, 10 ** 1.5, 10 ** 2.5])
    # irregular (issue 10: alpha = 0, 0.1, 0.3, 1 must not run the axis to 1.35)
    np.testing.assert_allclose(cell_edges(np.array([0.0, 0.1, 0.3, 1.0]), False),
                               [0.0, 0.05, 0.2, 0.65, 1.0])
