"""Coupling channels inside the network kernel: products, their combination, the ring.

A channel is the connections sharing a delay and a synaptic filter (see
:mod:`neurorect._coupling`, which packs them, and :mod:`neurorect.kernels.network`, which
calls these once per step). :func:`channel_products` computes every channel's coupling
product of step n from the rates the method needs (:func:`product_lag`, read from the ring
of past rates that :func:`fill_ring` starts); :func:`combine_channels` turns the products
into each unit's recurrent input over the step (held, or at the middle of the step for
EXP_AB2; through the synaptic filters).
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
    EXP_AB2,
    GEMM_FROM,
)

__all__ = ["fill_ring", "copy_rows", "product_lag", "channel_products", "channel_product",
           "csr_rows", "combine_channels", "start_history", "start_extrapolation"]


@njit(cache=True)
def fill_ring(history, rates):
    """At global step 0: every slot of the ring holds r(0) (the history before t = 0)."""
    ring = history.rates
    if ring.shape[0] > 1:
        for slot in range(ring.shape[0]):
            copy_rows(rates, ring[slot])


@njit(cache=True)
def copy_rows(source, target):
    """``target[:, :] = source`` for two (B, N) arrays, as a loop: a slice assignment
    compiles numba's broadcasting and its shape-mismatch error message, ~3 s per site."""
    for b in range(source.shape[0]):
        for i in range(source.shape[1]):
            target[b, i] = source[b, i]


@njit(cache=True)
def product_lag(method, delay):
    """Age in steps of the rates that the product of step n of a channel with a delay of
    ``delay`` steps uses: ``delay``, or ``delay - 1`` (at least 0) under EXP_AB2, whose
    step takes the products at both ends of the delayed interval (see the module docstring
    of :mod:`neurorect.kernels.network`)."""
    if method == EXP_AB2:
        return max(delay - 1, 0)
    return delay


@njit(cache=True)
def channel_products(n, method, coupling, history, rates, product, gather):
    """Every channel's product of step n, from its delayed rates, into ``product``."""
    ring = history.rates
    for k in range(coupling.channels.shape[0]):
        lag = product_lag(method, coupling.channels[k, CH_DELAY])
        if lag == 0:
            channel_product(coupling, k, rates, product, gather)
        else:
            channel_product(coupling, k, ring[(n - lag) % ring.shape[0]], product, gather)


@njit(cache=True)
def channel_product(coupling, k, source, product, gather):
    """product[b, rows of channel k] = W_k @ source[b, cols of channel k]: BLAS for dense
    blocks (one matrix-matrix product for a shared W from GEMM_FROM copies on), else CSR."""
    W, indptr, indices, weights = coupling.W, coupling.indptr, coupling.indices, coupling.weights
    info = coupling.channels[k]
    row0, n_rows, col0, n_cols = info[CH_ROW0], info[CH_ROWS], info[CH_COL0], info[CH_COLS]
    n_batch = source.shape[0]
    if indptr.shape[0] > 0:
        for b in range(n_batch):
            csr_rows(indptr[info[CH_PTR0]:info[CH_PTR0] + n_rows + 1], indices, weights,
                     source[b], product[b], row0)
        return
    if info[CH_IDENTITY] == 1:
        x = source
    else:  # gather the channel's pre neurons into a contiguous block
        x = gather[:n_batch * n_cols].reshape(n_batch, n_cols)
        for b in range(n_batch):
            for j in range(n_cols):
                x[b, j] = source[b, coupling.cols[col0 + j]]
    w0 = info[CH_W0]
    if W.shape[0] == 1 and n_batch >= GEMM_FROM:
        block = W[0, w0:w0 + n_rows * n_cols].reshape(n_rows, n_cols)
        result = np.dot(x, block.T)  # all copies in one product
        for b in range(n_batch):
            for i in range(n_rows):
                product[b, row0 + i] = result[b, i]
    else:
        for b in range(n_batch):  # matrix-vector per copy: what a single run does
            c = b if W.shape[0] > 1 else 0
            block = W[c, w0:w0 + n_rows * n_cols].reshape(n_rows, n_cols)
            result = np.dot(block, x[b])
            for i in range(n_rows):
                product[b, row0 + i] = result[i]


@njit(cache=True)
def csr_rows(pointers, indices, weights, row, out, offset):
    """``out[offset + i] = sum_j weights[j] row[indices[j]]`` over the CSR rows
    ``pointers[i] <= j < pointers[i + 1]``, each row summed in the order of its entries.

    Two rows at a time: their sums are independent chains of additions, so the adds of one
    hide the latency of the other's, and the order within each row (so every bit) is the
    plain loop's. Every index is unsigned (uint64 row pointers, uint32 columns), so numba
    emits no negative-index wraparound per load: with signed row pointers the loop ran
    1.13-1.30x scipy's CSR product, unsigned 1.0x, two rows at a time 0.75-0.9x (measured,
    N = 4000 at p = 0.05 and N = 8000 at p = 0.01)."""
    n_rows = pointers.shape[0] - 1
    i = 0
    while i + 1 < n_rows:
        a0, b0, b1 = (np.uint64(pointers[i]), np.uint64(pointers[i + 1]),
                      np.uint64(pointers[i + 2]))
        common = min(b0 - a0, b1 - b0)
        total_a = 0.0
        total_b = 0.0
        for j in range(common):
            total_a += weights[a0 + j] * row[indices[a0 + j]]
            total_b += weights[b0 + j] * row[indices[b0 + j]]
        for j in range(a0 + common, b0):
            total_a += weights[j] * row[indices[j]]
        for j in range(b0 + common, b1):
            total_b += weights[j] * row[indices[j]]
        out[offset + i] = total_a
        out[offset + i + 1] = total_b
        i += 2
    if i < n_rows:
        total = 0.0
        for j in range(np.uint64(pointers[i]), np.uint64(pointers[i + 1])):
            total += weights[j] * row[indices[j]]
        out[offset + i] = total


@njit(cache=True)
def combine_channels(method, coupling, history, product, coupled):
    """The recurrent input of every unit over the step, from the channels' products: held
    (EXP_EULER, EULER, RK4) or at the middle of the step (EXP_AB2), through the synaptic
    filters; ``coupled`` (B, N) float64."""
    channels, rows, synapse = coupling.channels, coupling.rows, coupling.synapse
    previous, synaptic = history.previous, history.synaptic
    n_batch = product.shape[0]
    single = channels.shape[0] == 1 and channels[0, CH_IDENTITY] == 1
    if not single:
        for b in range(n_batch):
            for i in range(coupled.shape[1]):
                coupled[b, i] = 0.0
    ab2 = method == EXP_AB2
    for k in range(channels.shape[0]):
        row0, n_rows = channels[k, CH_ROW0], channels[k, CH_ROWS]
        filtered = channels[k, CH_FILTERED] == 1
        w_new, w_old = (1.5, -0.5) if channels[k, CH_DELAY] == 0 else (0.5, 0.5)
        s_a, s_b = synapse[k, 0], synapse[k, 1]
        for b in range(n_batch):
            for i in range(n_rows):
                r = row0 + i
                value = float(product[b, r])
                if ab2:
                    value = w_new * value + w_old * previous[b, r]
                    previous[b, r] = product[b, r]
                if filtered:
                    s = synaptic[b, r]
                    s_next = s_a * s + s_b * value
                    value = 0.5 * (s + s_next) if ab2 else s
                    synaptic[b, r] = s_next
                if single:
                    coupled[b, i] = value
                else:
                    coupled[b, rows[r]] += value


@njit(cache=True)
def start_history(method, coupling, history, product, held):
    """Global step 0, after its products: synaptic filters at rest with r(0) (``s = W r(0)``)
    and EXP_AB2's last products (``p_{-1} = p_0``). Returns whether EXP_AB2's second-order
    start is needed (an undelayed channel; see :func:`start_extrapolation`); then ``held``
    (B, N, zeros on entry) gets every neuron's recurrent input with the channels held."""
    channels = coupling.channels
    undelayed = False
    for k in range(channels.shape[0]):
        row0, n_rows = channels[k, CH_ROW0], channels[k, CH_ROWS]
        for b in range(product.shape[0]):
            for i in range(row0, row0 + n_rows):
                history.synaptic[b, i] = product[b, i]
                history.previous[b, i] = product[b, i]
        undelayed = undelayed or channels[k, CH_DELAY] == 0
    if method != EXP_AB2 or not undelayed:
        return False
    for k in range(channels.shape[0]):
        row0, n_rows = channels[k, CH_ROW0], channels[k, CH_ROWS]
        for b in range(product.shape[0]):
            for i in range(n_rows):
                target = i if channels[k, CH_IDENTITY] == 1 else coupling.rows[row0 + i]
                held[b, target] += product[b, row0 + i]
    return True


@njit(cache=True)
def start_extrapolation(coupling, history, predicted, product, gather):
    """EXP_AB2's second-order start: from the rates ``predicted`` (B, N) of an
    exponential-Euler step with the channels held, ``p_{-1} = 2 p_0 - W r_1*`` for every
    undelayed channel, so that the first step takes ``0.5 (p_0 + W r_1*)``."""
    channels = coupling.channels
    ahead = np.empty_like(product)
    for k in range(channels.shape[0]):
        if channels[k, CH_DELAY] == 0:
            channel_product(coupling, k, predicted, ahead, gather)
            row0, n_rows = channels[k, CH_ROW0], channels[k, CH_ROWS]
            for b in range(product.shape[0]):
                for i in range(row0, row0 + n_rows):
                    history.previous[b, i] = 2.0 * product[b, i] - ahead[b, i]
