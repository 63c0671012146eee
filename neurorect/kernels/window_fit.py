"""The least-squares statistics of every unit's window, in parallel over units.

The fast path of :func:`neurorect.fourier.harmonics_from_sums` (the reference, NumPy) for
the units whose fit is a small well-conditioned system: an analysis frequency ``f > 0``, at
most 16 harmonics below the Nyquist frequency (2K + 1 <= 33 unknowns), and a Gram within the
Neumann bound ``2 sum_{d=1}^{2K} |S(d)| / N < 1/2`` (condition number <= 3). The same closed
forms as the reference, written per unit: the geometric sums ``S(d)`` with their arguments
reduced in turns, the Hermitian Toeplitz Gram ``G[m, m'] = S(m' - m) / N`` and, for one
harmonic, the cofactor solve; for more, Gaussian elimination without pivoting (stable for
these diagonally dominant Grams: growth factor <= 2). Every other unit is left to the
reference (``done[u]`` False). Each unit's numbers are its own: the same bits whatever the
thread count, the batch slot or the other units. No fastmath: the closed forms round as
they are written.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from neurorect.kernels.circle import turn_cos_sin

__all__ = ["fit_windows", "MAX_UNKNOWNS"]

#: Largest system (2K + 1 unknowns) solved here; larger ones go to the reference.
MAX_UNKNOWNS = 33
#: Units per parallel task (each task allocates its workspace once).
_TASK_UNITS = 256
_INV_TWO_PI = 0.5 / math.pi
_TWO_PI = 2.0 * math.pi


@njit(cache=True, inline="always")
def _sine_half_turns(h):
    """``sin(pi h)`` (``h`` in half turns), libm-free."""
    return turn_cos_sin(0.5 * h)[1]


@njit(cache=True, inline="always")
def _polar(beta, u, K, amplitude, phase):
    """``z_k = 2 i beta_{K+k}`` (sine convention) as amplitude and phase wrapped to (-pi,
    pi] (the operations of ``fourier.wrap_phase(np.angle(z))``), for k = 1..K; NaN for the
    harmonics above K."""
    for k in range(1, amplitude.shape[1] + 1):
        if k > K:
            amplitude[u, k - 1] = np.nan
            phase[u, k - 1] = np.nan
            continue
        z = 2j * beta[K + k]
        amplitude[u, k - 1] = abs(z)
        # wrap_phase: pi - mod(pi - phase, 2 pi); atan2 is in [-pi, pi] (the doubles), so
        # pi - phase is in [0, 2 pi] (exact at both ends) and mod only maps 2 pi to 0
        turned = math.pi - math.atan2(z.imag, z.real)
        phase[u, k - 1] = math.pi - (turned - _TWO_PI if turned >= _TWO_PI else turned)


@njit(cache=True, parallel=True, error_model="numpy")
def fit_windows(acc, stat_phase, freq, start, count, dt, undone, n_fit, r0, amplitude, phase,
                done):
    """Undo the statistics phase and fit each unit's window.

    Parameters
    ----------
    acc : (U, K + 1) complex128
        The kernels' sums ``sum_n r_n exp(-i k (2 pi f n dt + theta_u))``.
    stat_phase : (U,) float64
        ``theta_u`` (rad; ``params[:, STAT_PHASE]``).
    freq, start, count : (U,) float64
        Analysis frequency (Hz), first step and number of steps of each window.
    dt : float
        Time step (s).
    undone : (U, K + 1) complex128, out
        ``acc[u, k] exp(i k theta_u)``: the sums of ``r_n exp(-i 2 pi k f n dt)``.
    n_fit : (U,) int64, out
        The harmonics below the Nyquist frequency (``k f dt < 1/2``, at most K; 0 for
        ``f <= 0``), as :func:`neurorect.fourier.measurable_harmonics`.
    r0 : (U,) float64, out
        Mean over the window (units of r); untouched where ``done`` is False.
    amplitude, phase : (U, K) float64, out
        ``A_k`` (units of r) and ``phase_k`` (rad, in ``(-pi, pi]``) of the sine convention
        for k <= n_fit[u], NaN beyond; untouched where ``done`` is False.
    done : (U,) bool, out
        Whether the unit was fitted here (else the reference must fit it).
    """
    n_units = acc.shape[0]
    n_sums = acc.shape[1]
    n_lags = 2 * n_sums - 1  # S(0..2K)
    n_tasks = (n_units + _TASK_UNITS - 1) // _TASK_UNITS
    for task in prange(n_tasks):
        lo = task * _TASK_UNITS
        width = min(n_units, lo + _TASK_UNITS) - lo
        sums_re = np.empty((n_lags, _TASK_UNITS))
        sums_im = np.empty((n_lags, _TASK_UNITS))
        gram = np.empty((MAX_UNKNOWNS, MAX_UNKNOWNS), dtype=np.complex128)
        beta = np.empty(MAX_UNKNOWNS, dtype=np.complex128)
        for k in range(1, n_sums):  # undo theta: SIMD over the task's units
            for i in range(width):
                u = lo + i
                c, s = turn_cos_sin(k * stat_phase[u] * _INV_TWO_PI)
                value = acc[u, k]
                undone[u, k] = complex(value.real * c - value.imag * s,
                                       value.real * s + value.imag * c)
        for i in range(width):
            undone[lo + i, 0] = acc[lo + i, 0]
        for d in range(1, n_lags):  # S(d): the reference's closed form, SIMD over units
            for i in range(width):
                u = lo + i
                cycles = d * (freq[u] * dt)
                N = count[u]
                centre = cycles * (start[u] + 0.5 * (N - 1.0))
                half_turns = cycles * N
                half_turns -= 2.0 * math.floor(0.5 * half_turns)
                step_half_turns = cycles - 2.0 * math.floor(0.5 * cycles)
                kernel = _sine_half_turns(half_turns) / _sine_half_turns(step_half_turns)
                c, s = turn_cos_sin(centre - math.floor(centre))
                whole = cycles == math.floor(cycles)  # every term 1
                sums_re[d, i] = N if whole else c * kernel
                sums_im[d, i] = 0.0 if whole else s * kernel
        for i in range(width):
            u = lo + i
            below = math.ceil(0.5 / (freq[u] * dt)) - 1.0 if freq[u] > 0.0 else 0.0
            K = int(min(max(below, 0.0), n_sums - 1.0))
            n_fit[u] = K
            done[u] = False
            size = 2 * K + 1
            N = count[u]
            finite = True
            for k in range(n_sums):
                value = undone[u, k]
                finite = finite and math.isfinite(value.real) and math.isfinite(value.imag)
            if not (finite and freq[u] > 0.0 and N > 0.0 and size <= MAX_UNKNOWNS):
                continue
            off_diagonal = 0.0
            for d in range(1, size):
                off_diagonal += math.sqrt(sums_re[d, i] ** 2 + sums_im[d, i] ** 2)
            if not 2.0 * off_diagonal / N < 0.5:  # outside the Neumann bound (or NaN)
                continue
            scale = 1.0 / N
            if K == 0:
                r0[u] = undone[u, 0].real * scale
                _polar(beta, u, K, amplitude, phase)
                done[u] = True
                continue
            if K == 1:  # cofactors, as the reference's _solve_three
                a = complex(sums_re[1, i] * scale, sums_im[1, i] * scale)
                b = complex(sums_re[2, i] * scale, sums_im[2, i] * scale)
                a_conj = a.conjugate()
                c00 = 1.0 - (a.real * a.real + a.imag * a.imag)
                c11 = 1.0 - (b.real * b.real + b.imag * b.imag)
                c01 = a * b.conjugate() - a_conj
                c10 = b * a_conj - a
                c02 = a_conj * a_conj - b.conjugate()
                determinant = c00 + a * c01 + b * c02  # in [1/8, 27/8]: no scaling needed
                inverse = determinant.conjugate() / (determinant.real ** 2
                                                     + determinant.imag ** 2)
                y1 = complex(undone[u, 0].real * scale, undone[u, 0].imag * scale)
                y2 = complex(undone[u, 1].real * scale, undone[u, 1].imag * scale)
                y0 = y2.conjugate()
                r0[u] = ((c01 * y0 + c11 * y1 + c10 * y2) * inverse).real
                beta[K + 1] = (c02 * y0 + c01 * y1 + c00 * y2) * inverse
                _polar(beta, u, K, amplitude, phase)
                done[u] = True
                continue
            for m in range(size):  # G[m, m'] = S(m' - m) / N, m = -K..K
                gram[m, m] = 1.0
                for mm in range(m + 1, size):
                    lag = mm - m
                    value = complex(sums_re[lag, i] * scale, sums_im[lag, i] * scale)
                    gram[m, mm] = value
                    gram[mm, m] = value.conjugate()
                j = m - K
                y = undone[u, abs(j)]
                y = complex(y.real * scale, y.imag * scale)
                beta[m] = y if j >= 0 else y.conjugate()
            for p in range(size):  # elimination without pivoting (diagonally dominant)
                inverse = 1.0 / gram[p, p]
                for row in range(p + 1, size):
                    factor = gram[row, p] * inverse
                    for col in range(p + 1, size):
                        gram[row, col] -= factor * gram[p, col]
                    beta[row] -= factor * beta[p]
            for p in range(size - 1, -1, -1):
                value = beta[p]
                for col in range(p + 1, size):
                    value -= gram[p, col] * beta[col]
                beta[p] = value / gram[p, p]
            r0[u] = beta[K].real
            _polar(beta, u, K, amplitude, phase)
            done[u] = True
