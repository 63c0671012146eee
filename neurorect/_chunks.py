"""Run the kernels chunk by chunk: progress bar, failures (runaway, non-finite), BLAS threads.

A run is cut into chunks of whole multiples of ``RESYNC`` steps (results do not depend on
the chunking; chunks give the progress bar its granularity and stop a diverging run early).
Every kernel path notes a failure at its exact step; a failure
(``Evolving.fail``, ``fail_what``, ``fail_value``) raises SimulationError naming time, neuron,
quantity and value.
"""

from __future__ import annotations

import os
import time

import numpy as np

from neurorect import _progress
from neurorect._coupling import coupling_arrays
from neurorect._plan import Plan
from neurorect._recording import sum_name, unit_label
from neurorect.errors import SimulationError
from neurorect.kernels.layout import FAIL_RATE, RESYNC, Evolving, Recording, Setup
from neurorect.kernels.network import run_network
from neurorect.kernels.uncoupled import kernels_used, run_uncoupled, schedule_units

__all__ = ["run_in_chunks"]

_CHUNK_UNIT_STEPS = 2e7  # unit-steps per chunk (~0.05-0.1 s of work): progress granularity
# uncoupled chunks are longer (~0.3 s at 1.3e9 unit-steps/s): a chunk's start costs ~0.6 us
# per unit (paths, tiles, ~13 libm calls for phasors and decay factors; measured: three
# chunks instead of one made W1's 20,000 steps 9 % slower)
_UNCOUPLED_CHUNK_UNIT_STEPS = 4e8
_PROGRESS_AFTER = 2.0  # s: show a progress bar when a run is predicted to take longer
_COMPILING = ("compiling the simulation kernels for this machine (first use only: a few "
              "minutes; cached afterwards)")


def first_call_compiles(*kernels) -> bool:
    """True when one of the Numba ``kernels`` has nothing compiled in this process and no
    on-disk cache index: its first call compiles (minutes for the uncoupled tiles), so the
    user is told. A new signature with an index present (e.g. float32 after float64) is not
    seen."""
    try:
        return any(not kernel.overloads and not os.path.exists(
            kernel._cache._cache_file._index_path) for kernel in kernels)
    except AttributeError:  # not a Numba dispatcher, or another Numba version's layout:
        return False  # say nothing rather than guess


def run_in_chunks(plan: Plan, setup: Setup, evolving: Evolving, recording: Recording,
                  n_steps: int, *, coupling: str, blas_threads: int | None,
                  chunk_steps: int | None, progress: bool | None) -> None:
    """Advance ``evolving`` (state of shape (U,)) and fill ``recording`` over ``n_steps``.

    ``coupling`` is the mode of :func:`neurorect._coupling.coupling_arrays`;
    ``blas_threads`` limits BLAS during a coupled run (None: leave it). Raises
    SimulationError at a failure (a non-finite state or rate, or a rate beyond
    ``setup.max_rate``).
    """
    if plan.coupled:
        network = evolving._replace(state=evolving.state.reshape(plan.n_batch, plan.n_neurons))
        sim = plan.model.simulation
        matrices, history = coupling_arrays(plan.model, plan.channels, plan.W, coupling,
                                            evolving.state.dtype, dt=setup.dt,
                                            method=sim.method, n_batch=plan.n_batch)

        carried = tuple(history)  # what a replay restores besides the state

        def advance(step0: int, steps: int) -> None:
            run_network(step0, steps, setup, network, recording, matrices, history)
        kernels = [run_network]
    else:
        carried = ()
        schedule = schedule_units(setup, evolving)  # once: it depends on the parameters only
        kernels = kernels_used(schedule)

        def advance(step0: int, steps: int) -> None:
            run_uncoupled(step0, steps, setup, evolving, recording, schedule=schedule)

    if first_call_compiles(*kernels):
        plain, calls = advance, []

        def advance(step0: int, steps: int) -> None:  # noqa: F811 - the first call is told
            if calls:
                plain(step0, steps)
                return
            calls.append(step0)
            with _progress.phase(_COMPILING, enabled=progress):
                plain(step0, steps)

    if chunk_steps is None:  # whole multiples of the phasor resync interval: no re-rotation
        per_chunk = _CHUNK_UNIT_STEPS if plan.coupled else _UNCOUPLED_CHUNK_UNIT_STEPS
        chunk_steps = RESYNC * max(1, int(per_chunk / plan.n_units) // RESYNC)
    chunk = int(min(n_steps, chunk_steps))
    if plan.coupled and blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(blas_threads), user_api="blas"):
            _chunk_loop(advance, n_steps, chunk, progress, evolving, plan, setup, carried)
    else:
        _chunk_loop(advance, n_steps, chunk, progress, evolving, plan, setup, carried)


def _chunk_loop(advance, n_steps: int, chunk: int, progress: bool | None,
                evolving: Evolving, plan: Plan, setup: Setup, carried: tuple = ()) -> None:
    """Run the chunks; ``carried`` are the arrays besides state, OU noise and sums that a
    replay must restore (a network's History)."""
    bar = None
    started = time.perf_counter()
    step = 0
    try:
        while step < n_steps:
            steps = min(chunk, n_steps - step)
            before = _snapshot(evolving, carried)
            advance(step, steps)
            if np.any(evolving.fail >= 0):
                _raise_failure(plan, evolving, setup)
            if not np.all(np.isfinite(evolving.acc)):
                _raise_non_finite_sums(advance, evolving, before, step, steps, plan, setup.dt,
                                       carried)
            step += steps
            if bar is None and progress is not False and step < n_steps and (
                    progress or _progress.is_configured() is not False):
                elapsed = time.perf_counter() - started
                predicted = elapsed * n_steps / step
                if progress or predicted > _PROGRESS_AFTER:  # --quiet: configured False
                    bar = _progress.bar(n_steps, "simulate", unit="step", enabled=True,
                                        initial=step, unit_scale=True)
            elif bar is not None:
                bar.update(steps)
    finally:
        if bar is not None:
            bar.close()


def _raise_failure(plan: Plan, evolving: Evolving, setup: Setup) -> None:
    """SimulationError for the earliest failure: time, step, neuron, quantity and value."""
    fail = evolving.fail
    failed = np.flatnonzero(fail >= 0)
    u = failed[np.argmin(fail[failed])]
    b, i = divmod(int(u), plan.n_neurons)
    population = next(name for name, (lo, hi) in plan.model.offsets.items() if lo <= i < hi)
    where = f" of batch element {b}" if plan.n_batch > 1 else ""
    step = int(fail[u])
    at = f"at t = {step * setup.dt:.6g} s (step {step}) in neuron {i} (population " \
         f"{population!r}){where}"
    value = float(evolving.fail_value[u])
    if evolving.fail_what[u] == FAIL_RATE and np.isfinite(value):
        raise SimulationError(
            f"runaway rate {at}: rate = {value:.6g} Hz, |rate| > max_rate = "
            f"{setup.max_rate:.6g} Hz; check the coupling strength (a rate network is "
            "unstable when gain * ||W|| > 1 along an unstable direction) and the transfer's "
            "clipping (rate_max), or pass max_rate=math.inf to disable the check")
    quantity = "rate" if evolving.fail_what[u] == FAIL_RATE else "state"
    shown = "" if np.isnan(value) and quantity == "state" else f" ({quantity} = {value})"
    raise SimulationError(
        f"non-finite {quantity} {at}{shown}: the dynamics diverged; check the coupling "
        "strength (a rate network is unstable when gain * ||W|| > 1 along an unstable "
        "direction), the transfer's growth, and dt")


def _snapshot(evolving: Evolving, carried: tuple = ()) -> list[np.ndarray]:
    return [array.copy() for array in (evolving.state, evolving.ou, evolving.acc, *carried)]


def _restore(evolving: Evolving, saved: list[np.ndarray], carried: tuple = ()) -> None:
    for array, copy in zip((evolving.state, evolving.ou, evolving.acc, *carried), saved,
                           strict=True):
        array[...] = copy


def _raise_non_finite_sums(advance, evolving: Evolving, before, step0: int, steps: int,
                           plan: Plan, dt: float, carried: tuple = ()) -> None:
    """SimulationError naming the step, the unit and the statistics sum that overflowed
    while every rate stayed finite. The chunk ``[step0, step0 + steps)`` is replayed from
    its start in halves (results do not depend on the chunking), so the step is pinned in
    about two chunks' work."""
    low, high = step0, step0 + steps  # sums finite after step `low`, not after `high`
    while high - low > 1:
        middle = (low + high) // 2
        _restore(evolving, before, carried)
        advance(low, middle - low)
        if np.all(np.isfinite(evolving.acc)):
            before, low = _snapshot(evolving, carried), middle
        else:
            high = middle
    _restore(evolving, before, carried)
    advance(low, 1)
    unit, k = (int(i) for i in np.argwhere(~np.isfinite(evolving.acc))[0])
    rate = float(np.max(np.abs(evolving.state)))
    raise SimulationError(
        f"non-finite statistics at t = {low * dt:.6g} s (step {low}): {sum_name(k)} of "
        f"{unit_label(plan, unit)} overflowed although every rate stayed finite (largest "
        f"|state| {rate:.3g}); rescale the model (gain, threshold or drive near the float "
        "range, ~1.8e308)")
