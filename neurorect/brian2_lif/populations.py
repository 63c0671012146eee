"""Independent LIF populations, all conditions in one NeuronGroup: :func:`simulate_lif`.

Resolves the model's defaults and the conditions, checks the arguments, writes the run spec,
runs it (:mod:`~neurorect.brian2_lif.runner`) and analyses the spikes
(:mod:`~neurorect.brian2_lif.analysis`). Every argument and result is an SI float.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from neurorect._schema import provenance
from neurorect._validate import check_choice, check_integer, check_range
from neurorect.brian2_lif.analysis import add_run_data, analyse
from neurorect.brian2_lif.conditions import (
    CORRECTION_DESCRIPTIONS,
    TARGETS,
    THRESHOLD_CORRECTIONS,
    DriveParts,
    drive_parts,
    effective_threshold,
    resolve_conditions,
)
from neurorect.brian2_lif.runner import brian2_version, run_runtime, run_standalone
from neurorect.drive import Drive
from neurorect.errors import ModelError
from neurorect.spec import LIFNeuron, Model

__all__ = ["simulate_lif"]

#: Recording the membrane potential is refused above this many samples.
_MAX_V_SAMPLES = 50_000_000


class _Run(NamedTuple):
    """The resolved settings of one call (SI)."""

    lif: LIFNeuron
    drive: Drive
    duration: float
    transient: float
    seed: int


def _resolve_model(model: Model | LIFNeuron, duration, drive, transient, seed) -> _Run:
    """The LIF neuron, its drive, and the defaults from the model (or a bare LIFNeuron)."""
    if isinstance(model, Model):
        lif = model.require_lif()
        sim = model.simulation
        return _Run(lif, model.drive(lif.population) if drive is None else drive,
                    sim.duration if duration is None else duration,
                    sim.transient if transient is None else transient,
                    sim.seed if seed is None else seed)
    if isinstance(model, LIFNeuron):
        if duration is None:
            raise ModelError("duration is required with a bare LIFNeuron", key="duration",
                             value=None, allowed="a duration in s")
        return _Run(model, Drive() if drive is None else drive, duration,
                    10.0 * model.tau_m if transient is None else transient,
                    0 if seed is None else seed)
    raise ModelError("must be a Model with an [lif] table or an LIFNeuron", key="model",
                     value=type(model).__name__, allowed="Model or LIFNeuron")


def _positive_time(key: str, value) -> float:
    """``value`` as a float, checked finite and > 0 (s)."""
    check_range(key, value, low=0.0, low_open=True, high=math.inf, high_open=True, unit="s")
    return float(value)


def _check_window(cond: dict[str, np.ndarray], *, dt: float, duration: float,
                  transient: float, n_harmonics: int) -> None:
    """Harmonics below the Nyquist frequency, and at least one period in the window."""
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


def _run_attrs(run: _Run, parts: DriveParts, *, threshold_correction: str | None,
               target: str, dt: float, n_per: int, n_cond: int, n_splits: int,
               raw: dict) -> dict[str, Any]:
    """The attrs of a :func:`simulate_lif` result (without the provenance)."""
    lif = run.lif
    return {
        "description": "Brian2 LIF populations, one condition per block of neurons",
        "lif_convention": "tau_m dV/dt = -V + mu(t) + sigma sqrt(tau_m) xi(t) (Brunel 2000); "
                          "free membrane variance sigma^2/2",
        "fourier_convention": "r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)",
        "threshold_correction": "none" if threshold_correction is None
        else threshold_correction,
        "threshold_correction_description": CORRECTION_DESCRIPTIONS[threshold_correction],
        "target": target, "integration": "euler (Euler-Maruyama)", "dt": dt,
        "duration": run.duration, "transient": run.transient, "seed": run.seed,
        "n_neurons_per_condition": n_per, "n_conditions": n_cond,
        "n_splits": int(min(n_splits, n_per)),
        "tau_m": lif.tau_m, "v_th": lif.v_th, "v_reset": lif.v_reset, "t_ref": lif.t_ref,
        "drive_ou_sigma": parts.ou_sigma, "drive_ou_tau": parts.ou_tau,
        "n_steps": len(parts.steps), "n_pulse_trains": len(parts.pulses),
        "build_time": float(raw["build_time"]), "run_time": float(raw["run_time"]),
        "brian2_version": brian2_version(),
        "lif": json.dumps({f.name: getattr(lif, f.name) for f in fields(LIFNeuron)}),
    }


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
        see :func:`~neurorect.brian2_lif.condition_grid` for a full grid). Unset keys come
        from the drive (``I0``, ``I1``, ``freq``, ``phase``; per-neuron tuples become
        per-condition arrays) and from the LIF neuron (``sigma``).
    n_neurons : int, optional
        Neurons per condition (default ``lif.n_neurons``). The group holds ``C * n_neurons``
        neurons, condition ``c`` being neurons ``c * n_neurons ... (c + 1) * n_neurons - 1``.
    dt : float, optional
        Brian2 time step, s (default ``lif.dt``).
    seed : int, optional
        Seed of the noise and of the initial potentials (default: the model's
        ``simulation.seed``, else 0). See :mod:`neurorect.brian2_lif.runner` for the global
        Brian2 state.
    transient : float, optional
        Time discarded before the analysis, s (default: the model's ``simulation.transient``,
        else ``10 tau_m``).
    threshold_correction : {"bridge", "shift", None}
        Handling of the sqrt(dt) bias of grid threshold detection (see
        :mod:`neurorect.brian2_lif.conditions`).
    target : {"cython", "numpy", "cpp_standalone"}
        Brian2 code generation: runtime Cython (default; first compile ~30 s, then cached),
        runtime numpy (no compiler, slow per step: fine for small tests), or C++ standalone
        (in a child process; see :mod:`neurorect.brian2_lif.runner`).
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
    run = _resolve_model(model, duration, drive, transient, seed)
    lif = run.lif
    check_choice("threshold_correction", threshold_correction, THRESHOLD_CORRECTIONS)
    check_choice("target", target, TARGETS)
    duration = _positive_time("duration", run.duration)
    dt = lif.dt if dt is None else _positive_time("dt", dt)
    transient = float(check_range("transient", run.transient, low=0.0, high=duration,
                                  high_open=True, unit="s"))
    n_per = check_integer("n_neurons", lif.n_neurons if n_neurons is None else n_neurons,
                          low=1)
    check_integer("n_harmonics", n_harmonics, low=1)
    check_integer("n_splits", n_splits, low=1)
    run = run._replace(duration=duration, transient=transient,
                       seed=check_integer("seed", run.seed, low=0))
    if record_v is not None:
        record_v = _positive_time("record_v", record_v)
    cond = resolve_conditions(lif, run.drive, conditions)
    parts = drive_parts(run.drive)
    cond["sigma"] = np.sqrt(cond["sigma"] ** 2 + parts.white_sigma**2)
    _check_window(cond, dt=dt, duration=duration, transient=transient,
                  n_harmonics=n_harmonics)
    n_cond = cond["mu0"].size
    v_threshold = effective_threshold(lif.v_th, cond["sigma"], dt=dt, tau_m=lif.tau_m,
                                      threshold_correction=threshold_correction)
    samples = 0 if record_v is None else int(duration / record_v) * n_per * n_cond
    if samples > _MAX_V_SAMPLES:
        raise ModelError("recording v would hold too many samples", key="record_v",
                         value=record_v, allowed=f"fewer than 5e7 samples (now {samples})")
    spec = {
        "tau_m": lif.tau_m, "v_reset": lif.v_reset, "t_ref": lif.t_ref, "dt": dt,
        "duration": duration, "seed": run.seed, "n_neurons": n_per,
        "threshold_correction": threshold_correction,
        **{key: cond[key].tolist() for key in ("mu0", "mu1", "freq", "phase", "sigma")},
        "v_threshold": v_threshold.tolist(),
        "steps": parts.steps, "pulses": parts.pulses, "ou_sigma": parts.ou_sigma,
        "ou_tau": parts.ou_tau, "record_v": record_v,
    }
    if target == "cpp_standalone":
        raw = run_standalone(spec, standalone_dir)
    else:
        raw = run_runtime(spec, target)

    ds = analyse(raw, cond, n_per=n_per, t_start=transient, t_stop=duration,
                 n_harmonics=n_harmonics, n_splits=n_splits)
    ds = add_run_data(ds, raw, cond, v_threshold, n_per)
    ds.attrs = _run_attrs(run, parts, threshold_correction=threshold_correction, target=target,
                          dt=dt, n_per=n_per, n_cond=n_cond, n_splits=n_splits, raw=raw)
    ds.attrs.update(provenance(model if isinstance(model, Model) else None))
    return ds
