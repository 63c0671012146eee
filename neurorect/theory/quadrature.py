"""Composite Gauss-Legendre panels graded towards a transfer's kink (numerical fall-backs).

Shared by the sinusoid (quadrature over the drive phase) and the Gaussian averages
(quadrature over the standardised input) of transfers without a closed form.
"""

from __future__ import annotations

import numpy as np

from neurorect.transfer import LIFTransfer, PowerLaw, Transfer

__all__: list[str] = []  # internal to neurorect.theory (see its docstring)

#: Geometric grading towards a kink: ratio per level and number of levels.
_GRADING, _GRADING_LEVELS = 0.15, 14
CHUNK = 2048  # points per block in the numerical fall-backs (bounds memory)


def gauss_legendre_panels(edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of an ``n``-point Gauss-Legendre rule on each panel.

    ``edges`` has shape ``(..., E)`` (sorted along the last axis); the result has shape
    ``(..., (E - 1) * n)``. Empty panels get zero weight.
    """
    x, w = np.polynomial.legendre.leggauss(n)
    half = 0.5 * np.diff(edges, axis=-1)[..., None]
    mid = 0.5 * (edges[..., 1:] + edges[..., :-1])[..., None]
    shape = edges.shape[:-1] + (-1,)
    return (mid + half * x).reshape(shape), (half * w).reshape(shape)


def breaks(transfer: Transfer) -> list[float]:
    """Inputs where the quadrature panels are split and graded: the threshold.

    ELU, PowerLaw and the LIF curve have a kink there (the LIF and sub-linear power-law
    slopes even diverge); smooth transfers bend most sharply there.
    """
    if isinstance(transfer, LIFTransfer):
        return [transfer.v_th]
    threshold = getattr(transfer, "threshold", None)
    return [] if threshold is None else [threshold]


def singular_slope(transfer: Transfer) -> bool:
    """True if ``phi'`` diverges at the threshold (LIF, power law with ``n < 1``)."""
    return isinstance(transfer, LIFTransfer) or (isinstance(transfer, PowerLaw)
                                                 and transfer.n < 1.0)


def graded_edges(points: np.ndarray, scale: float, low: float, high: float) -> np.ndarray:
    """Panel edges graded geometrically towards ``points`` (shape ``(P, 1)``), clipped.

    Panels next to a kink shrink by ``_GRADING`` per level down to ``scale * _GRADING**L``
    (hp-style grading: exponential convergence for algebraic endpoint singularities).
    """
    offsets = scale * _GRADING ** np.arange(1, _GRADING_LEVELS + 1)
    offsets = np.concatenate([-offsets, offsets])
    return np.clip(points + offsets, low, high)


def graded_rule(low: float, high: float, n_panels: int, n_nodes: int, rows: int,
                kinks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on ``[low, high]`` for ``rows`` integrals at once.

    ``n_panels`` equal panels, further split at each kink position (arrays of shape
    ``(rows, 1)``, inside ``[low, high]``) and graded towards it; ``n_nodes`` Gauss-Legendre
    nodes per panel. Returns arrays of shape ``(rows, n)``.
    """
    edges = [np.broadcast_to(np.linspace(low, high, n_panels + 1), (rows, n_panels + 1))]
    for point in kinks:
        edges += [point, graded_edges(point, (high - low) / n_panels, low, high)]
    return gauss_legendre_panels(np.sort(np.concatenate(edges, axis=1), axis=1), n_nodes)

