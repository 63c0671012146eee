"""The clipped leaky ReLU as a sum of ramps, the form both closed forms start from.

``phi(x) = phi(t) + b0 (x - t) + sum_j D_j [R(x - kappa_j) - R(t - kappa_j)]`` with
``R(u) = max(u, 0)``, ``t`` the threshold, ``b0`` the slope left of every kink and ``D_j``
the change of slope at kink ``kappa_j``. :mod:`~neurorect.theory.sinusoid` integrates the
ramps against a sinusoid, :mod:`~neurorect.theory.gaussian` against a Gaussian.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from neurorect.transfer import LeakyReLU

__all__: list[str] = []  # internal to neurorect.theory (see its docstring)

#: The leaky ReLU's parameters in the order :func:`leaky_relu_ramps` takes them.
LEAKY_NAMES = tuple(f.name for f in fields(LeakyReLU))


@dataclass(frozen=True)
class Ramps:
    """``phi(x) = base + b0 (x - t) + sum_j delta_j R(x - kappa_j)``, ``R(u) = max(u, 0)``.

    ``base = phi(t) - sum_j delta_j R(t - kappa_j)`` (``t`` the threshold): referring the
    linear part to the threshold keeps it well conditioned. Arrays broadcast together;
    ``kappa`` and ``delta`` carry the kinks on the last axis.
    """

    threshold: np.ndarray
    base: np.ndarray
    b0: np.ndarray
    kappa: np.ndarray
    delta: np.ndarray

    def active(self) -> Ramps:
        """Drop the kinks whose slope change is zero everywhere (e.g. absent clipping)."""
        keep = np.any(self.delta != 0, axis=tuple(range(self.delta.ndim - 1)))
        return Ramps(self.threshold, self.base, self.b0, self.kappa[..., keep],
                     self.delta[..., keep])

    def expand(self, src_dims: tuple, dims: tuple, shape: tuple) -> Ramps:
        """Broadcast views from the parameters' dims ``src_dims`` to ``dims`` / ``shape``."""
        return Ramps(*(_expand(getattr(self, f.name), src_dims, dims, shape)
                       for f in fields(self)))


def _expand(values: np.ndarray, src_dims: tuple, dims: tuple, shape: tuple) -> np.ndarray:
    """View of ``values`` (dims ``src_dims`` plus trailing extra axes) broadcast to ``dims``."""
    n_src = len(src_dims)
    extra = values.shape[n_src:]
    order = [src_dims.index(d) for d in dims if d in src_dims]
    moved = values.transpose(order + list(range(n_src, values.ndim)))
    keep = iter(moved.shape[:n_src])
    target = [next(keep) if d in src_dims else 1 for d in dims]
    return np.broadcast_to(moved.reshape(target + list(extra)), tuple(shape) + extra)


def leaky_relu_ramps(gain, threshold, alpha, rate_min, rate_max, baseline) -> Ramps:
    """Ramp decomposition of the clipped leaky ReLU (all parameters broadcast).

    The rate lies strictly inside the clipping bounds on ``(x_lo, x_hi)``; there the slope is
    ``gain * alpha`` below the threshold and ``gain`` above; outside it is 0. The kinks are
    ``x_lo <= clip(t, x_lo, x_hi) <= x_hi`` (infinite ones absent).
    """
    g, t, a, lo, hi, b = np.broadcast_arrays(
        *(np.asarray(p, float) for p in (gain, threshold, alpha, rate_min, rate_max, baseline)))
    leak = g * a
    with np.errstate(divide="ignore", invalid="ignore"):
        x_lo = np.where(b <= lo, t + (lo - b) / g, np.where(a > 0, t + (lo - b) / leak, -np.inf))
        x_hi = np.where(b < hi, t + (hi - b) / g, np.where(a > 0, t + (hi - b) / leak, -np.inf))
    kappa = np.stack([x_lo, np.clip(t, x_lo, x_hi), x_hi], axis=-1)
    slopes = np.stack([np.zeros_like(g), leak, g, np.zeros_like(g)], axis=-1)
    finite = np.isfinite(kappa)
    n_left = np.sum(kappa == -np.inf, axis=-1)  # the leftmost region's slope is slopes[n_left]
    b0 = np.take_along_axis(slopes, n_left[..., None], axis=-1)[..., 0]
    delta = np.where(finite, np.diff(slopes, axis=-1), 0.0)
    kappa = np.where(finite, kappa, t[..., None])
    base = np.clip(b, lo, hi) - np.sum(delta * np.maximum(t[..., None] - kappa, 0.0), -1)
    return Ramps(t, base, b0, kappa, delta)

