"""The Numba integrators: numpy arrays and scalars in, arrays out (updated in place).

Only the driver (:mod:`neurorect.driver` and its helpers) calls these. This ``__init__``
imports no Numba (``from neurorect.kernels.layout import TAU`` stays free of it); it only
checks that Numba's on-disk cache belongs to these sources (:mod:`.cachestamp`: the kernels
inline each other's code across files, which Numba's per-file cache key does not see).

Modules
-------
``layout``
    Pure Python: the columns of the packed arrays, the method, form, record and transfer
    codes, ``RESYNC``, ``GEMM_FROM``, the channel columns ``CH_*``, and the argument groups
    ``Setup``, ``Evolving``, ``Recording``, ``Coupling``, ``History`` (named tuples).
``circle``
    The libm-free unit circle (polynomials and selects, explicit FMAs: vectorisable, the
    same bits in SIMD and scalar code): ``fma``, ``quarter_cos_sin``, ``turn_cos_sin``
    (cos and sin of an angle in turns), ``rotate``.
``random``
    The counter-based generator (Philox4x32-10 + a vectorisable Box-Muller): ``stream_keys``,
    ``normal_at``, ``normal_quads``, ``key_schedule``, ``initial_normals``, ``ou_traces``,
    ``normals``, ``philox4x32``.
``transfer``
    ``transfer_value``: the scalar transfer kernels (the reference is
    :mod:`neurorect.transfer`).
``step``
    One unit's step: ``decay_factors``, ``rate_of``, ``rhs``.
``drive``
    Pulses and the rotating phasors: ``pulses_at``, ``drive_phasor``, ``stat_phasor``,
    ``phasor_rotations``, ``synced_phasors``.
``uncoupled``
    ``run_uncoupled``: independent units, parallel over tasks: tiles of leaky-ReLU units
    (``tiles``) and groups of units on the general per-unit path (the reference).
``tiles``
    The SIMD tiles of 128 units: ``deterministic_tile`` (noise-free, provably bounded, 4
    steps per load and store) and ``checked_tile`` (noise, unit statistics, runaway checks).
``channels``
    The coupling channels (connections sharing a delay and a synaptic filter):
    ``channel_product`` (BLAS for dense blocks, or CSR), ``channel_products`` (every
    channel's product of a step, from the ring of past rates), ``product_lag``,
    ``fill_ring``, ``combine_channels`` (exp_ab2's extrapolation, the synaptic filters).
``network``
    ``run_network``: coupled networks, one coupling product per step and channel (through
    ``channels``), exp_ab2's second-order start, the update, noise and statistics; it
    dispatches to ``network_tiles.run_network_fast`` or to ``run_network_general`` (the
    per-unit reference), same arguments, same bits.
``network_tiles``
    The vectorised element-wise passes of a network whose units are all leaky ReLUs without
    pulses under exp_euler or exp_ab2 (``fast_eligible``, ``run_network_fast``): struct of
    arrays, selects, failures located after a vectorised count; the per-unit path's
    operations in its order (no fastmath), so the two paths agree bit for bit (tested).
``window_fit``
    ``fit_windows``: the least-squares statistics of each unit's window (undoing
    STAT_PHASE), parallel over units, for small well-conditioned systems; the reference,
    :func:`neurorect.fourier.harmonics_from_sums`, fits the others (the driver's
    ``_recording.window_statistics`` calls both).

Internal interface: ``uncoupled`` and ``network`` use ``step``, ``drive``, ``random`` and
``transfer``; ``network`` uses ``channels``; ``random`` uses ``step`` (the OU factors) and
``circle``, as do the ``tiles``;
everything uses ``layout``. The entry points are ``run_uncoupled(step0, n_steps, setup,
evolving, recording, general_only=False, schedule=None)`` and ``run_network(step0, n_steps, setup,
evolving, recording, coupling, history)``.

Layout
------
The simulation's units (batch copies x neurons, batch-major: ``u = b * N + i``) are rows of
a few packed arrays (``Setup``, read-only):

* ``kinds (U, 2)`` int64: transfer code, form (0 rate, 1 voltage);
* ``params (U, N_PARAMS)`` float64: columns TAU, I0, SIN_AMP, SIN_FREQ, SIN_PHASE, OU_SIGMA,
  OU_TAU, WHITE_SIGMA, STAT_FREQ, STAT_PHASE;
* ``tparams (U, 6)``: transfer parameters (``Transfer.kernel_params``);
* ``pulses (U, P, 5)``: start, stop, period, width, amplitude (a step has an infinite period);
* ``windows (U, 2)`` int64: first and stop global step of the streaming statistics;
* ``keys (U,)`` uint64: noise stream of the unit (seed and neuron index, not the batch slot,
  so a batch element draws the same noise as its individual run).

The evolving arrays (``Evolving``: ``state (U,)`` or ``(B, N)``, ``ou (U,)``, ``acc (U, K + 1)``
complex, the running sum of the rate and of its projections ``r exp(-i k (2 pi f t +
theta))`` with ``theta = params[u, STAT_PHASE]``, the failure record ``fail``, ``fail_what``,
``fail_value`` and the unit statistics ``moments``) are carried between chunks; ``Recording``
says what is recorded where, ``Coupling`` holds W as channels (dense blocks, or CSR) and
``History`` what a network carries between steps besides the state (past rates, last
products, synaptic filter states).

Failures and unit statistics (the contract every kernel implements)
-------------------------------------------------------------------
``Setup.max_rate`` (Hz, finite: the driver passes ``min(max_rate, float max)``): at every
step n, before recording or accumulating, a kernel evaluates the rate r_n of each unit and
stops at the first ``step.rate_fails(r_n, max_rate)`` (``not |r_n| <= max_rate``: NaN and inf
always fail) with ``step.note_failure(evolving, u, n, FAIL_RATE, r_n)``; after the update, a
non-finite state gives ``note_failure(evolving, u, n + 1, FAIL_STATE, x)``. ``fail`` is -1 for
a unit that did not fail; ``fail_value`` starts NaN and ``fail_what`` FAIL_STATE, so a kernel
that only sets ``fail`` reports a non-finite state. A kernel may detect a failure late (at
the chunk's end): the driver then reruns the chunk on the uncoupled per-unit path to pin the
step, so a kernel that detects late must say so and have such a path.

``Evolving.moments`` is (U, N_MOMENTS) when the caller asked for unit statistics, else
(U, 0) (test ``moments.shape[1] > 0``). For every step n inside unit u's window
(``windows[u, 0] <= n < windows[u, 1]``), after the rate r_n is known, the kernel calls
``step.add_moments(moments, u, r_n, below)``, ``below`` meaning that the step's input is
below the transfer's threshold ``tparams[u, 1]``: in rate form the total input handed to
phi for the update of step n (recurrent input + drive + OU noise; under exponential Euler
the drive at the middle of the step, under Euler and RK4 at t_n); in voltage form
``v_n < threshold``. The columns (M_BELOW, M_ZERO, M_SHIFT, M_SUM, M_SQUARES) are counts and
shifted sums; the driver turns them into fractions and a variance. Both kernels stream them
(the network kernel: in rate form the recurrent input of the update, so under exp_ab2 the
input extrapolated to the middle of the step).

Fast paths may contract arithmetic (``layout.FASTMATH``, FMA only) and so differ from the
per-unit path in the last bits (agreement to 1e-12 relative is tested); which path a unit
takes depends only on that unit's own parameters, so a model and seed give the same bits on
any thread count, chunking and batch slot.

Time is global: step ``n`` is at ``t = n dt`` whatever the chunking. Sinusoids and Fourier
projections advance by a rotating phasor (one complex multiply per step), re-synchronised
exactly every ``RESYNC`` global steps and at each chunk start, so a chunked run equals a
single run bit for bit (the tiles recompute their phasors with ``circle.turn_cos_sin`` in
SIMD lanes; the per-unit and network paths with libm). Normal variates come from a
counter-based generator (Philox4x32-10 at (key, step div 4, channel) + Box-Muller, four
normals per call): independent of thread count, chunking and batch slot, the same bits in
every kernel.

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

from neurorect.kernels.cachestamp import refresh_cache

refresh_cache()
