"""frequency_response: every method against an exact reference, and the CLI."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest

from neurorect import (
    Drive,
    LeakyReLU,
    ModelError,
    frequency_response,
    load_model,
    simulate,
    single_population,
)
from neurorect.theory import fixed_point, gaussian_gain

DT = 1e-4


def leaky_unit(*, alpha=0.3, tau=0.01, I0=0.2, I1=1.0, freq=10.0, form="rate", dt=DT):
    return single_population(LeakyReLU(4.0, 0.1, alpha), tau=tau, form=form,
                             drive=Drive(I0=I0, I1=I1, freq=freq), dt=dt, duration=1.0)


def discrete_steady_state(model, freq, n_harmonics=3):
    """Exact periodic solution of the exponential-Euler map of an uncoupled rate unit.

    r_{n+1} = a r_n + (1 - a) g_n with g_n = phi(I((n + 1/2) dt)); over P = 1/(f dt) steps
    per period the DFT gives R_k = (1 - a) G_k / (exp(i 2 pi k / P) - a), and in the sine
    convention A_k exp(i phase_k) = 2 i R_k, r0 = R_0.
    """
    pop = model.populations[0]
    drive = model.drive("E")
    dt = model.simulation.dt
    P = int(round(1 / (freq * dt)))
    assert abs(P * freq * dt - 1) < 1e-12
    t = (np.arange(P) + 0.5) * dt
    g = pop.transfer(drive.I0 + drive.I1 * np.sin(2 * np.pi * freq * t))
    G = np.fft.fft(g) / P
    a = math.exp(-dt / pop.tau)
    k = np.arange(n_harmonics + 1)
    R = (1 - a) * G[k] / (np.exp(2j * np.pi * k / P) - a)
    return R[0].real, 2j * R[1:]


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_simulate_equals_exact_discrete_map(alpha):
    model = leaky_unit(alpha=alpha)
    freqs = np.array([5.0, 10.0, 25.0, 50.0])  # 2000, 1000, 400, 200 steps per period
    result = frequency_response(model, freqs, method="simulate", transient=0.5)
    for i, f in enumerate(freqs):
        r0, coefficient = discrete_steady_state(model.with_values({"drives.E.freq": f}), f)
        simulated = (result.amplitude * np.exp(1j * result.phase)).sel(population="E").values
        # whole periods of an exactly periodic map after a 50 tau transient (e^-50): only
        # rounding of ~1e4-term sums remains
        assert result.r0.sel(population="E").values[i] == pytest.approx(r0, rel=1e-10)
        np.testing.assert_allclose(simulated[i], coefficient, rtol=1e-9, atol=1e-11)


def test_all_frequencies_in_one_engine_call():
    model = leaky_unit()
    with mock.patch("neurorect.driver.simulate", wraps=simulate) as spy:
        frequency_response(model, np.geomspace(1, 200, 31), method="simulate",
                           error_estimate=False)
    assert spy.call_count == 1
    with mock.patch("neurorect.driver.simulate", wraps=simulate) as spy:  # + the run at 2 dt
        frequency_response(model, np.geomspace(1, 200, 31), method="simulate")
    assert spy.call_count == 2
    assert spy.call_args.kwargs["batch"]["drives.E.freq"].size == 31


def test_simulate_converges_to_analytic_at_second_order():
    freqs = np.array([3.0, 30.0, 200.0])
    exact = frequency_response(leaky_unit(), freqs, method="analytic")
    errors = []
    for dt in (4e-4, 2e-4, 1e-4):
        sim = frequency_response(leaky_unit(dt=dt), freqs, method="simulate", transient=0.2)
        z_sim = sim.amplitude * np.exp(1j * sim.phase)
        z_exact = exact.amplitude * np.exp(1j * exact.phase)
        errors.append(float(np.max(np.abs(z_sim - z_exact))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # mid-step sampling makes the map second order; the rectifier's kinks fall at varying
    # places relative to the grid, which scatters the observed order around 2
    assert np.all(orders > 1.6), (errors, orders)
    assert errors[-1] < 2e-3  # at dt = 0.1 ms, within 0.1 % of the largest amplitude (~4 Hz)


def test_analytic_equals_theory_and_refuses_networks():
    from neurorect.theory import sinusoid_response

    model = leaky_unit(form="voltage")
    freqs = np.geomspace(0.5, 500, 9)
    result = frequency_response(model, freqs, method="analytic")
    exact = sinusoid_response(LeakyReLU(4.0, 0.1, 0.3), 0.2, 1.0, freqs, tau=0.01,
                              form="voltage")
    # the wrapper goes through A exp(i phase) and back: a few ulps
    np.testing.assert_allclose(result.amplitude.sel(population="E").values,
                               exact.amplitude.transpose("freq", "harmonic").values,
                               rtol=1e-14)
    np.testing.assert_allclose(result.gain.sel(population="E").values, exact.gain.values,
                               rtol=1e-14)
    with pytest.raises(ModelError, match=r"method = 'analytic'.*uncoupled populations only"):
        frequency_response(load_model("models/ei_pair.toml"), freqs, method="analytic")


def test_linear_response_matches_small_amplitude_network_simulation():
    model = load_model("models/ei_pair.toml").with_values({"simulation.dt": 1e-5})
    fixed = fixed_point(model.coupling_matrix(), np.array([5.0, 1.0]),
                        [p.transfer for p in model.populations], tau=np.array([0.01, 0.005]))
    inputs = model.coupling_matrix() @ fixed.rate + np.array([5.0, 1.0])
    # both units sit at least 1 drive unit above threshold: a drive of I1 = 0.05 never
    # reaches a kink, so the network is exactly linear there
    assert np.all(inputs - 0.05 * 20 > 0)
    freqs = np.array([2.0, 20.0, 80.0])
    linear = frequency_response(model, freqs, method="linear", I1=0.05)
    simulated = frequency_response(model, freqs, method="simulate", I1=0.05, transient=0.2)
    # the only difference is the integrator's: the recurrent input enters at the step's
    # start (a dt/2 = 5 us delay): relative error ~ w dt / 2 * loop gain < 3e-3 at 80 Hz
    np.testing.assert_allclose(simulated.gain.values, linear.gain.values, rtol=3e-3)
    np.testing.assert_allclose(simulated.phase.sel(harmonic=1).values,
                               linear.phase.sel(harmonic=1).values, atol=3e-3)
    np.testing.assert_allclose(simulated.r0.values, linear.r0.values, rtol=1e-9)


def test_fixed_point_solver_equals_long_simulation():
    model = load_model("models/ei_pair.toml").with_values({"drives.E.I1": 0.0})
    run = simulate(model, duration=2.0, transient=1.5, record="none")
    fixed = fixed_point(model.coupling_matrix(), np.array([5.0, 1.0]),
                        [p.transfer for p in model.populations], tau=np.array([0.01, 0.005]))
    # after 150 slowest time constants the transient is e^-150 of the distance: rounding
    np.testing.assert_allclose(run.r0.values, fixed.rate, rtol=1e-10)
    assert fixed.stable


def test_broadband_matches_bussgang_discrete_transfer():
    """Gaussian input through a leaky ReLU and the exponential-Euler filter: by Bussgang's
    theorem S_rs = E[phi'] S_ss H_filter, so H(f) = E[phi'] (1 - a) e^{-i w dt} /
    (1 - a e^{-i w dt}) exactly (the response at step n + 1 sees the input of step n)."""
    model = leaky_unit(alpha=0.3, I0=0.2, I1=0.0, freq=0.0)
    sigma = 0.3
    freqs = np.array([3.0, 10.0, 30.0, 100.0, 300.0])
    result = frequency_response(model, freqs, method="broadband", I1=sigma, seed=2,
                                n_trials=16)
    a = math.exp(-DT / 0.01)
    # the stimulus is OU with tau = dt: marginally Gaussian with sd sigma
    effective = gaussian_gain(LeakyReLU(4.0, 0.1, 0.3), 0.2, sigma)
    back = np.exp(-2j * np.pi * freqs * DT)
    H = effective * (1 - a) * back / (1 - a * back)
    band = result.sel(population="E")
    z_gain = (band.gain.values - np.abs(H)) / band.gain_se.values
    z_phase = (band.phase.sel(harmonic=1).values - np.angle(H)) / band.phase_se.values
    # coherence-based standard errors (Bendat & Piersol); 4 SE over 10 fixed-seed checks
    assert np.all(np.abs(z_gain) < 4), z_gain
    assert np.all(np.abs(z_phase) < 4), z_phase
    assert np.all(band.coherence.values > 0.5)


def test_simulate_noisy_linear_unit_within_its_trial_standard_errors():
    """A linear unit (alpha = 1) with OU noise: the noise adds a zero-mean response, so the
    trial-averaged harmonics estimate the noise-free discrete steady state without bias;
    their reported standard errors must cover it."""
    model = leaky_unit(alpha=1.0).with_values(
        {"drives.E.noise": {"kind": "ou", "sigma": 0.5, "tau": 0.005}})
    freqs = np.array([5.0, 20.0, 50.0])
    result = frequency_response(model, freqs, method="simulate", n_trials=8, seed=1,
                                transient=0.2).sel(population="E")
    for name in ("gain_se", "amplitude_se", "phase_se", "r0_se"):
        assert np.all(result[name].values > 0), name
    for i, f in enumerate(freqs):
        quiet = model.with_values({"drives.E.freq": f, "drives.E.noise.sigma": 0.0})
        r0, coefficient = discrete_steady_state(quiet, f)
        amplitude = result.amplitude.sel(harmonic=1).values[i]
        phase = result.phase.sel(harmonic=1).values[i]
        z_amplitude = (amplitude - abs(coefficient[0])) / result.amplitude_se.values[i, 0]
        z_phase = (phase - np.angle(coefficient[0])) / result.phase_se.values[i, 0]
        z_r0 = (result.r0.values[i] - r0) / result.r0_se.values[i]
        # 8 trials: t-distributed with 7 dof; |t| < 5 for 9 checks at a fixed seed
        assert max(abs(z_amplitude), abs(z_phase), abs(z_r0)) < 5, (z_amplitude, z_phase, z_r0)


def test_schema_units_and_errors():
    result = frequency_response(leaky_unit(), [1.0, 10.0], method="analytic")
    assert set(result.dims) == {"population", "freq", "harmonic"}
    for name in list(result.data_vars) + list(result.coords):
        assert "units" in result[name].attrs and "long_name" in result[name].attrs, name
    assert result.attrs["method"] == "analytic" and "[populations.E]" in result.attrs["model"]
    with pytest.raises(ModelError, match=r"method = 'simulat'.*did you mean 'simulate'"):
        frequency_response(leaky_unit(), [1.0], method="simulat")
    with pytest.raises(ModelError, match=r"freqs = \[-1.0\].*positive"):
        frequency_response(leaky_unit(), [-1.0, 2.0])
    with pytest.raises(ModelError, match=r"freqs = 6000.0.*Nyquist.*5000 Hz"):
        frequency_response(leaky_unit(), [6000.0], method="simulate")
    with pytest.raises(ModelError, match=r"I1 = 0.0.*I1 > 0"):
        frequency_response(leaky_unit(), [1.0], I1=0.0)
    with pytest.raises(ModelError, match=r"n_periods = 0: must be a whole number.*>= 1"):
        frequency_response(leaky_unit(), [1.0], method="simulate", n_periods=0)
    with pytest.raises(ModelError, match=r"n_segments = 1: must be a whole number.*>= 2"):
        frequency_response(leaky_unit(), [1.0], method="broadband", n_segments=1)
    with pytest.raises(ModelError, match=r"nperseg = 4: .*integer >= 16"):
        frequency_response(leaky_unit(), [1.0], method="broadband", nperseg=4)
    with pytest.raises(ModelError, match=r"noise_tau = -0.001: must be a positive time"):
        frequency_response(leaky_unit(), [1.0], method="broadband", noise_tau=-0.001)


def test_response_cli_writes_data_and_figure(tmp_path, capsys):
    from neurorect.cli import main

    out, csv, png = tmp_path / "r.nc", tmp_path / "r.csv", tmp_path / "bode.png"
    status = main(["response", "models/single_neuron.toml", "--freqs", "1:100:log:3",
                   "--method", "simulate", "--out", str(out), "--csv", str(csv),
                   "--plot", str(png)])
    assert status == 0 and out.exists() and png.stat().st_size > 10_000
    table = np.loadtxt(csv, delimiter=",", skiprows=1)
    exact = frequency_response(load_model("models/single_neuron.toml"), [1.0, 10.0, 100.0])
    # the CSV carries the simulated gain: within 1e-3 of the exact one at dt = 0.1 ms
    np.testing.assert_allclose(table[:, 2], exact.gain.sel(population="E").values, rtol=1e-3)
    assert "gain" in capsys.readouterr().out
    replot = tmp_path / "replot.png"  # `neurorect plot` recognises a response file
    assert main(["plot", str(out), "--out", str(replot)]) == 0
    assert replot.stat().st_size > 10_000


def test_network_broadband_matches_the_exact_discrete_linear_transfer():
    """E-I network, common OU stimulus into E. Both units stay above threshold (inputs 2.7
    and 1.8 against fluctuations of ~0.3 sd: a kink crossing is a > 5 sd event), so the
    model's map (exp_ab2: the recurrent input 1.5 W r_n - 0.5 W r_{n-1}) is the linear system
    r_{n+1} = diag(a) r_n + diag(1 - a) D (W (1.5 r_n - 0.5 r_{n-1}) + e_E s_n); with
    z = e^{i w dt}, M(z) = diag(a) + (1.5 - 0.5 / z) diag(1 - a) D W and
    b = diag(1 - a) D e_E its transfer from s_n to r is H(f) = (z - M(z))^{-1} b."""
    model = load_model("models/ei_pair.toml")
    freqs = np.array([2.0, 10.0, 40.0, 150.0])
    result = frequency_response(model, freqs, method="broadband", I1=0.3, seed=1)
    W = model.coupling_matrix()
    taus = np.array([0.01, 0.005])
    fixed = fixed_point(W, np.array([5.0, 1.0]), [p.transfer for p in model.populations],
                        tau=taus)
    assert np.all(fixed.input > 5 * 0.3)
    a = np.exp(-DT / taus)
    assert model.simulation.method == "exp_ab2"
    b = (1 - a) * fixed.slope * np.array([1.0, 0.0])
    for i, f in enumerate(freqs):
        z = np.exp(2j * np.pi * f * DT)
        M = np.diag(a) + (1.5 - 0.5 / z) * np.diag(1 - a) @ np.diag(fixed.slope) @ W
        H = np.linalg.solve(z * np.eye(2) - M, b)
        for p, name in enumerate(["E", "I"]):
            row = result.sel(population=name).isel(freq=i)
            # coherence ~1 makes the random error tiny; what is left is Welch's segment-edge
            # leakage bias, ~0.3 tau / (nperseg dt) = 1e-3 relative: allow 4 SE + 2e-3
            tolerance_gain = 4 * float(row.gain_se) + 2e-3 * abs(H[p])
            tolerance_phase = 4 * float(row.phase_se) + 2e-3
            assert abs(float(row.gain) - abs(H[p])) < tolerance_gain, (name, f)
            assert abs(float(row.phase.sel(harmonic=1)) - np.angle(H[p])) < tolerance_phase
