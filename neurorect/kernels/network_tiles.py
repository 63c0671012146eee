"""The vectorised element-wise path of the network kernel: :func:`run_network_fast`.

When every unit of a network run is a leaky ReLU (rate or voltage form, any parameters)
under EXP_EULER or EXP_AB2 and no unit has steps or pulses (:func:`fast_eligible`),
:func:`neurorect.kernels.network.run_network` takes this path. Its time loop is the per-unit
path's (:func:`neurorect.kernels.network.run_network_general`, the reference), with each
per-step pass over the units written as a loop that LLVM vectorises, as the uncoupled
tiles do (:mod:`neurorect.kernels.tiles`):

* the per-unit constants are gathered once per call into the rows of one float64 array
  ``P`` (struct of arrays, the unit innermost with unit stride): no transfer dispatch, no
  reference counting per unit;
* the phasors and the Fourier sums are separate real and imaginary rows (``Z``, ``S``),
  loaded from and stored back to ``Evolving.acc`` once per call;
* branches are selects; a failure is counted by a reduction in the pass, and only then
  located by a scalar pass, so it is noted at exactly the step and unit the per-unit path
  notes it;
* the normals of four steps are drawn for all units at once
  (:func:`neurorect.kernels.random.normal_quads`: the same bits as ``normal_at``).

No fastmath flag, not even FMA contraction: every pass performs the per-unit path's
floating-point operations in the same order (numba's complex product written out as
``(a c - b d, a d + b c)``, a real times a complex as ``(r c - 0 d, r d + 0 c)``), so the
two paths give the same bits (tested), and which one runs never changes a number.
Vectorising an element-wise loop does not reassociate anything.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from neurorect.kernels.channels import (
    channel_products,
    combine_channels,
    copy_rows,
    fill_ring,
    start_extrapolation,
    start_history,
)
from neurorect.kernels.drive import phasor_rotations, synced_phasors
from neurorect.kernels.layout import (
    CH_COLS,
    EXP_AB2,
    EXP_EULER,
    FAIL_RATE,
    FAIL_STATE,
    I0,
    LEAKY_RELU,
    RECORD_RATE,
    RESYNC,
    SIN_AMP,
    VOLTAGE_FORM,
)
from neurorect.kernels.random import key_schedule, normal_quads
from neurorect.kernels.step import add_moments, decay_factors, note_failure, rate_fails

__all__ = ["fast_eligible", "run_network_fast"]

# rows of the per-unit constants P (float64, (N_ROWS, U))
(R_A, R_B, R_OU_A, R_OU_B, R_WHITE_B, R_I0, R_AMP, R_GAIN, R_THRESHOLD, R_ALPHA, R_RATE_MIN,
 R_RATE_MAX, R_BASELINE, R_VOLTAGE, R_HALF_R, R_HALF_I, R_ROT_R, R_ROT_I, R_SROT_R, R_SROT_I,
 R_W0, R_W1) = range(22)
N_ROWS = 22
# rows of the work array Z (float64, (N_WORK, U)): drive and statistics phasors, the step's
# rate in float64
Z_R, Z_I, Z_SR, Z_SI, Z_RATE = range(5)
N_WORK = 5
_KERNEL = dict(cache=True, error_model="numpy")  # numpy's: no zero-division branch in loops
_OU, _WHITE = np.uint64(0), np.uint64(1)  # noise channels (uint64: not literal arguments)


@njit(**_KERNEL)
def fast_eligible(setup):
    """Whether a network run can take the vectorised path: EXP_EULER or EXP_AB2, no steps
    or pulses, every unit a leaky ReLU."""
    if setup.method != EXP_EULER and setup.method != EXP_AB2:
        return False
    if setup.pulses.shape[1] > 0:
        return False
    for u in range(setup.kinds.shape[0]):
        if setup.kinds[u, 0] != LEAKY_RELU:
            return False
    return True


@njit(inline="always", **_KERNEL)
def _phi(P, u, x):
    """Leaky ReLU of unit u at input x: ``transfer.transfer_value``'s LEAKY_RELU branch,
    operation for operation."""
    v = x - P[R_THRESHOLD, u]
    rate = P[R_BASELINE, u] + P[R_GAIN, u] * (v if v >= 0.0 else P[R_ALPHA, u] * v)
    rate = P[R_RATE_MIN, u] if rate < P[R_RATE_MIN, u] else rate
    return P[R_RATE_MAX, u] if rate > P[R_RATE_MAX, u] else rate


@njit(**_KERNEL)
def _constants(setup, n_units):
    """The per-unit constants P of a call (see the R_* rows)."""
    method = EXP_EULER  # EXP_AB2 takes exponential Euler's exact white-noise increment
    params, tparams = setup.params, setup.tparams
    P = np.empty((N_ROWS, n_units))
    for u in range(n_units):
        P[R_A, u], P[R_B, u], P[R_OU_A, u], P[R_OU_B, u], P[R_WHITE_B, u] = decay_factors(
            params, u, setup.dt, method)
        P[R_I0, u], P[R_AMP, u] = params[u, I0], params[u, SIN_AMP]
        P[R_GAIN, u], P[R_THRESHOLD, u], P[R_ALPHA, u] = tparams[u, 0], tparams[u, 1], tparams[u, 2]
        P[R_RATE_MIN, u], P[R_RATE_MAX, u] = tparams[u, 3], tparams[u, 4]
        P[R_BASELINE, u] = tparams[u, 5]
        P[R_VOLTAGE, u] = 1.0 if setup.kinds[u, 1] == VOLTAGE_FORM else 0.0
        half, rotation, stat_rotation = phasor_rotations(params, u, setup.dt)
        P[R_HALF_R, u], P[R_HALF_I, u] = half.real, half.imag
        P[R_ROT_R, u], P[R_ROT_I, u] = rotation.real, rotation.imag
        P[R_SROT_R, u], P[R_SROT_I, u] = stat_rotation.real, stat_rotation.imag
        P[R_W0, u], P[R_W1, u] = setup.windows[u, 0], setup.windows[u, 1]
    return P


@njit(**_KERNEL)
def _phasors(setup, P, Z, n):
    """Drive and statistics phasors of step n into Z as a run from step 0 has them
    (``drive.synced_phasors``: exact at a multiple of RESYNC, rotated since)."""
    params, dt = setup.params, setup.dt
    for u in range(P.shape[1]):
        z, zs = synced_phasors(params, u, n, dt, complex(P[R_ROT_R, u], P[R_ROT_I, u]),
                               complex(P[R_SROT_R, u], P[R_SROT_I, u]))
        Z[Z_R, u], Z[Z_I, u], Z[Z_SR, u], Z[Z_SI, u] = z.real, z.imag, zs.real, zs.imag


@njit(**_KERNEL)
def _load_sums(acc):
    """The running sums of ``acc`` (U, K + 1) as rows: sum r, then Re and Im per harmonic."""
    n_units, n_k = acc.shape
    S = np.empty((2 * n_k - 1, n_units))
    for u in range(n_units):
        S[0, u] = acc[u, 0].real
        for k in range(1, n_k):
            S[2 * k - 1, u], S[2 * k, u] = acc[u, k].real, acc[u, k].imag
    return S


@njit(**_KERNEL)
def _store_sums(S, acc):
    """Write the rows back (sum r's imaginary part, always 0, is left as it is)."""
    for u in range(acc.shape[0]):
        acc[u, 0] = complex(S[0, u], acc[u, 0].imag)
        for k in range(1, acc.shape[1]):
            acc[u, k] = complex(S[2 * k - 1, u], S[2 * k, u])


@njit(**_KERNEL)
def _rates_pass(P, Z, state, rates, max_rate):
    """The rate of every unit (Z_RATE in float64, ``rates`` in the state's dtype); returns
    how many break the runaway criterion."""
    failures = 0
    for u in range(P.shape[1]):
        x = np.float64(state[u])
        rate = _phi(P, u, x) if P[R_VOLTAGE, u] != 0.0 else x
        Z[Z_RATE, u] = rate
        rates[u] = rate
        failures += 0 if abs(rate) <= max_rate else 1
    return failures


@njit(**_KERNEL)
def _first_rate_failure(n, P, Z, evolving, max_rate):
    """Note the first unit whose rate fails at step n (the per-unit path stops there)."""
    for u in range(P.shape[1]):
        if rate_fails(Z[Z_RATE, u], max_rate):
            note_failure(evolving, u, n, FAIL_RATE, Z[Z_RATE, u])
            return


@njit(inline="always", **_KERNEL)
def _project(n, P, Z, S, n_k, masked):
    """Add every unit's rate and its projections ``r zs^k``, k = 1..n_k, to the sums; only
    for the units whose window holds step n if ``masked``. Inlined with constant ``n_k`` and
    ``masked``, the harmonics' loop unrolls, the powers stay in registers and the unit loop
    vectorises (numba's real-times-complex ``(r c - 0 d, r d + 0 c)`` and complex product
    written out: the per-unit path's bits)."""
    for u in range(P.shape[1]):
        take = ((n >= P[R_W0, u]) & (n < P[R_W1, u])) if masked else True
        rate = Z[Z_RATE, u]
        S[0, u] = S[0, u] + rate if take else S[0, u]
        cr, ci = Z[Z_SR, u], Z[Z_SI, u]
        pr, pi = cr, ci
        for k in range(1, n_k + 1):
            real = S[2 * k - 1, u] + (rate * pr - 0.0 * pi)
            imag = S[2 * k, u] + (rate * pi + 0.0 * pr)
            S[2 * k - 1, u] = real if take else S[2 * k - 1, u]
            S[2 * k, u] = imag if take else S[2 * k, u]
            pr, pi = pr * cr - pi * ci, pr * ci + pi * cr


@njit(**_KERNEL)
def _accumulate(n, P, Z, S, masked):
    """The statistics of step n (:func:`_project`): the common harmonic counts unrolled
    (measured, 1000 units, 3 harmonics: 1.6 us per step against 5.3 with the powers in
    memory); ``masked`` (the steps at which the units' windows differ) and other counts
    by the generic loop."""
    n_k = (S.shape[0] - 1) // 2
    if masked:
        _project(n, P, Z, S, n_k, True)
    elif n_k == 1:
        _project(n, P, Z, S, 1, False)
    elif n_k == 2:
        _project(n, P, Z, S, 2, False)
    elif n_k == 3:
        _project(n, P, Z, S, 3, False)
    elif n_k == 4:
        _project(n, P, Z, S, 4, False)
    else:
        _project(n, P, Z, S, n_k, False)


@njit(**_KERNEL)
def _drive_pass(P, Z, ou, drive):
    """The drive at the middle of the step: ``I0 + I1 Im(z half) + eta``."""
    for u in range(P.shape[1]):
        imag = Z[Z_R, u] * P[R_HALF_I, u] + Z[Z_I, u] * P[R_HALF_R, u]
        drive[u] = P[R_I0, u] + P[R_AMP, u] * imag + ou[u]


@njit(**_KERNEL)
def _update_pass(P, normals, row, state, coupled, drive, ou):
    """The exponential step of every unit with the input ``coupled + drive``, white noise
    and the OU update (``normals[row]``: OU, ``normals[4 + row]``: white, this step's);
    returns how many stored states are non-finite. (With the phasors' rotation in the same
    loop, LLVM needed too many run-time alias checks and left the loop scalar.)"""
    failures = 0
    for u in range(P.shape[1]):
        total = coupled[u] + drive[u]
        target = total if P[R_VOLTAGE, u] != 0.0 else _phi(P, u, total)
        x = P[R_A, u] * state[u] + P[R_B, u] * target
        white_b, ou_b = P[R_WHITE_B, u], P[R_OU_B, u]
        x = x + white_b * normals[4 + row, u] if white_b > 0.0 else x
        eta = ou[u]
        ou[u] = P[R_OU_A, u] * eta + ou_b * normals[row, u] if ou_b > 0.0 else eta
        state[u] = x
        failures += 0 if math.isfinite(state[u]) else 1
    return failures


@njit(**_KERNEL)
def _rotate(P, Z):
    """Advance the drive and statistics phasors by a step (numba's complex product)."""
    for u in range(P.shape[1]):
        zr, zi, cr, ci = Z[Z_R, u], Z[Z_I, u], P[R_ROT_R, u], P[R_ROT_I, u]
        Z[Z_R, u], Z[Z_I, u] = zr * cr - zi * ci, zr * ci + zi * cr
        zr, zi, cr, ci = Z[Z_SR, u], Z[Z_SI, u], P[R_SROT_R, u], P[R_SROT_I, u]
        Z[Z_SR, u], Z[Z_SI, u] = zr * cr - zi * ci, zr * ci + zi * cr


@njit(**_KERNEL)
def _note_state_failures(n, evolving, state):
    """Note every unit whose stored state is non-finite after step n (at step n + 1)."""
    for u in range(state.size):
        if not math.isfinite(state[u]):
            note_failure(evolving, u, n + 1, FAIL_STATE, state[u])


@njit(**_KERNEL)
def _moments_pass(n, P, moments, state, rates, coupled, drive):
    """Unit statistics of step n: ``network._moments`` over the rows."""
    for u in range(P.shape[1]):
        if (n >= P[R_W0, u]) & (n < P[R_W1, u]):
            value = state[u] if P[R_VOLTAGE, u] != 0.0 else coupled[u] + drive[u]
            add_moments(moments, u, rates[u], value < P[R_THRESHOLD, u])


@njit(**_KERNEL)
def _record(n, recorded, Z, state, recording):
    """Write the rate (or state) at step n of the recorded units."""
    record_rate = recording.kind == RECORD_RATE
    row = n // recording.every
    for u in recorded:
        value = Z[Z_RATE, u] if record_rate else state[u]
        recording.out[row, recording.column[u]] = value


@njit(**_KERNEL)
def _predicted_rates(P, state, held, drive, predicted):
    """EXP_AB2's start: the rates after an exponential-Euler step with every channel held
    (``network._start``'s prediction, operation for operation)."""
    for u in range(P.shape[1]):
        total = held[u] + drive[u]
        target = total if P[R_VOLTAGE, u] != 0.0 else _phi(P, u, total)
        x = P[R_A, u] * state[u] + P[R_B, u] * target
        predicted[u] = _phi(P, u, x) if P[R_VOLTAGE, u] != 0.0 else x


@njit(**_KERNEL)
def _draw_quad(schedule, quad, channel, normals):
    """``random.normal_quads`` of ``channel`` into rows ``4 channel ..`` of ``normals``,
    compiled once (inlined at each call site, its Philox rounds would compile twice)."""
    normal_quads(schedule, quad, channel, normals, 4 * np.int64(channel))


@njit(**_KERNEL)
def _window_edges(P):
    """(min w0, max w0, min w1, max w1) over the units' statistics windows."""
    w0, w1 = P[R_W0], P[R_W1]
    return np.min(w0), np.max(w0), np.min(w1), np.max(w1)


@njit(**_KERNEL)
def run_network_fast(step0, n_steps, setup, evolving, recording, coupling, history):
    """:func:`neurorect.kernels.network.run_network_general` for a run that
    :func:`fast_eligible` admits, with the same arguments, failures and bits."""
    method = setup.method
    state2 = evolving.state
    n_batch, n_neurons = state2.shape
    n_units = n_batch * n_neurons
    state = state2.reshape(n_units)
    rates2 = np.empty((n_batch, n_neurons), dtype=state.dtype)
    rates = rates2.reshape(n_units)
    product = np.empty(history.previous.shape, dtype=state.dtype)
    coupled2 = np.zeros((n_batch, n_neurons))
    coupled = coupled2.reshape(n_units)
    drive = np.empty(n_units)
    gather = np.empty(n_batch * max(1, np.max(coupling.channels[:, CH_COLS])),
                      dtype=state.dtype)
    P = _constants(setup, n_units)
    Z = np.zeros((N_WORK, n_units))
    S = _load_sums(evolving.acc)
    first, all_in, all_stop, stop = _window_edges(P)
    ou_noise, white_noise = np.max(P[R_OU_B]) > 0.0, np.max(P[R_WHITE_B]) > 0.0
    schedule = np.empty((20, n_units), dtype=np.uint64)
    if ou_noise or white_noise:
        key_schedule(setup.keys, schedule)
    normals = np.zeros((8, n_units))
    recorded = np.flatnonzero(recording.column >= 0)
    ring = history.rates
    moments = evolving.moments
    for n in range(step0, step0 + n_steps):
        if n == step0 or n % RESYNC == 0:
            _phasors(setup, P, Z, n)
        if n == step0 or n % 4 == 0:  # the normals of the step quad n // 4
            if ou_noise:
                _draw_quad(schedule, n // 4, _OU, normals)
            if white_noise:
                _draw_quad(schedule, n // 4, _WHITE, normals)
        if _rates_pass(P, Z, state, rates, setup.max_rate) > 0:
            _first_rate_failure(n, P, Z, evolving, setup.max_rate)
            break
        if ring.shape[0] > 1:
            copy_rows(rates2, ring[n % ring.shape[0]])
        if recorded.size > 0 and n % recording.every == 0:
            _record(n, recorded, Z, state, recording)
        if first <= n < stop:
            _accumulate(n, P, Z, S, not all_in <= n < all_stop)
        _drive_pass(P, Z, evolving.ou, drive)
        if n == 0:
            fill_ring(history, rates2)
        channel_products(n, method, coupling, history, rates2, product, gather)
        if n == 0:
            _start(setup, P, coupling, history, rates2, state, product, drive, gather)
        combine_channels(method, coupling, history, product, coupled2)
        if moments.shape[1] > 0:
            _moments_pass(n, P, moments, state, rates, coupled, drive)
        failures = _update_pass(P, normals, n % 4, state, coupled, drive, evolving.ou)
        _rotate(P, Z)
        if failures > 0:
            _note_state_failures(n, evolving, state)
            break
    _store_sums(S, evolving.acc)


@njit(**_KERNEL)
def _start(setup, P, coupling, history, rates2, state, product, drive, gather):
    """Global step 0: :func:`neurorect.kernels.channels.start_history`, then EXP_AB2's
    prediction of the first step and :func:`~neurorect.kernels.channels.start_extrapolation`."""
    n_batch, n_neurons = rates2.shape
    held = np.zeros((n_batch, n_neurons))
    if not start_history(setup.method, coupling, history, product, held):
        return
    predicted = np.empty((n_batch, n_neurons), dtype=state.dtype)
    _predicted_rates(P, state, held.reshape(state.size), drive, predicted.reshape(state.size))
    start_extrapolation(coupling, history, predicted, product, gather)
