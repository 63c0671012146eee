"""Stability of rate networks, measured: fixed points from many starts, the bounds next to the
leading eigenvalue, and the largest Lyapunov exponent of a run.

* :func:`fixed_points`: the distinct fixed points of a model reached from many starting
  states (:func:`neurorect.theory.fixed_points` on its coupling and constant input);
* :func:`stability_report`: at the fixed point, the contraction bound
  ``|| diag(Lip) W ||_2``, the leading eigenvalue of ``D W`` (``D = diag(phi')``), the
  random-matrix radius ``g sqrt(mean phi'(h*)^2)`` and its mean-field prediction
  ``g sqrt(E[phi'^2])`` (:func:`neurorect.theory.depth_fixed_point`);
* :func:`lyapunov_exponent`: the growth rate of a small perturbation, from one batched run of
  a reference copy and perturbed copies (initial states ``InitialState(mean=base,
  std=eps)``, :mod:`neurorect.initial`), with the regime it implies: ``"stable"``
  (perturbations decay), ``"chaotic"`` (they grow on a bounded trajectory), ``"runaway"``
  (the trajectory itself grows without bound) or ``"marginal"`` (neither, within the
  tolerance: a limit cycle, or too short a run to tell).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import xarray as xr

from neurorect._schema import attrs, provenance
from neurorect.driver import simulate
from neurorect.errors import NeurorectWarning, SimulationError
from neurorect.initial import InitialState
from neurorect.spec import Model
from neurorect.theory import depth_fixed_point, fixed_point
from neurorect.theory import fixed_points as network_fixed_points
from neurorect.units import to_si

__all__ = ["fixed_points", "stability_report", "lyapunov_exponent", "REGIMES"]

REGIMES = ("stable", "chaotic", "runaway", "marginal")
_SAMPLES = 2000  # recorded time points of a Lyapunov run
_PERTURBATION = 1e-7  # default initial perturbation relative to the state's size
_FLOOR = 1e-10  # separations below this times the state's size: rounding noise (>= 1e-6)
_CEILING = 1e-3  # separations above this times the state's size are no longer small


def _network(model: Model):
    """W, I0, the per-neuron transfers, tau and the (single) form of ``model``."""
    form = model.single_form("the stability measures")
    neurons = model.neuron_arrays()
    return model.coupling_matrix(), neurons.I0, list(neurons.transfer), neurons.tau, form


def fixed_points(model: Model, **options) -> xr.Dataset:
    """The distinct fixed points of ``model`` from many starts (constant input ``I0``).

    Parameters
    ----------
    model : Model
        All populations in one form.
    **options
        Of :func:`neurorect.theory.fixed_points` (``n_starts``, ``seed``, ``rate_scale``,
        ``method``, ...).

    Returns
    -------
    xarray.Dataset
        As :func:`neurorect.theory.fixed_points`.
    """
    W, I0, transfers, tau, form = _network(model)
    ds = network_fixed_points(W, I0, transfers, tau=tau, form=form, **options)
    ds.attrs.update(provenance(model))
    return ds


def stability_report(model: Model, **options) -> xr.Dataset:
    """Bounds and measured stability of ``model``'s fixed point, side by side.

    ``g`` is estimated from the coupling as ``sqrt(N) std(W)`` (the gain of
    ``W_ij ~ N(m/N, g^2/N)``); the random-matrix radius of ``D W`` is ``g rms(phi'(h*))``
    (circular law), and its mean-field prediction ``sqrt(chi*)`` uses the Gaussian theory of
    the inputs, ``h ~ N(mean I0, q*)`` with ``q* = g^2 E[phi(h)^2] + var(I0)``. A fixed
    point is linearly stable when the leading real part of ``D W``'s eigenvalues is below 1
    (for one tau); the contraction bound below 1 guarantees it and uniqueness, but is
    conservative (``||W||_2 -> 2 g``).

    Parameters
    ----------
    model : Model
        All populations in one form.
    **options
        Of :func:`neurorect.theory.fixed_point` (``r_init``, ``method``, ``tol``, ...).

    Returns
    -------
    xarray.Dataset
        0-d variables: ``contraction_bound``, ``leading_eigenvalue`` (largest real part of
        the eigenvalues of ``D W``, rate form; ``W D`` voltage form), ``spectral_radius``
        (of ``D W``), ``max_real_eigenvalue`` (of the dynamics, 1/s), ``stable``, ``g``,
        ``radius_estimate`` (``g rms(phi')``), ``radius_mean_field``, ``q_mean_field`` (NaN
        unless all neurons share one transfer), ``silent_fraction`` and ``converged``.
    """
    W, I0, transfers, tau, form = _network(model)
    fp = fixed_point(W, I0, transfers, tau=tau, form=form, **options)
    if fp.method == "feedforward":  # nilpotent D W
        eig = np.zeros(W.shape[0])
    elif np.all(tau == tau[0]):  # the dynamics' Jacobian is (D W - I) / tau
        eig = fp.eigenvalues * tau[0] + 1.0
    else:
        eig = np.linalg.eigvals(fp.slope[:, None] * W if form == "rate"
                                else W * fp.slope[None, :])
    n = W.shape[0]
    g = math.sqrt(n) * float(np.std(W))
    q_mf, radius_mf = math.nan, math.nan
    if len(set(transfers)) == 1 and n > 1:
        mf = depth_fixed_point(transfers[0], weight_var=g * g, bias_mean=float(np.mean(I0)),
                               bias_var=float(np.var(I0)))
        q_mf, radius_mf = float(mf.q_star), math.sqrt(float(mf.chi_star))
    values = {
        "contraction_bound": (fp.contraction_bound, "1", "Lipschitz bound of the map"),
        "leading_eigenvalue": (float(np.max(eig.real)), "1",
                               "largest real part of the eigenvalues of D W"),
        "spectral_radius": (float(np.max(np.abs(eig))), "1", "spectral radius of D W"),
        "max_real_eigenvalue": (fp.max_real_eigenvalue, "1/s",
                                "largest real part of the dynamics' Jacobian"),
        "stable": (fp.stable, "1", "fixed point linearly stable"),
        "g": (g, "1", "random-network gain sqrt(N) std(W)"),
        "radius_estimate": (g * math.sqrt(float(np.mean(fp.slope ** 2))), "1",
                            "g rms(phi'(h*)): the circular-law radius of D W"),
        "radius_mean_field": (radius_mf, "1", "g sqrt(E[phi'^2]) at the mean-field q*"),
        "q_mean_field": (q_mf, "drive units^2", "mean-field variance of the inputs"),
        "silent_fraction": (fp.silent_fraction, "1", "fraction of neurons below threshold"),
        "converged": (fp.converged, "1", "fixed-point search converged"),
    }
    ds = xr.Dataset({name: xr.DataArray(value, attrs=attrs(units, long_name))
                     for name, (value, units, long_name) in values.items()})
    ds.attrs.update(provenance(model, form=form))
    return ds


# --------------------------------------------------------------------------------------------
# the largest Lyapunov exponent
# --------------------------------------------------------------------------------------------

def _pair_seeds(seed: int, pair: int, population: int) -> int:
    return int(np.random.SeedSequence([seed, pair, population]).generate_state(1)[0])


def _perturbed_run(model: Model, duration: float, eps: float, n_pairs: int, seed: int,
                   record_every: int, neurons, dt, method):
    """One batched run: copy 0 from the model's initial state, copies 1.. from it plus an
    independent normal perturbation of RMS exactly ``eps`` per unit (each copy's draws are
    known in advance, so its ``std`` is scaled to that). Returns the recorded state
    (batch, time, neuron)."""
    seeds = [[_pair_seeds(seed, k, j) for j in range(len(model.populations))]
             for k in range(1, n_pairs + 1)]
    std = [0.0]
    for pair in seeds:  # the draws of InitialState.values: default_rng(seed).standard_normal
        draws = np.concatenate([np.random.default_rng(s).standard_normal(p.size)
                                for s, p in zip(pair, model.populations, strict=True)])
        std.append(eps / float(np.sqrt(np.mean(draws ** 2))))
    populations, batch = [], {}
    for j, pop in enumerate(model.populations):
        base = tuple(float(v) for v in pop.initial_values())
        populations.append(replace(pop, init=InitialState(mean=base, std=0.0)))
        batch[f"populations.{pop.name}.init.std"] = std
        batch[f"populations.{pop.name}.init.seed"] = [0] + [pair[j] for pair in seeds]
    run = simulate(model.replace(populations=tuple(populations)), duration, dt=dt,
                   method=method, record="state", record_every=record_every, neurons=neurons,
                   batch=batch, progress=False, max_rate=math.inf)  # a runaway is measured
    state = run["state"].transpose("batch", "time", ...).values
    return run.time.values, state


def _fit(time, separation, scale, start) -> tuple[float, float, float]:
    """Slope of ``log separation`` over time (1/s), from ``start`` until it leaves the
    window ``[_FLOOR, _CEILING] x scale(t)``; returns (slope, first, last time)."""
    inside = (separation > np.maximum(_FLOOR * scale, 1e-290)) & (separation < _CEILING * scale)
    first = int(np.searchsorted(time, start))
    if first >= time.size or not inside[first]:
        return math.nan, math.nan, math.nan
    leave = np.flatnonzero(~inside[first:])
    last = first + (int(leave[0]) if leave.size else time.size - first)
    if last - first < 8:
        return math.nan, math.nan, math.nan
    t, y = time[first:last], np.log(separation[first:last])
    return float(np.polyfit(t, y, 1)[0]), float(t[0]), float(t[-1])


def lyapunov_exponent(model: Model, duration: float | str | None = None, *,
                      perturbation: float | None = None, n_pairs: int = 4, seed: int = 0,
                      fit_start: float | str | None = None, tolerance: float | None = None,
                      dt: float | str | None = None, method: str | None = None,
                      max_recorded: int = 1000) -> xr.Dataset:
    """Largest Lyapunov exponent of a run, from the growth of small perturbations.

    One batched :func:`~neurorect.simulate` call runs a reference copy from the model's
    initial state (``Population.init``) and ``n_pairs`` copies from that state plus an
    independent normal perturbation of RMS ``perturbation`` per unit (all copies see the same
    drive and the same noise). The RMS separation ``d(t)`` of each perturbed copy from the
    reference grows or decays as ``exp(lambda t)`` once the perturbation has turned into the
    most unstable direction; ``lambda`` is the least-squares slope of ``log d`` from
    ``fit_start`` until ``d`` leaves ``[1e-10, 1e-3] x`` the size of the state (its RMS at
    that time; rounding below, no longer small above).

    For a linear network ``lambda`` is the largest real part of the eigenvalues of
    ``(W - I)/tau``; near a stable fixed point, that of the linearisation; for a chaotic
    network, the largest Lyapunov exponent (a short-time estimate: the perturbation is not
    renormalised, so its growth is measured over the ``~ln(1e-3/perturbation) / lambda`` it
    takes to saturate). In a runaway it is the growth of the diverging state itself.

    The regime: ``"runaway"`` when the reference trajectory grows without bound (a
    non-finite state, or its RMS growing 10-fold over the last half of the run at a rate
    above ``tolerance``), else ``"chaotic"`` for ``lambda > tolerance``, ``"stable"`` for
    ``lambda < -tolerance``, ``"marginal"`` in between (a limit cycle, a marginal mode, or
    a run too short to tell).

    Parameters
    ----------
    model : Model
    duration : float or str, optional
        Simulated time, s (default: the model's).
    perturbation : float, optional
        RMS size of the initial perturbation per unit, state units (default: 1e-7 times the
        RMS initial state, at least 1e-7): three decades of decay, four of growth.
    n_pairs : int
        Perturbed copies (independent directions); the exponent is their mean.
    seed : int
        Seed of the perturbations (the noise seed is the model's).
    fit_start : float or str, optional
        Start of the fit, s (default: 5 of the longest tau, at most 10 % of the run: time for
        the perturbation to turn into the most unstable direction).
    tolerance : float, optional
        Rates of magnitude below this count as zero, 1/s (default: ``0.02 / min(tau)``).
    dt, method : optional
        As for :func:`~neurorect.simulate`.
    max_recorded : int
        Units recorded to measure the separation (an evenly spaced subset beyond it).

    Returns
    -------
    xarray.Dataset
        ``exponent`` and ``exponent_se`` (1/s; mean over the pairs and its standard error),
        ``pair_exponent`` (pair), ``fit_start``/``fit_stop`` (pair, s), ``separation``
        (time, pair; RMS, state units), ``reference_norm`` (time; RMS state),
        ``growth_rate`` (1/s; of the reference's RMS over the last half), ``regime`` (a
        string) and ``tolerance``. NaN exponents (no usable window) come with a
        :class:`~neurorect.NeurorectWarning`.
    """
    sim = model.simulation
    duration = sim.duration if duration is None else float(to_si(duration))
    step = sim.dt if dt is None else float(to_si(dt))
    n_steps = int(round(duration / step))
    record_every = max(1, n_steps // _SAMPLES)
    tau_min = min(p.tau for p in model.populations)
    tolerance = 0.02 / tau_min if tolerance is None else float(tolerance)
    tau_max = max(p.tau for p in model.populations)
    start = (min(0.1 * duration, 5.0 * tau_max) if fit_start is None
             else float(to_si(fit_start)))
    base = np.concatenate([p.initial_values() for p in model.populations])
    eps = (_PERTURBATION * max(float(np.sqrt(np.mean(base ** 2))), 1.0)
           if perturbation is None else float(perturbation))
    neurons = None if model.size <= max_recorded else np.unique(
        np.linspace(0, model.size - 1, max_recorded).astype(int))
    try:
        time, state = _perturbed_run(model, duration, eps, n_pairs, seed, record_every,
                                     neurons, dt, method)
    except SimulationError as error:
        return _runaway_dataset(model, str(error), n_pairs, tolerance)
    reference = state[0]
    norm = np.sqrt(np.mean(reference ** 2, axis=-1))
    scale = np.maximum(norm, eps / _PERTURBATION)  # the state's size, at each time
    separation = np.sqrt(np.mean((state[1:] - reference[None]) ** 2, axis=-1))  # (pair, time)
    fits = np.array([_fit(time, d, scale, start) for d in separation])
    half = time >= 0.5 * time[-1]
    growth = _growth_rate(time[half], norm[half])
    exponent = float(np.mean(fits[:, 0]))
    se = float(np.std(fits[:, 0], ddof=1) / math.sqrt(n_pairs)) if n_pairs > 1 else math.nan
    runaway = growth > tolerance and norm[-1] > 10.0 * norm[half][0]
    if not runaway and not np.all(np.isfinite(fits[:, 0])):
        warnings.warn("lyapunov_exponent: no usable fitting window for some pairs (the "
                      "separation left [1e-10, 1e-3] x the state's size before fit_start, "
                      "or the run is too short): their exponent is NaN", NeurorectWarning,
                      stacklevel=2)
    regime = ("runaway" if runaway else "chaotic" if exponent > tolerance else
              "stable" if exponent < -tolerance else "marginal")
    ds = xr.Dataset(
        {
            "exponent": ((), exponent, attrs("1/s", "largest Lyapunov exponent (mean)")),
            "exponent_se": ((), se, attrs("1/s", "standard error over the pairs")),
            "pair_exponent": ("pair", fits[:, 0], attrs("1/s", "exponent of each pair")),
            "fit_start": ("pair", fits[:, 1], attrs("s", "start of the fitted window")),
            "fit_stop": ("pair", fits[:, 2], attrs("s", "end of the fitted window")),
            "separation": (("time", "pair"), separation.T,
                           attrs("state units", "RMS separation from the reference")),
            "reference_norm": ("time", norm, attrs("state units", "RMS reference state")),
            "growth_rate": ((), growth, attrs("1/s", "growth rate of the reference's RMS "
                                                     "over the last half")),
            "regime": ((), regime, attrs("1", "stable, chaotic, runaway or marginal")),
            "tolerance": ((), tolerance, attrs("1/s", "rates below this count as zero")),
            "perturbation": ((), eps, attrs("state units", "initial RMS perturbation")),
        },
        coords={"time": ("time", time, attrs("s", "time")),
                "pair": ("pair", np.arange(1, n_pairs + 1), attrs("1", "perturbed copy"))})
    ds.attrs.update(provenance(model, duration=duration, dt=step))
    return ds


def _growth_rate(time: np.ndarray, norm: np.ndarray) -> float:
    """Least-squares slope of ``log norm`` (1/s) where the norm is positive."""
    positive = norm > 0
    if np.sum(positive) < 2:
        return math.nan
    return float(np.polyfit(time[positive], np.log(norm[positive]), 1)[0])


def _runaway_dataset(model: Model, message: str, n_pairs: int, tolerance: float) -> xr.Dataset:
    """The result of a run that diverged (a non-finite state): regime ``"runaway"``."""
    nan_pairs = np.full(n_pairs, math.nan)
    ds = xr.Dataset(
        {
            "exponent": ((), math.nan, attrs("1/s", "largest Lyapunov exponent (mean)")),
            "exponent_se": ((), math.nan, attrs("1/s", "standard error over the pairs")),
            "pair_exponent": ("pair", nan_pairs, attrs("1/s", "exponent of each pair")),
            "growth_rate": ((), math.inf, attrs("1/s", "the state became non-finite")),
            "regime": ((), "runaway", attrs("1", "stable, chaotic, runaway or marginal")),
            "tolerance": ((), tolerance, attrs("1/s", "rates below this count as zero")),
        },
        coords={"pair": ("pair", np.arange(1, n_pairs + 1), attrs("1", "perturbed copy"))})
    ds.attrs.update(provenance(model, diverged=message))
    return ds
