"""The network integrators (exp_ab2, exp_euler, euler, rk4) with delays and synaptic filters:
exact discrete transfers, convergence orders, a slow oracle loop, bitwise invariants,
stability regions and validation."""

from __future__ import annotations

import math
import re
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse
from oracle_network import network_reference

import neurorect._chunks as chunks
from neurorect import (
    Drive,
    LeakyReLU,
    ModelError,
    NeurorectWarning,
    Noise,
    SimulationError,
    Softplus,
    Step,
)
from neurorect._step_limits import amplification, largest_stable_step
from neurorect.driver import simulate
from neurorect.kernels.channels import csr_rows
from neurorect.kernels.network import run_network, run_network_general
from neurorect.kernels.network_tiles import fast_eligible
from neurorect.modelfile import load_model
from neurorect.response import frequency_response
from neurorect.spec import Connection, Model, Population, Simulation
from neurorect.theory.linear import network_susceptibility

LINEAR = {"populations.E.transfer.alpha": 1.0, "populations.I.transfer.alpha": 1.0}
FREQ = 10.0  # Hz, the E drive of models/ei_pair.toml
I1 = 4.0


def linear_pair(**values) -> Model:
    """models/ei_pair.toml with both transfers linear (alpha = 1); ``values`` by path."""
    return load_model("models/ei_pair.toml").with_values({**LINEAR, **values})


DELAYED = {"connections.EI.delay": "1.6 ms", "connections.IE.delay": "0.8 ms",
           "connections.EE.tau_syn": "3 ms", "connections.II.tau_syn": "2 ms",
           "connections.II.delay": "0.4 ms"}


def coefficient(ds, harmonic=1) -> np.ndarray:
    """Complex first-harmonic coefficient ``A exp(i phase)`` per neuron."""
    return (ds.amplitude.sel(harmonic=harmonic).values
            * np.exp(1j * ds.phase.sel(harmonic=harmonic).values))


def _gains(model: Model) -> np.ndarray:
    return np.array([t.gain for t in model.neuron_arrays().transfer])


def continuous_response(model: Model, freq: float = FREQ) -> np.ndarray:
    """Closed form of the linear network's steady response to ``I1 sin(w t)`` into E:
    ``[I + i w T - G W(w)]^-1 G e I1`` with ``W(w) = sum_k W_k exp(-i w D_k) / (1 + i w
    tau_syn_k)`` (rate form), written out here independently of neurorect.theory."""
    W, delay, tau_syn = model.coupling_channels()
    w = 2 * np.pi * freq
    kernel = np.tensordot(np.exp(-1j * w * delay) / (1 + 1j * w * tau_syn), W, axes=1)
    G = np.diag(_gains(model))
    T = np.diag(model.neuron_arrays().tau)
    e = np.array([1.0, 0.0])
    return np.linalg.solve(np.eye(2) + 1j * w * T - G @ kernel, G @ e) * I1


def _channel_factor(method: str, z: complex, steps: int, b: float, filtered: bool) -> complex:
    """How the map of ``method`` turns a channel's products ``W_k R z^m`` into the input of a
    step (z-transform of the scheme; see kernels/network.py)."""
    if method == "exp_ab2":
        factor = (1.5 - 0.5 / z) if steps == 0 else 0.5 * (z ** -steps + z ** (1 - steps))
        return factor * (0.5 * (1 + z) * (1 - b) / (z - b) if filtered else 1.0)
    return z ** -steps * ((1 - b) / (z - b) if filtered else 1.0)


def discrete_transfer(model: Model, method: str, freq: float = FREQ) -> np.ndarray:
    """Exact steady response ``R`` (``r_n = r* + Im(R z^n)``, z = exp(i w dt)) of the
    linear rate network's discrete map under ``method``: ``z R = A R + H G (C(z) R + I1
    s e)``, with ``s`` the drive's sampling phase (mid-step for exponential methods)."""
    dt = model.simulation.dt
    W, delay, tau_syn = model.coupling_channels()
    tau = model.neuron_arrays().tau
    z = np.exp(1j * 2 * np.pi * freq * dt)
    if method == "euler":
        A, H, sample = 1 - dt / tau, dt / tau, 1.0
        syn = 1 - dt / np.where(tau_syn > 0, tau_syn, np.inf)
    else:
        A, H, sample = np.exp(-dt / tau), -np.expm1(-dt / tau), np.exp(0.5j * 2 * np.pi * freq * dt)
        syn = np.exp(-dt / np.where(tau_syn > 0, tau_syn, np.inf))
    C = sum(_channel_factor(method, z, int(round(d / dt)), b, ts > 0) * Wk
            for Wk, d, ts, b in zip(W, delay, tau_syn, syn, strict=True))
    G = np.diag(_gains(model))
    e = np.array([1.0, 0.0])
    system = z * np.eye(2) - np.diag(A) - np.diag(H) @ G @ C
    return np.linalg.solve(system, np.diag(H) @ G @ e * I1 * sample)


# -- exact discrete transfer and convergence ------------------------------------------------

@pytest.mark.parametrize("method", ["exp_ab2", "exp_euler", "euler"])
@pytest.mark.parametrize("values", [{}, DELAYED], ids=["plain", "delays+filters"])
def test_streaming_harmonic_equals_exact_discrete_transfer(method, values):
    model = linear_pair(**values, **{"simulation.transient": "0.3 s",
                                     "simulation.duration": "0.5 s"})
    ds = simulate(model, method=method, record="none")
    expected = discrete_transfer(model, method)
    # the transient decays as exp(-225 t / s) (slowest mode): gone to 1e-29 after 0.3 s;
    # the window is 2 whole periods of 1000 steps, so the projection of the discrete
    # steady state is exact up to rounding (phasor rotation ~1e-13 over 5000 steps)
    np.testing.assert_allclose(coefficient(ds), expected, rtol=1e-10)


def _errors(model: Model, method: str, dts, reference: np.ndarray) -> np.ndarray:
    out = []
    for dt in dts:
        c = coefficient(simulate(model, dt=dt, method=method, record="none"))
        out.append(np.max(np.abs(c - reference)) / np.max(np.abs(reference)))
    return np.array(out)


@pytest.mark.parametrize("values", [{}, DELAYED], ids=["plain", "delays+filters"])
@pytest.mark.parametrize("method, order", [("exp_ab2", 2), ("exp_euler", 1), ("euler", 1)])
def test_linear_pair_converges_at_the_methods_order(values, method, order):
    model = linear_pair(**values)
    errors = _errors(model, method, (4e-4, 2e-4, 1e-4), continuous_response(model))
    rates = np.log2(errors[:-1] / errors[1:])
    # observed order within 0.15: the leading error term dominates at dt/tau = 0.02-0.08
    # (next terms shift the ratio by O(dt / tau)); measured 2.00, 1.00, 1.00
    assert np.all(np.abs(rates - order) < 0.15), (errors, rates)


def test_exp_ab2_is_far_more_accurate_than_exp_euler_at_the_default_step():
    model = linear_pair()
    exact = continuous_response(model)
    ab2, euler = (_errors(model, m, (1e-4,), exact)[0] for m in ("exp_ab2", "exp_euler"))
    # measured 7.1e-6 and 2.0e-3 relative error of the first harmonic at dt = 0.1 ms
    assert ab2 < 1e-5 and euler > 100 * ab2


def test_rectified_pair_converges_at_second_order():
    # models/ei_pair.toml (alpha = 0.1): E's input crosses its threshold twice a period.
    # A crossing puts a kink into phi(u(t)) inside one step: that step's local error is
    # O(dt^2) instead of O(dt^3), and there are O(1) such steps per period, so the global
    # error stays O(dt^2) (crossings are transversal: u' != 0 there). Order 2 is what the
    # kinks allow; RK4 drops from 4 to an erratic ~2 on the same problem.
    model = load_model("models/ei_pair.toml").with_values({"simulation.duration": "1.5 s"})
    trace = simulate(model, dt=1e-4, method="rk4", record_every=1, transient=0.5)
    t = trace.time.values[5000:]
    drive = np.stack([5 + 4 * np.sin(2 * np.pi * FREQ * t), np.ones_like(t)], axis=1)
    inputs = trace.rate.values[5000:] @ model.coupling_matrix().T + drive
    assert 0.05 < np.mean(inputs[:, 0] < 0.0) < 0.5  # E is below threshold part of a period
    reference = coefficient(simulate(model, dt=1e-5, method="rk4", record="none"))
    dts = np.array([8e-4, 4e-4, 2e-4, 1e-4])
    errors = _errors(model, "exp_ab2", dts, reference)
    slope = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    # least-squares order over 4 halvings: the kink steps' error depends on where in the
    # step the crossing falls, so single ratios scatter (measured 1.95-2.05); the fit is
    # 2.02; the reference (RK4 at 10 us) is within 1e-9 of RK4 at 2.5 us, 6000x below the
    # smallest error fitted (6e-6 at 0.1 ms)
    assert abs(slope - 2.0) < 0.15, (errors, slope)


def test_delayed_rectified_network_converges_at_second_order():
    # no closed form: self-convergence against exp_ab2 at dt / 32 (its own error there is
    # ~1000x below the coarsest error measured)
    model = load_model("models/ei_pair.toml").with_values(
        {**DELAYED, "simulation.duration": "1.2 s", "simulation.transient": "0.4 s"})
    reference = coefficient(simulate(model, dt=1.25e-5, method="exp_ab2", record="none"))
    dts = np.array([4e-4, 2e-4, 1e-4])
    errors = _errors(model, "exp_ab2", dts, reference)
    rates = np.log2(errors[:-1] / errors[1:])
    assert np.all(np.abs(rates - 2.0) < 0.15), (errors, rates)


def test_theory_network_susceptibility_takes_delays_and_filters():
    model = linear_pair(**DELAYED)
    W, delay, tau_syn = model.coupling_channels()
    chi = network_susceptibility(W, _gains(model), [FREQ], tau=model.neuron_arrays().tau,
                                 input_vector=np.array([1.0, 0.0]), delay=delay,
                                 tau_syn=tau_syn)[0]
    # the same closed form, solved by two codes: rounding only
    np.testing.assert_allclose(chi * I1, continuous_response(model), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NeurorectWarning)  # stability with delays: not here
        linear = frequency_response(model, [FREQ], method="linear", I0=5.0, I1=I1)
    np.testing.assert_allclose(coefficient(linear).ravel(), continuous_response(model),
                               rtol=1e-12)


# -- the oracle loop ---------------------------------------------------------------------------

def delayed_network(form: str = "rate", noise: str = "ou", delays: bool = True,
                    leaky: bool = False, steps: bool | None = None) -> Model:
    """5 neurons, every coupling kind (gaussian, full, sparse, dense); with ``delays``: four
    channels (an undelayed one; two E->E connections with different delays and filters on
    the same block; a filtered sparse one; E->I and I->I sharing a delay). ``leaky``: I is
    a clipped leaky ReLU and E has no step (unless ``steps``), so that the vectorised path
    takes the run (otherwise I is a softplus: the per-unit path)."""
    noise_spec = Noise(kind=noise, sigma=0.3, tau=0.004)
    inhibitory = (LeakyReLU(1.5, 0.1, 0.3, rate_min=-0.2, rate_max=4.0, baseline=0.05)
                  if leaky else Softplus(1.5, 0.0, 3.0))
    pops = (Population("E", tau=0.01, transfer=LeakyReLU(2.0, 0.2, 0.1), size=3, form=form,
                       init=0.5),
            Population("I", tau=0.005, transfer=inhibitory, size=2, form=form))
    steps = (not leaky) if steps is None else steps
    steps = (Step(start=0.004, stop=0.012, amplitude=0.7),) if steps else ()
    drives = {"E": Drive(I0=0.5, I1=(0.2, 0.4, 0.6), freq=(10.0, 10.0, 25.0), phase=0.3,
                         steps=steps, noise=noise_spec),
              "I": Drive(I0=0.1, noise=noise_spec)}
    lag = (lambda seconds: seconds) if delays else (lambda seconds: 0.0)
    conns = (Connection("EE", "E", "E", kind="gaussian", weight=0.5, g=0.4, seed=3),
             Connection("EEslow", "E", "E", kind="full", weight=0.3, delay=lag(6e-4),
                        tau_syn=lag(3e-3)),
             Connection("IE", "E", "I", kind="full", weight=0.8, delay=lag(4e-4)),
             Connection("EI", "I", "E", kind="sparse", weight=-0.6, probability=0.7, seed=4,
                        delay=lag(2e-4), tau_syn=lag(2e-3)),
             Connection("II", "I", "I", kind="dense", matrix=((0.0, -0.4), (-0.2, 0.1)),
                        delay=lag(4e-4)))
    return Model(populations=pops, drives=drives, connections=conns,
                 simulation=Simulation(dt=2e-4, duration=0.03, seed=5))


LEAKY = pytest.mark.parametrize("leaky", [True, False], ids=["leaky-relu", "softplus+step"])


@LEAKY
@pytest.mark.parametrize("coupling", ["dense", "sparse"])
@pytest.mark.parametrize("delays", [True, False], ids=["delays", "no-delays"])
@pytest.mark.parametrize("form, noise", [("rate", "ou"), ("voltage", "white")])
@pytest.mark.parametrize("method", ["exp_ab2", "exp_euler", "euler"])
def test_network_kernel_equals_the_slow_oracle(method, form, noise, delays, coupling, leaky):
    # leaky: every unit a leaky ReLU without steps, so exp_ab2 and exp_euler run on the
    # vectorised path (network_tiles); otherwise (and under euler) on the per-unit path
    model = delayed_network(form, noise, delays, leaky).with_values(
        {"simulation.method": method})
    ds = simulate(model, record_every=1, coupling=coupling, stats_freq=0.0)
    expected = network_reference(model, seed=5, method=method)
    # same arithmetic in another order (BLAS vs numpy matmul, stored vs recomputed
    # products, phasor vs sin): rounding only (measured <= 6e-15)
    np.testing.assert_allclose(ds.rate.values, expected, rtol=1e-10, atol=1e-10)


def test_dense_and_sparse_channels_agree():
    # random_network with a sparse E->E block (40 synapses of 0.01 per neuron: the mean
    # input of the Gaussian block it replaces), a delay on E->I and a filter on I->E
    model = load_model("models/random_network.toml").with_values(
        {"connections.EE.kind": "sparse", "connections.EE.probability": 0.05,
         "connections.EE.weight": 0.01, "connections.EI.delay": "0.5 ms",
         "connections.IE.tau_syn": "2 ms", "simulation.transient": 0.0})
    options = dict(duration=0.03, neurons=range(0, 1000, 50), stats_freq=0.0)
    sparse = simulate(model, coupling="sparse", **options)
    dense = simulate(model, coupling="dense", **options)
    assert np.ptp(dense.rate.values) > 0.1  # the network moves
    # the same channels as CSR sums or BLAS products: rounding only
    np.testing.assert_allclose(sparse.rate.values, dense.rate.values, rtol=1e-11,
                               atol=1e-11)


# -- the vectorised element-wise path against the per-unit path --------------------------------

def _run_on(monkeypatch, model, path, **options):
    """simulate() with every network chunk on ``path``: "auto" (what run_network picks) or
    "general" (the per-unit path, the reference); returns the Dataset and whether the
    vectorised path was eligible for the run."""
    eligible = []

    def advance(step0, steps, setup, evolving, recording, coupling, history):
        eligible.append(bool(fast_eligible(setup)))
        kernel = run_network if path == "auto" else run_network_general
        kernel(step0, steps, setup, evolving, recording, coupling, history)

    monkeypatch.setattr(chunks, "run_network", advance)
    return simulate(model, progress=False, **options), all(eligible)


def _assert_same_bits(fast, general):
    assert set(fast.data_vars) == set(general.data_vars)
    for name in fast.data_vars:
        assert np.array_equal(fast[name].values, general[name].values, equal_nan=True), name


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("unit_stats", [False, True], ids=["", "unit_stats"])
@pytest.mark.parametrize("delays", [True, False], ids=["delays+filters", "no-delays"])
@pytest.mark.parametrize("form, noise", [("rate", "ou"), ("voltage", "white"),
                                         ("rate", None), ("voltage", "ou")])
@pytest.mark.parametrize("method", ["exp_ab2", "exp_euler"])
def test_vectorised_path_equals_the_per_unit_path_bit_for_bit(monkeypatch, method, form, noise,
                                                              delays, unit_stats, dtype):
    # the vectorised passes perform the per-unit path's operations in the same order, with
    # no FMA contraction (network_tiles docstring): not 1e-12 but every bit, in every output
    model = delayed_network(form, noise or "ou", delays, leaky=True).with_values(
        {"simulation.method": method, "simulation.duration": 0.05})
    if noise is None:
        model = model.with_values({"drives.E.noise.sigma": 0.0, "drives.I.noise.sigma": 0.0})
    options = dict(record_every=1, dtype=dtype, unit_stats=unit_stats, transient=0.01,
                   stats_freq=0.0 if unit_stats else None)
    fast, eligible = _run_on(monkeypatch, model, "auto", **options)
    general, _ = _run_on(monkeypatch, model, "general", **options)
    assert eligible
    assert np.ptp(fast.rate.values) > 0.1  # the network moves
    _assert_same_bits(fast, general)
    states_fast, _ = _run_on(monkeypatch, model, "auto", record="state", **options)
    states_general, _ = _run_on(monkeypatch, model, "general", record="state", **options)
    _assert_same_bits(states_fast, states_general)


@pytest.mark.parametrize("n_harmonics", [1, 2, 4, 6])
def test_vectorised_path_takes_batches_clipping_and_any_harmonics(monkeypatch, n_harmonics):
    # 12 copies (one matrix-matrix product from GEMM_FROM = 8 on), per-copy rate_max (voltage
    # form: the rate itself is clipped), recording every 3rd step, harmonic counts other
    # than the default 3 (1, 2, 4 unrolled, 6 by the generic loop): the same bits on both
    model = delayed_network("voltage", "ou", leaky=True).with_values(
        {"simulation.duration": 0.06, "simulation.transient": 0.01,
         "simulation.n_harmonics": n_harmonics})
    batch = {"simulation.seed": np.arange(12),
             "populations.E.transfer.rate_max": np.linspace(0.6, 3.0, 12)}
    fast, eligible = _run_on(monkeypatch, model, "auto", batch=batch, record_every=3)
    general, _ = _run_on(monkeypatch, model, "general", batch=batch, record_every=3)
    assert eligible
    assert np.max(fast.rate.sel(neuron=[0, 1, 2]).values[0]) == 0.6  # the clip acts
    _assert_same_bits(fast, general)


@pytest.mark.parametrize("values", [
    {},  # the I population a softplus, E a step: both reasons
    {"simulation.method": "euler"},
    {"simulation.method": "rk4", **{f"connections.{c}.{k}": 0.0
                                     for c in ("EEslow", "IE", "EI", "II")
                                     for k in ("delay", "tau_syn")}},
])
def test_other_transfers_steps_and_explicit_methods_take_the_per_unit_path(monkeypatch, values):
    model = delayed_network("rate", "ou").with_values(values)
    _, eligible = _run_on(monkeypatch, model, "auto", duration=0.01)
    assert not eligible
    leaky_step = delayed_network("rate", "ou", leaky=True, steps=True)
    _, eligible = _run_on(monkeypatch, leaky_step, "auto", duration=0.01)
    assert not eligible


def _failure_message(monkeypatch, model, path, **options) -> str:
    with pytest.raises(SimulationError) as info:
        _run_on(monkeypatch, model, path, stats_freq=0.0, **options)
    return str(info.value)


def test_failures_are_noted_at_their_step_on_both_paths(monkeypatch):
    # the vectorised path counts failures in the pass and only then locates them: the same
    # step, unit, quantity and value as the per-unit path. A runaway rate (step from the
    # free run), and a float32 state overflowing to inf (3.4e38) where float64 stays finite
    free, eligible = _run_on(monkeypatch, _self_excited(), "auto", record_every=1,
                             max_rate=math.inf, stats_freq=0.0)
    assert eligible
    step = int(np.argmax(np.abs(free.rate.values[:, 0]) > 1e3))
    messages = {path: _failure_message(monkeypatch, _self_excited(), path, max_rate=1e3)
                for path in ("auto", "general")}
    assert messages["auto"] == messages["general"]
    assert re.search(rf"runaway rate at t = .* \(step {step}\) in neuron 0", messages["auto"])
    grows = _self_excited(weight=50.0).with_values({"populations.E.init": 1e30})
    trace, _ = _run_on(monkeypatch, grows, "auto", record_every=1, max_rate=math.inf,
                       stats_freq=0.0, record="state")
    big = np.finfo(np.float32).max
    # in float32 the product W r (50 r) overflows first, and then the state
    first, last = (int(np.argmax(trace.state.values[:, 0] * scale > big)) for scale in (50, 1))
    assert 10 < first < last
    messages = {path: _failure_message(monkeypatch, grows, path, max_rate=math.inf,
                                       dtype="float32") for path in ("auto", "general")}
    assert messages["auto"] == messages["general"]
    found = re.search(r"non-finite state at t = .* \(step (\d+)\) in neuron 0",
                      messages["auto"])
    # (float32 rounds the state at every step: its crossings may differ from float64's by one)
    assert found and first - 1 <= int(found.group(1)) <= last + 1


def _sequential_csr(pointers, indices, weights, row):
    """Each row's sum in the order of its entries, in Python floats (IEEE doubles)."""
    out = np.empty(pointers.size - 1)
    for i in range(out.size):
        total = 0.0
        for j in range(pointers[i], pointers[i + 1]):
            total += float(weights[j]) * float(row[indices[j]])
        out[i] = total
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_rows", [1, 6, 7])
def test_csr_rows_sum_each_row_in_order(dtype, n_rows):
    # two rows at a time, rows of unequal length (0 to 40 entries), an odd last row, an
    # offset into the output: every row equals the sequential sum bit for bit, and so
    # scipy's CSR product (which sums the same way)
    rng = np.random.default_rng(n_rows)
    lengths = rng.integers(0, 41, n_rows)
    lengths[0] = 0 if n_rows > 1 else lengths[0]
    pointers = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = rng.integers(0, 50, pointers[-1]).astype(np.uint32)
    weights = rng.normal(size=pointers[-1])
    row = rng.normal(size=50).astype(dtype)
    out = np.full(n_rows + 3, np.nan)
    csr_rows(pointers, indices, weights, row, out, 3)
    expected = _sequential_csr(pointers, indices, weights, row)
    assert np.array_equal(out[3:], expected)
    assert np.all(np.isnan(out[:3]))  # nothing written before the offset
    matrix = scipy.sparse.csr_matrix((weights, indices, pointers), shape=(n_rows, 50))
    if dtype == "float64":
        assert np.array_equal(out[3:], matrix @ row)


# -- bitwise invariants -------------------------------------------------------------------------

@LEAKY
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form, noise", [("rate", "ou"), ("voltage", "white")])
@pytest.mark.parametrize("method", ["exp_ab2", "exp_euler"])
def test_chunked_network_equals_single_run_bit_for_bit(method, form, noise, dtype, leaky):
    # chunks of 1 and 7 steps are shorter than the longest delay (3 steps) and cut
    # exp_ab2's two-step history: the ring, the last products and the filter states
    # carry over; chunks of 1, 7 and 97 steps start the vectorised path's draws of four
    # steps' normals mid-quad
    model = delayed_network(form, noise, leaky=leaky).with_values(
        {"simulation.method": method})
    whole = simulate(model, duration=0.1, record_every=1, dtype=dtype)
    for chunk in (1, 7, 97):
        pieces = simulate(model, duration=0.1, record_every=1, dtype=dtype,
                          chunk_steps=chunk)
        assert np.array_equal(whole.rate.values, pieces.rate.values)
        assert np.array_equal(whole.amplitude.values, pieces.amplitude.values,
                              equal_nan=True)


@LEAKY
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_network_bits_do_not_depend_on_the_thread_count(dtype, leaky):
    model = delayed_network("voltage", "ou", leaky=leaky)
    batch = {"simulation.seed": np.arange(3)}
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(model, batch=batch, dtype=dtype, duration=0.1)
        numba.set_num_threads(max(2, before))
        many = simulate(model, batch=batch, dtype=dtype, duration=0.1)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one.rate.values, many.rate.values)


@LEAKY
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("path, values", [
    ("simulation.seed", np.array([3, 8, 1])),  # one shared W
    ("connections.EI.weight", np.array([-0.3, -0.6, -0.9])),  # W per copy
])
def test_network_batch_element_equals_its_run_in_any_slot(path, values, dtype, leaky):
    model = delayed_network("rate", "ou", leaky=leaky).with_values(
        {"simulation.duration": 0.1})
    forward = simulate(model, batch={path: values}, dtype=dtype)
    backward = simulate(model, batch={path: values[::-1]}, dtype=dtype)
    for b, value in enumerate(values):
        single = simulate(model.with_values({path: value}), dtype=dtype)
        # below GEMM_FROM copies each copy gets the single run's matrix-vector product
        assert np.array_equal(forward.rate.values[b], single.rate.values)
        assert np.array_equal(backward.rate.values[len(values) - 1 - b], single.rate.values)
        assert np.array_equal(forward.r0.values[b], single.r0.values)
        # (I's analysis frequency is 0, E's differ: I has no harmonics, NaN)
        assert np.array_equal(forward.amplitude.values[b], single.amplitude.values,
                              equal_nan=True)


@LEAKY
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 2e-5)])
def test_gemm_batches_equal_their_runs_to_rounding(dtype, rtol, leaky):
    # from GEMM_FROM copies on, one matrix-matrix product serves all copies; BLAS sums in
    # another order than the single run's matrix-vector product (README, Engine): rounding,
    # float32's ~1e-7 per product grown over 150 steps of a contracting network
    model = delayed_network("rate", "white", leaky=leaky).with_values(
        {"simulation.duration": 0.1})
    seeds = np.arange(10)
    batch = simulate(model, batch={"simulation.seed": seeds}, dtype=dtype)
    single = simulate(model.with_values({"simulation.seed": 7}), dtype=dtype)
    np.testing.assert_allclose(batch.rate.values[7], single.rate.values, rtol=rtol,
                               atol=rtol)


# -- stability ----------------------------------------------------------------------------------

@pytest.mark.parametrize("rho", [2.0, 5.0, 20.0])
def test_stability_boundary_for_real_negative_coupling(rho):
    # closed forms (module docstring of neurorect._step_limits): h = 1 - exp(-dt/tau) <
    # 2 / (1 + rho) for exp_euler and < 2 / (1 + 2 rho) for exp_ab2
    for method, bound in (("exp_euler", 2 / (1 + rho)), ("exp_ab2", 2 / (1 + 2 * rho))):
        ratio = largest_stable_step(method, [-rho])
        assert -math.expm1(-ratio) == pytest.approx(bound, rel=1e-9)
        assert amplification(method, ratio * 0.99, -rho) < 1.0
        assert amplification(method, ratio * 1.01, -rho) > 1.0


def self_inhibited(weight: float, dt: float) -> Model:
    """One linear unit inhibiting itself: tau r' = -r + I0 + weight r, stable for weight < 1."""
    pop = Population("E", tau=0.01, transfer=LeakyReLU(1.0, 0.0, 1.0), init=0.0)
    return Model(populations=(pop,), drives={"E": Drive(I0=1.0)},
                 connections=(Connection("EE", "E", "E", weight=weight, autapses=True),),
                 simulation=Simulation(dt=dt, duration=0.2, method="exp_ab2"))


def test_outside_the_stability_region_warns_and_the_run_grows():
    rho = 20.0  # dt_max = -tau ln(1 - 2 / (1 + 2 rho)) = 0.50 ms for exp_ab2
    limit = 0.01 * largest_stable_step("exp_ab2", [-rho])
    with pytest.warns(NeurorectWarning, match=r"outside the stability region.*exp_ab2"):
        unstable = simulate(self_inhibited(-rho, 1.1 * limit), record_every=1,
                            duration=0.05)
    # the fixed point is 1 / (1 + rho); the two-step map's root -1.0x grows each step
    swing = np.abs(unstable.rate.values[-20:, 0] - 1 / (1 + rho))
    assert swing.max() > 10.0
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*stability region", NeurorectWarning)
        stable = simulate(self_inhibited(-rho, 0.9 * limit), record_every=1)
    assert stable.rate.values[-1, 0] == pytest.approx(1 / (1 + rho), rel=1e-9)


@pytest.mark.parametrize("path", ["models/ei_pair.toml", "models/random_network.toml"])
def test_shipped_networks_are_inside_the_region_at_their_dt(path):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*stability region", NeurorectWarning)
        simulate(load_model(path), duration=0.02, transient=0.0, record="none",
                 stats_freq=0.0)


# -- validation ---------------------------------------------------------------------------------

def test_delays_and_filters_are_validated():
    model = linear_pair()
    with pytest.raises(ModelError, match=r"connections\.EI\.delay.*whole number of time steps"):
        model.with_values({"connections.EI.delay": "0.15 ms"})
    with pytest.raises(ModelError, match=r"connections\.EI\.delay.*out of range"):
        model.with_values({"connections.EI.delay": -1e-3})
    with pytest.raises(ModelError, match=r"connections\.EI\.tau_syn"):
        model.with_values({"connections.EI.tau_syn": math.inf})
    with pytest.raises(ModelError, match=r"simulation\.method.*'rk4' takes no transmission"):
        model.with_values({"connections.EI.delay": "1 ms", "simulation.method": "rk4"})
    with pytest.raises(ModelError, match=r"connections\.EI\.delay.*cannot be batched"):
        simulate(model, batch={"connections.EI.delay": [1e-3, 2e-3]})
    delayed = model.with_values({"connections.EI.delay": "1.5 ms"})
    assert delayed.get_value("connections.EI.delay") == pytest.approx(1.5e-3)
    with pytest.raises(ModelError, match=r"connections\.EI\.delay.*dt that divides"):
        simulate(delayed, dt=4e-4)


# -- unit statistics and the runaway bound in the network kernel --------------------------------

def _relu_network(form: str) -> Model:
    """delayed_network with E a ReLU (alpha = 0: rates exactly 0 below threshold)."""
    model = delayed_network(form, "white")
    return model.with_values({"populations.E.transfer.alpha": 0.0, "simulation.duration": 0.1})


def test_network_unit_stats_equal_the_recorded_voltage_trace():
    model = _relu_network("voltage")
    options = dict(record_every=1, transient=0.02, stats_freq=0.0, unit_stats=True)
    rates = simulate(model, **options)
    states = simulate(model, record="state", **options)
    window = slice(100, 500)  # stats_freq = 0: every step after the transient (0.02 s)
    r, v = rates.rate.values[window], states.state.values[window]
    threshold = np.array([0.2] * 3 + [0.0] * 2)
    assert np.array_equal(rates.fraction_below_threshold.values, np.mean(v < threshold, 0))
    assert np.array_equal(rates.fraction_zero_rate.values, np.mean(r == 0.0, 0))
    assert 0.0 < rates.fraction_zero_rate.values[:3].min()  # the ReLU is silent at times
    # shifted sums against numpy's two-pass variance: rounding only
    np.testing.assert_allclose(rates.rate_variance.values, r.var(axis=0), rtol=1e-10)


def test_network_unit_stats_take_exp_ab2s_input_in_rate_form():
    # rate form: "below" is the input handed to phi, under exp_ab2 the recurrent input
    # extrapolated to the middle of the step, 1.5 W r_n - 0.5 W r_{n-1}, plus the drive there
    model = _relu_network("rate").with_values(
        {**{f"connections.{c}.{k}": 0.0 for c in ("EEslow", "IE", "EI", "II")
            for k in ("delay", "tau_syn")}, "simulation.method": "exp_ab2"})
    ds = simulate(model, record_every=1, transient=0.02, stats_freq=0.0, unit_stats=True)
    r = ds.rate.values
    W = model.coupling_matrix()
    n = np.arange(100, 500)
    t = (n + 0.5) * model.simulation.dt
    drive = np.zeros((n.size, 5))
    drive[:, :3] = 0.5 + np.array([0.2, 0.4, 0.6]) * np.sin(
        2 * np.pi * np.array([10.0, 10.0, 25.0]) * t[:, None] + 0.3)
    drive[:, 3:] = 0.1
    inputs = (1.5 * r[n] - 0.5 * r[n - 1]) @ W.T + drive
    threshold = np.array([0.2] * 3 + [0.0] * 2)
    # the kernel's phasor and product order differ from this by rounding: a step within
    # 1e-9 of the threshold could flip (the margin is printed if this fails)
    margin = np.min(np.abs(inputs - threshold))
    assert np.array_equal(ds.fraction_below_threshold.values, np.mean(inputs < threshold, 0)), \
        margin


def _self_excited(weight: float = 2.0) -> Model:
    """One linear unit exciting itself: r grows like exp((weight - 1) t / tau)."""
    pop = Population("E", tau=0.01, transfer=LeakyReLU(1.0, 0.0, 1.0), init=1.0)
    return Model(populations=(pop,), drives={"E": Drive(I0=1.0)},
                 connections=(Connection("EE", "E", "E", weight=weight, autapses=True,
                                         delay=2e-4),),
                 simulation=Simulation(dt=1e-4, duration=0.1, transient=0.0))


def test_network_runaway_rate_raises_at_its_step():
    free = simulate(_self_excited(), record_every=1, max_rate=math.inf, stats_freq=0.0)
    step = int(np.argmax(np.abs(free.rate.values[:, 0]) > 1e3))
    assert step > 0
    with pytest.raises(SimulationError, match=rf"runaway rate at t = .* \(step {step}\) in "
                                              r"neuron 0.*\|rate\| > max_rate = 1000 Hz"):
        simulate(_self_excited(), max_rate=1e3, stats_freq=0.0)


def test_overflowing_network_sums_are_pinned_at_their_step():
    # rates of ~1e307 stay finite; their running sum for r0 overflows within a few steps.
    # The chunk is replayed in halves to pin the step: the replay must restore the ring of
    # past rates (a strong delayed coupling feeds them back), not only the state
    pop = Population("E", tau=0.001, transfer=LeakyReLU(1.0, 0.0, 1.0), init=1e305)
    model = Model(populations=(pop,), drives={"E": Drive(I0=1e306, I1=9e305, freq=50.0)},
                  connections=(Connection("EE", "E", "E", weight=-0.9, autapses=True,
                                          delay=3e-4),),
                  simulation=Simulation(dt=1e-4, duration=0.05, transient=0.0))
    # the trace, with the statistics window moved to the last step (no overflow there)
    trace = simulate(model, transient=0.0499, stats_freq=0.0, max_rate=math.inf,
                     record_every=1).rate.values[:, 0]
    with np.errstate(over="ignore"):
        step = int(np.argmax(~np.isfinite(np.cumsum(trace))))  # the kernel sums in order
    assert step > 100  # many chunks of 17 steps in: the replay starts mid-run
    # the message quotes the state after the replayed step: the free run's, to 3 digits
    with pytest.raises(SimulationError, match=rf"non-finite statistics at .* \(step {step}\)"
                                              r".*largest \|state\| "
                                              + re.escape(f"{trace[step + 1]:.3g})")):
        simulate(model, stats_freq=0.0, chunk_steps=17, max_rate=math.inf)
