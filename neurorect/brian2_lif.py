r"""The Brian2 bridge: populations of LIF neurons under the rate engine's drives.

Every condition (drive frequency x ``mu0`` x ``mu1`` x ``sigma`` ...) is a block of neurons
in ONE Brian2 ``NeuronGroup`` with per-neuron parameters, run once by an explicit
``brian2.Network`` (explicit namespace, no magic network, no ``defaultclock``). The spike
trains are analysed by :func:`neurorect.fourier.spike_harmonics`, the same code as for any
other spike train, and returned in the project's result schema. Brian2 units live only in
this module: everything going in and coming out is an SI float.

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

Integration is Brian2's Euler-Maruyama (``method="euler"``) at the step ``dt``; the sinusoid
advances by a rotating phasor (one complex multiply per neuron and step, in an operation
scheduled before the state update) rather than a ``sin`` per neuron and step. The dead time
after a spike averages ``t_ref`` (see :func:`_refractory_steps`: a fixed ``t_ref / dt`` steps
would make it ``t_ref - dt/2`` and raise rates by ``r**2 dt / 2``).

The sqrt(dt) threshold bias and its correction
----------------------------------------------
Checking ``v > v_th`` only on the time grid misses the excursions above threshold that a
continuous path makes between two grid points, so LIF rates come out too low by a term of
order ``sqrt(dt)`` (-4.5 % at ``dt = 0.05 ms`` and -9 % at 0.2 ms for ``mu = 15 mV``,
``sigma = 5 mV``, ``tau_m = 20 ms``). ``threshold_correction`` selects the handling:

``"bridge"`` (default)
    Brownian-bridge crossing within each step: if the path stayed below threshold at both
    ends of a step, ``v_n`` and ``v_{n+1}``, it crossed in between with probability
    ``exp(-2 (v_th - v_n)(v_th - v_{n+1}) / s**2)``, ``s**2 = sigma**2 dt / tau_m`` the
    variance of the noise increment; a spike is emitted with that probability (a ``rand()``
    is drawn only for neurons close enough to threshold for the probability to exceed
    ``exp(-48)``). Exact for a Brownian motion with constant drift within the step.
``"shift"``
    The discrete-monitoring correction of Siegmund (Broadie, Glasserman & Kou 1997): the
    grid threshold is lowered by ``beta sigma sqrt(dt / tau_m)``, ``beta = -zeta(1/2) /
    sqrt(2 pi) = 0.5826``, so that the discretely monitored path crosses as often as the
    continuous one does at ``v_th``. Free, asymptotic in ``dt``.
``None``
    No correction (the plain Brian2 model).

Measured at ``mu = 15 mV``, ``sigma = 5 mV``, ``dt = 0.05 ms`` (Siegert 9.461 Hz; 8000
neurons x 2 s, standard error 0.020 Hz): ``None`` 9.033 Hz (-4.5 %, -22 SE), ``"shift"``
9.487 Hz (+0.27 %, +1.3 SE), ``"bridge"`` 9.485 Hz (+0.25 %, +1.2 SE). Both corrections
remove the bias to within the O(dt) error of Euler-Maruyama (its membrane variance is
inflated by ``1 / (1 - dt / (2 tau_m))``, +0.12 % in rate here); at ``dt = 0.2 ms`` they
leave +0.35 % to +0.8 % (bridge) and +0.5 % (shift), against -9.1 % uncorrected. The
correction in use and the threshold actually applied (``v_threshold``) are recorded in the
result.

Spike times
-----------
Brian2 stamps a spike with the start ``t_n`` of the step in which the crossing was detected
(the crossing happened in ``(t_n, t_n + dt]``); Euler evaluates the drive at ``t_n``, which
delays it by ``dt / 2`` on average against the exact integral over the step. The two half
steps cancel to first order, so the stamps are used as they are (no phase bias of order
``f dt``).

Reproducibility and global state
--------------------------------
``brian2.seed(seed)`` seeds Brian2's global random number generator (numpy's for the runtime
targets, randomkit's for C++ standalone); it is called inside :func:`simulate_lif`
immediately before ``Network.run``, and the initial membrane potentials come from
``numpy.random.default_rng(seed)``, so a given seed reproduces the same spikes on the same
target. ``brian2.prefs.codegen.target`` is also global: it is set for the run and restored
afterwards. ``"cpp_standalone"`` needs ``brian2.set_device``, which can be used only once per
process, so it runs in a fresh Python process (``python -m neurorect.brian2_lif``) that
builds, compiles and runs the C++ project and hands the spikes back; the first build
compiles for tens of seconds.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorect import fourier
from neurorect._version import __version__
from neurorect.drive import Drive
from neurorect.errors import ModelError, NeurorectError
from neurorect.modelfile import dumps_model
from neurorect.spec import LIFNeuron, Model

__all__ = [
    "simulate_lif", "condition_grid", "CONDITION_KEYS", "THRESHOLD_CORRECTIONS", "TARGETS",
    "SIEGMUND_BETA", "effective_threshold",
]

#: Per-condition parameters: drive mean and amplitude (V), frequency (Hz), drive phase (rad),
#: LIF noise amplitude (V).
CONDITION_KEYS = ("mu0", "mu1", "freq", "phase", "sigma")
THRESHOLD_CORRECTIONS = ("bridge", "shift", None)
TARGETS = ("cython", "numpy", "cpp_standalone")
#: ``-zeta(1/2) / sqrt(2 pi)``: Siegmund's discrete-monitoring barrier shift (units of the
#: per-step noise standard deviation).
SIEGMUND_BETA = 0.5825971579390106
#: Bridge probabilities below exp(-_BRIDGE_CUT / 2) are not sampled (no rand() drawn).
_BRIDGE_CUT = 48.0

_UNITS = {"mu0": ("V", "mean input mu0"), "mu1": ("V", "sinusoid amplitude mu1"),
          "freq": ("Hz", "drive frequency"), "phase": ("rad", "drive phase at t = 0"),
          "sigma": ("V", "noise amplitude sigma (free membrane sd sigma/sqrt(2))")}


# --------------------------------------------------------------------------------------------
# conditions
# --------------------------------------------------------------------------------------------

def condition_grid(**axes) -> dict[str, np.ndarray]:
    """All combinations of the given condition axes, flattened (last axis fastest).

    Parameters
    ----------
    **axes : float or array_like
        Any of ``mu0``, ``mu1`` (V), ``freq`` (Hz), ``phase`` (rad), ``sigma`` (V).

    Returns
    -------
    dict of str to ndarray
        One flat array per axis, all of length ``prod(len(axis))``: the ``conditions``
        argument of :func:`simulate_lif`.

    Examples
    --------
    >>> grid = condition_grid(freq=[5.0, 10.0], mu0=[0.015, 0.02])
    >>> grid["freq"], grid["mu0"]
    (array([ 5.,  5., 10., 10.]), array([0.015, 0.02 , 0.015, 0.02 ]))
    """
    for key in axes:
        if key not in CONDITION_KEYS:
            raise ModelError("unknown condition axis", key=key, value=axes[key],
                             allowed=", ".join(CONDITION_KEYS))
    arrays = [np.atleast_1d(np.asarray(v, dtype=float)).ravel() for v in axes.values()]
    mesh = np.meshgrid(*arrays, indexing="ij") if arrays else []
    return {key: m.ravel() for key, m in zip(axes, mesh, strict=True)}


def _drive_value(drive: Drive, name: str) -> np.ndarray:
    value = getattr(drive, name)
    return np.atleast_1d(np.asarray(value, dtype=float))


def _resolve_conditions(lif: LIFNeuron, drive: Drive,
                        conditions: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    """Per-condition arrays of CONDITION_KEYS (broadcast to one length C)."""
    conditions = dict(conditions or {})
    for key in conditions:
        if key not in CONDITION_KEYS:
            raise ModelError("unknown condition parameter", key=f"conditions.{key}",
                             value=conditions[key], allowed=", ".join(CONDITION_KEYS))
    defaults = {"mu0": _drive_value(drive, "I0"), "mu1": _drive_value(drive, "I1"),
                "freq": _drive_value(drive, "freq"), "phase": _drive_value(drive, "phase"),
                "sigma": np.array([lif.sigma])}
    values = {}
    for key in CONDITION_KEYS:
        raw = conditions.get(key, defaults[key])
        arr = np.atleast_1d(np.asarray(raw, dtype=float))
        if arr.ndim != 1 or arr.size == 0:
            raise ModelError("must be a number or a flat, non-empty list",
                             key=f"conditions.{key}", value=raw, allowed="one value per condition")
        values[key] = arr
    sizes = {arr.size for arr in values.values()} - {1}
    if len(sizes) > 1:
        raise ModelError("condition arrays have different lengths",
                         key="conditions", value={k: v.size for k, v in values.items()},
                         allowed="scalars and arrays of one common length (see condition_grid)")
    n_cond = sizes.pop() if sizes else 1
    out = {k: np.broadcast_to(v, (n_cond,)).astype(float) for k, v in values.items()}
    for key in CONDITION_KEYS:
        if not np.all(np.isfinite(out[key])):
            raise ModelError("must be finite", key=f"conditions.{key}",
                             value=out[key].tolist(), allowed="finite numbers")
    for key in ("mu1", "freq", "sigma"):
        if np.any(out[key] < 0):
            raise ModelError("must be >= 0", key=f"conditions.{key}",
                             value=float(out[key][out[key] < 0][0]),
                             allowed=f"{key} >= 0 (a negative amplitude is a phase shift of pi)"
                             if key == "mu1" else f"{key} >= 0")
    return out


def effective_threshold(v_th: float, sigma, *, dt: float, tau_m: float,
                        threshold_correction: str | None) -> np.ndarray:
    """The threshold the Brian2 group applies on the time grid (V).

    ``v_th - SIEGMUND_BETA * sigma * sqrt(dt / tau_m)`` for ``"shift"``, ``v_th`` otherwise.

    Parameters
    ----------
    v_th : float
        Threshold of the continuous-time model, V.
    sigma : float or array_like
        Noise amplitude, V.
    dt, tau_m : float
        Time step and membrane time constant, s.
    threshold_correction : {"bridge", "shift", None}
    """
    sigma = np.asarray(sigma, dtype=float)
    if threshold_correction == "shift":
        return v_th - SIEGMUND_BETA * sigma * math.sqrt(dt / tau_m)
    return np.full(sigma.shape, float(v_th))


# --------------------------------------------------------------------------------------------
# the Brian2 network (runs in this process or in a standalone child process)
# --------------------------------------------------------------------------------------------

def _equations(spec: dict) -> tuple[str, dict[str, float]]:
    """Model equations and the shared constants (SI floats, named for the namespace)."""
    terms = ["mu0", "mu1*sin_ph"]
    constants: dict[str, float] = {}
    for k, (start, amplitude, stop) in enumerate(spec["steps"]):
        constants.update({f"step_start_{k}": start, f"step_amp_{k}": amplitude})
        window = f"t >= step_start_{k}"
        if math.isfinite(stop):
            constants[f"step_stop_{k}"] = stop
            window += f" and t < step_stop_{k}"
        terms.append(f"step_amp_{k}*int({window})")
    for k, (start, period, width, amplitude, stop) in enumerate(spec["pulses"]):
        constants.update({f"pulse_start_{k}": start, f"pulse_period_{k}": period,
                          f"pulse_width_{k}": width, f"pulse_amp_{k}": amplitude})
        window = (f"t >= pulse_start_{k} and (t - pulse_start_{k}) % pulse_period_{k} "
                  f"< pulse_width_{k}")
        if math.isfinite(stop):
            constants[f"pulse_stop_{k}"] = stop
            window += f" and t < pulse_stop_{k}"
        terms.append(f"pulse_amp_{k}*int({window})")
    lines = [
        "dv/dt = (-v + mu_in)/tau_m + sigma*xi_v/sqrt(tau_m) : volt (unless refractory)",
        "mu0 : volt (constant)",
        "mu1 : volt (constant)",
        "freq : Hz (constant)",
        "drive_phase : 1 (constant)",
        "sin_ph : 1",
        "cos_ph : 1",
        "sin_step : 1 (constant)",
        "cos_step : 1 (constant)",
        "sigma : volt (constant)",
        "v_thr : volt (constant)",
        "ref_period : second",
    ]
    if spec["ou_sigma"] > 0:
        terms.append("eta")
        constants.update(ou_sigma=spec["ou_sigma"], ou_tau=spec["ou_tau"])
        lines.append("deta/dt = -eta/ou_tau + ou_sigma*sqrt(2/ou_tau)*xi_ou : volt")
    lines.insert(1, "mu_in = " + " + ".join(terms) + " : volt")
    if spec["threshold_correction"] == "bridge":
        lines += ["v_prev : volt", "bridge_var : volt**2 (constant)"]
    return "\n".join(lines), constants


def _threshold(spec: dict) -> str:
    if spec["threshold_correction"] != "bridge":
        return "v > v_thr"
    gap = "(v_thr - v_prev)*(v_thr - v)"
    return (f"v > v_thr or ({gap} < {_BRIDGE_CUT / 2:g}*bridge_var and "
            f"rand() < exp(-2*{gap}/bridge_var))")


def _neuron_arrays(spec: dict) -> dict[str, np.ndarray]:
    """Per-neuron parameter arrays (SI) and initial values, from the per-condition spec."""
    n = spec["n_neurons"]
    cond = np.repeat(np.arange(len(spec["mu0"])), n)
    rng = np.random.default_rng(spec["seed"])
    v_thr = np.asarray(spec["v_threshold"])[cond]
    out = {name: np.asarray(spec[name])[cond] for name in ("mu0", "mu1", "freq", "sigma")}
    out["drive_phase"] = np.asarray(spec["phase"])[cond]
    # the sinusoid advances by a rotating phasor (one complex multiply per step, in the
    # drive-clock operation before the state update) instead of a sin() per neuron per step;
    # it starts one step back so that the first rotation gives sin(phase) at t = 0
    step = 2.0 * np.pi * out["freq"] * spec["dt"]
    out["sin_step"], out["cos_step"] = np.sin(step), np.cos(step)
    out["sin_ph"] = np.sin(out["drive_phase"] - step)
    out["cos_ph"] = np.cos(out["drive_phase"] - step)
    out["v_thr"] = v_thr
    # initial potentials: a sample of the free membrane (mean mu0, sd sigma/sqrt(2)) where it
    # lies below threshold, else uniform between reset and threshold; the transient removes
    # what remains of the initial condition
    free = out["mu0"] + out["sigma"] / math.sqrt(2.0) * rng.standard_normal(cond.size)
    spread = spec["v_reset"] + (v_thr - spec["v_reset"]) * rng.random(cond.size)
    out["v"] = np.where(free < v_thr, free, spread)
    if spec["ou_sigma"] > 0:
        out["eta"] = spec["ou_sigma"] * rng.standard_normal(cond.size)
    if spec["threshold_correction"] == "bridge":
        out["bridge_var"] = out["sigma"] ** 2 * spec["dt"] / spec["tau_m"]
        out["v_prev"] = out["v"].copy()
    return out


def _refractory_steps(t_ref: float, dt: float) -> tuple[int, float]:
    """Steps ``k`` and probability ``p`` of one more step so that the dead time averages t_ref.

    A spike stamped ``t_n`` crossed threshold at ``t_n + dt/2`` on average and integration
    resumes at ``t_n + k dt``: the dead time is ``k dt - dt/2``. Holding for ``k + 1`` steps
    with probability ``p`` makes its mean ``t_ref`` (for ``t_ref >= dt/2``), instead of the
    ``t_ref - dt/2`` of a fixed ``t_ref / dt`` steps, which would raise rates by
    ``r**2 dt / 2`` (0.17 % at 66 Hz and dt = 0.05 ms).
    """
    mean_steps = max(t_ref / dt + 0.5, 1.0)
    steps = int(math.floor(mean_steps + 1e-9))
    return steps, float(min(max(mean_steps - steps, 0.0), 1.0))


def _run_network(spec: dict) -> dict[str, Any]:
    """Build and run the Brian2 network described by ``spec`` on the current device.

    Returns spike times (s), spike neuron indices, optionally the recorded potentials, and
    wall-clock times. The caller has selected the code-generation target or device.
    """
    import brian2 as b2

    started = time.perf_counter()
    second, volt = b2.second, b2.volt
    equations, constants = _equations(spec)
    namespace: dict[str, Any] = {"tau_m": spec["tau_m"] * second,
                                 "v_reset": spec["v_reset"] * volt}
    for name, value in constants.items():
        unit = second if ("start" in name or "stop" in name or "period" in name
                          or "width" in name or name == "ou_tau") else volt
        namespace[name] = value * unit
    dt = spec["dt"] * second
    n_total = spec["n_neurons"] * len(spec["mu0"])
    ref_steps, ref_frac = _refractory_steps(spec["t_ref"], spec["dt"])
    namespace.update(ref_short=ref_steps * dt, ref_frac=ref_frac)
    reset = "v = v_reset\nref_period = ref_short + dt*int(rand() < ref_frac)"
    group = b2.NeuronGroup(n_total, equations, threshold=_threshold(spec), reset=reset,
                           refractory="ref_period", method="euler", dt=dt,
                           namespace=namespace, name="neurorect_lif")
    units = {"mu0": volt, "mu1": volt, "freq": b2.Hz, "sigma": volt, "drive_phase": 1,
             "sin_ph": 1, "cos_ph": 1, "sin_step": 1, "cos_step": 1, "v_thr": volt,
             "v": volt, "eta": volt, "bridge_var": volt**2, "v_prev": volt}
    group.ref_period = ref_steps * dt
    for name, values in _neuron_arrays(spec).items():
        setattr(group, name, values * units[name])
    # once per step before the state update: rotate the drive phasor to t_n (and keep the
    # potential at the start of the step for the Brownian bridge)
    clock_code = ("sin_next = sin_ph*cos_step + cos_ph*sin_step\n"
                  "cos_ph = cos_ph*cos_step - sin_ph*sin_step\n"
                  "sin_ph = sin_next")
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


def _run_runtime(spec: dict, target: str) -> dict[str, Any]:
    import brian2 as b2

    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = target
    try:
        return _run_network(spec)
    finally:
        b2.prefs.codegen.target = previous


def _run_standalone(spec: dict, directory: str | os.PathLike | None) -> dict[str, Any]:
    """Run ``spec`` with the C++ standalone device in a fresh Python process."""
    with tempfile.TemporaryDirectory(prefix="neurorect_lif_") as scratch:
        spec_path = Path(scratch) / "spec.json"
        out_path = Path(scratch) / "result.npz"
        spec_path.write_text(json.dumps(spec))
        project = str(directory) if directory is not None else str(Path(scratch) / "project")
        command = [sys.executable, "-m", "neurorect.brian2_lif", str(spec_path),
                   str(out_path), project]
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out_path.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise NeurorectError(f"the C++ standalone run failed (exit {proc.returncode}) in "
                                 f"{project}:\n{tail}")
        with np.load(out_path) as data:
            out: dict[str, Any] = {k: data[k] for k in data.files}
        out["build_time"] = float(out.get("build_time", np.nan))
        out["run_time"] = float(out.get("run_time", np.nan))
        out["process_time"] = time.perf_counter() - started
        return out


def _standalone_main(argv: list[str]) -> int:
    """Entry point of the child process: ``spec.json result.npz project_dir``."""
    import brian2 as b2

    spec_path, out_path, project = argv
    spec = json.loads(Path(spec_path).read_text())
    b2.set_device("cpp_standalone", directory=project, build_on_run=True)
    started = time.perf_counter()
    out = _run_network(spec)
    # with build_on_run, code generation and the C++ compile happen inside Network.run: the
    # simulation proper is the device's own run time, the rest counts as build time
    total = time.perf_counter() - started
    simulated = getattr(b2.get_device(), "_last_run_time", None)
    out["run_time"] = float(simulated) if simulated is not None else out["run_time"]
    out["build_time"] = total - out["run_time"]
    np.savez(out_path, **out)
    return 0


# --------------------------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------------------------

def _split_errors(spike_time, spike_neuron, n_per: int, n_cond: int, n_splits: int, *,
                  freq, t_start, t_stop, n_harmonics: int):
    """Standard errors from ``n_splits`` disjoint subsets of each condition's neurons.

    The neurons of a condition are independent and identically driven, so the subsets give
    independent, identically distributed estimates; the pooled estimate is their average
    weighted by subset size ``w_k = N_k / N``, with variance
    ``sum_k w_k (x_k - x)^2 / (K - 1)`` (unbiased when ``var x_k`` is inversely proportional
    to ``N_k``; the usual ``var / K`` for equal subsets).
    """
    k = min(n_splits, n_per)
    if k < 2:
        nan = np.full(n_cond, np.nan)
        return nan, np.full((n_cond, n_harmonics), np.nan), np.full((n_cond, n_harmonics),
                                                                     np.nan)
    neuron = np.arange(n_per * n_cond)
    fine = (neuron // n_per) * k + (neuron % n_per) % k
    sub = fourier.spike_harmonics(spike_time, spike_neuron, freq=np.repeat(freq, k),
                                  t_start=t_start, t_stop=t_stop,
                                  group=fine, n_harmonics=n_harmonics, n_blocks=None)
    size = sub["n_neurons"].values.reshape(n_cond, k).astype(float)
    weight = size / size.sum(axis=1, keepdims=True)
    r0 = sub["r0"].values.reshape(n_cond, k)
    z = fourier.complex_coefficient(sub).values.reshape(n_cond, k, n_harmonics)
    r0_mean = (weight * r0).sum(axis=1)
    r0_se = np.sqrt((weight * (r0 - r0_mean[:, None]) ** 2).sum(axis=1) / (k - 1))
    z_mean = (weight[..., None] * z).sum(axis=1)
    d = z - z_mean[:, None, :]
    w = weight[..., None] / (k - 1)
    vxx = (w * d.real**2).sum(axis=1)
    vyy = (w * d.imag**2).sum(axis=1)
    vxy = (w * d.real * d.imag).sum(axis=1)
    amp_se, phase_se = fourier.amplitude_phase_se(np.abs(z_mean), np.angle(z_mean), vxx,
                                                   vyy, vxy)
    return r0_se, amp_se, phase_se


def _attrs(units: str, long_name: str) -> dict[str, str]:
    return {"units": units, "long_name": long_name}


def _analyse(raw: dict, cond: dict[str, np.ndarray], *, n_per: int, t_start: float,
             t_stop: float, n_harmonics: int, n_splits: int) -> xr.Dataset:
    """Harmonics per condition through fourier.spike_harmonics, with split standard errors."""
    n_cond = cond["mu0"].size
    periodic = cond["freq"] > 0
    # conditions without a sinusoid are analysed over the whole window as one "period":
    # their r0 is what matters; amplitude and phase are set to NaN below
    analysis_freq = np.where(periodic, cond["freq"], 1.0 / (t_stop - t_start))
    group = np.repeat(np.arange(n_cond), n_per)
    pooled = fourier.spike_harmonics(raw["spike_time"], raw["spike_neuron"],
                                     freq=analysis_freq, t_start=t_start, t_stop=t_stop,
                                     group=group, n_harmonics=n_harmonics, n_blocks=None)
    r0_se, amp_se, phase_se = _split_errors(
        raw["spike_time"], raw["spike_neuron"], n_per, n_cond, n_splits, freq=analysis_freq,
        t_start=t_start, t_stop=t_stop, n_harmonics=n_harmonics)
    ds = pooled.drop_vars(["r0_se", "amplitude_se", "phase_se"])
    split_text = f"({min(n_splits, n_per)} disjoint neuron subsets)"
    ds["r0_se"] = ("condition", r0_se, _attrs("Hz", f"standard error of r0 {split_text}"))
    ds["amplitude_se"] = (("condition", "harmonic"), amp_se,
                          _attrs("Hz", f"standard error of amplitude {split_text}, delta method"))
    ds["phase_se"] = (("condition", "harmonic"), phase_se,
                      _attrs("rad", f"standard error of phase {split_text}, delta method"))
    flat = ~periodic
    for name in ("amplitude", "phase", "amplitude_se", "phase_se", "amplitude_se_shot",
                 "phase_se_shot"):
        values = ds[name].values.copy()
        values[flat] = np.nan
        ds[name].values = values
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = periodic & (cond["mu1"] > 0)
        scale = np.where(usable, 1.0 / np.where(usable, cond["mu1"], 1.0), np.nan)
    ds["gain"] = ("condition", ds["amplitude"].sel(harmonic=1).values * scale,
                  _attrs("Hz/V", "gain A_1 / mu1"))
    ds["gain_se"] = ("condition", ds["amplitude_se"].sel(harmonic=1).values * scale,
                     _attrs("Hz/V", f"standard error of gain {split_text}"))
    ds = ds.rename_vars({"freq": "analysis_freq"})
    ds["analysis_freq"].attrs = _attrs("Hz", "frequency whose whole periods set the window "
                                             "(1/window for conditions without a sinusoid)")
    return ds


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------

def _check_choice(key: str, value, allowed) -> None:
    if value not in allowed:
        raise ModelError("unknown choice", key=key, value=value,
                         allowed=", ".join(repr(a) for a in allowed))


def _positive(key: str, value, unit: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ModelError("must be a number", key=key, value=value,
                         allowed=f"a number in {unit}") from None
    if not (math.isfinite(out) and out > 0):
        raise ModelError("must be finite and > 0", key=key, value=value,
                         allowed=f"> 0 {unit}")
    return out


def _drive_parts(drive: Drive) -> tuple[list, list, float, float, float]:
    """Steps, pulses, OU sigma and tau, extra white-noise sigma (scalars only)."""
    def scalar(owner: str, name: str, value) -> float:
        if isinstance(value, tuple):
            raise ModelError("per-neuron values are not supported by the Brian2 bridge",
                             key=f"{owner}.{name}", value=list(value),
                             allowed="one number (use conditions for per-condition values)")
        return float(value)

    steps = [(scalar("steps", "start", s.start), scalar("steps", "amplitude", s.amplitude),
              scalar("steps", "stop", s.stop)) for s in drive.steps]
    pulses = [(scalar("pulses", "start", p.start), scalar("pulses", "period", p.period),
               scalar("pulses", "width", p.width), scalar("pulses", "amplitude", p.amplitude),
               scalar("pulses", "stop", p.stop)) for p in drive.pulses]
    ou_sigma = ou_tau = white = 0.0
    if drive.noise is not None:
        if drive.noise.shared:
            raise ModelError("shared (common) noise is not supported by the Brian2 bridge",
                             key="noise.shared", value=True,
                             allowed="false (each LIF neuron draws its own noise)")
        sigma = scalar("noise", "sigma", drive.noise.sigma)
        if drive.noise.kind == "ou":
            ou_sigma, ou_tau = sigma, scalar("noise", "tau", drive.noise.tau)
        else:
            white = sigma
    return steps, pulses, ou_sigma, ou_tau, white


def simulate_lif(model: Model | LIFNeuron, duration: float | None = None, *,
                 drive: Drive | None = None, conditions: Mapping[str, Any] | None = None,
                 n_neurons: int | None = None, dt: float | None = None, seed: int | None = None,
                 transient: float | None = None,
                 threshold_correction: str | None = "bridge", target: str = "cython",
                 n_harmonics: int = 3, n_splits: int = 40, record_v: float | None = None,
                 standalone_dir: str | os.PathLike | None = None) -> xr.Dataset:
    """Simulate LIF populations in Brian2, all conditions in one NeuronGroup.

    Parameters
    ----------
    model : Model or LIFNeuron
        A model with an ``[lif]`` table (the LIF neuron, its drive ``drives.<population>``
        in volts, and the defaults of duration, transient and seed from ``[simulation]``),
        or a bare :class:`~neurorect.spec.LIFNeuron`.
    duration : float, optional
        Simulated time, s (default: the model's ``simulation.duration``; required for a
        bare LIFNeuron).
    drive : Drive, optional
        The input ``mu(t)`` in volts (default: the model's drive of the LIF population; zero
        input for a bare LIFNeuron). Steps, pulses and noise must be scalars.
    conditions : mapping, optional
        Per-condition values of ``mu0``, ``mu1`` (V), ``freq`` (Hz), ``phase`` (rad) and
        ``sigma`` (V), each a scalar or a 1-D array; arrays share one length ``C`` (zipped;
        see :func:`condition_grid` for a full grid). Unset keys come from the drive (``I0``,
        ``I1``, ``freq``, ``phase``; per-neuron tuples become per-condition arrays) and from
        the LIF neuron (``sigma``).
    n_neurons : int, optional
        Neurons per condition (default ``lif.n_neurons``). The group holds ``C * n_neurons``
        neurons, condition ``c`` being neurons ``c * n_neurons ... (c + 1) * n_neurons - 1``.
    dt : float, optional
        Brian2 time step, s (default ``lif.dt``).
    seed : int, optional
        Seed of the noise and of the initial potentials (default: the model's
        ``simulation.seed``, else 0). See the module docstring for the global Brian2 state.
    transient : float, optional
        Time discarded before the analysis, s (default: the model's ``simulation.transient``,
        else ``10 tau_m``).
    threshold_correction : {"bridge", "shift", None}
        Handling of the sqrt(dt) bias of grid threshold detection (module docstring).
    target : {"cython", "numpy", "cpp_standalone"}
        Brian2 code generation: runtime Cython (default; first compile ~30 s, then cached),
        runtime numpy (no compiler, slow per step: fine for small tests), or C++ standalone
        (in a child process; see the module docstring).
    n_harmonics : int
        Harmonics analysed (``k = 1..K``).
    n_splits : int
        Number of disjoint neuron subsets per condition for the standard errors ``*_se``.
    record_v : float, optional
        Record every neuron's membrane potential every ``record_v`` seconds (variable ``v``;
        meant for small groups, e.g. to check the free-membrane variance).
    standalone_dir : path, optional
        Project directory of the C++ standalone build (default: a temporary directory,
        deleted afterwards; give one to keep the generated code).

    Returns
    -------
    xarray.Dataset
        Dims ``spike``, ``condition``, ``harmonic``, ``neuron`` (and ``time`` with
        ``record_v``):

        * ``spike_time`` (spike), s, and ``spike_neuron`` (spike): every spike of the run;
        * ``neuron_condition`` (neuron): the condition of each neuron;
        * ``r0`` (condition), Hz; ``amplitude`` (condition, harmonic), Hz; ``phase``, rad;
          in the sine convention ``r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)`` over
          whole periods of ``freq`` in ``[transient, duration)``, from
          :func:`neurorect.fourier.spike_harmonics`; ``gain = A_1 / mu1`` (Hz/V);
        * ``r0_se``, ``amplitude_se``, ``phase_se``, ``gain_se``: standard errors from
          ``n_splits`` disjoint neuron subsets (valid for independent neurons, any number
          of periods); ``*_se_shot``: the Poisson shot-noise formula; ``n_spikes``;
        * coordinates per condition: ``mu0``, ``mu1`` (V), ``freq`` (Hz), ``drive_phase``
          (rad), ``sigma`` (V, total white noise), ``v_threshold`` (V, the threshold applied
          on the grid), ``n_neurons``, the analysis window;
        * attrs: ``threshold_correction`` and its description, ``target``, ``dt``,
          ``duration``, ``transient``, ``seed``, the LIF parameters, wall-clock times.

        Conditions without a sinusoid (``freq == 0`` or ``mu1 == 0``) have NaN amplitude,
        phase and gain; their ``r0`` is the mean rate over the whole window.

    Raises
    ------
    ModelError
        Bad arguments (naming the key, the value and what is allowed).
    NeurorectError
        A failed C++ standalone build or run.
    """
    if isinstance(model, Model):
        if model.lif is None:
            raise ModelError("the model has no [lif] table", key="lif", value=None,
                             allowed="a model file with an [lif] table (see "
                                     "models/lif_matched.toml)", file=model.source)
        lif = model.lif
        drive = model.drive(lif.population) if drive is None else drive
        sim = model.simulation
        duration = sim.duration if duration is None else duration
        transient = sim.transient if transient is None else transient
        seed = sim.seed if seed is None else seed
    elif isinstance(model, LIFNeuron):
        lif = model
        drive = Drive() if drive is None else drive
        if duration is None:
            raise ModelError("duration is required with a bare LIFNeuron", key="duration",
                             value=None, allowed="a duration in s")
        transient = 10.0 * lif.tau_m if transient is None else transient
        seed = 0 if seed is None else seed
    else:
        raise ModelError("must be a Model with an [lif] table or an LIFNeuron", key="model",
                         value=type(model).__name__, allowed="Model or LIFNeuron")
    _check_choice("threshold_correction", threshold_correction, THRESHOLD_CORRECTIONS)
    _check_choice("target", target, TARGETS)
    duration = _positive("duration", duration, "s")
    dt = lif.dt if dt is None else _positive("dt", dt, "s")
    if not 0.0 <= float(transient) < duration:
        raise ModelError("transient must lie in [0, duration)", key="transient",
                         value=transient, allowed=f"0 <= transient < {duration:g} s")
    transient = float(transient)
    n_per = lif.n_neurons if n_neurons is None else n_neurons
    if isinstance(n_per, bool) or not isinstance(n_per, (int, np.integer)) or n_per < 1:
        raise ModelError("must be a positive integer", key="n_neurons", value=n_per,
                         allowed="integer >= 1")
    for key, value in (("n_harmonics", n_harmonics), ("n_splits", n_splits)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ModelError("must be a positive integer", key=key, value=value,
                             allowed="integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ModelError("must be an integer >= 0", key="seed", value=seed,
                         allowed="integer >= 0")
    if record_v is not None:
        record_v = _positive("record_v", record_v, "s")
    cond = _resolve_conditions(lif, drive, conditions)
    steps, pulses, ou_sigma, ou_tau, white = _drive_parts(drive)
    cond["sigma"] = np.sqrt(cond["sigma"] ** 2 + white**2)
    nyquist = 0.5 / dt
    if np.any(n_harmonics * cond["freq"] >= nyquist):
        raise ModelError("harmonics at or above the Nyquist frequency of the Brian2 step",
                         key="conditions.freq", value=float(cond["freq"].max()),
                         allowed=f"n_harmonics * freq < 1/(2 dt) = {nyquist:g} Hz")
    window = duration - transient
    short = (cond["freq"] > 0) & (cond["freq"] * window < 1.0 - 1e-9)
    if np.any(short):
        raise ModelError("the analysis window holds less than one period",
                         key="conditions.freq", value=float(cond["freq"][short][0]),
                         allowed=f"freq >= 1/(duration - transient) = {1 / window:g} Hz")
    v_threshold = effective_threshold(lif.v_th, cond["sigma"], dt=dt, tau_m=lif.tau_m,
                                      threshold_correction=threshold_correction)
    if record_v is not None:
        samples = int(duration / record_v) * n_per * cond["mu0"].size
        if samples > 5e7:
            raise ModelError("recording v would hold too many samples", key="record_v",
                             value=record_v, allowed=f"fewer than 5e7 samples (now {samples})")
    spec = {
        "tau_m": lif.tau_m, "v_reset": lif.v_reset, "t_ref": lif.t_ref, "dt": dt,
        "duration": duration, "seed": int(seed), "n_neurons": int(n_per),
        "threshold_correction": threshold_correction,
        "mu0": cond["mu0"].tolist(), "mu1": cond["mu1"].tolist(),
        "freq": cond["freq"].tolist(), "phase": cond["phase"].tolist(),
        "sigma": cond["sigma"].tolist(), "v_threshold": v_threshold.tolist(),
        "steps": steps, "pulses": pulses, "ou_sigma": ou_sigma, "ou_tau": ou_tau,
        "record_v": record_v,
    }
    if target == "cpp_standalone":
        raw = _run_standalone(spec, standalone_dir)
    else:
        raw = _run_runtime(spec, target)

    ds = _analyse(raw, cond, n_per=int(n_per), t_start=transient, t_stop=duration,
                  n_harmonics=n_harmonics, n_splits=n_splits)
    n_cond = cond["mu0"].size
    for key in ("mu0", "mu1", "freq", "sigma"):
        ds = ds.assign_coords({key: ("condition", cond[key], _attrs(*_UNITS[key]))})
    ds = ds.assign_coords(
        drive_phase=("condition", cond["phase"], _attrs(*_UNITS["phase"])),
        v_threshold=("condition", v_threshold,
                     _attrs("V", "threshold applied on the time grid")),
        neuron=("neuron", np.arange(n_cond * n_per), _attrs("1", "neuron index")),
    )
    ds["neuron_condition"] = ("neuron", np.repeat(np.arange(n_cond), n_per),
                              _attrs("1", "condition of each neuron"))
    ds["spike_time"] = ("spike", raw["spike_time"],
                        _attrs("s", "spike time (start of the step of the crossing)"))
    ds["spike_neuron"] = ("spike", raw["spike_neuron"], _attrs("1", "neuron of each spike"))
    if "v" in raw:
        ds = ds.assign_coords(time=("time", raw["v_time"], _attrs("s", "time")))
        ds["v"] = (("time", "neuron"), raw["v"].T, _attrs("V", "membrane potential"))
    corrections = {
        "bridge": "Brownian-bridge crossing probability within each step",
        "shift": f"threshold lowered by {SIEGMUND_BETA:.4f} sigma sqrt(dt/tau_m) (Siegmund)",
        None: "none: threshold checked on the time grid only (rates biased low ~sqrt(dt))",
    }
    ds.attrs = {
        "description": "Brian2 LIF populations, one condition per block of neurons",
        "lif_convention": "tau_m dV/dt = -V + mu(t) + sigma sqrt(tau_m) xi(t) (Brunel 2000); "
                          "free membrane variance sigma^2/2",
        "fourier_convention": "r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)",
        "threshold_correction": "none" if threshold_correction is None
        else threshold_correction,
        "threshold_correction_description": corrections[threshold_correction],
        "target": target, "integration": "euler (Euler-Maruyama)", "dt": dt,
        "duration": duration, "transient": transient, "seed": int(seed),
        "n_neurons_per_condition": int(n_per), "n_conditions": int(n_cond),
        "n_splits": int(min(n_splits, n_per)),
        "tau_m": lif.tau_m, "v_th": lif.v_th, "v_reset": lif.v_reset, "t_ref": lif.t_ref,
        "drive_ou_sigma": ou_sigma, "drive_ou_tau": ou_tau,
        "n_steps": len(steps), "n_pulse_trains": len(pulses),
        "build_time": float(raw["build_time"]), "run_time": float(raw["run_time"]),
        "neurorect_version": __version__, "brian2_version": _brian2_version(),
        "lif": json.dumps({f.name: getattr(lif, f.name) for f in fields(LIFNeuron)}),
    }
    if isinstance(model, Model):
        ds.attrs.update(model=dumps_model(model), model_name=model.name)
    return ds


def _brian2_version() -> str:
    import brian2

    return str(brian2.__version__)


if __name__ == "__main__":  # the C++ standalone child process
    sys.exit(_standalone_main(sys.argv[1:]))
