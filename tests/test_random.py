"""The counter-based noise generator (neurorect.kernels.random): exactness and statistics.

Default suite: Philox4x32-10 known answers, the vectorised draw equals the per-draw function
bit for bit, the arithmetic Box-Muller transform equals the libm one, the quad layout of the
counter. Slow suite (``-m slow``, ~1 min): moments, Kolmogorov-Smirnov over 1.3e8 draws,
auto- and cross-correlations across steps, neurons, channels and adjacent seeds.

Every statistical threshold is a multiple of the estimator's standard error under the null
hypothesis (independent standard normals), chosen so that a correct generator fails with a
probability below ~1e-6 per test (a Bonferroni bound over the values compared), while a
defect of the size that matters (a correlation of 1e-3 between streams, a variance off by
1e-3) is many standard errors wide.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit
from scipy import special

from neurorect.kernels.layout import FASTMATH
from neurorect.kernels.random import (
    NORMALS_PER_DRAW,
    key_schedule,
    normal_quads,
    normals,
    philox4x32,
    stream_keys,
)

U32 = 0xFFFFFFFF


@njit(fastmath=FASTMATH)
def _block(keys, quad0, n_quads, channel):
    """Normals of every stream at steps 4 quad0 .. 4 (quad0 + n_quads) - 1: (steps, streams),
    drawn as the tiles draw them (contracting caller, vectorised over streams)."""
    out = np.empty((NORMALS_PER_DRAW * n_quads, keys.size))
    schedule = np.empty((20, keys.size), dtype=np.uint64)
    key_schedule(keys, schedule)
    for q in range(n_quads):
        normal_quads(schedule, quad0 + q, channel, out, NORMALS_PER_DRAW * q)
    return out


def _keys(seed: int, n: int) -> np.ndarray:
    return stream_keys(np.array([seed], dtype=np.int64), n)


# --------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("counter, key, expected", [
    # Random123's kat_vectors for philox4x32 with 10 rounds (Salmon et al. 2011)
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((U32, U32, U32, U32), (U32, U32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_known_answers(counter, key, expected):
    words = philox4x32(*(np.uint64(c) for c in counter), *(np.uint64(k) for k in key))
    assert tuple(int(w) for w in words) == expected


def test_vectorised_draws_equal_single_draws_bit_for_bit():
    # the tiles' draw (contracting caller, SIMD over streams) and normal_at (the per-unit
    # path, no contraction) give the same bits: the transform is written from explicit FMAs
    keys = _keys(11, 37)
    block = _block(keys, 5, 64, 1)
    single = np.stack([normals(key, 20, 256, 1) for key in keys], axis=1)
    assert np.array_equal(block, single)


def test_draws_depend_on_step_not_on_where_a_run_starts():
    # a chunk starting mid-quad draws the same numbers as a run from step 0
    key = _keys(2, 1)[0]
    whole = normals(key, 0, 400, 0)
    for start in (1, 2, 3, 5, 130):
        assert np.array_equal(normals(key, start, 400 - start, 0), whole[start:])


def test_transform_equals_libm_box_muller():
    # recompute each normal from its Philox words with numpy's log, cos and sin (the module
    # docstring's layout); the series are truncated below 2^-53 relative, so the two agree
    # to rounding: |z| <= 7.45 and a few ulp of log and of the angle give < 1e-14 absolute
    keys = _keys(5, 8)
    n_quads = 500
    block = _block(keys, 0, n_quads, 0)
    for j, key in enumerate(keys):
        k0, k1 = np.uint64(int(key) & U32), np.uint64(int(key) >> 32)
        for q in range(n_quads):
            words = [int(w) for w in philox4x32(np.uint64(q), np.uint64(0), np.uint64(0),
                                                np.uint64(0), k0, k1)]
            for pair, (high, low) in enumerate(((words[0], words[2]), (words[1], words[3]))):
                k = (high << 8) | (low >> 24)  # 40 bits
                u1 = 1.0 - k * 2.0**-40
                angle_bits = low & 0xFFFFFF
                angle = ((angle_bits & 0x3FFFFF) / 2.0**22 - 0.5) * (math.pi / 2) + (
                    angle_bits >> 22) * (math.pi / 2)
                radius = math.sqrt(-2.0 * math.log(u1))
                expected = (radius * math.cos(angle), radius * math.sin(angle))
                got = block[4 * q + 2 * pair:4 * q + 2 * pair + 2, j]
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)


def test_channels_and_streams_differ():
    keys = _keys(1, 2)
    assert not np.array_equal(normals(keys[0], 0, 64, 0), normals(keys[0], 0, 64, 1))
    assert not np.array_equal(normals(keys[0], 0, 64, 0), normals(keys[1], 0, 64, 0))


# ---------------------------------------------------------------------------- statistics
def _draws(seed: int, n_streams: int, n_steps: int, channel: int = 0) -> np.ndarray:
    return _block(_keys(seed, n_streams), 0, n_steps // NORMALS_PER_DRAW, channel)


@pytest.mark.slow
def test_moments_and_ks_normality_over_1e8_draws():
    # 2^27 = 1.34e8 draws in 16 blocks of 128 streams x 65,536 steps (blocks keep memory at
    # 67 MB). Moments: standard errors sqrt(m / N) with m the null variance of the
    # estimator (1, 2, 15, 96 for mean, variance, third, fourth central moment); 6 standard
    # errors (P < 2e-9 each). KS: the empirical CDF is counted in 2^16 equiprobable bins
    # of the normal; the largest deviation over the bin edges is within 1/2^16 = 1.5e-5 of
    # the true KS statistic D, and the test asks D < 1.95/sqrt(N) (p = 0.001).
    n_blocks, n_streams, n_steps = 16, 128, 65536
    n_bins = 1 << 16
    counts = np.zeros(n_bins, dtype=np.int64)
    power_sums = np.zeros(5)
    for block in range(n_blocks):
        z = _draws(100 + block, n_streams, n_steps).ravel()
        power_sums += [z.size, z.sum(), (z**2).sum(), (z**3).sum(), (z**4).sum()]
        bins = np.minimum((special.ndtr(z) * n_bins).astype(np.int64), n_bins - 1)
        counts += np.bincount(bins, minlength=n_bins)
    total = power_sums[0]
    mean, second, third, fourth = power_sums[1:] / total
    error = lambda m: 6.0 * math.sqrt(m / total)  # noqa: E731
    assert abs(mean) < error(1.0)
    assert abs(second - 1.0) < error(2.0)
    assert abs(third) < error(15.0)
    assert abs(fourth - 3.0) < error(96.0)
    empirical = np.cumsum(counts) / total
    ideal = np.arange(1, n_bins + 1) / n_bins
    distance = np.abs(empirical - ideal).max()
    assert distance < 1.95 / math.sqrt(total)


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching columns of a and b."""
    a = (a - a.mean(axis=0)) / a.std(axis=0)
    b = (b - b.mean(axis=0)) / b.std(axis=0)
    return (a * b).mean(axis=0)


@pytest.mark.slow
def test_no_correlation_across_steps():
    # lags 1..16 (within and across a Philox quad, both Box-Muller partners) of z and of
    # z^2 (Box-Muller partners share their radius: a defect would show in z^2), pooled over
    # 256 streams of 2^18 steps: each pooled estimate has standard error 1/sqrt(2^26);
    # 5.5 standard errors over 32 values (P < 1.3e-6)
    z = _draws(7, 256, 1 << 18)
    limit = 5.5 / math.sqrt(z.size)
    for values in (z, z**2 - 1.0):
        for lag in range(1, 17):
            r = _correlations(values[:-lag], values[lag:]).mean()
            assert abs(r) < limit * 1.0001, (lag, r)


@pytest.mark.slow
def test_no_correlation_across_neurons_channels_and_adjacent_seeds():
    # every pair of 128 neurons' streams (8,128 pairs), the two channels of each neuron, and
    # the same neuron under adjacent seeds, over 2^18 steps: each correlation has standard
    # error 1/sqrt(2^18) = 0.002; 5.8 standard errors bound all of them (8,128 + 256 values,
    # P < 6e-9 each: < 6e-5 in all); and the mean square of the pairwise correlations is
    # 1/L within 5 % (its relative standard error is sqrt(2/8128) = 1.6 %: 3 of them)
    n_steps = 1 << 18
    limit = 5.8 / math.sqrt(n_steps)
    z = _draws(21, 128, n_steps)
    r = np.corrcoef(z.T)[np.triu_indices(z.shape[1], 1)]
    assert np.abs(r).max() < limit
    assert abs((r**2).mean() * n_steps - 1.0) < 0.05
    other_channel = _draws(21, 128, n_steps, channel=1)
    assert np.abs(_correlations(z, other_channel)).max() < limit
    for seed in (22, 2**31):  # an adjacent seed, and one differing in a high bit
        assert np.abs(_correlations(z, _draws(seed, 128, n_steps))).max() < limit
    # the same seed at a shifted neuron index is a different stream too (lag in neurons)
    assert np.abs(_correlations(z[:, 1:], z[:, :-1])).max() < limit
