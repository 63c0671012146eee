"""Counter-based normal numbers: Philox4x32-10 at (key, step quad, channel) + Box-Muller.

A variate depends only on its stream key (64 bits, from seed and neuron: :func:`stream_keys`),
its global step and its channel (0: the OU increment, 1: the white-noise increment), never on
the order of the draws: the noise is independent of thread count, chunking and batch slot,
and can be recomputed after a run (:func:`ou_traces`) instead of recorded.

The generator
-------------
Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
SC 2011; it passes TestU01's BigCrush) maps the counter ``(q mod 2^32, q div 2^32, channel,
0)`` of step quad ``q = step div 4`` under the key ``(key mod 2^32, key div 2^32)`` to four
32-bit words w0..w3. It needs only 32 x 32 -> 64-bit products, which AVX2 has as a vector
instruction (``vpmuludq``; a 64-bit hash such as SplitMix64 needs 64-bit products, which AVX2
lacks), so a tile of units draws its numbers in SIMD lanes. The known-answer vectors of the
reference implementation are tested (tests/test_random.py).

The transform
-------------
Two Box-Muller pairs from the 128 bits, written from arithmetic that LLVM vectorises (no libm
call: without SVML, ``math.log`` and ``math.cos`` inside a loop stay scalar calls). Pair A
(steps 4q, 4q + 1) takes the 40 bits ``w0 : top 8 bits of w2`` for ``u1 = 1 - k 2^-40`` in
``(0, 1]`` (through the bits of a double: no integer-to-float conversion, which AVX2 lacks
for 64-bit integers) and the low 24 bits of w2 for the angle; pair B (steps 4q + 2, 4q + 3)
the same from w1 and w3. Of an angle's 24 bits the top two give the quadrant q and the low
22 bits ``x in [-pi/4, pi/4)``: the angle ``x + q pi/2`` is uniform on a grid of 2^24 points
of the circle (its cos and sin have exact mean 0). Then

* ``log u1 = e log 2 + 2 atanh(s)``, ``s = (m - 1)/(m + 1)``, ``u1 = 2^e m`` with ``m`` in
  ``[sqrt(1/2), sqrt(2))``, the atanh series to ``s^21`` (``|s| < 0.172``: truncation below
  2^-53 relative);
* ``sin x`` and ``cos x`` by their Taylor series to ``x^15`` and ``x^16`` (``|x| <= pi/4``:
  truncation below 1e-17), rotated by q quarter turns;
* ``sqrt(-2 log u1) (cos, sin)``.

Against libm's log, cos and sin the normals agree to a few 1e-15 absolute (tested). The
largest magnitude is ``sqrt(-2 log 2^-40) = 7.45``: P(|z| > 7.45) = 9e-14 for an exact
normal, so a run of 1e12 neuron-steps misses ~0.1 such draws.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from neurorect.kernels.circle import fma, quarter_cos_sin
from neurorect.kernels.layout import EXP_EULER, FASTMATH
from neurorect.kernels.step import decay_factors

__all__ = ["stream_keys", "normal_at", "normal_quads", "key_schedule", "initial_normals",
           "ou_traces", "normals", "philox4x32", "NORMALS_PER_DRAW"]

NORMALS_PER_DRAW = 4  #: normals of one Philox call: steps 4q .. 4q + 3

# SplitMix64 constants: only for deriving stream keys from (seed, neuron), once per run
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)

# Philox4x32 constants (the reference's multipliers and Weyl key increments)
_PHILOX_M0 = np.uint64(0xD2511F53)
_PHILOX_M1 = np.uint64(0xCD9E8D57)
_PHILOX_W0 = np.uint64(0x9E3779B9)
_PHILOX_W1 = np.uint64(0xBB67AE85)
_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)

# bit patterns of doubles
_ONE_BITS = np.uint64(0x3FF0000000000000)  # 1.0: OR 52 mantissa bits in for [1, 2)
_MANTISSA = np.uint64(0x000FFFFFFFFFFFFF)
_TWO52_BITS = np.uint64(0x4330000000000000)  # 2^52: OR a small integer in for 2^52 + i
_TWO52_PLUS_BIAS = 4503599627370496.0 + 1023.0
_S52, _S24, _S22, _S12, _S8 = (np.uint64(52), np.uint64(24), np.uint64(22), np.uint64(12),
                               np.uint64(8))
_LOW22 = np.uint64(0x3FFFFF)
_LOW24 = np.uint64(0xFFFFFF)
_ZERO, _ONE, _TWO = np.uint64(0), np.uint64(1), np.uint64(2)
_SQRT2 = math.sqrt(2.0)
_LN2 = math.log(2.0)
_HALF_PI = 0.5 * math.pi
_KERNEL = dict(cache=True, fastmath=FASTMATH, error_model="numpy")


@intrinsic
def _double_from_bits(typingctx, bits):
    """The double whose IEEE bits are the uint64 ``bits`` (a register move, vectorisable)."""
    if bits != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


@intrinsic
def _bits_from_double(typingctx, value):
    """The IEEE bits of a double as a uint64."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


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
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of counter (c0..c3) under key (k0, k1): 32-bit words held in uint64.

    The low halves of the products are carried unmasked: only their low 32 bits reach the
    result (XOR is bitwise, the multiplier inputs and the outputs are masked), and the
    masks at the multiplier inputs tell LLVM that a 32 x 32 -> 64-bit product
    (``vpmuludq``) suffices, after which it drops them."""
    for _ in range(10):
        p0 = _PHILOX_M0 * (c0 & _LOW32)
        p1 = _PHILOX_M1 * (c2 & _LOW32)
        c0, c1, c2, c3 = (p1 >> _S32) ^ c1 ^ k0, p1, (p0 >> _S32) ^ c3 ^ k1, p0
        k0 = (k0 + _PHILOX_W0) & _LOW32
        k1 = (k1 + _PHILOX_W1) & _LOW32
    return c0 & _LOW32, c1 & _LOW32, c2 & _LOW32, c3 & _LOW32


@njit(cache=True, inline="always")
def _philox_scheduled(c0, c1, c2, c3, schedule, j):
    """:func:`philox4x32` with the round keys read from ``schedule[:, j]`` (see
    :func:`key_schedule`): the same words, without the key arithmetic in the loop."""
    for i in range(10):
        p0 = _PHILOX_M0 * (c0 & _LOW32)
        p1 = _PHILOX_M1 * (c2 & _LOW32)
        c0, c1, c2, c3 = ((p1 >> _S32) ^ c1 ^ schedule[2 * i, j], p1,
                          (p0 >> _S32) ^ c3 ^ schedule[2 * i + 1, j], p0)
    return c0 & _LOW32, c1 & _LOW32, c2 & _LOW32, c3 & _LOW32


@njit(cache=True)
def key_schedule(keys, schedule):
    """The 10 Philox round keys of each stream key: ``schedule[2 i, j]``,
    ``schedule[2 i + 1, j]`` for round i of ``keys[j]`` (``schedule`` is (20, len(keys)))."""
    for j in range(keys.size):
        k0 = keys[j] & _LOW32
        k1 = keys[j] >> _S32
        for i in range(10):
            schedule[2 * i, j] = k0
            schedule[2 * i + 1, j] = k1
            k0 = (k0 + _PHILOX_W0) & _LOW32
            k1 = (k1 + _PHILOX_W1) & _LOW32


@njit(inline="always", **_KERNEL)
def _log_unit(u):
    """log(u) for u in (0, 1] a normal double, to ~1 ulp: ``e log 2 + 2 atanh(s)``."""
    bits = _bits_from_double(u)
    m = _double_from_bits((bits & _MANTISSA) | _ONE_BITS)  # [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m  # [sqrt(1/2), sqrt(2))
    biased = (bits >> _S52) + (_ONE if big else _ZERO)
    exponent = _double_from_bits(_TWO52_BITS | biased) - _TWO52_PLUS_BIAS
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    series = 1.0 / 21.0
    series = fma(series, s2, 1.0 / 19.0)
    series = fma(series, s2, 1.0 / 17.0)
    series = fma(series, s2, 1.0 / 15.0)
    series = fma(series, s2, 1.0 / 13.0)
    series = fma(series, s2, 1.0 / 11.0)
    series = fma(series, s2, 1.0 / 9.0)
    series = fma(series, s2, 1.0 / 7.0)
    series = fma(series, s2, 1.0 / 5.0)
    series = fma(series, s2, 1.0 / 3.0)
    return fma(exponent, _LN2, (2.0 * s) * fma(series, s2, 1.0))


@njit(inline="always", **_KERNEL)
def _unit_circle(word):
    """(cos, sin) of the angle ``x + q pi/2`` coded by a 24-bit word (see the module doc)."""
    quadrant = word >> _S22
    fraction = _double_from_bits(_ONE_BITS | ((word & _LOW22) << _S30)) - 1.0  # [0, 1)
    x = (fraction - 0.5) * _HALF_PI
    cosine, sine = quarter_cos_sin(x)
    odd = (quadrant & _ONE) != _ZERO
    c = -sine if odd else cosine
    s = cosine if odd else sine
    flip = quadrant >= _TWO
    return (-c if flip else c), (-s if flip else s)


@njit(inline="always", **_KERNEL)
def _box_muller(high, low):
    """The standard normal pair of a 32-bit word ``high`` and a 32-bit word ``low`` whose
    top 8 bits extend ``high`` to the 40 bits of u1 and whose low 24 bits code the angle."""
    bits = ((high << _S8) | (low >> _S24)) << _S12  # 40 bits at the top of the mantissa
    u1 = 2.0 - _double_from_bits(_ONE_BITS | (bits & _MANTISSA))  # (0, 1]
    radius = math.sqrt(-2.0 * _log_unit(u1))
    c, s = _unit_circle(low & _LOW24)
    return radius * c, radius * s


@njit(inline="always", **_KERNEL)
def _normal_quad(key, quad, channel):
    """The four standard normals of step quad ``quad`` (steps 4 quad .. 4 quad + 3)."""
    w0, w1, w2, w3 = philox4x32(quad & _LOW32, quad >> _S32, channel, _ZERO, key & _LOW32,
                                key >> _S32)
    z0, z1 = _box_muller(w0, w2)
    z2, z3 = _box_muller(w1, w3)
    return z0, z1, z2, z3


@njit(inline="always", **_KERNEL)
def normal_at(key, step, channel):
    """Standard normal number ``channel`` of global ``step`` in stream ``key``."""
    z0, z1, z2, z3 = _normal_quad(key, np.uint64(step) >> _TWO, np.uint64(channel))
    phase = step % 4
    return z0 if phase == 0 else (z1 if phase == 1 else (z2 if phase == 2 else z3))


@njit(inline="always", **_KERNEL)
def normal_quads(schedule, quad, channel, out, row):
    """The normals of step quad ``quad`` for every stream of ``schedule`` (its
    :func:`key_schedule`): ``out[row + r, j]`` is stream j's at step 4 quad + r, r = 0..3;
    vectorised over j (inline it into the tile's loop). The same bits as
    :func:`normal_at`."""
    m = np.uint64(quad)
    c0 = m & _LOW32
    c1 = m >> _S32
    c2 = np.uint64(channel)
    for j in range(schedule.shape[1]):
        w0, w1, w2, w3 = _philox_scheduled(c0, c1, c2, _ZERO, schedule, j)
        out[row, j], out[row + 1, j] = _box_muller(w0, w2)
        out[row + 2, j], out[row + 3, j] = _box_muller(w1, w3)


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
