"""Counter-based normal numbers: SplitMix64 at a position (key, step, channel) + Box-Muller.

A variate depends only on its stream key, its global step and its channel (0: the OU
increment, 1: the white-noise increment), never on the order of the draws: the noise is
independent of thread count and chunking, and can be recomputed after a run
(:func:`ou_traces`) instead of recorded.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from neurorect.kernels.layout import EXP_EULER
from neurorect.kernels.step import decay_factors

__all__ = ["stream_keys", "normal_at", "initial_normals", "ou_traces", "normals"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
_TWO_PI = 2.0 * math.pi


@njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64's finaliser: a bijective 64-bit hash."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def _stream_key(seed, index):
    """Key of the noise stream of neuron ``index`` under ``seed`` (both non-negative ints)."""
    return _mix64(_mix64(np.uint64(seed) + _GOLDEN) ^ (np.uint64(index) * _MIX2 + _GOLDEN))


@njit(cache=True)
def stream_keys(seeds, n_neurons):
    """Keys of every (seed, neuron) pair, shape (len(seeds) * n_neurons,), seed-major."""
    keys = np.empty(seeds.size * n_neurons, dtype=np.uint64)
    for b in range(seeds.size):
        for i in range(n_neurons):
            keys[b * n_neurons + i] = _stream_key(seeds[b], i)
    return keys


@njit(cache=True, inline="always")
def normal_at(key, step, channel):
    """Standard normal number ``channel`` of ``step`` in stream ``key`` (Box-Muller)."""
    position = key + (np.uint64(step) * np.uint64(4) + np.uint64(2 * channel)) * _GOLDEN
    h1 = _mix64(position)
    h2 = _mix64(position + _GOLDEN)
    u1 = (float(h1 >> _S11) + 1.0) * _INV53  # (0, 1]
    u2 = float(h2 >> _S11) * _INV53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


@njit(cache=True)
def initial_normals(keys, salt):
    """One standard normal per key from a separate stream (``key ^ salt``)."""
    out = np.empty(keys.size)
    for u in range(keys.size):
        out[u] = normal_at(keys[u] ^ salt, 0, 0)
    return out


@njit(cache=True)
def ou_traces(keys, eta0, params, dt, n_steps, every):
    """The OU input of each unit at every ``every``-th step, exactly as the kernels draw it.

    ``eta_{n+1} = a eta_n + b xi(key, n, 0)`` with the kernels' own ``a`` and ``b``
    (:func:`~neurorect.kernels.step.decay_factors` of each row of ``params``); a unit
    without OU noise stays at ``eta0``. Shape (ceil(n_steps / every), units).
    """
    n_rows = (n_steps + every - 1) // every
    out = np.empty((n_rows, keys.size))
    for u in range(keys.size):
        _, _, ou_a, ou_b, _ = decay_factors(params, u, dt, EXP_EULER)
        eta = eta0[u]
        for n in range(n_steps):
            if n % every == 0:
                out[n // every, u] = eta
            if ou_b > 0.0:
                eta = ou_a * eta + ou_b * normal_at(keys[u], n, 0)
    return out


@njit(cache=True)
def normals(key, step0, n_steps, channel):
    """``n_steps`` normals of one stream from ``step0`` (used by tests and the NumPy oracle)."""
    out = np.empty(n_steps)
    for n in range(n_steps):
        out[n] = normal_at(key, step0 + n, channel)
    return out
