"""Run the kernels chunk by chunk: progress bar, non-finite states, BLAS threads.

A run is cut into chunks of whole multiples of ``RESYNC`` steps (results do not depend on
the chunking; chunks give the progress bar its granularity and stop a diverging run early).
An uncoupled chunk whose block path flagged a non-finite unit is rerun on the per-unit path,
which pins the exact step for the error message.
"""

from __future__ import annotations

import time

import numpy as np

from neurorect._coupling import coupling_arrays
from neurorect._plan import Plan
from neurorect.errors import SimulationError
from neurorect.kernels.layout import RESYNC, Evolving, Recording, Setup
from neurorect.kernels.network import run_network
from neurorect.kernels.uncoupled import run_uncoupled

__all__ = ["run_in_chunks"]

_CHUNK_UNIT_STEPS = 2e7  # unit-steps per chunk (~0.05-0.1 s of work): progress granularity
_PROGRESS_AFTER = 2.0  # s: show a progress bar when a run is predicted to take longer


def run_in_chunks(plan: Plan, setup: Setup, evolving: Evolving, recording: Recording,
                  n_steps: int, *, coupling: str, blas_threads: int | None,
                  chunk_steps: int | None, progress: bool | None) -> None:
    """Advance ``evolving`` (state of shape (U,)) and fill ``recording`` over ``n_steps``.

    ``coupling`` is the mode of :func:`neurorect._coupling.coupling_arrays`;
    ``blas_threads`` limits BLAS during a coupled run (None: leave it). Raises
    SimulationError at a non-finite state.
    """
    if plan.coupled:
        network = evolving._replace(state=evolving.state.reshape(plan.n_batch, plan.n_neurons))
        sim = plan.model.simulation
        matrices, history = coupling_arrays(plan.model, plan.channels, plan.W, coupling,
                                            evolving.state.dtype, dt=setup.dt,
                                            method=sim.method, n_batch=plan.n_batch)

        def advance(step0: int, steps: int) -> None:
            run_network(step0, steps, setup, network, recording, matrices, history)
    else:
        def advance(step0: int, steps: int) -> None:
            before = (evolving.state.copy(), evolving.ou.copy(), evolving.acc.copy())
            run_uncoupled(step0, steps, setup, evolving, recording)
            if np.any(evolving.fail >= 0):  # pin the step: rerun the chunk on the per-unit path
                evolving.state[:], evolving.ou[:], evolving.acc[:] = before
                evolving.fail[:] = -1
                run_uncoupled(step0, steps, setup, evolving, recording, True)

    if chunk_steps is None:  # whole multiples of the phasor resync interval: no re-rotation
        chunk_steps = RESYNC * max(1, int(_CHUNK_UNIT_STEPS / plan.n_units) // RESYNC)
    chunk = int(min(n_steps, chunk_steps))
    if plan.coupled and blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(blas_threads), user_api="blas"):
            _chunk_loop(advance, n_steps, chunk, progress, evolving.fail, plan, setup.dt)
    else:
        _chunk_loop(advance, n_steps, chunk, progress, evolving.fail, plan, setup.dt)


def _chunk_loop(advance, n_steps: int, chunk: int, progress: bool | None, fail: np.ndarray,
                plan: Plan, dt: float) -> None:
    from tqdm.auto import tqdm

    bar = None
    started = time.perf_counter()
    step = 0
    try:
        while step < n_steps:
            steps = min(chunk, n_steps - step)
            advance(step, steps)
            step += steps
            if np.any(fail >= 0):
                _raise_non_finite(plan, fail, dt)
            if bar is None and progress is not False and step < n_steps:
                elapsed = time.perf_counter() - started
                predicted = elapsed * n_steps / step
                if progress or predicted > _PROGRESS_AFTER:
                    bar = tqdm(total=n_steps, initial=step, unit="step", unit_scale=True,
                               desc="simulate", leave=False)
            elif bar is not None:
                bar.update(steps)
    finally:
        if bar is not None:
            bar.close()


def _raise_non_finite(plan: Plan, fail: np.ndarray, dt: float) -> None:
    failed = np.flatnonzero(fail >= 0)
    u = failed[np.argmin(fail[failed])]
    b, i = divmod(int(u), plan.n_neurons)
    population = next(name for name, (lo, hi) in plan.model.offsets.items() if lo <= i < hi)
    where = f" of batch element {b}" if plan.n_batch > 1 else ""
    raise SimulationError(
        f"non-finite state at t = {fail[u] * dt:.6g} s (step {fail[u]}) in neuron {i} "
        f"(population {population!r}){where}: the dynamics diverged; check the coupling "
        "strength (a rate network is unstable when gain * ||W|| > 1 along an unstable "
        "direction), the transfer's growth, and dt")
