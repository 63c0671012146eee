"""A slow, obviously correct NumPy re-implementation of the engine, for oracle tests.

It follows the equations of neurorect.kernels' docstring line by line, with no phasors
(``sin`` per step), no packing and no Numba; it uses the same counter-based normals.
"""

from __future__ import annotations

import math

import numpy as np

from neurorect._plan import compile_plan
from neurorect.kernels.layout import OU_SIGMA, OU_TAU, WHITE_SIGMA
from neurorect.kernels.random import normal_at


def drive_at(model, t: float) -> np.ndarray:
    """Deterministic drive of every neuron at time t."""
    out = []
    for pop in model.populations:
        out.append(model.drive(pop.name).deterministic(np.array([t]), pop.size)[0])
    return np.concatenate(out)


def reference_run(model, *, seed: int, method: str = "exp_euler"):
    """Return the rate trace (n_steps, N) of every step, computed naively."""
    sim = model.simulation
    dt = sim.dt
    n_steps = int(round(sim.duration / dt))
    plan = compile_plan(model, seed=seed)
    W = model.coupling_matrix() if model.connections else np.zeros((model.size,) * 2)
    neurons = model.neuron_arrays()
    transfers, taus, voltage = neurons.transfer, neurons.tau, neurons.voltage

    def phi(x):
        return np.array([f(v) for f, v in zip(transfers, x, strict=True)], dtype=float)

    def rates_of(x):
        return np.where(voltage, phi(x), x)

    def rhs(x, inp):
        return np.where(voltage, (-x + inp) / taus, (-x + phi(inp)) / taus)

    x = plan.init.copy()
    eta = plan.ou_init.copy()
    trace = np.empty((n_steps, model.size))
    for n in range(n_steps):
        t = n * dt
        r = rates_of(x)
        trace[n] = r
        drive = drive_at(model, t) + eta
        if method == "exp_euler":  # deterministic drive at the middle of the step
            drive = drive_at(model, t + dt / 2) + eta
            a = np.exp(-dt / taus)
            total = W @ r + drive
            target = np.where(voltage, total, phi(total))
            x = a * x + (1 - a) * target
        elif method == "euler":
            x = x + dt * rhs(x, W @ r + drive)
        else:
            mid = drive_at(model, t + dt / 2) + eta
            end = drive_at(model, t + dt) + eta
            k1 = rhs(x, W @ rates_of(x) + drive)
            k2 = rhs(x + dt / 2 * k1, W @ rates_of(x + dt / 2 * k1) + mid)
            k3 = rhs(x + dt / 2 * k2, W @ rates_of(x + dt / 2 * k2) + mid)
            k4 = rhs(x + dt * k3, W @ rates_of(x + dt * k3) + end)
            x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        noise_step(plan, x, eta, n, dt, taus, exact=method == "exp_euler")
    return trace


def noise_step(plan, x, eta, n: int, dt: float, taus, *, exact: bool) -> None:
    """Step n's noise, in place: white noise into the state ``x`` (its exact increment when
    ``exact``, the exponential methods, else Euler-Maruyama), the OU input ``eta`` exactly."""
    params = plan.params
    white = params[:, WHITE_SIGMA]
    if exact:
        white_b = white * np.sqrt((1 - np.exp(-2 * dt / taus)) / 2)
    else:
        white_b = white * np.sqrt(dt / taus)
    for u in range(x.size):
        if white[u] > 0:
            x[u] += white_b[u] * normal_at(plan.keys[u], n, 1)
        if params[u, OU_SIGMA] > 0:
            ou_tau = params[u, OU_TAU]
            eta[u] = (math.exp(-dt / ou_tau) * eta[u] + params[u, OU_SIGMA]
                      * math.sqrt(1 - math.exp(-2 * dt / ou_tau))
                      * normal_at(plan.keys[u], n, 0))
