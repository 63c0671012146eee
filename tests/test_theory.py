"""Tests of neurorect.theory: closed forms against independent quadrature and simulation.

Tolerances are absolute unless stated; each says why it has its size. "Rounding" means the
closed form is exact in real arithmetic, so only float64 rounding (~1e-16 relative, times a
few dozen operations) separates it from the reference.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import IntegrationWarning, solve_ivp
from scipy.integrate import quad as _quad

from neurorect.errors import ModelError
from neurorect.theory import (
    fixed_point,
    gaussian_gain,
    gaussian_mean_rate,
    linear_response,
    lowpass,
    network_susceptibility,
    sinusoid_response,
)
from neurorect.transfer import (
    ELU,
    GELU,
    LeakyReLU,
    LIFTransfer,
    PowerLaw,
    ReLU,
    Sigmoid,
    Softplus,
)

TWO_PI = 2.0 * math.pi


def quad(*args, **kwargs):
    """scipy's quad without its round-off warnings: they fire where an integral vanishes and
    the relative target is unreachable, while the absolute error stays ~1e-14 (the
    assertions, not the warnings, are the check)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        return _quad(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# independent references
# --------------------------------------------------------------------------------------------

def leaky_kinks(tr: LeakyReLU) -> list[float]:
    """Every input where the clipped leaky ReLU may bend (a superset: extras are harmless)."""
    points = [tr.threshold]
    for bound in (tr.rate_min, tr.rate_max):
        if math.isfinite(bound):
            points.append(tr.threshold + (bound - tr.baseline) / tr.gain)
            if tr.alpha > 0:
                points.append(tr.threshold + (bound - tr.baseline) / (tr.gain * tr.alpha))
    return points


def fourier_reference(phi, I0, I1, n_harmonics, kinks):
    """r0 and complex A_k exp(i phase_k) of phi(I0 + I1 sin theta), straight from the definition.

    r = r0 + sum_k a_k cos(k theta) + b_k sin(k theta) and A sin(k theta + p) =
    A sin(p) cos(k theta) + A cos(p) sin(k theta), so A exp(i p) = b_k + i a_k. Adaptive
    quadrature over [0, 2 pi], split where the drive crosses a kink (the integrand is smooth
    between those angles).
    """
    points = {0.5 * math.pi, 1.5 * math.pi}
    for kink in kinks:
        if I1 > 0 and abs((kink - I0) / I1) < 1:
            a = math.asin((kink - I0) / I1)
            points |= {a % TWO_PI, (math.pi - a) % TWO_PI}
    points = sorted(p for p in points if 0 < p < TWO_PI)
    kw = dict(points=points, epsabs=1e-13, epsrel=1e-12, limit=400)

    def f(theta):
        return float(phi(I0 + I1 * math.sin(theta)))

    r0 = quad(f, 0, TWO_PI, **kw)[0] / TWO_PI
    z = []
    for k in range(1, n_harmonics + 1):
        a = quad(lambda t, k=k: f(t) * math.cos(k * t), 0, TWO_PI, **kw)[0] / math.pi
        b = quad(lambda t, k=k: f(t) * math.sin(k * t), 0, TWO_PI, **kw)[0] / math.pi
        z.append(b + 1j * a)
    return r0, np.array(z)


def gaussian_reference(func, mu, s, kinks):
    """E[func(x)], x ~ N(mu, s^2), by adaptive quadrature on mu +- 40 s split at the kinks."""
    def integrand(x):
        return float(func(x)) * math.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(TWO_PI))

    lo, hi = mu - 40 * s, mu + 40 * s
    points = sorted(k for k in kinks if lo < k < hi) or None
    return quad(integrand, lo, hi, points=points, epsabs=1e-13, epsrel=1e-12, limit=400)[0]


def complex_harmonics(ds) -> np.ndarray:
    return (ds.amplitude * np.exp(1j * ds.phase)).values


def project(t, r, freq, n_harmonics):
    """r0 and A_k exp(i phase_k) of a sampled periodic trace covering whole periods exactly."""
    dt, span = t[1] - t[0], t[-1] - t[0]  # t spans whole periods; t[:-1] samples them once
    r, t = r[:-1], t[:-1]
    r0 = np.sum(r) * dt / span
    z = [2 * np.sum(r * np.exp(-1j * TWO_PI * k * freq * t)) * dt / span * 1j
         for k in range(1, n_harmonics + 1)]
    return r0, np.array(z)


# --------------------------------------------------------------------------------------------
# sinusoid_response: closed form
# --------------------------------------------------------------------------------------------

LEAKY_CASES = {
    "relu": LeakyReLU(),
    "leaky": LeakyReLU(2.0, 0.3, 0.1),
    "clipped-both": LeakyReLU(1.5, -0.2, 0.4, rate_min=-0.1, rate_max=1.2, baseline=0.3),
    "clip-at-baseline": LeakyReLU(1.0, 0.0, 0.0, rate_min=0.0),
    "rate_min-above-baseline": LeakyReLU(3.0, 0.5, 0.0, rate_min=0.5, rate_max=2.0,
                                         baseline=0.2),
    "baseline-above-rate_max": LeakyReLU(1.0, 0.1, 0.5, rate_max=0.0, baseline=0.4),
    "constant": LeakyReLU(1.0, 0.1, 0.0, rate_max=0.3, baseline=0.4),
    "linear-clipped": LeakyReLU(0.7, 0.2, 1.0, rate_min=-0.5, rate_max=0.5),
    "negative-baseline": LeakyReLU(2.0, 0.0, 0.25, rate_min=-1.2, baseline=-1.0),
}


def drives_for(tr: LeakyReLU) -> list[tuple[float, float]]:
    """Generic drives plus, for every kink, drives whose extremes sit exactly on it."""
    drives = [(0.0, 1.0), (0.3, 0.5), (-3.0, 0.5), (3.0, 0.5), (0.25, 0.05), (0.1, 4.0)]
    for kink in leaky_kinks(tr):
        drives += [(kink - 0.4, 0.4), (kink + 0.4, 0.4), (kink, 0.7)]
    return drives


@pytest.mark.parametrize("name", list(LEAKY_CASES))
def test_closed_form_matches_quadrature(name):
    tr = LEAKY_CASES[name]
    drives = drives_for(tr)
    I0 = xr.DataArray([d[0] for d in drives], dims=["case"])
    I1 = xr.DataArray([d[1] for d in drives], dims=["case"])
    ds = sinusoid_response(tr, I0, I1, 7.0, n_harmonics=4)
    assert ds.r0.dims == ("freq", "case")
    z_mine = complex_harmonics(ds)[0]
    for i, (i0, i1) in enumerate(drives):
        r0, z = fourier_reference(tr, i0, i1, 4, leaky_kinks(tr))
        # closed form is exact to rounding; quad on smooth pieces is good to ~1e-14, so
        # 1e-10 is a margin of four orders that still catches any wrong term (>= 1e-3 here)
        assert abs(ds.r0.values[0, i] - r0) <= 1e-10
        np.testing.assert_allclose(z_mine[i], z, rtol=0, atol=1e-10)
        assert abs(ds.gain.values[0, i] - abs(z[0]) / i1) <= 1e-10 / i1
        big = np.abs(z) > 1e-3
        # phase error ~ |dZ| / A <= 1e-10 / 1e-3
        dphase = np.angle(np.exp(1j * (ds.phase.values[0, i] - np.angle(z))))
        assert np.all(np.abs(dphase[big]) <= 1e-7)


def test_half_wave_rectified_sine():
    # max(sin t, 0) = 1/pi + sin(t)/2 - (2/pi) sum_n cos(2 n t) / (4 n^2 - 1). The n = 1 term
    # is -(2/(3 pi)) cos(2t) = (2/(3 pi)) sin(2t - pi/2) because sin(x - pi/2) = -cos(x):
    # A_2 = 2/(3 pi), phase_2 = -pi/2; likewise A_4 = 2/(15 pi), phase_4 = -pi/2; odd k >= 3
    # vanish.
    ds = sinusoid_response(ReLU(), 0.0, 1.0, 3.0, n_harmonics=5).isel(freq=0)
    amp, phase = ds.amplitude.values, ds.phase.values
    tol = 1e-14  # rounding of O(1) numbers
    assert abs(ds.r0 - 1 / math.pi) <= tol
    assert abs(amp[0] - 0.5) <= tol and abs(phase[0]) <= tol
    assert abs(amp[1] - 2 / (3 * math.pi)) <= tol and abs(phase[1] + math.pi / 2) <= tol
    assert abs(amp[3] - 2 / (15 * math.pi)) <= tol and abs(phase[3] + math.pi / 2) <= tol
    assert amp[2] == 0.0 and amp[4] == 0.0  # exact zeros are reported as 0
    assert abs(ds.gain - 0.5) <= tol


@pytest.mark.parametrize("gain,threshold,baseline", [(1.0, 0.0, 0.0), (2.5, 0.3, -0.7)])
def test_linear_transfer_is_linear(gain, threshold, baseline):
    tr = LeakyReLU(gain, threshold, 1.0, baseline=baseline)
    ds = sinusoid_response(tr, 0.4, 0.9, [1.0, 10.0], n_harmonics=4)
    tol = 1e-13  # rounding of O(1) numbers
    np.testing.assert_allclose(ds.r0, gain * (0.4 - threshold) + baseline, rtol=0, atol=tol)
    np.testing.assert_allclose(ds.amplitude.sel(harmonic=1), gain * 0.9, rtol=0, atol=tol)
    np.testing.assert_allclose(ds.phase.sel(harmonic=1), 0.0, rtol=0, atol=tol)
    assert np.all(ds.amplitude.sel(harmonic=[2, 3, 4]).values == 0.0)
    np.testing.assert_allclose(ds.gain, gain, rtol=0, atol=tol)


def test_below_threshold_leak_is_linear_with_slope_alpha():
    tr = LeakyReLU(2.0, 1.0, 0.3, baseline=0.5)
    ds = sinusoid_response(tr, 0.2, 0.5, 4.0).isel(freq=0)  # input in [-0.3, 0.7] < 1
    tol = 1e-14  # rounding
    assert abs(ds.r0 - (0.5 + 2.0 * 0.3 * (0.2 - 1.0))) <= tol
    assert abs(ds.amplitude.sel(harmonic=1) - 2.0 * 0.3 * 0.5) <= tol
    assert abs(ds.gain - 0.6) <= tol
    assert np.all(ds.amplitude.sel(harmonic=[2, 3]).values == 0.0)
    relu = sinusoid_response(ReLU(2.0, 1.0), 0.2, 0.5, 4.0)  # alpha = 0: dead neuron
    assert np.all(relu.amplitude.values == 0.0) and np.all(relu.r0.values == 0.0)


def test_saturated_and_constant_transfers():
    tol = 1e-14  # rounding
    sat = sinusoid_response(LeakyReLU(1.0, 0.0, rate_max=2.0), 5.0, 1.0, 1.0)
    assert abs(sat.r0.item() - 2.0) <= tol and np.all(sat.amplitude.values == 0.0)
    const = sinusoid_response(LEAKY_CASES["constant"], 0.0, 3.0, 1.0)
    assert abs(const.r0.item() - 0.3) <= tol and np.all(const.amplitude.values == 0.0)


def test_zero_amplitude_limits():
    tr = LeakyReLU(2.0, 0.3, 0.25)
    at_kink = sinusoid_response(tr, 0.3, 0.0, 1.0).isel(freq=0)
    assert at_kink.r0.item() == 0.0 and np.all(at_kink.amplitude.values == 0.0)
    # gain at I1 = 0 is the limit I1 -> 0+: the mean of the two slopes at a kink
    assert abs(at_kink.gain.item() - 0.5 * (2.0 + 0.5)) <= 1e-15
    small = sinusoid_response(tr, 0.3, 1e-9, 1.0).isel(freq=0)
    assert abs(small.gain.item() - at_kink.gain.item()) <= 1e-12  # exact for any I1 here
    off_kink = sinusoid_response(tr, 1.0, 0.0, 1.0)
    assert abs(off_kink.r0.item() - 1.4) <= 1e-15 and abs(off_kink.gain.item() - 2.0) <= 1e-15


# --------------------------------------------------------------------------------------------
# sinusoid_response: filters
# --------------------------------------------------------------------------------------------

def test_linear_unit_rate_and_voltage_forms_are_the_low_pass():
    tr = LeakyReLU(1.7, 0.2, 1.0)
    freq, tau = np.array([0.0, 1.0, 5.0, 20.0, 100.0]), 0.02
    wt = TWO_PI * freq * tau
    for form in ("rate", "voltage"):
        ds = sinusoid_response(tr, 0.5, 0.3, freq, tau=tau, form=form)
        tol = 1e-13  # rounding
        np.testing.assert_allclose(ds.gain, 1.7 / np.sqrt(1 + wt**2), rtol=0, atol=tol)
        np.testing.assert_allclose(ds.phase.sel(harmonic=1), -np.arctan(wt), rtol=0, atol=tol)
        np.testing.assert_allclose(ds.r0, 1.7 * 0.3, rtol=0, atol=tol)
        assert np.all(ds.amplitude.sel(harmonic=[2, 3]).values == 0.0)
    np.testing.assert_array_equal(lowpass(freq, tau), 1 / (1 + 1j * wt))


def test_filters_act_on_harmonics_as_documented():
    tr = LeakyReLU(1.5, 0.1, 0.2, rate_max=1.0)
    freq, tau, K = np.array([2.0, 15.0]), 0.01, 4
    static = sinusoid_response(tr, 0.2, 0.8, freq, n_harmonics=K)
    rate = sinusoid_response(tr, 0.2, 0.8, freq, tau=tau, form="rate", n_harmonics=K)
    k = np.arange(1, K + 1)
    h = lowpass(k[None, :] * freq[:, None], tau)
    tol = 1e-13  # rounding
    np.testing.assert_allclose(complex_harmonics(rate), complex_harmonics(static) * h,
                               rtol=0, atol=tol)
    np.testing.assert_allclose(rate.r0, static.r0, rtol=0, atol=tol)
    volt = sinusoid_response(tr, 0.2, 0.8, freq, tau=tau, form="voltage", n_harmonics=K)
    h1 = lowpass(freq, tau)
    for i in range(freq.size):
        low = sinusoid_response(tr, 0.2, 0.8 * abs(h1[i]), freq[i], n_harmonics=K)
        shift = np.exp(1j * k * np.angle(h1[i]))
        np.testing.assert_allclose(complex_harmonics(volt)[i], complex_harmonics(low)[0] * shift,
                                   rtol=0, atol=tol)
        assert abs(volt.r0.values[i] - low.r0.item()) <= tol


@pytest.mark.parametrize("form", ["rate", "voltage"])
def test_filtered_forms_against_ode(form):
    """Integrate the ODE itself and project the periodic orbit (checks every sign)."""
    tr = LeakyReLU(2.0, 0.1, 0.1, rate_max=1.5)
    I0, I1, f, tau = 0.2, 0.9, 8.0, 0.03

    def drive(t):
        return I0 + I1 * math.sin(TWO_PI * f * t)

    if form == "rate":
        rhs = lambda t, y: (-y + tr(drive(t))) / tau  # noqa: E731
    else:
        rhs = lambda t, y: (-y + drive(t)) / tau  # noqa: E731
    t_end = 30 * tau + 4 / f  # transient e^-30 ~ 1e-13, then four whole periods
    t_eval = np.linspace(t_end - 4 / f, t_end, 8001)
    sol = solve_ivp(rhs, (0, t_end), [0.0], method="DOP853", t_eval=t_eval, rtol=1e-12,
                    atol=1e-14, max_step=1 / (200 * f))
    r = sol.y[0] if form == "rate" else tr(sol.y[0])
    r0, z = project(sol.t, r, f, 3)
    ds = sinusoid_response(tr, I0, I1, f, tau=tau, form=form).isel(freq=0)
    # The ODE is solved to ~1e-12; the projection (rectangle rule, h = 1/2000 period) of a
    # periodic trace is limited by its kinks: the voltage form's r = phi(v) has slope jumps
    # (error ~ jump * h^2 / 12 per kink, ~1e-7 here), the rate form's r only curvature
    # jumps (~h^3).
    tol = 1e-8 if form == "rate" else 1e-6
    assert abs(ds.r0.item() - r0) <= tol
    np.testing.assert_allclose(complex_harmonics(ds), z, rtol=0, atol=tol)


# --------------------------------------------------------------------------------------------
# sinusoid_response: vectorisation and schema
# --------------------------------------------------------------------------------------------

def grid_call(form="voltage"):
    tr = LeakyReLU(1.3, 0.2, 0.0, rate_max=1.1, baseline=0.05)
    freq, alpha = np.linspace(0.0, 60.0, 31), np.linspace(0.0, 1.0, 21)
    ds = sinusoid_response(tr, 0.1, 0.8, freq, tau=0.01, form=form, alpha=alpha)
    return tr, freq, alpha, ds


def test_grid_schema():
    _, freq, alpha, ds = grid_call()
    assert set(ds.data_vars) == {"r0", "amplitude", "phase", "gain"}
    assert ds.amplitude.dims == ("freq", "alpha", "harmonic")
    assert ds.r0.dims == ds.gain.dims == ("freq", "alpha")
    np.testing.assert_array_equal(ds.freq, freq)
    np.testing.assert_array_equal(ds.alpha, alpha)
    np.testing.assert_array_equal(ds.harmonic, [1, 2, 3])
    for name in ("I0", "I1", "tau"):
        assert ds[name].ndim == 0  # scalar arguments are kept as scalar coordinates
    for name, var in {**ds.data_vars, **ds.coords}.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name
    assert ds.freq.attrs["units"] == "Hz" and ds.phase.attrs["units"] == "rad"
    assert ds.attrs["form"] == "voltage" and "closed form" in ds.attrs["method"]
    assert np.all(ds.amplitude >= 0)
    assert np.all((ds.phase > -math.pi) & (ds.phase <= math.pi))


def _compare_cell(tr, ds, form, f, a):
    one = sinusoid_response(tr, 0.1, 0.8, f, tau=0.01, form=form, alpha=a).isel(freq=0)
    cell = ds.sel(freq=f, alpha=a)
    for var in ("r0", "amplitude", "gain"):
        # same formulas on the same numbers; only the broadcasting differs
        np.testing.assert_allclose(cell[var], one[var], rtol=0, atol=1e-15)
    np.testing.assert_allclose(complex_harmonics(cell), complex_harmonics(one), rtol=0,
                               atol=1e-15)


@pytest.mark.parametrize("form", ["rate", "voltage"])
def test_grid_equals_scalar_calls(form):
    """25 random cells of the 31 x 21 call (the full loop is the slow test below)."""
    tr, freq, alpha, ds = grid_call(form)
    rng = np.random.default_rng(1)
    for i, j in zip(rng.integers(0, 31, 25), rng.integers(0, 21, 25), strict=True):
        _compare_cell(tr, ds, form, freq[i], alpha[j])


@pytest.mark.slow
def test_grid_equals_every_scalar_call():
    """The 31 x 21 voltage-form call equals all 651 scalar calls (5-10 s)."""
    tr, freq, alpha, ds = grid_call("voltage")
    for f in freq:
        for a in alpha:
            _compare_cell(tr, ds, "voltage", f, a)


def test_broadcast_over_I0_I1_tau_and_dataarrays():
    tr = LeakyReLU(1.0, 0.0, 0.1)
    ds = sinusoid_response(tr, [0.0, 0.5], [0.2, 0.4, 0.6], [1.0, 2.0], tau=[0.01, 0.02],
                           form="rate")
    assert ds.amplitude.dims == ("freq", "I0", "I1", "tau", "harmonic")
    one = sinusoid_response(tr, 0.5, 0.4, 2.0, tau=0.02, form="rate")
    np.testing.assert_allclose(ds.amplitude.sel(I0=0.5, I1=0.4, freq=2.0, tau=0.02),
                               one.amplitude.isel(freq=0), rtol=0, atol=1e-15)  # rounding
    zipped = sinusoid_response(tr, xr.DataArray([0.0, 0.5], dims="point"),
                               xr.DataArray([0.2, 0.4], dims="point"), 1.0)
    assert zipped.r0.dims == ("freq", "point")
    scalar_da = sinusoid_response(tr, 0.0, 1.0, xr.DataArray(2.0))
    assert scalar_da.r0.dims == ("freq",) and scalar_da.freq.item() == 2.0


def test_sinusoid_response_rejects_bad_arguments():
    tr = LeakyReLU()
    with pytest.raises(ModelError, match="I1"):
        sinusoid_response(tr, 0.0, -1.0, 1.0)
    with pytest.raises(ModelError, match="tau"):
        sinusoid_response(tr, 0.0, 1.0, 1.0, form="rate")
    with pytest.raises(ModelError, match="tau"):
        sinusoid_response(tr, 0.0, 1.0, 1.0, tau=0.01)
    with pytest.raises(ModelError, match="alpha"):
        sinusoid_response(tr, 0.0, 1.0, 1.0, alpha=[0.5, 1.5])
    with pytest.raises(ModelError, match="rate_max"):  # the coupled constraint, broadcast
        sinusoid_response(tr, 0.0, 1.0, 1.0, rate_min=[0.0, 2.0], rate_max=1.0)
    with pytest.raises(ModelError, match="slope"):
        sinusoid_response(Sigmoid(), 0.0, 1.0, 1.0, slope=[1.0, -1.0])
    with pytest.raises(ModelError, match="sharpness"):
        sinusoid_response(tr, 0.0, 1.0, 1.0, sharpness=2.0)
    with pytest.raises(ModelError, match="form"):
        sinusoid_response(tr, 0.0, 1.0, 1.0, form="static!")
    with pytest.raises(ModelError, match="n_harmonics"):
        sinusoid_response(tr, 0.0, 1.0, 1.0, n_harmonics=0)
    with pytest.raises(ModelError, match="I0"):
        sinusoid_response(tr, np.zeros((2, 2)), 1.0, 1.0)


# --------------------------------------------------------------------------------------------
# sinusoid_response: numerical fall-back for other transfers
# --------------------------------------------------------------------------------------------

SMOOTH_CASES = {
    "softplus": (Softplus(1.0, 0.1, 5.0), [0.1], 1e-10),
    "gelu": (GELU(2.0, 0.1), [0.1], 1e-10),
    "sigmoid": (Sigmoid(10.0, 0.2, 8.0), [0.2], 1e-10),
    "elu": (ELU(1.0, 0.1, 0.5), [0.1], 1e-10),
    "power-2": (PowerLaw(1.0, 0.1, 2.0), [0.1], 1e-10),
    "power-0.5": (PowerLaw(1.0, 0.1, 0.5), [0.1], 1e-10),
    # the LIF rate rises like 1/log at threshold; the adaptive reference itself only reaches
    # ~1e-10 there, on rates of up to ~500 Hz
    "lif": (LIFTransfer(), [0.02], 1e-8),
}


@pytest.mark.parametrize("name", list(SMOOTH_CASES))
def test_quadrature_fallback_matches_adaptive_quadrature(name):
    tr, kinks, tol = SMOOTH_CASES[name]
    drives = [(0.0, 1.0), (0.1, 0.3), (0.3, 0.1), (-0.5, 0.3), (0.021, 0.005), (0.1, 0.0)]
    I0 = xr.DataArray([d[0] for d in drives], dims=["case"])
    I1 = xr.DataArray([d[1] for d in drives], dims=["case"])
    ds = sinusoid_response(tr, I0, I1, 1.0, n_harmonics=4)
    assert ds.attrs["method"].startswith("numerical")
    z_mine = complex_harmonics(ds)[0]
    for i, (i0, i1) in enumerate(drives):
        r0, z = fourier_reference(tr, i0, i1, 4, kinks)
        assert abs(ds.r0.values[0, i] - r0) <= tol
        np.testing.assert_allclose(z_mine[i], z, rtol=0, atol=tol)


def test_fallback_accepts_parameter_arrays():
    tr = Softplus(1.0, 0.0, 2.0)
    ds = sinusoid_response(tr, 0.1, 0.5, 1.0, sharpness=[1.0, 4.0]).isel(freq=0)
    one = sinusoid_response(tr.replace(sharpness=4.0), 0.1, 0.5, 1.0).isel(freq=0)
    np.testing.assert_allclose(ds.amplitude.sel(sharpness=4.0), one.amplitude,
                               rtol=0, atol=1e-15)  # same numbers, different grouping
    assert ds.sharpness.attrs["units"] == "1/drive unit"


# --------------------------------------------------------------------------------------------
# Gaussian averages
# --------------------------------------------------------------------------------------------

GAUSS_POINTS = [(0.0, 1.0), (0.1, 0.3), (0.5, 0.05), (-1.0, 0.2), (0.3, 2.0)]


@pytest.mark.parametrize("name", list(LEAKY_CASES))
def test_gaussian_leaky_relu_matches_quadrature(name):
    tr = LEAKY_CASES[name]
    mu = np.array([p[0] for p in GAUSS_POINTS])
    s = np.array([p[1] for p in GAUSS_POINTS])
    rates, gains = gaussian_mean_rate(tr, mu, s), gaussian_gain(tr, mu, s)
    for i, (m, sd) in enumerate(GAUSS_POINTS):
        # exact normal CDF/PDF formulas vs adaptive quadrature on smooth pieces (~1e-14)
        assert abs(rates[i] - gaussian_reference(tr, m, sd, leaky_kinks(tr))) <= 1e-10
        assert abs(gains[i] - gaussian_reference(tr.derivative, m, sd, leaky_kinks(tr))) <= 1e-10


def test_gaussian_zero_noise_limit():
    tr = LeakyReLU(2.0, 0.3, 0.25, rate_max=1.0)
    mu = np.array([-1.0, 0.3, 0.5, 2.0])
    np.testing.assert_allclose(gaussian_mean_rate(tr, mu, 0.0), tr(mu), rtol=0, atol=1e-15)
    # mean slope at the kink (limit s -> 0), the plain slope elsewhere
    np.testing.assert_allclose(gaussian_gain(tr, mu, 0.0), [0.5, 1.25, 2.0, 0.0], rtol=0,
                               atol=1e-15)
    assert isinstance(gaussian_mean_rate(tr, 0.0, 1.0), float)
    with pytest.raises(ModelError, match="s"):
        gaussian_mean_rate(tr, 0.0, -1.0)


@pytest.mark.parametrize("name", [n for n in SMOOTH_CASES if n != "lif"])
def test_gaussian_quadrature_fallback(name):
    tr, kinks, _ = SMOOTH_CASES[name]
    for m, sd in GAUSS_POINTS:
        # fixed Gauss-Legendre rule vs adaptive quadrature, both ~1e-14 here
        assert abs(gaussian_mean_rate(tr, m, sd) - gaussian_reference(tr, m, sd, kinks)) <= 1e-10
        if name != "power-0.5":  # phi' is infinite at threshold: checked below
            ref = gaussian_reference(tr.derivative, m, sd, kinks)
            assert abs(gaussian_gain(tr, m, sd) - ref) <= 1e-10


@pytest.mark.parametrize("tr", [PowerLaw(1.0, 0.1, 0.5), LIFTransfer()])
def test_gaussian_gain_with_singular_slope_is_the_mean_rate_derivative(tr):
    for m, sd in [(0.0, 1.0), (0.1, 0.3), (0.021, 0.004)]:
        h = 1e-4 * sd
        fd = (gaussian_mean_rate(tr, m + h, sd) - gaussian_mean_rate(tr, m - h, sd)) / (2 * h)
        # central difference: truncation ~ (h/s)^2 = 1e-8 relative, rounding ~1e-12/1e-4
        assert abs(gaussian_gain(tr, m, sd) - fd) <= 1e-6 * max(1.0, abs(fd))


# --------------------------------------------------------------------------------------------
# fixed points
# --------------------------------------------------------------------------------------------

def test_single_linear_unit_fixed_point():
    tr = LeakyReLU(2.0, 0.5, 1.0)
    w, I0, tau = 0.3, 1.5, 0.02
    fp = fixed_point([[w]], I0, tr, tau=tau)
    expected = 2.0 * (I0 - 0.5) / (1 - 2.0 * w)
    assert abs(fp.rate[0] - expected) <= 1e-12 * expected  # Newton solves a linear system
    assert fp.unique_guaranteed and abs(fp.contraction_bound - 0.6) <= 1e-15
    assert fp.stable and abs(fp.max_real_eigenvalue - (-1 + 2.0 * w) / tau) <= 1e-10
    assert fp.converged and fp.residual <= 1e-12 and fp.silent_fraction == 0.0


def test_contracting_network_matches_long_iteration():
    rng = np.random.default_rng(3)
    n = 30
    W = rng.normal(0.0, 0.4 / math.sqrt(n), (n, n))  # ||W||_2 ~ 2 * 0.4
    I0 = rng.normal(0.2, 1.0, n)
    tr = LeakyReLU(1.0, 0.0, 0.1, rate_max=3.0)
    r = np.zeros(n)
    for _ in range(3000):  # contraction rate < 0.95 here: 0.95**3000 ~ 1e-67
        r = tr(W @ r + I0)
    for form in ("rate", "voltage"):
        fp = fixed_point(W, I0, tr, tau=0.01, form=form)
        assert fp.unique_guaranteed and fp.contraction_bound < 0.95
        np.testing.assert_allclose(fp.rate, r, rtol=0, atol=1e-12)  # both converged to tol
        assert fp.stable and fp.converged
        np.testing.assert_allclose(fp.input, W @ r + I0, rtol=0, atol=1e-12)
        assert fp.silent_fraction == np.mean(W @ r + I0 < 0.0)


def test_bistable_unit_reports_each_state():
    # r = 2 max(r + 0.5 - 1, 0) clipped at 10: silent r = 0 (stable), r = 1 (unstable,
    # 2 w = 2 > 1), saturated r = 10 (stable)
    tr, W, I0, tau = LeakyReLU(2.0, 1.0, 0.0, rate_max=10.0), [[1.0]], 0.5, 0.01
    silent = fixed_point(W, I0, tr, tau=tau)
    assert silent.rate[0] == 0.0 and silent.stable and silent.silent_fraction == 1.0
    assert abs(silent.max_real_eigenvalue + 1 / tau) <= 1e-9  # D = 0: eigenvalue -1/tau
    assert not silent.unique_guaranteed and silent.contraction_bound == 2.0
    high = fixed_point(W, I0, tr, tau=tau, r_init=[50.0])
    assert high.rate[0] == 10.0 and high.stable and high.silent_fraction == 0.0
    middle = fixed_point(W, I0, tr, tau=tau, r_init=[0.9], method="newton")
    assert abs(middle.rate[0] - 1.0) <= 1e-12 and not middle.stable
    assert abs(middle.max_real_eigenvalue - (2.0 - 1.0) / tau) <= 1e-9
    # without saturation the active state runs away; Newton then finds the unstable point
    runaway = fixed_point(W, I0, ReLU(2.0, 1.0), tau=tau, r_init=[2.0])
    assert abs(runaway.rate[0] - 1.0) <= 1e-12 and not runaway.stable and runaway.converged


def test_per_neuron_transfers_and_silent_fraction():
    transfers = [ReLU(1.0, 0.0), ReLU(1.0, 2.0), LeakyReLU(3.0, 0.0, 0.5), Softplus(1.0, 0.0)]
    I0 = np.array([1.0, 1.0, -1.0, 0.3])
    fp = fixed_point(np.zeros((4, 4)), I0, transfers, tau=0.01)
    np.testing.assert_allclose(fp.rate, [1.0, 0.0, -1.5, np.log1p(np.exp(0.3))], rtol=0,
                               atol=1e-15)  # no coupling: r = phi(I0), rounding
    assert fp.silent_fraction == 0.5  # neurons 1 and 2 are below threshold
    assert fp.contraction_bound == 0.0 and fp.unique_guaranteed
    ds = fp.to_dataset()
    assert ds.rate.dims == ("neuron",) and ds.rate.attrs["units"] == "Hz"
    for name, var in {**ds.data_vars, **ds.coords}.items():
        assert var.attrs.get("units") and var.attrs.get("long_name"), name
    with pytest.raises(ModelError, match="transfer"):
        fixed_point(np.zeros((4, 4)), I0, transfers[:3])


def test_heterogeneous_tau_stability_by_form():
    # T^-1 (W D - I) = D^-1 [T^-1 (D W - I)] D: the forms' spectra coincide
    W = np.array([[0.5, -1.2], [1.4, -0.3]])
    I0, tau = np.array([1.0, 0.8]), np.array([0.01, 0.05])
    trs = [LeakyReLU(1.0, 0.0, 0.2), LeakyReLU(0.5, 0.0, 0.2)]  # D not a multiple of I
    spectra = []
    for form in ("rate", "voltage"):
        fp = fixed_point(W, I0, trs, tau=tau, form=form)
        assert fp.slope.tolist() == [1.0, 0.5]
        D = np.diag(fp.slope)
        M = D @ W if form == "rate" else W @ D
        expected = np.linalg.eigvals((M - np.eye(2)) / tau[:, None])
        np.testing.assert_allclose(np.sort_complex(fp.eigenvalues), np.sort_complex(expected),
                                   rtol=1e-12)  # same 2x2 eigenproblem
        h = W @ fp.rate + I0
        phi_h = [trs[0](h[0]), trs[1](h[1])]
        np.testing.assert_allclose(fp.rate, phi_h, rtol=0, atol=1e-12)  # converged to tol
        spectra.append(np.sort_complex(fp.eigenvalues))
    np.testing.assert_allclose(spectra[0], spectra[1], rtol=1e-12)


# --------------------------------------------------------------------------------------------
# network linear response
# --------------------------------------------------------------------------------------------

def test_single_unit_linear_response_sine_convention():
    freq, tau = np.array([0.0, 3.0, 30.0, 300.0]), 0.015
    ds = linear_response([[0.0]], 0.5, LeakyReLU(2.0, 0.0, 0.3), freq, tau=tau)
    wt = TWO_PI * freq * tau
    tol = 1e-14  # rounding
    np.testing.assert_allclose(ds.gain[:, 0], 2.0 / np.sqrt(1 + wt**2), rtol=0, atol=tol)
    # tau dr/dt = -r + I lags its input: phase = -atan(2 pi f tau) < 0
    np.testing.assert_allclose(ds.phase[:, 0], -np.arctan(wt), rtol=0, atol=tol)
    # and it is the alpha = 1 sinusoid_response of the same unit
    sr = sinusoid_response(LeakyReLU(2.0, 0.0, 1.0), 0.5, 0.1, freq, tau=tau, form="rate")
    np.testing.assert_allclose(ds.gain[:, 0], sr.gain, rtol=0, atol=tol)


EI_W = np.array([[1.2, -1.0], [1.0, -0.5]])
EI_I0 = np.array([1.0, 0.5])
EI_TRANSFER = LeakyReLU(1.0, 0.0, 0.2)


def test_ei_network_against_eigendecomposition():
    freq, tau, e = np.array([0.0, 5.0, 20.0, 80.0]), 0.01, np.array([1.0, 0.5])
    ds = linear_response(EI_W, EI_I0, EI_TRANSFER, freq, tau=tau, input_vector=e)
    # both units are above threshold: r* = (I - W)^-1 I0, slopes 1
    np.testing.assert_allclose(ds.rate, np.linalg.solve(np.eye(2) - EI_W, EI_I0), rtol=1e-12)
    lam, V = np.linalg.eig(EI_W)  # D = I
    c = np.linalg.solve(V, e)
    for i, f in enumerate(freq):
        chi = V @ (c / (1 + 1j * TWO_PI * f * tau - lam))
        chi_ds = ds.gain.values[i] * np.exp(1j * ds.phase.values[i])
        np.testing.assert_allclose(chi_ds, chi, rtol=1e-12)  # two 2x2 solves, rounding
    assert ds.attrs["stable"] == 1
    uniform = linear_response(EI_W, EI_I0, EI_TRANSFER, freq, tau=tau, input_vector=e,
                              form="voltage")
    # same fixed point, and D (I a - W D)^-1 = (I a - D W)^-1 D for uniform tau
    np.testing.assert_allclose(uniform.gain, ds.gain, rtol=1e-12)
    np.testing.assert_allclose(uniform.phase, ds.phase, rtol=0, atol=1e-12)


@pytest.mark.parametrize("form", ["rate", "voltage"])
def test_ei_network_against_simulation(form):
    """Drive the nonlinear network with a small sinusoid and project the steady state.

    At this fixed point both units sit on linear pieces with a margin, so for a small I1
    the response is exactly linear: any mismatch is a sign or convention error.
    """
    tau, f, I1, e = np.array([0.01, 0.02]), 12.0, 1e-3, np.array([1.0, 0.5])
    ds = linear_response(EI_W, EI_I0, EI_TRANSFER, f, tau=tau, form=form, input_vector=e)
    r_star = ds.rate.values

    def rhs(t, y):
        drive = I1 * math.sin(TWO_PI * f * t) * e
        if form == "rate":
            return (-y + EI_TRANSFER(EI_W @ y + EI_I0 + drive)) / tau
        return (-y + EI_W @ EI_TRANSFER(y) + EI_I0 + drive) / tau

    y0 = r_star if form == "rate" else EI_W @ r_star + EI_I0
    t_end = 2.0 + 3 / f  # slowest decay rate ~ 20/s here: e^-40 by t = 2 s
    t_eval = np.linspace(t_end - 3 / f, t_end, 3001)
    sol = solve_ivp(rhs, (0, t_end), y0, method="DOP853", t_eval=t_eval, rtol=1e-12,
                    atol=1e-16)
    rates = sol.y if form == "rate" else EI_TRANSFER(sol.y)
    for i in range(2):
        r0, z = project(sol.t, rates[i], f, 1)
        chi = ds.gain.values[0, i] * np.exp(1j * ds.phase.values[0, i])
        # trace is a pure sinusoid: projection exact to rounding; ODE error ~1e-12 relative
        np.testing.assert_allclose(z[0] / I1, chi, rtol=1e-7)
        assert abs(r0 - r_star[i]) <= 1e-9


def test_heterogeneous_tau_forms_match_formulas_and_each_other():
    tau, freq = np.array([0.01, 0.04]), np.array([3.0, 25.0])
    # unequal slopes, so that D W != W D
    transfers = [LeakyReLU(1.0, 0.0, 0.2), LeakyReLU(0.5, 0.0, 0.2)]
    fp = fixed_point(EI_W, EI_I0, transfers, tau=tau)
    assert fp.converged and fp.slope.tolist() == [1.0, 0.5]
    D = np.diag(fp.slope)
    full = network_susceptibility(EI_W, fp.slope, freq, tau=tau)
    volt = network_susceptibility(EI_W, fp.slope, freq, tau=tau, form="voltage")
    assert full.shape == (2, 2, 2)
    for i, f in enumerate(freq):
        a = np.eye(2) + 1j * TWO_PI * f * np.diag(tau)
        np.testing.assert_allclose(full[i], np.linalg.solve(a - D @ EI_W, D), rtol=1e-12)
        np.testing.assert_allclose(volt[i], D @ np.linalg.inv(a - EI_W @ D), rtol=1e-12)
    # D and I + i w T are diagonal, so D (A - W D)^-1 = (A - D W)^-1 D: the forms agree
    np.testing.assert_allclose(volt, full, rtol=1e-12)  # 2x2 solves, rounding


def test_linear_response_errors():
    with pytest.raises(ModelError, match="input_vector"):
        linear_response(EI_W, EI_I0, EI_TRANSFER, 1.0, tau=0.01, input_vector=[1.0])
    with pytest.raises(ModelError, match="W"):
        linear_response(np.ones((2, 3)), EI_I0, EI_TRANSFER, 1.0, tau=0.01)
