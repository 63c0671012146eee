"""Figures draw what the result holds: line data, error bars, axis scales and labels."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest
import xarray as xr

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neurorect import lif as theory  # noqa: E402
from neurorect.plotting import (  # noqa: E402
    plot_bode_family,
    plot_crossval_bode,
    plot_fi,
    plot_frequency_response,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pyparsing")

SOURCES = ["rate", "lif_brian2", "lif_theory"]


@pytest.fixture
def axes():
    figure, (ax_gain, ax_phase) = plt.subplots(2, 1)
    yield ax_gain, ax_phase
    plt.close(figure)


def _data_line(container) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the points of an errorbar container."""
    line = container.lines[0]
    return np.asarray(line.get_xdata()), np.asarray(line.get_ydata())


def _bar_half_lengths(container) -> np.ndarray:
    """Half the length of each vertical error bar of an errorbar container."""
    segments = container.lines[2][0].get_segments()
    return np.array([abs(s[1, 1] - s[0, 1]) / 2 for s in segments])


# --------------------------------------------------------------------------------------------
# plot_frequency_response
# --------------------------------------------------------------------------------------------

def _response(freq: np.ndarray, *, se: bool) -> xr.Dataset:
    gain = np.stack([10.0 / (1 + freq / 20.0), 5.0 / (1 + freq / 40.0)])
    phase = -np.arctan(freq / 20.0)
    data = {
        "gain": (("population", "freq"), gain, {"units": "Hz per drive unit"}),
        "phase": (("population", "freq", "harmonic"),
                  np.stack([phase, phase / 2])[..., None] * np.array([1.0, 2.0])),
    }
    if se:
        data["gain_se"] = (("population", "freq"), 0.1 * gain)
        data["phase_se"] = (("population", "freq", "harmonic"), np.full((2, freq.size, 2), 0.05))
    return xr.Dataset(data, coords={"population": ["E", "I"], "freq": freq, "harmonic": [1, 2]},
                      attrs={"driven_population": "I", "method": "simulate"})


def test_frequency_response_draws_the_driven_population_with_error_bars(axes):
    ax_gain, ax_phase = axes
    freq = np.array([1.0, 3.0, 10.0, 30.0])
    response = _response(freq, se=True)
    reference = _response(np.geomspace(1.0, 30.0, 50), se=False).assign_attrs(method="exact")
    artists = plot_frequency_response(ax_gain, ax_phase, response, reference=reference)
    gain_line, phase_line, gain_points, phase_points = artists
    # the reference line underneath: population I (the driven one), harmonic 1
    np.testing.assert_array_equal(gain_line.get_xdata(), reference["freq"].values)
    np.testing.assert_array_equal(gain_line.get_ydata(), reference["gain"].sel(population="I"))
    np.testing.assert_array_equal(phase_line.get_ydata(),
                                  reference["phase"].sel(population="I", harmonic=1))
    x, y = _data_line(gain_points)
    np.testing.assert_array_equal(x, freq)
    np.testing.assert_array_equal(y, response["gain"].sel(population="I"))
    np.testing.assert_allclose(_bar_half_lengths(gain_points),
                               response["gain_se"].sel(population="I"))
    np.testing.assert_array_equal(_data_line(phase_points)[1],
                                  response["phase"].sel(population="I", harmonic=1))
    np.testing.assert_allclose(_bar_half_lengths(phase_points), 0.05)
    assert (ax_gain.get_xscale(), ax_gain.get_yscale()) == ("log", "log")
    assert (ax_phase.get_xscale(), ax_phase.get_yscale()) == ("log", "linear")
    assert ax_gain.get_ylabel() == "gain (Hz per drive unit)"
    assert ax_phase.get_ylabel() == "phase (rad)"
    assert ax_phase.get_xlabel() == "drive frequency (Hz)"
    assert [t.get_text() for t in ax_gain.get_legend().get_texts()] == [
        "exact", "simulation (+- SE)"]


def test_frequency_response_of_a_chosen_population_without_errors(axes):
    ax_gain, ax_phase = axes
    response = _response(np.array([2.0, 4.0, 8.0]), se=False)
    (gain_points, phase_points) = plot_frequency_response(ax_gain, ax_phase, response,
                                                          population="E", label="mine")
    np.testing.assert_array_equal(_data_line(gain_points)[1],
                                  response["gain"].sel(population="E"))
    assert not gain_points.has_yerr
    assert ax_gain.get_legend().get_texts()[0].get_text() == "mine"


# --------------------------------------------------------------------------------------------
# plot_bode_family
# --------------------------------------------------------------------------------------------

def _sweep(gain_offset: float = 0.0) -> xr.Dataset:
    alpha = np.array([0.0, 0.5, 1.0])
    freq = np.geomspace(1.0, 100.0, 6)
    gain = (1.0 + alpha[:, None]) / (1 + freq[None, :] / 10.0) + gain_offset
    phase = -np.arctan(freq / 10.0)[None, :] * (1 + alpha[:, None])
    return xr.Dataset(
        {"gain": (("alpha", "freq", "population"), gain[..., None] * [1.0, 3.0],
                  {"units": "Hz per drive unit", "long_name": "gain"}),
         "phase": (("alpha", "freq", "population", "harmonic"),
                   phase[..., None, None] * np.ones((1, 1, 2, 2)),
                   {"units": "rad", "long_name": "phase"})},
        coords={"alpha": ("alpha", alpha, {"units": "1", "long_name": "leak slope",
                                           "path": "populations.E.transfer.alpha"}),
                "freq": ("freq", freq, {"units": "Hz", "long_name": "drive frequency",
                                        "path": "drives.E.freq"}),
                "population": ["E", "I"], "harmonic": [1, 2]},
        attrs={"sweep_dims": json.dumps([["alpha", ["populations.E.transfer.alpha"]],
                                         ["freq", ["drives.E.freq"]]])})


def test_bode_family_draws_one_curve_per_family_value(axes):
    ax_gain, ax_phase = axes
    sweep = _sweep()
    artists = plot_bode_family(ax_gain, sweep, phase_ax=ax_phase, population="I")
    gains = ax_gain.get_lines()
    phases = ax_phase.get_lines()
    assert len(gains) == len(phases) == 3 and len(artists) == 6
    for i, alpha in enumerate(sweep["alpha"].values):
        np.testing.assert_array_equal(gains[i].get_xdata(), sweep["freq"].values)
        np.testing.assert_array_equal(gains[i].get_ydata(),
                                      sweep["gain"].sel(alpha=alpha, population="I"))
        np.testing.assert_array_equal(phases[i].get_ydata(),
                                      sweep["phase"].sel(alpha=alpha, population="I",
                                                         harmonic=1))
        assert gains[i].get_color() == phases[i].get_color()
    assert [t.get_text() for t in ax_gain.get_legend().get_texts()] == [
        "alpha = 0", "alpha = 0.5", "alpha = 1"]
    assert (ax_gain.get_xscale(), ax_gain.get_yscale(), ax_phase.get_xscale()) == (
        "log", "log", "log")
    assert ax_gain.get_ylabel() == "gain (Hz per drive unit)"
    assert ax_phase.get_ylabel() == "phase (rad)"
    assert ax_phase.get_xlabel() == "drive frequency freq (Hz)"
    assert ax_gain.get_xlabel() == ""
    assert ax_gain.get_title() == "population = I"


def test_bode_family_keeps_a_linear_gain_axis_for_non_positive_values(axes):
    ax_gain, _ = axes
    plot_bode_family(ax_gain, _sweep(gain_offset=-0.5))
    assert (ax_gain.get_xscale(), ax_gain.get_yscale()) == ("log", "linear")
    assert ax_gain.get_xlabel() == "drive frequency freq (Hz)"


# --------------------------------------------------------------------------------------------
# plot_crossval_bode and plot_fi
# --------------------------------------------------------------------------------------------

def _crossval(*, fine_rate: bool = True, fine: bool = True) -> xr.Dataset:
    """A compare()-shaped result with made-up numbers (gains in Hz/V)."""
    freq = np.array([20.0, 2.0, 8.0])  # unsorted: the lines must be drawn in order
    mu = np.array([0.01, 0.02, 0.03])
    gain = np.stack([3000.0 / (1 + freq / 30.0), 2800.0 / (1 + freq / 25.0),
                     2900.0 / (1 + freq / 28.0)])
    phase = -np.stack([np.arctan(freq / s) for s in (30.0, 25.0, 28.0)])
    nan = np.full(freq.size, np.nan)
    data = {"gain": (("source", "freq"), gain), "phase": (("source", "freq"), phase),
            "gain_se": (("source", "freq"), np.stack([nan, 0.05 * gain[1], nan])),
            "phase_se": (("source", "freq"), np.stack([nan, [0.1, 0.2, 0.3], nan])),
            "fi_rate": (("source", "mu"), np.stack([mu * 2000, mu * 1900, mu * 2100])),
            "fi_rate_se": (("source", "mu"), np.stack([nan, [0.5, 1.0, 1.5], nan]))}
    coords = {"source": SOURCES, "freq": freq, "mu": mu}
    if fine:
        fine_freq = np.geomspace(2.0, 20.0, 7)
        fine_mu = np.linspace(0.01, 0.03, 9)
        fine_gain = np.stack([1000.0 + fine_freq, np.full(7, np.nan), 2000.0 + fine_freq])
        if not fine_rate:
            fine_gain[0] = np.nan
        data.update(fine_gain=(("source", "fine_freq"), fine_gain),
                    fine_phase=(("source", "fine_freq"), -fine_gain / 1e4),
                    fine_fi_rate=(("source", "fine_mu"),
                                  np.stack([fine_mu * 1000, np.full(9, np.nan), fine_mu * 3000])))
        coords.update(fine_freq=fine_freq, fine_mu=fine_mu)
    return xr.Dataset(data, coords=coords)


def test_crossval_bode_draws_the_dense_curves_and_the_brian2_points(axes):
    ax_gain, ax_phase = axes
    result = _crossval()
    artists = plot_crossval_bode(ax_gain, ax_phase, result)
    theory_gain, theory_phase, rate_gain, rate_phase, points_gain, points_phase = artists
    fine = result["fine_freq"].values
    np.testing.assert_array_equal(theory_gain.get_xdata(), fine)
    np.testing.assert_allclose(theory_gain.get_ydata(),
                               result["fine_gain"].sel(source="lif_theory") * 1e-3)
    np.testing.assert_allclose(theory_phase.get_ydata(),
                               result["fine_phase"].sel(source="lif_theory"))
    np.testing.assert_allclose(rate_gain.get_ydata(),
                               result["fine_gain"].sel(source="rate") * 1e-3)
    np.testing.assert_allclose(rate_phase.get_ydata(), result["fine_phase"].sel(source="rate"))
    brian2 = result.sel(source="lif_brian2")
    x, y = _data_line(points_gain)
    np.testing.assert_array_equal(x, result["freq"].values)
    np.testing.assert_allclose(y, brian2["gain"] * 1e-3)
    np.testing.assert_allclose(_bar_half_lengths(points_gain), brian2["gain_se"] * 1e-3)
    np.testing.assert_allclose(_bar_half_lengths(points_phase), brian2["phase_se"])
    assert (ax_gain.get_xscale(), ax_gain.get_yscale(), ax_phase.get_xscale()) == (
        "log", "log", "log")
    assert ax_gain.get_ylabel() == "gain (Hz/mV)"
    assert ax_phase.get_xlabel() == "frequency (Hz)"
    assert [t.get_text() for t in ax_gain.get_legend().get_texts()] == [
        "LIF theory", "rate model", "Brian2 LIF (+- SE)"]


@pytest.mark.parametrize("fine", [True, False])
def test_crossval_bode_falls_back_to_the_sampled_values_in_frequency_order(axes, fine):
    # a simulated rate model has no dense curve (NaN), and older files none at all
    ax_gain, ax_phase = axes
    result = _crossval(fine_rate=False, fine=fine)
    artists = plot_crossval_bode(ax_gain, ax_phase, result)
    rate_gain, rate_phase = artists[2], artists[3]
    order = np.argsort(result["freq"].values)
    np.testing.assert_array_equal(rate_gain.get_xdata(), result["freq"].values[order])
    np.testing.assert_allclose(rate_gain.get_ydata(),
                               result["gain"].sel(source="rate").values[order] * 1e-3)
    np.testing.assert_allclose(rate_phase.get_ydata(),
                               result["phase"].sel(source="rate").values[order])
    theory_x = artists[0].get_xdata()
    expected = result["fine_freq"].values if fine else result["freq"].values[order]
    np.testing.assert_array_equal(theory_x, expected)


@pytest.mark.parametrize("fine", [True, False])
def test_fi_draws_theory_lines_and_brian2_points_in_mv(axes, fine):
    ax, _ = axes
    result = _crossval(fine=fine)
    siegert, rate, points = plot_fi(ax, result)
    grid, name = ("fine_mu", "fine_fi_rate") if fine else ("mu", "fi_rate")
    np.testing.assert_allclose(siegert.get_xdata(), result[grid].values * 1e3)
    np.testing.assert_allclose(siegert.get_ydata(), result[name].sel(source="lif_theory"))
    np.testing.assert_allclose(rate.get_ydata(), result[name].sel(source="rate"))
    x, y = _data_line(points)
    np.testing.assert_allclose(x, result["mu"].values * 1e3)
    np.testing.assert_allclose(y, result["fi_rate"].sel(source="lif_brian2"))
    np.testing.assert_allclose(_bar_half_lengths(points),
                               result["fi_rate_se"].sel(source="lif_brian2"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("mean input mu (mV)", "rate (Hz)")


def test_fi_needs_an_f_i_curve(axes):
    with pytest.raises(ValueError, match="fi_mu"):
        plot_fi(axes[0], _crossval().drop_vars(["fi_rate", "fi_rate_se"]))


def test_compare_result_holds_the_theory_curves_the_figure_draws(axes, models_dir):
    # end to end: compare() stores |chi|, arg chi and the exact rate response on fine_freq,
    # and the figure draws exactly those
    pytest.importorskip("brian2")
    from neurorect.crossval import compare, matched_model
    from neurorect.modelfile import load_model
    from neurorect.theory import sinusoid_response

    model = matched_model(load_model(models_dir / "lif_matched.toml"))
    result = compare(model, [5.0, 20.0], fi_mu=[0.015, 0.025], n_neurons=10, duration=0.4,
                     transient=0.2, dt=2e-4, target="numpy", seed=3)
    lif = model.lif
    kwargs = dict(tau_m=lif.tau_m, v_th=lif.v_th, v_reset=lif.v_reset, t_ref=lif.t_ref)
    fine = result["fine_freq"].values
    assert fine.size == 200 and fine[0] == pytest.approx(5.0) and fine[-1] == pytest.approx(20.0)
    assert np.all(np.diff(np.log(fine)) == pytest.approx(np.log(4.0) / 199))
    chi = theory.susceptibility(fine, result.attrs["mu0"], lif.sigma, **kwargs)
    pop = model.population(lif.population)
    exact = sinusoid_response(pop.transfer, result.attrs["mu0"], result.attrs["mu1"], fine,
                              tau=pop.tau, form=pop.form, n_harmonics=1)
    np.testing.assert_allclose(result["fine_gain"].sel(source="lif_theory"), np.abs(chi))
    np.testing.assert_allclose(result["fine_phase"].sel(source="lif_theory"), np.angle(chi))
    np.testing.assert_allclose(result["fine_gain"].sel(source="rate"), exact["gain"])
    assert np.all(np.isnan(result["fine_gain"].sel(source="lif_brian2")))
    fine_mu = result["fine_mu"].values
    assert fine_mu.size == 400 and (fine_mu[0], fine_mu[-1]) == pytest.approx((0.015, 0.025))
    np.testing.assert_allclose(result["fine_fi_rate"].sel(source="lif_theory"),
                               theory.siegert_rate(fine_mu, lif.sigma, **kwargs))
    np.testing.assert_allclose(result["fine_fi_rate"].sel(source="rate"), pop.transfer(fine_mu))
    for name in ("fine_freq", "fine_mu", "fine_gain", "fine_phase", "fine_fi_rate"):
        assert {"units", "long_name"} <= set(result[name].attrs), name
    ax_gain, ax_phase = axes
    theory_gain = plot_crossval_bode(ax_gain, ax_phase, result)[0]
    np.testing.assert_allclose(theory_gain.get_ydata(), np.abs(chi) * 1e-3)
