"""A network's coupling as the kernels take it: channels, dense blocks or CSR, and history.

A *channel* is the set of connections sharing a transmission delay and a synaptic filter
time constant (``[connections.NAME] delay``, ``tau_syn``); the network kernel computes one
coupling product per channel and step. :func:`coupling_channels` groups a model's
connections (one W per channel, per batch copy when the coupling is batched);
:func:`coupling_arrays` packs them into the kernels' :class:`~neurorect.kernels.layout.Coupling`
and allocates the :class:`~neurorect.kernels.layout.History` they carry from step to step
(the ring of past rates for delays, the last products, the synaptic filter states).

One channel (every connection without delay and filter, the common case) is the whole N x N
matrix, as before channels existed; several channels keep only the (post x pre) block their
populations span, and the kernel gathers and scatters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from neurorect.errors import ModelError
from neurorect.kernels.channels import product_lag
from neurorect.kernels.layout import (
    CH_COL0,
    CH_COLS,
    CH_DELAY,
    CH_FILTERED,
    CH_IDENTITY,
    CH_PTR0,
    CH_ROW0,
    CH_ROWS,
    CH_W0,
    EULER,
    METHOD_CODES,
    N_CHANNEL,
    Coupling,
    History,
)
from neurorect.spec import Model

__all__ = ["Channel", "coupling_channels", "coupling_arrays", "delay_steps"]

#: ``coupling="auto"`` takes CSR for one shared W of at least this many neurons ...
SPARSE_FROM_NEURONS = 200
#: ... with under this fraction of non-zero weights.
SPARSE_BELOW_DENSITY = 0.1


class Channel(NamedTuple):
    """Connections sharing a delay (s) and a synaptic filter (``tau_syn`` s, 0: none)."""

    delay: float
    tau_syn: float
    names: tuple[str, ...]  #: the connections in this channel
    W: np.ndarray  #: (1 shared or B per copy, N, N): this channel's part of the coupling


def coupling_channels(model: Model, W: np.ndarray,
                      coupling_values: Mapping[str, np.ndarray]) -> tuple[Channel, ...]:
    """The channels of ``model`` (:meth:`~neurorect.spec.Model.coupling_channels`) whose total
    coupling is ``W`` (1 or B, N, N).

    ``coupling_values`` are the batched ``connections.*`` paths (``{path: B values}``), as
    for W. One channel gets W itself; with several, each channel's W is built from its
    connections alone (per batch copy when the coupling is batched).
    """
    keys = list(dict.fromkeys((c.delay, c.tau_syn) for c in model.connections))
    names = [tuple(c.name for c in model.connections if (c.delay, c.tau_syn) == key)
             for key in keys]
    if len(keys) == 1:
        return (Channel(keys[0][0], keys[0][1], names[0], W),)
    copies = ([model.with_values({p: v[b] for p, v in coupling_values.items()})
               for b in range(W.shape[0])] if coupling_values else [model])
    per_copy = np.stack([copy.coupling_channels()[0] for copy in copies], axis=1)
    return tuple(Channel(key[0], key[1], group, per_copy[k])
                 for k, (key, group) in enumerate(zip(keys, names, strict=True)))


def delay_steps(delay: float, dt: float) -> int:
    """The delay as a whole number of steps (the model validates that it is one)."""
    return int(round(delay / dt))


def _span(model: Model, names: tuple[str, ...], end: str) -> np.ndarray:
    """Sorted neuron indices of the populations at ``end`` ("pre" or "post") of ``names``."""
    offsets = model.offsets
    pops = {getattr(c, end) for c in model.connections if c.name in names}
    return np.concatenate([np.arange(*offsets[p]) for p in model.offsets if p in pops])


def _synapse_factors(tau_syn: float, dt: float, method: int) -> tuple[float, float]:
    """``(a, b)`` of the filter step ``s' = a s + b c``: exact for exponential methods,
    forward Euler for EULER; (0, 0) without a filter."""
    if tau_syn <= 0.0:
        return 0.0, 0.0
    if method == EULER:
        return 1.0 - dt / tau_syn, dt / tau_syn
    return math.exp(-dt / tau_syn), -math.expm1(-dt / tau_syn)


def _use_sparse(W: np.ndarray, mode: str) -> bool:
    density = np.count_nonzero(W) / W.size
    use_sparse = mode == "sparse" or (mode == "auto" and W.shape[0] == 1
                                      and density < SPARSE_BELOW_DENSITY
                                      and W.shape[1] >= SPARSE_FROM_NEURONS)
    if use_sparse and W.shape[0] != 1:
        raise ModelError("sparse coupling needs one W shared by the batch", key="coupling",
                         value=mode, allowed="'dense' when batching coupling parameters")
    return use_sparse


def coupling_arrays(model: Model, channels: tuple[Channel, ...], W: np.ndarray, mode: str,
                    dtype, *, dt: float, method: str, n_batch: int) -> tuple[Coupling, History]:
    """The kernels' :class:`Coupling` and a fresh :class:`History` for ``channels``.

    ``W`` is the total coupling (1 or B, N, N); ``mode`` is "auto" (CSR for one shared W of
    N >= 200 with under 10 % non-zeros), "dense" or "sparse"; ``dtype`` that of the state.
    """
    code = METHOD_CODES[method]
    n = W.shape[1]
    sparse = _use_sparse(W, mode)
    table = np.zeros((len(channels), N_CHANNEL), dtype=np.int64)
    synapse = np.zeros((len(channels), 2))
    rows, cols, dense, indptr, indices, weights = [], [], [], [], [], []
    row0 = col0 = w0 = ptr0 = nnz = 0
    for k, channel in enumerate(channels):
        identity = len(channels) == 1
        post = np.arange(n) if identity else _span(model, channel.names, "post")
        pre = np.arange(n) if identity else _span(model, channel.names, "pre")
        block = channel.W if identity else channel.W[:, post][:, :, pre]
        table[k, CH_DELAY] = delay_steps(channel.delay, dt)
        table[k, CH_ROW0], table[k, CH_ROWS] = row0, post.size
        table[k, CH_COL0], table[k, CH_COLS] = col0, pre.size
        table[k, CH_W0], table[k, CH_PTR0] = w0, ptr0
        table[k, CH_FILTERED] = int(channel.tau_syn > 0.0)
        table[k, CH_IDENTITY] = int(identity)
        synapse[k] = _synapse_factors(channel.tau_syn, dt, code)
        rows.append(post)
        cols.append(pre)
        if sparse:
            local_rows, local_cols = np.nonzero(block[0])
            indptr.append(nnz + np.searchsorted(local_rows, np.arange(post.size + 1)))
            nnz += local_rows.size
            indices.append(pre[local_cols])
            weights.append(block[0][local_rows, local_cols])
            ptr0 += post.size + 1
        else:
            dense.append(block.reshape(block.shape[0], -1))
            w0 += post.size * pre.size
        row0 += post.size
        col0 += pre.size
    coupling = _pack(sparse, dense, indptr, indices, weights, table, rows, cols, synapse,
                     dtype, n)
    longest = max(product_lag(code, int(steps)) for steps in table[:, CH_DELAY])
    ring = (np.zeros((longest + 1, n_batch, n), dtype=dtype) if longest > 0
            else np.zeros((1, 0, 0), dtype=dtype))
    history = History(rates=ring, previous=np.zeros((n_batch, row0), dtype=dtype),
                      synaptic=np.zeros((n_batch, row0)))
    return coupling, history


def _pack(sparse, dense, indptr, indices, weights, table, rows, cols, synapse, dtype,
          n) -> Coupling:
    empty_int = np.zeros(0, dtype=np.int64)
    if sparse:
        index_type = np.uint32 if n < 2**32 else np.uint64  # unsigned: no wraparound test
        return Coupling(np.zeros((1, 0), dtype=dtype), np.concatenate(indptr).astype(np.int64),
                        np.concatenate(indices).astype(index_type),
                        np.concatenate(weights).astype(np.float64), table,
                        np.concatenate(rows).astype(np.int64),
                        np.concatenate(cols).astype(np.int64), synapse)
    flat = dense[0] if len(dense) == 1 else np.concatenate(dense, axis=1)
    return Coupling(np.ascontiguousarray(flat, dtype=dtype),
                    empty_int, np.zeros(0, dtype=np.uint32), np.zeros(0), table,
                    np.concatenate(rows).astype(np.int64),
                    np.concatenate(cols).astype(np.int64), synapse)
