"""Step-response measures (neurorect.stepresponse, the sweeps' measure_step_response) against
exact responses: a first-order low-pass, and the second-order linear system of two rate units
coupled by +a and -a, whose second unit's step response is

    u(t) = 1 - exp(-t/tau) (cos(a t/tau) + sin(a t/tau) / a),

overshoot exp(-pi/a), peak time pi tau / a (damping 1/sqrt(1 + a^2)).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from neurorect.drive import Drive, Step
from neurorect.driver import simulate
from neurorect.errors import ModelError
from neurorect.spec import Connection, Model, Population, Simulation
from neurorect.stepresponse import step_measures
from neurorect.sweeps import run_sweep
from neurorect.sweeps.measures import measure_step_response
from neurorect.transfer import LeakyReLU

TAU, ONSET = 0.01, 0.05


def second_order(a: float, dt: float = 1e-5) -> Model:
    linear = LeakyReLU(alpha=1.0)
    pops = (Population("X", TAU, linear), Population("Y", TAU, linear))
    conns = (Connection("XY", "X", "Y", weight=a), Connection("YX", "Y", "X", weight=-a))
    return Model(populations=pops, connections=conns,
                 drives={"X": Drive(steps=(Step(ONSET, 1.0),))},
                 simulation=Simulation(dt=dt, duration=0.4, method="rk4"))


def exact_times(a: float, band: float = 0.02) -> tuple[float, float]:
    """Rise (10-90 %) and settling (2 %) time of u(t), by root finding on the formula."""
    def u(t):
        return 1 - math.exp(-t / TAU) * (math.cos(a * t / TAU) + math.sin(a * t / TAU) / a)

    peak = math.pi * TAU / a
    rise = brentq(lambda t: u(t) - 0.9, 0, peak) - brentq(lambda t: u(t) - 0.1, 0, peak)
    grid = np.linspace(0, 0.35, 350_001)
    j = np.flatnonzero(np.abs(np.vectorize(u)(grid) - 1) > band)[-1]
    settle = brentq(lambda t: abs(u(t) - 1) - band, grid[j], grid[j + 1], xtol=1e-15)
    return rise, settle


@pytest.mark.parametrize("a", [1.0, 2.0, 4.0])
def test_second_order_step_response(a):
    ds = measure_step_response(simulate(second_order(a), progress=False)).sel(population="Y")
    rise, settle = exact_times(a)
    # RK4 at dt/tau = 1e-3 (error ~1e-12); the step is felt from the sample at the onset on,
    # an offset of < dt; crossings interpolated linearly (O(dt^2)), the peak by a parabola
    assert float(ds.overshoot) == pytest.approx(math.exp(-math.pi / a), abs=1e-6)
    assert float(ds.peak_time) == pytest.approx(math.pi * TAU / a, abs=1e-5)
    assert float(ds.rise_time) == pytest.approx(rise, abs=1e-6)  # both ends shift alike
    assert float(ds.settling_time) == pytest.approx(settle, abs=1e-5)
    assert float(ds.final_value) == pytest.approx(a / (1 + a * a), rel=1e-9)  # 35 tau later
    assert int(ds.settled) == 1 and float(ds.initial_value) == 0.0


def test_first_order_response_and_edge_cases():
    t = np.linspace(0.0, 0.2, 20_001)
    y = 3.0 + 2.0 * np.where(t >= 0.02, -np.expm1(-(t - 0.02) / TAU), 0.0)
    out = step_measures(t, y, 0.02)
    # exact: no overshoot, rise tau ln 9, settling tau ln 50; linear interpolation of a
    # curve sampled every 1e-5 s: error ~ (dt/tau)^2 tau = 1e-8 s
    # the final value is the mean of the last 5 %, still e^-17 short of the asymptote: the
    # last samples lie above it by ~1e-8 of the change
    assert out["overshoot"] <= 1e-7 and out["settled"]
    assert out["rise_time"] == pytest.approx(TAU * math.log(9), abs=1e-7)
    assert out["settling_time"] == pytest.approx(TAU * math.log(50), abs=1e-7)
    assert out["initial_value"] == 3.0 and out["final_value"] == pytest.approx(5.0, abs=1e-7)
    still_moving = step_measures(t, 3.0 + (t >= 0.02) * (t - 0.02), 0.02)
    assert math.isnan(still_moving["settling_time"]) and not still_moving["settled"]
    flat = step_measures(t, np.ones_like(t), 0.02)
    assert math.isnan(flat["overshoot"]) and math.isnan(flat["rise_time"])
    with pytest.raises(ModelError, match="onset"):
        step_measures(t, y, 0.5)


def test_the_measure_in_a_sweep():
    grid = {"connections.XY.weight": [1.0, 3.0], "connections.YX.weight": [-1.0, -3.0]}
    measure = functools.partial(measure_step_response, band=0.05)
    ds = run_sweep(second_order(1.0, dt=2e-5), grid, measure=measure, mode="zip",
                   progress=False)
    overshoot = ds.overshoot.sel(population="Y").values
    # each point is its own run (the sweep splits the batch): the exact overshoot e^(-pi/a)
    np.testing.assert_allclose(overshoot, np.exp(-math.pi / np.array([1.0, 3.0])), atol=1e-6)



def test_the_named_measure_equals_the_callable_and_the_single_runs():
    """measure="step_response" (batched chunks, one recorded trace per copy) = the callable
    measure per point = each point's own run: the same numbers to rounding (metamorphic)."""
    grid = {"connections.XY.weight": [1.0, 3.0], "connections.YX.weight": [-1.0, -3.0]}
    model = second_order(1.0, dt=2e-5)
    named = run_sweep(model, grid, measure="step_response", mode="zip", progress=False)
    called = run_sweep(model, grid, measure=measure_step_response, mode="zip", progress=False)
    for name in ("overshoot", "peak_time", "rise_time", "settling_time", "final_value"):
        np.testing.assert_allclose(named[name].values, called[name].values, rtol=1e-12,
                                   atol=1e-15, err_msg=name)
    single = measure_step_response(simulate(model.with_values(
        {"connections.XY.weight": 3.0, "connections.YX.weight": -3.0}), progress=False))
    assert float(named.overshoot.sel(population="Y")[1]) == pytest.approx(
        float(single.overshoot.sel(population="Y")), rel=1e-12)
    assert named.overshoot.attrs["units"] == "1" and named.rise_time.attrs["units"] == "s"

def test_the_measure_refuses_what_it_cannot_measure():
    model = second_order(2.0, dt=1e-4)
    with pytest.raises(ModelError, match="recorded rates"):
        measure_step_response(simulate(model, record="none", progress=False))
    no_step = model.replace(drives={"X": Drive(I0=1.0)})
    with pytest.raises(ModelError, match="step"):
        measure_step_response(simulate(no_step, progress=False))
