"""Every public function validates its arguments, and work far beyond the machine is refused
before it starts (issue 9, item 6).

Each reproduction of the issue is a test here; on the main branch this was written against
(commit 903c4dd) each failed as its docstring says (a hang, a ZeroDivisionError, an
AttributeError, ...); now each is a ModelError naming the argument, the value and what is
allowed, raised before anything is allocated or run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from neurorect import (
    LeakyReLU,
    ModelError,
    dump_model,
    fourier,
    frequency_response,
    load_model,
    run_sweep,
    simulate,
    theory,
)
from neurorect import lif as lif_theory
from neurorect.driver import noise_input
from neurorect.fit import fit_leaky_relu, fit_to_lif

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "single_neuron.toml"


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL_PATH)


def _raises(key: str, call, *args, **kwargs) -> ModelError:
    """The ModelError of ``call``: its key is ``key`` and its message says what is allowed."""
    with pytest.raises(ModelError) as info:
        call(*args, **kwargs)
    assert info.value.key == key, str(info.value)
    assert info.value.allowed, str(info.value)
    return info.value


# ------------------------------------------------------------------ simulate: the list
@pytest.mark.parametrize("chunk_steps", [-5, 0, 1.5, True])
def test_chunk_steps_must_be_a_positive_whole_number(model, chunk_steps):
    """chunk_steps=-5 hung forever on main (the chunk loop never advanced), 0 was a
    ZeroDivisionError; 1.5 and True are refused too."""
    _raises("chunk_steps", simulate, model, chunk_steps=chunk_steps, record="none")


@pytest.mark.parametrize("bad", [None, {"populations": {}}, 3.0, ["models/x.toml"]])
def test_simulate_needs_a_model(bad):
    """simulate(None) and simulate(dict) were AttributeErrors on main."""
    error = _raises("model", simulate, bad)
    assert "path of a model file" in error.allowed



@pytest.mark.parametrize("call", ["compare", "compare_network", "matched_model"])
def test_crossval_needs_a_model(call):
    """crossval.compare(None) and its siblings were AttributeErrors."""
    from neurorect import crossval

    function = getattr(crossval, call)
    error = _raises("model", function, None) if call == "matched_model" else _raises(
        "model", function, None, [5.0])
    assert "path of a model file" in error.allowed

def test_a_path_string_is_loaded_as_a_model_file(model):
    """Decision: a path (str or Path) is loaded like run_sweep and the command line do
    (main: AttributeError). Same numbers as the loaded model."""
    by_path = simulate(str(MODEL_PATH), record="none", progress=False)
    by_model = simulate(model, record="none", progress=False)
    assert by_path["r0"].item() == by_model["r0"].item()
    _raises("path", load_model, None)  # main: TypeError from pathlib


@pytest.mark.parametrize("key", ["duration", "dt", "transient"])
def test_times_must_be_one_number(model, key):
    """duration=[1, 2] was a TypeError on main ("only length-1 arrays ...")."""
    _raises(key, simulate, model, **{key: [1, 2]})


@pytest.mark.parametrize("seed", [2**70, 2**63, -1, 1.5, True])
def test_seed_range(model, seed):
    """seed=2**70 was an OverflowError on main; the allowed range is 0 <= seed < 2**63."""
    error = _raises("seed", simulate, model, seed=seed, record="none")
    assert "2**63" in error.allowed


def test_the_largest_seed_runs(model):
    result = simulate(model, seed=2**63 - 1, record="none", progress=False, duration=0.4)
    assert np.isfinite(result["r0"].item())


def test_empty_batch_arrays_and_non_mappings(model):
    """An empty batch array was a ZeroDivisionError on main; a list an AttributeError."""
    _raises("drives.E.freq", simulate, model, batch={"drives.E.freq": np.array([])})
    _raises("batch", simulate, model, batch=[1.0, 2.0])
    _raises("drives.E.freq", simulate, model, batch={"drives.E.freq": 5.0})


@pytest.mark.parametrize("stats_freq", [5000.0, 6000.0, -1.0, "abc", [1.0, 2.0, 3.0]])
def test_stats_freq_must_be_below_nyquist(model, stats_freq):
    """stats_freq above the Nyquist frequency 1/(2 dt) = 5 kHz was accepted on main."""
    _raises("stats_freq", simulate, model, stats_freq=stats_freq, record="none")


def test_drive_frequency_at_or_above_nyquist_is_refused(model):
    error = _raises("drives.E.freq", simulate, model,
                    batch={"drives.E.freq": [1.0, 5000.0]})
    assert "5000 Hz" in error.allowed


def test_max_record_bytes_is_honoured(model):
    """max_record_bytes=0 was silently replaced by the 4 GiB default on main (``0 or ...``)."""
    _raises("max_record_bytes", simulate, model, max_record_bytes=0)
    _raises("record", simulate, model, max_record_bytes=1)  # the recording is ~14 kB


@pytest.mark.parametrize("key, value", [("progress", "yes"), ("lengthen", 1),
                                        ("min_periods", 0), ("neurons", ["a"]),
                                        ("max_work", -1.0), ("max_memory", 0)])
def test_other_simulate_options(model, key, value):
    _raises(key, simulate, model, record="none", **{key: value})


def test_noise_input_checks_like_simulate(model):
    """noise_input(seed=2**70) was an OverflowError, record_every=0 a ZeroDivisionError."""
    _raises("seed", noise_input, model, seed=2**70)
    _raises("record_every", noise_input, model, record_every=0)
    _raises("model", noise_input, None)


# ------------------------------------------------------------------ work far beyond the machine
def test_tiny_dt_is_refused_before_starting(model):
    """dt = 1e-12 is 2e12 steps: main just started (hours). Refused in well under a second,
    naming the work and the override."""
    started = time.perf_counter()
    error = _raises("max_work", simulate, model, dt=1e-12, record="none")
    assert time.perf_counter() - started < 2.0
    assert "2e+12 neuron-steps" in str(error) and "NEURORECT_MAX_WORK" in str(error)


def test_a_billion_neurons_are_refused_without_allocating(model):
    """size = 1e9 with record='none' was numpy's MemoryError on main (after minutes of
    allocation); the work is refused first, the memory when work is allowed."""
    huge = model.with_values({"populations.E.size": 10**9})
    started = time.perf_counter()
    _raises("max_work", simulate, huge, record="none")
    error = _raises("max_memory", simulate, huge, record="none", max_work=math.inf)
    assert time.perf_counter() - started < 2.0
    assert "GiB" in str(error) and "NEURORECT_MAX_MEMORY" in str(error)


def test_work_limit_overrides(model, monkeypatch):
    """The limit comes from max_work=, else NEURORECT_MAX_WORK, else 1e11 neuron-steps."""
    monkeypatch.setenv("NEURORECT_MAX_WORK", "1000")
    _raises("max_work", simulate, model, record="none")  # 2e4 neuron-steps
    result = simulate(model, record="none", progress=False, max_work=math.inf)
    assert np.isfinite(result["r0"].item())
    monkeypatch.setenv("NEURORECT_MAX_WORK", "lots")
    _raises("NEURORECT_MAX_WORK", simulate, model, record="none")


def test_ten_million_point_grid_is_refused_before_the_layout(model):
    """A 10^7-point grid (2e11 neuron-steps at the model's 2 s) just started on main.
    Refused before the per-point layout is built (under a few seconds)."""
    grid = {"drives.E.freq": "log:0.1:100:10000", "populations.E.transfer.alpha": "0:1:1000"}
    started = time.perf_counter()
    error = _raises("max_work", run_sweep, model, grid, progress=False)
    assert time.perf_counter() - started < 5.0
    assert "this sweep is 2e+11 neuron-steps" in str(error)


def test_sweep_options(model):
    _raises("duration", run_sweep, model, {"drives.E.freq": [1.0]}, duration=[1, 2])
    _raises("progress", run_sweep, model, {"drives.E.freq": [1.0]}, progress="x")
    _raises("resume", run_sweep, model, {"drives.E.freq": [1.0]}, resume="x")
    _raises("max_work", run_sweep, model, {"drives.E.freq": [5.0, 6.0]}, max_work=10)


# ------------------------------------------------------------------ frequency_response
@pytest.mark.parametrize("freqs", ["abc", [], [[1.0, 2.0]], [1.0, -2.0], [np.nan]])
def test_frequency_response_frequencies(model, freqs):
    """frequency_response(m, "abc") was a ValueError from numpy on main."""
    _raises("freqs", frequency_response, model, freqs)


@pytest.mark.parametrize("key, value", [("I0", "a"), ("I1", [1, 2]), ("seed", 2**70),
                                        ("n_trials", 0), ("error_tol", 0.0),
                                        ("error_estimate", "no"), ("population", 1),
                                        ("duration", [1.0]), ("dtype", "float16")])
def test_frequency_response_options(model, key, value):
    _raises(key, frequency_response, model, [1.0], method="simulate", **{key: value})


def test_frequency_response_accepts_a_model_path(model):
    by_path = frequency_response(str(MODEL_PATH), [1.0, 10.0])
    by_model = frequency_response(model, [1.0, 10.0])
    np.testing.assert_array_equal(by_path["gain"].values, by_model["gain"].values)


# ------------------------------------------------------------------ the rest of the public API
TRANSFER = LeakyReLU(10.0, 0.0, 0.1)
LIF = dict(tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002)


@pytest.mark.parametrize("key, call", [
    ("I0", lambda: theory.sinusoid_response(TRANSFER, "a", 1.0, [1.0])),
    ("freq", lambda: theory.sinusoid_response(TRANSFER, 0.0, 1.0, "abc", tau=0.01,
                                              form="rate")),
    ("mu", lambda: theory.gaussian_mean_rate(TRANSFER, "a", 1.0)),
    ("W", lambda: theory.fixed_point("a", [0.0, 0.0], TRANSFER)),
    ("I0", lambda: theory.fixed_point(np.zeros((2, 2)), [0.0, 0.0, 0.0], TRANSFER)),
    ("tau", lambda: theory.lowpass(1.0, -1.0)),
    ("freq", lambda: theory.lowpass("a", 1.0)),
    ("slope", lambda: theory.network_susceptibility(np.ones((2, 2)), [1, 1, 1], [1.0],
                                                    tau=0.01)),
    ("rate", lambda: fourier.harmonics("abc", freq=1.0, dt=1e-3)),
    ("phase", lambda: fourier.wrap_phase("a")),
    ("counts", lambda: fourier.harmonics_from_sums(np.ones((2, 3)), np.ones(3))),
    ("spike_times", lambda: fourier.spike_harmonics("abc", freq=1.0, t_start=0.0,
                                                    t_stop=1.0, n_neurons=1)),
    ("tau_m", lambda: lif_theory.siegert_rate(0.01, 0.001, **{**LIF, "tau_m": "a"})),
    ("freq", lambda: lif_theory.susceptibility("a", 0.01, 0.002, **LIF)),
    ("mu", lambda: fit_leaky_relu("a", "b")),
    ("lif", lambda: fit_to_lif(None)),
    ("model", lambda: dump_model(None, "unused.toml")),
])
def test_public_functions_raise_model_error(key, call):
    """Each was a ValueError from numpy's float conversion, a broadcast error or an
    AttributeError on main. (fourier's own checks now raise ModelError, a ValueError.)"""
    with pytest.raises(ModelError) as info:
        call()
    assert info.value.key == key or key in str(info.value), str(info.value)


def test_fourier_errors_are_model_errors_and_still_value_errors():
    with pytest.raises(ModelError, match="min_periods"):
        fourier.harmonics(np.ones(100), freq=1.0, dt=1e-3)
    assert issubclass(ModelError, ValueError)


def test_with_values_needs_a_mapping(model):
    _raises("values", model.with_values, "populations.E.tau")
