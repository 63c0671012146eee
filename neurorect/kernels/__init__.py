"""The Numba integrators: numpy arrays and scalars in, arrays out (updated in place).

Only the driver (:mod:`neurorect.driver` and its helpers) calls these. This ``__init__``
imports nothing, so ``from neurorect.kernels.layout import TAU`` stays free of Numba.

Modules
-------
``layout``
    Pure Python: the columns of the packed arrays, the method, form, record and transfer
    codes, ``RESYNC``, ``GEMM_FROM``, the channel columns ``CH_*``, and the argument groups
    ``Setup``, ``Evolving``, ``Recording``, ``Coupling``, ``History`` (named tuples).
``random``
    The counter-based generator (SplitMix64 + Box-Muller): ``stream_keys``, ``normal_at``,
    ``initial_normals``, ``ou_traces``, ``normals``.
``transfer``
    ``transfer_value``: the scalar transfer kernels (the reference is
    :mod:`neurorect.transfer`).
``step``
    One unit's step: ``decay_factors``, ``rate_of``, ``rhs``.
``drive``
    Pulses and the rotating phasors: ``pulses_at``, ``drive_phasor``, ``stat_phasor``,
    ``phasor_rotations``, ``synced_phasors``.
``uncoupled``
    ``run_uncoupled``: independent units, parallel over blocks (vectorised leaky-ReLU block
    path and general per-unit path).
``network``
    ``run_network``: coupled networks, one BLAS product per step and channel (connections
    sharing a delay and a synaptic filter), exp_ab2's extrapolation, the ring of past rates.

Internal interface: ``uncoupled`` and ``network`` use ``step``, ``drive``, ``random`` and
``transfer``; ``random`` uses ``step`` (the OU factors); everything uses ``layout``. The
entry points are ``run_uncoupled(step0, n_steps, setup, evolving, recording,
general_only=False)`` and ``run_network(step0, n_steps, setup, evolving, recording,
coupling, history)``.

Layout
------
The simulation's units (batch copies x neurons, batch-major: ``u = b * N + i``) are rows of
a few packed arrays (``Setup``, read-only):

* ``kinds (U, 2)`` int64: transfer code, form (0 rate, 1 voltage);
* ``params (U, N_PARAMS)`` float64: columns TAU, I0, SIN_AMP, SIN_FREQ, SIN_PHASE, OU_SIGMA,
  OU_TAU, WHITE_SIGMA, STAT_FREQ;
* ``tparams (U, 6)``: transfer parameters (``Transfer.kernel_params``);
* ``pulses (U, P, 5)``: start, stop, period, width, amplitude (a step has an infinite period);
* ``windows (U, 2)`` int64: first and stop global step of the streaming statistics;
* ``keys (U,)`` uint64: noise stream of the unit (seed and neuron index, not the batch slot,
  so a batch element draws the same noise as its individual run).

The evolving arrays (``Evolving``: ``state (U,)`` or ``(B, N)``, ``ou (U,)``, ``acc (U, K + 1)``
complex, the running sum of the rate and of its projections ``r exp(-i 2 pi k f t)``, and
``fail (U,)``) are carried between chunks; ``Recording`` says what is recorded where, and
``Coupling`` holds W as channels (dense blocks, or CSR) and ``History`` what a network carries
between steps besides the state (past rates, last products, synaptic filter states).

Time is global: step ``n`` is at ``t = n dt`` whatever the chunking. Sinusoids and Fourier
projections advance by a rotating phasor (one complex multiply per step), re-synchronised
exactly every ``RESYNC`` global steps and at each chunk start, so a chunked run equals a
single run bit for bit. Normal variates come from a counter-based generator (SplitMix64 at
position (key, step, channel) + Box-Muller): independent of thread count and chunking.

Exponential Euler, for an uncoupled unit with input held over the step (exact then)::

    rate:    r' = a r + (1 - a) phi(c + I(t + dt/2) + eta)
    voltage: v' = a v + (1 - a) (c + I(t + dt/2) + eta)      a = exp(-dt / tau)

with ``c`` the recurrent input (``W r`` or ``W phi(v)``: at t under EXP_EULER; under
EXP_AB2 extrapolated to t + dt/2 as ``1.5 c_n - 0.5 c_{n-1}``, or interpolated between the
two known past products of a delayed channel, see ``network``) and ``eta`` the OU noise. The
deterministic drive is sampled at the middle of the step: exact for piecewise-constant
input, like the left end, but without the left end's dt/2 delay, so a linear unit under a
sinusoid is second-order accurate (its phase error is O((w dt)^2), not w dt / 2). White
noise adds ``sigma sqrt((1 - a^2) / 2) xi`` (its exact OU increment). Euler and RK4 are
offered for comparison (white noise then enters as an Euler-Maruyama increment, and OU noise
is held over the step).
"""
