r"""Mean-field theory of Brunel's E-I network of LIF neurons: rates, stability, linear response.

The network is the ``[lif_network]`` table (:class:`~neurorect.spec_lif.LIFNetwork`, model A:
every neuron receives ``C_E`` excitatory and ``C_I`` inhibitory inputs, EPSP ``J``, IPSP
``-g J``, delay ``D``, external rate ``nu_ext`` from ``C_E`` sources). All neurons receive
statistically identical input, so the E and I rates are equal and one self-consistency
equation holds (Brunel 2000):

.. math::  \mu = \tau_m J C_E (\nu_{ext} + \nu(1 - g\gamma)), \quad
           \sigma^2 = \tau_m J^2 C_E (\nu_{ext} + \nu(1 + g^2\gamma)), \quad
           \nu = \Phi(\mu, \sigma) \ \text{(Siegert)}, \quad \gamma = C_I/C_E .

Which input channels each quantity includes
-------------------------------------------
* ``r0``, ``mu``, ``sigma``: the diffusion approximation of the input, both its mean and its
  variance (exact Siegert rate). Left out: the finite size ``J`` of the PSPs (shot noise),
  correlations between inputs (shared presynaptic neurons, ``C/N = 0.1`` in model A) and the
  temporal structure of the recurrent spike trains. Their joint effect is measured against
  Brian2 in the slow tests (``tests/test_lif_network.py``).
* stability and linear response: both the mean channel ``chi_mu`` and the variance channel
  ``chi_var`` (the rate modulation of the presynaptic populations modulates the input
  variance too; with strong inhibition that channel is large, and at high frequency it is
  the only one left: ``chi_var -> r0 / sigma^2``, an instantaneous response). The
  mean-channel-only results (``*_mean_only``, the approximation of most tools) are reported
  next to them, so the error of leaving the variance channel out is measured on every call.

Stability of the asynchronous state
-----------------------------------
A rate perturbation ``exp(lam t)`` of both populations feeds back through the delay:
``1 = exp(-lam D) G(lam)``, ``G = chi_mu(lam) W + chi_var(lam) S`` with
``W = tau_m J (C_E - g C_I)`` (V/Hz) and ``S = tau_m J^2 (C_E + g^2 C_I)`` (V^2/Hz), ``chi``
from :func:`~neurorect.lif.laplace.laplace_response` at complex ``lam``. (The connectivity
matrix has identical rows, so its second mode, E against I, has loop gain 0 and is always
stable.) The roots are found in two stages:

1. the Nyquist curve ``F(i omega) = 1 - exp(-i omega D) G(i omega)`` on ``[0, f_max]``
   (``G`` computed on a log grid and interpolated onto a grid fine enough for the delay's
   phase): its winding number counts the roots in the right half-plane (``n_unstable``), and
   its near-zeros are the starting points of
2. Newton's method in the complex plane with the exact ``chi(lam)`` from the lowest-frequency
   near-zeros and from those whose one-step estimate lies furthest right. Reported: the
   lowest-frequency roots, one per branch of the delay (``growth_rate = Re lam``, 1/s;
   ``oscillation_freq = Im lam / 2 pi``, Hz; the first is the network's own oscillation,
   ~125 Hz in model A), and the largest real part of all (``max_growth_rate``,
   ``max_growth_freq``). Roots left of ``Re lam = -10 / tau_m`` are not sought (a quiescent
   network, whose loop gain is ~0, has none to its right).

Because ``chi_var`` tends to ``r0 / sigma^2`` at high frequency, ``G`` tends to
``G_inf = nu S / sigma^2`` (the recurrent share of the input variance, < 1): an infinite
chain of roots near multiples of ``1/D`` whose growth rates tend to ``log(G_inf) / D < 0``
from below (``growth_rate_limit``). They are always stable, but they may lie to the right of
the finite roots; ``stable`` takes both into account.

Linear response to the external rate
------------------------------------
For ``nu_ext(t) = nu_ext + d nu_ext exp(i 2 pi f t)`` both populations respond with
``d nu / d nu_ext = E(lam) / (1 - exp(-lam D) G(lam))``, ``E = tau_m J C_E (chi_mu +
J chi_var)``, ``lam = i 2 pi f`` (``gain`` = ``|.|`` in Hz per Hz of external rate per
source, ``phase`` = ``arg``, sine convention).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from neurorect._paths import changed
from neurorect._schema import attrs, provenance
from neurorect.errors import ModelError, NeurorectWarning
from neurorect.lif.characteristic import Loop, Roots, characteristic_roots
from neurorect.lif.laplace import laplace_response
from neurorect.lif.rates import siegert_rate
from neurorect.spec import Model
from neurorect.spec_lif import LIF_NETWORK_UNITS, POPULATIONS, LIFNetwork

__all__ = ["mean_field", "NetworkArrays", "network_arrays", "self_consistent_rates",
           "resolve_networks"]

_N_SCAN = 400  # rate grid points of the root scan (quadratic spacing from 0 to nu_max)


@dataclass(frozen=True)
class NetworkArrays:
    """Per-state arrays of a set of networks (SI), the input of the vectorised theory."""

    tau_m: NDArray
    v_th: NDArray
    v_reset: NDArray
    t_ref: NDArray
    delay: NDArray
    W: NDArray  # dmu / dnu, V/Hz
    S: NDArray  # dsigma^2 / dnu, V^2/Hz
    mu_ext: NDArray  # V
    var_ext: NDArray  # V^2
    W_ext: NDArray  # dmu_ext / dnu_ext, V/Hz
    S_ext: NDArray  # dsigma^2_ext / dnu_ext, V^2/Hz
    nu_max: NDArray  # upper end of the rate scan, Hz

    def take(self, index: NDArray) -> NetworkArrays:
        """The arrays at ``index`` (one entry per element of ``index``)."""
        return NetworkArrays(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})

    def moments(self, nu: NDArray) -> tuple[NDArray, NDArray]:
        """Mean (V) and standard deviation (V) of the input at rate ``nu`` (Hz)."""
        return self.mu_ext + self.W * nu, np.sqrt(self.var_ext + self.S * nu)

    def neuron(self) -> dict[str, NDArray]:
        """Keyword arguments of the :mod:`neurorect.lif` functions."""
        return {"tau_m": self.tau_m, "v_th": self.v_th, "v_reset": self.v_reset,
                "t_ref": self.t_ref}


def network_arrays(networks: Sequence[LIFNetwork]) -> NetworkArrays:
    """The :class:`NetworkArrays` of a sequence of networks."""
    def get(name):
        return np.array([getattr(n, name) for n in networks], dtype=float)

    tau, J, g = get("tau_m"), get("J"), get("g")
    C_E, C_I = get("C_E"), get("C_I")
    nu_ext = np.array([n.nu_ext for n in networks])
    t_ref = get("t_ref")
    # the rate cannot exceed 1/t_ref; without refractoriness scan up to 1e4 Hz
    nu_max = np.where(t_ref > 0, 1.0 / np.where(t_ref > 0, t_ref, 1.0), 1e4)
    return NetworkArrays(
        tau_m=tau, v_th=get("v_th"), v_reset=get("v_reset"), t_ref=t_ref, delay=get("delay"),
        W=tau * J * (C_E - g * C_I), S=tau * J**2 * (C_E + g**2 * C_I),
        mu_ext=tau * J * C_E * nu_ext, var_ext=tau * J**2 * C_E * nu_ext,
        W_ext=tau * J * C_E, S_ext=tau * J**2 * C_E, nu_max=nu_max)


def _transfer(arrays: NetworkArrays, nu: NDArray) -> NDArray:
    """Siegert rate at the input moments of rate ``nu`` (arrays broadcast along axis 0)."""
    mu, sigma = arrays.moments(nu)
    return np.asarray(siegert_rate(mu, sigma, **arrays.neuron()), dtype=float)


def self_consistent_rates(arrays: NetworkArrays) -> NDArray:
    """Every solution of ``nu = Phi(mu(nu), sigma(nu))`` per state, ascending (Hz).

    The function ``Phi(nu) - nu`` is scanned on ``_N_SCAN`` rates with quadratic spacing
    from 0 to ``1/t_ref`` (resolution 3e-3 Hz near 0 for ``t_ref = 2 ms``); every sign change
    is refined within its bracket by the Illinois variant of regula falsi (no derivative, so
    it cannot leave the bracket; exact to the last bits also for quiescent states at
    1e-40 Hz, where bisection from 0 would stall at the bracket's resolution).
    Two roots closer than the scan's spacing (just before they annihilate in a saddle-node)
    can be missed. Returns shape ``(states, max solutions)``, padded with NaN.
    """
    n = arrays.tau_m.size
    u = np.linspace(0.0, 1.0, _N_SCAN)
    grid = arrays.nu_max[:, None] * (u**2)[None, :] * (1.0 - 1e-9)
    flat = arrays.take(np.repeat(np.arange(n), _N_SCAN))
    F = _transfer(flat, grid.ravel()).reshape(n, _N_SCAN) - grid
    zero = F == 0.0
    change = (np.sign(F[:, :-1]) * np.sign(F[:, 1:]) < 0) & ~zero[:, :-1]
    state, left = np.nonzero(change)
    lo, hi = grid[state, left], grid[state, left + 1]
    f_lo, f_hi = F[state, left], F[state, left + 1]
    sub = arrays.take(state)
    x = 0.5 * (lo + hi)
    side = np.zeros(lo.shape, int)  # which end was kept last time (Illinois' rule)
    for _ in range(100):  # Illinois regula falsi: bracketed, superlinear, exact at tiny rates
        with np.errstate(invalid="ignore", divide="ignore"):
            x_new = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        x_new = np.where(np.isfinite(x_new) & (x_new >= lo) & (x_new <= hi), x_new,
                         0.5 * (lo + hi))
        f_new = _transfer(sub, x_new) - x_new
        keep_lo = np.sign(f_new) == np.sign(f_lo)
        lo, f_lo = np.where(keep_lo, x_new, lo), np.where(keep_lo, f_new, f_lo)
        hi, f_hi = np.where(keep_lo, hi, x_new), np.where(keep_lo, f_hi, f_new)
        f_hi = np.where(keep_lo & (side == 1), 0.5 * f_hi, f_hi)  # the end kept twice
        f_lo = np.where(~keep_lo & (side == -1), 0.5 * f_lo, f_lo)
        side = np.where(keep_lo, 1, -1)
        settled = (np.abs(x_new - x) <= 1e-15 * np.abs(x_new)) | (f_new == 0.0)
        x = x_new
        if np.all(settled):
            break
    roots = [[] for _ in range(n)]
    for s, value in zip(state, x, strict=True):
        roots[s].append(value)
    for s, j in zip(*np.nonzero(zero), strict=True):
        roots[s].append(grid[s, j])
    width = max(1, max(len(r) for r in roots))
    out = np.full((n, width), np.nan)
    for s, r in enumerate(roots):
        out[s, :len(r)] = np.sort(r)
    return out


# --------------------------------------------------------------------------------------------
# mean_field
# --------------------------------------------------------------------------------------------

def resolve_networks(model: Model | LIFNetwork, grid: Mapping[str, ArrayLike] | None
                     ) -> tuple[list[LIFNetwork], dict[str, NDArray], str | None]:
    """The network at every grid point (outer product, last axis fastest) and the axes."""
    if isinstance(model, Model):
        network, source = model.require_lif_network(), model.source
    elif isinstance(model, LIFNetwork):
        network, source = model, None
    else:
        raise ModelError("must be a Model with an [lif_network] table or an LIFNetwork",
                         key="model", value=type(model).__name__,
                         allowed="Model or LIFNetwork")
    axes: dict[str, NDArray] = {}
    for path, values in (grid or {}).items():
        key = path.removeprefix("lif_network.")
        if key not in LIF_NETWORK_UNITS or key in ("external", "mod_freqs"):
            raise ModelError("not a numeric [lif_network] parameter", key=f"grid.{path}",
                             value=path, allowed=", ".join(f"lif_network.{k}" for k in
                                                           LIF_NETWORK_UNITS
                                                           if k not in ("external",
                                                                        "mod_freqs")))
        axes[key] = np.atleast_1d(np.asarray(values)).ravel()
    if not axes:
        return [network], {}, source
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    networks = [changed(network, {key: m.flat[i].item() for key, m in zip(axes, mesh,
                                                                           strict=True)},
                        "lif_network", source) for i in range(mesh[0].size)]
    return networks, axes, source


def _loop_functions(arrays: NetworkArrays, mu: NDArray, sigma: NDArray, step: float):
    """``G(lam)`` (both channels), ``G`` with the mean channel only, and ``E(lam)``."""
    neuron = arrays.neuron()

    def chis(lam, idx):
        kwargs = {k: v[idx] for k, v in neuron.items()}
        return laplace_response(lam, mu[idx], sigma[idx], step=step, **kwargs)

    def both(lam, idx):
        chi_mu, chi_var = chis(lam, idx)
        return chi_mu * arrays.W[idx] + chi_var * arrays.S[idx]

    def mean_only(lam, idx):
        return chis(lam, idx)[0] * arrays.W[idx]

    def external(lam, idx, variance: bool = True):
        chi_mu, chi_var = chis(lam, idx)
        return chi_mu * arrays.W_ext[idx] + (chi_var * arrays.S_ext[idx] if variance else 0.0)

    return both, mean_only, external


def mean_field(model: Model | LIFNetwork, *, grid: Mapping[str, ArrayLike] | None = None,
               freqs: ArrayLike | None = None, n_eigenvalues: int = 3, n_candidates: int = 6,
               f_max: float = 5000.0, step: float = 0.13) -> xr.Dataset:
    """Self-consistent rates, stability and linear response of an LIF E-I network.

    Parameters
    ----------
    model : Model or LIFNetwork
        A model with an ``[lif_network]`` table, or the table itself.
    grid : mapping, optional
        ``{"lif_network.<key>": values}``: every combination (outer product) is computed in
        one vectorised pass, e.g. ``{"lif_network.g": g, "lif_network.eta": eta}`` for
        Brunel's phase diagram; one dim per key, named after it.
    freqs : array_like, optional
        Frequencies (Hz, >= 0) of the linear response to the external rate.
    n_eigenvalues : int
        Leading eigenvalues reported per solution.
    n_candidates : int
        Newton starts per solution (near-zeros of the Nyquist curve).
    f_max : float
        Upper end of the Nyquist curve and of the root search, Hz.
    step : float
        Base step of the threshold integration (:func:`~neurorect.lif.laplace_response`;
        0.13 gives ~1e-9 relative, 0.25 ~1e-7, for sweeps).

    Returns
    -------
    xarray.Dataset
        Dims: the grid's keys, ``solution``, ``population`` (E, I), ``eigenvalue`` and
        ``freq``. Variables: ``r0`` (Hz), ``mu``, ``sigma`` (V) per solution and population;
        ``n_solutions``; ``slope_mu`` (Hz/V) and ``slope_var`` (Hz/V^2), the derivatives of
        the rate at the operating point; ``growth_rate`` (1/s) and ``oscillation_freq`` (Hz)
        of the lowest-frequency eigenvalues (``eigenvalue`` dim: one per delay branch);
        ``max_growth_rate`` and ``max_growth_freq``, the rightmost of all (``inf`` Hz: the
        chain's limit); ``n_unstable`` (Nyquist count on ``[0, f_max]``);
        ``growth_rate_limit`` and ``loop_gain_limit`` (the high-frequency chain);
        ``stable`` (1 or 0); ``growth_rate_mean_only``, ``oscillation_freq_mean_only`` (the
        lowest-frequency eigenvalue without the variance channel); with ``freqs``: ``gain``
        (Hz per Hz), ``phase`` (rad), ``gain_mean_only``, ``phase_mean_only``. Absent
        solutions are NaN. See the module docstring for the channels each includes.
    """
    networks, axes, source = resolve_networks(model, grid)
    freq = None if freqs is None else np.atleast_1d(np.asarray(freqs, dtype=float)).ravel()
    if freq is not None and (freq.size == 0 or np.any(~np.isfinite(freq) | (freq < 0))):
        raise ModelError("frequencies must be finite and >= 0", key="freqs",
                         value=None if freq is None else freq.tolist(), allowed="freq >= 0 Hz")
    arrays = network_arrays(networks)
    rates = self_consistent_rates(arrays)
    n_states, n_sol = rates.shape
    state, sol = np.nonzero(np.isfinite(rates))
    sub = arrays.take(state)
    nu = rates[state, sol]
    mu, sigma = sub.moments(nu)
    both, mean_only, external = _loop_functions(sub, mu, sigma, step)
    chi_mu0, chi_var0 = laplace_response(0.0, mu, sigma, step=step, **sub.neuron())
    floor = -10.0 / sub.tau_m  # laplace_response is accurate for Re(lam tau_m) > -20
    roots = characteristic_roots(both, sub.delay, f_max=f_max, n_roots=n_eigenvalues,
                                 n_candidates=n_candidates, lam_floor=floor)
    roots_mu = characteristic_roots(mean_only, sub.delay, f_max=f_max, n_roots=1,
                                    n_candidates=n_candidates, lam_floor=floor)
    g_inf = nu * sub.S / sigma**2
    limit = np.log(g_inf) / sub.delay
    _check_counts(roots, g_inf, sub, f_max, both)
    out = _Assembler(n_states, n_sol, state, sol)
    top = np.fmax(roots.rightmost.real, limit)
    top_freq = np.where(roots.rightmost.real >= limit, roots.rightmost.imag / (2 * np.pi),
                        np.inf)
    data: dict[str, Any] = {
        "r0": out.per_population(nu, "Hz", "self-consistent firing rate"),
        "mu": out.per_population(mu, "V", "mean input (Brunel: tau_m dV/dt = -V + mu + ...)"),
        "sigma": out.per_population(sigma, "V", "input noise amplitude (free membrane sd "
                                                "sigma/sqrt(2))"),
        "slope_mu": out.per_solution(np.real(chi_mu0), "Hz/V", "d rate / d mu at the "
                                                                "operating point"),
        "slope_var": out.per_solution(np.real(chi_var0), "Hz/V^2",
                                      "d rate / d sigma^2 at the operating point"),
        "growth_rate": out.per_eigen(_real(roots.by_freq), "1/s",
                                     "Re lambda of the lowest-frequency eigenvalues (both "
                                     "channels)"),
        "oscillation_freq": out.per_eigen(_freq(roots.by_freq), "Hz",
                                          "Im lambda / 2 pi of those eigenvalues"),
        "max_growth_rate": out.per_solution(top, "1/s", "largest Re lambda (the roots found "
                                                        "and the high-frequency chain)"),
        "max_growth_freq": out.per_solution(top_freq, "Hz", "its Im lambda / 2 pi (inf: the "
                                                            "chain's limit)"),
        "n_unstable": out.per_solution(roots.n_unstable, "1", f"eigenvalues with Re > 0 "
                                                              f"below {f_max:g} Hz (Nyquist "
                                                              "count)"),
        "loop_gain_limit": out.per_solution(g_inf, "1", "high-frequency loop gain nu S / "
                                                        "sigma^2 (recurrent share of the "
                                                        "input variance)"),
        "growth_rate_limit": out.per_solution(limit, "1/s", "log(loop_gain_limit) / D: "
                                                            "limit of the growth rates of "
                                                            "the high-frequency root chain"),
        "growth_rate_mean_only": out.per_solution(_real(roots_mu.by_freq[:, 0]), "1/s",
                                                  "Re lambda of the lowest-frequency "
                                                  "eigenvalue, mean channel only"),
        "oscillation_freq_mean_only": out.per_solution(_freq(roots_mu.by_freq[:, 0]), "Hz",
                                                       "its Im lambda / 2 pi"),
    }
    stable = (roots.n_unstable == 0) & (top < 0)
    data["stable"] = out.per_solution(stable.astype(float), "1",
                                      "1 if the asynchronous state is linearly stable")
    if freq is not None:
        data.update(_response(out, external, both, mean_only, sub.delay, freq))
    data["n_solutions"] = (tuple(axes), np.isfinite(rates).sum(axis=1).reshape(
        tuple(a.size for a in axes.values())), attrs("1", "number of self-consistent "
                                                          "solutions"))
    coords: dict[str, Any] = {key: (key, values, attrs(LIF_NETWORK_UNITS[key], key))
                              for key, values in axes.items()}
    coords.update(population=("population", list(POPULATIONS), attrs("1", "population")),
                  solution=("solution", np.arange(n_sol), attrs("1", "solution (by rate)")),
                  eigenvalue=("eigenvalue", np.arange(n_eigenvalues),
                              attrs("1", "eigenvalue rank (by real part)")))
    if freq is not None:
        coords["freq"] = ("freq", freq, attrs("Hz", "modulation frequency"))
    ds = xr.Dataset(out.shape(data, axes), coords=coords)
    ds.attrs = provenance(model if isinstance(model, Model) else None,
                          description="mean field of an LIF E-I network (Brunel 2000)",
                          f_max=f_max, threshold_integration_step=step)
    return ds


class _Assembler:
    """Scatters per-(state, solution) values into (state, solution, ...) arrays."""

    def __init__(self, n_states: int, n_sol: int, state: NDArray, sol: NDArray):
        self.n_states, self.n_sol, self.state, self.sol = n_states, n_sol, state, sol

    def _scatter(self, values: NDArray, trailing: tuple[int, ...]) -> NDArray:
        out = np.full((self.n_states, self.n_sol, *trailing), np.nan,
                      dtype=np.result_type(values, float))
        out[self.state, self.sol] = values
        return out

    def per_solution(self, values, units, long_name):
        return (("solution",), self._scatter(np.asarray(values), ()), attrs(units, long_name))

    def per_population(self, values, units, long_name):
        values = np.repeat(np.asarray(values)[:, None], len(POPULATIONS), axis=1)
        return (("solution", "population"), self._scatter(values, (len(POPULATIONS),)),
                attrs(units, long_name))

    def per_eigen(self, values, units, long_name):
        return (("solution", "eigenvalue"), self._scatter(values, values.shape[1:]),
                attrs(units, long_name))

    def per_freq(self, values, units, long_name):
        values = np.repeat(values[:, None, :], len(POPULATIONS), axis=1)
        return (("solution", "population", "freq"),
                self._scatter(values, values.shape[1:]), attrs(units, long_name))

    def shape(self, data: dict, axes: Mapping[str, NDArray]) -> dict:
        """Reshape the leading state axis to the grid's dims."""
        grid_shape = tuple(a.size for a in axes.values())
        out = {}
        for name, (dims, values, meta) in data.items():
            if values.ndim == len(dims) + 1:  # leading state axis
                values = values.reshape(grid_shape + values.shape[1:])
                dims = tuple(axes) + dims
            out[name] = (dims, values, meta)
        return out


def _response(out: _Assembler, external, both, mean_only, delay: NDArray, freq: NDArray
              ) -> dict[str, tuple]:
    """Gain and phase of the response to the external rate (both channels, mean only)."""
    n = delay.size
    lam = 2j * np.pi * freq[None, :] + np.zeros((n, 1))
    idx = np.repeat(np.arange(n)[:, None], freq.size, axis=1)
    feedback = np.exp(-lam * delay[:, None])
    full = external(lam, idx) / (1.0 - feedback * both(lam, idx))
    mean = external(lam, idx, variance=False) / (1.0 - feedback * mean_only(lam, idx))
    return {
        "gain": out.per_freq(np.abs(full), "Hz/Hz", "population-rate response per Hz of "
                                                     "external rate (both channels)"),
        "phase": out.per_freq(np.angle(full), "rad", "its phase (sine convention)"),
        "gain_mean_only": out.per_freq(np.abs(mean), "Hz/Hz", "the same, mean channel only"),
        "phase_mean_only": out.per_freq(np.angle(mean), "rad", "its phase"),
    }


def _real(roots: NDArray) -> NDArray:
    return np.where(np.isfinite(roots), roots.real, np.nan)


def _freq(roots: NDArray) -> NDArray:
    return np.where(np.isfinite(roots), roots.imag / (2 * np.pi), np.nan)


def _check_counts(roots: Roots, g_inf: NDArray, arrays: NetworkArrays, f_max: float,
                  loop: Loop) -> None:
    """Warn where the Nyquist count finds unstable roots Newton did not, or where roots above
    ``f_max`` cannot be excluded."""
    count = roots.n_unstable
    found = np.isfinite(roots.rightmost) & (roots.rightmost.real > 0)
    g_max = np.abs(loop(np.full(g_inf.shape, 2j * np.pi * f_max), np.arange(g_inf.size)))
    tail = g_max >= 1.0
    if np.any(tail):
        warnings.warn(f"{int(tail.sum())} state(s) have |G| >= 1 at f_max = {f_max:g} Hz: "
                      "unstable roots above f_max cannot be excluded (raise f_max)",
                      NeurorectWarning, stacklevel=3)
    bad = (count > 0) & ~found & ~tail
    if np.any(bad):
        warnings.warn(f"{int(bad.sum())} state(s): the Nyquist count of unstable roots exceeds "
                      "the unstable roots Newton found (raise n_candidates or f_max)",
                      NeurorectWarning, stacklevel=3)

