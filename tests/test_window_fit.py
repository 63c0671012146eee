"""The parallel window fit (neurorect/kernels/window_fit.py) against the reference
(neurorect.fourier.harmonics_from_sums) and against signals with a known answer."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from neurorect.fourier import harmonics_from_sums, measurable_harmonics
from neurorect.kernels.window_fit import MAX_UNKNOWNS, fit_windows

DT = 1e-4


def _fit(acc, theta, freq, start, count, K):
    """fit_windows' outputs: undone sums, r0, z = A exp(i phase), done (and n_fit, checked
    against the reference's measurable_harmonics)."""
    n = acc.shape[0]
    undone, n_fit = np.empty_like(acc), np.empty(n, dtype=np.int64)
    r0, amplitude, phase = np.full(n, np.nan), np.full((n, K), np.nan), np.full((n, K), np.nan)
    done = np.zeros(n, dtype=bool)
    fit_windows(acc, theta, freq, start.astype(float), count.astype(float), DT, undone, n_fit,
                r0, amplitude, phase, done)
    np.testing.assert_array_equal(n_fit, measurable_harmonics(freq, DT, K))
    wrapped = phase[~np.isnan(phase)]
    assert np.all((wrapped > -np.pi) & (wrapped <= np.pi))  # as fourier.wrap_phase
    return undone, r0, amplitude * np.exp(1j * phase), done


def _windows(rng, n, low=2.0, high=6.0):
    """Random analysis frequencies (Hz), window starts and lengths of ``low..high`` periods
    of a fractional number of steps each."""
    freq = rng.uniform(0.5, 300.0, n)
    count = np.floor(rng.uniform(low, high, n) / (freq * DT))
    start = np.floor(rng.uniform(0, 1e6, n))
    return freq, start, count


def _band_limited_sums(freq, start, count, r0, z, theta):
    """The kernels' sums of ``r_n = r0 + sum_k Im(z_k exp(i k 2 pi f n dt))`` (sine
    convention), rotated by ``theta``, summed term by term (the slow obvious loop)."""
    K = z.shape[1]
    acc = np.empty((freq.size, K + 1), dtype=complex)
    for u in range(freq.size):
        n = np.arange(start[u], start[u] + count[u])
        angle = 2 * np.pi * freq[u] * DT * n
        rate = r0[u] + sum((z[u, k] * np.exp(1j * (k + 1) * angle)).imag for k in range(K))
        acc[u] = [(rate * np.exp(-1j * k * (angle + theta[u]))).sum() for k in range(K + 1)]
    return acc


@pytest.mark.parametrize("K", [1, 2, 3, 8])
def test_fit_equals_the_reference_fit_of_the_same_sums(K):
    """Windows of 2 + 0.6 K to 6 + 0.6 K periods (Grams within the Neumann bound, 2 sum |S(d)| /
    N <~ 2 (ln 2K + 0.6) / (pi M) < 1/2: every unit fitted here):
    r0 and z agree with the reference's LAPACK or cofactor solve to 2e-14 of the unit's
    scale (both are backward stable on systems of condition number <= 3: a few ulp times the
    ~2K-term sums); the undone sums agree with acc exp(i k theta) to 4e-15 of their size
    (theta / 2 pi rounded once, then a libm-free cos/sin within an ulp)."""
    rng = np.random.default_rng(K)
    n = 3000
    freq, start, count = _windows(rng, n, low=2.0 + 0.6 * K, high=6.0 + 0.6 * K)
    theta = rng.uniform(-np.pi, np.pi, n)
    acc = (rng.normal(size=(n, K + 1)) + 1j * rng.normal(size=(n, K + 1))) * count[:, None]
    acc[:, 0] = acc[:, 0].real  # a sum of real rates
    undone, r0, z, done = _fit(acc, theta, freq, start, count, K)
    expected = acc * np.exp(1j * np.arange(K + 1) * theta[:, None])
    np.testing.assert_allclose(undone, expected, rtol=0, atol=4e-15 * np.abs(acc).max())
    assert done.all()
    ref_r0, ref_amp, ref_phase = harmonics_from_sums(expected, count, freq=freq, dt=DT,
                                                     start=start)
    ref_z = ref_amp * np.exp(1j * ref_phase)
    scale = np.maximum(np.abs(ref_r0), np.abs(ref_z).max(axis=1))
    assert np.all(np.abs(r0 - ref_r0) <= 2e-14 * scale)
    assert np.all(np.abs(z - ref_z).max(axis=1) <= 2e-14 * scale)


def test_harmonics_at_or_above_nyquist_are_nan_and_the_others_as_the_reference():
    """f dt = 0.3 (harmonic 1 below Nyquist, 2 and 3 above: n_fit = 1) and f dt = 0.5 (none
    below: n_fit = 0, the mean alone), over windows of ~100 periods (Neumann bound): the
    harmonics above Nyquist are NaN, r0 and the others agree with the reference to 2e-14 of
    the unit's scale (as above), and with no harmonic r0 is the plain mean acc0 / N (one
    division: 1 ulp)."""
    rng = np.random.default_rng(21)
    freq = np.array([0.3, 0.3, 0.5, 0.5]) / DT
    count = np.array([333.0, 350.0, 200.0, 201.0])
    start = np.array([0.0, 17.0, 5.0, 1000.0])
    theta = rng.uniform(-np.pi, np.pi, 4)
    acc = (rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))) * count[:, None]
    acc[:, 0] = acc[:, 0].real
    undone, r0, z, done = _fit(acc, theta, freq, start, count, 3)
    assert done.all()
    assert np.all(np.isnan(z[:2, 1:])) and np.all(np.isnan(z[2:]))
    ref_r0, ref_amp, ref_phase = harmonics_from_sums(undone, count, freq=freq, dt=DT,
                                                     start=start)
    ref_z1 = ref_amp[:2, 0] * np.exp(1j * ref_phase[:2, 0])
    scale = np.maximum(np.abs(ref_r0[:2]), np.abs(ref_z1))
    assert np.all(np.abs(r0[:2] - ref_r0[:2]) <= 2e-14 * scale)
    assert np.all(np.abs(z[:2, 0] - ref_z1) <= 2e-14 * scale)
    np.testing.assert_allclose(r0[2:], acc[2:, 0].real / count[2:], rtol=2.3e-16, atol=0)


@pytest.mark.parametrize("K", [1, 3])
def test_band_limited_signals_are_recovered_over_windows_of_fractional_periods(K):
    """A mean and K harmonics with a known answer, over windows of 4..8 periods of a
    fractional number of steps each and any start: recovered to 1e-11 of the signal's scale
    (sums of up to 1.2e4 terms, each rounded: ~N ulp), whatever the statistics phase."""
    rng = np.random.default_rng(100 + K)
    n = 40
    freq, start, count = _windows(rng, n)
    freq = np.minimum(freq, 0.4 / (K * DT))  # every harmonic below Nyquist
    count = np.floor(rng.uniform(4.0, 8.0, n) / (freq * DT))
    r0 = rng.uniform(1.0, 10.0, n)
    z = rng.uniform(0.1, 3.0, (n, K)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (n, K)))
    theta = rng.uniform(-np.pi, np.pi, n)
    acc = _band_limited_sums(freq, start, count, r0, z, theta)
    _, got_r0, got_z, done = _fit(acc, theta, freq, start, count, K)
    assert done.all()
    np.testing.assert_allclose(got_r0, r0, rtol=1e-11)
    np.testing.assert_allclose(got_z, z, rtol=0, atol=1e-11 * 10)


def test_units_it_cannot_fit_are_left_to_the_reference():
    """done is False (r0 and z untouched) for: no analysis frequency, an empty window, a
    window of half a period (outside the Neumann bound), a non-finite sum; the others are
    fitted. 2K + 1 above MAX_UNKNOWNS: nothing is fitted."""
    freq = np.array([0.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    count = np.array([500.0, 0.0, 500.0, 3000.0, 3000.0, 2500.0])  # 0.5, 3, 3, 2.5 periods
    start = np.zeros(6)
    acc = np.ones((6, 2), dtype=complex) * 7.0
    acc[4, 1] = np.nan
    _, r0, z, done = _fit(acc, np.zeros(6), freq, start, count, 1)
    np.testing.assert_array_equal(done, [False, False, False, True, False, True])
    assert np.all(np.isnan(r0[~done])) and np.all(np.isnan(z[~done]))
    K = (MAX_UNKNOWNS + 1) // 2
    acc = np.ones((1, K + 1), dtype=complex)
    _, _, _, done = _fit(acc, np.zeros(1), np.array([1.0]), np.zeros(1),
                         np.array([40000.0]), K)
    assert not done.any()


def test_each_unit_gets_the_same_bits_alone_in_any_batch_and_on_any_thread_count():
    """Which path a unit takes and its numbers depend on the unit alone: fitted in a batch of
    5000 on 1 or 2 threads, or alone, it gets the same bits."""
    rng = np.random.default_rng(5)
    n, K = 5000, 3
    freq, start, count = _windows(rng, n, low=0.8, high=4.0)  # some outside Neumann
    theta = rng.uniform(-np.pi, np.pi, n)
    acc = (rng.normal(size=(n, K + 1)) + 1j * rng.normal(size=(n, K + 1))) * count[:, None]
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _fit(acc, theta, freq, start, count, K)
        numba.set_num_threads(2)
        two = _fit(acc, theta, freq, start, count, K)
    finally:
        numba.set_num_threads(threads)
    assert 0.2 < one[3].mean() < 0.95  # both kinds of unit are present
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    for u in rng.choice(n, 30, replace=False):
        alone = _fit(acc[u:u + 1], theta[u:u + 1], freq[u:u + 1], start[u:u + 1],
                     count[u:u + 1], K)
        for a, b in zip(one, alone, strict=True):
            np.testing.assert_array_equal(a[u:u + 1], b)
