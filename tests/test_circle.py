"""The kernels' libm-free unit circle (neurorect/kernels/circle.py) against libm and mpmath."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from neurorect.kernels.circle import quarter_cos_sin, rotate, turn_cos_sin


@njit(cache=True)
def _turns(t):
    out = np.empty((2, t.size))
    for j in range(t.size):
        out[0, j], out[1, j] = turn_cos_sin(t[j])
    return out


@njit(cache=True)
def _quarters(x):
    out = np.empty((2, x.size))
    for j in range(x.size):
        out[0, j], out[1, j] = quarter_cos_sin(x[j])
    return out


@njit(cache=True)
def _rotations(z, c):
    out = np.empty(z.size, dtype=np.complex128)
    for j in range(z.size):
        re, im = rotate(z[j].real, z[j].imag, c[j].real, c[j].imag)
        out[j] = complex(re, im)
    return out


def test_quarter_turn_polynomials_are_within_an_ulp_or_two_of_mpmath():
    """|x| <= pi/4: the Taylor series truncated at x^16 / x^15 is below 1e-17 there, so the
    error is rounding: bound 2.5e-16 absolute (about two ulp of values <= 1)."""
    mpmath = pytest.importorskip("mpmath")
    x = np.linspace(-math.pi / 4, math.pi / 4, 2001)
    cos_sin = _quarters(x)
    exact = np.array([[float(mpmath.cos(mpmath.mpf(v))), float(mpmath.sin(mpmath.mpf(v)))]
                      for v in x]).T
    assert np.max(np.abs(cos_sin - exact)) < 2.5e-16


def test_turns_agree_with_libm_over_every_quadrant_and_large_arguments():
    """cos and sin of 2 pi t against libm's of the same angle: near zero the angle 2 pi t
    is itself rounded (0.5 ulp of up to ~3e3 rad for |t| <= 500, i.e. 2.3e-13), so the
    comparison uses t reduced exactly to [-1/2, 1/2) first; then the two agree to 4e-16
    absolute (libm 0.5 ulp, the polynomial ~1 ulp, the product 2 pi t 0.5 ulp)."""
    rng = np.random.default_rng(3)
    t = np.concatenate([rng.uniform(-500.0, 500.0, 20000), np.arange(-8, 9) / 8.0,
                        np.arange(-8, 9) / 8.0 + 1e-17, [0.375, -0.375, 0.125, -0.125]])
    reduced = t - np.floor(t + 0.5)  # exact (Sterbenz)
    cos_sin = _turns(t)
    assert np.max(np.abs(cos_sin[0] - np.cos(2 * np.pi * reduced))) < 4e-16
    assert np.max(np.abs(cos_sin[1] - np.sin(2 * np.pi * reduced))) < 4e-16
    # the circle itself: |z| = 1 to rounding
    assert np.max(np.abs(np.hypot(cos_sin[0], cos_sin[1]) - 1.0)) < 4e-16


def test_whole_and_quarter_turns_are_exact():
    """At multiples of a quarter turn the reduced angle is 0 exactly: (1, 0), (0, 1), ..."""
    t = np.array([0.0, 0.25, 0.5, 0.75, 1.0, -0.25, -0.5, 1e6 + 0.25])
    cos_sin = _turns(t)
    np.testing.assert_array_equal(cos_sin[0], [1, 0, -1, 0, 1, 0, -1, 0])
    np.testing.assert_array_equal(np.abs(cos_sin[1]), [0, 1, 0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(np.sign(cos_sin[1][[1, 3, 5, 7]]), [1, -1, -1, 1])


def test_rotate_is_the_complex_product_to_rounding():
    """Each part is one FMA over one product: within 2 ulp of the exact product of unit
    numbers (bound 4.5e-16 absolute)."""
    rng = np.random.default_rng(4)
    z = np.exp(1j * rng.uniform(-np.pi, np.pi, 1000))
    c = np.exp(1j * rng.uniform(-np.pi, np.pi, 1000))
    assert np.max(np.abs(_rotations(z, c) - z * c)) < 4.5e-16
