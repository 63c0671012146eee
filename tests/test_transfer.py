"""Transfer family: definitions, kernels, derivatives, Lipschitz bounds, inverses, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurorect import (
    ELU,
    GELU,
    LeakyReLU,
    LIFTransfer,
    ModelError,
    PowerLaw,
    ReLU,
    Sigmoid,
    Softplus,
)
from neurorect.kernels.transfer import transfer_value
from neurorect.transfer import transfer_from_dict

ALL = [LeakyReLU(2.0, 0.5, 0.1), LeakyReLU(1.5, -0.2, 0.3, rate_min=-0.1, rate_max=2.0,
                                             baseline=0.4),
       ReLU(3.0, 0.1), LeakyReLU(1.0, 0.0, 1.0), Softplus(2.0, 0.1, 4.0), ELU(1.0, 0.2, 0.7),
       GELU(1.3, -0.1), PowerLaw(0.5, 0.2, 2.0), PowerLaw(1.0, 0.0, 0.5), Sigmoid(5.0, 0.3, 2.5),
       LIFTransfer(0.02, 0.02, 0.01, 0.002)]
IDS = [f"{t.kind}{i}" for i, t in enumerate(ALL)]


def inputs_for(transfer, n=2001):
    if isinstance(transfer, LIFTransfer):
        return np.linspace(0.0, 0.06, n)
    return np.linspace(-3.0, 3.0, n)


@pytest.mark.parametrize("transfer", ALL, ids=IDS)
def test_numba_kernel_equals_numpy_definition(transfer):
    x = inputs_for(transfer)
    kernel = np.array([transfer_value(transfer.code, transfer.kernel_params(), v) for v in x])
    # the same formula evaluated by two libraries (math vs numpy): a few ulps
    np.testing.assert_allclose(kernel, transfer(x), rtol=1e-14, atol=1e-14)


def test_leaky_relu_definition():
    phi = LeakyReLU(2.0, 0.5, 0.1)
    x = np.array([-1.5, 0.0, 0.5, 1.0, 3.0])
    expected = 2.0 * np.where(x >= 0.5, x - 0.5, 0.1 * (x - 0.5))
    np.testing.assert_array_equal(phi(x), expected)
    clipped = LeakyReLU(1.0, 0.0, 0.5, rate_min=-0.2, rate_max=1.0, baseline=0.1)
    np.testing.assert_allclose(clipped([-5.0, -0.2, 0.5, 5.0]), [-0.2, 0.0, 0.6, 1.0],
                               rtol=0, atol=1e-15)
    assert ReLU(2.0, 1.0)(0.5) == 0.0 and LeakyReLU(1.0, 0.0, 1.0)(-2.0) == -2.0


@pytest.mark.parametrize("transfer", [t for t in ALL if not isinstance(t, (PowerLaw,))],
                         ids=[i for t, i in zip(ALL, IDS, strict=True)
                              if not isinstance(t, PowerLaw)])
def test_derivative_matches_central_difference_away_from_kinks(transfer):
    x = inputs_for(transfer, 301)
    h = 1e-6 * (0.06 if isinstance(transfer, LIFTransfer) else 3.0)
    numeric = (transfer(x + h) - transfer(x - h)) / (2 * h)
    kinks = [getattr(transfer, "threshold", None), getattr(transfer, "v_th", None)]
    if isinstance(transfer, LeakyReLU):
        kinks += list(transfer.breakpoints())
    keep = np.ones_like(x, dtype=bool)
    for kink in kinks:
        if kink is not None and np.isfinite(kink):
            keep &= np.abs(x - kink) > 10 * h
    # central difference error O(h^2 phi''') ~ 1e-11 relative; 1e-6 covers rounding h^-1 eps
    np.testing.assert_allclose(transfer.derivative(x[keep]), numeric[keep], rtol=1e-6,
                               atol=1e-6 * max(1.0, float(np.max(np.abs(numeric[keep])))))


def test_powerlaw_derivative_and_lipschitz():
    phi = PowerLaw(0.5, 0.2, 2.0)
    np.testing.assert_allclose(phi.derivative([0.0, 0.7, 1.2]), [0.0, 0.5, 1.0], rtol=1e-15)
    assert math.isinf(phi.lipschitz) and PowerLaw(2.0, 0.0, 1.0).lipschitz == 2.0


def test_gelu_lipschitz_is_the_maximum_slope():
    phi = GELU(1.3, -0.1)
    x = np.linspace(-10, 10, 200001)
    # grid spacing 1e-4 at the smooth maximum: error O(h^2 phi''') < 1e-8
    assert phi.lipschitz == pytest.approx(np.max(phi.derivative(x)), rel=1e-8)


finite_x = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(gain=st.floats(0.01, 100), threshold=st.floats(-5, 5), alpha=st.floats(0, 1),
       x=finite_x, y=finite_x)
def test_leaky_relu_properties(gain, threshold, alpha, x, y):
    phi = LeakyReLU(gain, threshold, alpha)
    # continuity at threshold: both branches meet at the baseline (0); a step of eps around
    # the threshold is represented to within one ulp of the threshold, hence 2 eps
    eps = 1e-9 * max(1.0, abs(threshold))
    assert abs(phi(threshold + eps)) <= gain * 2 * eps
    assert abs(phi(threshold - eps)) <= gain * 2 * eps
    # monotone and Lipschitz with constant gain (alpha <= 1); rounding slack 1e-12 relative
    lo, hi = min(x, y), max(x, y)
    assert phi(lo) <= phi(hi) + 1e-12 * (abs(phi(hi)) + 1)
    assert abs(phi(x) - phi(y)) <= phi.lipschitz * abs(x - y) * (1 + 1e-12) + 1e-12


@settings(max_examples=100, deadline=None)
@given(transfer=st.sampled_from(ALL), x=finite_x, y=finite_x)
def test_family_monotone_and_within_lipschitz_bound(transfer, x, y):
    if isinstance(transfer, LIFTransfer):
        x, y = 0.02 + abs(x) * 1e-3, 0.02 + abs(y) * 1e-3
    lo, hi = min(x, y), max(x, y)
    if not isinstance(transfer, GELU):  # GELU dips below 0 near u = -0.75: not monotone
        assert transfer(lo) <= transfer(hi) + 1e-12 * (abs(transfer(hi)) + 1)
    if math.isfinite(transfer.lipschitz):
        assert abs(transfer(x) - transfer(y)) <= transfer.lipschitz * abs(x - y) * (1 + 1e-9) \
            + 1e-12


@pytest.mark.parametrize("transfer", [LeakyReLU(2.0, 0.5, 0.1), Softplus(2.0, 0.1, 4.0),
                                      Sigmoid(5.0, 0.3, 2.5)], ids=["lrelu", "softplus", "sig"])
def test_inverse_round_trip(transfer):
    x = np.linspace(-2.0, 2.0, 41)
    # inverse(phi(x)) = x up to the conditioning of phi near flat parts (sigmoid tails)
    np.testing.assert_allclose(transfer.inverse(transfer(x)), x, rtol=1e-9, atol=1e-9)


def test_relu_has_no_inverse():
    with pytest.raises(ModelError, match="LeakyReLU has no inverse"):
        ReLU().inverse(1.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha=1.5), r"leaky_relu.alpha = 1.5: out of range \(allowed: 0 <= alpha <= 1\)"),
    (dict(alpha=-0.1), r"leaky_relu.alpha = -0.1.*0 <= alpha <= 1"),
    (dict(gain=0.0), r"leaky_relu.gain = 0.0.*0 < gain"),
    (dict(rate_min=2.0, rate_max=1.0), r"rate_max = 1.0.*rate_max > rate_min = 2 Hz"),
    (dict(threshold=math.nan), r"leaky_relu.threshold = nan: must be finite"),
])
def test_leaky_relu_validation(kwargs, message):
    with pytest.raises(ModelError, match=message):
        LeakyReLU(**kwargs)


def test_other_validation_messages():
    with pytest.raises(ModelError, match=r"softplus.sharpness = 0.0.*0 < sharpness"):
        Softplus(sharpness=0.0)
    with pytest.raises(ModelError, match=r"lif.v_reset = 0.03.*v_reset < 0.02"):
        LIFTransfer(v_reset=0.03)
    with pytest.raises(ModelError, match=r"gain = 'big': must be a number"):
        LeakyReLU(gain="big")


def test_quantities_and_unit_strings_are_converted_to_si():
    import brian2

    by_quantity = LeakyReLU(gain=4 * brian2.Hz / brian2.mvolt, threshold=15 * brian2.mvolt)
    by_string = LeakyReLU(gain="4 Hz/mV", threshold="15 mV")
    assert by_quantity == by_string == LeakyReLU(gain=4000.0, threshold=0.015)
    assert isinstance(by_quantity.gain, float)


def test_transfer_from_dict_suggests_closest_names():
    with pytest.raises(ModelError, match=r"alfa = 0.1: unknown parameter of leaky_relu; "
                                         r"did you mean 'alpha'\?"):
        transfer_from_dict({"kind": "leaky_relu", "alfa": 0.1})
    with pytest.raises(ModelError, match=r"kind = 'leaky_rel'.*did you mean 'leaky_relu'"):
        transfer_from_dict({"kind": "leaky_rel"})
    assert transfer_from_dict({"kind": "relu", "gain": 2.0}) == ReLU(2.0)
