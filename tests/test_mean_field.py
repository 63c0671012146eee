"""LIF theory of Brunel's E-I network: complex rate responses, the ISI transform, mean-field
rates, stability with the delay, linear response and the population spectrum."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import dawsn

from neurorect import lif
from neurorect.errors import ModelError
from neurorect.lif.characteristic import characteristic_roots
from neurorect.lif.mean_field import network_arrays, self_consistent_rates
from neurorect.spec_lif import LIFNetwork

KW = dict(tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002)
TAU = 0.02


# --------------------------------------------------------------------------------------------
# oracles
# --------------------------------------------------------------------------------------------

def _mp_siegert(mu, sigma, tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002):
    """Siegert rate by mpmath quadrature (30 digits), an independent implementation."""
    with mp.workdps(30):
        y_th = (mp.mpf(v_th) - mu) / sigma
        y_r = (mp.mpf(v_reset) - mu) / sigma
        nodes = [y_r, 0, y_th] if y_r < 0 < y_th else [y_r, y_th]
        integral = mp.quad(lambda u: mp.exp(u * u) * mp.erfc(-u), nodes)
        return 1 / (mp.mpf(t_ref) + mp.mpf(tau_m) * mp.sqrt(mp.pi) * integral)


def _mp_self_consistency(net: LIFNetwork, nu):
    """``Phi(mu(nu), sigma(nu)) - nu`` in mpmath (Brunel's moments written out again)."""
    with mp.workdps(30):
        nu = mp.mpf(nu)
        tau, J, g = mp.mpf(net.tau_m), mp.mpf(net.J), mp.mpf(net.g)
        c_e, gamma = mp.mpf(net.C_E), mp.mpf(net.C_I) / net.C_E
        nu_ext = mp.mpf(net.v_th) / (J * c_e * tau) * mp.mpf(net.eta)
        mu = c_e * J * tau * (nu_ext + nu * (1 - g * gamma))
        sigma = mp.sqrt(J**2 * c_e * tau * (nu_ext + nu * (1 + g**2 * gamma)))
        return _mp_siegert(mu, sigma) - nu


def _mp_chi_mu(lam, mu, sigma, tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002):
    """chi_mu at complex lam from the parabolic-cylinder closed form (Brunel & Hakim 1999,
    Lindner & Schimansky-Geier 2001, in the exp(+lam t) convention), mpmath."""
    with mp.workdps(30):
        sg, tau = mp.mpf(sigma), mp.mpf(tau_m)
        y_th, y_r = (mp.mpf(v_th) - mu) / sg, (mp.mpf(v_reset) - mu) / sg
        r0 = _mp_siegert(mu, sigma)
        s = mp.mpc(lam) * tau
        z_th, z_r = -mp.sqrt(2) * y_th, -mp.sqrt(2) * y_r
        a_th, a_r = mp.exp(y_th**2 / 2), mp.exp(y_r**2 / 2)
        num = a_th * mp.pcfd(-s - 1, z_th) - a_r * mp.pcfd(-s - 1, z_r)
        den = (a_th * mp.pcfd(-s, z_th)
               - mp.exp(-s * mp.mpf(t_ref) / tau) * a_r * mp.pcfd(-s, z_r))
        return complex(mp.sqrt(2) * s * r0 / (sg * (1 + s)) * num / den)


def _ode_chi_var(lam, mu, sigma, tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002,
                 tail=40.0):
    """chi_var by direct integration of the FORCED linearised Fokker-Planck equation
    (``p' = -2 y p - 2 j - p0'/sigma^2``, ``j' = -s p``; no particular solution, no Magnus),
    with scipy's DOP853 at rtol 1e-12."""
    y_th, y_r = (v_th - mu) / sigma, (v_reset - mu) / sigma
    y_lb = -math.sqrt(min(y_r, 0.0) ** 2 + tail)
    nu0 = float(lif.siegert_rate(mu, sigma, **KW))
    s = lam * tau_m

    def e2(x):
        return math.exp(x * x) * dawsn(x)

    def dp0(y):  # p0 = sigma P0 from the closed-form stationary density
        p0 = 2 * nu0 * tau_m * math.exp(-y * y) * (e2(y_th) - e2(max(y, y_r)))
        return -2 * y * p0 - 2 * (nu0 * tau_m if y > y_r else 0.0)

    opts = dict(method="DOP853", rtol=1e-12, atol=1e-14)
    forced = solve_ivp(lambda y, u: [-2 * y * u[0] - 2 * u[1] - dp0(y) / sigma**2,
                                     -s * u[0]], (y_th, y_r), np.array([0j, 0j]), **opts).y[:, -1]
    forced = solve_ivp(lambda y, u: [-2 * y * u[0] - 2 * u[1] - dp0(y) / sigma**2,
                                     -s * u[0]], (y_r, y_lb), forced, **opts).y[:, -1]
    homog = solve_ivp(lambda y, u: [-2 * y * u[0] - 2 * u[1], -s * u[0]], (y_th, y_r),
                      np.array([0j, 1 + 0j]), **opts).y[:, -1]
    homog[1] -= np.exp(-s * t_ref / tau_m)  # the flux re-enters at the reset
    homog = solve_ivp(lambda y, u: [-2 * y * u[0] - 2 * u[1], -s * u[0]], (y_r, y_lb),
                      homog, **opts).y[:, -1]
    return -forced[1] / homog[1] / tau_m


# --------------------------------------------------------------------------------------------
# laplace_response and isi_laplace
# --------------------------------------------------------------------------------------------

POINTS = [(0.015, 0.005), (0.0227, 0.0074), (0.025, 0.002)]
LAMS = [10 + 30j, -20 + 300j, 40 - 700j, -40 + 5j, -150 + 2000j, -400 + 400j]


@pytest.mark.parametrize("mu, sigma", POINTS)
def test_chi_mu_at_complex_lambda_matches_the_closed_form(mu, sigma):
    chi, _ = lif.laplace_response(np.array(LAMS), mu, sigma, **KW)
    reference = np.array([_mp_chi_mu(lam, mu, sigma) for lam in LAMS])
    # threshold integration with Richardson extrapolation: ~1e-9 relative (module docstring);
    # 1e-8 leaves room for the larger |s| points; Re(lam tau) runs from -8 to +0.8
    np.testing.assert_allclose(chi, reference, rtol=1e-8)


@pytest.mark.parametrize("mu, sigma", POINTS[:2])
def test_chi_var_matches_a_direct_integration_of_the_forced_equation(mu, sigma):
    lams = [10 + 30j, -20 + 300j, -30 + 5j, -200 + 900j]
    _, chi = lif.laplace_response(np.array(lams), mu, sigma, **KW)
    reference = np.array([_ode_chi_var(lam, mu, sigma) for lam in lams])
    # two independent integrators at ~1e-11 each; 1e-8 bounds the extrapolated Magnus error
    np.testing.assert_allclose(chi, reference, rtol=1e-8)


@pytest.mark.parametrize("mu, sigma", POINTS)
def test_zero_frequency_limits_are_the_siegert_derivatives(mu, sigma):
    chi_mu, chi_var = lif.laplace_response(0.0, mu, sigma, **KW)
    assert chi_mu.real == pytest.approx(lif.siegert_derivative(mu, sigma, **KW), rel=1e-9)
    v, h = sigma**2, sigma**2 * 1e-3

    def d(step):
        return (lif.siegert_rate(mu, math.sqrt(v + step), **KW)
                - lif.siegert_rate(mu, math.sqrt(v - step), **KW)) / (2 * step)

    derivative = (4 * d(h / 2) - d(h)) / 3  # Richardson: error O(h^4) ~ 1e-12 relative
    assert chi_var.real == pytest.approx(derivative, rel=1e-8)


def test_on_the_imaginary_axis_chi_mu_is_the_susceptibility():
    f = np.array([0.5, 3.0, 40.0, 400.0, 4000.0])
    chi, _ = lif.laplace_response(2j * np.pi * f, 0.015, 0.005, **KW)
    # two implementations of the same scheme (real and complex arithmetic): rounding only
    np.testing.assert_allclose(chi, lif.susceptibility(f, 0.015, 0.005, **KW), rtol=1e-12)


def test_variance_response_is_instantaneous_at_high_frequency():
    mu, sigma = 0.0227, 0.0074
    r0 = float(lif.siegert_rate(mu, sigma, **KW))
    _, chi = lif.laplace_response(2j * np.pi * np.array([1e4, 1e5, 1e6]), mu, sigma, **KW)
    error = np.abs(chi / (r0 / sigma**2) - 1.0)
    # chi_var -> r0 / sigma^2 with a 1/sqrt(f) correction: 1.1 %, 0.35 %, 0.11 %
    assert np.all(np.diff(error) < 0) and error[-1] < 2e-3
    np.testing.assert_allclose(error[:-1] / error[1:], math.sqrt(10.0), rtol=0.1)


@pytest.mark.parametrize("mu, sigma", POINTS)
def test_isi_transform_moments(mu, sigma):
    # E[exp(-lam T)]: 1 at 0, -F'(0) = mean ISI = 1/r0, F''(0) - F'(0)^2 = var(T). The
    # derivatives by Cauchy's integral on a circle of radius 1/s (32 points: the trapezoid
    # rule converges geometrically for an analytic F; the nearest singularity, the slowest
    # decay rate of the first passage, lies beyond |lam| ~ r0 > 1/s here)
    n, radius = 32, 1.0
    z = radius * np.exp(2j * np.pi * np.arange(n) / n)
    F = lif.isi_laplace(z, mu, sigma, **KW)
    first = np.mean(F / z).real
    second = 2 * np.mean(F / z**2).real
    r0 = float(lif.siegert_rate(mu, sigma, **KW))
    assert complex(lif.isi_laplace(0.0, mu, sigma, **KW)) == pytest.approx(1.0, abs=1e-12)
    # ~1e-9: the threshold integration's error (Siegert rate and CV: ~1e-12 quadratures)
    assert -first * r0 == pytest.approx(1.0, rel=1e-8)
    cv = math.sqrt(second - first**2) / -first
    assert cv == pytest.approx(float(lif.isi_cv(mu, sigma, **KW)), rel=1e-7)


def test_laplace_response_validation():
    with pytest.raises(ModelError, match="sigma"):
        lif.laplace_response(1j, 0.015, 0.0, **KW)
    with pytest.raises(ModelError, match="-1/tau_m"):
        lif.laplace_response(-1.0 / TAU, 0.015, 0.005, **KW)
    with pytest.raises(ModelError, match="finite"):
        lif.laplace_response(np.nan, 0.015, 0.005, **KW)


# --------------------------------------------------------------------------------------------
# self-consistent rates
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("g, eta, n_expected", [(5.0, 2.0, 1), (4.0, 1.0, 1), (8.0, 4.0, 1),
                                                 (3.0, 0.5, 3), (6.0, 0.9, 1)])
def test_rates_solve_an_independent_quadrature_self_consistency(g, eta, n_expected):
    net = LIFNetwork(g=g, eta=eta)
    rates = self_consistent_rates(network_arrays([net]))[0]
    rates = rates[np.isfinite(rates)]
    assert rates.size == n_expected
    for nu in rates:
        with mp.workdps(30):
            # the root of the mpmath self-consistency nearest to ours (secant, 30 digits)
            root = mp.findroot(lambda x: _mp_self_consistency(net, x), mp.mpf(nu) * 1.0001)
        assert nu == pytest.approx(float(root), rel=1e-9, abs=1e-30)  # the 1e-9


def test_every_solution_is_found():
    # an independent scan (mpmath, 53 rates from 0 to 1/t_ref) counts the sign changes of
    # Phi(nu) - nu; the three solutions are 1e-41 Hz, 26 Hz and 238 Hz
    net = LIFNetwork(g=3.0, eta=0.5)
    grid = np.concatenate([[0.0], np.geomspace(1e-45, 1e-3, 12), np.linspace(0.01, 499.0, 40)])
    values = [float(_mp_self_consistency(net, x)) for x in grid]
    changes = int(np.sum(np.sign(values[:-1]) != np.sign(values[1:])))
    found = self_consistent_rates(network_arrays([net]))[0]
    assert np.isfinite(found).sum() == changes == 3


# --------------------------------------------------------------------------------------------
# stability
# --------------------------------------------------------------------------------------------

def _characteristic(net: LIFNetwork, nu: float, lam: complex, step: float = 0.08) -> complex:
    """``1 - exp(-lam D)(chi_mu W + chi_var S)`` evaluated directly (finer step)."""
    arrays = network_arrays([net])
    mu, sigma = arrays.moments(np.array([nu]))
    chi_mu, chi_var = lif.laplace_response(lam, mu[0], sigma[0], step=step, **KW)
    return 1.0 - np.exp(-lam * net.delay) * (chi_mu * arrays.W[0] + chi_var * arrays.S[0])


def _winding(fun, center: complex, radius: float, n: int = 48) -> int:
    z = center + radius * np.exp(2j * np.pi * np.arange(n + 1) / n)
    values = fun(z)
    return int(round((np.unwrap(np.angle(values))[-1] - np.angle(values[0])) / (2 * np.pi)))


@pytest.fixture(scope="module")
def states():
    grid = {"lif_network.g": [5.0, 8.0], "lif_network.eta": [2.0, 4.0]}
    return lif.mean_field(LIFNetwork(), grid=grid, freqs=[0.0, 10.0, 100.0])


def test_eigenvalues_solve_the_characteristic_equation(states):
    for g in (5.0, 8.0):
        for eta in (2.0, 4.0):
            point = states.sel(g=g, eta=eta, solution=0)
            net = LIFNetwork(g=g, eta=eta)
            nu = float(point["r0"][0])
            for k in range(point.sizes["eigenvalue"]):
                lam = complex(point["growth_rate"][k], 2 * np.pi * point["oscillation_freq"][k])
                # Newton stops at a relative step of 1e-10; the direct evaluation at a finer
                # step differs by the threshold integration's ~1e-9 error
                assert abs(_characteristic(net, nu, lam)) < 1e-6, (g, eta, k, lam)
                # and it is a simple zero: winding number 1 around a small circle
                def char(z, net=net, nu=nu):
                    return _characteristic(net, nu, z)

                assert _winding(char, lam, 5.0) == 1


def test_stability_and_the_nyquist_count_agree_with_a_direct_count(states):
    # AI (g = 5, eta = 2) is stable; g = 8, eta = 4 is Brunel's fast oscillation (SI fast)
    assert float(states["stable"].sel(g=5.0, eta=2.0, solution=0)) == 1.0
    unstable = states.sel(g=8.0, eta=4.0, solution=0)
    assert float(unstable["stable"]) == 0.0 and float(unstable["n_unstable"]) == 2.0
    assert 150.0 < float(unstable["max_growth_freq"]) < 250.0  # the fast oscillation
    # direct argument principle on the upper right quarter-disc of radius 2 pi 1500 Hz
    net = LIFNetwork(g=8.0, eta=4.0)
    nu = float(unstable["r0"][0])
    R = 2 * np.pi * 1500.0
    edge = np.concatenate([1j * np.linspace(0.05, R, 400),
                           R * np.exp(1j * np.linspace(np.pi / 2, 0.0, 400)),
                           np.linspace(R, 0.05, 400) + 0j])
    values = _characteristic(net, nu, edge, step=0.13)
    # the contour runs clockwise around the quarter: roots = -winding
    upper = -round((np.unwrap(np.angle(values))[-1] - np.angle(values[0])) / (2 * np.pi))
    assert 2 * upper == float(unstable["n_unstable"])  # conjugate pairs: upper half x 2


def test_root_finder_on_a_delayed_lowpass_matches_lambert_w():
    from neurorect.crossval import delayed_eigenvalues

    tau, delay = 0.005, 0.002
    w = np.array([-3.0, -6.0, 0.5])

    def loop(lam, idx):
        return w[idx] / (1.0 + lam * tau)

    roots = characteristic_roots(loop, np.full(3, delay), f_max=2000.0, n_roots=3,
                                 n_candidates=6, lam_floor=np.full(3, -2000.0))
    for e in range(3):
        exact = delayed_eigenvalues(w[e], tau, delay)
        exact = exact[exact.imag >= -1e-9]
        # the rightmost root found is the rightmost exact root (Newton's 1e-10 step)
        assert roots.rightmost[e] == pytest.approx(exact[0], rel=1e-8)
        assert roots.n_unstable[e] == 2 * np.sum((exact.real > 0) & (exact.imag > 1e-9)) + \
            np.sum((exact.real > 0) & (np.abs(exact.imag) <= 1e-9))


def test_mean_channel_only_eigenvalue_solves_its_own_equation(states):
    point = states.sel(g=5.0, eta=2.0, solution=0)
    net = LIFNetwork()
    nu = float(point["r0"][0])
    lam = complex(point["growth_rate_mean_only"], 2 * np.pi * point["oscillation_freq_mean_only"])
    arrays = network_arrays([net])
    mu, sigma = arrays.moments(np.array([nu]))
    chi_mu, _ = lif.laplace_response(lam, mu[0], sigma[0], step=0.08, **KW)
    assert abs(1.0 - np.exp(-lam * net.delay) * chi_mu * arrays.W[0]) < 1e-6
    # leaving the variance channel out moves the leading root a lot at g = 5: it is not small
    both = complex(point["growth_rate"][0], 2 * np.pi * point["oscillation_freq"][0])
    assert abs(lam - both) > 0.3 * abs(both)


def test_high_frequency_chain_limit(states):
    point = states.sel(g=5.0, eta=2.0, solution=0)
    net = LIFNetwork()
    nu = float(point["r0"][0])
    arrays = network_arrays([net])
    _, sigma = arrays.moments(np.array([nu]))
    share = nu * arrays.S[0] / sigma[0] ** 2  # recurrent share of the input variance
    assert float(point["loop_gain_limit"]) == pytest.approx(share, rel=1e-12)
    assert float(point["growth_rate_limit"]) == pytest.approx(math.log(share) / net.delay)


# --------------------------------------------------------------------------------------------
# linear response, sweeps, spectrum
# --------------------------------------------------------------------------------------------

def test_linear_response_is_the_closed_loop_formula(states):
    point = states.sel(g=5.0, eta=2.0, solution=0, population="E")
    net = LIFNetwork()
    arrays = network_arrays([net])
    nu = float(point["r0"])
    mu, sigma = arrays.moments(np.array([nu]))
    f = point["freq"].values
    lam = 2j * np.pi * f
    chi_mu, chi_var = lif.laplace_response(lam, mu[0], sigma[0], **KW)
    external = chi_mu * arrays.W_ext[0] + chi_var * arrays.S_ext[0]
    loop = chi_mu * arrays.W[0] + chi_var * arrays.S[0]
    expected = external / (1.0 - np.exp(-lam * net.delay) * loop)
    # the same formula; the threshold integration may take other step counts in another
    # batch of lambdas (its error, ~1e-9, differs): 1e-8
    np.testing.assert_allclose(point["gain"], np.abs(expected), rtol=1e-8)
    np.testing.assert_allclose(point["phase"], np.angle(expected), atol=1e-8)


def test_static_response_is_the_slope_of_the_self_consistent_rate(states):
    # independent of chi: d nu* / d nu_ext by differentiating the self-consistent solution
    # (central difference in eta, step 1e-4: error ~ 1e-8 relative)
    net = LIFNetwork()
    d = 1e-4
    rates = [self_consistent_rates(network_arrays([LIFNetwork(eta=2.0 + s)]))[0][0]
             for s in (-d, d)]
    slope = (rates[1] - rates[0]) / (2 * d * net.nu_thr)
    gain0 = float(states["gain"].sel(g=5.0, eta=2.0, solution=0, population="E", freq=0.0))
    assert gain0 == pytest.approx(slope, rel=1e-6)


def test_a_grid_point_equals_its_own_computation(states):
    single = lif.mean_field(LIFNetwork(g=8.0, eta=2.0), freqs=[0.0, 10.0, 100.0])
    point = states.sel(g=8.0, eta=2.0)
    for name in ("r0", "mu", "sigma", "gain", "phase", "n_unstable", "stable"):
        np.testing.assert_array_equal(point[name].values, single[name].values)
    np.testing.assert_allclose(point["growth_rate"], single["growth_rate"], rtol=1e-9)


def test_mean_field_schema(states):
    assert states["r0"].dims == ("g", "eta", "solution", "population")
    assert states["gain"].dims == ("g", "eta", "solution", "population", "freq")
    for name, variable in states.variables.items():
        assert "units" in variable.attrs and "long_name" in variable.attrs, name


def test_population_spectrum_limits_and_formula():
    net = LIFNetwork()
    f = np.array([0.05, 125.0, 700.0, 20000.0])
    ds = lif.population_spectrum(net, f)
    r0 = float(ds["r0"])
    # the single-neuron spectrum: 2 r0 CV^2 at f -> 0 (renewal), 2 r0 at high frequency
    assert float(ds["psd_single"][0]) == pytest.approx(2 * r0 * float(ds["cv"]) ** 2,
                                                       rel=1e-3)
    assert float(ds["psd_single"][-1]) == pytest.approx(2 * r0, rel=1e-3)
    # the resonance (the lowest root, ~125 Hz) and the first delay peak stand far above
    # Poisson; at 20 kHz the E spectrum is back to the high-frequency loop's level
    poisson_e = 2 * r0 / net.N_E
    assert float(ds["psd"].sel(population="E", freq=125.0)) > 100 * poisson_e
    assert float(ds["psd"].sel(population="E", freq=700.0)) > 10 * poisson_e


def test_mean_field_validation(models_dir):
    from neurorect.modelfile import load_model

    with pytest.raises(ModelError, match=r"\[lif_network\]"):
        lif.mean_field(load_model(models_dir / "single_neuron.toml"))
    with pytest.raises(ModelError, match="not a numeric"):
        lif.mean_field(LIFNetwork(), grid={"lif_network.external": ["white"]})
    with pytest.raises(ModelError, match="lif_network.g"):
        lif.mean_field(LIFNetwork(), grid={"lif_network.g": [-1.0]})
