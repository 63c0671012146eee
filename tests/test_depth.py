"""Depth: the feed-forward model shape, its forward pass, and the mean-field recursion.

Closed forms where they exist (ReLU and leaky ReLU variance maps are linear in q), an
independent adaptive quadrature otherwise, finite differences for derivatives, and random
networks over many weight seeds against the recursion (tolerances from the sampling error
of N units, stated at each check).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from neurorect.driver import simulate
from neurorect.errors import ModelError
from neurorect.feedforward import feedforward, forward_pass, population_order
from neurorect.modelfile import dumps_model, loads_model
from neurorect.spec import Connection, Model, Population
from neurorect.theory import fixed_point
from neurorect.theory.depth import depth_fixed_point, depth_propagation
from neurorect.theory.gaussian import gaussian_moment, variance_slope
from neurorect.transfer import GELU, LeakyReLU, ReLU, Sigmoid, Softplus

SQRT_2PI = math.sqrt(2 * math.pi)


def gauss(func, mean, var):
    """E[func(h)], h ~ N(mean, var), by adaptive quadrature (independent reference)."""
    s = math.sqrt(var)
    return quad(lambda h: float(func(h)) * math.exp(-0.5 * ((h - mean) / s) ** 2) / (
        s * SQRT_2PI), mean - 30 * s, mean + 30 * s, points=[0.0], epsabs=1e-14,
        epsrel=1e-13, limit=400)[0]


# --------------------------------------------------------------------------------------------
# the recursion
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_he_gain_preserves_variance_and_gradients(alpha):
    weight_var = 2.0 / (1.0 + alpha * alpha)
    ds = depth_propagation(LeakyReLU(alpha=alpha), 8, weight_var=weight_var, input_var=1.7)
    # E[phi(h)^2] = (1 + alpha^2) q / 2 and E[phi'^2] = (1 + alpha^2) / 2 at zero mean: exact
    np.testing.assert_allclose(ds.q, 1.7, rtol=1e-14)
    np.testing.assert_allclose(ds.jacobian_factor[1:], 1.0, rtol=1e-14)
    np.testing.assert_allclose(ds.jacobian_gain, (1 + alpha * alpha) / 2, rtol=1e-14)


def test_relu_variance_map_is_linear():
    ds = depth_propagation(ReLU(), 5, weight_var=[1.0, 3.0], input_var=2.0, bias_var=0.25)
    for wv in (1.0, 3.0):
        q = 2.0
        for layer in range(1, 6):
            assert float(ds.q.sel(weight_var=wv, layer=layer)) == pytest.approx(q, rel=1e-14)
            q = wv * q / 2 + 0.25


def test_linear_units_with_a_bias_mean():
    tr = LeakyReLU(1.0, 0.0, 1.0)  # phi(h) = h
    ds = depth_propagation(tr, 4, weight_var=0.8, input_var=0.5, input_mean=1.0,
                           bias_var=0.1, bias_mean=-0.3)
    mean, var = 1.0, 0.5
    for layer in range(1, 5):
        assert float(ds.h_mean.sel(layer=layer)) == mean
        assert float(ds.q.sel(layer=layer)) == pytest.approx(var, rel=1e-14)
        assert float(ds.mean_rate.sel(layer=layer)) == pytest.approx(mean, rel=1e-14)
        mean, var = -0.3, 0.8 * (mean * mean + var) + 0.1  # E[h^2] = mean^2 + var


def test_sigmoid_gradients_vanish_with_depth():
    tr = Sigmoid()
    ds = depth_propagation(tr, 6, weight_var=1.0, input_var=1.0)
    # independent recursion by adaptive quadrature (both ~1e-13)
    q, gain = 1.0, 1.0
    for layer in range(1, 7):
        slope2 = gauss(lambda h: tr.derivative(h) ** 2, 0.0, q)
        gain *= slope2  # weight_var = 1: the same factor for every layer
        assert float(ds.jacobian_gain.sel(layer=layer)) == pytest.approx(gain, rel=1e-10)
        q = gauss(lambda h: tr(h) ** 2, 0.0, q)
    # SCIENCE.md: the sigmoid's gradient falls ~1e6-fold over 6 layers at weight_var 1
    assert float(ds.jacobian_gain.sel(layer=6) / ds.jacobian_gain.sel(layer=1)) < 1e-5


@pytest.mark.parametrize("tr", [LeakyReLU(1.5, 0.2, 0.1, rate_max=2.0, baseline=0.3), GELU(),
                                Softplus(1.0, 0.1, 2.0)])
def test_variance_slope_is_the_derivative_of_the_second_moment(tr):
    for mean, var in [(0.0, 1.0), (0.3, 0.2), (-0.5, 2.0)]:
        dq = 1e-5 * var
        fd = (gaussian_moment(tr, mean, math.sqrt(var + dq), 2)
              - gaussian_moment(tr, mean, math.sqrt(var - dq), 2)) / (2 * dq)
        # central difference: truncation ~ (dq/q)^2 ~ 1e-10, rounding ~ 1e-16 / 1e-5
        assert float(variance_slope(tr, mean, math.sqrt(var))) == pytest.approx(fd, rel=1e-8)


def test_fixed_point_of_the_variance_map():
    ds = depth_fixed_point(LeakyReLU(alpha=0.2), weight_var=[0.5, 1.5, 2.5], bias_var=0.1)
    gain2 = (1 + 0.04) / 2  # E[phi'^2] and E[phi^2] / q at zero mean
    for wv in (0.5, 1.5):
        point = ds.sel(weight_var=wv)
        assert float(point.q_star) == pytest.approx(0.1 / (1 - wv * gain2), rel=1e-12)
        assert float(point.chi_star) == pytest.approx(wv * gain2, rel=1e-14)
        assert float(point.map_slope) == pytest.approx(wv * gain2, rel=1e-12)
        assert bool(point.stable) and bool(point.converged)
    runaway = ds.sel(weight_var=2.5)  # wv E[phi^2]/q > 1: the variance grows without bound
    assert float(runaway.q_star) == math.inf and not bool(runaway.stable)
    # ReLU at the He gain with a bias: q grows by bias_var per layer, forever
    marginal = depth_fixed_point(ReLU(), weight_var=2.0, bias_var=0.1)
    assert float(marginal.q_star) == math.inf and int(marginal.n_iter) <= 500


def test_fixed_point_with_a_bias_mean_solves_the_map():
    tr = GELU(1.0, 0.1)
    ds = depth_fixed_point(tr, weight_var=1.2, bias_var=0.05, bias_mean=0.4)
    q = float(ds.q_star)
    mapped = 1.2 * gauss(lambda h: tr(h) ** 2, 0.4, q) + 0.05
    assert mapped == pytest.approx(q, rel=1e-11)  # Newton-polished: quadrature's accuracy
    assert float(ds.chi_star) == pytest.approx(
        1.2 * gauss(lambda h: tr.derivative(h) ** 2, 0.4, q), rel=1e-10)
    assert bool(ds.stable)


# --------------------------------------------------------------------------------------------
# the model shape
# --------------------------------------------------------------------------------------------

TABLE = """
name = "deep"
[feedforward]
layers = 4
size = 30
weight_var = 2.0
bias_var = 0.1
input_var = 1.0
input_mean = 0.2
seed = 7
tau = "10 ms"
transfer = { kind = "leaky_relu", alpha = 0.1 }
[drives.L1]
I0 = 0.5
I1 = 0.1
freq = "5 Hz"
"""


def test_model_file_table_equals_the_builder():
    from neurorect.drive import Drive

    loaded = loads_model(TABLE, source="deep.toml")
    built = feedforward(LeakyReLU(alpha=0.1), 4, 30, weight_var=2.0, tau="10 ms",
                        bias_var=0.1, input_var=1.0, input_mean=0.2, seed=7,
                        drive=Drive(I0=0.5, I1=0.1, freq=5.0), name="deep")
    assert [p.name for p in loaded.populations] == ["L1", "L2", "L3", "L4"]
    assert [c.name for c in loaded.connections] == ["L1_L2", "L2_L3", "L3_L4"]
    np.testing.assert_array_equal(loaded.coupling_matrix(), built.coupling_matrix())
    for name in ("L1", "L2", "L3", "L4"):
        assert loaded.drive(name) == built.drive(name)
    # the layer-1 drive keeps its own I0 (added to the input pattern) and its sinusoid
    pattern = np.array(loaded.drive("L1").I0) - 0.5
    assert loaded.drive("L1").I1 == 0.1 and abs(pattern.mean() - 0.2) < 3 / math.sqrt(30)
    assert loads_model(dumps_model(loaded)) == loaded  # a saved model holds the expansion


def test_weights_and_biases_have_the_stated_statistics():
    n = 400
    model = feedforward(ReLU(), 3, n, weight_var=1.5, tau=0.01, bias_var=0.3, bias_mean=0.1,
                        seed=2)
    W = model.coupling_matrix()
    block = W[n:2 * n, :n]
    # n^2 samples: the variance is within 1 % (SE sqrt(2/n^2) = 0.35 %), the mean ~ 0
    assert block.var() * n == pytest.approx(1.5, rel=0.015)
    assert abs(block.mean()) < 4 * math.sqrt(1.5 / n) / n
    assert np.all(W[:n] == 0.0) and np.all(W[2 * n:, :n] == 0.0)  # only forward blocks
    bias = np.array(model.drive("L2").I0)
    assert abs(bias.mean() - 0.1) < 4 * math.sqrt(0.3 / n)
    assert model == feedforward(ReLU(), 3, n, weight_var=1.5, tau=0.01, bias_var=0.3,
                                bias_mean=0.1, seed=2)  # seeded: the same network
    other = feedforward(ReLU(), 3, n, weight_var=1.5, tau=0.01, seed=3).coupling_matrix()
    assert not np.array_equal(other, W)


@pytest.mark.parametrize("change, key", [
    ("layers = 0", "feedforward.layers"),
    ("weight_var = -1.0", "feedforward.weight_var"),
    ("sizes = 3", "feedforward.sizes"),
    ("transfer = { kind = 'relu', alpha = 0.1 }", "feedforward.transfer.alpha"),
])
def test_bad_tables_name_file_and_key(change, key):
    name = change.split(" = ")[0]
    lines = [line for line in TABLE.splitlines() if not line.startswith(f"{name} =")]
    text = "\n".join(lines).replace("[feedforward]", f"[feedforward]\n{change}")
    with pytest.raises(ModelError) as info:
        loads_model(text, source="deep.toml")
    assert info.value.key == key and info.value.file == "deep.toml"


def test_layer_names_may_not_clash():
    text = TABLE + "\n[populations.L2]\ntau = 0.01\ntransfer = { kind = 'relu' }\n"
    with pytest.raises(ModelError, match="feed-forward layer"):
        loads_model(text, source="deep.toml")


# --------------------------------------------------------------------------------------------
# the forward pass
# --------------------------------------------------------------------------------------------

def test_forward_pass_equals_the_fixed_point_and_a_long_simulation():
    model = feedforward(LeakyReLU(2.0, 0.1, 0.1), 3, 20, weight_var=1.0, tau=0.01,
                        bias_var=0.2, input_var=1.0, seed=4, dt=1e-3, duration=0.6)
    fp = forward_pass(model)
    W = model.coupling_matrix()
    neurons = model.neuron_arrays()
    theory = fixed_point(W, neurons.I0, list(neurons.transfer), tau=neurons.tau)
    assert theory.method == "feedforward"  # no loops: one pass, no eigendecomposition
    np.testing.assert_allclose(theory.eigenvalues, -100.0)
    np.testing.assert_allclose(fp.rate, theory.rate, rtol=0, atol=1e-13)  # same arithmetic
    iterated = fixed_point(W, neurons.I0, list(neurons.transfer), method="newton")
    np.testing.assert_allclose(fp.rate, iterated.rate, rtol=0, atol=1e-10)  # Newton's tol
    # 60 tau of exponential Euler: the residual of the 3-fold pole is ~60^2 e^-60 (Hz)
    rate = simulate(model, record="rate", progress=False).rate.isel(time=-1)
    np.testing.assert_allclose(rate, fp.rate, rtol=0, atol=1e-10)


def test_forward_pass_jacobian_matches_finite_differences():
    model = feedforward(Softplus(1.0, 0.0, 3.0), 3, 15, weight_var=1.5, tau=0.01,
                        input_var=1.0, seed=5)
    ds = forward_pass(model, jacobian_of="L3")
    J = ds.jacobian.values
    base = np.array(model.drive("L1").I0)
    h = 1e-6
    for j in (0, 7, 14):
        shifted = base.copy()
        shifted[j] += h
        up = forward_pass(model.with_values({"drives.L1.I0": list(shifted)}),
                          jacobian=False).rate.values[-15:]
        shifted[j] -= 2 * h
        down = forward_pass(model.with_values({"drives.L1.I0": list(shifted)}),
                            jacobian=False).rate.values[-15:]
        # central difference of a smooth map: truncation ~ h^2 |phi'''| ~ 1e-12
        np.testing.assert_allclose(J[:, j], (up - down) / (2 * h), rtol=0, atol=1e-8)
    assert float(ds.jacobian_gain.sel(population="L3")) == pytest.approx(
        np.sum(J ** 2) / 15, rel=1e-14)


def test_loops_are_refused():
    pops = (Population("A", 0.01, ReLU(), size=3), Population("B", 0.01, ReLU(), size=3))
    conns = (Connection("AB", "A", "B", weight=1.0), Connection("BA", "B", "A", weight=0.5))
    with pytest.raises(ModelError, match="loop"):
        population_order(Model(populations=pops, connections=conns))
    assert population_order(Model(populations=pops, connections=conns[:1])) == ["A", "B"]


def mean_field_agreement(tr, weight_var, n, layers, seeds, bias_var=0.0):
    """Per layer: the mean over seeds of (simulated / theory) for q and the Jacobian gain,
    and the standard error of that mean."""
    theory = depth_propagation(tr, layers, weight_var=weight_var, input_var=1.0,
                               bias_var=bias_var)
    ratios = {"q": [], "jacobian_gain": []}
    for seed in seeds:
        model = feedforward(tr, layers, n, weight_var=weight_var, tau=0.01, input_var=1.0,
                            bias_var=bias_var, seed=seed)
        ds = forward_pass(model)
        for name in ratios:
            ratios[name].append(ds[name].values / theory[name].values)
    return {name: (np.mean(r, 0), np.std(r, 0, ddof=1) / math.sqrt(len(r)))
            for name, r in ratios.items()}


@pytest.mark.parametrize("tr, weight_var", [(ReLU(), 2.0), (LeakyReLU(alpha=0.3), 1.0),
                                            (Sigmoid(4.0, 0.0, 1.0), 1.0)])
def test_random_networks_follow_the_recursion(tr, weight_var):
    n = 300
    result = mean_field_agreement(tr, weight_var, n, 5, range(10), bias_var=0.05)
    for name, (mean, se) in result.items():
        # each seed's layer statistics scatter by ~sqrt(2/N) per layer (accumulating); the
        # mean of 10 seeds must be within 3/sqrt(N) of the theory and within 4 of its SEs
        assert np.all(np.abs(mean - 1) <= 3 / math.sqrt(n)), (name, mean)
        assert np.all(np.abs(mean - 1) <= 4 * se + 1e-12), (name, mean, se)


@pytest.mark.slow
def test_simulated_deep_networks_follow_the_recursion():
    """The engine's steady state of 10 networks (6 x 400 ReLU units at He gain, and leaky
    ReLU) against the recursion. Runtime ~1 min on 2 busy cores."""
    n, layers, seeds = 400, 6, range(10)
    for tr, wv in ((ReLU(), 2.0), (LeakyReLU(alpha=0.2), 1.2)):
        theory = depth_propagation(tr, layers, weight_var=wv, input_var=1.0)
        ratios = []
        for seed in seeds:
            model = feedforward(tr, layers, n, weight_var=wv, tau=0.01, input_var=1.0,
                                seed=seed, dt=1e-3, duration=0.5)
            rate = simulate(model, record="rate", progress=False).rate.isel(time=-1).values
            W = model.coupling_matrix()
            h = W @ rate + model.neuron_arrays().I0
            q = [h[i * n:(i + 1) * n].var() for i in range(layers)]
            ratios.append(np.array(q) / theory.q.values)
        mean = np.mean(ratios, 0)
        # 50 tau of settling (error ~1e-14); the mean over 10 seeds within 3/sqrt(N)
        assert np.all(np.abs(mean - 1) <= 3 / math.sqrt(n)), mean
