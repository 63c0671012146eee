"""Gaussian-input theory: moments of phi and phi' for x ~ N(mu, s^2) (neurorect.theory.gaussian).

References are independent: adaptive quadrature (scipy's quad, split at every kink) of the
definition, and 40-digit mpmath values of exact forms. Tolerances are relative to the
magnitude ``E[|phi - c|^k]`` of the integrand (a moment that cancels to ~0 is judged on the
scale of its terms); each states why it has its size.
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy.integrate import IntegrationWarning, quad
from scipy.optimize import brentq
from scipy.special import ndtr

from neurorect.errors import ModelError, NeurorectWarning
from neurorect.theory import (
    gaussian_gain,
    gaussian_mean_rate,
    gaussian_moment,
    gaussian_slope_moment,
    gaussian_stats,
)
from neurorect.theory.normal import tail_moments
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

SQRT_2PI = math.sqrt(2.0 * math.pi)


def expect(func, mu, s, kinks, shift=0.0, k=1):
    """(E[(func(x) - shift)^k], E[|func(x) - shift|^k]) by adaptive quadrature on mu +- 40 s."""
    def integrand(x, absolute):
        value = (float(func(x)) - shift) ** k
        return (abs(value) if absolute else value) * math.exp(-0.5 * ((x - mu) / s) ** 2) / (
            s * SQRT_2PI)

    lo, hi = mu - 40 * s, mu + 40 * s
    points = sorted(p for p in kinks if lo < p < hi) or None
    with warnings.catch_warnings():  # round-off warnings where a moment cancels to ~0
        warnings.simplefilter("ignore", IntegrationWarning)
        return tuple(quad(integrand, lo, hi, args=(absolute,), points=points, epsabs=1e-300,
                          epsrel=1e-13, limit=500)[0] for absolute in (False, True))


def leaky_kinks(tr: LeakyReLU) -> list[float]:
    """Every input where the clipped leaky ReLU may bend (a superset)."""
    points = [tr.threshold]
    for bound in (tr.rate_min, tr.rate_max):
        if math.isfinite(bound):
            points.append(tr.threshold + (bound - tr.baseline) / tr.gain)
            if tr.alpha > 0:
                points.append(tr.threshold + (bound - tr.baseline) / (tr.gain * tr.alpha))
    return points


LEAKY = {
    "relu": LeakyReLU(),
    "leaky": LeakyReLU(2.0, 0.3, 0.1),
    "clipped-both": LeakyReLU(1.5, -0.2, 0.4, rate_min=-0.1, rate_max=1.2, baseline=0.3),
    "clip-at-baseline": LeakyReLU(1.0, 0.0, 0.0, rate_min=0.0),
    "rate_min-above-baseline": LeakyReLU(3.0, 0.5, 0.0, rate_min=0.5, rate_max=2.0,
                                         baseline=0.2),
    "baseline-above-rate_max": LeakyReLU(1.0, 0.1, 0.5, rate_max=0.0, baseline=0.4),
    "linear": LeakyReLU(1.3, 0.2, 1.0),
}
POINTS = [(0.0, 1.0), (0.1, 0.3), (0.5, 0.05), (-1.0, 0.2), (0.3, 2.0), (-0.9, 0.1)]


# --------------------------------------------------------------------------------------------
# the tail moments of the normal (the closed form's building block)
# --------------------------------------------------------------------------------------------

def test_tail_moments_match_the_parabolic_cylinder_form():
    mp.mp.dps = 40
    a = np.array([0.0, 0.4, 1.0, 1.45, 1.5, 1.55, 2.0, 3.0, 6.0, 12.0, 25.0, 38.0])
    got = tail_moments(a, 4)
    for i, ai in enumerate(a):
        x = mp.mpf(float(ai))
        for n in range(5):
            exact = mp.npdf(x) * mp.factorial(n) * mp.exp(x * x / 4) * mp.pcfd(-n - 1, x)
            # forward recurrence below a = 1.5, Miller's algorithm above: measured <= 5e-14
            assert abs(got[n, i] / float(exact) - 1) <= 1e-13, (ai, n)
    assert np.all(tail_moments(np.array([40.0, np.inf]), 4) == 0.0)  # underflow of pdf


# --------------------------------------------------------------------------------------------
# leaky ReLU: closed form against quadrature
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(LEAKY))
def test_leaky_relu_moments_match_quadrature(name):
    tr = LEAKY[name]
    mu = np.array([p[0] for p in POINTS])
    s = np.array([p[1] for p in POINTS])
    for k in range(1, 5):
        raw = gaussian_moment(tr, mu, s, k)
        central = gaussian_moment(tr, mu, s, k, central=True)
        slope = gaussian_slope_moment(tr, mu, s, k)
        mean = gaussian_mean_rate(tr, mu, s)
        for i, (m, sd) in enumerate(POINTS):
            kinks = leaky_kinks(tr)
            # exact piecewise formulas vs adaptive quadrature on smooth pieces: ~1e-14
            ref, scale = expect(tr, m, sd, kinks, k=k)
            assert abs(raw[i] - ref) <= 1e-10 * scale + 1e-300, (k, m, sd)
            ref, scale = expect(tr, m, sd, kinks, shift=mean[i], k=k)
            assert abs(central[i] - ref) <= 1e-10 * scale + 1e-300, (k, m, sd)
            ref, scale = expect(tr.derivative, m, sd, kinks, k=k)
            assert abs(slope[i] - ref) <= 1e-10 * scale + 1e-300, (k, m, sd)


def test_relu_far_tail_keeps_relative_accuracy():
    mp.mp.dps = 40
    tr, s = ReLU(2.0, 0.5), 0.3
    for a in (3.0, 8.0, 20.0):  # threshold a standard deviations above the mean
        mu = tr.threshold - a * s
        for k in range(1, 5):
            x = mp.mpf(a)  # E[ReLU^k] = (gain s)^k T_k(a), T_k in closed form
            exact = (2.0 * s) ** k * mp.npdf(x) * mp.factorial(k) * mp.exp(x * x / 4) * mp.pcfd(
                -k - 1, x)
            # expanded about the kink, never a difference of large numbers: rounding only
            assert abs(gaussian_moment(tr, mu, s, k) / float(exact) - 1) <= 1e-13


def test_central_moments_of_a_nearly_linear_unit_keep_their_digits():
    tr = LeakyReLU(3.0, 0.0, 0.2)
    s = 0.01
    for mu in (0.3, 3.0):  # 30 and 300 standard deviations above threshold: linear (gain 3)
        assert gaussian_moment(tr, mu, s, 2, central=True) == pytest.approx(
            (3.0 * s) ** 2, rel=1e-13)  # raw-moment differencing would lose (mu/s)^2
        assert abs(gaussian_moment(tr, mu, s, 3, central=True)) <= 1e-15 * (3.0 * s) ** 3
        assert gaussian_moment(tr, mu, s, 4, central=True) == pytest.approx(
            3 * (3.0 * s) ** 4, rel=1e-12)


def test_zero_noise_limits():
    tr = LeakyReLU(2.0, 0.3, 0.25, rate_max=1.0)
    mu = np.array([-1.0, 0.3, 0.5, 2.0])
    for k in range(1, 5):
        np.testing.assert_allclose(gaussian_moment(tr, mu, 0.0, k), tr(mu) ** k, rtol=1e-15)
        assert np.all(gaussian_moment(tr, mu, 0.0, k, central=True) == 0.0)
        # the limit s -> 0: half of each side's slope^k at the kink (mu = threshold)
        np.testing.assert_allclose(gaussian_slope_moment(tr, mu, 0.0, k),
                                   [0.5 ** k, 0.5 * (0.5 ** k + 2.0 ** k), 2.0 ** k, 0.0],
                                   rtol=1e-15)


def test_parameter_overrides_broadcast_like_numpy():
    tr = LeakyReLU(1.0, 0.1, 0.0, rate_max=2.0)
    alpha = np.array([0.0, 0.3, 1.0])[:, None]
    mu = np.array([-0.5, 0.0, 0.4, 1.0])
    grid = gaussian_moment(tr, mu, 0.5, 3, alpha=alpha)
    assert grid.shape == (3, 4)
    for i, a in enumerate(alpha[:, 0]):
        one = gaussian_moment(tr.replace(alpha=float(a)), mu, 0.5, 3)
        np.testing.assert_allclose(grid[i], one, rtol=1e-15)  # same arithmetic, other layout
    soft = gaussian_slope_moment(Softplus(), 0.2, 1.0, 2, sharpness=[0.5, 4.0])
    for j, sharp in enumerate((0.5, 4.0)):
        assert soft[j] == gaussian_slope_moment(Softplus(sharpness=sharp), 0.2, 1.0, 2)


def test_bad_arguments_name_the_key():
    tr = LeakyReLU()
    for k in (0, 5, 1.5, True):
        with pytest.raises(ModelError, match="k"):
            gaussian_moment(tr, 0.0, 1.0, k)
    with pytest.raises(ModelError, match="s"):
        gaussian_slope_moment(tr, 0.0, -1.0, 2)
    with pytest.raises(ModelError, match="sharpness"):
        gaussian_moment(tr, 0.0, 1.0, 2, sharpness=1.0)
    with pytest.raises(ModelError, match="alpha"):
        gaussian_moment(tr, 0.0, 1.0, 2, alpha=[0.5, 1.5])
    with pytest.raises(ModelError, match="mu"):
        gaussian_moment(tr, math.nan, 1.0, 2)


# --------------------------------------------------------------------------------------------
# other transfers: quadrature against adaptive quadrature
# --------------------------------------------------------------------------------------------

SMOOTH = {
    "softplus": (Softplus(2.0, 0.1, 3.0), [0.1]),
    "elu": (ELU(1.5, -0.1, 0.7), [-0.1]),
    "gelu": (GELU(1.2, 0.05), [0.05]),
    "sigmoid": (Sigmoid(5.0, 0.2, 4.0), [0.2]),
    "power-2": (PowerLaw(0.7, 0.1, 2.0), [0.1]),
    "power-0.5": (PowerLaw(1.0, 0.1, 0.5), [0.1]),
    "power-1.5": (PowerLaw(1.0, -0.2, 1.5), [-0.2]),
}


@pytest.mark.parametrize("name", list(SMOOTH))
def test_quadrature_moments_match_adaptive_quadrature(name):
    tr, kinks = SMOOTH[name]
    for m, sd in POINTS[:5]:
        mean = gaussian_mean_rate(tr, m, sd)
        for k in range(1, 5):
            # fixed graded Gauss-Legendre rule vs adaptive quadrature, both ~1e-14 here
            ref, scale = expect(tr, m, sd, kinks, k=k)
            assert abs(gaussian_moment(tr, m, sd, k) - ref) <= 1e-10 * scale, (k, m, sd)
            ref, scale = expect(tr, m, sd, kinks, shift=mean, k=k)
            got = gaussian_moment(tr, m, sd, k, central=True)
            assert abs(got - ref) <= 1e-10 * scale, (k, m, sd)
            if name != "power-0.5":  # singular slope: checked against the exact form below
                ref, scale = expect(tr.derivative, m, sd, kinks, k=k)
                assert abs(gaussian_slope_moment(tr, m, sd, k) - ref) <= 1e-10 * scale


def power_law_slope_exact(tr: PowerLaw, mu: float, s: float, k: int) -> float:
    """E[(c u^(n-1))^k], u = x - t > 0: int_0^inf u^nu exp(-(u - m)^2 / 2s^2) du =
    s^(nu+1) Gamma(nu+1) exp(-m^2/4s^2) D_{-nu-1}(-m/s) (parabolic cylinder D), 40 digits."""
    mp.mp.dps = 40
    nu, m, sd = k * (tr.n - 1), mp.mpf(mu - tr.threshold), mp.mpf(s)
    integral = sd ** (nu + 1) * mp.gamma(nu + 1) * mp.exp(-m * m / (4 * sd * sd)) * mp.pcfd(
        -nu - 1, -m / sd)
    return float(mp.mpf(tr.k * tr.n) ** k * integral / (sd * mp.sqrt(2 * mp.pi)))


@pytest.mark.parametrize("tr", [PowerLaw(1.0, 0.0, 0.7), PowerLaw(2.0, 0.1, 0.8),
                                PowerLaw(1.0, 0.0, 0.6), PowerLaw(0.5, -0.3, 0.9)])
def test_singular_slope_moments_match_the_exact_form(tr):
    for mu, s in [(0.2, 0.5), (-1.0, 0.3), (1.0, 0.1), (0.0, 2.0)]:
        for k in range(1, 5):
            got = gaussian_slope_moment(tr, mu, s, k)
            if k * (1 - tr.n) >= 1:
                assert got == math.inf  # u^-p with p >= 1 is not integrable at threshold
                continue
            # Stein (k = 1) or the substitution that removes the singularity: measured 2e-15
            assert got == pytest.approx(power_law_slope_exact(tr, mu, s, k), rel=1e-12)


def test_lif_slope_moments_diverge_beyond_the_first():
    tr = LIFTransfer()
    assert math.isfinite(gaussian_slope_moment(tr, 0.021, 0.004, 1))
    assert gaussian_slope_moment(tr, 0.021, 0.004, 2) == math.inf  # ~1/(u log^2 u)^2
    assert gaussian_slope_moment(tr, 0.03, 0.0, 2) == pytest.approx(
        float(tr.derivative(0.03)) ** 2, rel=1e-15)  # no noise: the slope at mu


# --------------------------------------------------------------------------------------------
# the closed forms of SCIENCE.md
# --------------------------------------------------------------------------------------------

def test_relu_mean_second_moment_and_variance():
    for s in (0.3, 1.0, 4.0):
        # all exact in real arithmetic: rounding only
        assert gaussian_mean_rate(ReLU(), 0.0, s) == pytest.approx(s / SQRT_2PI, rel=1e-15)
        assert gaussian_mean_rate(LeakyReLU(alpha=0.3), 0.0, s) == pytest.approx(
            0.7 * s / SQRT_2PI, rel=1e-15)
        assert gaussian_moment(ReLU(), 0.0, s, 2) == pytest.approx(s * s / 2, rel=1e-15)
        assert gaussian_moment(ReLU(), 0.0, s, 2, central=True) == pytest.approx(
            s * s * (0.5 - 1 / (2 * math.pi)), rel=1e-14)


def test_skewness_of_a_rectified_gaussian():
    stats = gaussian_stats(LeakyReLU(), 0.0, 1.3, alpha=[0.0, 1.0])
    m1, m2, m3 = 1 / SQRT_2PI, 0.5, 2 / SQRT_2PI  # E[z_+^n], n = 1, 2, 3
    exact = (m3 - 3 * m1 * m2 + 2 * m1 ** 3) / (m2 - m1 ** 2) ** 1.5
    assert stats.skewness.sel(alpha=0.0) == pytest.approx(exact, rel=1e-13)
    assert round(float(stats.skewness.sel(alpha=0.0)), 4) == 1.6406  # SCIENCE.md's value
    assert abs(float(stats.skewness.sel(alpha=1.0))) <= 1e-14  # linear: symmetric


def test_expected_slope_and_its_cv():
    gain = 2.5
    alpha = np.linspace(0, 1, 6)
    for mu, s in [(0.0, 1.0), (0.4, 0.7), (-1.2, 0.5)]:
        got = gaussian_gain(LeakyReLU(gain), mu, s, alpha=alpha)
        exact = gain * (alpha + (1 - alpha) * ndtr(mu / s))
        np.testing.assert_allclose(got, exact, rtol=1e-14)  # the same CDF: rounding
        assert np.all(got >= gain * alpha)
    cv = gaussian_stats(LeakyReLU(gain), 0.0, 0.8, alpha=alpha[:-1]).slope_cv
    # monotone in alpha: 0.5 is not special (SCIENCE.md corrects the chapter)
    np.testing.assert_allclose(cv, (1 - alpha[:-1]) / (1 + alpha[:-1]), rtol=1e-14)
    assert np.all(np.diff(cv.values) < 0)


def test_he_gains_preserve_the_second_moment():
    for alpha, weight_var in [(0.0, 2.0), (0.2, 2 / 1.04), (0.7, 2 / 1.49)]:
        for q in (0.1, 1.0, 9.0):
            # the SECOND moment halves (the variance does not): weight_var E[phi^2] = q
            second = gaussian_moment(LeakyReLU(alpha=alpha), 0.0, math.sqrt(q), 2)
            assert weight_var * second == pytest.approx(q, rel=1e-14)


def test_gelu_has_a_zero_gradient_and_negative_slopes():
    gelu = GELU()
    root = brentq(lambda x: float(gelu.derivative(x)), -1.5, -0.2, xtol=1e-15)
    assert abs(root - (-0.75179)) <= 5e-6  # SCIENCE.md quotes 5 digits
    assert float(gelu.derivative(-1.5)) < 0  # "never a zero gradient" is wrong
    # and the mean slope of a population driven far below threshold is negative
    assert gaussian_gain(gelu, -1.5, 0.2) < 0


def test_bachelier_price_identity():
    for mu, s, strike in [(1.0, 0.4, 1.2), (100.0, 15.0, 95.0), (0.0, 1.0, -3.0)]:
        d = (mu - strike) / s
        price = (mu - strike) * ndtr(d) + s * math.exp(-0.5 * d * d) / SQRT_2PI
        # E[(x - K)_+] for x ~ N(mu, s^2): the same closed form, rounding only
        assert gaussian_mean_rate(ReLU(threshold=strike), mu, s) == pytest.approx(
            price, rel=1e-14)


# --------------------------------------------------------------------------------------------
# gaussian_stats
# --------------------------------------------------------------------------------------------

def test_gaussian_stats_dataset():
    tr = LeakyReLU(2.0, 0.1, 0.2, rate_max=3.0)
    mu, s = np.array([-0.5, 0.1, 2.0]), np.array([0.2, 1.0])
    ds = gaussian_stats(tr, mu, s, alpha=[0.0, 0.2])
    assert ds.mean_rate.dims == ("mu", "s", "alpha")
    for name, var in ds.data_vars.items():
        assert var.attrs["units"] and var.attrs["long_name"], name
    point = ds.sel(mu=0.1, s=1.0, alpha=0.2)
    assert float(point.mean_rate) == gaussian_mean_rate(tr, 0.1, 1.0)
    assert float(point.variance) == gaussian_moment(tr, 0.1, 1.0, 2, central=True)
    assert float(point.rate_std) ** 2 == pytest.approx(float(point.variance), rel=1e-15)
    assert float(point.excess_kurtosis) == pytest.approx(
        gaussian_moment(tr, 0.1, 1.0, 4, central=True) / float(point.variance) ** 2 - 3,
        rel=1e-14)
    assert float(point.below_threshold) == pytest.approx(ndtr(0.0), rel=1e-15)
    assert float(point.slope_second_moment) == gaussian_slope_moment(tr, 0.1, 1.0, 2)
    with pytest.warns(NeurorectWarning, match="zero"):
        degenerate = gaussian_stats(tr, 0.5, 0.0)
    assert math.isnan(float(degenerate.skewness)) and float(degenerate.variance) == 0.0
