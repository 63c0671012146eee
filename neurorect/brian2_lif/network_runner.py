r"""Building and running Brunel's E-I network in Brian2 (the only network module that imports
Brian2, inside its functions).

One ``NeuronGroup`` holds the ``N_E + N_I`` neurons (E first), two ``Synapses`` objects the
excitatory and inhibitory connections (fixed in-degree, drawn by :func:`fixed_in_degree`
from the connectivity seed with numpy, so that every target builds the same network), one
``SpikeMonitor`` every spike; an explicit ``brian2.Network`` and namespace (no magic
network, no ``defaultclock``). The *network spec* is a JSON-serialisable dict of SI floats
(see :func:`neurorect.brian2_lif.network.simulate_network`), so that the C++ standalone
device can run it in a fresh process (``python -m neurorect.brian2_lif.network_runner SPEC
OUT PROJECT``).

Timing within a step (Brian2's schedule: state update, thresholds, synapses, resets)
------------------------------------------------------------------------------------
A spike is stamped with the clock time ``t`` of the step whose threshold check saw it;
a jump of ``v`` in the synapses slot of step ``t`` acts after that step's state update,
i.e. at ``t + dt``, and is seen by the threshold check of the next step, stamped ``t + dt``:
the stamp is the time of the jump that caused the spike. A recurrent spike stamped ``t_s``
is delivered ``delay`` later in the synapses slot, acting at ``t_s + delay + dt``: Brian2's
delay is therefore ``D - dt``, so that spikes act exactly ``D`` after the spike that
caused them. The external Poisson input is added in the same slot (``poisson`` counts of
``C_E nu_ext(t + dt) dt``, the rate at the time the jump acts). Inputs, recurrent and
external, are ignored during the refractory period (``int(not_refractory)``), as in Brunel
(2000): the neuron is clamped at the reset.

With ``external = "white"`` the external input is ``mu_ext(t) dt / tau_m + sigma_ext(t)
sqrt(dt / tau_m) xi`` per step (Euler-Maruyama, as the single-population bridge; its
stationary variance is high by ``dt / (4 tau_m)``, 0.1 % at ``dt = 0.1 ms``), and the
threshold uses the Brownian-bridge crossing probability of the diffusive part within each
step (the sqrt(dt) handling of :mod:`neurorect.brian2_lif.conditions`).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from neurorect.brian2_lif.conditions import BRIDGE_CUT
from neurorect.brian2_lif.standalone import child_main, run_in_child

__all__ = ["fixed_in_degree", "external_rate", "run_network_spec", "run_network_runtime",
           "run_network_standalone", "standalone_main"]

_CHUNK = 256  # post neurons per block of the connectivity draw


def fixed_in_degree(n_post: int, pre_start: int, n_pre: int, k: int, *, post_start: int = 0,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pre and post indices: every post neuron gets ``k`` distinct pre neurons, no autapses.

    Post neurons are ``post_start ... post_start + n_post - 1``, pre neurons
    ``pre_start ... pre_start + n_pre - 1`` (indices of the one NeuronGroup). For each post
    neuron the ``k`` pre neurons with the smallest of ``n_pre`` uniform draws are taken (a
    uniform sample without replacement); a neuron's own index gets no draw. Returns int32
    arrays ``(pre, post)`` of length ``n_post * k``.
    """
    pre_parts, post_parts = [], []
    for first in range(0, n_post, _CHUNK):
        post = np.arange(post_start + first, post_start + min(first + _CHUNK, n_post))
        draws = rng.random((post.size, n_pre))
        own = post - pre_start
        mine = (own >= 0) & (own < n_pre)
        draws[np.flatnonzero(mine), own[mine]] = 2.0  # never chosen (draws are < 1)
        chosen = np.argpartition(draws, k - 1, axis=1)[:, :k]
        pre_parts.append((chosen + pre_start).ravel())
        post_parts.append(np.repeat(post, k))
    if not pre_parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return (np.concatenate(pre_parts).astype(np.int32),
            np.concatenate(post_parts).astype(np.int32))


def external_rate(spec: dict, times: np.ndarray) -> np.ndarray:
    """External rate per source at ``times`` (Hz): ``nu_ext (1 + depth sum_k sin(2 pi f_k t))``."""
    rate = np.full(times.shape, spec["nu_ext"], dtype=float)
    for f in spec["mod_freqs"]:
        rate += spec["nu_ext"] * spec["mod_depth"] * np.sin(2 * np.pi * f * times)
    return rate


def _inputs(b2, spec: dict, namespace: dict) -> tuple[str, str]:
    """Equations and the per-step external-input code; fills ``namespace``."""
    dt, n_steps = spec["dt"], int(round(spec["duration"] / spec["dt"]))
    # the rate that acts in the synapses slot of step n acts at t_n + dt
    rate = external_rate(spec, (np.arange(n_steps + 1) + 1) * dt)
    if spec["external"] == "poisson":
        namespace["lam_ext"] = b2.TimedArray(spec["C_E"] * rate * dt, dt=dt * b2.second)
        return ("dv/dt = -v/tau_m : volt (unless refractory)",
                "v += J*int(not_refractory)*poisson(lam_ext(t))")
    rate = external_rate(spec, np.arange(n_steps + 1) * dt)  # the state update covers [t, t+dt)
    mu = spec["C_E"] * spec["J"] * spec["tau_m"] * rate
    sigma = np.sqrt(spec["C_E"] * spec["J"] ** 2 * spec["tau_m"] * rate)
    namespace["mu_ext"] = b2.TimedArray(mu * b2.volt, dt=dt * b2.second)
    namespace["sigma_ext"] = b2.TimedArray(sigma * b2.volt, dt=dt * b2.second)
    return ("dv/dt = (-v + mu_ext(t))/tau_m + sigma_ext(t)*xi/sqrt(tau_m) : volt "
            "(unless refractory)\nv_prev : volt", "")


def run_network_spec(spec: dict, report: Any = None) -> dict[str, Any]:
    """Build and run the network of ``spec`` on the current Brian2 device; SI arrays out.

    ``report`` is a ``brian2.Network.run`` report callable (runtime targets). Returns
    ``spike_time`` (s), ``spike_neuron``, ``build_time`` and ``run_time`` (s).
    """
    import brian2 as b2

    started = time.perf_counter()
    volt, second = b2.volt, b2.second
    dt = spec["dt"] * second
    n_e, n_i = spec["N_E"], spec["N_I"]
    namespace: dict[str, Any] = {
        "tau_m": spec["tau_m"] * second, "v_th": spec["v_th"] * volt,
        "v_reset": spec["v_reset"] * volt, "J": spec["J"] * volt,
        "J_E": spec["J"] * volt, "J_I": -spec["g"] * spec["J"] * volt,
    }
    model, external = _inputs(b2, spec, namespace)
    white = spec["external"] == "white"
    threshold = "v > v_th"
    if white:  # Brownian-bridge crossing of the diffusive part within the step
        var = "(sigma_ext(t)**2*dt/tau_m)"
        gap = "(v_th - v_prev)*(v_th - v)"
        threshold = (f"v > v_th or ({gap} < {BRIDGE_CUT / 2:g}*{var} and "
                     f"rand() < exp(-2*{gap}/{var}))")
    group = b2.NeuronGroup(n_e + n_i, model, threshold=threshold, reset="v = v_reset",
                           refractory=spec["t_ref"] * second,
                           method="euler" if white else "exact", dt=dt,
                           namespace=namespace, name="brunel_neurons")
    rng = np.random.default_rng(spec["seed"])
    group.v = rng.uniform(0.0, spec["v_th"], n_e + n_i) * volt
    objects: list[Any] = [group]
    if white:
        objects.append(group.run_regularly("v_prev = v", when="before_groups",
                                           name="brunel_bridge"))
        group.v_prev = group.v[:]
    else:
        objects.append(group.run_regularly(external, when="synapses", order=1,
                                           name="brunel_external"))
    connect_rng = np.random.default_rng(spec["connectivity_seed"])
    delay = (spec["delay_steps"] - 1) * dt  # acts D after the spike (module docstring)
    for name, pre_start, n_pre, k, weight in (("E", 0, n_e, spec["C_E"], "J_E"),
                                              ("I", n_e, n_i, spec["C_I"], "J_I")):
        if k == 0:
            continue
        pre, post = fixed_in_degree(n_e + n_i, pre_start, n_pre, k, rng=connect_rng)
        synapses = b2.Synapses(group, group, on_pre=f"v_post += {weight}*int("
                                                    "not_refractory_post)",
                               delay=delay, namespace=namespace, dt=dt,
                               name=f"brunel_synapses_{name}")
        synapses.connect(i=pre, j=post)
        objects.append(synapses)
    spikes = b2.SpikeMonitor(group, record=True, name="brunel_spikes")
    objects.append(spikes)
    network = b2.Network(*objects, name="brunel_network")
    b2.seed(spec["seed"])  # global RNG state: seeded immediately before the run
    built = time.perf_counter()
    kwargs = {"report": report, "report_period": 1.0 * second} if report is not None else {}
    network.run(spec["duration"] * second, namespace={}, **kwargs)
    finished = time.perf_counter()
    return {"spike_time": np.asarray(spikes.t_, dtype=float).copy(),
            "spike_neuron": np.asarray(spikes.i_, dtype=np.int64).copy(),
            "build_time": built - started, "run_time": finished - built}


def run_network_runtime(spec: dict, target: str, report: Any = None) -> dict[str, Any]:
    """:func:`run_network_spec` with the runtime code-generation ``target`` (restored)."""
    import brian2 as b2

    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        return run_network_spec(spec, report)
    finally:
        b2.prefs.codegen.target = previous


def run_network_standalone(spec: dict, directory: str | None, threads: int) -> dict[str, Any]:
    """Run ``spec`` with the C++ standalone device (``threads`` OpenMP threads) in a fresh
    Python process; NeurorectError with the tail of its output if the build or run fails."""
    return run_in_child("neurorect.brian2_lif.network_runner",
                        {**spec, "openmp_threads": threads}, directory, what="network run")


def standalone_main(argv: list[str]) -> int:
    """Entry point of the child process: ``spec.json result.npz project_dir``."""
    return child_main(argv, run_network_spec)


if __name__ == "__main__":
    sys.exit(standalone_main(sys.argv[1:]))
