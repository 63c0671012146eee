"""Cross-validation: leaky-ReLU and tau fits, matched models, compare() and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurorect import crossval as cv
from neurorect import lif as theory
from neurorect.cli import main
from neurorect.errors import ModelError
from neurorect.modelfile import load_model
from neurorect.spec import LIFNeuron
from neurorect.transfer import LeakyReLU

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing")

LIF = LIFNeuron(tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002, sigma=0.005, dt=1e-4)
LIF_KW = dict(tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002)
MU1 = 0.001  # drives.E.I1 of models/lif_matched.toml


# --------------------------------------------------------------------------------------------
# fit_leaky_relu
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("true", [
    LeakyReLU(4000.0, 0.016, 0.2, baseline=8.0),
    LeakyReLU(2500.0, 0.012, 0.0, baseline=0.0),
    LeakyReLU(3000.0, 0.021, 0.6, baseline=-2.0),
])
def test_fit_recovers_known_parameters_from_noisy_data(true):
    rng = np.random.default_rng(12)
    mu = np.linspace(0.005, 0.03, 60)
    noise = 0.5  # Hz
    rate = true(mu) + noise * rng.standard_normal(mu.size)
    fitted, info = cv.fit_leaky_relu(mu, rate, rate_se=np.full(mu.size, noise),
                                     full_output=True)
    # with 0.5 Hz noise on 60 points the parameter SEs are ~1 % of gain, ~0.1 mV of
    # threshold, ~0.01-0.03 in alpha and ~0.2 Hz in baseline; 4 SE plus a small absolute
    # floor (for alpha = 0 at its bound, where the SE is one-sided) keeps the test strict
    for name, floor in (("gain", 0.0), ("threshold", 0.0), ("alpha", 0.01), ("baseline", 0.0)):
        value, target = getattr(fitted, name), getattr(true, name)
        assert abs(value - target) <= 4 * info.param_se[name] + floor, (name, value, target)
    assert fitted.gain == pytest.approx(true.gain, rel=0.05)
    assert fitted.threshold == pytest.approx(true.threshold, abs=5e-4)
    assert fitted.alpha == pytest.approx(true.alpha, abs=0.05)
    # a correct model with correct errors: chi^2 / dof ~ 1 (+- sqrt(2/56) = 0.19; 4 sigma)
    assert abs(info.chi2 / info.dof - 1.0) < 0.76
    assert info.rms == pytest.approx(noise, rel=0.3)


def test_fit_without_noise_is_exact():
    true = LeakyReLU(3500.0, 0.017, 0.35, baseline=6.0)
    mu = np.linspace(0.0, 0.03, 31)
    fitted = cv.fit_leaky_relu(mu, true(mu))
    for name in ("gain", "threshold", "alpha", "baseline"):
        assert getattr(fitted, name) == pytest.approx(getattr(true, name), rel=1e-6, abs=1e-9)


def test_clipped_fit_recovers_a_rectified_leaky_relu():
    true = LeakyReLU(4000.0, 0.018, 0.3, rate_min=0.0, baseline=10.0)
    mu = np.linspace(0.0, 0.03, 61)  # phi hits 0 below mu = 9.7 mV
    rng = np.random.default_rng(3)
    rate = true(mu) + 0.3 * rng.standard_normal(mu.size)
    fitted = cv.fit_leaky_relu(mu, rate, clip=True)
    assert fitted.rate_min == 0.0
    # noise 0.3 Hz: parameter errors ~1 % (gain), ~0.1 mV, ~0.01 (alpha), ~0.2 Hz
    assert fitted.gain == pytest.approx(4000.0, rel=0.03)
    assert fitted.threshold == pytest.approx(0.018, abs=3e-4)
    assert fitted.alpha == pytest.approx(0.3, abs=0.03)
    assert fitted.baseline == pytest.approx(10.0, abs=0.6)
    # unclipped, the same data cannot be fitted as well
    rms_clipped = np.sqrt(np.mean((fitted(mu) - rate) ** 2))
    free = cv.fit_leaky_relu(mu, rate)
    assert rms_clipped < np.sqrt(np.mean((free(mu) - rate) ** 2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(mu=[1, 2, 3], rate=[1, 2]), "different lengths"),
    (dict(mu=[1, 2, 3, 4], rate=[1, 2, 3, 4]), "too few"),
    (dict(mu=np.arange(6.0), rate=[0, 1, np.nan, 3, 4, 5]), "finite"),
    (dict(mu=np.arange(6.0), rate=np.arange(6.0), rate_se=0.0), "rate_se"),
])
def test_fit_rejects_bad_input(kwargs, match):
    with pytest.raises(ModelError, match=match):
        cv.fit_leaky_relu(**kwargs)


def test_noise_buys_the_leak_slope():
    # a noiseless LIF is silent below threshold (alpha ~ 0); noise makes it respond there
    mu_range = (0.01, 0.03)
    alphas = [cv.fit_siegert(LIF, mu_range, sigma=s).alpha for s in (0.0005, 0.003, 0.006)]
    assert alphas[0] < 0.05
    assert alphas[0] < alphas[1] < alphas[2]


def test_fit_siegert_approximates_the_curve():
    transfer, info = cv.fit_siegert(LIF, full_output=True)
    mu = info.extras["mu"]
    siegert = theory.siegert_rate(mu, 0.005, **LIF_KW)
    np.testing.assert_allclose(info.extras["rate"], siegert)
    # a piecewise-linear curve through a smooth convex-concave one over 10-30 mV (0-66 Hz):
    # residuals of a few tenths of a Hz
    assert info.rms < 1.0
    assert np.max(np.abs(transfer(mu) - siegert)) < 2.0
    lo, hi = cv.default_mu_range(LIF)
    assert (lo, hi) == pytest.approx((0.01, 0.03))


def test_fit_to_brian2_f_i_curve_agrees_with_the_siegert_fit():
    lif = LIFNeuron(tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002, sigma=0.005, dt=1e-4)
    fitted, info = cv.fit_to_lif(lif, (0.012, 0.028), n_points=7, source="brian2",
                                 duration=1.0, transient=0.2, n_neurons=100, target="numpy",
                                 seed=2, full_output=True)
    siegert = cv.fit_siegert(lif, (0.012, 0.028), n_points=7)
    assert info.extras["rate_se"] is not None and np.all(info.extras["rate_se"] > 0)
    # 80 neuron-seconds per point: rate errors ~0.3-0.5 Hz over 0-55 Hz; the fitted gain
    # (~2.5-4 Hz/mV) agrees to ~10 % and the rates within ~1 Hz
    assert fitted.gain == pytest.approx(siegert.gain, rel=0.15)
    mu = info.extras["mu"]
    assert np.max(np.abs(fitted(mu) - siegert(mu))) < 2.0


# --------------------------------------------------------------------------------------------
# fit_lowpass_tau
# --------------------------------------------------------------------------------------------

def test_lowpass_tau_is_exact_on_a_lowpass():
    f = np.geomspace(0.5, 200, 25)
    chi = 7.0 / (1 + 2j * np.pi * f * 0.0123)
    assert cv.fit_lowpass_tau(f, chi, chi0=7.0) == pytest.approx(0.0123, rel=1e-6)
    with_zero = np.concatenate([[0.0], f])
    assert cv.fit_lowpass_tau(with_zero, np.concatenate([[7.0], chi])) == pytest.approx(
        0.0123, rel=1e-6)


def test_lowpass_tau_from_noisy_samples():
    rng = np.random.default_rng(5)
    f = np.geomspace(1, 100, 20)
    chi = 1 / (1 + 2j * np.pi * f * 0.008)
    noisy = chi + 0.01 * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))
    # complex noise of 0.01 per point on 20 points: tau to ~2 %
    assert cv.fit_lowpass_tau(f, noisy, chi0=1.0) == pytest.approx(0.008, rel=0.05)


def test_lowpass_tau_of_the_lif_is_shorter_than_tau_m():
    f = np.geomspace(1, 100, 30)
    chi = theory.susceptibility(f, 0.015, 0.005, **LIF_KW)
    chi0 = theory.siegert_derivative(0.015, 0.005, **LIF_KW)
    tau = cv.fit_lowpass_tau(f, chi, chi0=chi0)
    assert 0.002 < tau < 0.02
    with pytest.raises(ModelError, match="chi0"):
        cv.fit_lowpass_tau(f, chi)


# --------------------------------------------------------------------------------------------
# matched model and compare
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model(models_dir_module):
    return load_model(models_dir_module / "lif_matched.toml")


@pytest.fixture(scope="module")
def models_dir_module():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "models"


def test_matched_model_refits_transfer_and_tau(model):
    matched = cv.matched_model(model)
    pop = matched.population("E")
    expected = cv.fit_siegert(model.lif)
    assert pop.transfer == expected
    f = np.geomspace(1.0, 100.0, 30)
    chi = theory.susceptibility(f, 0.015, 0.005, **LIF_KW)
    chi0 = theory.siegert_derivative(0.015, 0.005, **LIF_KW)
    assert pop.tau == pytest.approx(cv.fit_lowpass_tau(f, chi, chi0=chi0))
    assert pop.form == model.population("E").form
    assert matched.lif == model.lif
    untouched = cv.matched_model(model, fit_tau=False)
    assert untouched.population("E").tau == model.population("E").tau


@pytest.fixture(scope="module")
def small_compare(model):
    return cv.compare(cv.matched_model(model), [4.0, 12.0, 30.0], fi_mu=[0.01, 0.02, 0.03],
                      n_neurons=80, duration=1.0, transient=0.25, dt=1e-4, target="numpy",
                      seed=9)


def test_compare_schema(small_compare):
    ds = small_compare
    assert ds["source"].values.tolist() == ["rate", "lif_brian2", "lif_theory"]
    assert ds["r0"].dims == ("source", "freq") and ds["fi_rate"].dims == ("source", "mu")
    for name, variable in ds.variables.items():
        assert "units" in variable.attrs and "long_name" in variable.attrs, name
    for name in ("r0_se", "gain_se", "phase_se"):
        values = ds[name]
        assert np.all(np.isnan(values.sel(source="rate")))
        assert np.all(np.isnan(values.sel(source="lif_theory")))
        assert np.all(values.sel(source="lif_brian2") > 0)
    assert np.all(np.isnan(ds["z_gain"].sel(source="lif_theory")))
    assert np.all(np.isnan(ds["rel_gain"].sel(source="lif_theory")))
    assert ds.attrs["brian2_threshold_correction"] == "bridge"
    assert ds.attrs["mu0"] == 0.015 and ds.attrs["mu1"] == MU1


def test_compare_theory_and_rate_columns(small_compare, model):
    ds = small_compare
    f = ds["freq"].values
    chi = theory.susceptibility(f, 0.015, 0.005, **LIF_KW)
    np.testing.assert_allclose(ds["gain"].sel(source="lif_theory"), np.abs(chi))
    np.testing.assert_allclose(ds["phase"].sel(source="lif_theory"), np.angle(chi))
    np.testing.assert_allclose(ds["r0"].sel(source="lif_theory"),
                               theory.siegert_rate(0.015, 0.005, **LIF_KW))
    from neurorect.theory import sinusoid_response

    matched = cv.matched_model(model)
    pop = matched.population("E")
    expected = sinusoid_response(pop.transfer, 0.015, MU1, f, tau=pop.tau, form=pop.form)
    np.testing.assert_allclose(ds["gain"].sel(source="rate"), expected["gain"].values)
    np.testing.assert_allclose(ds["phase"].sel(source="rate"),
                               expected["phase"].sel(harmonic=1).values)
    np.testing.assert_allclose(ds["fi_rate"].sel(source="rate"), pop.transfer(ds["mu"].values))
    # every source is scored against theory: z = (source - theory) / brian2 SE, and
    # relative errors (issue 10.7: the rate model's offset is scored too)
    b = ds.sel(source="lif_brian2")
    t = ds.sel(source="lif_theory")
    for source in ("lif_brian2", "rate"):
        s = ds.sel(source=source)
        np.testing.assert_allclose(s["z_gain"], (s["gain"] - t["gain"]) / b["gain_se"])
        np.testing.assert_allclose(s["z_r0"], (s["r0"] - t["r0"]) / b["r0_se"])
        np.testing.assert_allclose(s["rel_gain"], s["gain"] / t["gain"] - 1)
        np.testing.assert_allclose(s["dphase"], np.angle(np.exp(1j * (s["phase"]
                                                                     - t["phase"]))))


def test_compare_brian2_is_consistent_with_theory_at_low_statistics(small_compare):
    # 60 neuron-seconds per condition: gain SE ~5-10 %, phase SE ~0.05-0.1 rad. The split
    # SE is itself uncertain (40 subsets of 2 neurons; ~+-11 %) and linear response ignores
    # O(mu1^2), so allow 4 SE here; the slow tests check 3 SE at high statistics.
    z = small_compare.sel(source="lif_brian2")
    assert np.all(np.abs(z["z_gain"]) < 4), z["z_gain"].values
    assert np.all(np.abs(z["z_phase"]) < 4), z["z_phase"].values
    assert np.all(np.abs(small_compare["z_fi"].sel(source="lif_brian2")) < 4)


def test_compare_simulated_rate_model_matches_the_analytic_one(model):
    matched = cv.matched_model(model).with_values({"simulation.duration": 1.5,
                                                   "simulation.transient": 0.5})
    f = np.array([5.0, 20.0])
    from neurorect.crossval.single import _rate_response

    a = _rate_response(matched, "E", 0.015, 0.002, f, "analytic", 3)
    s = _rate_response(matched, "E", 0.015, 0.002, f, "simulate", 3)
    # exponential Euler at dt = 0.1 ms with the sinusoid held over each step: phase lags by
    # ~pi f dt (<= 0.006 rad at 20 Hz), gain and mean agree to < 0.5 %
    np.testing.assert_allclose(s[0], a[0], rtol=5e-3)
    np.testing.assert_allclose(s[1], a[1], rtol=5e-3)
    np.testing.assert_allclose(s[2], a[2], atol=0.01)


@pytest.mark.parametrize("change, kwargs, match", [
    ({"drives.E.noise": {"kind": "ou", "sigma": 0.001, "tau": 0.01}}, {}, "plain sinusoidal"),
    ({}, {"mu1": 0.0}, "amplitude"),
    ({}, {"freqs": [5.0, 5.0]}, "distinct"),
    ({}, {"freqs": [-1.0]}, "finite and positive"),
])
def test_compare_rejects_bad_requests(model, change, kwargs, match):
    m = model.with_values(change) if change else model
    args = {"freqs": [5.0], **kwargs}
    with pytest.raises(ModelError, match=match):
        cv.compare(m, args.pop("freqs"), target="numpy", **args)


def test_compare_needs_an_lif_table(models_dir_module):
    m = load_model(models_dir_module / "single_neuron.toml")
    with pytest.raises(ModelError, match=r"\[lif\]"):
        cv.compare(m, [5.0], target="numpy")


def test_format_table_and_figures(small_compare, tmp_path):
    text = cv.format_table(small_compare)
    assert "r0 brian2" in text and "f-I curve" in text
    bode, fi = text.split("f-I curve")
    assert sum(line.strip().startswith(("4 ", "12 ", "30 ")) for line in bode.splitlines()) == 3
    assert len(fi.strip().splitlines()) == 2 + 3
    assert "Siegert rate at mu0" in text
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3)
    from neurorect.plotting import plot_crossval_bode, plot_fi

    assert plot_fi(axes[0], small_compare)
    assert plot_crossval_bode(axes[1], axes[2], small_compare)
    plt.close(figure)


def _cli(args, capsys):
    code = main(args)
    return code, capsys.readouterr()


def test_cli_crossval_writes_netcdf_and_figure(models_dir_module, tmp_path, capsys):
    out, fig = tmp_path / "cv.nc", tmp_path / "cv.png"
    common = [str(models_dir_module / "lif_matched.toml"), "--n-neurons", "40",
              "--duration", "0.8 s", "--transient", "0.2 s", "--dt", "0.1 ms",
              "--target", "numpy", "--fi-points", "3"]
    code, printed = _cli(["crossval", *common, "--freqs", "5,15", "--out", str(out),
                          "--plot", str(fig)], capsys)
    assert code == 0
    assert "threshold correction bridge" in printed.out and "from the model file" in printed.out
    assert out.exists() and fig.stat().st_size > 10_000
    with xr.open_dataset(out) as ds:
        assert ds.sizes["freq"] == 2 and ds.sizes["mu"] == 3 and ds.sizes["source"] == 3
        assert ds.attrs["brian2_target"] == "numpy"
        first = (ds.attrs["rate_transfer"], ds.attrs["rate_tau"])
    # issue 10.7: the matched model does not move with --freqs (the file's, or --refit's
    # fixed 1-100 Hz tau fit)
    out2 = tmp_path / "cv2.nc"
    code, printed = _cli(["crossval", *common, "--freqs", "3,40", "--out", str(out2)], capsys)
    assert code == 0
    with xr.open_dataset(out2) as ds:
        assert (ds.attrs["rate_transfer"], ds.attrs["rate_tau"]) == first
    target = tmp_path / "refit.nc"
    code, printed = _cli(["crossval", *common, "--freqs", "3,40", "--refit", "--out",
                          str(target)], capsys)
    assert code == 0 and "refitted to Siegert" in printed.out
    expected = cv.matched_model(load_model(models_dir_module / "lif_matched.toml"))
    with xr.open_dataset(target) as ds:  # the refit's tau comes from 1-100 Hz, not --freqs
        assert ds.attrs["rate_tau"] == expected.population("E").tau
        assert ds.attrs["rate_transfer"] != first[0]


def test_cli_reports_model_errors(models_dir_module, capsys):
    code = main(["crossval", str(models_dir_module / "single_neuron.toml"), "--target",
                 "numpy"])
    assert code == 2
    assert "[lif]" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# networks: compare_network and the CLI on a small network (numpy target)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_network_model(tmp_path_factory):
    import warnings

    from neurorect.modelfile import dump_model
    from neurorect.spec import Simulation
    from neurorect.spec_lif import LIFNetwork

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cv.matched_network(LIFNetwork(N_E=400, N_I=100, C_E=40, C_I=10, J=2e-3))
    model = model.replace(name="small_brunel",
                          simulation=Simulation(dt=1e-4, duration=0.6, transient=0.1, seed=2))
    path = tmp_path_factory.mktemp("net") / "small_brunel.toml"
    dump_model(model, path)
    return load_model(path)


@pytest.fixture(scope="module")
def network_cli(small_network_model, tmp_path_factory):
    """``neurorect crossval`` on the small network: its output and its netCDF result."""
    import contextlib
    import io
    import warnings

    folder = tmp_path_factory.mktemp("netcli")
    out, fig = folder / "net.nc", folder / "net.png"
    stdout, stderr = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        warnings.simplefilter("ignore")  # no rate-engine delays yet: the refit warning
        code = main(["crossval", small_network_model.source, "--freqs", "20", "50",
                     "--depth", "0.15", "--target", "numpy", "--out", str(out),
                     "--plot", str(fig)])
    with xr.open_dataset(out) as ds:
        return code, stdout.getvalue(), stderr.getvalue(), ds.load(), fig


@pytest.mark.brian2
def test_cli_crossval_network(network_cli):
    code, out, err, ds, fig = network_cli
    assert code == 0, err
    assert "Brunel model A" in out and "leading eigenvalue" in out and "rates (Hz)" in out
    assert fig.stat().st_size > 20_000
    assert ds.sizes["source"] == 3 and ds.attrs["brian2_target"] == "numpy"


@pytest.mark.brian2
def test_compare_network_columns(network_cli, small_network_model):
    ds = network_cli[3]
    assert ds["source"].values.tolist() == ["brian2", "mean_field", "rate_model"]
    assert ds["gain"].dims == ("source", "population", "freq")
    for name, variable in ds.variables.items():
        assert "units" in variable.attrs and "long_name" in variable.attrs, name
    net = small_network_model.lif_network
    mf = theory.mean_field(net, freqs=[20.0, 50.0]).isel(solution=0)
    np.testing.assert_allclose(ds["r0"].sel(source="mean_field"), mf["r0"], rtol=1e-12)
    np.testing.assert_allclose(ds["gain"].sel(source="mean_field"), mf["gain"], rtol=1e-8)
    # the rate network's fixed point is the mean-field rate (its transfer passes through it)
    np.testing.assert_allclose(ds["r0"].sel(source="rate_model"), mf["r0"], rtol=1e-9)
    # scores: every source against the mean field, in Brian2 SEs, and relative errors
    b, m = ds.sel(source="brian2"), ds.sel(source="mean_field")
    for source in ("brian2", "rate_model"):
        s = ds.sel(source=source)
        np.testing.assert_allclose(s["z_gain"], (s["gain"] - m["gain"]) / b["gain_se"])
        np.testing.assert_allclose(s["rel_r0"], s["r0"] / m["r0"] - 1)
    assert np.all(np.isnan(m["z_gain"]))
    assert np.isfinite(ds["growth_rate"].sel(source="mean_field"))
    assert ds["psd_mean_field"].dims == ("population", "spectrum_freq")
    text = cv.format_network_table(ds)
    assert "rates (Hz)" in text and text.count("| ") > 10


def test_cli_network_errors_are_one_line(small_network_model, capsys):
    code, printed = _cli(["crossval", small_network_model.source, "--freqs", "10", "20",
                          "--target", "numpy"], capsys)
    assert code == 2 and "second order" in printed.err
