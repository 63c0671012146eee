"""The rate engine against closed forms, a NumPy oracle, and its own invariants."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from oracle import reference_run

from neurorect import Drive, LeakyReLU, ModelError, Noise, SimulationError, Softplus, Step
from neurorect.driver import noise_input, simulate
from neurorect.kernels.random import normals
from neurorect.modelfile import load_model
from neurorect.spec import Connection, Model, Population, Simulation, single_population


def linear_unit(*, dt=1e-4, duration=0.5, method="exp_euler", tau=0.01, freq=20.0,
                I0=0.3, I1=0.7, phase=0.4, gain=3.0, threshold=0.1, init=0.0, form="rate"):
    """alpha = 1: a first-order low-pass filter of the input."""
    model = single_population(LeakyReLU(gain, threshold, 1.0), tau=tau, form=form,
                              drive=Drive(I0=I0, I1=I1, freq=freq, phase=phase), dt=dt,
                              duration=duration, method=method, transient=0.0)
    return model.replace(populations=(model.populations[0].__class__(
        name="E", tau=tau, transfer=model.populations[0].transfer, form=form, init=init),))


def exact_discrete_map(n, *, dt, tau, freq, I0, I1, phase, gain, threshold, init):
    """Closed form of r_{n+1} = a r_n + (1 - a) gain (I(t_n + dt/2) - threshold), the
    exponential-Euler map with the drive I0 + I1 sin(w t + phase) sampled mid-step.

    Constant part c0; sinusoidal particular solution Im(C z^n) with z = exp(i w dt) and
    C (z - a) = (1 - a) gain I1 exp(i (phase + w dt / 2)); a^n fixes r_0 = init.
    """
    a = math.exp(-dt / tau)
    z = np.exp(1j * 2 * np.pi * freq * dt)
    c0 = gain * (I0 - threshold)
    C = (1 - a) * gain * I1 * np.exp(1j * (phase + np.pi * freq * dt)) / (z - a)
    return c0 + np.imag(C * z**n) + a**n * (init - c0 - np.imag(C)), C


def continuous_solution(t, *, tau, freq, I0, I1, phase, gain, threshold, init):
    """Exact solution of tau r' = -r + gain (I0 + I1 sin(w t + phase) - threshold)."""
    w = 2 * np.pi * freq
    H = 1 / (1 + 1j * w * tau)
    c0 = gain * (I0 - threshold)
    steady = c0 + gain * I1 * np.imag(H * np.exp(1j * (w * t + phase)))
    steady0 = c0 + gain * I1 * np.imag(H * np.exp(1j * phase))
    return steady + (init - steady0) * np.exp(-t / tau)


PARAMS = dict(tau=0.01, freq=20.0, I0=0.3, I1=0.7, phase=0.4, gain=3.0, threshold=0.1, init=2.0)


def test_linear_unit_matches_exact_discrete_map():
    ds = simulate(linear_unit(**PARAMS), record_every=1)
    n = np.arange(ds.sizes["time"])
    expected, _ = exact_discrete_map(n, dt=1e-4, **PARAMS)
    # the kernel's phasor is exact at every 1024th step and rotated in between; the
    # rotation's rounding (~1e-16 per step) bounds the error well below 1e-12 of the scale
    scale = np.max(np.abs(expected))
    assert np.max(np.abs(ds.rate.values[:, 0] - expected)) < 1e-12 * scale


def test_streaming_harmonics_equal_discrete_map_steady_state():
    # start exactly on the discrete steady state c0 + Im(C): no transient to wait for
    _, C = exact_discrete_map(0, dt=1e-4, **PARAMS)
    params = dict(PARAMS, init=PARAMS["gain"] * (PARAMS["I0"] - PARAMS["threshold"])
                  + np.imag(C))
    ds = simulate(linear_unit(**params), transient=0.2, record="none")
    # the window (0.3 s = 6 periods of 50 ms, 500 steps each) is whole periods, so the
    # projection of the steady state is exact up to rounding
    assert ds.r0.item() == pytest.approx(params["gain"] * (params["I0"] - params["threshold"]),
                                         rel=1e-12, abs=1e-12)
    assert ds.amplitude.sel(harmonic=1).item() == pytest.approx(abs(C), rel=1e-11)
    assert ds.phase.sel(harmonic=1).item() == pytest.approx(np.angle(C), abs=1e-11)
    # harmonics 2 and 3 of a linear response vanish to rounding
    assert np.all(ds.amplitude.sel(harmonic=[2, 3]).values < 1e-11)


def _error_vs_continuous(dt, method, duration=0.1):
    ds = simulate(linear_unit(dt=dt, method=method, duration=duration, **PARAMS),
                  record_every=1)
    t = ds.time.values
    exact = continuous_solution(t, **PARAMS)
    return np.max(np.abs(ds.rate.values[:, 0] - exact))


@pytest.mark.parametrize("method, order", [("exp_euler", 2), ("euler", 1), ("rk4", 4)])
def test_convergence_order(method, order):
    errors = [_error_vs_continuous(dt, method) for dt in (4e-4, 2e-4, 1e-4)]
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # observed order within 0.15 of the nominal: the leading error term dominates at these
    # dt (dt/tau = 0.01 to 0.04); higher-order terms shift the ratio by O(dt/tau)
    assert np.all(np.abs(rates - order) < 0.15), (errors, rates)


def test_exp_euler_within_order_dt_squared_of_continuous_response():
    # with the drive sampled mid-step the map's amplitude and phase errors are
    # O((w dt)^2) and O((dt / tau)^2): bound gain I1 ((w dt)^2 + (dt / tau)^2), margin 2
    w_dt = 2 * np.pi * PARAMS["freq"] * 1e-4
    bound = PARAMS["gain"] * PARAMS["I1"] * (w_dt**2 + (1e-4 / PARAMS["tau"]) ** 2)
    assert _error_vs_continuous(1e-4, "exp_euler") < bound


def small_network(form="rate", noise="ou"):
    noise_spec = Noise(kind=noise, sigma=0.3, tau=0.004)
    pops = (Population("E", tau=0.01, transfer=LeakyReLU(2.0, 0.2, 0.1), size=3, form=form,
                       init=0.5),
            Population("I", tau=0.005, transfer=Softplus(1.5, 0.0, 3.0), size=2, form=form))
    drives = {"E": Drive(I0=0.5, I1=(0.2, 0.4, 0.6), freq=(10.0, 10.0, 25.0), phase=0.3,
                         steps=(Step(start=0.004, stop=0.012, amplitude=0.7),),
                         noise=noise_spec),
              "I": Drive(I0=0.1, noise=noise_spec)}
    conns = (Connection("EE", "E", "E", kind="gaussian", weight=0.5, g=0.4, seed=3),
             Connection("IE", "E", "I", kind="full", weight=0.8),
             Connection("EI", "I", "E", kind="sparse", weight=-0.6, probability=0.7, seed=4))
    return Model(populations=pops, drives=drives, connections=conns,
                 simulation=Simulation(dt=2e-4, duration=0.03, seed=5))


@pytest.mark.parametrize("form, noise", [("rate", "ou"), ("voltage", "white")])
@pytest.mark.parametrize("method", ["exp_euler", "euler", "rk4"])
def test_network_kernel_equals_numpy_oracle(form, noise, method):
    model = small_network(form, noise)
    ds = simulate(model, method=method, record_every=1)
    expected = reference_run(model, seed=5, method=method)
    # same arithmetic in another order (BLAS vs numpy matmul, phasor vs sin): rounding only
    np.testing.assert_allclose(ds.rate.values, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", ["exp_euler", "euler", "rk4"])
def test_uncoupled_kernel_equals_numpy_oracle(method):
    model = small_network("voltage", "ou").replace(connections=())
    ds = simulate(model, method=method, record_every=1)
    expected = reference_run(model, seed=5, method=method)
    np.testing.assert_allclose(ds.rate.values, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("coupled", [False, True])
def test_chunked_run_equals_single_run_bit_for_bit(coupled):
    model = small_network("rate", "ou")
    if not coupled:
        model = model.replace(connections=())
    whole = simulate(model, duration=0.3, record_every=3)
    pieces = simulate(model, duration=0.3, record_every=3, chunk_steps=97)
    assert np.array_equal(whole.rate.values, pieces.rate.values)
    assert np.array_equal(whole.amplitude.values, pieces.amplitude.values, equal_nan=True)


def test_same_bits_whatever_the_thread_count():
    model = small_network("rate", "white").replace(connections=())
    batch = {"populations.E.transfer.alpha": np.linspace(0, 1, 8)}
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(model, batch=batch, duration=0.1)
        numba.set_num_threads(max(2, before))
        many = simulate(model, batch=batch, duration=0.1)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one.rate.values, many.rate.values)


def test_batch_element_equals_individual_run():
    model = load_model("models/single_neuron.toml").with_values(
        {"drives.E.noise": {"kind": "ou", "sigma": 0.2, "tau": 0.005}})
    alphas = np.array([0.0, 0.3, 1.0])
    freqs = np.array([2.0, 7.0, 40.0])
    batch = simulate(model, batch={"populations.E.transfer.alpha": alphas,
                                   "drives.E.freq": freqs}, duration=1.2)
    for b, (alpha, freq) in enumerate(zip(alphas, freqs, strict=True)):
        single = simulate(model.with_values({"populations.E.transfer.alpha": alpha,
                                             "drives.E.freq": freq}), duration=1.2)
        # same kernel, same unit arithmetic, same noise stream: identical bits
        assert np.array_equal(batch.rate.values[b], single.rate.values)
        assert np.array_equal(batch.amplitude.values[b], single.amplitude.values)
    assert list(batch.alpha.values) == list(alphas)
    assert batch.alpha.attrs["path"] == "populations.E.transfer.alpha"


def test_coupled_batch_element_equals_individual_run():
    model = load_model("models/ei_pair.toml")
    weights = np.array([-0.5, -1.0, -2.0])
    batch = simulate(model, batch={"connections.EI.weight": weights}, duration=0.5,
                     transient=0.1)
    for b, weight in enumerate(weights):
        single = simulate(model.with_values({"connections.EI.weight": weight}), duration=0.5,
                          transient=0.1)
        # per-copy W: each copy's product is the single run's matrix-vector product
        np.testing.assert_array_equal(batch.rate.values[b], single.rate.values)


@pytest.mark.parametrize("copies", [3, 12])
def test_shared_w_batch_element_equals_individual_run(copies):
    model = load_model("models/random_network.toml")
    taus = np.linspace(0.018, 0.022, copies)
    options = dict(duration=0.05, transient=0.0, neurons=range(0, 1000, 100))
    batch = simulate(model, batch={"populations.E.tau": taus}, **options)
    single = simulate(model.with_values({"populations.E.tau": taus[-1]}), **options)
    if copies < 8:  # per-copy matrix-vector products, as in the single run: same bits
        np.testing.assert_array_equal(batch.rate.values[-1], single.rate.values)
    else:  # one matrix-matrix product sums in another order: rounding only
        np.testing.assert_allclose(batch.rate.values[-1], single.rate.values, rtol=1e-12,
                                   atol=1e-12)


def test_noise_generator_moments():
    x = normals(np.uint64(12345), 0, 400_000, 0)
    n = x.size
    # standard errors: mean 1/sqrt(n), variance sqrt(2/n), 4th moment sqrt(96/n); 5 SE
    assert abs(x.mean()) < 5 / math.sqrt(n)
    assert abs(x.var() - 1) < 5 * math.sqrt(2 / n)
    assert abs(np.mean(x**4) - 3) < 5 * math.sqrt(96 / n)
    # consecutive draws uncorrelated: lag-1 correlation SE 1/sqrt(n)
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 5 / math.sqrt(n)


def test_ou_filtered_stationary_variance():
    """Voltage-form linear unit driven by OU noise: exact discrete-time variance.

    v' = a v + (1 - a) eta, eta' = b eta + sigma sqrt(1 - b^2) xi, eta stationary from the
    start. v = (1 - a) sum_j a^j eta_{n-j} gives
    Var v = (1 - a)^2 sigma^2 (1 + a b) / ((1 - a^2)(1 - a b)).
    """
    tau, ou_tau, sigma, dt, size = 0.01, 0.005, 0.8, 1e-4, 20000
    model = single_population(LeakyReLU(1.0, 0.0, 1.0), tau=tau, form="voltage", size=size,
                              drive=Drive(noise=Noise("ou", sigma, ou_tau)), dt=dt,
                              duration=0.15, seed=3, record="state", record_every=500)
    ds = simulate(model)
    a, b = math.exp(-dt / tau), math.exp(-dt / ou_tau)
    expected = (1 - a)**2 * sigma**2 * (1 + a * b) / ((1 - a * a) * (1 - a * b))
    sample = ds.state.isel(time=-1).values  # t = 0.1495 s: 15 tau, v started at 0: e^-30
    # independent neurons: the sample variance has relative SE sqrt(2/(n-1)) = 1.0 %; 4 SE
    assert sample.var(ddof=1) == pytest.approx(expected, rel=4 * math.sqrt(2 / (size - 1)))
    assert abs(sample.mean()) < 4 * math.sqrt(expected / size)


def test_noise_input_is_the_noise_the_run_added():
    """Voltage-form linear unit under OU noise alone: v' = a v + (1 - a) (I0 + eta), so the
    run's eta_n = (v_{n+1} - a v_n) / (1 - a) - I0; noise_input must give those numbers."""
    tau, dt, I0 = 0.01, 1e-4, 0.2
    model = single_population(LeakyReLU(1.0, 0.0, 1.0), tau=tau, form="voltage", size=3,
                              drive=Drive(I0=I0, noise=Noise("ou", 0.5, 0.004)), dt=dt,
                              duration=0.05, seed=7, record="state")
    v = simulate(model).state.values
    a = math.exp(-dt / tau)
    seen = (v[1:] - a * v[:-1]) / -math.expm1(-dt / tau) - I0
    eta = noise_input(model)
    assert eta.shape == v.shape
    # |v| < 2 and 1 / (1 - a) = 100: rounding of the inversion below 1e-12
    np.testing.assert_allclose(eta.values[:-1], seen, rtol=0, atol=1e-11)
    assert seen.std() > 0.2  # the noise is there (stationary sd 0.5)
    # a batch of seeds, a subset of neurons and down-sampling pick from the same numbers
    batch = noise_input(model, batch={"simulation.seed": [3, 7]}, neurons=[2], record_every=4)
    np.testing.assert_array_equal(batch.values[1], eta.values[::4, 2:3])
    assert not np.array_equal(batch.values[0], batch.values[1])


def test_white_noise_stationary_variance_is_sigma_squared_over_two():
    tau, sigma, size = 0.02, 0.5, 20000
    model = single_population(LeakyReLU(1.0, 0.0, 1.0), tau=tau, form="voltage", size=size,
                              drive=Drive(noise=Noise("white", sigma)), dt=1e-4,
                              duration=0.3, seed=9, record="state", record_every=1000)
    v = simulate(model).state.isel(time=-1).values  # 14.5 tau after start: e^-29
    # exponential Euler integrates the white noise exactly: Var = sigma^2 / 2; 4 SE
    assert v.var(ddof=1) == pytest.approx(sigma**2 / 2, rel=4 * math.sqrt(2 / (size - 1)))


def test_record_downsampling_takes_every_nth_sample():
    model = small_network().replace(connections=())
    full = simulate(model, record_every=1)
    sparse = simulate(model, record_every=7)
    np.testing.assert_array_equal(sparse.rate.values, full.rate.values[::7])
    np.testing.assert_allclose(np.diff(sparse.time.values), 7 * 2e-4, rtol=1e-12)


def test_float32_close_to_float64():
    model = load_model("models/ei_pair.toml")
    double = simulate(model, duration=0.5, transient=0.0)
    single = simulate(model, duration=0.5, transient=0.0, dtype="float32")
    assert single.rate.dtype == np.float32
    # float32 state rounding (6e-8 relative) accumulated over a contracting dynamics
    np.testing.assert_allclose(single.rate.values, double.rate.values, rtol=1e-5, atol=1e-5)


def test_sparse_and_dense_coupling_agree():
    model = load_model("models/random_network.toml")
    options = dict(duration=0.05, transient=0.0, neurons=range(0, 1000, 50))
    dense = simulate(model, coupling="dense", **options)
    sparse = simulate(model, coupling="sparse", **options)
    np.testing.assert_allclose(sparse.rate.values, dense.rate.values, rtol=1e-12, atol=1e-12)


def test_pulse_train_and_step_drive_the_unit():
    pulses = {"start": 0.01, "period": 0.02, "width": 0.005, "amplitude": 2.0}
    model = single_population(LeakyReLU(1.0, 0.0, 1.0), tau=0.001, form="voltage",
                              drive=Drive(pulses=(pulses,), steps=(Step(0.05, 1.0, 0.06),)),
                              dt=1e-4, duration=0.08, record="state")
    ds = simulate(model)
    drive = model.drive("E").deterministic(ds.time.values + 0.5e-4)[:, 0]  # mid-step
    expected = np.zeros_like(drive)
    a = math.exp(-1e-4 / 0.001)
    for n in range(1, drive.size):
        expected[n] = a * expected[n - 1] + (1 - a) * drive[n - 1]
    np.testing.assert_allclose(ds.state.values[:, 0], expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- errors
def test_non_finite_state_raises_simulation_error_naming_time_and_neuron():
    model = single_population(LeakyReLU(1.0, 0.0, 1.0), tau=0.01, drive=Drive(I0=1.0),
                              dt=1e-4, duration=1.0)
    model = model.replace(connections=(Connection("EE", "E", "E", weight=500.0),))
    with pytest.raises(SimulationError, match=r"t = 0\.\d+ s .* neuron 0 \(population 'E'\)"):
        simulate(model)


def test_uncoupled_overflow_raises_simulation_error():
    from neurorect import PowerLaw

    model = single_population(PowerLaw(1.0, 0.0, 2.0), tau=0.01, form="voltage",
                              drive=Drive(I0=1e200), dt=1e-4, duration=0.1)
    # v_1 = (1 - a) 1e200 is finite, its rate v^2 overflows: the rate at step 1 fails
    with pytest.raises(SimulationError, match=r"non-finite rate at t = 0.0001 s \(step 1\) "
                                              r"in neuron 0 .*rate = inf"):
        simulate(model)


def _runaway_unit(gain=1e7, size=3):
    """Voltage-form units v' = a v + (1 - a) I0 with I0 = 1: the rate gain v_n =
    gain (1 - a^n) crosses 1e6 Hz (the default max_rate) at the first n with
    1 - a^n > 0.1."""
    return single_population(LeakyReLU(gain, 0.0, 0.0), tau=0.01, form="voltage", size=size,
                             drive=Drive(I0=1.0), dt=1e-4, duration=0.05, transient=0.0)


@pytest.mark.parametrize("noise", [None, "ou"])
def test_runaway_rate_raises_at_its_step_naming_rate_and_value(noise):
    model = _runaway_unit()
    if noise:  # a tiny noise: the noisy path, same crossing step (margin 1e-3 of the rate)
        model = model.with_values({"drives.E.noise": {"kind": "ou", "sigma": 1e-9,
                                                      "tau": 0.005}})
    a = math.exp(-1e-4 / 0.01)
    n = np.arange(1, 100)
    rates = 1e7 * -np.expm1(n * math.log(a))
    step = int(n[np.argmax(rates > 1e6)])
    with pytest.raises(SimulationError, match=rf"runaway rate at t = {step * 1e-4:.6g} s "
                                              rf"\(step {step}\) in neuron 0 .*rate = "
                                              r"1\.0\d+e\+06 Hz, \|rate\| > max_rate = 1e\+06"):
        simulate(model)
    # a looser bound lets it run; math.inf disables the check
    assert simulate(model, max_rate=2e7).r0.values.max() < 1e7
    assert simulate(model, max_rate=math.inf).r0.values.max() < 1e7


def test_max_rate_default_is_far_above_every_shipped_model():
    from pathlib import Path

    from neurorect.driver import DEFAULT_MAX_RATE

    for path in sorted(Path("models").glob("*.toml")):
        model = load_model(path)
        # a bound 100 times tighter than the default still holds at every step (the kernels
        # check each step; the recorded maximum covers a kernel that does not check yet)
        ds = simulate(model, duration=min(model.simulation.duration, 1.0), record_every=10,
                      transient=0.0, progress=False, max_rate=DEFAULT_MAX_RATE / 100)
        assert np.max(np.abs(ds.rate.values)) < DEFAULT_MAX_RATE / 100, path


def test_oversized_recording_is_refused_before_allocating():
    model = load_model("models/random_network.toml")
    with pytest.raises(ModelError, match=r"recording would need 0\.07 GiB.*record_every"):
        simulate(model, duration=10.0, record_every=10, max_record_bytes=2**20)


def test_bad_simulate_arguments():
    model = load_model("models/single_neuron.toml")
    with pytest.raises(ModelError, match=r"duration = 0.1: the model's transient \(0.2 s.*pass "
                                         r"transient="):
        simulate(model, 0.1)
    with pytest.raises(ModelError, match=r"blas_threads = 0: .*integer >= 1, or None"):
        simulate(model, blas_threads=0)
    with pytest.raises(ModelError, match=r"dtype = 'float16'.*'float64' or 'float32'"):
        simulate(model, dtype="float16")
    with pytest.raises(ModelError, match=r"max_rate = -1.*number > 0"):
        simulate(model, max_rate=-1)
    with pytest.raises(ModelError, match=r"unit_stats = 'yes'.*True or False"):
        simulate(model, unit_stats="yes")
    with pytest.raises(ModelError, match=r"neurons = 3.*0 <= index < 1"):
        simulate(model, neurons=[3])
    with pytest.raises(ModelError, match=r"simulation.method = 'rk5'.*did you mean 'rk4'"):
        simulate(model, method="rk5")
    with pytest.raises(ModelError, match=r"populations.E.size.*cannot be batched"):
        simulate(model, batch={"populations.E.size": [1, 2]})
    with pytest.raises(ModelError, match=r"populations.E.transfer.alpha = 1.2.*0 <= alpha <= 1"):
        simulate(model, batch={"populations.E.transfer.alpha": [0.5, 1.2]})
    with pytest.raises(ModelError, match=r"populations.E.transfer.alpha = \['a', 'b'\]: batch "
                                         r"values must be numbers"):
        simulate(model, batch={"populations.E.transfer.alpha": ["a", "b"]})


@pytest.mark.parametrize("n_harmonics", [3, 6])  # 6: the block path's loop for k > 3
@pytest.mark.parametrize("form", ["rate", "voltage"])
def test_vectorised_block_path_equals_general_path(form, n_harmonics):
    """A Softplus neuron (per-unit path) placed first shifts every leaky-ReLU neuron's index
    and its neighbours, but tiles gather units by class and never mix lanes: the leaky-ReLU
    neurons come out bit for bit the same (tests/test_tiles.py compares the tiles with the
    per-unit path itself)."""
    size = 150  # spans two tiles of 128
    rng = np.random.default_rng(1)
    drive = Drive(I0=0.2, I1=tuple(rng.uniform(0.1, 1, size)),
                  freq=tuple(rng.uniform(1, 80, size)), phase=0.3)
    transfer = LeakyReLU(5.0, 0.1, 0.2, rate_min=-0.3, rate_max=4.0, baseline=0.05)
    alone = single_population(transfer, tau=0.01, size=size, form=form, drive=drive,
                              dt=1e-4, duration=0.3, transient=0.05,
                              n_harmonics=n_harmonics)
    mixed = Model(populations=(Population("S", tau=0.01, transfer=Softplus(), form=form),
                               Population("E", tau=0.01, transfer=transfer, size=size,
                                          form=form)),
                  drives={"E": drive}, simulation=alone.simulation)
    fast = simulate(alone)
    general = simulate(mixed)
    assert np.array_equal(fast.rate.values, general.rate.values[:, 1:])
    for name in ("r0", "amplitude", "phase"):  # NaN where a window has < 1 period
        np.testing.assert_array_equal(fast[name].values, general[name].values[1:])
    assert np.isfinite(fast.amplitude.values).sum() > 100


@pytest.mark.parametrize("kind", ["ou", "white"])
def test_shared_noise_is_one_realisation_for_the_whole_population(kind):
    drive = Drive(I0=0.3, noise=Noise(kind, 0.4, 0.003, shared=True))
    model = single_population(LeakyReLU(1.0, 0.0, 1.0), tau=0.01, form="voltage", size=6,
                              drive=drive, dt=1e-4, duration=0.2, record="state")
    shared = simulate(model, seed=5).state.values
    private = simulate(model.with_values({"drives.E.noise.shared": False}), seed=5).state
    # identical neurons with one common noise stay identical to the last bit; with private
    # noise they spread (their difference has sd ~ sigma, far above zero)
    assert np.all(shared == shared[:, :1])
    assert np.ptp(private.values[-1]) > 0.1
    # neuron 0's stream is the same either way: sharing copies it to the others
    np.testing.assert_array_equal(shared[:, 0], private.values[:, 0])


def test_streaming_statistics_equal_fourier_harmonics_of_the_recorded_trace():
    """The kernel's in-loop projections and neurorect.fourier.harmonics on the recorded rate
    (the simulator-agnostic analysis) must agree: same whole-period window, same sums."""
    from neurorect.fourier import harmonics

    model = load_model("models/ei_pair.toml")
    result = simulate(model, duration=1.0, transient=0.3, record_every=1)
    analysed = harmonics(result["rate"], freq=10.0, t_start=0.3, n_harmonics=3)
    # 1000 steps per period, 7 whole periods in both windows; summation order differs
    np.testing.assert_allclose(analysed["r0"].values, result["r0"].values, rtol=1e-12)
    np.testing.assert_allclose(analysed["amplitude"].values, result["amplitude"].values,
                               rtol=1e-10)
    np.testing.assert_allclose(analysed["phase"].values, result["phase"].values, atol=1e-10)


@pytest.mark.parametrize("general", [False, True])
def test_unit_stats_of_a_linear_unit_in_its_periodic_steady_state(general):
    """Rate-form linear unit started on its discrete steady state r_n = c0 + Im(C z^n): over
    whole periods the variance is |C|^2 / 2 exactly (a sum of sin^2 over whole periods),
    the rate is never 0, and the input is below threshold at the steps where
    I0 + I1 sin(w t_n + w dt / 2 + phase) < threshold."""
    params = dict(PARAMS, I0=0.1, threshold=0.3)  # below threshold for part of each period
    _, C = exact_discrete_map(0, dt=1e-4, **params)
    params["init"] = params["gain"] * (params["I0"] - params["threshold"]) + np.imag(C)
    model = linear_unit(**params)
    if general:  # a Softplus neighbour: the per-unit path for the whole model
        model = model.replace(populations=(*model.populations, Population(
            "S", tau=0.01, transfer=Softplus(), form="rate")))
    ds = simulate(model, transient=0.2, record="none", unit_stats=True)
    stats = ds.isel(neuron=0)
    # sum of sin^2 over 6 whole periods: exact, rounding of ~3000 terms only
    assert stats.rate_variance.item() == pytest.approx(abs(C) ** 2 / 2, rel=1e-10)
    assert stats.rate_variance.attrs["units"] == "Hz^2"
    assert stats.fraction_zero_rate.item() == 0.0
    n = np.arange(2000, 5000)  # the window: 0.2 s to 0.5 s
    drive = params["I0"] + params["I1"] * np.sin(2 * np.pi * 20.0 * (n + 0.5) * 1e-4
                                                 + params["phase"])
    # the kernel's phasor differs from sin() by rounding: a step within 1e-12 of the
    # threshold could flip (none here: the margin is printed if this fails)
    margin = np.min(np.abs(drive - params["threshold"]))
    assert stats.fraction_below_threshold.item() == np.mean(drive < params["threshold"]), margin
    assert ds.silent_fraction.sel(population="E").item() == 0.0
    assert ds.subthreshold_fraction.sel(population="E").item() == pytest.approx(
        np.mean(drive < params["threshold"]), abs=0)


def test_a_first_compile_is_told_and_a_cached_kernel_is_not(tmp_path, monkeypatch):
    """first_call_compiles: True for a kernel with no compiled code and no cache index (the
    run then shows 'compiling the simulation kernels ...'), False once it has compiled."""
    import importlib

    from neurorect._chunks import first_call_compiles

    (tmp_path / "fresh_kernel.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("fresh_kernel")
    assert first_call_compiles(module.twice)
    assert module.twice(2.0) == 4.0
    assert not first_call_compiles(module.twice)
