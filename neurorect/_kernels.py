"""Private Numba integrators: numpy arrays and scalars in, arrays out (updated in place).

Only :mod:`neurorect.driver` calls these. Layout: the simulation's units (batch copies x
neurons, batch-major: ``u = b * N + i``) are rows of a few packed arrays:

* ``kinds (U, 2)`` int64: transfer code, form (0 rate, 1 voltage);
* ``params (U, N_PARAMS)`` float64: the columns named below;
* ``tparams (U, 6)``: transfer parameters (``Transfer.kernel_params``);
* ``pulses (U, P, 5)``: start, stop, period, width, amplitude (a step has an infinite period);
* ``windows (U, 2)`` int64: first and stop global step of the streaming statistics;
* ``keys (U,)`` uint64: noise stream of the unit (seed and neuron index, not the batch slot,
  so a batch element draws the same noise as its individual run);
* state ``state (U,)``, ``ou (U,)``, ``acc (U, K + 1)`` complex (running sum of the rate and
  of its projections ``r exp(-i 2 pi k f t)``), carried between chunks.

Time is global: step ``n`` is at ``t = n dt`` whatever the chunking. Sinusoids and Fourier
projections advance by a rotating phasor (one complex multiply per step), re-synchronised
exactly every ``RESYNC`` global steps and at each chunk start, so a chunked run equals a
single run bit for bit. Normal variates come from a counter-based generator (SplitMix64 at
position (key, step, channel) + Box-Muller): independent of thread count and chunking.

Exponential Euler, for an uncoupled unit with input held over the step (exact then)::

    rate:    r' = a r + (1 - a) phi(c + I(t + dt/2) + eta)
    voltage: v' = a v + (1 - a) (c + I(t + dt/2) + eta)      a = exp(-dt / tau)

with ``c`` the recurrent input (``W r`` or ``W phi(v)``, at t) and ``eta`` the OU noise. The
deterministic drive is sampled at the middle of the step: exact for piecewise-constant
input, like the left end, but without the left end's dt/2 delay, so a linear unit under a
sinusoid is second-order accurate (its phase error is O((w dt)^2), not w dt / 2). White
noise adds ``sigma sqrt((1 - a^2) / 2) xi`` (its exact OU increment). Euler and RK4 are
offered for comparison (white noise then enters as an Euler-Maruyama increment, and OU noise
is held over the step).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from neurorect._transfer_kernels import LEAKY_RELU, transfer_value

# params columns
TAU, I0, SIN_AMP, SIN_FREQ, SIN_PHASE, OU_SIGMA, OU_TAU, WHITE_SIGMA, STAT_FREQ = range(9)
N_PARAMS = 9
# pulses columns
P_START, P_STOP, P_PERIOD, P_WIDTH, P_AMP = range(5)
# methods and forms
EXP_EULER, EULER, RK4 = 0, 1, 2
RATE_FORM, VOLTAGE_FORM = 0, 1
# what to record
RECORD_RATE, RECORD_STATE = 0, 1

RESYNC = 1024
#: Batch copies sharing W use one matrix-matrix product from this many copies on (measured:
#: OpenBLAS gemm beats per-copy gemv at 16 copies of N = 1000, 1.7x, and loses at 4); below
#: it each copy's product is the single run's matrix-vector product, bit for bit.
GEMM_FROM = 8
TWO_PI = 2.0 * math.pi
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


# ------------------------------------------------------------------------------ random
@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def stream_key(seed, index):
    """Key of the noise stream of neuron ``index`` under ``seed`` (both non-negative ints)."""
    return _mix64(_mix64(np.uint64(seed) + _GOLDEN) ^ (np.uint64(index) * _MIX2 + _GOLDEN))


@njit(cache=True, inline="always")
def normal_at(key, step, channel):
    """Standard normal number ``channel`` of ``step`` in stream ``key`` (Box-Muller)."""
    position = key + (np.uint64(step) * np.uint64(4) + np.uint64(2 * channel)) * _GOLDEN
    h1 = _mix64(position)
    h2 = _mix64(position + _GOLDEN)
    u1 = (float(h1 >> _S11) + 1.0) * _INV53  # (0, 1]
    u2 = float(h2 >> _S11) * _INV53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(TWO_PI * u2)


@njit(cache=True)
def stream_keys(seeds, n_neurons):
    """Keys of every (seed, neuron) pair, shape (len(seeds) * n_neurons,), seed-major."""
    keys = np.empty(seeds.size * n_neurons, dtype=np.uint64)
    for b in range(seeds.size):
        for i in range(n_neurons):
            keys[b * n_neurons + i] = stream_key(seeds[b], i)
    return keys


@njit(cache=True)
def initial_normals(keys, salt):
    """One standard normal per key from a separate stream (``key ^ salt``)."""
    out = np.empty(keys.size)
    for u in range(keys.size):
        out[u] = normal_at(keys[u] ^ salt, 0, 0)
    return out


@njit(cache=True)
def ou_traces(keys, eta0, ou_a, ou_b, n_steps, every):
    """The OU input of each unit at every ``every``-th step, exactly as the kernels draw it:
    ``eta_{n+1} = a eta_n + b xi(key, n, 0)``; shape (n_steps // every ceil, units)."""
    n_rows = (n_steps + every - 1) // every
    out = np.empty((n_rows, keys.size))
    for u in range(keys.size):
        eta = eta0[u]
        for n in range(n_steps):
            if n % every == 0:
                out[n // every, u] = eta
            eta = ou_a[u] * eta + ou_b[u] * normal_at(keys[u], n, 0)
    return out


@njit(cache=True)
def normals(key, step0, n_steps, channel):
    """``n_steps`` normals of one stream from ``step0`` (used by tests and the NumPy oracle)."""
    out = np.empty(n_steps)
    for n in range(n_steps):
        out[n] = normal_at(key, step0 + n, channel)
    return out


# ------------------------------------------------------------------------------ drive
@njit(cache=True, inline="always")
def _pulses_at(pulses, u, t):
    total = 0.0
    for j in range(pulses.shape[1]):
        start = pulses[u, j, P_START]
        if t >= start and t < pulses[u, j, P_STOP]:
            period = pulses[u, j, P_PERIOD]
            if math.isinf(period) or ((t - start) % period) < pulses[u, j, P_WIDTH]:
                total += pulses[u, j, P_AMP]
    return total


@njit(cache=True, inline="always")
def _drive_phasor(params, u, n, dt):
    """exp(i (2 pi f t_n + phase)) of unit u's sinusoid."""
    angle = TWO_PI * params[u, SIN_FREQ] * (n * dt) + params[u, SIN_PHASE]
    return complex(math.cos(angle), math.sin(angle))


@njit(cache=True, inline="always")
def _stat_phasor(params, u, n, dt):
    """exp(-i 2 pi f_stat t_n)."""
    angle = TWO_PI * params[u, STAT_FREQ] * (n * dt)
    return complex(math.cos(angle), -math.sin(angle))


@njit(cache=True, inline="always")
def _synced_phasors(params, u, n, dt, rotation, stat_rotation):
    """Drive and statistics phasors at step n exactly as a run from step 0 has them: exact at
    the last multiple of RESYNC, then rotated step by step (chunking-invariant bits)."""
    base = n - n % RESYNC
    z = _drive_phasor(params, u, base, dt)
    zs = _stat_phasor(params, u, base, dt)
    for _ in range(n - base):
        z *= rotation
        zs *= stat_rotation
    return z, zs


@njit(cache=True, inline="always")
def _accumulate(acc, u, rate, zs):
    acc[u, 0] += rate
    power = zs
    for k in range(1, acc.shape[1]):
        acc[u, k] += rate * power
        power *= zs


@njit(cache=True, inline="always")
def _rate_of(code, p, form, state):
    return transfer_value(code, p, state) if form == VOLTAGE_FORM else state


@njit(cache=True, inline="always")
def _rhs(code, p, form, tau, state, total_input):
    """d state / dt of an uncoupled-looking unit given its total input."""
    if form == VOLTAGE_FORM:
        return (-state + total_input) / tau
    return (-state + transfer_value(code, p, total_input)) / tau


# ------------------------------------------------------------------------------ uncoupled
BLOCK = 64  # units per block: one thread runs a block's whole time loop


@njit(cache=True, parallel=True)
def run_uncoupled(step0, n_steps, dt, method, record_kind, record_every, kinds, params,
                  tparams, pulses, windows, keys, state, ou, acc, record_map, record_out,
                  fail, general_only=False):
    """Advance independent units ``n_steps`` steps from global step ``step0``.

    Parallel over blocks of ``BLOCK`` units (each thread runs whole time loops). A block of
    noise-free, pulse-free leaky-ReLU units of one form under exponential Euler takes the
    vectorised path (:func:`_lrelu_block`: units innermost, structure of arrays, SIMD); any
    other block the general per-unit path (:func:`_advance_unit`). Both perform the same
    floating-point operations in the same order, so they give the same bits.
    ``fail[u]`` gets the global step at which unit u's rate or state became non-finite; the
    block path only notices at the chunk's end (``step0 + n_steps``), so the driver reruns
    such a chunk with ``general_only=True`` to pin the step.
    """
    n_units = state.shape[0]
    n_blocks = (n_units + BLOCK - 1) // BLOCK
    for block in prange(n_blocks):
        first = block * BLOCK
        size = min(BLOCK, n_units - first)
        if not general_only and _block_is_simple(method, kinds, params, pulses, first, size):
            _lrelu_block(first, size, step0, n_steps, dt, record_kind, record_every, kinds,
                         params, tparams, windows, state, acc, record_map, record_out, fail)
        else:
            for u in range(first, first + size):
                _advance_unit(u, step0, n_steps, dt, method, record_kind, record_every,
                              kinds, params, tparams, pulses, windows, keys, state, ou, acc,
                              record_map, record_out, fail)


@njit(cache=True)
def _block_is_simple(method, kinds, params, pulses, first, size):
    if method != EXP_EULER:
        return False
    form = kinds[first, 1]
    for u in range(first, first + size):
        if kinds[u, 0] != LEAKY_RELU or kinds[u, 1] != form:
            return False
        if params[u, OU_SIGMA] > 0.0 or params[u, WHITE_SIGMA] > 0.0:
            return False
        for j in range(pulses.shape[1]):
            if not math.isinf(pulses[u, j, P_START]):
                return False
    return True


@njit(cache=True, inline="always")
def _masked_mac(sums, row, j, rate, power_r, power_i, inside):
    """``sums[row] + i sums[row + 1] += rate * power`` where ``inside``, with the operations
    numba uses for a real times a complex number (so the bits match ``_advance_unit``)."""
    re = sums[row, j] + (rate * power_r - 0.0 * power_i)
    im = sums[row + 1, j] + (rate * power_i + 0.0 * power_r)
    sums[row, j] = re if inside else sums[row, j]
    sums[row + 1, j] = im if inside else sums[row + 1, j]


# fields of the vectorised block path: read-only parameters and evolving state
(B_A, B_B, B_BASE, B_AMP, B_GAIN, B_THRESHOLD, B_ALPHA, B_RATE_MIN, B_RATE_MAX, B_BASELINE,
 B_ROT_R, B_ROT_I, B_SROT_R, B_SROT_I, B_W0, B_W1, B_HALF_R, B_HALF_I) = range(18)
N_BLOCK_PARAMS = 18
S_X, S_ZR, S_ZI, S_SR, S_SI, S_RATE, S_SUM0 = range(7)
N_BLOCK_STATE = 7


@njit(cache=True)
def _lrelu_block(first, size, step0, n_steps, dt, record_kind, record_every, kinds, params,
                 tparams, windows, state, acc, record_map, record_out, fail):
    """Exponential Euler for a block of leaky-ReLU units, units innermost (SIMD-friendly).

    Same arithmetic as :func:`_advance_unit` with ``transfer_value``: rate form
    ``x' = a x + (1 - a) clip(baseline + gain max-leak(u))``, voltage form
    ``x' = a x + (1 - a) I``; phasors are kept as real and imaginary parts and multiplied
    as numba multiplies complex numbers. Parameters and state are (field, BLOCK) arrays with
    the compile-time block size, so every access has a constant stride and the compiler can
    vectorise the unit loops; padding units (beyond ``size``) compute harmless values.
    """
    voltage = kinds[first, 1] == VOLTAGE_FORM
    n_sums = acc.shape[1]
    P = np.zeros((N_BLOCK_PARAMS, BLOCK))
    S = np.zeros((N_BLOCK_STATE, BLOCK))
    sums = np.zeros((2 * (n_sums - 1), BLOCK))  # real, imaginary parts of k = 1..K
    power = np.zeros((2, BLOCK))
    P[B_A, :] = 1.0
    P[B_ROT_R, :] = 1.0
    P[B_SROT_R, :] = 1.0
    P[B_HALF_R, :] = 1.0
    P[B_RATE_MIN, :] = -np.inf
    P[B_RATE_MAX, :] = np.inf
    for j in range(size):
        u = first + j
        tau = params[u, TAU]
        P[B_A, j] = math.exp(-dt / tau)
        P[B_B, j] = -math.expm1(-dt / tau)
        P[B_BASE, j] = params[u, I0]
        P[B_AMP, j] = params[u, SIN_AMP]
        P[B_GAIN, j] = tparams[u, 0]
        P[B_THRESHOLD, j] = tparams[u, 1]
        P[B_ALPHA, j] = tparams[u, 2]
        P[B_RATE_MIN, j] = tparams[u, 3]
        P[B_RATE_MAX, j] = tparams[u, 4]
        P[B_BASELINE, j] = tparams[u, 5]
        half = complex(math.cos(math.pi * params[u, SIN_FREQ] * dt),
                       math.sin(math.pi * params[u, SIN_FREQ] * dt))
        rotation = half * half
        stat_rotation = complex(math.cos(TWO_PI * params[u, STAT_FREQ] * dt),
                                -math.sin(TWO_PI * params[u, STAT_FREQ] * dt))
        P[B_ROT_R, j], P[B_ROT_I, j] = rotation.real, rotation.imag
        P[B_HALF_R, j], P[B_HALF_I, j] = half.real, half.imag
        P[B_SROT_R, j], P[B_SROT_I, j] = stat_rotation.real, stat_rotation.imag
        z, zs = _synced_phasors(params, u, step0, dt, rotation, stat_rotation)
        S[S_ZR, j], S[S_ZI, j], S[S_SR, j], S[S_SI, j] = z.real, z.imag, zs.real, zs.imag
        P[B_W0, j] = windows[u, 0]
        P[B_W1, j] = windows[u, 1]
        S[S_X, j] = state[u]
        S[S_SUM0, j] = acc[u, 0].real
        for k in range(1, n_sums):
            sums[2 * (k - 1), j] = acc[u, k].real
            sums[2 * (k - 1) + 1, j] = acc[u, k].imag
    records = False
    for j in range(size):
        records = records or record_map[first + j] >= 0
    for n in range(step0, step0 + n_steps):
        if n % RESYNC == 0:
            for j in range(size):
                z = _drive_phasor(params, first + j, n, dt)
                zs = _stat_phasor(params, first + j, n, dt)
                S[S_ZR, j], S[S_ZI, j], S[S_SR, j], S[S_SI, j] = (z.real, z.imag, zs.real,
                                                                  zs.imag)
        step = float(n)
        if voltage:
            for j in range(BLOCK):
                v = S[S_X, j] - P[B_THRESHOLD, j]
                r = P[B_BASELINE, j] + P[B_GAIN, j] * (v if v >= 0.0 else P[B_ALPHA, j] * v)
                r = P[B_RATE_MIN, j] if r < P[B_RATE_MIN, j] else r
                S[S_RATE, j] = P[B_RATE_MAX, j] if r > P[B_RATE_MAX, j] else r
        else:
            for j in range(BLOCK):
                S[S_RATE, j] = S[S_X, j]
        if records and n % record_every == 0:
            for j in range(size):
                column = record_map[first + j]
                if column >= 0:
                    record_out[n // record_every, column] = (
                        S[S_RATE, j] if record_kind == RECORD_RATE else S[S_X, j])
        for j in range(BLOCK):
            r = S[S_RATE, j]
            inside = step >= P[B_W0, j] and step < P[B_W1, j]
            S[S_SUM0, j] = S[S_SUM0, j] + r if inside else S[S_SUM0, j]
            if n_sums > 1:  # harmonics 1 to 3 here, in registers; k > 3 below
                sr = S[S_SR, j]
                si = S[S_SI, j]
                _masked_mac(sums, 0, j, r, sr, si, inside)
                if n_sums > 2:
                    p2r = sr * sr - si * si
                    p2i = sr * si + si * sr
                    _masked_mac(sums, 2, j, r, p2r, p2i, inside)
                    if n_sums > 3:
                        p3r = p2r * sr - p2i * si
                        p3i = p2r * si + p2i * sr
                        _masked_mac(sums, 4, j, r, p3r, p3i, inside)
            # Im(z * half): the drive at the middle of the step, as in _advance_unit
            drive = P[B_BASE, j] + P[B_AMP, j] * (S[S_ZR, j] * P[B_HALF_I, j]
                                                  + S[S_ZI, j] * P[B_HALF_R, j])
            if voltage:
                target = drive
            else:
                v = drive - P[B_THRESHOLD, j]
                target = P[B_BASELINE, j] + P[B_GAIN, j] * (v if v >= 0.0
                                                            else P[B_ALPHA, j] * v)
                target = P[B_RATE_MIN, j] if target < P[B_RATE_MIN, j] else target
                target = P[B_RATE_MAX, j] if target > P[B_RATE_MAX, j] else target
            S[S_X, j] = P[B_A, j] * S[S_X, j] + P[B_B, j] * target
            zr = S[S_ZR, j]
            zi = S[S_ZI, j]
            S[S_ZR, j] = zr * P[B_ROT_R, j] - zi * P[B_ROT_I, j]
            S[S_ZI, j] = zr * P[B_ROT_I, j] + zi * P[B_ROT_R, j]
        if n_sums > 4:  # harmonics k > 3: powers rebuilt by the same multiplications
            power_r = power[0]
            power_i = power[1]
            for j in range(BLOCK):
                power_r[j] = S[S_SR, j]
                power_i[j] = S[S_SI, j]
            for k in range(1, n_sums - 1):
                for j in range(BLOCK):
                    pr = power_r[j] * S[S_SR, j] - power_i[j] * S[S_SI, j]
                    pi_ = power_r[j] * S[S_SI, j] + power_i[j] * S[S_SR, j]
                    power_r[j] = pr
                    power_i[j] = pi_
                    if k >= 3:
                        inside = step >= P[B_W0, j] and step < P[B_W1, j]
                        _masked_mac(sums, 2 * k, j, S[S_RATE, j], pr, pi_, inside)
        for j in range(BLOCK):
            sr = S[S_SR, j]
            si = S[S_SI, j]
            S[S_SR, j] = sr * P[B_SROT_R, j] - si * P[B_SROT_I, j]
            S[S_SI, j] = sr * P[B_SROT_I, j] + si * P[B_SROT_R, j]
    for j in range(size):
        u = first + j
        if not (math.isfinite(S[S_X, j]) and math.isfinite(S[S_SUM0, j])):
            fail[u] = step0 + n_steps  # impossible for finite parameters; flagged at the
            # chunk's end rather than tested every step
        state[u] = S[S_X, j]
        acc[u, 0] = S[S_SUM0, j]
        for k in range(1, n_sums):
            acc[u, k] = complex(sums[2 * (k - 1), j], sums[2 * (k - 1) + 1, j])


@njit(cache=True, inline="never")
def _advance_unit(u, step0, n_steps, dt, method, record_kind, record_every, kinds, params,
                  tparams, pulses, windows, keys, state, ou, acc, record_map, record_out,
                  fail):
    """General path: one unit's whole time loop, any transfer, method, noise and pulses.

    Everything a step touches is a scalar local (the mean and the fundamental's running
    sums included; higher harmonics in a small local array), so the loop carries no memory
    dependency. On a non-finite rate or state, ``fail[u]`` gets the global step and the
    unit stops.
    """
    n_sums = acc.shape[1]
    has_pulses = pulses.shape[1] > 0
    code = kinds[u, 0]
    form = kinds[u, 1]
    p = tparams[u]
    tau = params[u, TAU]
    a = math.exp(-dt / tau)
    one_minus_a = -math.expm1(-dt / tau)
    base = params[u, I0]
    amp = params[u, SIN_AMP]
    ou_sigma = params[u, OU_SIGMA]
    ou_tau = params[u, OU_TAU]
    ou_a = math.exp(-dt / ou_tau) if ou_sigma > 0.0 else 0.0
    ou_b = ou_sigma * math.sqrt(-math.expm1(-2.0 * dt / ou_tau)) if ou_sigma > 0.0 else 0.0
    white = params[u, WHITE_SIGMA]
    if method == EXP_EULER:
        white_b = white * math.sqrt(-0.5 * math.expm1(-2.0 * dt / tau))
    else:
        white_b = white * math.sqrt(dt / tau)
    half = complex(math.cos(math.pi * params[u, SIN_FREQ] * dt),
                   math.sin(math.pi * params[u, SIN_FREQ] * dt))
    rotation = half * half
    stat_rotation = complex(math.cos(TWO_PI * params[u, STAT_FREQ] * dt),
                            -math.sin(TWO_PI * params[u, STAT_FREQ] * dt))
    win0 = windows[u, 0]
    win1 = windows[u, 1]
    column = record_map[u]
    key = keys[u]
    x = state[u]
    eta = ou[u]
    mean_sum = acc[u, 0].real
    first_sum = acc[u, 1]
    higher = acc[u, 2:].copy()
    z, zs = _synced_phasors(params, u, step0, dt, rotation, stat_rotation)
    for n in range(step0, step0 + n_steps):
        if n % RESYNC == 0:
            z = _drive_phasor(params, u, n, dt)
            zs = _stat_phasor(params, u, n, dt)
        rate = _rate_of(code, p, form, x)
        if not math.isfinite(rate):
            fail[u] = n
            return
        if column >= 0 and n % record_every == 0:
            record_out[n // record_every, column] = rate if record_kind == RECORD_RATE \
                else x
        if n >= win0 and n < win1:
            mean_sum += rate
            first_sum += rate * zs
            if n_sums > 2:
                power = zs
                for k in range(n_sums - 2):
                    power *= zs
                    higher[k] += rate * power
        if method == EXP_EULER:  # drive at the middle of the step
            drive = base + amp * (z * half).imag + eta
            if has_pulses:
                drive += _pulses_at(pulses, u, (n + 0.5) * dt)
            target = drive if form == VOLTAGE_FORM else transfer_value(code, p, drive)
            x = a * x + one_minus_a * target
        elif method == EULER:
            drive = base + amp * z.imag + eta
            if has_pulses:
                drive += _pulses_at(pulses, u, n * dt)
            x = x + dt * _rhs(code, p, form, tau, x, drive)
        else:
            t = n * dt
            drive = base + amp * z.imag + eta
            if has_pulses:
                drive += _pulses_at(pulses, u, t)
            z_mid = z * half
            mid = base + amp * z_mid.imag + eta
            end = base + amp * (z_mid * half).imag + eta
            if has_pulses:
                mid += _pulses_at(pulses, u, t + 0.5 * dt)
                end += _pulses_at(pulses, u, t + dt)
            k1 = _rhs(code, p, form, tau, x, drive)
            k2 = _rhs(code, p, form, tau, x + 0.5 * dt * k1, mid)
            k3 = _rhs(code, p, form, tau, x + 0.5 * dt * k2, mid)
            k4 = _rhs(code, p, form, tau, x + dt * k3, end)
            x = x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if white > 0.0:
            x += white_b * normal_at(key, n, 1)
        if ou_sigma > 0.0:
            eta = ou_a * eta + ou_b * normal_at(key, n, 0)
        if not math.isfinite(x):
            fail[u] = n + 1
            return
        z *= rotation
        zs *= stat_rotation
    state[u] = x
    ou[u] = eta
    acc[u, 0] = mean_sum
    acc[u, 1] = first_sum
    acc[u, 2:] = higher


# ------------------------------------------------------------------------------ network
@njit(cache=True)
def _couple(rates, W, indptr, indices, weights, out):
    """out[b] = W_b @ rates[b]: BLAS for dense W (shared or per batch copy), CSR otherwise."""
    n_batch = rates.shape[0]
    if indptr.shape[0] > 0:
        for b in range(n_batch):
            for i in range(rates.shape[1]):
                total = 0.0
                for j in range(indptr[i], indptr[i + 1]):
                    total += weights[j] * rates[b, indices[j]]
                out[b, i] = total
    elif W.shape[0] == 1 and n_batch >= GEMM_FROM:
        out[:, :] = np.dot(rates, W[0].T)  # one matrix-matrix product for all copies
    else:
        for b in range(n_batch):  # matrix-vector per copy: what a single run does
            out[b, :] = np.dot(W[b if W.shape[0] > 1 else 0], rates[b])


@njit(cache=True)
def _network_drive(params, pulses, ou, z, t, shift, out):
    """Drive of every unit at time t (phasors ``z * shift``), noise held, into ``out`` (B, N)."""
    n_batch, n_neurons = out.shape
    has_pulses = pulses.shape[1] > 0
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            value = params[u, I0] + params[u, SIN_AMP] * (z[u] * shift[u]).imag + ou[u]
            if has_pulses:
                value += _pulses_at(pulses, u, t)
            out[b, i] = value


@njit(cache=True)
def _network_rates(kinds, tparams, states, out):
    n_batch, n_neurons = states.shape
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            out[b, i] = _rate_of(kinds[u, 0], tparams[u], kinds[u, 1], states[b, i])


@njit(cache=True)
def _network_rhs(kinds, params, tparams, states, drive, W, indptr, indices, weights,
                 rates, coupled, out):
    """d state / dt of every unit (for Euler and RK4)."""
    _network_rates(kinds, tparams, states, rates)
    _couple(rates, W, indptr, indices, weights, coupled)
    n_batch, n_neurons = states.shape
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            out[b, i] = _rhs(kinds[u, 0], tparams[u], kinds[u, 1], params[u, TAU],
                             states[b, i], coupled[b, i] + drive[b, i])


@njit(cache=True)
def run_network(step0, n_steps, dt, method, record_kind, record_every, kinds, params,
                tparams, pulses, windows, keys, state, ou, acc, record_map, record_out, fail,
                W, indptr, indices, weights):
    """Advance coupled networks (batch copies share the neuron count N) ``n_steps`` steps.

    ``state`` is (B, N). ``W`` is (1, N, N) shared or (B, N, N) per copy, in the dtype of
    ``state``; for sparse coupling ``W`` is empty and (indptr, indices, weights) is the CSR
    matrix shared by all copies. The recurrent product runs through BLAS once per step (all
    copies in one matrix product); the element-wise update is a serial loop. On a non-finite
    state, ``fail[u]`` gets the global step and the run stops.
    """
    n_batch, n_neurons = state.shape
    n_units = n_batch * n_neurons
    dtype = state.dtype
    rates = np.empty((n_batch, n_neurons), dtype=dtype)
    coupled = np.empty((n_batch, n_neurons), dtype=dtype)
    drive = np.empty((n_batch, n_neurons))
    a = np.empty(n_units)
    one_minus_a = np.empty(n_units)
    ou_a = np.zeros(n_units)
    ou_b = np.zeros(n_units)
    white_b = np.zeros(n_units)
    rotation = np.empty(n_units, dtype=np.complex128)
    half = np.empty(n_units, dtype=np.complex128)
    ones = np.ones(n_units, dtype=np.complex128)
    stat_rotation = np.empty(n_units, dtype=np.complex128)
    z = np.empty(n_units, dtype=np.complex128)
    zs = np.empty(n_units, dtype=np.complex128)
    for u in range(n_units):
        tau = params[u, TAU]
        a[u] = math.exp(-dt / tau)
        one_minus_a[u] = -math.expm1(-dt / tau)
        if params[u, OU_SIGMA] > 0.0:
            ou_a[u] = math.exp(-dt / params[u, OU_TAU])
            ou_b[u] = params[u, OU_SIGMA] * math.sqrt(-math.expm1(-2.0 * dt / params[u, OU_TAU]))
        if method == EXP_EULER:
            white_b[u] = params[u, WHITE_SIGMA] * math.sqrt(-0.5 * math.expm1(-2.0 * dt / tau))
        else:
            white_b[u] = params[u, WHITE_SIGMA] * math.sqrt(dt / tau)
        angle = math.pi * params[u, SIN_FREQ] * dt
        half[u] = complex(math.cos(angle), math.sin(angle))
        rotation[u] = half[u] * half[u]
        stat_rotation[u] = complex(math.cos(TWO_PI * params[u, STAT_FREQ] * dt),
                                   -math.sin(TWO_PI * params[u, STAT_FREQ] * dt))
    n_rk = n_batch if method == RK4 else 0  # RK4 work arrays (empty for other methods)
    k1 = np.empty((n_rk, n_neurons))
    k2 = np.empty((n_rk, n_neurons))
    k3 = np.empty((n_rk, n_neurons))
    k4 = np.empty((n_rk, n_neurons))
    trial = np.empty((n_rk, n_neurons), dtype=dtype)
    mid = np.empty((n_rk, n_neurons))
    end = np.empty((n_rk, n_neurons))
    derivative = np.empty((n_batch if method == EULER else 0, n_neurons))
    half_sq = half * half
    for u in range(n_units):
        z[u], zs[u] = _synced_phasors(params, u, step0, dt, rotation[u], stat_rotation[u])
    for n in range(step0, step0 + n_steps):
        if n % RESYNC == 0:
            for u in range(n_units):
                z[u] = _drive_phasor(params, u, n, dt)
                zs[u] = _stat_phasor(params, u, n, dt)
        t = n * dt
        recording = n % record_every == 0
        has_pulses = pulses.shape[1] > 0
        # pass 1: rates, recording, statistics and (exponential Euler) the mid-step drive
        for b in range(n_batch):
            for i in range(n_neurons):
                u = b * n_neurons + i
                rate = _rate_of(kinds[u, 0], tparams[u], kinds[u, 1], state[b, i])
                if not math.isfinite(rate):
                    fail[u] = n
                    return
                rates[b, i] = rate
                column = record_map[u]
                if recording and column >= 0:
                    record_out[n // record_every, column] = (
                        rate if record_kind == RECORD_RATE else state[b, i])
                if n >= windows[u, 0] and n < windows[u, 1]:
                    _accumulate(acc, u, rate, zs[u])
                if method == EXP_EULER:  # drive at the middle of the step
                    value = params[u, I0] + params[u, SIN_AMP] * (z[u] * half[u]).imag + ou[u]
                    if has_pulses:
                        value += _pulses_at(pulses, u, t + 0.5 * dt)
                    drive[b, i] = value
        if method == EXP_EULER:
            _couple(rates, W, indptr, indices, weights, coupled)
            # pass 2: update, noise, phasors (same per-unit order as the other methods)
            bad = False
            for b in range(n_batch):
                for i in range(n_neurons):
                    u = b * n_neurons + i
                    total = coupled[b, i] + drive[b, i]
                    if kinds[u, 1] == RATE_FORM:
                        total = transfer_value(kinds[u, 0], tparams[u], total)
                    x = a[u] * state[b, i] + one_minus_a[u] * total
                    if white_b[u] > 0.0:
                        x += white_b[u] * normal_at(keys[u], n, 1)
                    if ou_b[u] > 0.0:
                        ou[u] = ou_a[u] * ou[u] + ou_b[u] * normal_at(keys[u], n, 0)
                    state[b, i] = x
                    if not math.isfinite(state[b, i]):
                        fail[u] = n + 1
                        bad = True
                    z[u] *= rotation[u]
                    zs[u] *= stat_rotation[u]
            if bad:
                return
            continue
        if method == EULER:
            _network_drive(params, pulses, ou, z, t, ones, drive)
            _network_rhs(kinds, params, tparams, state, drive, W, indptr, indices, weights,
                         rates, coupled, derivative)
            state[:, :] = state + dt * derivative
        else:
            _network_drive(params, pulses, ou, z, t, ones, drive)
            _network_drive(params, pulses, ou, z, t + 0.5 * dt, half, mid)
            _network_drive(params, pulses, ou, z, t + dt, half_sq, end)
            _network_rhs(kinds, params, tparams, state, drive, W, indptr, indices, weights,
                         rates, coupled, k1)
            trial[:, :] = state + 0.5 * dt * k1
            _network_rhs(kinds, params, tparams, trial, mid, W, indptr, indices, weights,
                         rates, coupled, k2)
            trial[:, :] = state + 0.5 * dt * k2
            _network_rhs(kinds, params, tparams, trial, mid, W, indptr, indices, weights,
                         rates, coupled, k3)
            trial[:, :] = state + dt * k3
            _network_rhs(kinds, params, tparams, trial, end, W, indptr, indices, weights,
                         rates, coupled, k4)
            state[:, :] = state + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        bad = False
        for b in range(n_batch):
            for i in range(n_neurons):
                u = b * n_neurons + i
                if white_b[u] > 0.0:
                    state[b, i] += white_b[u] * normal_at(keys[u], n, 1)
                if ou_b[u] > 0.0:
                    ou[u] = ou_a[u] * ou[u] + ou_b[u] * normal_at(keys[u], n, 0)
                if not math.isfinite(state[b, i]):
                    fail[u] = n + 1
                    bad = True
                z[u] *= rotation[u]
                zs[u] *= stat_rotation[u]
        if bad:
            return
