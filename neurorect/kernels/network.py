"""Coupled networks: :func:`run_network`, batch copies sharing the neuron count N.

Each step: the rates of every unit (recorded, accumulated into the statistics), the
recurrent input ``W r`` through BLAS (all batch copies in one matrix product from
``GEMM_FROM`` copies on) or a CSR loop, then the element-wise update, noise and phasor
rotation. The recurrent input is taken at the start of the step (``W r(t)``); exponential
Euler samples the deterministic drive at the middle of the step, as for uncoupled units.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

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
    GEMM_FROM,
    I0,
    RATE_FORM,
    RECORD_RATE,
    RESYNC,
    RK4,
    SIN_AMP,
    TAU,
)
from neurorect.kernels.random import normal_at
from neurorect.kernels.step import decay_factors, rate_of, rhs
from neurorect.kernels.transfer import transfer_value

__all__ = ["run_network"]


@njit(cache=True)
def run_network(step0, n_steps, setup, evolving, recording, coupling):
    """Advance coupled networks (batch copies share the neuron count N) ``n_steps`` steps.

    ``setup``, ``evolving``, ``recording`` and ``coupling`` are the groups of
    :mod:`neurorect.kernels.layout`; ``evolving.state`` is (B, N). ``coupling.W`` is
    (1, N, N) shared or (B, N, N) per copy, in the dtype of the state; for sparse coupling
    ``W`` is empty and (indptr, indices, weights) is the CSR matrix shared by all copies. The
    recurrent product runs through BLAS once per step (all copies in one matrix product);
    the element-wise update is a serial loop. On a non-finite state, ``evolving.fail[u]``
    gets the global step and the run stops.
    """
    # The time loop stays in this function (Numba cannot hand a loop body to a callback at
    # no cost); each pass over the units is a helper called once per step.
    dt, method, params = setup.dt, setup.method, setup.params
    state = evolving.state
    n_batch, n_neurons = state.shape
    n_units = n_batch * n_neurons
    rates = np.empty((n_batch, n_neurons), dtype=state.dtype)
    coupled = np.empty((n_batch, n_neurons), dtype=state.dtype)
    drive = np.empty((n_batch, n_neurons))
    factors = _unit_factors(setup, n_units)
    half, rotation, stat_rotation = factors[5], factors[6], factors[7]
    ones = np.ones(n_units, dtype=np.complex128)
    half_sq = half * half
    k1, k2, k3, k4, trial, mid, end = _rk4_work(method, n_batch, n_neurons, state.dtype)
    derivative = np.empty((n_batch if method == EULER else 0, n_neurons))
    z = np.empty(n_units, dtype=np.complex128)
    zs = np.empty(n_units, dtype=np.complex128)
    for u in range(n_units):
        z[u], zs[u] = synced_phasors(params, u, step0, dt, rotation[u], stat_rotation[u])
    for n in range(step0, step0 + n_steps):
        if n % RESYNC == 0:
            for u in range(n_units):
                z[u] = drive_phasor(params, u, n, dt)
                zs[u] = stat_phasor(params, u, n, dt)
        t = n * dt
        if not _observe(n, setup, evolving, recording, z, zs, half, rates, drive):
            return
        if method == EXP_EULER:
            _couple(rates, coupling, coupled)
            if not _exp_euler_update(n, setup, evolving, factors, coupled, drive, z, zs):
                return
            continue
        if method == EULER:
            _network_drive(setup, evolving.ou, z, t, ones, drive)
            _network_rhs(setup, state, drive, coupling, rates, coupled, derivative)
            state[:, :] = state + dt * derivative
        else:
            _network_drive(setup, evolving.ou, z, t, ones, drive)
            _network_drive(setup, evolving.ou, z, t + 0.5 * dt, half, mid)
            _network_drive(setup, evolving.ou, z, t + dt, half_sq, end)
            _network_rhs(setup, state, drive, coupling, rates, coupled, k1)
            trial[:, :] = state + 0.5 * dt * k1
            _network_rhs(setup, trial, mid, coupling, rates, coupled, k2)
            trial[:, :] = state + 0.5 * dt * k2
            _network_rhs(setup, trial, mid, coupling, rates, coupled, k3)
            trial[:, :] = state + dt * k3
            _network_rhs(setup, trial, end, coupling, rates, coupled, k4)
            state[:, :] = state + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if not _noise_update(n, setup, evolving, factors, z, zs):
            return


@njit(cache=True)
def _unit_factors(setup, n_units):
    """Per-unit step constants as arrays: a, 1 - a, ou_a, ou_b, white_b (float), half,
    rotation, stat_rotation (complex); see ``decay_factors`` and ``phasor_rotations``."""
    a = np.empty(n_units)
    one_minus_a = np.empty(n_units)
    ou_a = np.empty(n_units)
    ou_b = np.empty(n_units)
    white_b = np.empty(n_units)
    half = np.empty(n_units, dtype=np.complex128)
    rotation = np.empty(n_units, dtype=np.complex128)
    stat_rotation = np.empty(n_units, dtype=np.complex128)
    for u in range(n_units):
        a[u], one_minus_a[u], ou_a[u], ou_b[u], white_b[u] = decay_factors(
            setup.params, u, setup.dt, setup.method)
        half[u], rotation[u], stat_rotation[u] = phasor_rotations(setup.params, u, setup.dt)
    return a, one_minus_a, ou_a, ou_b, white_b, half, rotation, stat_rotation


@njit(cache=True)
def _rk4_work(method, n_batch, n_neurons, dtype):
    """RK4's work arrays k1..k4, trial state, mid- and end-step drive (empty otherwise)."""
    n_rk = n_batch if method == RK4 else 0
    return (np.empty((n_rk, n_neurons)), np.empty((n_rk, n_neurons)),
            np.empty((n_rk, n_neurons)), np.empty((n_rk, n_neurons)),
            np.empty((n_rk, n_neurons), dtype=dtype), np.empty((n_rk, n_neurons)),
            np.empty((n_rk, n_neurons)))


@njit(cache=True, inline="always")
def _accumulate(acc, u, rate, zs):
    """Add ``rate`` and its projections ``rate zs^k`` to unit u's running sums."""
    acc[u, 0] += rate
    power = zs
    for k in range(1, acc.shape[1]):
        acc[u, k] += rate * power
        power *= zs


@njit(cache=True)
def _observe(n, setup, evolving, recording, z, zs, half, rates, drive):
    """Pass 1 of step n: rates, recording, statistics and (exponential Euler) the mid-step
    drive. Returns False, with ``fail`` set, at a non-finite rate."""
    dt, params, kinds, tparams = setup.dt, setup.params, setup.kinds, setup.tparams
    state, ou = evolving.state, evolving.ou
    n_batch, n_neurons = state.shape
    recording_now = n % recording.every == 0
    record_rate = recording.kind == RECORD_RATE
    has_pulses = setup.pulses.shape[1] > 0
    t = n * dt
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            rate = rate_of(kinds[u, 0], tparams[u], kinds[u, 1], state[b, i])
            if not math.isfinite(rate):
                evolving.fail[u] = n
                return False
            rates[b, i] = rate
            column = recording.column[u]
            if recording_now and column >= 0:
                recording.out[n // recording.every, column] = (
                    rate if record_rate else state[b, i])
            if n >= setup.windows[u, 0] and n < setup.windows[u, 1]:
                _accumulate(evolving.acc, u, rate, zs[u])
            if setup.method == EXP_EULER:  # drive at the middle of the step
                value = params[u, I0] + params[u, SIN_AMP] * (z[u] * half[u]).imag + ou[u]
                if has_pulses:
                    value += pulses_at(setup.pulses, u, t + 0.5 * dt)
                drive[b, i] = value
    return True


@njit(cache=True)
def _exp_euler_update(n, setup, evolving, factors, coupled, drive, z, zs):
    """Pass 2 of an exponential-Euler step: update, noise, phasors (the per-unit order of
    :func:`_noise_update`). Returns False, with ``fail`` set, at a non-finite state."""
    a, one_minus_a, ou_a, ou_b, white_b, _, rotation, stat_rotation = factors
    kinds, tparams, keys = setup.kinds, setup.tparams, setup.keys
    state, ou = evolving.state, evolving.ou
    n_batch, n_neurons = state.shape
    good = True
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
                evolving.fail[u] = n + 1
                good = False
            z[u] *= rotation[u]
            zs[u] *= stat_rotation[u]
    return good


@njit(cache=True)
def _noise_update(n, setup, evolving, factors, z, zs):
    """After an Euler or RK4 step: white and OU noise, phasors. Returns False, with ``fail``
    set, at a non-finite state."""
    _, _, ou_a, ou_b, white_b, _, rotation, stat_rotation = factors
    keys = setup.keys
    state, ou = evolving.state, evolving.ou
    n_batch, n_neurons = state.shape
    good = True
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            if white_b[u] > 0.0:
                state[b, i] += white_b[u] * normal_at(keys[u], n, 1)
            if ou_b[u] > 0.0:
                ou[u] = ou_a[u] * ou[u] + ou_b[u] * normal_at(keys[u], n, 0)
            if not math.isfinite(state[b, i]):
                evolving.fail[u] = n + 1
                good = False
            z[u] *= rotation[u]
            zs[u] *= stat_rotation[u]
    return good


@njit(cache=True)
def _couple(rates, coupling, out):
    """out[b] = W_b @ rates[b]: BLAS for dense W (shared or per batch copy), CSR otherwise."""
    W, indptr, indices, weights = coupling
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
def _network_drive(setup, ou, z, t, shift, out):
    """Drive of every unit at time t (phasors ``z * shift``), noise held, into ``out`` (B, N)."""
    params, pulses = setup.params, setup.pulses
    n_batch, n_neurons = out.shape
    has_pulses = pulses.shape[1] > 0
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            value = params[u, I0] + params[u, SIN_AMP] * (z[u] * shift[u]).imag + ou[u]
            if has_pulses:
                value += pulses_at(pulses, u, t)
            out[b, i] = value


@njit(cache=True)
def _network_rates(setup, states, out):
    """Rate of every unit in ``states`` (B, N), into ``out``."""
    kinds, tparams = setup.kinds, setup.tparams
    n_batch, n_neurons = states.shape
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            out[b, i] = rate_of(kinds[u, 0], tparams[u], kinds[u, 1], states[b, i])


@njit(cache=True)
def _network_rhs(setup, states, drive, coupling, rates, coupled, out):
    """d state / dt of every unit (for Euler and RK4)."""
    _network_rates(setup, states, rates)
    _couple(rates, coupling, coupled)
    kinds, tparams, params = setup.kinds, setup.tparams, setup.params
    n_batch, n_neurons = states.shape
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            out[b, i] = rhs(kinds[u, 0], tparams[u], kinds[u, 1], params[u, TAU],
                            states[b, i], coupled[b, i] + drive[b, i])
