"""Tests of neurorect.fourier: harmonic analysis of traces and spike trains, transfer functions.

Conventions under test (DESIGN.md): r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k), phases in
(-pi, pi] relative to the drive's sine at absolute time, negative for a lag.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import signal, stats

from neurorect.fourier import (
    complex_coefficient,
    from_amplitude_phase,
    harmonics,
    spike_harmonics,
    spike_transfer_function,
    to_amplitude_phase,
    transfer_function,
    wrap_phase,
)

TWO_PI = 2 * np.pi

# Round-off bound for projections of O(1) signals over ~1e3-1e4 samples: each sum accumulates
# ~N eps ~ 1e-12 at worst (pairwise summation in BLAS/numpy does better).
EXACT = 1e-12


def multi_sine(t, r0, amps, phases, f):
    """r0 + sum_k A_k sin(2 pi k f t + phase_k)."""
    out = np.full_like(t, r0, dtype=float)
    for k, (a, p) in enumerate(zip(amps, phases, strict=True), start=1):
        out += a * np.sin(TWO_PI * k * f * t + p)
    return out


def assert_schema(ds: xr.Dataset):
    """Every variable and coordinate carries units and long_name."""
    for name in [*ds.data_vars, *ds.coords]:
        assert "units" in ds[name].attrs, name
        assert "long_name" in ds[name].attrs, name


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def test_wrap_phase_interval_is_half_open_at_minus_pi():
    got = wrap_phase([np.pi, -np.pi, 3 * np.pi, 0.0, 1.5 * np.pi, -0.5])
    np.testing.assert_allclose(got, [np.pi, np.pi, np.pi, 0.0, -0.5 * np.pi, -0.5],
                               rtol=0, atol=1e-15)  # a few ulps of pi


def test_amplitude_phase_round_trip():
    amp = np.array([0.5, 2.0, 3.0])
    ph = np.array([-3.1, 0.2, np.pi])
    a2, p2 = to_amplitude_phase(from_amplitude_phase(amp, ph))
    np.testing.assert_allclose(a2, amp, rtol=1e-15)
    np.testing.assert_allclose(p2, ph, rtol=0, atol=1e-15)  # exp/angle round trip: few ulps


def test_complex_coefficient_is_i_times_fft_projection():
    """z_k = i c_k with c_k = (2/N) sum r_n exp(-i 2 pi k f t_n): checked against numpy's FFT."""
    dt, f, n_per, m = 1e-3, 5.0, 200, 7
    t = np.arange(n_per * m) * dt
    r = multi_sine(t, 1.0, [0.8, 0.3, 0.1], [0.4, -2.0, 2.9], f)
    ds = harmonics(r, freq=f, dt=dt)
    c = 2 * np.fft.fft(r)[[m, 2 * m, 3 * m]] / r.size  # harmonic k sits in FFT bin k M
    np.testing.assert_allclose(complex_coefficient(ds).values, 1j * c, rtol=0, atol=EXACT)
    assert complex_coefficient(ds).attrs["units"] == "Hz"


# --------------------------------------------------------------------------------------------
# harmonics: sampled traces
# --------------------------------------------------------------------------------------------

def test_exact_recovery_of_three_harmonics_with_phases_near_pi():
    dt, f = 1e-3, 4.0  # 250 samples per period: integer, so the projection is exact
    t = np.arange(2300) * dt  # 9.2 periods: trimmed to 9
    amps = [2.0, 0.7, 0.3]
    phases = [np.pi - 1e-6, -np.pi + 1e-6, 0.4]
    ds = harmonics(multi_sine(t, 3.7, amps, phases, f), freq=f, dt=dt)
    assert ds.r0.item() == pytest.approx(3.7, abs=EXACT)
    np.testing.assert_allclose(ds.amplitude.values, amps, rtol=0, atol=EXACT)
    # phase error ~ round-off / amplitude, amplitudes >= 0.3
    np.testing.assert_allclose(ds.phase.values, phases, rtol=0, atol=EXACT / 0.3)
    assert list(ds.harmonic.values) == [1, 2, 3]
    assert ds.n_periods.item() == 9
    assert ds.window_stop.item() == pytest.approx(9 / f, abs=1e-12)  # 2250 samples of 1 ms
    assert ds.attrs["n_periods"] == 9
    assert_schema(ds)


def test_phase_exactly_minus_pi_is_reported_as_plus_pi():
    dt, f = 1e-3, 10.0
    t = np.arange(500) * dt
    ds = harmonics(np.sin(TWO_PI * f * t - np.pi), freq=f, dt=dt, n_harmonics=1)
    # -sin is a phase of +-pi; the convention is (-pi, pi]: round-off may land just below pi
    assert abs(ds.phase.item() - np.pi) < 1e-12


def test_dataarray_time_first_with_per_neuron_frequencies():
    """The engine's layout rate(time, neuron), each neuron with its own drive frequency."""
    dt = 1e-4
    t = 0.5 + np.arange(20000) * dt  # recording starts at 0.5 s: phases use absolute time
    freqs = np.array([5.0, 8.0, 12.5, 20.0])  # all periods are integer numbers of samples
    r0s = np.array([1.0, 2.0, 3.0, 4.0])
    amps = np.array([[1.0, 0.5, 0.25], [0.9, 0.1, 0.05], [0.3, 0.2, 0.1], [2.0, 1.0, 0.5]])
    phs = np.array([[3.0, -3.0, 0.0], [-1.0, 2.0, 1.0], [0.5, -0.5, 3.1], [-2.5, 1.5, -0.1]])
    data = np.stack([multi_sine(t, r0s[j], amps[j], phs[j], freqs[j]) for j in range(4)], axis=1)
    rate = xr.DataArray(data, dims=["time", "neuron"],
                        coords={"time": ("time", t, {"units": "s", "long_name": "time"}),
                                "neuron": ("neuron", np.arange(4),
                                           {"units": "1", "long_name": "neuron index"})},
                        attrs={"units": "Hz", "long_name": "firing rate"})
    freq = xr.DataArray(freqs, dims=["neuron"], coords={"neuron": np.arange(4)})
    ds = harmonics(rate, freq=freq, t_start=0.6)
    assert ds.amplitude.dims == ("neuron", "harmonic")
    np.testing.assert_allclose(ds.r0.values, r0s, rtol=0, atol=EXACT)
    np.testing.assert_allclose(ds.amplitude.values, amps, rtol=0, atol=EXACT)
    np.testing.assert_allclose(ds.phase.values, phs, rtol=0, atol=EXACT / 0.05)
    np.testing.assert_allclose(ds.freq.values, freqs)
    # window [0.6, 2.5) s = 1.9 s: 9, 15, 23 and 38 whole periods
    np.testing.assert_array_equal(ds.n_periods.values, [9, 15, 23, 38])
    np.testing.assert_allclose(ds.window_stop.values, 0.6 + np.array([9, 15, 23, 38]) / freqs,
                               rtol=0, atol=1e-9)  # t coordinate built as 0.5 + n dt
    assert ds.window_start.item() == pytest.approx(0.6, abs=1e-12)
    # numpy freq array broadcasts against the non-time dims the same way
    ds2 = harmonics(rate, freq=freqs, t_start=0.6)
    xr.testing.assert_allclose(ds.amplitude, ds2.amplitude)
    assert_schema(ds)


def test_numpy_batch_with_scalar_freq_and_t0():
    dt, f, t0 = 2e-4, 25.0, 1.0  # 200 samples per period
    t = t0 + np.arange(4000) * dt
    data = np.stack([[multi_sine(t, i + j, [1.0, 0.2 * j, 0.1], [0.3 * i, 1.0, -1.0], f)
                      for j in range(3)] for i in range(2)])  # (2, 3, time)
    ds = harmonics(data, freq=f, dt=dt, t0=t0)
    assert ds.r0.dims == ("dim_0", "dim_1")
    np.testing.assert_allclose(ds.r0.values, np.add.outer(np.arange(2), np.arange(3)),
                               rtol=0, atol=EXACT)
    np.testing.assert_allclose(ds.phase.values[:, :, 0], [[0.0] * 3, [0.3] * 3],
                               rtol=0, atol=EXACT)


def test_dataset_input_and_a_frequency_dim_added_by_freq(tmp_path):
    """One trace analysed at several drive frequencies: freq becomes a dim of the result."""
    dt, f = 1e-3, 4.0
    t = np.arange(3000) * dt
    r = multi_sine(t, 1.0, [1.0, 0.5, 0.25], [0.1, 0.2, 0.3], f)
    sim = xr.Dataset({"rate": ("time", r, {"units": "Hz", "long_name": "rate"})},
                     coords={"time": ("time", t, {"units": "s", "long_name": "time"})})
    freqs = xr.DataArray([4.0, 8.0], dims=["freq"])
    ds = harmonics(sim, freq=freqs, n_harmonics=2)
    assert ds.amplitude.dims == ("freq", "harmonic")
    # analysed at 8 Hz, the "fundamental" is the 2nd harmonic of the 4 Hz signal
    assert ds.amplitude.sel(freq=8.0, harmonic=1).item() == pytest.approx(0.5, abs=EXACT)
    assert ds.phase.sel(freq=8.0, harmonic=1).item() == pytest.approx(0.2, abs=EXACT / 0.5)
    assert ds.amplitude.sel(freq=4.0, harmonic=2).item() == pytest.approx(0.5, abs=EXACT)
    np.testing.assert_array_equal(ds.n_periods.values, [12, 24])
    assert_schema(ds)
    ds.to_netcdf(tmp_path / "harmonics.nc")  # netCDF-clean: no complex, no object attrs
    with xr.open_dataset(tmp_path / "harmonics.nc") as back:
        xr.testing.assert_identical(back.load(), ds)


def test_freq_coordinates_must_match_the_rate():
    rate = xr.DataArray(np.ones((2, 1000)), dims=["neuron", "time"],
                        coords={"neuron": [0, 1], "time": np.arange(1000) * 1e-3})
    freq = xr.DataArray([5.0, 6.0], dims=["neuron"], coords={"neuron": [1, 2]})
    with pytest.raises(ValueError, match="coordinates do not match"):
        harmonics(rate, freq=freq)


def test_transient_before_t_start_is_ignored_and_window_trimmed():
    dt, f = 1e-3, 2.0  # 500 samples per period
    t = np.arange(3700) * dt
    r = multi_sine(t, 5.0, [1.0, 0.5, 0.2], [0.1, 0.2, 0.3], f)
    r[t < 0.4] += 100.0 * np.exp(-t[t < 0.4] / 0.05)  # a big transient
    ds = harmonics(r, freq=f, dt=dt, t_start=0.4)
    # 3.3 s left = 6.6 periods: trimmed to 6 periods = 3000 samples, exact
    assert ds.n_periods.item() == 6
    assert ds.window_stop.item() == pytest.approx(3.4, abs=1e-12)
    assert ds.r0.item() == pytest.approx(5.0, abs=EXACT)
    np.testing.assert_allclose(ds.amplitude.values, [1.0, 0.5, 0.2], rtol=0, atol=EXACT)


def test_non_integer_samples_per_period_error_is_of_order_dt_over_window():
    dt, f = 1e-3, 3.3  # 303.03... samples per period
    t = np.arange(9900) * dt  # 32.67 periods
    r = multi_sine(t, 2.0, [1.0, 0.0, 0.0], [0.7, 0.0, 0.0], f)
    ds = harmonics(r, freq=f, dt=dt)
    window = ds.window_stop.item() - ds.window_start.item()
    # 32 periods = 9696.97 samples -> 9697 used: the window overshoots by 0.03 samples
    assert ds.n_periods.item() == 32 and window == pytest.approx(9.697, abs=1e-9)
    bound = dt / window  # documented O(dt / T_window) for an amplitude-1 signal: ~1e-4
    assert abs(ds.amplitude.sel(harmonic=1).item() - 1.0) < bound
    assert abs(ds.r0.item() - 2.0) < bound
    assert abs(ds.phase.sel(harmonic=1).item() - 0.7) < bound


def test_short_window_is_refused_with_lengths_in_message():
    dt, f = 1e-3, 2.0
    r = np.ones(1400)  # 1.4 s = 2.8 periods of 0.5 s
    with pytest.raises(ValueError, match=r"1\.4 s .* 2\.8 periods of 0\.5 s .*min_periods = 3"):
        harmonics(r, freq=f, dt=dt)
    assert harmonics(r, freq=f, dt=dt, min_periods=2).n_periods.item() == 2


def test_harmonics_above_nyquist_are_refused():
    with pytest.raises(ValueError, match="Nyquist"):
        harmonics(np.ones(1000), freq=100.0, dt=2e-3, n_harmonics=3)  # 300 Hz >= 250 Hz


def test_non_uniform_time_is_refused():
    t = np.sort(np.random.default_rng(0).uniform(0, 1, 500))
    rate = xr.DataArray(np.ones(500), dims=["time"], coords={"time": t})
    with pytest.raises(ValueError, match="uniformly sampled"):
        harmonics(rate, freq=5.0)


# --------------------------------------------------------------------------------------------
# Phase convention
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [-3.0, -1.0, 0.0, 0.5, 2.0, 3.1])
def test_pure_sine_gives_its_phase(p):
    dt, f = 1e-3, 8.0  # 125 samples per period
    t = np.arange(1000) * dt
    ds = harmonics(2.5 * np.sin(TWO_PI * f * t + p), freq=f, dt=dt, n_harmonics=1)
    assert ds.amplitude.item() == pytest.approx(2.5, abs=EXACT)
    assert ds.phase.item() == pytest.approx(p, abs=EXACT)


def test_a_lag_gives_a_negative_phase():
    dt, f, delay = 1e-3, 5.0, 0.02  # 20 ms lag at 5 Hz: -0.2 pi
    t = np.arange(2000) * dt
    ds = harmonics(np.sin(TWO_PI * f * (t - delay)), freq=f, dt=dt, n_harmonics=1)
    assert ds.phase.item() == pytest.approx(-TWO_PI * f * delay, abs=EXACT)
    assert ds.phase.item() < 0


def test_rectified_sinusoid_closed_form_and_aliasing():
    """max(sin x, 0) = 1/pi + (1/2) sin x - (2/pi) sum_{m=2,4,..} cos(m x) / (m^2 - 1).

    So r0 = 1/pi, A_1 = 1/2 (phase 0) and, since -cos(2x) = sin(2x - pi/2), A_2 = 2/(3 pi)
    with phase -pi/2; odd harmonics above the first vanish (A_3 = 0).

    Not band-limited: with P samples per period (P even) harmonic m aliases into k when
    m = qP +- k. Odd m only alias into odd k, so A_1 and A_3 stay exact. Into r0 and k = 2 the
    even harmonics alias; summing the series over all aliases with
    sum_{q in Z} 1 / (qP + b) = (pi/P) cot(pi b/P) gives the exact sampled values
        r0_hat = cot(pi/P) / P,   A2_hat = (cot(pi/P) - cot(3 pi/P)) / P,
    (phase stays -pi/2): errors vs the continuous values ~ (pi^2/3) / (pi P^2) ~ 1e-6 for P = 1000.
    """
    P, f, m = 1000, 1.0, 3
    dt = 1 / (P * f)
    t = np.arange(P * m) * dt
    ds = harmonics(np.maximum(np.sin(TWO_PI * f * t), 0.0), freq=f, dt=dt)
    r0, (a1, a2, a3), (p1, p2, _) = ds.r0.item(), ds.amplitude.values, ds.phase.values
    x = np.pi / P
    # exact sampled (aliased) values: round-off only
    assert r0 == pytest.approx(1 / (np.tan(x) * P), abs=EXACT)
    assert a2 == pytest.approx((1 / np.tan(x) - 1 / np.tan(3 * x)) / P, abs=EXACT)
    assert a1 == pytest.approx(0.5, abs=EXACT)
    assert a3 < EXACT
    assert p1 == pytest.approx(0.0, abs=EXACT)
    assert p2 == pytest.approx(-np.pi / 2, abs=EXACT / a2)
    # continuous closed form: aliasing error bounded by 2 (2/pi) sum_q 1/(qP)^2 ~ 2.1 / P^2
    alias = 2.2 / P**2
    assert r0 == pytest.approx(1 / np.pi, abs=alias)
    assert a2 == pytest.approx(2 / (3 * np.pi), abs=alias)
    assert abs(r0 - 1 / np.pi) > 0.1 / P**2  # the aliasing is really there (~1e-6 = 1.05/P^2)


# --------------------------------------------------------------------------------------------
# spike_harmonics
# --------------------------------------------------------------------------------------------

R0, A1, P1, A2, P2, FREQ = 20.0, 10.0, 1.0, 4.0, -2.5, 5.0


def model_rate(t):
    return R0 + A1 * np.sin(TWO_PI * FREQ * t + P1) + A2 * np.sin(2 * TWO_PI * FREQ * t + P2)


def poisson_spikes(rng, n_neurons, t_stop, rate=model_rate, rate_max=R0 + A1 + A2):
    """Pooled inhomogeneous Poisson train of n_neurons (thinning); times and neuron ids."""
    n = rng.poisson(n_neurons * rate_max * t_stop)
    t = rng.uniform(0.0, t_stop, n)
    keep = rng.uniform(0.0, rate_max, n) < rate(t)
    t = t[keep]
    return t, rng.integers(0, n_neurons, t.size)


def z_scores(ds, se_suffix="_se"):
    """(estimate - truth) / se for r0, A_1, phase_1, A_2, phase_2."""
    amp, ph = ds.amplitude.values, ds.phase.values
    sa, sp = ds["amplitude" + se_suffix].values, ds["phase" + se_suffix].values
    return np.array([
        (ds.r0.item() - R0) / ds["r0" + se_suffix].item(),
        (amp[0] - A1) / sa[0], wrap_phase(ph[0] - P1) / sp[0],
        (amp[1] - A2) / sa[1], wrap_phase(ph[1] - P2) / sp[1],
    ])


def test_spike_harmonics_recovers_poisson_rate_within_its_errors():
    rng = np.random.default_rng(20240611)
    t, i = poisson_spikes(rng, 100, 21.0)
    ds = spike_harmonics(t, i, freq=FREQ, t_start=0.5, t_stop=20.7, n_neurons=100)
    assert ds.n_periods.item() == 101  # 20.2 s = 101 periods of 0.2 s
    assert ds.window_stop.item() == pytest.approx(20.7, abs=1e-12)
    # shot-noise formula: var A_1 = (2/(N T))^2 sum_s sin^2(x_s), x = 2 pi f t + P1, whose
    # mean is N T <lambda sin^2 x> = N T (R0/2 - (A2/4) sin(P2 - 2 P1)) (the A1 term averages
    # out; sin^2 x = (1 - cos 2x)/2 meets the 2nd harmonic). The sum over ~4e4 spikes
    # scatters by ~0.4 %: 2 % is 5 sigma.
    n_t = 100 * 20.2
    expected = np.sqrt(4 / n_t * (R0 / 2 - A2 / 4 * np.sin(P2 - 2 * P1)))
    assert ds.amplitude_se_shot.values[0] == pytest.approx(expected, rel=0.02)
    # fixed seed: |z| < 4 has two-sided probability 6e-5 per Gaussian deviate
    assert np.all(np.abs(z_scores(ds, "_se_shot")) < 4)
    # block z-scores are Student-t with 9 dof: |t| > 6 has probability ~2e-4
    assert np.all(np.abs(z_scores(ds, "_se")) < 6)
    assert_schema(ds)


def test_spike_standard_errors_are_calibrated_over_seeds():
    """z-scores of r0, A_1, phase_1, A_2, phase_2 over 100 seeds should have unit spread.

    (Over 1000 seeds the spreads are 0.98-1.03 for the shot-noise SE and 1.00-1.06 for the
    block SE, which is Student-t with 49 dof: expected 1.02.)
    """
    n_neurons, t_stop = 50, 20.0
    zs_shot, zs_block, se_ratio = [], [], []
    for seed in range(100):
        t, i = poisson_spikes(np.random.default_rng(seed), n_neurons, t_stop)
        ds = spike_harmonics(t, i, freq=FREQ, t_start=0.0, t_stop=t_stop,
                             n_neurons=n_neurons, n_blocks=50)
        zs_shot.append(z_scores(ds, "_se_shot"))
        zs_block.append(z_scores(ds, "_se"))
        se_ratio.append(ds.amplitude_se.values[:2] ** 2 / ds.amplitude_se_shot.values[:2] ** 2)
    zs_shot, zs_block = np.array(zs_shot), np.array(zs_block)
    # pooled over the 5 (nearly independent) quantities: the std of 500 unit normals is
    # 1 +- 0.032, so [0.88, 1.15] is > 3.5 sigma either side (block: t_49, std 1.02)
    for zs in (zs_shot, zs_block):
        assert 0.88 < zs.std() < 1.15, zs.std(axis=0)
        # per quantity: std of 100 unit normals is 1 +- 0.07: [0.75, 1.3] is ~3.5 sigma
        assert np.all((zs.std(axis=0) > 0.75) & (zs.std(axis=0) < 1.3)), zs.std(axis=0)
    # and no bias: mean z of 100 draws is 0 +- 0.1; 0.4 is 4 sigma
    assert np.all(np.abs(zs_shot.mean(axis=0)) < 0.4)
    # mean block variance / shot variance: 100 seeds x 49 dof, relative scatter ~0.02
    assert np.mean(se_ratio) == pytest.approx(1.0, abs=0.08)


def test_shot_and_block_errors_agree_for_poisson():
    rng = np.random.default_rng(7)
    t, i = poisson_spikes(rng, 100, 20.0)
    ds = spike_harmonics(t, i, freq=FREQ, t_start=0.0, t_stop=20.0, n_neurons=100,
                         n_blocks=100)
    # 100 blocks: the block SE has relative scatter 1/sqrt(2 * 99) = 7 %, so 25 % is 3.5 sigma
    for name in ["r0", "amplitude", "phase"]:
        block = np.atleast_1d(ds[f"{name}_se"].values)[:2]
        shot = np.atleast_1d(ds[f"{name}_se_shot"].values)[:2]
        np.testing.assert_allclose(block, shot, rtol=0.25)


def test_grouped_spike_harmonics_equals_separate_calls():
    rng = np.random.default_rng(3)
    group = rng.permutation(np.repeat([0, 1, 2], [30, 50, 20]))  # interleaved conditions
    freqs = np.array([5.0, 7.0, 11.0])
    t_start = np.array([0.0, 0.3, 1.0])
    t = rng.uniform(0, 10.0, 60000)
    i = rng.integers(0, group.size, t.size)
    ds = spike_harmonics(t, i, freq=freqs, t_start=t_start, t_stop=10.0, group=group)
    assert ds.r0.dims == ("condition",) and ds.amplitude.dims == ("condition", "harmonic")
    np.testing.assert_array_equal(ds.n_neurons.values, [30, 50, 20])
    for c in range(3):
        mine = group[i] == c
        single = spike_harmonics(t[mine], freq=freqs[c], t_start=t_start[c], t_stop=10.0,
                                 n_neurons=int(np.sum(group == c)))
        for name in single.data_vars:
            # same sums in the same order: equal to round-off
            np.testing.assert_allclose(ds[name].sel(condition=c).values, single[name].values,
                                       rtol=1e-12, err_msg=name)
        assert ds.n_periods.values[c] == single.n_periods.item()
    assert_schema(ds)


def test_spike_harmonics_refusals():
    t = np.array([0.1, 0.2])
    with pytest.raises(ValueError, match="holds 2 whole periods .* need at least 10"):
        spike_harmonics(t, freq=5.0, t_start=0.0, t_stop=0.5, n_neurons=1)
    assert spike_harmonics(t, freq=5.0, t_start=0.0, t_stop=0.5, n_neurons=1,
                           n_blocks=None).n_spikes.item() == 2
    with pytest.raises(ValueError, match="disagrees"):
        spike_harmonics(t, [0, 1], freq=5.0, t_start=0, t_stop=5, group=[0, 1], n_neurons=2)
    with pytest.raises(ValueError, match="spike_neuron"):
        spike_harmonics(t, [0, 5], freq=5.0, t_start=0, t_stop=5, n_neurons=2)


# --------------------------------------------------------------------------------------------
# transfer_function
# --------------------------------------------------------------------------------------------

DT = 1e-3
TAU = 0.02


def lowpass(x):
    """Exact discrete map of tau dy/dt = -y + x for x held over each step (zero-order hold)."""
    a = np.exp(-DT / TAU)
    return signal.lfilter([0.0, 1.0 - a], [1.0, -a], x, axis=-1)


def lowpass_response(freq):
    """Its exact frequency response: (1-a) e^{-iw dt} / (1 - a e^{-iw dt}) ~ 1/(1 + i w tau)."""
    a = np.exp(-DT / TAU)
    e = np.exp(-1j * TWO_PI * freq * DT)
    return (1 - a) * e / (1 - a * e)


def check_against(tf, h_true):
    """z-scores of gain and phase over the band where coherence > 0.5."""
    band = tf.coherence.values > 0.5
    zg = (tf.gain.values - np.abs(h_true)) / tf.gain_se.values
    zp = wrap_phase(tf.phase.values - np.angle(h_true)) / tf.phase_se.values
    zg, zp = zg[..., band], zp[..., band]
    # Bonferroni: all of the 2 n_bins z-scores stay below z_max with probability >= 99.9 %
    # (z_max ~ 4.6-4.9 for 150-500 bins)
    z_max = stats.norm.isf(1e-3 / (2 * 2 * band.sum()))
    assert np.abs(zg).max() < z_max and np.abs(zp).max() < z_max
    # calibration: std of >= 140 (partly correlated) z-scores is 1 +- ~0.1
    assert 0.8 < zg.std() < 1.25 and 0.8 < zp.std() < 1.25
    return band


def test_transfer_function_recovers_low_pass_within_coherence_errors():
    rng = np.random.default_rng(11)
    x = rng.standard_normal(2**18)
    y = lowpass(x) + 0.1 * rng.standard_normal(x.size)  # output noise: coherence 0.99 -> 0.05
    # segments of 2.048 s >> tau: the leakage bias of H1, ~0.3 tau / (nperseg dt) = 0.3 %
    # (measured noise-free), stays below the random error (~0.5 % where coherence ~ 0.99)
    tf = transfer_function(x, y, dt=DT, nperseg=2048)
    assert tf.attrs["n_segments"] == 255
    # Hann, 50 % overlap: rho(1) = 1/6, K_eff = K / (1 + 2 (1 - 1/K) / 36) ~ 0.947 K
    assert tf.attrs["n_segments_effective"] == pytest.approx(255 / (1 + 2 * (254 / 255) / 36),
                                                             rel=1e-3)
    band = check_against(tf, lowpass_response(tf.freq.values))
    assert band.sum() > 140  # the test covers 0.5 - ~80 Hz (|H| = noise level at 80 Hz)
    # far below the corner the continuous-time response 1/(1 + i w tau) is reached
    low = tf.sel(freq=slice(0, 2.0))
    h = 1 / (1 + 1j * TWO_PI * low.freq.values * TAU)
    np.testing.assert_allclose(low.gain.values, np.abs(h), atol=0.02)  # ~4 se, 2 % of 1
    assert np.all(tf.phase.values[band] < 0)  # a low-pass lags
    assert_schema(tf)


def test_transfer_function_of_a_delay_has_negative_phase():
    rng = np.random.default_rng(12)
    delay = 5  # samples
    noise = rng.standard_normal(2**17 + delay)
    x, y = noise[delay:], noise[:-delay] + 0.5 * rng.standard_normal(2**17)  # y_n = x_{n-5}
    tf = transfer_function(x, y, dt=DT, nperseg=1024)
    h = np.exp(-1j * TWO_PI * tf.freq.values * delay * DT)
    check_against(tf, h)
    # the sign: negative wherever the true lag exceeds 5 se (the lowest bins are within noise
    # of zero) and before the phase wraps at -pi (f = 100 Hz): ~90 bins of 0.98 Hz
    lag = -np.angle(h)
    clear = (lag > 5 * tf.phase_se.values) & (tf.freq.values < 0.9 / (2 * delay * DT))
    assert clear.sum() > 80 and np.all(tf.phase.values[clear] < 0)
    # the delay from the slope of the unwrapped phase: se of the fit ~0.2 %, allow 1 %
    band = tf.freq.values < 400
    slope = np.polyfit(tf.freq.values[band], np.unwrap(tf.phase.values[band]), 1)[0]
    assert -slope / TWO_PI == pytest.approx(delay * DT, rel=0.01)


def test_transfer_function_averages_over_neurons():
    rng = np.random.default_rng(13)
    n_neurons, n = 8, 2**17
    x = xr.DataArray(rng.standard_normal(n), dims=["time"], attrs={"units": "V"},
                     coords={"time": np.arange(n) * DT})
    y = xr.DataArray(lowpass(np.broadcast_to(x.values, (n_neurons, n)))
                     + 0.2 * rng.standard_normal((n_neurons, n)),
                     dims=["neuron", "time"], coords={"time": x.time}, attrs={"units": "Hz"})
    # 8 neurons x 63 segments: random error ~0.6 %; 4.1 s segments keep the leakage bias
    # (~0.3 tau / 4.1 s = 0.15 %) well below it
    per_unit = transfer_function(x, y, nperseg=4096)
    assert per_unit.gain.dims == ("neuron", "freq")
    pooled = transfer_function(x, y, nperseg=4096, average_over=["neuron"])
    assert pooled.gain.dims == ("freq",) and pooled.attrs["n_averaged"] == n_neurons
    assert pooled.gain.attrs["units"] == "Hz/V"
    check_against(pooled, lowpass_response(pooled.freq.values))
    # pooled errors are ~sqrt(8) smaller than one neuron's (coherence alike): within 15 %
    ratio = per_unit.gain_se.mean("neuron") / pooled.gain_se
    band = pooled.coherence > 0.5
    assert float(ratio.where(band).mean()) == pytest.approx(np.sqrt(n_neurons), rel=0.15)


# --------------------------------------------------------------------------------------------
# spike_transfer_function
# --------------------------------------------------------------------------------------------

def binned_poisson(rng, lam, n_neurons, dt, t0=0.0):
    """Spikes of a population whose per-neuron rate is lam[n] on bin [t0 + n dt, t0 + (n+1) dt)."""
    counts = rng.poisson(n_neurons * lam * dt)
    bins = np.repeat(np.arange(lam.size), counts)
    return t0 + (bins + rng.uniform(0, 1, bins.size)) * dt


def test_spike_transfer_function_gain_and_delay():
    rng = np.random.default_rng(21)
    n, delay, gain, n_neurons = 2**17, 3, 40.0, 100
    s = rng.uniform(-1, 1, n)
    lam = 50.0 + gain * np.concatenate([np.zeros(delay), s[:-delay]])  # 10..90 Hz, lagged 3 ms
    t = binned_poisson(rng, lam, n_neurons, DT, t0=2.0)
    tf = spike_transfer_function(s, t, dt=DT, t0=2.0, t_start=2.5, n_neurons=n_neurons,
                                 nperseg=512)
    h = gain * np.exp(-1j * TWO_PI * tf.freq.values * delay * DT)
    # signal var 40^2/3 = 533 Hz^2 vs shot noise 50 / (N dt) = 500 Hz^2: coherence ~0.5
    band = tf.coherence.values > 0.3
    zg = (tf.gain.values - np.abs(h)) / tf.gain_se.values
    zp = wrap_phase(tf.phase.values - np.angle(h)) / tf.phase_se.values
    # Bonferroni over 2 x ~250 bins, 99.9 % family-wise: z_max ~ 4.7
    z_max = stats.norm.isf(1e-3 / (2 * 2 * band.sum()))
    assert band.sum() > 200 and np.abs(zg[band]).max() < z_max
    assert np.abs(zp[band]).max() < z_max
    assert tf.gain.attrs["units"] == "Hz" and tf.attrs["t_start"] == pytest.approx(2.5)


def test_grouped_spike_transfer_function_equals_separate_calls():
    rng = np.random.default_rng(22)
    n, n_neurons = 2**14, np.array([40, 60])
    group = np.repeat([0, 1], n_neurons)
    s = rng.uniform(-1, 1, n)
    t_all, i_all = [], []
    for c, g in enumerate([20.0, 30.0]):
        t = binned_poisson(rng, 50.0 + g * s, n_neurons[c], DT)
        t_all.append(t)
        i_all.append(rng.choice(np.flatnonzero(group == c), t.size))
    t, i = np.concatenate(t_all), np.concatenate(i_all)
    ds = spike_transfer_function(s, t, i, dt=DT, t_start=0.1, group=group, nperseg=256)
    assert ds.gain.dims == ("condition", "freq")
    assert_schema(ds)
    for c in range(2):
        single = spike_transfer_function(s, t_all[c], dt=DT, t_start=0.1,
                                         n_neurons=int(n_neurons[c]), nperseg=256)
        for name in ["gain", "phase", "coherence", "gain_se"]:
            # identical binned rates and spectra: round-off only
            np.testing.assert_allclose(ds[name].sel(condition=c).values, single[name].values,
                                       rtol=1e-10, err_msg=name)
