"""Mean and harmonics from streaming sums over any window: least squares with the exact Gram.

The rate engine accumulates, for each unit, ``acc[0] = sum_n r_n`` and
``acc[k] = sum_n r_n exp(-i k theta_n)``, ``theta_n = 2 pi f t_n``, ``t_n = n dt``, over the
``N`` steps ``n = w0 .. w0 + N - 1`` of its statistics window. Dividing by ``N`` is the
projection on an orthogonal basis only when the window holds a whole number of periods AND a
whole number of steps per period. :func:`harmonics_from_sums` instead solves the least-squares
problem of fitting ``r_n ~ r0 + sum_{k<=K} A_k sin(k theta_n + phase_k)`` to the samples,
whose normal equations need only these sums and the Gram matrix of the sampled basis
``exp(i m theta_n)``, ``|m| <= K``: a Hermitian Toeplitz matrix of geometric sums
``S(d) = sum_n exp(i d theta_n)``, known in closed form (a Dirichlet kernel). So:

* **Exactness.** A signal made of the mean and harmonics 1..K is recovered exactly (to
  rounding, ~1e-13 relative) from ANY window of at least ``2K + 1`` samples whose Gram
  matrix is regular: a whole number of periods is not needed, neither are whole steps per
  period.
* **Leakage bound.** Harmonics ``j > K`` are not in the basis and leak. Let ``P = 1/(f dt)``
  samples per period, ``M`` the whole periods the window is meant to hold and
  ``delta = N - M P`` (``|delta| <= 1/2`` for the engine's windows, which round ``M P`` to
  the nearest step). For a harmonic ``j > K`` of amplitude ``A_j`` with
  ``(j + K) f <= 1/(2 dt)`` every geometric sum involved obeys
  ``|S(d)| = |sin(pi d delta / P)| / |sin(pi d / P)| <= pi |delta| / 2``, so (bounding the
  inverse Gram by a Neumann series)::

      |error of z_k| <= lambda A_j,  |error of r0| <= lambda A_j / 2,
      lambda = pi |delta| / (N - pi K |delta|)  <=  pi / (2 N - pi K),

  summed over such ``j`` (:func:`leakage_bound` gives ``lambda`` per unit). Whole steps per
  period (``delta = 0``) give ``lambda = 0``: no leakage, as with the plain projection.
  Harmonics beyond ``1/(2 dt) - K f`` alias (a sampling limit no window removes).

``z_k = A_k exp(i phase_k)`` is the sine-convention complex coefficient of
:mod:`neurorect.fourier`.
"""

from __future__ import annotations

import numpy as np

from neurorect._arguments import float_array
from neurorect.errors import ModelError
from neurorect.fourier.phase import TWO_PI, wrap_phase

__all__ = ["harmonics_from_sums", "leakage_bound", "geometric_sums", "measurable_harmonics"]

#: Units solved at once (bounds the temporary (units, 2K+1, 2K+1) complex arrays).
_BLOCK = 1 << 15
#: Units fitted per pass of :func:`_fit`: every temporary then stays in the L2 cache and
#: below glibc's mmap threshold (128 KiB), so it is not returned to the system and faulted
#: in again at each allocation (measured: ~900 page faults per fit of 10^4 units without;
#: ~2.5 us each on this VM). Every unit's numbers are its own: the blocking changes no bit.
_CACHE_UNITS = 2048
#: A Gram matrix (normalised by N) with a condition number above this cannot separate the
#: harmonics (too few samples, or harmonics aliasing near the Nyquist frequency).
_MAX_CONDITION = 1e8


def geometric_sums(freq, dt: float, start, count, n_terms: int) -> np.ndarray:
    """``S(d) = sum_{n=start}^{start+count-1} exp(i 2 pi d f n dt)`` for ``d = 0..n_terms-1``.

    Closed form ``exp(i 2 pi d f dt (start + (count - 1)/2)) sin(pi d f dt count) /
    sin(pi d f dt)`` (``count`` where ``d f dt`` is an integer, and for ``d = 0``). Arrays
    broadcast; the result has a trailing axis ``d``. The arguments of the sines and of the
    phase are reduced in turns before the multiplication by pi (exactly: ``y - 2
    floor(y / 2)``), so that large ``d f dt count`` lose nothing.
    """
    freq, start, count = (np.asarray(v, dtype=float)[..., None] for v in (freq, start, count))
    shape = np.broadcast_shapes(freq.shape, start.shape, count.shape)[:-1]
    out = np.empty(shape + (n_terms,), dtype=complex)
    out[..., :1] = count
    if n_terms < 2:
        return out
    cycles_per_step = np.arange(1.0, n_terms) * (freq * dt)  # d f dt
    centre = cycles_per_step * (start + 0.5 * (count - 1.0))
    centre -= np.floor(centre)  # phase in turns, reduced before the multiplication by 2 pi
    half_turns = cycles_per_step * count  # (d f dt count) half-turns of sin(pi .)
    half_turns -= 2.0 * np.floor(0.5 * half_turns)  # mod 2, exact
    step_half_turns = cycles_per_step - 2.0 * np.floor(0.5 * cycles_per_step)
    whole = cycles_per_step == np.floor(cycles_per_step)  # d f dt an integer: every term 1
    denominator = np.sin(np.pi * step_half_turns)
    denominator[whole] = 1.0
    kernel = np.sin(np.pi * half_turns) / denominator
    centre *= TWO_PI
    sums = out[..., 1:]
    sums.real = np.cos(centre) * kernel
    sums.imag = np.sin(centre) * kernel
    if np.any(whole):
        sums[np.broadcast_to(whole, sums.shape)] = np.broadcast_to(count, sums.shape)[
            np.broadcast_to(whole, sums.shape)]
    return out


def _gram(sums: np.ndarray, n_harmonics: int) -> np.ndarray:
    """The (…, 2K+1, 2K+1) Hermitian Toeplitz Gram ``G[m, m'] = S(m' - m)``, m = -K..K."""
    m = np.arange(-n_harmonics, n_harmonics + 1)
    lag = m[None, :] - m[:, None]
    values = sums[..., np.abs(lag)]
    return np.where(lag >= 0, values, np.conj(values))


def _regular(sums: np.ndarray, count: np.ndarray, n_harmonics: int):
    """Which normalised Grams ``G / N`` can be solved, and which of them lie within the
    Neumann bound ``||G / N - I||_inf <= 2 sum_{d=1}^{2K} |S(d)| / N < 1/2`` (condition
    number <= 3): those, and, for up to 2K + 1 = 257 unknowns, the others whose condition
    number is below ``_MAX_CONDITION``."""
    with np.errstate(invalid="ignore", over="ignore"):
        off_diagonal = 2.0 * np.abs(sums[:, 1:]).sum(axis=1) / count
        neumann = off_diagonal < 0.5
        regular = neumann.copy()
        doubtful = np.flatnonzero(~regular)
        doubtful = doubtful[np.all(np.isfinite(sums[doubtful]), axis=1)]
        if doubtful.size and 2 * n_harmonics + 1 <= 257:
            normal = _gram(sums[doubtful], n_harmonics) / count[doubtful, None, None]
            regular[doubtful] = np.linalg.cond(normal) < _MAX_CONDITION
    return regular, neumann


def _rhs(acc: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Right-hand sides of the normal equations for m = -K..K, scaled by 1/N (so that sums
    near the float range do not overflow in the solve)."""
    scaled = acc / count[:, None]
    return np.concatenate([np.conj(scaled[:, :0:-1]), scaled], axis=-1)


def _distinct_rows(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the stacked float ``columns``, sorted, and each row's index in
    them: ``np.unique(..., axis=0, return_inverse=True)`` by one lexsort (several times
    faster: no structured-dtype sort)."""
    order = np.lexsort(columns[::-1])
    rows = np.stack(columns, axis=1)[order]
    new = np.ones(order.size, dtype=bool)
    new[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    inverse = np.empty(order.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return rows[new], inverse


def _solve_three(sums: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve the (units, 3, 3) Hermitian Toeplitz systems ``G x = rhs`` of one harmonic,
    ``G = [[1, a, b], [conj a, 1, a], [conj b, conj a, 1]]`` (``sums`` normalised by N:
    ``sums[:, 0] = 1``, ``a, b = sums[:, 1], sums[:, 2]``), by cofactors (Cramer's rule):
    returns x1 and x2 (x0 = conj x2 for the sums of a real signal, not needed).

    Only for Grams within the Neumann bound (``||G - I||_inf < 1/2``: condition number
    <= 3, determinant in [1/8, 27/8]): there the cofactors and the determinant are sums of
    products of O(1) numbers, so the solution is as accurate as LU's (a few ulp, tested
    against a least-squares fit of the samples), and several times faster than a batched
    LAPACK solve of 3 x 3 systems. The cofactors of this structure: ``C00 = C22 = 1 -
    |a|^2``, ``C11 = 1 - |b|^2``, ``C01 = C12 = a conj b - conj a``, ``C10 = C21 = b conj a
    - a``, ``C02 = conj a^2 - conj b``, ``C20 = a^2 - b``.
    """
    a, b = sums[:, 1], sums[:, 2]
    a_conj = np.conj(a)
    norm_a = a.real * a.real + a.imag * a.imag
    c00 = 1.0 - norm_a
    c11 = 1.0 - (b.real * b.real + b.imag * b.imag)
    c01 = a * np.conj(b) - a_conj
    c10 = b * a_conj - a
    c02 = a_conj * a_conj - np.conj(b)
    determinant = c00 + a * c01 + b * c02
    y0, y1, y2 = rhs[:, 0], rhs[:, 1], rhs[:, 2]
    x1 = (c01 * y0 + c11 * y1 + c10 * y2) / determinant
    x2 = (c02 * y0 + c01 * y1 + c00 * y2) / determinant
    return x1, x2


def _fit(acc: np.ndarray, freq: np.ndarray, dt: float, start: np.ndarray, count: np.ndarray):
    """r0 and z_1..z_K of units fitted with K = acc.shape[1] - 1 harmonics (K may be 0);
    NaN where the Gram is not regular (:func:`_regular`)."""
    K = acc.shape[1] - 1
    if 2 * K + 1 > 33:  # one Levinson solve per distinct Gram: find units sharing (f, start, N)
        return _fit_shared(acc, freq, dt, start, count)
    if count.size <= _CACHE_UNITS:
        return _fit_small(acc, freq, dt, start, count)
    r0 = np.empty(count.size)
    z = np.empty((count.size, K), dtype=complex)
    for lo in range(0, count.size, _CACHE_UNITS):  # the same numbers, unit by unit
        part = slice(lo, lo + _CACHE_UNITS)
        r0[part], z[part] = _fit_small(acc[part], freq[part], dt, start[part], count[part])
    return r0, z


def _fit_small(acc, freq, dt, start, count):
    """:func:`_fit` for 2K + 1 <= 33 unknowns."""
    K = acc.shape[1] - 1
    size = 2 * K + 1
    # small systems: the Gram sums per unit cost less than finding the shared ones
    sums = geometric_sums(freq, dt, start, count, size)
    regular, neumann = _regular(sums, count, K)
    if size == 3 and np.all(neumann):  # one harmonic, well-conditioned Grams: closed form
        x1, x2 = _solve_three(sums / count[:, None], _rhs(acc, count))
        return x1.real, 2j * x2[:, None]  # z_1 = 2 i beta_1 (sine convention)
    beta = np.full((count.size, size), np.nan + 0j)
    by_cofactors = neumann if size == 3 else np.zeros(count.size, dtype=bool)
    if size == 3 and np.any(by_cofactors):
        units = np.flatnonzero(by_cofactors)
        x1, x2 = _solve_three(sums[units] / count[units, None], _rhs(acc[units], count[units]))
        beta[units, 1], beta[units, 2] = x1, x2
    block_units = max(1, _BLOCK * 49 // size**2)  # one batched solve per block of units
    for lo in range(0, count.size, block_units):
        block = np.arange(lo, min(lo + block_units, count.size))
        block = block[regular[block] & ~by_cofactors[block]]
        if block.size:
            normal = _gram(sums[block], K) / count[block, None, None]
            beta[block] = np.linalg.solve(normal, _rhs(acc[block], count[block])[..., None]
                                          )[..., 0]
    return beta[:, K].real, 2j * beta[:, K + 1:]  # z_k = 2 i beta_k (sine convention)


def _fit_shared(acc, freq, dt, start, count):
    """:func:`_fit` for many harmonics (2K + 1 > 33): one Levinson solve (O(K^2)) per
    distinct Gram, for all the units that share it."""
    from scipy.linalg import solve_toeplitz

    K = acc.shape[1] - 1
    keys, inverse = _distinct_rows(freq, start, count)
    sums = geometric_sums(keys[:, 0], dt, keys[:, 1], keys[:, 2], 2 * K + 1)
    regular, _ = _regular(sums, keys[:, 2], K)
    beta = np.full((count.size, 2 * K + 1), np.nan + 0j)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(keys.shape[0] + 1))
    for key in np.flatnonzero(regular):
        units = order[bounds[key]:bounds[key + 1]]
        column = _gram(sums[key:key + 1], K)[0, :, 0] / keys[key, 2]
        beta[units] = solve_toeplitz((column, np.conj(column)),
                                     _rhs(acc[units], count[units]).T).T
    return beta[:, K].real, 2j * beta[:, K + 1:]


def harmonics_from_sums(acc: np.ndarray, counts: np.ndarray, *, freq=None,
                        dt: float | None = None, start=None):
    """Mean, amplitudes and phases from streaming sums (the rate engine's statistics).

    Parameters
    ----------
    acc : ndarray of complex, shape (..., K + 1)
        ``acc[..., 0] = sum_n r_n`` and ``acc[..., k] = sum_n r_n exp(-i 2 pi k f n dt)``
        over the ``counts`` steps ``n = start .. start + counts - 1`` of each window.
    counts : ndarray, shape (...)
        Number of samples in each window.
    freq : array_like, shape (...), optional
        Analysis frequency of each window, Hz. With ``dt`` and ``start`` given, the result is
        the exact least-squares fit over the window (see the module docstring); without them
        the sums are divided by ``counts`` (exact only when the window holds whole periods of
        a whole number of steps each).
    dt : float, optional
        Time step, s.
    start : array_like of int, shape (...), optional
        First step (global index ``n``) of each window.

    Returns
    -------
    r0, amplitude, phase : ndarray
        ``r0`` (units of r), ``A_k`` (units of r) and ``phase_k`` (rad, wrapped to
        ``(-pi, pi]``), shapes (...) and (..., K), in the sine convention. NaN where the
        window cannot separate the harmonics (fewer than ``2K + 1`` samples or aliasing; the
        least-squares Gram is singular), for ``amplitude`` and ``phase`` where ``freq == 0``,
        and for the harmonics at or above the Nyquist frequency (see
        :func:`measurable_harmonics`; the fit then uses the harmonics below it).
    """
    acc, counts, dt = _checked_sums(acc, counts, dt)
    if freq is None or dt is None or start is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            r0 = acc[..., 0].real / counts
            coefficient = 1j * 2.0 * (acc[..., 1:] / counts[..., None])  # A exp(i phase)
        return r0, np.abs(coefficient), wrap_phase(np.angle(coefficient))
    shape = acc.shape[:-1]
    K = acc.shape[-1] - 1
    flat_acc = acc.reshape(-1, K + 1)
    flat_freq, flat_start, flat_count = (np.broadcast_to(np.asarray(v, dtype=float),
                                                         shape).reshape(-1)
                                         for v in (freq, start, counts))
    r0 = np.full(flat_count.shape, np.nan)
    coefficient = np.full((flat_count.size, K), np.nan + 0j)
    periodic = flat_freq > 0
    mean_only = ~periodic & (flat_count > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r0[mean_only] = flat_acc[mean_only, 0].real / flat_count[mean_only]
    resolvable = measurable_harmonics(flat_freq, dt, K)
    fitted = periodic & (flat_count > 0)
    if flat_count.size and np.all(fitted) and resolvable.min() == resolvable.max():
        n_fit = int(resolvable[0])  # the common case: every unit alike, no gathers
        r0[:], coefficient[:, :n_fit] = _fit(flat_acc[:, :n_fit + 1], flat_freq, dt,
                                             flat_start, flat_count)
        fitted = np.zeros_like(fitted)
    for n_fit in np.unique(resolvable[fitted]):
        units = np.flatnonzero(fitted & (resolvable == n_fit))
        r0[units], coefficient[units, :n_fit] = _fit(flat_acc[units, :n_fit + 1],
                                                     flat_freq[units], dt, flat_start[units],
                                                     flat_count[units])
    amplitude = np.abs(coefficient).reshape(*shape, K)
    phase = wrap_phase(np.angle(coefficient)).reshape(*shape, K)
    return r0.reshape(shape), amplitude, phase


def measurable_harmonics(freq, dt: float, n_harmonics: int) -> np.ndarray:
    """How many of the harmonics 1..K of ``freq`` lie below the Nyquist frequency
    ``1/(2 dt)`` (int array); harmonics at or above it cannot be told apart from lower ones
    at this sampling and are reported as NaN."""
    freq = np.asarray(freq, dtype=float)
    with np.errstate(divide="ignore"):
        below = np.ceil(0.5 / (freq * dt)) - 1  # largest k with k f dt < 1/2
    return np.clip(np.where(freq > 0, below, 0), 0, n_harmonics).astype(np.int64)


def _checked_sums(acc, counts, dt):
    """``acc`` (..., K + 1) complex and ``counts`` (...) as arrays, ``dt`` > 0 or None."""
    try:
        acc = np.asarray(acc, dtype=complex)
    except (TypeError, ValueError):
        raise ModelError("must be complex sums", key="acc", value=type(acc).__name__,
                         allowed="an array (..., K + 1) of complex sums") from None
    counts = float_array("counts", counts, allowed="sample counts")
    if acc.ndim < 1 or acc.shape[-1] < 1 or counts.shape != acc.shape[:-1]:
        raise ModelError("counts must have the shape of acc without its last axis", key="counts",
                         value=f"shape {counts.shape}", allowed=f"shape {acc.shape[:-1]}")
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise ModelError("must be a positive time step", key="dt", value=dt,
                         allowed="0 < dt < inf (s)")
    return acc, counts, dt


def leakage_bound(freq, dt: float, counts, periods, n_harmonics: int) -> np.ndarray:
    """``lambda`` of the module docstring: the largest change of any ``z_k`` (and twice the
    largest change of ``r0``) per unit amplitude of one harmonic ``j > K`` with
    ``(j + K) f <= 1/(2 dt)``, for windows of ``counts`` samples meant to hold ``periods``
    whole periods of ``freq`` (Hz). 0 for exact whole-step periods; NaN where ``freq`` is 0,
    ``periods`` is 0 or the Neumann bound does not apply (``N <= pi K |delta|``)."""
    if not (np.isfinite(dt) and dt > 0):
        raise ModelError("must be a positive time step", key="dt", value=dt,
                         allowed="0 < dt < inf (s)")
    freq, counts, periods = (float_array(name, v) for name, v in
                             (("freq", freq), ("counts", counts), ("periods", periods)))
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.abs(counts - periods / (freq * dt))
        denominator = counts - np.pi * n_harmonics * delta
        bound = np.pi * delta / denominator
    valid = (freq > 0) & (periods >= 1) & (denominator > 0)
    return np.where(valid, bound, np.nan)
