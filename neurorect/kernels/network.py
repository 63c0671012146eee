"""Coupled networks: :func:`run_network`, batch copies sharing the neuron count N.

Each step: the rates of every unit (recorded, accumulated into the statistics, written to
the ring of past rates when there are delays); one coupling product per channel (a channel
is the connections sharing a delay and a synaptic filter; BLAS for dense blocks, all batch
copies in one matrix product from ``GEMM_FROM`` copies on, or a CSR loop); the channels'
inputs combined (extrapolation or interpolation to the middle of the step, synaptic
filters); then the element-wise update, noise and phasor rotation.

Two element-wise paths, the same bits: a run of leaky-ReLU units under EXP_EULER or
EXP_AB2 without steps or pulses takes the vectorised passes of
:mod:`neurorect.kernels.network_tiles`; every other run :func:`run_network_general`, one
unit at a time with the transfer dispatched per unit (the reference, here). Both use
:mod:`neurorect.kernels.channels` for the products, their combination and the start.

Methods, for the recurrent input ``c(t)`` (``W r`` in rate form, ``W phi(v)`` in voltage
form) of the step ``[t_n, t_n + dt]``, with ``p_n = W r(t_n - D)`` the product of step n:

* ``EXP_EULER``: ``c = p_n`` held over the step (first order for a network);
* ``EXP_AB2``: ``c = c(t_n + dt/2)`` to second order: ``1.5 p_n - 0.5 p_{n-1}``
  (Adams-Bashforth extrapolation) without delay; with a delay of d >= 1 steps the middle of
  the step lies between two known products, ``0.5 (W r_{n-d} + W r_{n-d+1})``, so the
  product of step n is ``W r_{n-d+1}`` and nothing is extrapolated. The first step of a run
  predicts ``W r_1`` with an exponential-Euler step (one extra product, once) and takes
  the trapezoid ``0.5 (p_0 + W r_1*)``: a second-order start;
* ``EULER`` and ``RK4``: explicit, for comparison (RK4 takes no delays or filters).

A synaptic filter ``tau_syn ds/dt = -s + c`` advances exactly over the step with the
step's input (``s' = a s + (1 - a) c``); the unit sees ``s`` at the left end (EXP_EULER,
EULER) or ``(s + s') / 2`` at the middle (EXP_AB2). The history before t = 0 is the
initial state: ``r(t) = r(0)`` for t < 0, synaptic filters start at ``W r(0)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from neurorect.kernels.channels import (
    channel_product,
    channel_products,
    combine_channels,
    fill_ring,
    start_extrapolation,
    start_history,
)
from neurorect.kernels.drive import (
    drive_phasor,
    phasor_rotations,
    pulses_at,
    stat_phasor,
    synced_phasors,
)
from neurorect.kernels.layout import (
    CH_COLS,
    EULER,
    EXP_AB2,
    EXP_EULER,
    FAIL_RATE,
    FAIL_STATE,
    I0,
    RATE_FORM,
    RECORD_RATE,
    RESYNC,
    RK4,
    SIN_AMP,
    TAU,
)
from neurorect.kernels.network_tiles import fast_eligible, run_network_fast
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

__all__ = ["run_network", "run_network_general"]

# noise channels of ``random.normal_at``, as uint64 (a literal int argument would compile a
# callee once per value)
_OU, _WHITE = np.uint64(0), np.uint64(1)


@njit(cache=True)
def run_network(step0, n_steps, setup, evolving, recording, coupling, history):
    """Advance coupled networks (batch copies share the neuron count N) ``n_steps`` steps.

    ``setup``, ``evolving``, ``recording``, ``coupling`` and ``history`` are the groups of
    :mod:`neurorect.kernels.layout`; ``evolving.state`` is (B, N). A run of leaky-ReLU
    units under an exponential method without steps or pulses takes the vectorised path
    (:func:`neurorect.kernels.network_tiles.run_network_fast`), any other
    :func:`run_network_general`; the two give the same bits.
    """
    if fast_eligible(setup):
        run_network_fast(step0, n_steps, setup, evolving, recording, coupling, history)
    else:
        run_network_general(step0, n_steps, setup, evolving, recording, coupling, history)


@njit(cache=True)
def run_network_general(step0, n_steps, setup, evolving, recording, coupling, history):
    """:func:`run_network`'s per-unit path, for every transfer and method (the reference).

    The coupling products run through BLAS (dense) or a CSR loop, once per channel and
    step; the element-wise passes are serial loops over the units. At a failure (a rate
    beyond ``setup.max_rate`` or non-finite at step n, a non-finite state after the update
    of step n) the failure record of ``evolving`` gets the unit's step, quantity and value
    (``step.note_failure``) and the run stops; the unit statistics, when asked for, are
    streamed (``step.add_moments``).
    """
    # The time loop stays in this function (Numba cannot hand a loop body to a callback at
    # no cost); each pass over the units is a helper called once per step.
    dt, method, params = setup.dt, setup.method, setup.params
    state = evolving.state
    n_batch, n_neurons = state.shape
    n_units = n_batch * n_neurons
    rates = np.empty((n_batch, n_neurons), dtype=state.dtype)
    product = np.empty(history.previous.shape, dtype=state.dtype)
    coupled = np.zeros((n_batch, n_neurons))
    drive = np.empty((n_batch, n_neurons))
    gather = np.empty(n_batch * max(1, np.max(coupling.channels[:, CH_COLS])),
                      dtype=state.dtype)
    factors = _unit_factors(setup, n_units)
    half, rotation, stat_rotation = factors[5], factors[6], factors[7]
    ones = np.ones(n_units, dtype=np.complex128)
    half_sq = half * half
    k1, k2, k3, k4, trial, mid, end = _rk4_work(method, n_batch, n_neurons, state.dtype)
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
        if not _observe(n, setup, evolving, recording, history, z, zs, half, rates, drive):
            return
        if method == RK4:
            _network_drive(setup, evolving.ou, z, t, ones, drive)
            _network_drive(setup, evolving.ou, z, t + 0.5 * dt, half, mid)
            _network_drive(setup, evolving.ou, z, t + dt, half_sq, end)
            inputs = (coupling, history, rates, product, coupled, gather)
            _network_rhs(setup, state, drive, inputs, k1)
            _moments(n, setup, evolving, rates, coupled, drive)
            _rk4_stage(state, 0.5 * dt, k1, trial)
            _network_rhs(setup, trial, mid, inputs, k2)
            _rk4_stage(state, 0.5 * dt, k2, trial)
            _network_rhs(setup, trial, mid, inputs, k3)
            _rk4_stage(state, dt, k3, trial)
            _network_rhs(setup, trial, end, inputs, k4)
            _rk4_finish(state, dt, k1, k2, k3, k4)
        else:
            if n == 0:
                fill_ring(history, rates)
            channel_products(n, method, coupling, history, rates, product, gather)
            if n == 0:
                _start(setup, evolving, factors, coupling, history, rates, product, drive,
                       gather)
            combine_channels(method, coupling, history, product, coupled)
            if method != EULER:
                _moments(n, setup, evolving, rates, coupled, drive)
                if not _exp_update(n, setup, evolving, factors, coupled, drive, z, zs):
                    return
                continue
            _network_drive(setup, evolving.ou, z, t, ones, drive)
            _moments(n, setup, evolving, rates, coupled, drive)
            _euler_step(setup, state, coupled, drive)
        if not _noise_update(n, setup, evolving, factors, z, zs):
            return


@njit(cache=True)
def _unit_factors(setup, n_units):
    """Per-unit step constants as arrays: a, 1 - a, ou_a, ou_b, white_b (float), half,
    rotation, stat_rotation (complex); see ``decay_factors`` and ``phasor_rotations``.
    EXP_AB2 takes exponential Euler's exact white-noise increment."""
    method = EXP_EULER if setup.method == EXP_AB2 else setup.method
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
            setup.params, u, setup.dt, method)
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


@njit(cache=True)
def _rk4_stage(state, step, k, trial):
    """``trial = state + step k`` (loops, not an array expression: a slice assignment
    compiles numba's broadcasting and its error message, ~3 s)."""
    for b in range(state.shape[0]):
        for i in range(state.shape[1]):
            trial[b, i] = state[b, i] + step * k[b, i]


@njit(cache=True)
def _rk4_finish(state, dt, k1, k2, k3, k4):
    """``state += dt / 6 (k1 + 2 k2 + 2 k3 + k4)``."""
    weight = dt / 6.0
    for b in range(state.shape[0]):
        for i in range(state.shape[1]):
            state[b, i] = state[b, i] + weight * (k1[b, i] + 2.0 * k2[b, i] + 2.0 * k3[b, i]
                                                  + k4[b, i])


@njit(cache=True, inline="always")
def _row(tparams, u):
    """Unit u's transfer parameters as a tuple: a view ``tparams[u]`` costs a reference
    count increment and decrement per unit and step (measured 7 ns of 10 per unit)."""
    return (tparams[u, 0], tparams[u, 1], tparams[u, 2], tparams[u, 3], tparams[u, 4],
            tparams[u, 5])


@njit(cache=True, inline="always")
def _relax(kinds, tparams, u, a, one_minus_a, state, total):
    """Unit u's exponential step towards its target under the input ``total``:
    ``a x + (1 - a) phi(total)`` (rate form) or ``a v + (1 - a) total`` (voltage form)."""
    if kinds[u, 1] == RATE_FORM:
        total = transfer_value(kinds[u, 0], _row(tparams, u), total)
    return a * state + one_minus_a * total


@njit(cache=True, inline="always")
def _accumulate(acc, u, rate, zs):
    """Add ``rate`` and its projections ``rate zs^k`` to unit u's running sums."""
    acc[u, 0] += rate
    power = zs
    for k in range(1, acc.shape[1]):
        acc[u, k] += rate * power
        power *= zs


@njit(cache=True)
def _observe(n, setup, evolving, recording, history, z, zs, half, rates, drive):
    """Pass 1 of step n: rates (into the ring of past rates too), recording, statistics and
    (exponential methods) the mid-step drive. Returns False, with ``fail`` set, at a
    non-finite rate."""
    dt, params, kinds, tparams = setup.dt, setup.params, setup.kinds, setup.tparams
    state, ou = evolving.state, evolving.ou
    n_batch, n_neurons = state.shape
    recording_now = n % recording.every == 0
    record_rate = recording.kind == RECORD_RATE
    has_pulses = setup.pulses.shape[1] > 0
    exponential = setup.method == EXP_EULER or setup.method == EXP_AB2
    ring = history.rates
    slot = n % ring.shape[0]
    keep = ring.shape[0] > 1
    t = n * dt
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            rate = rate_of(kinds[u, 0], _row(tparams, u), kinds[u, 1], state[b, i])
            if rate_fails(rate, setup.max_rate):
                note_failure(evolving, u, n, FAIL_RATE, rate)
                return False
            rates[b, i] = rate
            if keep:
                ring[slot, b, i] = rate
            column = recording.column[u]
            if recording_now and column >= 0:
                recording.out[n // recording.every, column] = (
                    rate if record_rate else state[b, i])
            if n >= setup.windows[u, 0] and n < setup.windows[u, 1]:
                _accumulate(evolving.acc, u, rate, zs[u])
            if exponential:  # drive at the middle of the step
                value = params[u, I0] + params[u, SIN_AMP] * (z[u] * half[u]).imag + ou[u]
                if has_pulses:
                    value += pulses_at(setup.pulses, u, t + 0.5 * dt)
                drive[b, i] = value
    return True


@njit(cache=True)
def _start(setup, evolving, factors, coupling, history, rates, product, drive, gather):
    """Global step 0: :func:`~neurorect.kernels.channels.start_history`, then EXP_AB2's
    exponential-Euler prediction r_1* of the first step (no noise increment) for
    :func:`~neurorect.kernels.channels.start_extrapolation`."""
    n_batch, n_neurons = rates.shape
    held = np.zeros((n_batch, n_neurons))
    if not start_history(setup.method, coupling, history, product, held):
        return
    a, one_minus_a = factors[0], factors[1]
    kinds, tparams, state = setup.kinds, setup.tparams, evolving.state
    predicted = np.empty_like(rates)
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            x = _relax(kinds, tparams, u, a[u], one_minus_a[u], state[b, i],
                       held[b, i] + drive[b, i])
            predicted[b, i] = rate_of(kinds[u, 0], _row(tparams, u), kinds[u, 1], x)
    start_extrapolation(coupling, history, predicted, product, gather)


@njit(cache=True)
def _moments(n, setup, evolving, rates, coupled, drive):
    """Unit statistics of step n (when asked for): the rate, and whether the input is below
    the threshold: the total input handed to phi (rate form; ``coupled + drive`` as the
    update takes them) or ``v_n`` (voltage form)."""
    moments = evolving.moments
    if moments.shape[1] == 0:
        return
    kinds, tparams, windows, state = setup.kinds, setup.tparams, setup.windows, evolving.state
    n_batch, n_neurons = state.shape
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            if n >= windows[u, 0] and n < windows[u, 1]:
                value = coupled[b, i] + drive[b, i] if kinds[u, 1] == RATE_FORM else state[b, i]
                add_moments(moments, u, rates[b, i], value < tparams[u, 1])


@njit(cache=True)
def _exp_update(n, setup, evolving, factors, coupled, drive, z, zs):
    """Pass 2 of an exponential step: update, noise, phasors (:func:`_finish_units`).
    Returns False, with ``fail`` set, at a non-finite state."""
    return _finish_units(n, setup, evolving, factors, coupled, drive, z, zs, True)


@njit(cache=True)
def _euler_step(setup, state, coupled, drive):
    """state += dt * d state / dt, with the recurrent input ``coupled`` and ``drive``."""
    kinds, tparams, params, dt = setup.kinds, setup.tparams, setup.params, setup.dt
    n_batch, n_neurons = state.shape
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            state[b, i] = state[b, i] + dt * rhs(kinds[u, 0], _row(tparams, u), kinds[u, 1],
                                                 params[u, TAU], state[b, i],
                                                 coupled[b, i] + drive[b, i])


@njit(cache=True)
def _noise_update(n, setup, evolving, factors, z, zs):
    """After an Euler or RK4 step: white and OU noise, phasors (:func:`_finish_units`).
    Returns False, with ``fail`` set, at a non-finite state."""
    state = evolving.state
    return _finish_units(n, setup, evolving, factors, state, state, z, zs, False)


@njit(cache=True, inline="always")
def _finish_units(n, setup, evolving, factors, coupled, drive, z, zs, exponential):
    """The end of step n for every unit, shared by all methods: the exponential update with
    the input ``coupled + drive`` (``exponential``; otherwise the state is already
    updated and ``coupled``, ``drive`` are not read), the white-noise increment, the OU
    update, the finiteness check of the stored state (failure record at step n + 1) and the
    phasors' rotation. The arrays are taken out of their tuples before the unit loop: a
    tuple unpacked per unit costs reference counting (measured 100 ns per unit-step).
    Returns False at a non-finite state."""
    a, one_minus_a, ou_a, ou_b, white_b, _, rotation, stat_rotation = factors
    kinds, tparams, keys = setup.kinds, setup.tparams, setup.keys
    state, ou = evolving.state, evolving.ou
    n_batch, n_neurons = state.shape
    good = True
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            if exponential:
                x = _relax(kinds, tparams, u, a[u], one_minus_a[u], state[b, i],
                           coupled[b, i] + drive[b, i])
            else:
                x = float(state[b, i])
            if white_b[u] > 0.0:
                x += white_b[u] * _normal(keys[u], n, _WHITE)
            if ou_b[u] > 0.0:
                ou[u] = ou_a[u] * ou[u] + ou_b[u] * _normal(keys[u], n, _OU)
            state[b, i] = x
            if not math.isfinite(state[b, i]):
                note_failure(evolving, u, n + 1, FAIL_STATE, state[b, i])
                good = False
            z[u] *= rotation[u]
            zs[u] *= stat_rotation[u]
    return good


@njit(cache=True)
def _normal(key, step, channel):
    """``random.normal_at`` compiled once: inlined, its Philox rounds and transform compiled
    at each of the four sites of ``_finish_units`` in its two callers (measured: most of
    the per-unit path's compile time); a call costs a few ns against its ~30."""
    return normal_at(key, step, channel)


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
            out[b, i] = rate_of(kinds[u, 0], _row(tparams, u), kinds[u, 1], states[b, i])


@njit(cache=True)
def _network_rhs(setup, states, drive, inputs, out):
    """d state / dt of every unit (RK4's stages; channels without delay or filter)."""
    coupling, history, rates, product, coupled, gather = inputs
    _network_rates(setup, states, rates)
    for k in range(coupling.channels.shape[0]):
        channel_product(coupling, k, rates, product, gather)
    # setup.method is RK4 here; a literal RK4 would compile combine_channels a second time
    combine_channels(setup.method, coupling, history, product, coupled)
    kinds, tparams, params = setup.kinds, setup.tparams, setup.params
    n_batch, n_neurons = states.shape
    for b in range(n_batch):
        for i in range(n_neurons):
            u = b * n_neurons + i
            out[b, i] = rhs(kinds[u, 0], _row(tparams, u), kinds[u, 1], params[u, TAU],
                            states[b, i], coupled[b, i] + drive[b, i])
