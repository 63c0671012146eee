"""SIMD tiles of leaky-ReLU units under exponential Euler: the fast paths of ``run_uncoupled``.

A tile is up to ``TILE`` units of one path and one form (and one noise kind), gathered by
:func:`neurorect.kernels.uncoupled.run_uncoupled` from anywhere in the model or the batch.
Its parameters and state live in (row, TILE) arrays with the unit innermost, so every unit
loop has a compile-time trip count and unit stride, and LLVM turns it into AVX2/AVX-512 code;
padding lanes (beyond the tile's size) compute harmless values. No lane ever reads another
lane: a unit's bits do not depend on which tile, thread or batch slot it is in.

Two tiles:

* :func:`deterministic_tile` (noise-free units that provably cannot break the runaway
  criterion, statistics frequency = drive frequency, no unit statistics): ``UNROLL`` steps
  per load and store of the tile state, one phasor for the drive and the statistics, no test
  inside the loop. The time loop is cut at events (phasor resync, recorded steps, the
  tile's window edges) into segments in which every unit accumulates, none does, or some do
  (masked); the three give the same bits.
* :func:`checked_tile` (everything else of the leaky-ReLU family: OU or white noise, unit
  statistics, runaway checks at every step, its own statistics phasor): one step per pass,
  the normals of four steps drawn for the whole tile at once
  (:func:`neurorect.kernels.random.normal_quads`).

Both compute exponential Euler with the drive at the middle of the step from the mid-step
phasor ``zm_n = exp(i (2 pi f (n + 1/2) dt + phase))``, exact at every multiple of RESYNC and
rotated between; the per-unit path computes ``z_n * exp(i pi f dt)`` instead, so the paths
agree to rounding (tested to 1e-12 relative), not to the bit. Arithmetic may be contracted
to FMA (``layout.FASTMATH``); NaN and inf keep their IEEE meaning.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from neurorect.kernels.circle import fma, rotate, turn_cos_sin
from neurorect.kernels.drive import phasor_rotations
from neurorect.kernels.layout import (
    EXP_EULER,
    FAIL_RATE,
    FAIL_STATE,
    FASTMATH,
    I0,
    M_BELOW,
    M_SHIFT,
    M_SQUARES,
    M_SUM,
    M_ZERO,
    RECORD_RATE,
    RESYNC,
    SIN_AMP,
    SIN_FREQ,
    SIN_PHASE,
    STAT_FREQ,
    STAT_PHASE,
    VOLTAGE_FORM,
)
from neurorect.kernels.random import key_schedule, normal_quads
from neurorect.kernels.step import as_state, decay_factors, note_failure, rate_fails

__all__ = ["TILE", "UNROLL", "NOISE_FREE", "NOISE_OU", "NOISE_WHITE", "deterministic_tile",
           "checked_tile"]

TILE = 128  #: units per tile (SIMD lanes x independent chains to hide FMA latency)
UNROLL = 4  #: steps per load and store of a deterministic tile's state
NOISE_FREE, NOISE_OU, NOISE_WHITE = 0, 1, 2  #: noise kind of a checked tile

# rows of a tile's parameter array P (float64, (N_ROWS, TILE))
(R_A, R_B, R_BASE, R_AMP, R_GAIN, R_THRESHOLD, R_ALPHA, R_RATE_MIN, R_RATE_MAX, R_BASELINE,
 R_ROT_R, R_ROT_I, R_SROT_R, R_SROT_I, R_OU_A, R_OU_B, R_WHITE_B, R_W0, R_W1,
 R_FOLD_SLOPE, R_FOLD_OFFSET, R_FOLD_BASELINE, R_FREQ, R_PHASE_TURNS, R_STAT_FREQ,
 R_STAT_PHASE_TURNS) = range(26)
N_ROWS = 26
# rows of a tile's work array W (float64, (N_WORK, TILE)): one allocation, so that the SIMD
# loops see few distinct arrays and constant row strides (LLVM then needs no alias checks)
W_ZR, W_ZI, W_ZSR, W_ZSI, W_ETA, W_NORMAL = range(6)  # W_NORMAL + r: the step quad's normals
(W_TAKE, W_POWER_R, W_POWER_I, W_BASE_R, W_BASE_I, W_FAIL_STEP, W_FAIL_WHAT, W_FAIL_VALUE,
 W_FAILURES, W_MOMENTS) = range(W_NORMAL + 4, W_NORMAL + 14)
N_WORK = W_MOMENTS + 5
# accumulation modes of a deterministic segment
_NONE, _ALL, _MASKED = 0, 1, 2
_KERNEL = dict(cache=True, fastmath=FASTMATH, error_model="numpy")
_TWO_PI = 2.0 * math.pi


# ------------------------------------------------------------------------- shared pieces
@njit(inline="always", **_KERNEL)
def _phi(x, P, j):
    """Leaky ReLU of lane j at input x: clip(baseline + gain max(v, alpha v)), v = x - thr
    (``max(v, alpha v)`` is the leak for 0 <= alpha <= 1; infinite clip bounds are exact)."""
    v = x - P[R_THRESHOLD, j]
    leak = P[R_ALPHA, j] * v
    rate = P[R_BASELINE, j] + P[R_GAIN, j] * (v if v > leak else leak)
    rate = P[R_RATE_MIN, j] if rate < P[R_RATE_MIN, j] else rate
    return P[R_RATE_MAX, j] if rate > P[R_RATE_MAX, j] else rate


@njit(inline="always", **_KERNEL)
def _mid_phasor(P, j, n, dt):
    """Lane j's drive phasor at the middle of step n, ``exp(i (2 pi f (n + 1/2) dt +
    phase))``, from its turns ``f (n + 1/2) dt + phase / 2 pi`` (libm-free and vectorisable:
    :func:`~neurorect.kernels.circle.turn_cos_sin`)."""
    return turn_cos_sin(fma(P[R_FREQ, j], (n + 0.5) * dt, P[R_PHASE_TURNS, j]))


@njit(inline="always", **_KERNEL)
def _stat_phasor(P, j, n, dt):
    """Lane j's statistics phasor ``exp(-i (2 pi f_stat n dt + theta))`` at step n, as
    (real, imag)."""
    c, s = turn_cos_sin(fma(P[R_STAT_FREQ, j], n * dt, P[R_STAT_PHASE_TURNS, j]))
    return c, -s


@njit(**_KERNEL)
def _synced(P, j, n, dt):
    """Lane j's phasors at step n as a run from step 0 has them: exact (the same function
    as :func:`_resync`'s) at the last multiple of RESYNC, then rotated step by step
    (chunking-invariant bits): (drive real, imag, statistics real, imag)."""
    base = n - n % RESYNC
    zr, zi = _mid_phasor(P, j, base, dt)
    sr, si = _stat_phasor(P, j, base, dt)
    cr, ci = P[R_ROT_R, j], P[R_ROT_I, j]
    scr, sci = P[R_SROT_R, j], P[R_SROT_I, j]
    for _ in range(n - base):
        zr, zi = rotate(zr, zi, cr, ci)
        sr, si = rotate(sr, si, scr, sci)
    return zr, zi, sr, si


@njit(**_KERNEL)
def _load(units, lo, size, step0, setup, evolving, P, X, W, S, statistics):
    """Fill a tile's parameters P, state X, phasors (W rows W_ZR, W_ZI: the drive's at the
    middle of the step; W_ZSR, W_ZSI: the statistics', if ``statistics``: a deterministic
    tile sums in the drive's frame and needs none) and sums S (rows: sum r, then Re, Im of
    each harmonic) for units[lo:lo + size]; W's other rows are zeroed."""
    dt, params, tparams = setup.dt, setup.params, setup.tparams
    P[:, :] = 0.0
    P[R_A, :] = 1.0
    P[R_ROT_R, :] = 1.0
    P[R_SROT_R, :] = 1.0
    P[R_RATE_MIN, :] = -np.inf
    P[R_RATE_MAX, :] = np.inf
    X[:] = 0.0
    W[:, :] = 0.0
    S[:, :] = 0.0
    for j in range(size):
        u = units[lo + j]
        a, b, ou_a, ou_b, white_b = decay_factors(params, u, dt, EXP_EULER)
        P[R_A, j], P[R_B, j] = a, b
        P[R_OU_A, j], P[R_OU_B, j], P[R_WHITE_B, j] = ou_a, ou_b, white_b
        P[R_BASE, j] = params[u, I0]
        P[R_AMP, j] = params[u, SIN_AMP]
        P[R_GAIN, j] = tparams[u, 0]
        P[R_THRESHOLD, j] = tparams[u, 1]
        P[R_ALPHA, j] = tparams[u, 2]
        P[R_RATE_MIN, j] = tparams[u, 3]
        P[R_RATE_MAX, j] = tparams[u, 4]
        P[R_BASELINE, j] = tparams[u, 5]
        _, rotation, stat_rotation = phasor_rotations(params, u, dt)
        P[R_ROT_R, j], P[R_ROT_I, j] = rotation.real, rotation.imag
        P[R_SROT_R, j], P[R_SROT_I, j] = stat_rotation.real, stat_rotation.imag
        P[R_W0, j] = setup.windows[u, 0]
        P[R_W1, j] = setup.windows[u, 1]
        # the unclipped deterministic update, folded (gain > 0 there): rate form
        # x' = a x + b baseline + max(y, alpha y), y = b gain (I0 - thr + I1 Im zm);
        # voltage form x' = a x + b I0 + b I1 Im zm
        voltage = setup.kinds[u, 1] == VOLTAGE_FORM
        scale = b if voltage else b * tparams[u, 0]
        P[R_FOLD_SLOPE, j] = scale * params[u, SIN_AMP]
        P[R_FOLD_OFFSET, j] = scale * (params[u, I0] if voltage else params[u, I0]
                                       - tparams[u, 1])
        P[R_FOLD_BASELINE, j] = b * tparams[u, 5]
        P[R_FREQ, j] = params[u, SIN_FREQ]
        P[R_PHASE_TURNS, j] = params[u, SIN_PHASE] / _TWO_PI
        P[R_STAT_FREQ, j] = params[u, STAT_FREQ]
        P[R_STAT_PHASE_TURNS, j] = params[u, STAT_PHASE] / _TWO_PI
        zr, zi, sr, si = _synced(P, j, step0, dt)
        W[W_ZR, j], W[W_ZI, j] = zr, zi
        if statistics:
            W[W_ZSR, j], W[W_ZSI, j] = sr, si
        X[j] = evolving.state[u]
        S[0, j] = evolving.acc[u, 0].real
        for k in range(1, evolving.acc.shape[1]):
            S[2 * k - 1, j] = evolving.acc[u, k].real
            S[2 * k, j] = evolving.acc[u, k].imag


@njit(**_KERNEL)
def _store(units, lo, size, evolving, X, S, conjugate):
    """Write state and sums back (``conjugate``: the sums are in the drive phasor's frame,
    ``sum r zm^k``, whose conjugate is the statistics sum)."""
    sign = -1.0 if conjugate else 1.0
    for j in range(size):
        u = units[lo + j]
        evolving.state[u] = X[j]
        evolving.acc[u, 0] = S[0, j]
        for k in range(1, evolving.acc.shape[1]):
            evolving.acc[u, k] = complex(S[2 * k - 1, j], sign * S[2 * k, j])


@njit(inline="always", **_KERNEL)
def _resync(n, dt, P, W, statistics):
    """Exact phasors at step n (a multiple of RESYNC) for every lane (padding lanes too:
    their rows are zeros): the drive's, and the statistics' if ``statistics``; a SIMD loop
    (no libm call)."""
    for j in range(TILE):
        W[W_ZR, j], W[W_ZI, j] = _mid_phasor(P, j, n, dt)
    if statistics:
        for j in range(TILE):
            W[W_ZSR, j], W[W_ZSI, j] = _stat_phasor(P, j, n, dt)


@njit(**_KERNEL)
def _record(units, size, n, P, X, voltage, recording):
    """Write the rate (or state) at step n of the tile's recorded units."""
    row = n // recording.every
    for j in range(size):
        column = recording.column[units[j]]
        if column >= 0:
            rate = _phi(X[j], P, j) if voltage else X[j]
            recording.out[row, column] = rate if recording.kind == RECORD_RATE else X[j]


@njit(**_KERNEL)
def _window_edges(P, size):
    """(min w0, max w0, min w1, max w1) over the tile's real lanes."""
    w0_min, w0_max = P[R_W0, 0], P[R_W0, 0]
    w1_min, w1_max = P[R_W1, 0], P[R_W1, 0]
    for j in range(1, size):
        w0_min, w0_max = min(w0_min, P[R_W0, j]), max(w0_max, P[R_W0, j])
        w1_min, w1_max = min(w1_min, P[R_W1, j]), max(w1_max, P[R_W1, j])
    return int(w0_min), int(w0_max), int(w1_min), int(w1_max)


@njit(**_KERNEL)
def _next_event(n, end, records, every, edges):
    """First step after n, at most ``end``, at which a tile must stop: a phasor resync, a
    recorded step, or one of its window edges."""
    stop = min(end, n - n % RESYNC + RESYNC)
    if records:
        stop = min(stop, n - n % every + every)
    for edge in edges:
        if n < edge < stop:
            stop = edge
    return stop


@njit(**_KERNEL)
def _tiles_records(units, size, recording):
    for j in range(size):
        if recording.column[units[j]] >= 0:
            return True
    return False


# ------------------------------------------------------------------- deterministic tile
@njit(inline="always", **_KERNEL)
def _det_group(P, X, W, S, H, n, steps, voltage, mode, buffered, clipped):
    """Advance every lane ``steps`` steps from n, the state in registers (inlined with
    constant ``steps``, ``voltage``, ``mode``, ``buffered`` and ``clipped``: each call site
    compiles to its own straight-line SIMD loop). ``buffered``: keep each step's (masked)
    rate and phasor in H for :func:`_harmonics_pass` instead of summing the first harmonic
    here. ``clipped`` (a class of units, never mixed in a tile): rate_min or rate_max is
    finite, so the transfer is applied as written; otherwise the update is folded into
    fewer operations (``_load``'s R_FOLD_* rows)."""
    for j in range(TILE):
        x = X[j]
        zr = W[W_ZR, j]
        zi = W[W_ZI, j]
        s0 = S[0, j]
        sr = S[1, j]
        si = S[2, j]
        a = P[R_A, j]
        cr = P[R_ROT_R, j]
        ci = P[R_ROT_I, j]
        alpha = P[R_ALPHA, j]
        slope = P[R_FOLD_SLOPE, j]
        offset = P[R_FOLD_OFFSET, j]
        for k in range(steps):
            if not voltage:
                rate = x
            elif clipped:
                rate = _phi(x, P, j)
            else:
                v = x - P[R_THRESHOLD, j]
                leak = alpha * v
                rate = P[R_BASELINE, j] + P[R_GAIN, j] * (v if v > leak else leak)
            if mode == _MASKED:
                step = n + k
                rate = rate if ((step >= P[R_W0, j]) & (step < P[R_W1, j])) else 0.0
            if mode != _NONE:
                s0 += rate
                if buffered:
                    H[0, k, j] = rate
                    H[1, k, j] = zr
                    H[2, k, j] = zi
                else:  # sum r conj(zm)^1, kept as sum r zm (conjugated at the store)
                    sr += rate * zr
                    si += rate * zi
            if clipped:
                drive = P[R_BASE, j] + P[R_AMP, j] * zi
                target = drive if voltage else _phi(drive, P, j)
                x = a * x + P[R_B, j] * target
            elif voltage:
                x = a * x + (offset + slope * zi)
            else:
                y = offset + slope * zi
                leak = alpha * y
                x = (a * x + P[R_FOLD_BASELINE, j]) + (y if y > leak else leak)
            x = as_state(x, X)
            zr, zi = rotate(zr, zi, cr, ci)
        X[j] = x
        W[W_ZR, j] = zr
        W[W_ZI, j] = zi
        S[0, j] = s0
        S[1, j] = sr
        S[2, j] = si


@njit(inline="always", **_KERNEL)
def _harmonics_pass(S, H, steps, n_harmonics):
    """Add ``sum_k r_k zm_k^h`` for h = 1..n_harmonics over the buffered steps (time order,
    powers by repeated multiplication: the same bits whatever the grouping)."""
    for k in range(steps):
        for j in range(TILE):
            H[3, k, j] = H[1, k, j]  # power zm^h, starting at h = 1
            H[4, k, j] = H[2, k, j]
    for h in range(1, n_harmonics + 1):
        for k in range(steps):
            for j in range(TILE):
                rate = H[0, k, j]
                pr = H[3, k, j]
                pi_ = H[4, k, j]
                S[2 * h - 1, j] += rate * pr
                S[2 * h, j] += rate * pi_
                zr = H[1, k, j]
                zi = H[2, k, j]
                H[3, k, j] = pr * zr - pi_ * zi
                H[4, k, j] = pr * zi + pi_ * zr


@njit(inline="always", **_KERNEL)
def _det_groups(P, X, W, S, H, n, stop, voltage, mode, clipped, n_harmonics):
    """Groups of UNROLL steps from n while they fit before ``stop``; returns the next step.
    The branches pick a specialised copy of the group loop (constant arguments)."""
    buffered = n_harmonics > 1 and mode != _NONE
    while n + UNROLL <= stop:
        if mode == _NONE:
            _det_group(P, X, W, S, H, n, UNROLL, voltage, _NONE, False, clipped)
        elif buffered:
            _det_group(P, X, W, S, H, n, UNROLL, voltage, _MASKED, True, clipped)
            _harmonics_pass(S, H, UNROLL, n_harmonics)
        elif mode == _ALL:
            _det_group(P, X, W, S, H, n, UNROLL, voltage, _ALL, False, clipped)
        else:
            _det_group(P, X, W, S, H, n, UNROLL, voltage, _MASKED, False, clipped)
        n += UNROLL
    return n


@njit(inline="always", **_KERNEL)
def _det_segment(P, X, W, S, H, n, stop, voltage, mode, clipped, n_harmonics):
    """Advance the tile from step n to ``stop`` (no event inside): groups of UNROLL, then
    the remainder one step at a time (masked: the same bits)."""
    if voltage:
        if clipped:
            n = _det_groups(P, X, W, S, H, n, stop, True, mode, True, n_harmonics)
        else:
            n = _det_groups(P, X, W, S, H, n, stop, True, mode, False, n_harmonics)
    elif clipped:
        n = _det_groups(P, X, W, S, H, n, stop, False, mode, True, n_harmonics)
    else:
        n = _det_groups(P, X, W, S, H, n, stop, False, mode, False, n_harmonics)
    buffered = n_harmonics > 1 and mode != _NONE
    while n < stop:
        if voltage:
            if clipped:
                _det_group(P, X, W, S, H, n, 1, True, _MASKED, buffered, True)
            else:
                _det_group(P, X, W, S, H, n, 1, True, _MASKED, buffered, False)
        elif clipped:
            _det_group(P, X, W, S, H, n, 1, False, _MASKED, buffered, True)
        else:
            _det_group(P, X, W, S, H, n, 1, False, _MASKED, buffered, False)
        if buffered:
            _harmonics_pass(S, H, 1, n_harmonics)
        n += 1


@njit(**_KERNEL)
def deterministic_tile(units, lo, size, step0, n_steps, setup, evolving, recording, clipped):
    """Advance the noise-free tile units[lo:lo + size] from global step ``step0``
    (``clipped``: the tile's units have a finite rate_min or rate_max).

    Such a unit's rate is bounded by its rate at the chunk's start and by the transfer over
    the drive's range, both within ``setup.max_rate`` (checked here and in ``run_uncoupled``),
    so no test runs inside the loop.
    """
    tile_units = units[lo:lo + size]
    voltage = setup.kinds[tile_units[0], 1] == VOLTAGE_FORM
    n_harmonics = evolving.acc.shape[1] - 1
    # the arrays are allocated here and every loop below is inlined, so that LLVM sees
    # their allocation (constant strides) and vectorises the unit loops
    P = np.empty((N_ROWS, TILE))
    X = np.empty(TILE, dtype=evolving.state.dtype)
    W = np.empty((N_WORK, TILE))
    S = np.empty((2 * n_harmonics + 1, TILE))
    H = np.empty((5, UNROLL, TILE))
    _load(units, lo, size, step0, setup, evolving, P, X, W, S, False)
    for j in range(size):
        S[2::2, j] = -S[2::2, j]  # into the drive frame: sum r zm^k = conj(sum r zs^k)
        rate = _phi(X[j], P, j) if voltage else X[j]
        if rate_fails(rate, setup.max_rate):
            note_failure(evolving, tile_units[j], step0, FAIL_RATE, rate)
    edges = _window_edges(P, size)
    records = _tiles_records(tile_units, size, recording)
    n, end = step0, step0 + n_steps
    while n < end:
        if n % RESYNC == 0:
            _resync(n, setup.dt, P, W, False)
        if records and n % recording.every == 0:
            _record(tile_units, size, n, P, X, voltage, recording)
        stop = _next_event(n, end, records, recording.every, edges)
        if stop <= edges[0] or n >= edges[3]:
            mode = _NONE
        elif n >= edges[1] and stop <= edges[2]:
            mode = _ALL
        else:
            mode = _MASKED
        _det_segment(P, X, W, S, H, n, stop, voltage, mode, clipped, n_harmonics)
        n = stop
    for j in range(size):
        if not math.isfinite(X[j]):  # cannot happen (bounded rate); never silent
            note_failure(evolving, tile_units[j], end, FAIL_STATE, X[j])
    _store(units, lo, size, evolving, X, S, True)


# ------------------------------------------------------------------------- checked tile
@njit(inline="always", **_KERNEL)
def _checked_step(P, X, W, S, n, voltage, stats, track, max_rate, normal_row):
    """One step of every lane: rate, runaway check, statistics (sum r, first harmonic; unit
    moments if ``stats``; ``voltage`` and ``stats`` are constants), update with noise (OU and
    white noise both applied: a unit's other factor is 0), first-failure record, phasor
    rotations; the masked rate goes to W_TAKE for the higher harmonics. Every conditional is
    a select (SIMD)."""
    for j in range(TILE):
        x = X[j]
        rate = _phi(x, P, j) if voltage else x
        rate_failing = rate_fails(rate, max_rate)
        if track:  # the first failure's step, quantity and value
            failing = (W[W_FAIL_STEP, j] < 0.0) & rate_failing
            W[W_FAIL_STEP, j] = n if failing else W[W_FAIL_STEP, j]
            W[W_FAIL_WHAT, j] = FAIL_RATE if failing else W[W_FAIL_WHAT, j]
            W[W_FAIL_VALUE, j] = rate if failing else W[W_FAIL_VALUE, j]
        inside = (n >= P[R_W0, j]) & (n < P[R_W1, j])
        take = rate if inside else 0.0
        W[W_TAKE, j] = take
        zsr = W[W_ZSR, j]
        zsi = W[W_ZSI, j]
        S[0, j] += take
        S[1, j] += take * zsr
        S[2, j] += take * zsi
        drive = P[R_BASE, j] + P[R_AMP, j] * W[W_ZI, j] + W[W_ETA, j]
        if stats:
            shift = W[W_MOMENTS + M_SHIFT, j]
            shift = rate if (inside & (shift != shift)) else shift
            W[W_MOMENTS + M_SHIFT, j] = shift
            deviation = rate - shift if inside else 0.0
            W[W_MOMENTS + M_SUM, j] += deviation
            W[W_MOMENTS + M_SQUARES, j] += deviation * deviation
            below = (x if voltage else drive) < P[R_THRESHOLD, j]
            W[W_MOMENTS + M_BELOW, j] += 1.0 if (inside & below) else 0.0
            W[W_MOMENTS + M_ZERO, j] += 1.0 if (inside & (rate == 0.0)) else 0.0
        target = drive if voltage else _phi(drive, P, j)
        normal = W[normal_row, j]
        x = as_state(P[R_A, j] * x + P[R_B, j] * target + P[R_WHITE_B, j] * normal, X)
        W[W_ETA, j] = P[R_OU_A, j] * W[W_ETA, j] + P[R_OU_B, j] * normal
        X[j] = x
        state_failing = not math.isfinite(x)
        if track:
            broken = (W[W_FAIL_STEP, j] < 0.0) & state_failing
            W[W_FAIL_STEP, j] = n + 1 if broken else W[W_FAIL_STEP, j]
            W[W_FAIL_WHAT, j] = FAIL_STATE if broken else W[W_FAIL_WHAT, j]
            W[W_FAIL_VALUE, j] = x if broken else W[W_FAIL_VALUE, j]
        else:  # only count: a plain add, no conditional store in the SIMD loop
            W[W_FAILURES, j] += 1.0 if (rate_failing | state_failing) else 0.0
        zr = W[W_ZR, j]
        zi = W[W_ZI, j]
        W[W_ZR, j], W[W_ZI, j] = rotate(zr, zi, P[R_ROT_R, j], P[R_ROT_I, j])
        W[W_ZSR, j], W[W_ZSI, j] = rotate(zsr, zsi, P[R_SROT_R, j], P[R_SROT_I, j])


@njit(inline="always", **_KERNEL)
def _checked_dispatch(P, X, W, S, n, voltage, stats, track, max_rate, normal_row):
    """:func:`_checked_step` with constant flags: one specialised SIMD loop each."""
    if track:
        if stats:
            if voltage:
                _checked_step(P, X, W, S, n, True, True, True, max_rate, normal_row)
            else:
                _checked_step(P, X, W, S, n, False, True, True, max_rate, normal_row)
        elif voltage:
            _checked_step(P, X, W, S, n, True, False, True, max_rate, normal_row)
        else:
            _checked_step(P, X, W, S, n, False, False, True, max_rate, normal_row)
    elif stats:
        if voltage:
            _checked_step(P, X, W, S, n, True, True, False, max_rate, normal_row)
        else:
            _checked_step(P, X, W, S, n, False, True, False, max_rate, normal_row)
    elif voltage:
        _checked_step(P, X, W, S, n, True, False, False, max_rate, normal_row)
    else:
        _checked_step(P, X, W, S, n, False, False, False, max_rate, normal_row)


@njit(inline="always", **_KERNEL)
def _checked_harmonics(S, W, n_harmonics):
    """Harmonics 2..K of one step: ``sum r zs^h``, the powers by repeated multiplication of
    the step's statistics phasor zs (saved in W_BASE_* before the step's rotation)."""
    for j in range(TILE):
        W[W_POWER_R, j] = W[W_BASE_R, j]
        W[W_POWER_I, j] = W[W_BASE_I, j]
    for h in range(2, n_harmonics + 1):
        for j in range(TILE):
            zr = W[W_BASE_R, j]
            zi = W[W_BASE_I, j]
            pr = W[W_POWER_R, j]
            pi_ = W[W_POWER_I, j]
            pr, pi_ = pr * zr - pi_ * zi, pr * zi + pi_ * zr
            W[W_POWER_R, j] = pr
            W[W_POWER_I, j] = pi_
            S[2 * h - 1, j] += W[W_TAKE, j] * pr
            S[2 * h, j] += W[W_TAKE, j] * pi_


@njit(inline="always", **_KERNEL)
def _checked_loop(tile_units, size, step0, end, setup, recording, P, X, W, S, SCHEDULE,
                  voltage, noise, stats, track):
    """The checked tile's time loop: events, normals of each step quad, the step (``track``:
    record the first failure of each lane, else only count failures)."""
    n_harmonics = S.shape[0] // 2
    channel = 1 if noise == NOISE_WHITE else 0
    records = _tiles_records(tile_units, size, recording)
    for n in range(step0, end):
        if n % RESYNC == 0:
            _resync(n, setup.dt, P, W, True)
        if records and n % recording.every == 0:
            _record(tile_units, size, n, P, X, voltage, recording)
        if noise != NOISE_FREE and (n % 4 == 0 or n == step0):
            normal_quads(SCHEDULE, n >> 2, channel, W, W_NORMAL)
        if n_harmonics > 1:
            W[W_BASE_R, :] = W[W_ZSR, :]
            W[W_BASE_I, :] = W[W_ZSI, :]
        _checked_dispatch(P, X, W, S, n, voltage, stats, track, setup.max_rate,
                          W_NORMAL + n % 4)
        if n_harmonics > 1:
            _checked_harmonics(S, W, n_harmonics)


@njit(**_KERNEL)
def checked_tile(units, lo, size, step0, n_steps, setup, evolving, recording, noise):
    """Advance the tile units[lo:lo + size] (noise kind ``noise``) from global step ``step0``
    with a runaway check at every step and, if ``evolving.moments`` has columns, the unit
    statistics. The loop only counts failures; a tile that had any reruns its chunk from
    the saved start, recording each lane's first failure (step, quantity, value) exactly."""
    tile_units = units[lo:lo + size]
    voltage = setup.kinds[tile_units[0], 1] == VOLTAGE_FORM
    n_moments = evolving.moments.shape[1]
    # allocated here, every loop inlined: see deterministic_tile
    P = np.empty((N_ROWS, TILE))
    X = np.empty(TILE, dtype=evolving.state.dtype)
    W = np.empty((N_WORK, TILE))
    S = np.empty((2 * (evolving.acc.shape[1] - 1) + 1, TILE))
    KEYS = np.zeros(TILE, dtype=np.uint64)
    SCHEDULE = np.empty((20, TILE), dtype=np.uint64)  # Philox round keys of each lane
    _load(units, lo, size, step0, setup, evolving, P, X, W, S, True)
    W[W_FAIL_STEP, :] = -1.0
    W[W_MOMENTS + M_SHIFT, :] = np.nan
    for j in range(size):
        u = tile_units[j]
        W[W_ETA, j] = evolving.ou[u]
        KEYS[j] = setup.keys[u]
        for c in range(n_moments):
            W[W_MOMENTS + c, j] = evolving.moments[u, c]
    key_schedule(KEYS, SCHEDULE)
    X_start, W_start, S_start = X.copy(), W.copy(), S.copy()
    _checked_loop(tile_units, size, step0, step0 + n_steps, setup, recording, P, X, W, S,
                  SCHEDULE, voltage, noise, n_moments > 0, False)
    if np.any(W[W_FAILURES] > 0.0):  # rerun the chunk (same bits) recording each failure
        X[:] = X_start
        W[:, :] = W_start
        S[:, :] = S_start
        _checked_loop(tile_units, size, step0, step0 + n_steps, setup, recording, P, X, W,
                      S, SCHEDULE, voltage, noise, n_moments > 0, True)
    for j in range(size):
        u = tile_units[j]
        if W[W_FAIL_STEP, j] >= 0.0:
            note_failure(evolving, u, int(W[W_FAIL_STEP, j]), int(W[W_FAIL_WHAT, j]),
                         W[W_FAIL_VALUE, j])
        evolving.ou[u] = W[W_ETA, j]
        for c in range(n_moments):
            evolving.moments[u, c] = W[W_MOMENTS + c, j]
    _store(units, lo, size, evolving, X, S, False)
