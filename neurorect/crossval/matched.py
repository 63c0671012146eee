r"""The leaky-ReLU rate network matched to Brunel's E-I network of LIF neurons, and its theory.

:func:`matched_network` builds two rate populations E and I (one unit each: the population
rates), ``tau dr/dt = -r + phi(W r(t - D_rate) + x_ext)`` in rate form, from the mean-field
theory of the ``[lif_network]`` at its operating point (:func:`neurorect.lif.mean_field`):

1. **Input and weights.** The LIF rate depends on the mean ``mu`` and the variance
   ``sigma^2`` of its input, which the recurrent rates both move (``d mu = W d nu``,
   ``d sigma^2 = S d nu``). The rate model's input is the *effective input*
   ``x = mu + kappa sigma^2`` with ``kappa = (d r / d sigma^2) / (d r / d mu)`` at the operating
   point, so that one transfer of one input reproduces both channels to first order, for every
   direction of perturbation (recurrent E, recurrent I, external). Weights (V/Hz): from E,
   ``tau_m C_E J (1 + kappa J)``; from I, ``tau_m C_I g J (kappa g J - 1)``; external input
   ``x_ext = tau_m C_E J nu_ext (1 + kappa J)`` (proportional to the external rate, so a
   modulation of ``nu_ext`` by a fraction ``m`` is a modulation of the drive by ``m x_ext``).
2. **Transfer.** A leaky ReLU (clipped at 0 Hz) through the operating point ``(x*, nu*)``
   with slope ``d r / d mu`` there (exact fixed point and exact static slope); the kink and
   the other branch's slope are fitted, by least squares, to the self-consistent line: the
   mean-field rates and effective inputs as the external drive ``eta`` varies by
   ``+-eta_span`` around the operating point. A line without a convex kink (in model A it
   is slightly concave) gives the ReLU through the operating point, threshold where it
   reaches 0 Hz.
3. **Time constant and delay.** The recurrent loop of the LIF network is
   ``G(i omega) exp(-i omega D)`` with ``G = chi_mu W + chi_var S`` (both channels); the rate
   network's is ``G(0) exp(-i omega D_rate) / (1 + i omega tau)``. ``tau`` and
   ``D_rate = D + delta`` are fitted to ``G(i omega) / G(0)`` over the fixed band
   ``fit_band`` (default 1-200 Hz, 30 log-spaced frequencies; not the frequencies a comparison
   asks for): ``delta`` is the LIF's effective latency beyond the transmission delay,
   searched over whole steps of ``dt`` (the rate engine's delays are whole steps), ``tau``
   by a bounded scalar minimisation at each.

The theory of the rate network (:func:`rate_network_theory`): its fixed point
(:func:`neurorect.theory.fixed_point`), the eigenvalues with the delay in closed form
(``(1 + lam tau) = w exp(-lam D)`` for each eigenvalue ``w`` of ``phi' W``:
``lam = -1/tau + W_k(D w exp(D/tau) / tau) / D``, Lambert's ``W`` on branches ``k``), and the
linear response to the external rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy.special import lambertw

from neurorect._schema import attrs
from neurorect.errors import ModelError
from neurorect.lif.laplace import laplace_response
from neurorect.lif.mean_field import mean_field, network_arrays, self_consistent_rates
from neurorect.spec import Connection, Model, Population, Simulation
from neurorect.spec_lif import POPULATIONS, LIFNetwork
from neurorect.theory import fixed_point
from neurorect.transfer import LeakyReLU

__all__ = ["MatchInfo", "matched_network", "delayed_eigenvalues", "delayed_response",
           "rate_network_theory", "rate_network_arrays", "RateNetwork"]

#: Whether the rate engine's connections carry a transmission delay (``Connection.delay``,
#: being added to the engine); without it the matched model's delay lives in its MatchInfo.

_FIT_BAND = (1.0, 200.0)  # Hz: the band of the tau and delay fit
_N_FIT = 30
_N_LINE = 21


@dataclass(frozen=True)
class MatchInfo:
    """How :func:`matched_network` matched the rate network (SI)."""

    rate: float  # nu*, Hz
    mu: float  # V
    sigma: float  # V
    x: float  # effective input x* = mu + kappa sigma^2, V
    slope: float  # d r / d mu at the operating point, Hz/V
    kappa: float  # (d r / d sigma^2) / (d r / d mu), 1/V
    tau: float  # s
    delay: float  # D_rate, s
    extra_delay: float  # D_rate - D, s
    loop_fit_rms: float  # rms of |L(f) exp(-i 2 pi f delta) - G/G(0)| over the band
    line_eta: NDArray
    line_x: NDArray  # V
    line_rate: NDArray  # Hz
    transfer_fit_rms: float  # Hz, the leaky ReLU against the self-consistent line


def _operating_point(network: LIFNetwork, solution: int | None):
    ds = mean_field(network, n_eigenvalues=1, n_candidates=4)
    n = int(ds["n_solutions"])
    if solution is None:
        stable = np.flatnonzero(ds["stable"].values[:n] == 1.0)
        if n == 1:
            solution = 0
        elif stable.size == 1:
            solution = int(stable[0])
        else:
            raise ModelError("the network has several self-consistent states: choose one",
                             key="solution", value=None,
                             allowed=f"0..{n - 1} (rates "
                                     f"{', '.join(f'{r:.3g}' for r in ds['r0'].values[:n, 0])}"
                                     " Hz)")
    if not 0 <= solution < n:
        raise ModelError("no such solution", key="solution", value=solution,
                         allowed=f"0..{n - 1}")
    pick = ds.isel(solution=solution, population=0)
    return (float(pick["r0"]), float(pick["mu"]), float(pick["sigma"]),
            float(pick["slope_mu"]), float(pick["slope_var"]))


def _self_consistent_line(network: LIFNetwork, rate: float, kappa: float, span: float,
                          n: int) -> tuple[NDArray, NDArray, NDArray]:
    """Rates and effective inputs along ``eta`` (the branch through the operating point)."""
    etas = network.eta * np.linspace(1.0 - span, 1.0 + span, n)
    nets = [LIFNetwork(**{**{f.name: getattr(network, f.name) for f in fields(LIFNetwork)},
                          "eta": float(e)}) for e in etas]
    arrays = network_arrays(nets)
    rates = self_consistent_rates(arrays)
    pick = np.nanargmin(np.abs(np.log(np.where(rates > 0, rates, np.nan) / rate)), axis=1)
    nu = rates[np.arange(n), pick]
    mu, sigma = arrays.moments(nu)
    return etas, mu + kappa * sigma**2, nu


def _leaky_through(x: NDArray, nu: NDArray, x0: float, nu0: float, slope: float
                   ) -> tuple[LeakyReLU, float]:
    """The leaky ReLU through ``(x0, nu0)`` with slope ``slope`` there whose kink and other
    slope fit ``(x, nu)`` best (least squares; alpha in [0, 1]); and its rms residual."""
    best: tuple[float, LeakyReLU] | None = None
    span = float(np.ptp(x)) or 1.0
    candidates = np.concatenate([[x.min() - span], np.linspace(x.min(), x.max(), 201)])
    for theta in candidates:
        base = nu0 - slope * (x0 - theta)
        u = x - theta
        if theta <= x0:  # operating point above the kink: gain = slope
            below = u < 0
            denom = float(np.sum(u[below] ** 2))
            k_low = float(np.sum(u[below] * (nu[below] - base)) / denom) if denom else slope
            gain, alpha = slope, float(np.clip(k_low / slope, 0.0, 1.0))
        else:  # operating point below the kink: alpha * gain = slope
            above = u > 0
            denom = float(np.sum(u[above] ** 2))
            k_high = float(np.sum(u[above] * (nu[above] - base)) / denom) if denom else slope
            gain = max(k_high, slope)
            alpha = slope / gain
        transfer = LeakyReLU(gain, float(theta), alpha, rate_min=0.0, baseline=base)
        cost = float(np.sum((transfer(x) - nu) ** 2))
        if best is None or cost < best[0]:
            best = (cost, transfer)
    transfer = best[1]
    if transfer.alpha >= 1.0 - 1e-12:  # no kink inside the line: the ReLU through 0 Hz
        transfer = LeakyReLU(slope, x0 - nu0 / slope, 0.0, rate_min=0.0)
    return transfer, math.sqrt(best[0] / x.size)


def _fit_loop(network: LIFNetwork, mu: float, sigma: float, band: tuple[float, float],
              n: int) -> tuple[float, float, float]:
    """``tau``, the extra delay (whole steps) and the rms misfit of the loop transfer."""
    freqs = np.geomspace(band[0], band[1], n)
    arrays = network_arrays([network])
    kw = {k: float(v[0]) for k, v in arrays.neuron().items()}
    chi_mu, chi_var = laplace_response(2j * np.pi * np.concatenate([[0.0], freqs]), mu,
                                       sigma, **kw)
    loop = chi_mu * arrays.W[0] + chi_var * arrays.S[0]
    target = loop[1:] / loop[0]
    omega = 2 * np.pi * freqs
    dt, D = network.dt, network.delay

    def cost(log_tau: float, extra: float) -> float:
        model = np.exp(-1j * omega * extra) / (1.0 + 1j * omega * math.exp(log_tau))
        return float(np.sum(np.abs(model - target) ** 2))

    best = (math.inf, network.tau_m, 0.0)
    lo, hi = math.log(1e-5), math.log(10.0 * network.tau_m)
    for k in range(-network.delay_steps + 1, 4 * network.delay_steps + 1):
        extra = k * dt
        fit = optimize.minimize_scalar(lambda lt, e=extra: cost(lt, e), bounds=(lo, hi),
                                       method="bounded", options={"xatol": 1e-9})
        if fit.fun < best[0]:
            best = (float(fit.fun), math.exp(fit.x), extra)
    if D + best[2] < dt:  # pragma: no cover - the search range starts at D_rate = dt
        raise ModelError("no delay fits", key="lif_network.delay", value=D)
    return best[1], best[2], math.sqrt(best[0] / n)


def matched_network(model: Model | LIFNetwork, *, solution: int | None = None,
                    fit_band: tuple[float, float] = _FIT_BAND, eta_span: float = 0.3,
                    full_output: bool = False) -> Model | tuple[Model, MatchInfo]:
    """The leaky-ReLU rate network matched to an LIF E-I network (module docstring).

    Parameters
    ----------
    model : Model or LIFNetwork
        A model with an ``[lif_network]`` table (its name, description and simulation
        settings are kept), or the table alone.
    solution : int, optional
        Which self-consistent state to match (default: the only one, or the only stable one).
    fit_band : (float, float)
        Band of the ``tau`` and delay fit, Hz.
    eta_span : float
        Relative range of ``eta`` along which the transfer's shape is fitted (0 < span < 1).
    full_output : bool
        Also return the :class:`MatchInfo`.

    Returns
    -------
    Model or (Model, MatchInfo)
        Populations E and I (size 1, rate form, initial rate ``nu*``), connections EE, IE,
        EI, II (``full``, with the fitted delay), drives ``I0 = x_ext`` (V), the
        ``[lif_network]`` table; simulation ``dt`` = the network's ``dt``.
    """
    network = model.require_lif_network() if isinstance(model, Model) else model
    if not isinstance(network, LIFNetwork):
        raise ModelError("must be a Model with an [lif_network] table or an LIFNetwork",
                         key="model", value=type(model).__name__,
                         allowed="Model or LIFNetwork")
    if not 0.0 < eta_span < 1.0:
        raise ModelError("out of range", key="eta_span", value=eta_span,
                         allowed="0 < eta_span < 1")
    lo, hi = (float(f) for f in fit_band)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ModelError("must be two frequencies, 0 < low < high", key="fit_band",
                         value=fit_band, allowed="(low, high) in Hz")
    rate, mu, sigma, slope, slope_var = _operating_point(network, solution)
    if not (rate > 0 and slope > 0):
        raise ModelError("the operating point is silent: nothing to match", key="solution",
                         value=solution, allowed="a state with a positive rate and slope")
    kappa = slope_var / slope
    x0 = mu + kappa * sigma**2
    etas, line_x, line_rate = _self_consistent_line(network, rate, kappa, eta_span, _N_LINE)
    transfer, transfer_rms = _leaky_through(line_x, line_rate, x0, rate, slope)
    tau, extra, loop_rms = _fit_loop(network, mu, sigma, (lo, hi), _N_FIT)
    delay = network.delay + extra
    J, g, tau_m = network.J, network.g, network.tau_m
    w_e = tau_m * network.C_E * J * (1.0 + kappa * J)
    w_i = tau_m * network.C_I * g * J * (kappa * g * J - 1.0)
    x_ext = tau_m * network.C_E * J * network.nu_ext * (1.0 + kappa * J)
    info = MatchInfo(rate, mu, sigma, x0, slope, kappa, tau, delay, extra, loop_rms, etas,
                     line_x, line_rate, transfer_rms)
    matched = _build(model, network, transfer, tau, rate, (w_e, w_i), x_ext, delay)
    return (matched, info) if full_output else matched


def _build(model, network: LIFNetwork, transfer: LeakyReLU, tau: float, rate: float,
           weights: tuple[float, float], x_ext: float, delay: float) -> Model:
    from neurorect.drive import Drive

    populations = [Population(name=p, tau=tau, transfer=transfer, size=1, form="rate",
                              init=rate) for p in POPULATIONS]
    connections = [Connection(name=post + pre, pre=pre, post=post, kind="full",
                              weight=weights[j], delay=delay)
                   for j, pre in enumerate(POPULATIONS) for post in POPULATIONS]
    if isinstance(model, Model):
        sim = model.simulation
        simulation = Simulation(dt=network.dt, duration=sim.duration, method="exp_euler",
                                seed=sim.seed, transient=sim.transient, record="rate",
                                record_every=sim.record_every, n_harmonics=sim.n_harmonics)
        name, description = model.name, model.description
    else:
        simulation = Simulation(dt=network.dt, duration=2.0, transient=0.5)
        name, description = "brunel_matched", ""
    description = description or "Brunel E-I network of LIF neurons and its matched rate network"
    return Model(populations=populations, drives={p: Drive(I0=x_ext) for p in POPULATIONS},
                 connections=connections, simulation=simulation, name=name,
                 description=description, lif_network=network,
                 source=model.source if isinstance(model, Model) else None)


# --------------------------------------------------------------------------------------------
# the theory of a delayed rate network
# --------------------------------------------------------------------------------------------

def delayed_eigenvalues(w: ArrayLike, tau: float, delay: float, *, n_branches: int = 3
                        ) -> NDArray:
    """Roots of ``1 + lam tau = w exp(-lam D)`` for each ``w`` (Lambert W, branches
    ``-n_branches..n_branches``), sorted by real part (descending), 1/s. ``D = 0``:
    ``(w - 1) / tau``."""
    w = np.atleast_1d(np.asarray(w, dtype=complex))
    if delay == 0:
        return np.sort_complex((w - 1.0) / tau)[::-1]
    arg = delay * w * math.exp(delay / tau) / tau
    roots = np.concatenate([lambertw(arg, k) / delay - 1.0 / tau
                            for k in range(-n_branches, n_branches + 1)])
    roots = roots[np.isfinite(roots)]
    return roots[np.argsort(-roots.real, kind="stable")]


def delayed_response(W: ArrayLike, slope: ArrayLike, tau: ArrayLike, delay: float,
                     freqs: ArrayLike, input_vector: ArrayLike) -> NDArray:
    """Linear rate response ``[diag(1 + i w tau) - exp(-i w D) diag(slope) W]^-1 slope e``
    (sine convention), shape (freq, N), Hz per unit of the input's amplitude."""
    W = np.asarray(W, dtype=float)
    n = W.shape[0]
    slope = np.broadcast_to(np.asarray(slope, dtype=float), (n,))
    tau = np.broadcast_to(np.asarray(tau, dtype=float), (n,))
    e = np.broadcast_to(np.asarray(input_vector, dtype=float), (n,))
    omega = 2 * np.pi * np.atleast_1d(np.asarray(freqs, dtype=float))
    out = np.empty((omega.size, n), complex)
    for k, om in enumerate(omega):
        matrix = np.diag(1.0 + 1j * om * tau) - np.exp(-1j * om * delay) * slope[:, None] * W
        out[k] = np.linalg.solve(matrix, slope * e)
    return out


@dataclass(frozen=True)
class RateNetwork:
    """The arrays of a rate network whose populations are single units (SI)."""

    W: NDArray  # V/Hz, post x pre
    I0: NDArray  # V
    transfers: tuple
    tau: float
    delay: float
    names: tuple[str, ...]


def rate_network_arrays(model: Model, delay: float | None = None) -> RateNetwork:
    """Coupling, drive, transfers, the common ``tau`` and the common delay (or ``delay``, s)
    of a rate network of one-unit rate-form populations; ModelError where the closed forms
    do not apply."""
    for pop in model.populations:
        if pop.size != 1 or pop.form != "rate":
            raise ModelError("the rate-network theory needs one-unit rate-form populations",
                             key=f"populations.{pop.name}", value=f"size {pop.size}, "
                             f"form {pop.form}", allowed="size = 1, form = 'rate'",
                             file=model.source)
    taus = {pop.tau for pop in model.populations}
    delays = ({float(delay)} if delay is not None else
              {float(getattr(c, "delay", 0.0)) for c in model.connections if c.weight != 0.0})
    if len(taus) != 1 or len(delays) > 1:
        raise ModelError("the closed-form delayed theory needs one tau and one delay",
                         key="populations", value=f"tau {sorted(taus)}, delay {sorted(delays)}",
                         allowed="equal tau for all populations and equal connection delays",
                         file=model.source)
    arrays = model.neuron_arrays()
    return RateNetwork(model.coupling_matrix(), arrays.I0, arrays.transfer, taus.pop(),
                       delays.pop() if delays else 0.0, tuple(p.name for p in model.populations))


def rate_network_theory(model: Model, freqs: ArrayLike | None = None, *,
                        nu_ext: float | None = None, delay: float | None = None,
                        n_eigenvalues: int = 3) -> xr.Dataset:
    """Fixed point, delayed eigenvalues and response to the external rate of a rate network.

    The external drive is taken as proportional to the external rate ``nu_ext`` (default:
    the model's ``lif_network.nu_ext``), as in :func:`matched_network`: a modulation
    ``d nu_ext`` moves each population's drive by ``I0 d nu_ext / nu_ext``. Returns ``r0``
    (population), ``gain`` (Hz/Hz), ``phase`` (rad) on (population, freq), ``growth_rate``
    and ``oscillation_freq`` of the leading eigenvalues (``eigenvalue``), ``stable``.
    ``delay`` (s) overrides the connections' common delay.
    """
    net = rate_network_arrays(model, delay)
    point = fixed_point(net.W, net.I0, list(net.transfers), tau=net.tau)
    if not point.converged:
        raise ModelError("no fixed point found for the rate network", key="populations",
                         value=model.name, allowed="a rate network with a fixed point",
                         file=model.source)
    w = np.linalg.eigvals(point.slope[:, None] * net.W)
    roots = delayed_eigenvalues(w, net.tau, net.delay)
    roots = roots[roots.imag >= -1e-9 * (1 + np.abs(roots))]
    lead = np.full(n_eigenvalues, np.nan + 0j)
    lead[:min(n_eigenvalues, roots.size)] = roots[:n_eigenvalues]
    names = list(net.names)
    data: dict[str, Any] = {
        "r0": ("population", point.rate, attrs("Hz", "fixed-point rate")),
        "input": ("population", point.input, attrs("V", "total input at the fixed point")),
        "slope": ("population", point.slope, attrs("Hz/V", "phi' at the fixed point")),
        "growth_rate": ("eigenvalue", lead.real, attrs("1/s", "Re lambda (with the delay)")),
        "oscillation_freq": ("eigenvalue", np.abs(lead.imag) / (2 * np.pi),
                             attrs("Hz", "|Im lambda| / 2 pi")),
        "stable": ((), float(np.nanmax(lead.real) < 0), attrs("1", "1 if linearly stable")),
    }
    coords: dict[str, Any] = {"population": ("population", names, attrs("1", "population")),
                              "eigenvalue": ("eigenvalue", np.arange(n_eigenvalues),
                                             attrs("1", "eigenvalue rank (by real part)"))}
    if freqs is not None:
        rate_ext = nu_ext if nu_ext is not None else model.require_lif_network().nu_ext
        f = np.atleast_1d(np.asarray(freqs, dtype=float))
        h = delayed_response(net.W, point.slope, net.tau, net.delay, f, net.I0 / rate_ext)
        data["gain"] = (("population", "freq"), np.abs(h).T,
                        attrs("Hz/Hz", "rate response per Hz of external rate"))
        data["phase"] = (("population", "freq"), np.angle(h).T,
                         attrs("rad", "its phase (sine convention)"))
        coords["freq"] = ("freq", f, attrs("Hz", "modulation frequency"))
    return xr.Dataset(data, coords=coords, attrs={"tau": net.tau, "delay": net.delay})
