"""Independent units: :func:`run_uncoupled`, its vectorised block path and per-unit path.

Parallel over blocks of ``BLOCK`` units (each thread runs a block's whole time loop). A block
of noise-free, pulse-free leaky-ReLU units of one form under exponential Euler takes the
vectorised path (:func:`_lrelu_block`: units innermost, structure of arrays, SIMD); any other
block the general per-unit path (:func:`_advance_unit`). Both perform the same floating-point
operations in the same order, so they give the same bits.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from neurorect.kernels.drive import (
    drive_phasor,
    phasor_rotations,
    pulses_at,
    stat_phasor,
    synced_phasors,
)
from neurorect.kernels.layout import (
    EULER,
    EXP_EULER,
    FAIL_RATE,
    FAIL_STATE,
    I0,
    LEAKY_RELU,
    OU_SIGMA,
    P_START,
    RECORD_RATE,
    RESYNC,
    SIN_AMP,
    TAU,
    VOLTAGE_FORM,
    WHITE_SIGMA,
)
from neurorect.kernels.random import normal_at
from neurorect.kernels.step import (
    add_moments,
    decay_factors,
    note_failure,
    rate_fails,
    rate_of,
    rhs,
)
from neurorect.kernels.transfer import transfer_value

__all__ = ["run_uncoupled"]

BLOCK = 64  # units per block: one thread runs a block's whole time loop


@njit(cache=True, parallel=True)
def run_uncoupled(step0, n_steps, setup, evolving, recording, general_only=False):
    """Advance independent units ``n_steps`` steps from global step ``step0``.

    ``setup``, ``evolving`` and ``recording`` are the groups of
    :mod:`neurorect.kernels.layout` (``evolving.state`` of shape (U,)). ``evolving.fail[u]``
    gets the global step at which unit u's rate or state became non-finite; the block path
    only notices at the chunk's end (``step0 + n_steps``), so the driver reruns such a chunk
    with ``general_only=True`` to pin the step.
    """
    n_units = evolving.state.shape[0]
    n_blocks = (n_units + BLOCK - 1) // BLOCK
    for block in prange(n_blocks):
        first = block * BLOCK
        size = min(BLOCK, n_units - first)
        simple = evolving.moments.shape[1] == 0 and _block_is_simple(setup, evolving, first,
                                                                      size)
        if not general_only and simple:
            _lrelu_block(first, size, step0, n_steps, setup, evolving, recording)
        else:
            for u in range(first, first + size):
                _advance_unit(u, step0, n_steps, setup, evolving, recording)


@njit(cache=True)
def _rate_bound(setup, u, state):
    """Bound on |rate| of a noise-free, pulse-free leaky-ReLU unit under exponential Euler.

    The drive stays in ``[I0 - |I1|, I0 + |I1|]`` and each update is a convex combination
    (``a + (1 - a) = 1``), so the state stays in the hull of its start and of the drive
    range (voltage form) or of phi over it (rate form); phi is piecewise linear and clipped,
    so |rate| peaks at the ends or at the kink. A margin of 1e-6 covers rounding.
    """
    params, p = setup.params, setup.tparams[u]
    low = params[u, I0] - abs(params[u, SIN_AMP])
    high = params[u, I0] + abs(params[u, SIN_AMP])
    if setup.kinds[u, 1] == VOLTAGE_FORM:
        low, high = min(low, state), max(high, state)
    bound = max(abs(transfer_value(LEAKY_RELU, p, low)), abs(transfer_value(LEAKY_RELU, p, high)))
    if low < p[1] < high:
        bound = max(bound, abs(transfer_value(LEAKY_RELU, p, p[1])))
    if setup.kinds[u, 1] != VOLTAGE_FORM:
        bound = max(bound, abs(state))
    return bound * (1.0 + 1e-6)


@njit(cache=True)
def _block_is_simple(setup, evolving, first, size):
    """Whether the block's units can take the vectorised leaky-ReLU path: noise-free,
    pulse-free leaky-ReLU units that cannot break the runaway criterion."""
    if setup.method != EXP_EULER:
        return False
    kinds, params, pulses = setup.kinds, setup.params, setup.pulses
    form = kinds[first, 1]
    for u in range(first, first + size):
        if kinds[u, 0] != LEAKY_RELU or kinds[u, 1] != form:
            return False
        if params[u, OU_SIGMA] > 0.0 or params[u, WHITE_SIGMA] > 0.0:
            return False
        for j in range(pulses.shape[1]):
            if not math.isinf(pulses[u, j, P_START]):
                return False
        if not _rate_bound(setup, u, evolving.state[u]) <= setup.max_rate:
            return False
    return True


# ------------------------------------------------------------------------------ block path
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


@njit(cache=True, inline="always")
def _load_block(first, size, step0, setup, evolving):
    """The block's (field, BLOCK) arrays: parameters P, state S and the harmonic sums.

    Inlined into :func:`_lrelu_block`, so that the compiler sees the arrays' allocation
    (constant row strides, no aliasing); padding units get a = 1 and zero input.
    """
    dt, params, tparams, windows = setup.dt, setup.params, setup.tparams, setup.windows
    acc = evolving.acc
    n_sums = acc.shape[1]
    P = np.zeros((N_BLOCK_PARAMS, BLOCK))
    S = np.zeros((N_BLOCK_STATE, BLOCK))
    sums = np.zeros((2 * (n_sums - 1), BLOCK))  # real, imaginary parts of k = 1..K
    P[B_A, :] = 1.0
    P[B_ROT_R, :] = 1.0
    P[B_SROT_R, :] = 1.0
    P[B_HALF_R, :] = 1.0
    P[B_RATE_MIN, :] = -np.inf
    P[B_RATE_MAX, :] = np.inf
    for j in range(size):
        u = first + j
        P[B_A, j], P[B_B, j], _, _, _ = decay_factors(params, u, dt, EXP_EULER)
        P[B_BASE, j] = params[u, I0]
        P[B_AMP, j] = params[u, SIN_AMP]
        P[B_GAIN, j] = tparams[u, 0]
        P[B_THRESHOLD, j] = tparams[u, 1]
        P[B_ALPHA, j] = tparams[u, 2]
        P[B_RATE_MIN, j] = tparams[u, 3]
        P[B_RATE_MAX, j] = tparams[u, 4]
        P[B_BASELINE, j] = tparams[u, 5]
        half, rotation, stat_rotation = phasor_rotations(params, u, dt)
        P[B_ROT_R, j], P[B_ROT_I, j] = rotation.real, rotation.imag
        P[B_HALF_R, j], P[B_HALF_I, j] = half.real, half.imag
        P[B_SROT_R, j], P[B_SROT_I, j] = stat_rotation.real, stat_rotation.imag
        z, zs = synced_phasors(params, u, step0, dt, rotation, stat_rotation)
        S[S_ZR, j], S[S_ZI, j], S[S_SR, j], S[S_SI, j] = z.real, z.imag, zs.real, zs.imag
        P[B_W0, j] = windows[u, 0]
        P[B_W1, j] = windows[u, 1]
        S[S_X, j] = evolving.state[u]
        S[S_SUM0, j] = acc[u, 0].real
        for k in range(1, n_sums):
            sums[2 * (k - 1), j] = acc[u, k].real
            sums[2 * (k - 1) + 1, j] = acc[u, k].imag
    return P, S, sums


@njit(cache=True, inline="always")
def _store_block(first, size, step_end, S, sums, evolving, max_rate):
    """Write the block's state and sums back; flag non-finite units, and units whose state
    breaks the runaway criterion, at ``step_end`` (the driver reruns the chunk to pin it)."""
    acc = evolving.acc
    for j in range(size):
        u = first + j
        if not (math.isfinite(S[S_X, j]) and math.isfinite(S[S_SUM0, j])) or rate_fails(
                S[S_X, j], max_rate):
            evolving.fail[u] = step_end  # impossible for finite parameters; flagged at the
            # chunk's end rather than tested every step
        evolving.state[u] = S[S_X, j]
        acc[u, 0] = S[S_SUM0, j]
        for k in range(1, acc.shape[1]):
            acc[u, k] = complex(sums[2 * (k - 1), j], sums[2 * (k - 1) + 1, j])


@njit(cache=True)
def _lrelu_block(first, size, step0, n_steps, setup, evolving, recording):
    """Exponential Euler for a block of leaky-ReLU units, units innermost (SIMD-friendly).

    Same arithmetic as :func:`_advance_unit` with ``transfer_value``: rate form
    ``x' = a x + (1 - a) clip(baseline + gain max-leak(u))``, voltage form
    ``x' = a x + (1 - a) I``; phasors are kept as real and imaginary parts and multiplied
    as numba multiplies complex numbers. Parameters and state are (field, BLOCK) arrays with
    the compile-time block size, so every access has a constant stride and the compiler can
    vectorise the unit loops; padding units (beyond ``size``) compute harmless values.
    """
    # One function for the whole time loop: the unit loops inside it are what the compiler
    # vectorises, and a call per step or per harmonic would cost more than the step itself.
    dt, params = setup.dt, setup.params
    record_column, record_out, record_every = recording.column, recording.out, recording.every
    record_rate = recording.kind == RECORD_RATE
    voltage = setup.kinds[first, 1] == VOLTAGE_FORM
    n_sums = evolving.acc.shape[1]
    P, S, sums = _load_block(first, size, step0, setup, evolving)
    power = np.zeros((2, BLOCK))
    records = False
    for j in range(size):
        records = records or record_column[first + j] >= 0
    for n in range(step0, step0 + n_steps):
        if n % RESYNC == 0:
            for j in range(size):
                z = drive_phasor(params, first + j, n, dt)
                zs = stat_phasor(params, first + j, n, dt)
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
                column = record_column[first + j]
                if column >= 0:
                    record_out[n // record_every, column] = (
                        S[S_RATE, j] if record_rate else S[S_X, j])
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
    _store_block(first, size, step0 + n_steps, S, sums, evolving, setup.max_rate)


# ------------------------------------------------------------------------------ per unit
@njit(cache=True, inline="never")
def _advance_unit(u, step0, n_steps, setup, evolving, recording):
    """General path: one unit's whole time loop, any transfer, method, noise and pulses.

    Everything a step touches is a scalar local (the mean and the fundamental's running
    sums included; higher harmonics in a small local array), so the loop carries no memory
    dependency. At a rate breaking the runaway criterion (``rate_fails``) or a non-finite
    state, the failure is noted (``note_failure``: step, quantity, value) and the unit stops.
    """
    # One function for the whole time loop, so that its state stays in registers; the
    # methods' branches are loop-invariant and cost nothing per step.
    dt, method, params, pulses = setup.dt, setup.method, setup.params, setup.pulses
    acc = evolving.acc
    record_out, record_every = recording.out, recording.every
    record_rate = recording.kind == RECORD_RATE
    n_sums = acc.shape[1]
    has_pulses = pulses.shape[1] > 0
    code = setup.kinds[u, 0]
    form = setup.kinds[u, 1]
    p = setup.tparams[u]
    tau = params[u, TAU]
    a, one_minus_a, ou_a, ou_b, white_b = decay_factors(params, u, dt, method)
    base = params[u, I0]
    amp = params[u, SIN_AMP]
    ou_sigma = params[u, OU_SIGMA]
    white = params[u, WHITE_SIGMA]
    half, rotation, stat_rotation = phasor_rotations(params, u, dt)
    win0 = setup.windows[u, 0]
    win1 = setup.windows[u, 1]
    column = recording.column[u]
    key = setup.keys[u]
    max_rate = setup.max_rate
    moments = evolving.moments
    stats = moments.shape[1] > 0
    x = evolving.state[u]
    eta = evolving.ou[u]
    mean_sum = acc[u, 0].real
    first_sum = acc[u, 1]
    higher = acc[u, 2:].copy()
    z, zs = synced_phasors(params, u, step0, dt, rotation, stat_rotation)
    for n in range(step0, step0 + n_steps):
        if n % RESYNC == 0:
            z = drive_phasor(params, u, n, dt)
            zs = stat_phasor(params, u, n, dt)
        rate = rate_of(code, p, form, x)
        if rate_fails(rate, max_rate):
            note_failure(evolving, u, n, FAIL_RATE, rate)
            return
        if column >= 0 and n % record_every == 0:
            record_out[n // record_every, column] = rate if record_rate else x
        inside = n >= win0 and n < win1
        if inside:
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
                drive += pulses_at(pulses, u, (n + 0.5) * dt)
            if inside and stats:
                add_moments(moments, u, rate, (x if form == VOLTAGE_FORM else drive) < p[1])
            target = drive if form == VOLTAGE_FORM else transfer_value(code, p, drive)
            x = a * x + one_minus_a * target
        elif method == EULER:
            drive = base + amp * z.imag + eta
            if has_pulses:
                drive += pulses_at(pulses, u, n * dt)
            if inside and stats:
                add_moments(moments, u, rate, (x if form == VOLTAGE_FORM else drive) < p[1])
            x = x + dt * rhs(code, p, form, tau, x, drive)
        else:
            t = n * dt
            drive = base + amp * z.imag + eta
            if has_pulses:
                drive += pulses_at(pulses, u, t)
            if inside and stats:
                add_moments(moments, u, rate, (x if form == VOLTAGE_FORM else drive) < p[1])
            z_mid = z * half
            mid = base + amp * z_mid.imag + eta
            end = base + amp * (z_mid * half).imag + eta
            if has_pulses:
                mid += pulses_at(pulses, u, t + 0.5 * dt)
                end += pulses_at(pulses, u, t + dt)
            k1 = rhs(code, p, form, tau, x, drive)
            k2 = rhs(code, p, form, tau, x + 0.5 * dt * k1, mid)
            k3 = rhs(code, p, form, tau, x + 0.5 * dt * k2, mid)
            k4 = rhs(code, p, form, tau, x + dt * k3, end)
            x = x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if white > 0.0:
            x += white_b * normal_at(key, n, 1)
        if ou_sigma > 0.0:
            eta = ou_a * eta + ou_b * normal_at(key, n, 0)
        if not math.isfinite(x):
            note_failure(evolving, u, n + 1, FAIL_STATE, x)
            return
        z *= rotation
        zs *= stat_rotation
    evolving.state[u] = x
    evolving.ou[u] = eta
    acc[u, 0] = mean_sum
    acc[u, 1] = first_sum
    acc[u, 2:] = higher
