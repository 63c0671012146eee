r"""Running the Brian2 network: runtime targets in this process, C++ standalone in a child.

The only module that imports Brian2 (inside its functions, so that importing
:mod:`neurorect.brian2_lif` stays light). :func:`run_network` builds one ``NeuronGroup``
from the run spec, with an explicit ``brian2.Network`` and namespace (no magic network, no
``defaultclock``), runs it on the current device and hands back SI arrays.

Reproducibility and global state
--------------------------------
``brian2.seed(seed)`` seeds Brian2's global random number generator (numpy's for the runtime
targets, randomkit's for C++ standalone); it is called immediately before ``Network.run``,
and the initial membrane potentials come from ``numpy.random.default_rng(seed)``, so a given
seed reproduces the same spikes on the same target. ``brian2.prefs.codegen.target`` is also
global: :func:`run_runtime` sets it for the run and restores it afterwards.
``"cpp_standalone"`` needs ``brian2.set_device``, which can be used only once per process,
so :func:`run_standalone` runs it in a fresh Python process (``python -m
neurorect.brian2_lif SPEC OUT PROJECT``, :func:`standalone_main`) that builds, compiles and
runs the C++ project and hands the spikes back; the first build compiles for tens of
seconds.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from neurorect.brian2_lif.equations import (
    ARRAY_UNITS,
    PHASOR_CODE,
    RESET_CODE,
    equations,
    per_neuron_values,
    refractory_steps,
    threshold_condition,
)
from neurorect.brian2_lif.standalone import child_main, run_in_child

__all__ = ["run_network", "run_runtime", "run_standalone", "standalone_main",
           "brian2_version"]


def _unit(b2, name: str):
    """The Brian2 unit of a unit name of :mod:`~neurorect.brian2_lif.equations`."""
    return {"volt": b2.volt, "second": b2.second, "Hz": b2.Hz, "volt**2": b2.volt**2,
            "1": 1}[name]


def run_network(spec: dict) -> dict[str, Any]:
    """Build and run the Brian2 network described by ``spec`` on the current device.

    Returns spike times (s), spike neuron indices, optionally the recorded potentials
    (``v_time``, s; ``v``, V), and wall-clock times (``build_time``, ``run_time``, s). The
    caller has selected the code-generation target or device.
    """
    import brian2 as b2

    started = time.perf_counter()
    second = b2.second
    model, constants = equations(spec)
    namespace: dict[str, Any] = {"tau_m": spec["tau_m"] * second,
                                 "v_reset": spec["v_reset"] * b2.volt}
    namespace.update({name: value * _unit(b2, unit)
                      for name, (value, unit) in constants.items()})
    dt = spec["dt"] * second
    n_total = spec["n_neurons"] * len(spec["mu0"])
    ref_steps, ref_frac = refractory_steps(spec["t_ref"], spec["dt"])
    namespace.update(ref_short=ref_steps * dt, ref_frac=ref_frac)
    group = b2.NeuronGroup(n_total, model, threshold=threshold_condition(spec),
                           reset=RESET_CODE, refractory="ref_period", method="euler", dt=dt,
                           namespace=namespace, name="neurorect_lif")
    group.ref_period = ref_steps * dt
    for name, values in per_neuron_values(spec).items():
        setattr(group, name, values * _unit(b2, ARRAY_UNITS[name]))
    # once per step before the state update: rotate the drive phasor to t_n (and keep the
    # potential at the start of the step for the Brownian bridge)
    clock_code = PHASOR_CODE
    if spec["threshold_correction"] == "bridge":
        clock_code = "v_prev = v\n" + clock_code
    objects: list[Any] = [group, group.run_regularly(clock_code, when="before_groups",
                                                     name="neurorect_lif_drive")]
    spikes = b2.SpikeMonitor(group, record=True, name="neurorect_lif_spikes")
    objects.append(spikes)
    voltage = None
    if spec["record_v"]:
        voltage = b2.StateMonitor(group, "v", record=True, dt=spec["record_v"] * second,
                                  name="neurorect_lif_v")
        objects.append(voltage)
    network = b2.Network(*objects, name="neurorect_lif_network")
    b2.seed(spec["seed"])  # global RNG state: seeded immediately before the run
    built = time.perf_counter()
    network.run(spec["duration"] * second, namespace={})
    finished = time.perf_counter()
    out = {"spike_time": np.asarray(spikes.t_, dtype=float).copy(),
           "spike_neuron": np.asarray(spikes.i_, dtype=np.int64).copy(),
           "build_time": built - started, "run_time": finished - built}
    if voltage is not None:
        out["v_time"] = np.asarray(voltage.t_, dtype=float).copy()
        out["v"] = np.asarray(voltage.v_, dtype=float).copy()
    return out


def run_runtime(spec: dict, target: str) -> dict[str, Any]:
    """:func:`run_network` with the runtime code-generation ``target`` (restored after)."""
    import brian2 as b2

    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        return run_network(spec)
    finally:
        b2.prefs.codegen.target = previous


def run_standalone(spec: dict, directory: str | os.PathLike | None) -> dict[str, Any]:
    """Run ``spec`` with the C++ standalone device in a fresh Python process.

    ``directory`` is the project directory (default: a temporary one, deleted afterwards).
    Raises NeurorectError with the tail of the child's output if the build or run fails.
    """
    return run_in_child("neurorect.brian2_lif", spec, directory)


def standalone_main(argv: list[str]) -> int:
    """Entry point of the child process: ``spec.json result.npz project_dir``."""
    return child_main(argv, run_network)


def brian2_version() -> str:
    """The installed Brian2 version."""
    import brian2

    return str(brian2.__version__)
