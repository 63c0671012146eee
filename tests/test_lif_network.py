"""Brunel's E-I network: the [lif_network] table, the Brian2 network and its analysis, the
matched rate network; the full model A against mean-field theory (slow)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurorect import lif
from neurorect.brian2_lif.network_runner import external_rate, fixed_in_degree
from neurorect.crossval import delayed_eigenvalues, delayed_response, matched_network
from neurorect.crossval.matched import rate_network_theory
from neurorect.errors import ModelError
from neurorect.modelfile import dumps_model, load_model, loads_model
from neurorect.spec_lif import LIFNetwork
from neurorect.theory import fixed_point

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing")


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

def test_brunel_ai_loads_with_the_issue_parameters(models_dir):
    model = load_model(models_dir / "brunel_ai.toml")
    net = model.lif_network
    assert (net.N_E, net.N_I, net.C_E, net.C_I) == (8000, 2000, 800, 200)
    assert (net.J, net.g, net.eta, net.delay) == (1e-4, 5.0, 2.0, 1.5e-3)
    assert (net.tau_m, net.v_th, net.v_reset, net.t_ref) == (0.02, 0.02, 0.01, 0.002)
    assert net.nu_thr == pytest.approx(12.5, rel=1e-15)  # v_th / (J C_E tau_m)
    again = loads_model(dumps_model(model))
    assert again == model


def test_dotted_paths_reach_every_parameter(models_dir):
    model = load_model(models_dir / "brunel_ai.toml")
    assert model.get_value("lif_network.g") == 5.0
    changed = model.with_values({"lif_network.g": 6.0, "lif_network.eta": "1.5",
                                 "lif_network.delay": "2 ms"})
    assert (changed.lif_network.g, changed.lif_network.eta) == (6.0, 1.5)
    assert changed.lif_network.delay == 0.002 and model.lif_network.g == 5.0


@pytest.mark.parametrize("change, match", [
    ({"lif_network.delay": "1.55 ms"}, "whole number of Brian2 steps"),
    ({"lif_network.mod_freqs": [5.0, 10.0]}, r"second order \(10 = 2 x 5\)"),
    ({"lif_network.mod_freqs": [7.0, 17.0, 24.0]}, r"\(7 = \|17 - 24\|\)"),
    ({"lif_network.mod_freqs": [7.0, 7.0]}, "distinct"),
    ({"lif_network.mod_freqs": [7.0, 17.0], "lif_network.mod_depth": 0.6}, "negative"),
    ({"lif_network.C_E": 8000}, "C_E"),
    ({"lif_network.external": "gaussian"}, "did you mean 'poisson'|allowed: poisson, white"),
    ({"lif_network.J": "0.1 ms"}, "wrong dimension"),
    ({"lif_network.mod_freqs": [6000.0]}, "mod_freqs"),
])
def test_bad_values_name_the_file_and_the_key(models_dir, change, match):
    model = load_model(models_dir / "brunel_ai.toml")
    with pytest.raises(ModelError, match=match) as info:
        model.with_values(change)
    assert "brunel_ai.toml" in str(info.value) and "lif_network." in str(info.value)


def test_unknown_key_gets_the_closest_name(models_dir):
    text = (models_dir / "brunel_ai.toml").read_text().replace("eta = 2.0", "etta = 2.0")
    with pytest.raises(ModelError, match=r"lif_network.etta.*did you mean 'eta'"):
        loads_model(text, source="brunel_ai.toml")


def test_a_network_file_without_rate_populations_says_how_to_get_them():
    with pytest.raises(ModelError, match="matched_network"):
        loads_model("[lif_network]\ng = 5.0\n")


# --------------------------------------------------------------------------------------------
# connectivity and input (pure numpy)
# --------------------------------------------------------------------------------------------

def test_fixed_in_degree_draws_distinct_presynaptic_neurons_without_autapses():
    rng = np.random.default_rng(4)
    pre, post = fixed_in_degree(300, 0, 240, 24, rng=rng)
    assert pre.size == post.size == 300 * 24
    pairs = set(zip(pre.tolist(), post.tolist(), strict=True))
    assert len(pairs) == pre.size  # no multapses
    assert np.all(pre != post)  # no autapses (pre and post share indices 0..239)
    assert np.all(np.bincount(post, minlength=300) == 24)
    assert pre.min() >= 0 and pre.max() < 240
    # each E neuron is chosen about equally often: in-degree sampling is uniform
    counts = np.bincount(pre, minlength=240)
    assert abs(counts.mean() - 300 * 24 / 240) < 1e-9 and counts.std() < 4 * np.sqrt(30)
    # inhibitory block: indices shifted, still no autapses
    pre_i, post_i = fixed_in_degree(300, 240, 60, 6, rng=rng)
    assert pre_i.min() >= 240 and np.all(pre_i != post_i)


def test_external_rate_is_the_multi_sine():
    spec = {"nu_ext": 25.0, "mod_depth": 0.1, "mod_freqs": [7.0, 17.0]}
    t = np.linspace(0.0, 1.0, 101)
    expected = 25.0 * (1 + 0.1 * (np.sin(2 * np.pi * 7 * t) + np.sin(2 * np.pi * 17 * t)))
    np.testing.assert_allclose(external_rate(spec, t), expected, rtol=1e-15)


# --------------------------------------------------------------------------------------------
# the matched rate network and its delayed theory
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def matched():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return matched_network(LIFNetwork(), full_output=True)


def test_matched_fixed_point_is_the_mean_field_rate(matched):
    model, info = matched
    mf = lif.mean_field(LIFNetwork(), n_eigenvalues=1)
    W = model.coupling_matrix()
    point = fixed_point(W, model.neuron_arrays().I0, model.population("E").transfer)
    # the transfer passes through (x*, nu*) by construction: equal to rounding
    np.testing.assert_allclose(point.rate, float(mf["r0"][0, 0]), rtol=1e-12)
    np.testing.assert_allclose(point.input, info.x, rtol=1e-12)
    assert point.slope[0] == pytest.approx(float(mf["slope_mu"][0]), rel=1e-12)


def test_matched_static_response_is_exact(matched):
    # with the effective input mu + kappa sigma^2 the rate network's response to the external
    # rate at f -> 0 equals the mean field's, both channels included (to the chi error)
    model, info = matched
    mf = lif.mean_field(LIFNetwork(), freqs=[0.0], n_eigenvalues=1)
    theory = rate_network_theory(model, [0.0], delay=info.delay)
    assert float(theory["gain"][0, 0]) == pytest.approx(float(mf["gain"][0, 0, 0]), rel=1e-9)


def test_matched_eigenvalue_is_close_to_the_mean_field_one(matched):
    # tau and the delay are fitted to the loop transfer over 1-200 Hz; the leading root then
    # lands near the mean field's (measured: -174/s at 118 Hz vs -159/s at 125 Hz)
    model, info = matched
    mf = lif.mean_field(LIFNetwork(), n_eigenvalues=1)
    theory = rate_network_theory(model, delay=info.delay)
    assert abs(float(theory["oscillation_freq"][0]) / float(mf["oscillation_freq"][0, 0]) - 1) < 0.1
    assert abs(float(theory["growth_rate"][0]) / float(mf["growth_rate"][0, 0]) - 1) < 0.2
    assert info.delay == pytest.approx(2.5e-3) and info.delay / 1e-4 == pytest.approx(25)


def test_shipped_model_is_what_matched_network_computes(models_dir, matched):
    shipped = load_model(models_dir / "brunel_ai.toml")
    model, _ = matched
    for name in ("E", "I"):
        a, b = shipped.population(name), model.population(name)
        assert a.tau == pytest.approx(b.tau, rel=1e-12) and a.init == pytest.approx(b.init)
        for key in ("gain", "threshold", "alpha", "baseline", "rate_min"):
            assert getattr(a.transfer, key) == pytest.approx(getattr(b.transfer, key),
                                                             rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(shipped.coupling_matrix(), model.coupling_matrix(), rtol=1e-12)
    assert [c.delay for c in shipped.connections] == [c.delay for c in model.connections]
    assert all(c.delay == pytest.approx(2.5e-3, rel=1e-12) for c in shipped.connections)


def test_lambert_w_roots_solve_the_characteristic_equation():
    tau, delay = 0.004, 0.0025
    for w in (-3.0, -0.5, 0.7, 2.0 + 1.0j):
        roots = delayed_eigenvalues(w, tau, delay)
        residual = 1.0 + roots * tau - w * np.exp(-roots * delay)
        assert np.max(np.abs(residual)) < 1e-10 * (1 + abs(w))
    # the rightmost root: real w = 0.7 < 1 is stable, its root real
    assert delayed_eigenvalues(0.7, tau, delay)[0].real < 0


def test_delayed_response_matches_the_direct_two_unit_solution():
    W = np.array([[0.2, -0.5], [0.3, -0.1]])
    slope, tau, delay = np.array([2.0, 1.5]), 0.005, 0.002
    f = np.array([0.0, 7.0, 130.0])
    h = delayed_response(W, slope, tau, delay, f, np.array([1.0, 0.5]))
    for k, freq in enumerate(f):
        z = np.exp(-2j * np.pi * freq * delay)
        a = 1 + 2j * np.pi * freq * tau
        # Cramer's rule for the 2 x 2 system written out
        m = np.array([[a - z * slope[0] * W[0, 0], -z * slope[0] * W[0, 1]],
                      [-z * slope[1] * W[1, 0], a - z * slope[1] * W[1, 1]]])
        rhs = slope * np.array([1.0, 0.5])
        det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
        expected = np.array([rhs[0] * m[1, 1] - m[0, 1] * rhs[1],
                             m[0, 0] * rhs[1] - m[1, 0] * rhs[0]]) / det
        np.testing.assert_allclose(h[k], expected, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# a small network in Brian2 (default suite: numpy target, seconds)
# --------------------------------------------------------------------------------------------

SMALL = LIFNetwork(N_E=400, N_I=100, C_E=40, C_I=10, J=2e-3, g=5.0, eta=2.0, mod_depth=0.15,
                   mod_freqs=(20.0, 50.0))


@pytest.fixture(scope="module")
def small_run():
    from neurorect.brian2_lif import simulate_network

    return simulate_network(SMALL, 0.6, transient=0.1, target="numpy", seed=3,
                            progress=False)


@pytest.mark.brian2
def test_small_network_schema(small_run):
    ds = small_run
    assert ds["population"].values.tolist() == ["E", "I"]
    assert ds["gain"].dims == ("population", "freq") and ds.sizes["freq"] == 2
    for name, variable in ds.variables.items():
        assert "units" in variable.attrs and "long_name" in variable.attrs, name
    assert ds.attrs["target"] == "numpy" and ds.attrs["seed"] == 3
    assert np.all(ds["r0_se"] > 0) and np.all(ds["gain_se"] > 0)
    # the spectrum's bins at the modulation frequencies hold its lines: left out
    freq = ds["spectrum_freq"].values
    assert np.all(np.isnan(ds["psd"].values[:, np.argmin(np.abs(freq - 20.0))]))


@pytest.mark.brian2
def test_small_network_spikes_obey_the_model(small_run):
    ds = small_run
    t, i = ds["spike_time"].values, ds["spike_neuron"].values
    assert i.min() >= 0 and i.max() < SMALL.N_E + SMALL.N_I
    order = np.lexsort((t, i))
    same = i[order][1:] == i[order][:-1]
    isi = np.diff(t[order])[same]
    # no input is accepted while refractory: every ISI lasts at least t_ref (on the grid)
    assert isi.min() >= SMALL.t_ref - 1e-9
    # r0 is the spike count over neurons and window (the estimator, written out)
    inside = t >= 0.1
    for p, (first, n) in enumerate(((0, SMALL.N_E), (SMALL.N_E, SMALL.N_I))):
        count = np.sum(inside & (i >= first) & (i < first + n))
        assert float(ds["r0"][p]) == pytest.approx(count / (n * 0.5), rel=1e-12)


@pytest.mark.brian2
def test_small_network_is_near_its_mean_field(small_run):
    # J = 2 mV is a fifth of v_th - v_reset: the diffusion approximation is coarse here
    # (measured +3 % on this seed, +13-23 % on others, SE 5-10 %); bound 50 %. The slow
    # test checks model A at its 1 % SE
    mf = lif.mean_field(SMALL, n_eigenvalues=1)
    assert np.all(np.abs(small_run["r0"].values / float(mf["r0"][0, 0]) - 1) < 0.5)


@pytest.mark.brian2
def test_same_seed_same_spikes():
    from neurorect.brian2_lif import simulate_network

    short = SMALL.__class__(**{**SMALL.__dict__, "N_E": 80, "N_I": 20, "C_E": 8, "C_I": 2,
                               "J": 1e-2, "mod_freqs": ()})
    a = simulate_network(short, 0.12, transient=0.02, target="numpy", seed=5, progress=False)
    b = simulate_network(short, 0.12, transient=0.02, target="numpy", seed=5, progress=False)
    c = simulate_network(short, 0.12, transient=0.02, target="numpy", seed=6, progress=False)
    np.testing.assert_array_equal(a["spike_time"], b["spike_time"])
    np.testing.assert_array_equal(a["spike_neuron"], b["spike_neuron"])
    assert a["spike_time"].size != c["spike_time"].size or not np.array_equal(
        a["spike_time"], c["spike_time"])



@pytest.mark.slow
@pytest.mark.brian2
def test_cpp_standalone_network_in_a_child_process(small_run, tmp_path):
    """The C++ standalone target (a child process, 2 OpenMP threads) builds the same network
    (the connectivity comes from the seed through numpy) and returns the same schema; its
    random numbers differ from the runtime target's, so rates agree within their errors."""
    from neurorect.brian2_lif import simulate_network

    ds = simulate_network(SMALL, 0.6, transient=0.1, target="cpp_standalone", threads=2,
                          seed=3, progress=False, standalone_dir=tmp_path / "project")
    assert ds.attrs["target"] == "cpp_standalone" and (tmp_path / "project").is_dir()
    assert set(small_run.data_vars) == set(ds.data_vars)
    # two independent estimates of the same rates: 4 combined SEs
    se = np.hypot(ds["r0_se"].values, small_run["r0_se"].values)
    z = (ds["r0"].values - small_run["r0"].values) / se
    assert np.all(np.abs(z) < 4), z

def test_simulate_network_validation():
    from neurorect.brian2_lif import simulate_network

    with pytest.raises(ModelError, match="target"):
        simulate_network(SMALL, 0.6, target="gpu")
    with pytest.raises(ModelError, match="periods"):
        simulate_network(SMALL, 0.3, transient=0.1, target="numpy")  # 20 Hz: 4 periods < 10
    with pytest.raises(ModelError, match="duration"):
        simulate_network(SMALL)


# --------------------------------------------------------------------------------------------
# model A (slow): Brian2 against the mean field
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_a():
    from pathlib import Path

    from neurorect.brian2_lif import simulate_network

    models = Path(__file__).resolve().parents[1] / "models"
    model = load_model(models / "brunel_ai.toml").with_values(
        {"lif_network.mod_freqs": [7.0, 17.0, 31.0], "lif_network.mod_depth": 0.1})
    run = simulate_network(model, 2.5, transient=0.5, seed=1, target="cython",
                           record_spikes=False, progress=False)
    theory = lif.mean_field(model.lif_network, freqs=[7.0, 17.0, 31.0], n_eigenvalues=1)
    return run, theory.isel(solution=0)


@pytest.mark.slow
@pytest.mark.brian2
def test_model_a_rates_against_mean_field(model_a):
    run, theory = model_a
    # The finite-size deviation (shot noise of J = 0.1 mV PSPs, shared inputs C/N = 0.1,
    # non-Poisson recurrent trains) measured on this run: -0.4 % (E) and -0.6 % (I) with a
    # block SE of 1.0 %: not resolved at 2 s. Allowed: 4 SE (+-4 %). The modulation raises
    # r0 at second order by ~0.5 nu''(eta) <(d eta)^2> ~ 0.1 %, below the SE.
    z = (run["r0"].values - theory["r0"].values) / run["r0_se"].values
    assert np.all(np.abs(z) < 4), z
    assert np.all(np.abs(run["r0"].values / theory["r0"].values - 1) < 0.04)


@pytest.mark.slow
@pytest.mark.brian2
def test_model_a_modulation_response_against_linear_response(model_a):
    run, theory = model_a
    # one run, three frequencies (multi-sine, depth 0.1 each); linear response with both
    # channels and the delay. Measured z: gain <= 0.9, phase <= 1.5. The block SE itself
    # scatters by ~24 % (10 blocks), so 4 SE is the issue's bound.
    z_gain = (run["gain"].values - theory["gain"].values) / run["gain_se"].values
    dphase = np.angle(np.exp(1j * (run["phase"].values - theory["phase"].values)))
    z_phase = dphase / run["phase_se"].values
    assert np.all(np.abs(z_gain) < 4), z_gain
    assert np.all(np.abs(z_phase) < 4), z_phase


@pytest.mark.slow
@pytest.mark.brian2
def test_model_a_spectrum_resonance_against_linear_response(model_a):
    run, _ = model_a
    freq = run["spectrum_freq"].values
    psd = run["psd"].sel(population="E").values
    band = (freq > 60) & (freq < 300)
    peak = freq[band][np.nanargmax(psd[band])]
    theory = lif.population_spectrum(LIFNetwork(), freq[band])
    # the resonance of the lowest root (125 Hz; 8 Hz bins) in both, and its height within
    # the Welch error (16 segments: +-25 % per bin; measured Brian2 570 x Poisson at
    # 120-136 Hz, theory 550-680 x)
    assert abs(peak - freq[band][np.argmax(theory["psd"].values[0])]) <= 16.0
    assert 90.0 <= peak <= 160.0
    ratio = np.nanmax(psd[band]) / np.max(theory["psd"].values[0])
    assert 0.5 < ratio < 2.0


def test_simulated_rate_network_matches_its_theory(models_dir):
    from neurorect.crossval.network import _rate_part

    model = load_model(models_dir / "brunel_ai.toml").with_values(
        {"simulation.duration": 2.0, "simulation.transient": 1.0})
    net = model.lif_network
    freqs = np.array([5.0, 20.0])
    sim, theory = _rate_part(model, 2.5e-3, net, freqs, np.zeros(0), 0.01, "simulate", False)
    # a fixed point started at its rate stays there; the file's exp_ab2 (second order, delays
    # of whole steps) at dt = 0.1 ms: measured 2e-5 relative in gain and 2e-5 rad in phase at
    # 20 Hz (exp_euler: 1e-3 and 3.5e-3), so 1e-4 bounds both with a margin of 5
    np.testing.assert_allclose(sim["r0"], theory["r0"], rtol=1e-6)
    np.testing.assert_allclose(sim["gain"], theory["gain"].values[:, :2], rtol=1e-4)
    np.testing.assert_allclose(sim["phase"], theory["phase"].values[:, :2], atol=1e-4)
