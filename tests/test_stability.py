"""Stability of rate networks: initial states, fixed points from many starts, the bounds next to
the eigenvalues, and the Lyapunov diagnostic, on cases with known answers.

Known answers: an uncoupled unit's perturbations decay exactly as exp(-t/tau); a linear
network's as its leading eigenvalue (a spectral gap makes the fitted slope converge
quickly); a self-exciting ReLU unit runs away at (w - 1)/tau; mutual inhibition has the
three fixed points (1, 0), (0, 1), (1/3, 1/3); the classic random tanh network (voltage form)
is chaotic for g > 1 and stable below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurorect.drive import Drive
from neurorect.driver import simulate
from neurorect.errors import ModelError
from neurorect.feedforward import feedforward
from neurorect.modelfile import dumps_model, loads_model
from neurorect.spec import Connection, Model, Population, Simulation
from neurorect.stability import fixed_points, lyapunov_exponent, stability_report
from neurorect.theory import fixed_points as network_fixed_points
from neurorect.transfer import LeakyReLU, ReLU, Sigmoid

TAU = 0.01


def network(W, I0, transfer, init=0.0, form="rate", **simulation) -> Model:
    """One population with a dense coupling matrix (autapses kept)."""
    pop = Population("E", TAU, transfer, size=len(W), form=form, init=init)
    conn = Connection("EE", "E", "E", kind="dense", matrix=[list(row) for row in W],
                      autapses=True)
    return Model(populations=(pop,), connections=(conn,), drives={"E": Drive(I0=I0)},
                 simulation=Simulation(**simulation))


def tanh_network(g: float, n: int = 200, seed: int = 3) -> Model:
    """``tau dv/dt = -v + W tanh(v)``: phi = 1 + tanh(v) (a Sigmoid) with I0 = -W 1."""
    conn = Connection("EE", "E", "E", kind="gaussian", g=g, seed=seed)
    W = conn.block(n, n)
    pop = Population("E", TAU, Sigmoid(2.0, 0.0, 2.0), size=n, form="voltage",
                     init={"kind": "normal", "std": 1.0, "seed": 5})
    return Model(populations=(pop,), connections=(conn,),
                 drives={"E": Drive(I0=tuple(-W.sum(axis=1)))},
                 simulation=Simulation(dt=5e-4, duration=1.5))


# --------------------------------------------------------------------------------------------
# initial states
# --------------------------------------------------------------------------------------------

MODEL = """
[populations.E]
size = 4
tau = "10 ms"
transfer = { kind = "relu" }
init = { kind = "normal", mean = [1.0, 2.0, 3.0, 4.0], std = 0.5, seed = 2 }
[populations.I]
size = 3
tau = "5 ms"
transfer = { kind = "relu" }
init = [0.5, 0.6, 0.7]
[populations.U]
size = 5
tau = "5 ms"
transfer = { kind = "relu" }
init = { kind = "uniform", low = 1.0, high = 2.0, seed = 9 }
"""


def test_initial_states_from_a_model_file():
    model = loads_model(MODEL, source="m.toml")
    exc, inh, uni = (model.population(n).initial_values() for n in "EIU")
    np.testing.assert_array_equal(exc, [1.0, 2.0, 3.0, 4.0] + 0.5 * np.random.default_rng(
        2).standard_normal(4))  # the documented draw, bit for bit
    np.testing.assert_array_equal(inh, [0.5, 0.6, 0.7])
    assert np.all((uni >= 1.0) & (uni < 2.0)) and np.unique(uni).size == 5
    assert loads_model(dumps_model(model)) == model
    state = simulate(model, 0.002, dt=1e-3, record="state", progress=False).state
    np.testing.assert_array_equal(state.isel(time=0), np.concatenate([exc, inh, uni]))


@pytest.mark.parametrize("old, new, key", [
    ("std = 0.5", "std = -0.5", "populations.E.init.std"),
    ("std = 0.5", "sd = 0.5", "populations.E.init.sd"),
    ("[0.5, 0.6, 0.7]", "[0.5, 0.6]", "populations.I.init"),
    ("[1.0, 2.0, 3.0, 4.0]", "[1.0, 2.0]", "populations.E.init.mean"),
    ('kind = "uniform"', 'kind = "gamma"', "populations.U.init.kind"),
    ("high = 2.0", "high = 0.5", "populations.U.init.high"),
])
def test_bad_initial_states_name_file_and_key(old, new, key):
    with pytest.raises(ModelError) as info:
        loads_model(MODEL.replace(old, new), source="m.toml")
    assert info.value.key == key and info.value.file == "m.toml"


def test_batched_initial_states_equal_separate_runs():
    model = loads_model(MODEL)
    seeds = [2, 11, 12]
    batched = simulate(model, 0.01, dt=1e-4, record="state", progress=False,
                       batch={"populations.E.init.seed": seeds}).state
    for b, seed in enumerate(seeds):
        alone = simulate(model.with_values({"populations.E.init.seed": seed}), 0.01, dt=1e-4,
                         record="state", progress=False).state
        np.testing.assert_array_equal(batched.isel(batch=b), alone)  # the same arithmetic
    assert not np.array_equal(batched.isel(batch=1, time=0), batched.isel(batch=2, time=0))


# --------------------------------------------------------------------------------------------
# fixed points from many starts
# --------------------------------------------------------------------------------------------

def test_mutual_inhibition_has_three_fixed_points():
    W = [[0.0, -2.0], [-2.0, 0.0]]
    ds = network_fixed_points(W, 1.0, ReLU(), tau=TAU, n_starts=40, method="newton")
    assert int(ds.n_unique) == 3 and int(ds.n_failed) == 0
    found = {tuple(np.round(r, 12)): bool(st) for r, st in zip(ds.rate.values,
                                                              ds.stable.values, strict=True)}
    # winner-take-all states are stable; the symmetric state r = 1 / (1 + 2) is a saddle
    assert found == {(1.0, 0.0): True, (0.0, 1.0): True, (round(1 / 3, 12),) * 2: False}
    assert int(ds.n_reached.sum()) == 40 and not bool(ds.unique_guaranteed)


def test_a_contraction_has_one_fixed_point():
    rng = np.random.default_rng(1)
    W = 0.4 * rng.standard_normal((60, 60)) / math.sqrt(60)
    model = network(W, 1.0, LeakyReLU(alpha=0.2))
    ds = fixed_points(model, n_starts=15, seed=3, rate_scale=10.0)
    assert float(ds.contraction_bound) < 1 and bool(ds.unique_guaranteed)
    assert int(ds.n_unique) == 1 and int(ds.n_reached[0]) == 15 and bool(ds.stable[0])


def test_a_network_without_loops_is_solved_once():
    model = feedforward(ReLU(), 3, 20, weight_var=2.0, tau=TAU, input_var=1.0, seed=1)
    ds = fixed_points(model, n_starts=10)
    assert int(ds.n_unique) == 1 and int(ds.n_reached[0]) == 10
    assert bool(ds.unique_guaranteed) and math.isnan(float(ds.contraction_bound))


def test_stability_report_of_a_random_network():
    n, g = 300, 0.6
    conn = Connection("EE", "E", "E", kind="gaussian", g=g, seed=4)
    model = Model(populations=(Population("E", TAU, ReLU(), size=n),), connections=(conn,),
                  drives={"E": Drive(I0=1.0)})
    ds = stability_report(model)
    assert float(ds.g) == pytest.approx(g, rel=0.02)  # n^2 weights: sqrt(N) std(W) to ~0.3 %
    # circular law: the eigenvalues of D W fill a disc of radius g rms(phi'); its edge at
    # N = 300 fluctuates by ~N^(-1/2) relative
    assert float(ds.spectral_radius) == pytest.approx(float(ds.radius_estimate), rel=0.1)
    # the mean-field radius g sqrt(E[phi'^2]) predicts the measured one (finite-N: ~5 %)
    assert float(ds.radius_mean_field) == pytest.approx(float(ds.radius_estimate), rel=0.05)
    # the contraction bound ||W||_2 -> 2 g is loose by ~2x against the radius
    assert 1.7 < float(ds.contraction_bound) / float(ds.radius_estimate) < 2.3
    assert bool(ds.stable) and float(ds.leading_eigenvalue) < 1


def test_stability_report_of_a_linear_network():
    model = network([[0.5, 1.0], [0.0, -0.5]], 0.1, LeakyReLU(alpha=1.0))
    ds = stability_report(model)
    assert float(ds.leading_eigenvalue) == pytest.approx(0.5, rel=1e-14)  # triangular W
    assert float(ds.max_real_eigenvalue) == pytest.approx(-50.0, rel=1e-14)


# --------------------------------------------------------------------------------------------
# the Lyapunov diagnostic
# --------------------------------------------------------------------------------------------

def test_uncoupled_perturbations_decay_at_one_over_tau():
    for form, init in (("rate", 0.5), ("voltage", [0.2, -0.4, 1.0])):
        size = 1 if np.ndim(init) == 0 else len(init)
        pop = Population("E", TAU, ReLU(), size=size, form=form, init=init)
        model = Model(populations=(pop,), drives={"E": Drive(I0=1.0)},
                      simulation=Simulation(dt=1e-4, duration=0.3))
        ds = lyapunov_exponent(model)
        # exponential Euler scales an uncoupled separation by exactly exp(-dt/tau) per step;
        # only rounding remains: ~1e-16 / 1e-10 relative near the window's floor (measured
        # 1e-6 in the voltage form, 1e-8 in the rate form)
        assert float(ds.exponent) == pytest.approx(-1 / TAU, rel=1e-5)
        assert str(ds.regime.values) == "stable"


def test_linear_network_decays_at_its_leading_eigenvalue():
    model = network([[0.5, 1.0], [0.0, -0.5]], 0.1, LeakyReLU(alpha=1.0), init=[1.0, 1.0],
                    dt=1e-4, duration=0.3, method="rk4")
    ds = lyapunov_exponent(model, fit_start=0.08)
    # eigenvalues (0.5 - 1)/tau = -50/s and (-0.5 - 1)/tau = -150/s: the fast one is e^-8
    # of the slow one at fit_start (bias ~1e-4); RK4 at dt/tau = 0.01: error ~1e-9
    assert float(ds.exponent) == pytest.approx(-50.0, rel=1e-3)
    assert str(ds.regime.values) == "stable"
    assert float(ds.separation.isel(time=0).mean()) == pytest.approx(1e-7, rel=1e-12)


def test_self_excitation_runs_away():
    model = network([[2.0]], 1.0, ReLU(), init=0.5, dt=1e-4, duration=0.3)
    ds = lyapunov_exponent(model)
    # the scheme's growth: exp_ab2 (the default) multiplies the mode mu = 2 per step by the
    # larger root of z^2 - (1 - h + 1.5 h mu) z + 0.5 h mu, h = 1 - exp(-dt / tau)
    h, mu = -math.expm1(-1e-4 / TAU), 2.0
    b = 1 - h + 1.5 * h * mu
    rate = math.log(0.5 * (b + math.sqrt(b * b - 2 * h * mu))) / 1e-4
    assert str(ds.regime.values) == "runaway"
    assert float(ds.growth_rate) == pytest.approx(rate, rel=1e-3)  # r + 1 grows exactly so


def test_random_tanh_network_is_chaotic_above_g_one():
    chaotic = lyapunov_exponent(tanh_network(2.0))
    assert str(chaotic.regime.values) == "chaotic"
    # lambda tau ~ 0.1 at g = 2 (N = 200): positive by many standard errors
    assert float(chaotic.exponent) * TAU > 0.05
    assert float(chaotic.exponent) > 5 * float(chaotic.exponent_se)
    stable = lyapunov_exponent(tanh_network(0.5))
    report = stability_report(tanh_network(0.5))
    assert str(stable.regime.values) == "stable"
    # a random perturbation decays no slower than the leading eigenvalue (bulk modes add
    # faster decay), and no faster than the edge of the disc allows
    assert -1.6 / TAU < float(stable.exponent) <= float(report.max_real_eigenvalue) + 1.0
