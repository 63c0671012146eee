"""A slow, obviously correct NumPy loop for coupled networks with delays and synaptic filters.

It follows the equations of ``neurorect.kernels.network`` line by line: the whole history of
rates is a Python list (``r(t) = r(0)`` before t = 0), every channel's input is recomputed
from that history as ``W_k @ r`` each time it is needed (no ring buffer, no stored
products), the drive is a ``sin`` per step, and the noise comes from the same counter-based
normals as the engine.
"""

from __future__ import annotations

import math

import numpy as np
from oracle import drive_at, noise_step

from neurorect._plan import compile_plan


def network_reference(model, *, seed: int, method: str):
    """The rate trace (n_steps, N) of ``model`` under ``method`` ("exp_euler", "exp_ab2",
    "euler"), computed naively."""
    sim = model.simulation
    dt = sim.dt
    n_steps = int(round(sim.duration / dt))
    plan = compile_plan(model, seed=seed)
    W, delay, tau_syn = model.coupling_channels()
    steps = [int(round(d / dt)) for d in delay]
    neurons = model.neuron_arrays()
    taus, voltage = neurons.tau, neurons.voltage

    def phi(x):
        return np.array([f(v) for f, v in zip(neurons.transfer, x, strict=True)])

    def rates_of(x):
        return np.where(voltage, phi(x), x)

    def target(total):  # what the state relaxes to under the input ``total``
        return np.where(voltage, total, phi(total))

    x = plan.init.copy()
    eta = plan.ou_init.copy()
    a = np.exp(-dt / taus)
    history = [rates_of(x)]

    def past(m):  # r_m, with r(t) = r(0) for t < 0
        return history[max(m, 0)]

    synaptic = [W[k] @ history[0] for k in range(len(steps))]
    trace = np.empty((n_steps, model.size))
    for n in range(n_steps):
        trace[n] = history[n]
        t = n * dt
        mid_drive = drive_at(model, t + dt / 2) + eta
        inputs = np.zeros(model.size)
        for k, d in enumerate(steps):
            if method == "exp_ab2":
                if d >= 1:  # the middle of the step lies between two known past rates
                    c = 0.5 * (W[k] @ past(n - d) + W[k] @ past(n - d + 1))
                elif n >= 1:
                    c = 1.5 * W[k] @ history[n] - 0.5 * W[k] @ history[n - 1]
                else:  # start: trapezoid with an exponential-Euler prediction of r_1
                    c = 0.5 * (W[k] @ history[0] + W[k] @ _predicted(
                        model, W, x, a, mid_drive, target, rates_of, history[0]))
            else:
                c = W[k] @ past(n - d)
            if tau_syn[k] > 0:
                s = synaptic[k]
                if method == "euler":
                    s_next = s + dt / tau_syn[k] * (c - s)
                else:
                    b = math.exp(-dt / tau_syn[k])
                    s_next = b * s + (1 - b) * c
                c = 0.5 * (s + s_next) if method == "exp_ab2" else s
                synaptic[k] = s_next
            inputs += c
        if method == "euler":
            drive = drive_at(model, t) + eta
            x = x + dt * (-x + target(inputs + drive)) / taus
        else:
            x = a * x + (1 - a) * target(inputs + mid_drive)
        noise_step(plan, x, eta, n, dt, taus, exact=method != "euler")
        history.append(rates_of(x))
    return trace


def _predicted(model, W, x, a, mid_drive, target, rates_of, r0):
    """Rates after one exponential-Euler step with every channel held at ``W_k r_0``."""
    held = sum(W[k] @ r0 for k in range(W.shape[0]))
    return rates_of(a * x + (1 - a) * target(held + mid_drive))


