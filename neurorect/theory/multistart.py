"""Fixed points of a rate network from many starting states: how many there are.

:func:`fixed_points` runs :func:`~neurorect.theory.fixed_point` from the zero state and from
random states, merges the solutions that agree, and reports each distinct fixed point with
its stability and the number of starts that reached it. A contraction (``contraction_bound
< 1``) has exactly one; the count from many starts tests that, and shows what happens beyond
the bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurorect._schema import attrs
from neurorect._validate import check_choice, check_integer, check_range
from neurorect.theory.common import COORD_ATTRS, annotate
from neurorect.theory.fixed_point import FixedPoint, fixed_point, network_arrays
from neurorect.transfer import Transfer

__all__ = ["fixed_points"]


def _starts(n_starts: int, n: int, scale: float, seed: int) -> np.ndarray:
    """Start 0: the zero state; the others uniform in ``[0, scale)`` per neuron."""
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0.0, scale, (n_starts, n))
    starts[0] = 0.0
    return starts


def _default_scale(I0: np.ndarray, transfer) -> float:
    """Twice the largest rate of the uncoupled network, at least 1 Hz."""
    items = [transfer] * I0.size if isinstance(transfer, Transfer) else list(transfer)
    rates = np.array([float(t(x)) for t, x in zip(items, I0, strict=True)])
    finite = rates[np.isfinite(rates)]
    return max(1.0, 2.0 * float(np.max(np.abs(finite), initial=0.0)))


def fixed_points(W, I0, transfer: Transfer | Sequence[Transfer], *, tau=1.0,
                 form: str = "rate", n_starts: int = 20, seed: int = 0,
                 rate_scale: float | None = None, method: str = "auto", tol: float = 1e-12,
                 max_iter: int = 10_000, distinct: float = 1e-6) -> xr.Dataset:
    """The distinct fixed points ``r* = phi(W r* + I0)`` reached from many starting states.

    Start 0 is the zero state, starts 1.. are drawn uniformly in ``[0, rate_scale)`` Hz per
    neuron (seeded). Each runs :func:`~neurorect.theory.fixed_point` (``method="auto"``:
    damped dynamics, then Newton: mostly the stable states, also unstable ones where the
    dynamics do not settle; ``"newton"``: the fixed point nearest each start, stable or not).
    Two converged solutions are the same when ``max |r_a - r_b| <= distinct (1 + max |r_b|)``
    (the solver's ``tol`` is far below).

    Parameters
    ----------
    W, I0, transfer, tau, form, tol, max_iter, method
        As in :func:`~neurorect.theory.fixed_point`.
    n_starts : int
        Number of starts (>= 1).
    seed : int
        Seed of the random starts.
    rate_scale : float, optional
        Upper end of the random starting rates, Hz (default: twice the largest uncoupled
        rate ``|phi(I0)|``, at least 1 Hz).
    distinct : float
        Relative distance beyond which two solutions are different fixed points.

    Returns
    -------
    xarray.Dataset
        Over ``solution`` (distinct fixed points, most often reached first) and ``neuron``:
        ``rate`` (Hz), ``input`` (drive units), ``stable``, ``max_real_eigenvalue`` (1/s) and
        ``n_reached`` (starts that reached it); scalars ``n_unique``, ``n_starts``, ``n_failed``
        (starts whose search did not converge), ``contraction_bound`` and
        ``unique_guaranteed``.
    """
    check_integer("n_starts", n_starts, low=1)
    check_integer("seed", seed, low=0)
    check_choice("method", method, ("auto", "newton", "iterate"))
    check_range("distinct", distinct, low=0.0, low_open=True, high=1.0)
    W, I0, tau = network_arrays(W, I0, tau)
    scale = _default_scale(I0, transfer) if rate_scale is None else float(
        check_range("rate_scale", rate_scale, low=0.0, low_open=True, high=math.inf,
                    high_open=True, unit="Hz"))
    found: list[FixedPoint] = []
    counts: list[int] = []
    failed = 0
    bound = math.nan
    for start in _starts(n_starts, W.shape[0], scale, seed):
        fp = fixed_point(W, I0, transfer, tau=tau, form=form, r_init=start, tol=tol,
                         max_iter=max_iter, method=method)
        bound = fp.contraction_bound
        if not fp.converged:
            failed += 1
            continue
        for j, other in enumerate(found):
            if np.max(np.abs(fp.rate - other.rate), initial=0.0) <= distinct * (
                    1.0 + np.max(np.abs(other.rate), initial=0.0)):
                counts[j] += 1
                break
        else:
            found.append(fp)
            counts.append(1)
        if fp.method == "feedforward":  # no loops: the one fixed point, whatever the start
            counts[0] = n_starts
            break
    return _dataset(found, counts, n_starts, failed, bound, W.shape[0])


def _dataset(found, counts, n_starts, failed, bound, n) -> xr.Dataset:
    order = np.argsort(-np.array(counts, dtype=int), kind="stable")
    found = [found[i] for i in order]
    counts = [counts[i] for i in order]

    def per_solution(get, dtype=float):
        return np.array([get(fp) for fp in found], dtype=dtype)

    shape = (len(found), n)
    data = {
        "rate": (("solution", "neuron"), np.reshape([fp.rate for fp in found], shape),
                 attrs("Hz", "fixed-point rate")),
        "input": (("solution", "neuron"), np.reshape([fp.input for fp in found], shape),
                  attrs("drive units", "total input W r + I0")),
        "stable": ("solution", per_solution(lambda fp: fp.stable, bool),
                   attrs("1", "linearly stable")),
        "max_real_eigenvalue": ("solution", per_solution(lambda fp: fp.max_real_eigenvalue),
                                attrs("1/s", "largest real part of the Jacobian's eigenvalues")),
        "n_reached": ("solution", np.array(counts, dtype=int),
                  attrs("1", "starts that reached this fixed point")),
        "n_unique": ((), len(found), attrs("1", "distinct fixed points found")),
        "n_starts": ((), n_starts, attrs("1", "starting states")),
        "n_failed": ((), failed, attrs("1", "starts whose search did not converge")),
        "contraction_bound": ((), bound, attrs("1", "Lipschitz bound of the map (NaN: a "
                                                    "network without loops)")),
        "unique_guaranteed": ((), bool(bound < 1.0) or any(fp.unique_guaranteed
                                                           for fp in found),
                              attrs("1", "a contraction, or no loops: exactly one fixed "
                                         "point")),
    }
    ds = xr.Dataset(data, coords={"solution": np.arange(len(found)),
                                  "neuron": np.arange(n)})
    annotate(ds.coords["neuron"], *COORD_ATTRS["neuron"])
    annotate(ds.coords["solution"], "1", "distinct fixed point")
    return ds
