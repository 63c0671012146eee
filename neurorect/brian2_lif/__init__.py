r"""The Brian2 bridge: populations of LIF neurons under the rate engine's drives.

Every condition (drive frequency x ``mu0`` x ``mu1`` x ``sigma`` ...) is a block of neurons
in ONE Brian2 ``NeuronGroup`` with per-neuron parameters, run once by an explicit
``brian2.Network`` (explicit namespace, no magic network, no ``defaultclock``). The spike
trains are analysed by :func:`neurorect.fourier.spike_harmonics`, the same code as for any
other spike train, and returned in the project's result schema. Brian2 units live only in
this subpackage: everything going in and coming out is an SI float. Importing it does not
import Brian2 (the runner does, when a simulation runs).

LIF convention (Brunel 2000)
----------------------------
.. math::  \tau_m \dot V = -V + \mu(t) + \sigma \sqrt{\tau_m}\, \xi(t),

voltages from rest, ``xi`` unit Gaussian white noise. In Brian2, whose ``xi`` has units
``s**-0.5``, this is ``dv/dt = (-v + mu(t))/tau_m + sigma*xi/sqrt(tau_m)``. Without threshold
the membrane is an Ornstein-Uhlenbeck process with mean ``mu`` and variance ``sigma**2 / 2``
(not ``sigma**2``: the classic factor-sqrt(2) trap between conventions). A spike is emitted
when ``V`` crosses ``v_th``; ``V`` is then clamped at ``v_reset`` for ``t_ref``.

The input ``mu(t)`` is the matched population's :class:`~neurorect.drive.Drive` in volts::

    mu(t) = I0 + I1 sin(2 pi freq t + phase) + steps + pulses + OU noise

A drive noise of kind ``"white"`` (``sigma_d sqrt(tau) xi`` with ``tau`` -> ``tau_m``) adds to
the LIF's own noise in quadrature, ``sigma = sqrt(sigma_lif**2 + sigma_d**2)``; one of kind
``"ou"`` is an independent Ornstein-Uhlenbeck process per neuron (stationary sd ``sigma_d``,
correlation time ``tau``, started in its stationary distribution) added to ``mu``.

Modules
-------
``conditions``
    Condition keys and grids, resolving conditions and the drive's other parts from a model,
    the threshold corrections (the sqrt(dt) bias, Siegmund's shift, the Brownian bridge) and
    :func:`effective_threshold`. No Brian2.
``equations``
    The Brian2 model as text and numbers: equations, threshold condition, per-neuron arrays,
    the refractory steps. No Brian2 import (units by name).
``runner``
    The only module that imports Brian2: builds and runs the network in this process
    (runtime targets) or in a C++ standalone child process.
``analysis``
    Spikes to the result schema: harmonics per condition, split standard errors, the
    condition coordinates and spike variables. No Brian2.
``populations``
    :func:`simulate_lif`: defaults, argument checks, the run spec, run and analysis.
``__main__``
    The standalone child's entry point, ``python -m neurorect.brian2_lif SPEC OUT PROJECT``.

``network``
    :func:`simulate_network`: Brunel's E-I network (the ``[lif_network]`` table), argument
    checks, run and analysis. No Brian2 import.
``network_runner``
    Builds and runs the network (imports Brian2 inside its functions): fixed in-degree
    connectivity, delays, external Poisson or white-noise input; the C++ standalone child,
    ``python -m neurorect.brian2_lif.network_runner SPEC OUT PROJECT``.
``network_analysis``
    Spikes to the result schema: rates, ISI CV, population spectrum, synchrony, gain and
    phase at every modulation frequency. No Brian2.

Internal interface
------------------
The *run spec* is the one thing that crosses from ``populations`` to ``equations`` and
``runner`` (and, as JSON, to the standalone child): a dict of SI floats with ``tau_m``,
``v_reset``, ``t_ref``, ``dt``, ``duration``, ``seed``, ``n_neurons`` (per condition),
``threshold_correction``, the per-condition lists ``mu0``, ``mu1``, ``freq``, ``phase``,
``sigma``, ``v_threshold``, the drive parts ``steps``, ``pulses``, ``ou_sigma``, ``ou_tau``
(:class:`conditions.DriveParts <neurorect.brian2_lif.conditions.DriveParts>`) and
``record_v``. The runner returns the *raw run*: ``spike_time`` (s), ``spike_neuron``,
``build_time``, ``run_time`` (s) and, with ``record_v``, ``v_time`` (s) and ``v`` (V), which
``analysis.analyse`` and ``analysis.add_run_data`` turn into the result. Shared names:
``conditions.{resolve_conditions, drive_parts, DriveParts, CONDITION_ATTRS,
CORRECTION_DESCRIPTIONS, BRIDGE_CUT}``, ``equations.{equations, threshold_condition,
per_neuron_values, refractory_steps, ARRAY_UNITS, PHASOR_CODE, RESET_CODE}``,
``runner.{run_network, run_runtime, run_standalone, standalone_main, brian2_version}``,
``analysis.{analyse, split_errors, add_run_data}``.
"""

from neurorect.brian2_lif.conditions import (
    CONDITION_KEYS,
    SIEGMUND_BETA,
    TARGETS,
    THRESHOLD_CORRECTIONS,
    condition_grid,
    effective_threshold,
)
from neurorect.brian2_lif.network import simulate_network
from neurorect.brian2_lif.populations import simulate_lif

__all__ = [
    "simulate_lif", "simulate_network", "condition_grid", "CONDITION_KEYS",
    "THRESHOLD_CORRECTIONS", "TARGETS", "SIEGMUND_BETA", "effective_threshold",
]
