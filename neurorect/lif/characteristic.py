"""Roots of a delayed characteristic equation ``1 = exp(-lam D) G(lam)``: a Nyquist count on
the imaginary axis and Newton's method in the complex plane (used by
:mod:`neurorect.lif.mean_field`; ``G`` is any vectorised callable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline

__all__ = ["Loop", "Roots", "nyquist_count", "characteristic_roots"]

_N_COARSE = 96  # log-spaced frequencies of G on the imaginary axis
_F_MIN = 0.5  # lowest non-zero frequency of that grid, Hz
_NEWTON_TOL = 1e-10  # relative step of Newton's method at convergence
_NEWTON_ITER = 15

Loop = Callable[[NDArray, NDArray], NDArray]  # (lam, element index) -> G(lam) (no delay)


def nyquist_count(F: NDArray) -> NDArray:
    """Roots in the right half-plane from ``F(i omega)`` sampled on ``[0, omega_max]``.

    ``F`` (elements x samples, the first at ``omega = 0`` where ``F`` is real) must be
    analytic in the right half-plane, have a positive real part beyond ``omega_max`` and
    move its phase by less than pi between samples. The phase change along the samples,
    closed to the positive real axis, is half of that along the whole imaginary axis (the
    lower half mirrors the upper); the contour runs clockwise around the right half-plane, so
    the count is ``-(phase change) / pi``. Returns rounded counts (float array).
    """
    phase = np.unwrap(np.angle(F), axis=-1)
    change = phase[..., -1] - np.angle(F[..., -1]) - phase[..., 0]
    return np.rint(-change / np.pi) + 0.0  # + 0.0: no negative zeros


def _newton(char: Callable[[NDArray, NDArray], NDArray], lam: NDArray, index: NDArray,
            lam_floor: NDArray, lam_max: float, max_step: NDArray) -> NDArray:
    """Roots of ``char(lam, index)`` by Newton's method from ``lam`` (vectorised).

    Steps are capped at ``max_step[index]`` (a quarter of the spacing of the delay's root
    branches: a start near a root stays with it); starts that do not converge, or leave the
    box ``lam_floor[index] <= Re lam``, ``|lam| <= lam_max``, give NaN.
    """
    lam = lam.astype(complex).copy()
    active = np.ones(lam.shape, bool)
    done = np.zeros(lam.shape, bool)
    for _ in range(_NEWTON_ITER):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        x = lam[idx]
        h = 1e-7 * (1.0 + np.abs(x))
        both = char(np.concatenate([x, x + h]), np.concatenate([index[idx], index[idx]]))
        f0, f1 = both[:idx.size], both[idx.size:]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -f0 * h / (f1 - f0)
            cap = max_step[index[idx]]
            step = np.where(np.abs(step) > cap, step * cap / np.abs(step), step)
        lam[idx] = x + step
        conv = np.abs(step) <= _NEWTON_TOL * (1.0 + np.abs(x))
        done[idx[conv]] = True
        new = lam[idx]
        lost = (~np.isfinite(new) | (new.real < lam_floor[index[idx]])
                | (np.abs(new) > lam_max))
        active[idx[conv | lost]] = False
        lam[idx[lost]] = np.nan
    lam[~done] = np.nan
    return np.where(lam.imag < 0, np.conj(lam), lam)  # one of each conjugate pair


class Roots(NamedTuple):
    """Roots of a characteristic equation per element (see :func:`characteristic_roots`)."""

    by_freq: NDArray  # complex (elements, n_roots): the lowest-frequency roots, Im >= 0
    rightmost: NDArray  # complex (elements,): the root with the largest real part found
    n_unstable: NDArray  # Nyquist count on [0, f_max]


def characteristic_roots(loop: Loop, delay: NDArray, *, f_max: float, n_roots: int,
                         n_candidates: int, lam_floor: NDArray, df: float | None = None
                         ) -> Roots:
    """Roots of ``1 = exp(-lam D) G(lam)`` per element, and the Nyquist count.

    Starting points are the local minima of ``|F(i omega)|``, ``F = 1 - exp(-lam D) G``, on a
    fine grid of ``[0, f_max]`` (``G`` interpolated from a log grid): the ``n_candidates``
    lowest in frequency, the 3 whose one-step estimate of the root lies furthest right, and
    the real axis near 0; each is refined by Newton's method with the exact ``G``.

    Parameters
    ----------
    loop : callable
        ``loop(lam, index) -> G(lam)`` for complex ``lam`` (1/s) and element indices.
    delay : ndarray
        ``D`` per element, s.
    f_max : float
        Upper end of the Nyquist curve, Hz.
    n_roots, n_candidates : int
        Roots returned per element (lowest frequencies first) and low-frequency Newton starts.
    lam_floor : ndarray
        Per element, roots with ``Re lam`` below this are discarded (validity of ``G``).
    df : float, optional
        Spacing of the fine frequency grid, Hz (default a 40th of ``1/max(D)``).
    """
    n = delay.size
    index = np.arange(n)
    coarse = np.concatenate([[0.0], np.geomspace(_F_MIN, f_max, _N_COARSE - 1)])
    G = loop(2j * np.pi * coarse[None, :], np.repeat(index[:, None], coarse.size, axis=1))
    step = df if df is not None else 1.0 / (40.0 * float(np.max(delay)))
    fine = np.arange(0.0, f_max + step, step)
    x_coarse, x_fine = np.log1p(coarse / _F_MIN), np.log1p(fine / _F_MIN)
    G_fine = (CubicSpline(x_coarse, G.real, axis=1)(x_fine)
              + 1j * CubicSpline(x_coarse, G.imag, axis=1)(x_fine))
    omega = 2 * np.pi * fine
    F = 1.0 - np.exp(-1j * omega[None, :] * delay[:, None]) * G_fine
    count = nyquist_count(F)
    dF = np.gradient(F, omega, axis=1) / 1j  # dF/dlam on the axis
    with np.errstate(divide="ignore", invalid="ignore"):  # dF = 0: no estimate (inf/NaN)
        estimate = 1j * omega[None, :] - F / dF  # one Newton step from the axis
    absF = np.abs(F)
    minima = np.zeros(F.shape, bool)
    minima[:, 1:-1] = (absF[:, 1:-1] <= absF[:, :-2]) & (absF[:, 1:-1] <= absF[:, 2:])
    order = np.where(minima, np.arange(fine.size)[None, :], fine.size)
    low = np.argsort(order, axis=1, kind="stable")[:, :n_candidates]
    right = np.argsort(np.where(minima, -estimate.real, np.inf), axis=1)[:, :3]
    picks = np.concatenate([low, right], axis=1)
    starts = np.where(np.take_along_axis(minima, picks, axis=1),
                      np.take_along_axis(estimate, picks, axis=1), np.nan)
    starts = np.concatenate([starts, estimate[:, :1].real + 0j], axis=1)
    lam_max = 2 * np.pi * 1.2 * f_max
    inside = (starts.real >= lam_floor[:, None]) & (np.abs(starts) <= lam_max)
    starts = np.where(inside, starts, np.nan)

    def char(lam, idx):
        return 1.0 - np.exp(-lam * delay[idx]) * loop(lam, idx)

    flat_index = np.repeat(index, starts.shape[1])
    flat = starts.ravel()
    ok = np.isfinite(flat)
    found = np.full(flat.shape, np.nan, complex)
    found[ok] = _newton(char, flat[ok], flat_index[ok], lam_floor,
                        lam_max=lam_max, max_step=np.pi / (2.0 * delay))
    found = found.reshape(n, -1)
    by_freq = np.full((n, n_roots), np.nan + 0j)
    rightmost = np.full(n, np.nan + 0j)
    for e in range(n):
        unique: list[complex] = []
        for r in found[e][np.isfinite(found[e])]:
            if all(abs(r - u) > 1e-6 * (1.0 + abs(r)) for u in unique):
                unique.append(complex(r))
        if unique:
            rightmost[e] = max(unique, key=lambda z: z.real)
        unique.sort(key=lambda z: z.imag)
        by_freq[e, :min(n_roots, len(unique))] = unique[:n_roots]
    return Roots(by_freq, rightmost, count)
