"""Parameter sweeps: grids, batched execution, Dask, stores, resume, CLI.

Most checks are exact equalities: a batch element of the engine equals its individual run
bit for bit, so a sweep point equals the run of its parameters alone, whatever the chunking,
the executor or an interruption. Tolerances are commented where they appear.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurorect.sweeps.execute as sweep_execute
from neurorect import ModelError, load_model
from neurorect.cli import main
from neurorect.driver import simulate
from neurorect.io import load, save
from neurorect.sweeps import StoreMismatchError, parse_values, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ROOT / "models" / "single_neuron.toml"
# ``neurorect.simulate`` is the function; this is its module (neurorect.driver)
simulate_module = sys.modules[simulate.__module__]
EI_PAIR = ROOT / "models" / "ei_pair.toml"
ALPHA = "populations.E.transfer.alpha"
FREQ = "drives.E.freq"
I0 = "drives.E.I0"


@pytest.fixture(scope="module")
def single():
    return load_model(SINGLE)


@pytest.fixture(scope="module")
def ei_pair():
    return load_model(EI_PAIR)


@pytest.fixture(scope="module")
def response_sweep(single):
    """alpha x freq x I0 response sweep (30 points) shared by several tests."""
    grid = {ALPHA: "0:1:5", FREQ: [5.0, 8.0, 20.0], I0: [-0.3, 0.4]}
    return run_sweep(single, grid, measure="response", progress=False)


def count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


# ------------------------------------------------------------------------------------ grid
def test_parse_values_specs():
    np.testing.assert_array_equal(parse_values("0:1:21"), np.linspace(0, 1, 21))
    np.testing.assert_array_equal(parse_values("lin:-1:1:5"), np.linspace(-1, 1, 5))
    log = parse_values("log:0.1:1000:31")
    np.testing.assert_array_equal(log, np.geomspace(0.1, 1000, 31))
    assert log[0] == 0.1 and log[-1] == 1000.0 and log.size == 31  # endpoints exact
    np.testing.assert_array_equal(parse_values("log:1 Hz:1 kHz:4"), [1.0, 10.0, 100.0, 1000.0])
    np.testing.assert_array_equal(parse_values(["5 ms", "10 ms"]), [0.005, 0.01])
    np.testing.assert_array_equal(parse_values("0.1, 0.2,0.5"), [0.1, 0.2, 0.5])
    assert parse_values([1, 2, 3]).dtype == np.int64
    assert list(parse_values("euler,rk4")) == ["euler", "rk4"]
    np.testing.assert_array_equal(parse_values(0.3), [0.3])


@pytest.mark.parametrize("spec", ["log:0:1:3", "0:1", "0:1:2.5", "0:1:0", "rk4,1", [],
                                  [float("nan")], "lin:a:1:3"])
def test_parse_values_errors_name_the_path(spec):
    with pytest.raises(ModelError, match="drives.E.freq"):
        parse_values(spec, key="drives.E.freq")


def test_grid_is_validated_up_front(single, monkeypatch):
    calls = count_calls(monkeypatch, simulate_module, "simulate")
    with pytest.raises(ModelError) as info:
        run_sweep(single, {ALPHA: [0.0, 0.5, 1.5]})
    message = str(info.value)
    assert "populations.E.transfer.alpha" in message and "1.5" in message
    assert "allowed" in message and "single_neuron.toml" in message
    with pytest.raises(ModelError, match="populations.E.transfer.alfa"):
        run_sweep(single, {"populations.E.transfer.alfa": [0.1]})
    with pytest.raises(ModelError, match="drives.E.freq"):  # above Nyquist for dt = 0.1 ms
        run_sweep(single, {FREQ: [10.0, 6000.0]})
    with pytest.raises(ModelError, match="different lengths"):
        run_sweep(single, {ALPHA: [0, 1], I0: [0, 1, 2]}, zip_paths=[ALPHA, I0])
    with pytest.raises(ModelError, match="cannot be swept"):
        run_sweep(single, {"simulation.n_harmonics": [2, 3]})
    with pytest.raises(ModelError, match="unknown measure"):
        run_sweep(single, {ALPHA: [0]}, measure="respnse")
    with pytest.raises(ModelError, match="integer"):
        run_sweep(single, {"simulation.seed": [1, 2.5]})
    with pytest.raises(ModelError, match="sinusoidal drive"):
        run_sweep(single, {"drives.E.I1": [0.0]}, measure="response")
    assert calls == []  # nothing ran


# ----------------------------------------------------------------------- points and layout
def test_sweep_point_equals_individual_run(single, response_sweep):
    ds = response_sweep
    assert ds["gain"].dims == ("alpha", "freq", "I0", "population")
    assert ds["amplitude"].dims == ("alpha", "freq", "I0", "population", "harmonic")
    assert ds.sizes == {"alpha": 5, "freq": 3, "I0": 2, "population": 1, "harmonic": 3}
    for alpha, freq, i0 in [(0.0, 5.0, -0.3), (0.25, 20.0, 0.4), (1.0, 8.0, -0.3)]:
        point = ds.sel(alpha=alpha, freq=freq, I0=i0, population="E")
        model = single.with_values({ALPHA: alpha, FREQ: freq, I0: i0})
        alone = simulate(model, float(point["duration"]), transient=ds.attrs["transient"],
                         record="none")
        # exact: the batch element is its individual run, bit for bit
        assert np.array_equal(point["amplitude"].values, alone["amplitude"].values[0])
        assert np.array_equal(point["phase"].values, alone["phase"].values[0])
        assert point["mean_rate"].item() == alone["mean_rate"].item()
        assert point["gain"].item() == alone["amplitude"].values[0, 0] / 1.0  # I1 = 1
        assert point["stat_freq"].item() == freq


def test_response_duration_rule(response_sweep):
    ds = response_sweep
    assert ds.attrs["transient"] == 0.2  # max(model 0.2 s, 10 tau = 0.1 s)
    dt = ds.attrs["dt"]
    for freq in ds["freq"].values:
        steps = round(float(ds["duration"].sel(freq=freq)[0, 0]) / dt)
        window = max(np.ceil(3 / (freq * dt) - 1e-9), round(0.2 / dt))
        assert steps == round(0.2 / dt) + window
    assert ds["duration"].dims == ("alpha", "freq", "I0")


def test_uncoupled_points_share_one_kernel_call(single, monkeypatch):
    calls = count_calls(monkeypatch, simulate_module, "simulate")
    ds = run_sweep(single, {ALPHA: "0:1:21", I0: "lin:-0.5:0.5:5"}, duration=0.4,
                   progress=False)
    assert len(calls) == 1 == ds.attrs["n_chunks"]
    batch = calls[0][1]["batch"]
    assert {k: len(v) for k, v in batch.items()} == {ALPHA: 105, I0: 105}
    # frequencies set the duration: one call per frequency, each batching all alphas
    calls.clear()
    run_sweep(single, {ALPHA: "0:1:21", FREQ: [5.0, 10.0, 40.0]}, measure="response",
              progress=False)
    assert [len(c[1]["batch"][ALPHA]) for c in calls] == [21, 21, 21]


def test_chunking_does_not_change_results(single, response_sweep):
    grid = {ALPHA: "0:1:5", FREQ: [5.0, 8.0, 20.0], I0: [-0.3, 0.4]}
    small = run_sweep(single, grid, measure="response", chunk_size=4, progress=False)
    assert small.attrs["n_chunks"] > response_sweep.attrs["n_chunks"]
    for name in ("amplitude", "phase", "gain", "mean_rate", "duration"):
        xr.testing.assert_identical(small[name], response_sweep[name])


def test_unbatchable_paths_are_looped(single):
    grid = {"simulation.dt": [1e-4, 2e-4], ALPHA: [0.0, 0.5, 1.0]}
    ds = run_sweep(single, grid, duration=0.4, progress=False)
    assert ds.attrs["n_chunks"] == 2  # one chunk (one kernel call) per dt
    assert ds["mean_rate"].dims == ("dt", "alpha", "population")
    alone = simulate(single.with_values({"simulation.dt": 2e-4, ALPHA: 0.5}), 0.4,
                     record="none")
    assert ds["mean_rate"].sel(dt=2e-4, alpha=0.5).item() == alone["mean_rate"].item()
    assert ds["dt"].attrs["units"] == "s"
    methods = run_sweep(single, {"simulation.method": ["exp_euler", "rk4"]}, duration=0.4,
                        progress=False)
    assert list(methods["method"].values) == ["exp_euler", "rk4"]


def test_zip_mode(single):
    grid = {ALPHA: [0.0, 0.5, 1.0], I0: [-0.2, 0.1, 0.6]}
    zipped = run_sweep(single, grid, mode="zip", duration=0.4, progress=False)
    product = run_sweep(single, grid, duration=0.4, progress=False)
    assert zipped["mean_rate"].dims == ("alpha", "population")
    assert zipped["I0"].dims == ("alpha",)
    np.testing.assert_array_equal(zipped["I0"].values, grid[I0])
    for k in range(3):
        assert (zipped["mean_rate"].isel(alpha=k).item()
                == product["mean_rate"].isel(alpha=k, I0=k).item())
    # zip_paths: a zipped group inside a product
    mixed = run_sweep(single, {**grid, "simulation.seed": [1, 2]}, zip_paths=[[ALPHA, I0]],
                      duration=0.4, progress=False)
    assert mixed["mean_rate"].dims == ("alpha", "seed", "population")


def test_coupled_network_points_equal_individual_runs(ei_pair):
    grid = {"connections.EE.weight": [0.2, 0.5], "populations.E.transfer.alpha": [0.0, 0.3],
            "populations.I.transfer.alpha": [0.1, 0.4]}
    ds = run_sweep(ei_pair, grid, duration=0.6, progress=False)
    assert ds["mean_rate"].dims == ("weight", "E_alpha", "I_alpha", "population")
    model = ei_pair.with_values({"connections.EE.weight": 0.5,
                                 "populations.E.transfer.alpha": 0.3,
                                 "populations.I.transfer.alpha": 0.1})
    alone = simulate(model, 0.6, record="none")
    # exact: per-copy W, the same element-wise arithmetic; the 2 x 2 products are the same
    # BLAS calls row by row
    np.testing.assert_array_equal(
        ds["mean_rate"].sel(weight=0.5, E_alpha=0.3, I_alpha=0.1).values,
        alone["mean_rate"].values)


def test_dims_coords_and_units(response_sweep, ei_pair):
    ds = response_sweep
    for name, variable in {**ds.data_vars, **ds.coords}.items():
        assert variable.attrs.get("units"), name
        assert variable.attrs.get("long_name"), name
    assert ds["alpha"].attrs["path"] == ALPHA and ds["alpha"].attrs["units"] == "1"
    assert ds["freq"].attrs["path"] == FREQ and ds["freq"].attrs["units"] == "Hz"
    assert ds["I0"].attrs["units"] == "drive units"
    assert ds["gain"].attrs["units"] == "Hz per drive unit"
    assert ds.attrs["model"].startswith('name = "single_neuron"')
    assert ds.attrs["neurorect_version"] and ds.attrs["seed"] == 1
    assert json.loads(ds.attrs["grid"])[ALPHA] == [0.0, 0.25, 0.5, 0.75, 1.0]
    # names: last component; population prefix on a clash or a result-variable name
    ds2 = run_sweep(ei_pair, {"populations.E.transfer.gain": [1.0, 2.0],
                              "drives.E.freq": [10.0]}, measure="response", progress=False)
    assert "E_gain" in ds2.dims and "freq" in ds2.dims and "gain" in ds2.data_vars
    assert ds2["E_gain"].attrs["path"] == "populations.E.transfer.gain"


def test_undriven_population_gain_refers_to_the_driver(ei_pair):
    ds = run_sweep(ei_pair, {FREQ: [10.0, 20.0]}, measure="response", progress=False)
    # exact: gain is A_1 / I1 with the E drive's I1 = 4 for both populations
    np.testing.assert_array_equal(ds["gain"].values, ds["amplitude"].values[..., 0] / 4.0)
    assert np.all(ds["stat_freq"].sel(population="I").values == [10.0, 20.0])


def test_saved_result_round_trips(response_sweep, tmp_path):
    save(response_sweep, tmp_path / "sweep.nc")
    xr.testing.assert_identical(load(tmp_path / "sweep.nc"), response_sweep)


# ------------------------------------------------------------------------------- measures
def test_fixed_point_measures_match_theory(ei_pair):
    from neurorect.theory import fixed_point

    grid = {"drives.E.I0": [-2.0, 1.0, 5.0], "connections.EE.weight": [0.2, 0.8]}
    ds = run_sweep(ei_pair, grid, measure="fixed_point", progress=False)
    assert ds["fixed_point_rate"].dims == ("I0", "weight", "population")
    model = ei_pair.with_values({"drives.E.I0": -2.0, "connections.EE.weight": 0.8})
    tf = [p.transfer for p in model.populations]
    fp = fixed_point(model.coupling_matrix(), [-2.0, 1.0], tf, tau=[0.01, 0.005])
    point = ds.sel(I0=-2.0, weight=0.8)
    np.testing.assert_array_equal(point["fixed_point_rate"].values, fp.rate)  # exact
    assert point["stable"].item() == int(fp.stable)
    assert point["max_real_eigenvalue"].item() == fp.max_real_eigenvalue
    np.testing.assert_array_equal(point["silent_fraction"].values,
                                  (fp.input < 0.0).astype(float))
    silent = run_sweep(ei_pair, grid, measure="silent_fraction", progress=False)
    xr.testing.assert_identical(silent["silent_fraction"], ds["silent_fraction"])


def test_callable_measure_gets_each_points_own_result(single):
    def peak(result):
        return xr.Dataset({"peak": ((), float(result["rate"].max()),
                                    {"units": "Hz", "long_name": "peak rate"})})

    grid = {ALPHA: [0.0, 0.5], I0: [0.0, 0.3]}
    ds = run_sweep(single, grid, measure=peak, duration=0.4, progress=False)
    assert ds["peak"].dims == ("alpha", "I0") and ds["peak"].attrs["units"] == "Hz"
    alone = simulate(single.with_values({ALPHA: 0.5, I0: 0.3}), 0.4)
    assert ds["peak"].sel(alpha=0.5, I0=0.3).item() == peak(alone)["peak"].item()

    def seen_alpha(result):  # each point's Dataset carries the point's own model
        return {"seen": tomllib.loads(result.attrs["model"])["populations"]["E"]["transfer"][
            "alpha"]}

    plain = run_sweep(single, grid, measure=seen_alpha, duration=0.4, progress=False)
    np.testing.assert_array_equal(plain["seen"].values, [[0.0, 0.0], [0.5, 0.5]])
    assert plain["seen"].attrs == {"units": "unspecified", "long_name": "user measure"}


# -------------------------------------------------------------------------- store, resume
GRID = {ALPHA: "0:1:6", FREQ: [5.0, 10.0]}


def test_store_resume_and_refusals(single, tmp_path, monkeypatch):
    store = tmp_path / "store"
    first = run_sweep(single, GRID, measure="response", store=store, chunk_size=4,
                      progress=False)
    n_chunks = first.attrs["n_chunks"]
    files = sorted(store.glob("chunk_*.nc"))
    assert len(files) == n_chunks == 4 and (store / "manifest.json").exists()
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["n_chunks"] == n_chunks and manifest["measure"] == "response"

    calls = count_calls(monkeypatch, sweep_execute, "run_chunk")
    with pytest.raises(StoreMismatchError, match="resume"):  # never silently overwritten
        run_sweep(single, GRID, measure="response", store=store, chunk_size=4)
    again = run_sweep(single, GRID, measure="response", store=store, chunk_size=4,
                      resume=True, progress=False)
    assert calls == []  # everything came from the store
    xr.testing.assert_identical(again, first)

    files[1].unlink()  # lose one chunk: only it is recomputed
    again = run_sweep(single, GRID, measure="response", store=store, chunk_size=4,
                      resume=True, progress=False)
    assert [c[0][1].index for c in calls] == [1]
    xr.testing.assert_identical(again, first)

    other = single.with_values({"populations.E.tau": 0.02})
    with pytest.raises(StoreMismatchError, match=r"differs in model .*tau"):
        run_sweep(other, GRID, measure="response", store=store, chunk_size=4, resume=True)
    with pytest.raises(StoreMismatchError, match=r"grid .*drives.E.freq values differ"):
        run_sweep(single, {ALPHA: "0:1:6", FREQ: [5.0, 11.0]}, measure="response",
                  store=store, chunk_size=4, resume=True)
    with pytest.raises(StoreMismatchError, match=r"measure \('response' in the store"):
        run_sweep(single, GRID, measure="rate", store=store, chunk_size=4, resume=True)
    with pytest.raises(StoreMismatchError, match="options .*chunk_size"):
        run_sweep(single, GRID, measure="response", store=store, chunk_size=3, resume=True)
    rate = run_sweep(single, GRID, measure="rate", store=store, overwrite=True,
                     progress=False)
    assert "gain" not in rate and json.loads((store / "manifest.json").read_text())[
        "measure"] == "rate"


KILL_SCRIPT = """
from neurorect.sweeps import run_sweep
run_sweep({model!r}, {grid!r}, store={store!r}, chunk_size=16, duration=8.0,
          resume=True, progress=False)
"""


def test_killed_sweep_resumes_to_the_uninterrupted_result(single, tmp_path, monkeypatch):
    grid = {ALPHA: "0:1:64", I0: "lin:-0.5:0.5:8"}  # 512 points, 32 chunks of ~0.05 s
    store = tmp_path / "store"
    script = KILL_SCRIPT.format(model=str(SINGLE), grid=grid, store=str(store))
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while len(list(store.glob("chunk_*.nc"))) < 3 and process.poll() is None:
            assert time.monotonic() < deadline, "the sweep wrote no chunks"
            time.sleep(0.02)
    finally:
        process.kill()
        _, stderr = process.communicate()
    assert process.returncode < 0, stderr.decode()  # killed, not finished
    written = len(list(store.glob("chunk_*.nc")))
    assert 3 <= written < 32
    calls = count_calls(monkeypatch, sweep_execute, "run_chunk")
    resumed = run_sweep(single, grid, store=store, chunk_size=16, duration=8.0,
                        resume=True, progress=False)
    assert len(calls) == 32 - written  # only the missing chunks
    monkeypatch.undo()
    uninterrupted = run_sweep(single, grid, chunk_size=16, duration=8.0, progress=False)
    xr.testing.assert_identical(resumed, uninterrupted)  # exact, attrs included


# ---------------------------------------------------------------------------------- dask
def test_dask_local_cluster_equals_local(single, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    local = run_sweep(single, GRID, measure="response", chunk_size=3, progress=False)
    in_process = count_calls(monkeypatch, sweep_execute, "run_chunk")
    distributed = run_sweep(single, GRID, measure="response", chunk_size=3, executor="dask",
                            store=tmp_path / "store", progress=False)
    assert in_process == []  # the chunks ran on the cluster's worker processes
    xr.testing.assert_identical(distributed, local)  # exact: the same task function
    assert len(list((tmp_path / "store").glob("chunk_*.nc"))) == local.attrs["n_chunks"]


def test_scheduler_needs_dask_executor(single):
    with pytest.raises(ModelError, match="executor"):
        run_sweep(single, GRID, scheduler="tcp://127.0.0.1:8786")


# ----------------------------------------------------------------------------------- CLI
def test_cli_sweep_resume_and_plot(tmp_path, capsys):
    out = tmp_path / "sweep.nc"
    args = ["sweep", str(SINGLE), "--param", f"{ALPHA}=0:1:4", "--param",
            f"{FREQ}=log:2:50:3", "--measure", "response", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert (tmp_path / "sweep_store" / "manifest.json").exists()
    ds = load(out)
    assert ds["gain"].dims == ("alpha", "freq", "population")
    assert main(args) == 2  # the store holds the chunks: refused without --resume
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    assert "reused from the store" in capsys.readouterr().out
    xr.testing.assert_identical(load(out), ds)
    assert main(["sweep", str(SINGLE), "--param", "drives.E.fre=1,2", "--out",
                 str(tmp_path / "x.nc")]) == 2
    assert "drives.E.fre" in capsys.readouterr().err
    for extra in (["--out", str(tmp_path / "heat.png")],
                  ["--kind", "bode", "--family", "alpha", "--out", str(tmp_path / "bode.png")]):
        assert main(["plot", str(out), *extra]) == 0
    assert (tmp_path / "heat.png").stat().st_size > 0
    assert (tmp_path / "bode.png").stat().st_size > 0
    assert main(["plot", str(out), "--var", "nope"]) == 2


def test_progress_can_be_silenced(single, capsys):
    run_sweep(single, {ALPHA: [0.0, 1.0]}, duration=0.4, progress=False)
    assert capsys.readouterr().err == ""
