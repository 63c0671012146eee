r"""Rate response of the LIF neuron to its input's mean and variance, off the imaginary axis.

:func:`laplace_response` gives, for a complex Laplace variable ``lam`` (1/s), the linear
response of the firing rate to a modulation ``mu(t) = mu0 + mu1 exp(lam t)`` of the mean input
(``chi_mu``, Hz/V) and to a modulation ``sigma^2(t) = sigma0^2 + s2 exp(lam t)`` of the noise
variance (``chi_var``, Hz/V^2): ``r(t) = r0 + (chi_mu mu1 + chi_var s2) exp(lam t)`` to first
order. On the imaginary axis ``lam = i 2 pi f``, ``chi_mu`` is
:func:`neurorect.lif.susceptibility` (sine convention); at ``lam = 0`` the two are the
derivatives of the Siegert rate with respect to ``mu`` and ``sigma^2``. The characteristic
equation of a network's asynchronous state needs both at complex ``lam``
(:mod:`neurorect.lif.mean_field`).

How ``chi(lam)`` is obtained off the imaginary axis
---------------------------------------------------
By threshold integration (Richardson 2007) of the linearised Fokker-Planck equation, which
holds for any complex ``s = lam tau_m``: in ``y = (V - mu0)/sigma0`` with ``p = sigma0 P``
and ``j = tau_m J``, ``p' = -2 y p - 2 j + F``, ``j' = -s p``, with the forcing
``F = 2 (mu1/sigma0) p0`` (mean) or ``F = -(s2/sigma0^2) p0'`` (variance) of the stationary
density ``p0``. Particular solutions are closed forms in ``p0`` and its derivatives,

* mean: ``p = -m1 p0' / (1 + s)``, ``j = m1 s p0 / (1 + s)``, ``m1 = mu1 / sigma0``;
* variance: ``p = q p0'' / (2 + s)``, ``j = -s q p0' / (2 + s)``, ``q = s2 / (2 sigma0^2)``

(the ``1/(1 + s)`` and ``1/(2 + s)`` of Brunel & Hakim 1999 and Lindner &
Schimansky-Geier 2001), valid on either side of the reset, where ``p0'`` jumps. What remains
is homogeneous, with the absorbing threshold (``p = 0``, flux ``j = tau_m r1``), the reset
(the flux re-enters ``t_ref`` later: a factor ``exp(-s t_ref / tau_m)``; the jumps of the
particular solutions are compensated so that ``p`` is continuous) and no flux at
``y -> -inf``. Three homogeneous solutions are integrated from threshold down to
``y_lb = -sqrt(min(y_r, 0)^2 + tail)``: X (unit flux, re-injected), M and V (the mean and
variance particular solutions' boundary values and jumps), each carried as ``(h, k, c)`` with
``k = int_y^{y_th} h`` and flux ``g = c + s k`` (``c`` constant between threshold, reset and
``y_lb``), so that the no-flux condition ``g / s = c / s + k = 0`` has no ``0/0`` at
``s = 0``. Then ``chi_mu = -2 r0 / (sigma0 (1 + s)) kM / (cX/s + kX)`` and
``chi_var = -r0 / (sigma0^2 (2 + s)) kV / (cX/s + kX)``.

Steps are fourth-order Magnus exponentials of the 2 x 2 system (closed-form complex 2 x 2
exponentials, exact for the fast boundary layers at large ``|s|``), two step sizes combined by
Richardson extrapolation (error ``O(d^6)``): the same scheme as :func:`susceptibility`,
written here in complex arithmetic for complex ``s``.

In the left half-plane the condition ``g(y_lb) = 0`` still selects the analytic
continuation: there the solution that decays slowly (algebraically, ``p ~ |y|^(s-1)``)
dominates the downward integration and the condition removes it, up to terms of relative
size ``exp(-tail) |y_lb|^(-Re s)``. Accuracy (tested against the parabolic-cylinder closed
form of ``chi_mu`` and against a direct integration of the forced equations for
``chi_var``): ~1e-9 relative or better for ``-20 < Re s`` and ``|s| <~ 1e3``. The particular
solutions are singular at the two points ``s = -1`` and ``s = -2`` (``chi`` itself is not):
within ``|s + 1| ~ 1e-3`` of them a few digits are lost to cancellation, and they are refused
exactly.

References
----------
Brunel N, Hakim V (1999) Neural Comput 11:1621. Lindner B, Schimansky-Geier L (2001)
Phys Rev Lett 86:2934. Richardson MJE (2007) Phys Rev E 76:021919.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from neurorect.errors import ModelError
from neurorect.lif.params import as_output, broadcast_flat, check_params
from neurorect.lif.rates import siegert_rate

__all__ = ["laplace_response", "isi_laplace"]

_SERIES_ORDER = 10  # cosh(sqrt z), sinh(sqrt z)/sqrt z to z^10 for |z| <= 1 (error < 1e-18)
_RENORM_EVERY = 8  # steps between renormalisations of the three solutions
#: Taylor coefficients 1/(2n)! and 1/(2n+1)!, n = 0.._SERIES_ORDER.
_COSH = np.array([1.0 / math.factorial(2 * n) for n in range(_SERIES_ORDER + 1)])
_SINHC = np.array([1.0 / math.factorial(2 * n + 1) for n in range(_SERIES_ORDER + 1)])


def _series_parts(m: NDArray, z: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    r"""``C = cosh sqrt z``, ``S = sinh sqrt z / sqrt z`` and the divided difference
    ``G[m^2, z]`` of ``G(z) = C(z) - m S(z)``, by Horner's scheme (``|z|, m^2 <= 1``).

    For ``G = sum g_n z^n``, Horner's partial sums ``T_n = g_n + z T_{n+1}`` give
    ``G[a, z] = sum_{n >= 1} T_n a^{n-1}``, summed in the same downward loop.
    """
    a = m * m
    c = _COSH[-1] + 0.0 * z
    sh = _SINHC[-1] + 0.0 * z
    t = _COSH[-1] - m * _SINHC[-1] + 0.0 * z
    divided = t
    for n in range(_SERIES_ORDER - 1, 0, -1):
        c = _COSH[n] + z * c
        sh = _SINHC[n] + z * sh
        t = (_COSH[n] - m * _SINHC[n]) + z * t
        divided = t + a * divided
    return 1.0 + z * c, 1.0 + z * sh, divided


def _propagators(y_mid: NDArray, d: NDArray, s: NDArray):
    r"""Reduced propagator of one downward Magnus step of length ``d`` centred at ``y_mid``.

    ``(h, g)' = A (h, g)``, ``A = [[-2 y, -2], [-s, 0]]``; fourth-order Magnus exponent of the
    downward step ``Omega = [[2 d y_mid, 2 d - d^3/3], [s (d + d^3/6), 0]]`` and
    ``exp(Omega) = e^m (C I + S N)``, ``m = d y_mid``, ``N = Omega - m I``, ``N^2 = z I``,
    ``z = m^2 + eps``, ``eps = Omega12 Omega21``, ``C = cosh sqrt z``, ``S = sinh sqrt z /
    sqrt z``. With the flux as ``g = c + s k`` the update is ``h <- P11 h + P12 (c + s k)``,
    ``k <- Q21 h + Q22 c + P22 k`` with ``Q21 = P21 / s`` and ``Q22 = (P22 - 1) / s =
    Omega12 (Omega21 / s) e^m G[m^2, z]`` (``P22 = e^m G(z)``, ``G(m^2) = e^{-m}``): finite
    at ``s = 0``. Returns ``P11, P12, P22, Q21, Q22``.
    """
    m = d * y_mid
    o12 = 2.0 * d - d**3 / 3.0
    o21_reduced = d + d**3 / 6.0  # Omega21 / s
    z = m * m + s * (o12 * o21_reduced)
    big = np.abs(z) > 1.0
    if np.any(big):  # large |s d^2|: closed forms (no cancellation there)
        z_small = np.where(big, 0.0, z)
        cosh, sinhc, divided = _series_parts(m, z_small)
        root = np.sqrt(np.where(big, z, 1.0))
        cosh = np.where(big, np.cosh(root), cosh)
        sinhc = np.where(big, np.sinh(root) / root, sinhc)
        eps = np.where(big, z - m * m, 1.0)
        direct = (cosh - m * sinhc - np.exp(-m)) / eps
        divided = np.where(big, direct, divided)
    else:
        cosh, sinhc, divided = _series_parts(m, z)
    em = np.exp(m)
    scaled = em * sinhc
    return (em * cosh + m * scaled, scaled * o12, em * cosh - m * scaled,
            scaled * o21_reduced, (o12 * o21_reduced) * em * divided)


class _Solutions:
    """The three homogeneous solutions X, M, V (rows): ``h``, ``k`` and the flux constant
    ``c``, each row divided by ``exp(log_scale)``; ``c_unit`` holds the unscaled flux
    constants of the current segment."""

    def __init__(self, h0: NDArray, c_unit: NDArray):
        self.h = h0.astype(complex)
        self.k = np.zeros_like(self.h)
        self.log_scale = np.zeros(h0.shape)
        self.set_flux_constants(c_unit)

    def set_flux_constants(self, c_unit: NDArray) -> None:
        self.c_unit = np.asarray(c_unit, dtype=complex)
        self.c = self.c_unit * np.exp(-self.log_scale)

    def step(self, p11, p12, p22, q21, q22, s) -> None:
        h = p11 * self.h + p12 * (self.c + s * self.k)
        self.k = q21 * self.h + q22 * self.c + p22 * self.k
        self.h = h

    def renormalise(self) -> None:
        scale = np.maximum(np.maximum(np.abs(self.h), np.abs(self.k)), np.abs(self.c))
        scale = np.where(scale > 0, scale, 1.0)
        self.h, self.k, self.c = self.h / scale, self.k / scale, self.c / scale
        self.log_scale = self.log_scale + np.log(scale)


def _propagate(solutions: _Solutions, s, y_top, d, n) -> None:
    """Advance the solutions ``n`` steps of size ``d`` downward from ``y_top`` (blocks of
    steps: propagators vectorised over steps and elements, ~4k numbers per block)."""
    block = max(1, 4096 // s.size)
    for start in range(0, n, block):
        offsets = np.arange(start, min(start + block, n)) + 0.5
        y_mid = y_top[None, :] - offsets[:, None] * d[None, :]
        props = _propagators(y_mid, d[None, :], s[None, :])
        for b in range(offsets.size):
            solutions.step(*(p[b] for p in props), s)
            if (start + b) % _RENORM_EVERY == _RENORM_EVERY - 1:
                solutions.renormalise()
    solutions.renormalise()


def _reinjection_over_s(x: NDArray, t_ratio: NDArray) -> NDArray:
    """``(1 - exp(-s t_ratio)) / s`` with ``x = s t_ratio`` (finite at ``s = 0``)."""
    small = np.abs(x) < 1e-4
    xs = np.where(small, 1.0, x)
    direct = -np.expm1(-xs) / xs
    series = 1.0 - x / 2.0 + x * x / 6.0 - x**3 / 24.0
    return t_ratio * np.where(small, series, direct)


def _ratios(s, y_th, y_r, t_ratio, y_lb, n1, n2):
    """``kM / (cX/s + kX)`` and ``kV / (cX/s + kX)`` at ``y_lb`` (1-D arrays)."""
    zero, one = np.zeros(s.shape), np.ones(s.shape)
    sol = _Solutions(np.stack([zero, -one, -2.0 * y_th]), np.stack([one + 0j, zero + 0j, -s]))
    _propagate(sol, s, y_th, (y_th - y_r) / n1, n1)
    # reset: X re-injects its flux t_ref later; M and V: p continuous (h jumps by the
    # particular solutions' jumps); V's flux constant vanishes below the reset
    sol.h[1] += np.exp(-sol.log_scale[1])
    sol.h[2] += 2.0 * y_r * np.exp(-sol.log_scale[2])
    sol.set_flux_constants(np.stack([-np.expm1(-s * t_ratio), zero + 0j, zero + 0j]))
    _propagate(sol, s, y_r, (y_r - y_lb) / n2, n2)
    x_scale = np.exp(-sol.log_scale[0])
    denominator = _reinjection_over_s(s * t_ratio, t_ratio) * x_scale + sol.k[0]
    return (sol.k[1] * np.exp(sol.log_scale[1] - sol.log_scale[0]) / denominator,
            sol.k[2] * np.exp(sol.log_scale[2] - sol.log_scale[0]) / denominator)


def _extrapolated(solve, s, y_th, y_r, t_ratio, step, tail) -> tuple[NDArray, ...]:
    """``solve(s, y_th, y_r, t_ratio, y_lb, n1, n2)`` (a tuple of arrays) Richardson-
    extrapolated over two step sizes, elements grouped by step count."""
    y_lb = -np.sqrt(np.minimum(y_r, 0.0) ** 2 + tail)
    y_abs = np.maximum(np.abs(y_th), np.abs(y_lb))
    d = step * np.minimum((1.0 + np.abs(s)) ** (-1.0 / 3.0), 2.0 / (1.0 + y_abs))
    group = np.floor(np.log2(np.ceil((y_th - y_lb) / d))).astype(int)
    out: list[NDArray] = []
    for g in np.unique(group):
        sel = group == g
        args = (s[sel], y_th[sel], y_r[sel], t_ratio[sel], y_lb[sel])
        n1 = max(1, int(np.ceil(np.max((y_th[sel] - y_r[sel]) / d[sel]))))
        n2 = max(1, int(np.ceil(np.max((y_r[sel] - y_lb[sel]) / d[sel]))))
        coarse = solve(*args, n1, n2)
        fine = solve(*args, 2 * n1, 2 * n2)
        if not out:
            out = [np.empty(s.shape, complex) for _ in coarse]
        for target, c, f in zip(out, coarse, fine, strict=True):
            # symmetric Magnus steps: the error expansion is even (d^4, d^6, ...)
            target[sel] = (16.0 * f - c) / 15.0
    return tuple(out)


def laplace_response(lam: ArrayLike, mu: ArrayLike, sigma: ArrayLike, *, tau_m: ArrayLike,
                     v_th: ArrayLike, v_reset: ArrayLike, t_ref: ArrayLike,
                     step: float = 0.13, tail: float = 40.0
                     ) -> tuple[NDArray | complex, NDArray | complex]:
    r"""Rate response to the mean and to the variance of the input at complex ``lam``.

    For ``mu(t) = mu0 + mu1 exp(lam t)`` and ``sigma^2(t) = sigma0^2 + s2 exp(lam t)`` the
    rate is ``r0 + (chi_mu mu1 + chi_var s2) exp(lam t)`` to first order (Brunel's LIF
    convention, :mod:`neurorect.lif`). See the module docstring for the method.

    Parameters
    ----------
    lam : array_like of complex
        Laplace variable, 1/s (``i 2 pi f`` on the imaginary axis). Not ``-1/tau_m`` or
        ``-2/tau_m`` (see the module docstring).
    mu : array_like
        Mean input ``mu0``, V.
    sigma : array_like
        Noise amplitude ``sigma0``, V (> 0; free membrane variance ``sigma0^2 / 2``).
    tau_m, v_th, v_reset, t_ref : array_like
        As in :func:`neurorect.lif.siegert_rate` (s, V, V, s).
    step : float, optional
        Base Magnus step in units of ``sigma0`` (error ~ ``step**6``).
    tail : float, optional
        ``y_lb^2 - min(y_r, 0)^2``; the neglected density below ``y_lb`` is ~``exp(-tail)``.

    Returns
    -------
    (chi_mu, chi_var)
        Complex arrays of the broadcast shape: Hz/V and Hz/V^2.

    Raises
    ------
    ModelError
        For invalid parameters (``sigma <= 0`` included), non-finite ``lam``, or ``lam`` at
        ``-1/tau_m`` or ``-2/tau_m``.
    """
    p = check_params(mu=mu, sigma=sigma, tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref)
    if np.any(p["sigma"] <= 0):
        raise ModelError(f"LIF parameter sigma = {float(np.min(p['sigma']))!r} is invalid for "
                         "the rate response: allowed range is sigma > 0 V")
    for name, value in (("step", step), ("tail", tail)):
        if not (math.isfinite(value) and value > 0):
            raise ModelError(f"laplace_response {name} = {value!r} is invalid: allowed "
                             f"{name} > 0")
    lam_arr = np.asarray(lam, dtype=complex)
    if not np.all(np.isfinite(lam_arr)):
        raise ModelError("laplace_response lam must be finite", key="lam",
                         value=complex(lam_arr[~np.isfinite(lam_arr)].flat[0]),
                         allowed="finite complex values (1/s)")
    shape, flat = broadcast_flat(lam_arr.real, lam_arr.imag, p["mu"], p["sigma"], p["tau_m"],
                                 p["v_th"], p["v_reset"], p["t_ref"])
    lam_re, lam_im, mu_, sg, tau, vt, vr, tr = flat
    s = (lam_re + 1j * lam_im) * tau
    near = (np.abs(s + 1.0) < 1e-9) | (np.abs(s + 2.0) < 1e-9)
    if np.any(near):
        raise ModelError("laplace_response is singular in its method at lam tau_m = -1, -2",
                         key="lam", value=complex(s[near][0] / tau[near][0]),
                         allowed="lam away from -1/tau_m and -2/tau_m")
    r0 = np.ravel(siegert_rate(mu_, sg, tau_m=tau, v_th=vt, v_reset=vr, t_ref=tr))
    ratio_m, ratio_v = _extrapolated(_ratios, s, (vt - mu_) / sg, (vr - mu_) / sg, tr / tau,
                                     step, tail)
    live = r0 > 0
    chi_mu = np.where(live, -2.0 * r0 / (sg * (1.0 + s)) * ratio_m, 0.0)
    chi_var = np.where(live, -r0 / (sg * sg * (2.0 + s)) * ratio_v, 0.0)
    return as_output(chi_mu, shape), as_output(chi_var, shape)


def _first_passage(s, y_th, y_r, t_ratio, y_lb, n1, n2):
    """Laplace transform of the first-passage density from reset to threshold (1-D arrays).

    The density started at ``y_r`` and absorbed at ``y_th`` has flux ``u`` with a unit jump at
    the reset: rows A (unit flux at threshold, ``c = 1`` throughout) and B (zero above the
    reset, ``c = -1`` below); no flux at ``y_lb`` gives ``F = -(c_B + s k_B) / (c_A + s k_A)
    = (1 - s k_B) / (1 + s k_A)``.
    """
    zero, one = np.zeros(s.shape), np.ones(s.shape)
    sol = _Solutions(np.stack([zero, zero]), np.stack([one + 0j, zero + 0j]))
    _propagate(sol, s, y_th, (y_th - y_r) / n1, n1)
    sol.set_flux_constants(np.stack([one + 0j, -one + 0j]))
    _propagate(sol, s, y_r, (y_r - y_lb) / n2, n2)
    a, b = sol.log_scale
    return (np.exp(b - a) * (np.exp(-b) - s * sol.k[1]) / (np.exp(-a) + s * sol.k[0]),)


def isi_laplace(lam: ArrayLike, mu: ArrayLike, sigma: ArrayLike, *, tau_m: ArrayLike,
                v_th: ArrayLike, v_reset: ArrayLike, t_ref: ArrayLike, step: float = 0.13,
                tail: float = 40.0) -> NDArray | complex:
    r"""Laplace transform ``E[exp(-lam T)]`` of the interspike interval ``T`` (complex).

    ``T = t_ref +`` the first passage from ``v_reset`` to ``v_th``, by threshold integration
    of the Fokker-Planck equation with a unit source at the reset (same scheme and accuracy
    as :func:`laplace_response`). ``1`` at ``lam = 0``; ``-d/dlam`` there is the mean ISI
    ``1 / r0``. Parameters as in :func:`laplace_response`.
    """
    p = check_params(mu=mu, sigma=sigma, tau_m=tau_m, v_th=v_th, v_reset=v_reset, t_ref=t_ref)
    if np.any(p["sigma"] <= 0):
        raise ModelError(f"LIF parameter sigma = {float(np.min(p['sigma']))!r} is invalid for "
                         "the ISI transform: allowed range is sigma > 0 V")
    lam_arr = np.asarray(lam, dtype=complex)
    shape, flat = broadcast_flat(lam_arr.real, lam_arr.imag, p["mu"], p["sigma"], p["tau_m"],
                                 p["v_th"], p["v_reset"], p["t_ref"])
    lam_re, lam_im, mu_, sg, tau, vt, vr, tr = flat
    s = (lam_re + 1j * lam_im) * tau
    (out,) = _extrapolated(_first_passage, s, (vt - mu_) / sg, (vr - mu_) / sg, tr / tau,
                           step, tail)
    return as_output(np.exp(-s * tr / tau) * out, shape)
