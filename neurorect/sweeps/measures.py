"""What a sweep computes at each point: the built-in measures and callable measures.

* ``measure_rate`` and ``measure_response`` turn a (batched) :func:`neurorect.simulate`
  result into the ``"rate"`` and ``"response"`` variables;
* :func:`theory_chunk`: the ``"fixed_point"`` and ``"silent_fraction"`` measures of a chunk,
  from :func:`neurorect.theory.fixed_point` (no simulation);
* :func:`callable_chunk`: a user's ``measure(result)`` applied to each point's own result;
* :func:`measure_step_response`: overshoot, rise, peak and settling time of each population's
  mean rate after a step (:mod:`neurorect.stepresponse`), a measure callable
  (``run_sweep(model, grid, measure=measure_step_response)``: it needs recorded rates).

Variables are over dim ``point`` (one per grid point of the chunk) where a chunk is computed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorect._schema import attrs
from neurorect.errors import ModelError
from neurorect.fourier import from_amplitude_phase, to_amplitude_phase
from neurorect.modelfile import dumps_model, loads_model
from neurorect.spec import Model
from neurorect.stepresponse import STEP_MEASURES, step_measures
from neurorect.sweeps.grid import to_python
from neurorect.sweeps.layout import Chunk

__all__ = ["MEASURES", "MEASURE_VARIABLES", "measure_rate", "measure_response",
           "measure_step_response", "theory_chunk", "callable_chunk", "batched",
           "model_from_toml"]

#: Built-in measures (see :func:`neurorect.sweeps.run_sweep`).
MEASURES = ("rate", "response", "step_response", "fixed_point", "silent_fraction")
#: The result variables of each built-in measure.
MEASURE_VARIABLES = {
    "rate": ("mean_rate", "duration"),
    "response": ("mean_rate", "amplitude", "phase", "gain", "stat_freq", "duration"),
    "step_response": (*STEP_MEASURES, "duration"),
    "fixed_point": ("fixed_point_rate", "silent_fraction", "stable", "max_real_eigenvalue",
                    "converged"),
    "silent_fraction": ("silent_fraction", "converged"),
}
_THEORY_ATTRS = {
    "fixed_point_rate": ("Hz", "fixed-point rate (population mean)"),
    "silent_fraction": ("1", "fraction of neurons whose fixed-point input is below threshold"),
    "stable": ("1", "fixed point linearly stable (1) or not (0)"),
    "max_real_eigenvalue": ("1/s", "largest real part of the Jacobian's eigenvalues"),
    "converged": ("1", "fixed-point search converged (1) or not (0)"),
}


@functools.lru_cache(maxsize=8)
def model_from_toml(text: str, source: str | None = None) -> Model:
    """The model of a TOML text (cached: every chunk of a sweep starts from the same one)."""
    return loads_model(text, source=source)


def batched(result: xr.Dataset) -> xr.Dataset:
    """``result`` with a ``batch`` dim (of length 1 if it had none)."""
    return result if "batch" in result.dims else result.expand_dims("batch")


def _batch_values(result: xr.Dataset) -> dict[str, np.ndarray]:
    """``{path: values}`` of the batch coordinates of a simulate result."""
    out = {}
    for coord in result.coords.values():
        if coord.dims == ("batch",) and "path" in coord.attrs:
            out[coord.attrs["path"]] = np.asarray(coord.values)
    return out


def _population_coord(model: Model) -> tuple[str, list[str], dict[str, Any]]:
    return "population", [p.name for p in model.populations], attrs("1", "population")


def measure_rate(result: xr.Dataset) -> xr.Dataset:
    """The ``"rate"`` measure of a :func:`neurorect.simulate` result.

    Parameters
    ----------
    result : xarray.Dataset
        A simulate result, batched or not.

    Returns
    -------
    xarray.Dataset
        ``mean_rate`` (``[batch,] population``), Hz.
    """
    return xr.Dataset({"mean_rate": result["mean_rate"].reset_coords(drop=True).copy()})


def _population_harmonics(model: Model, result: xr.Dataset):
    """Amplitude, phase (batch, population, harmonic) and analysis frequency (batch,
    population) of each population-mean rate: the mean of its neurons' complex coefficients
    (NaN where the neurons use different frequencies)."""
    amplitude = result["amplitude"].transpose("batch", "neuron", "harmonic").values
    phase = result["phase"].transpose("batch", "neuron", "harmonic").values
    stat_freq = result["stat_freq"].transpose("batch", "neuron").values
    n_batch, n_pops = amplitude.shape[0], len(model.populations)
    pop_amp = np.empty((n_batch, n_pops, amplitude.shape[-1]))
    pop_phase = np.empty_like(pop_amp)
    pop_freq = np.empty((n_batch, n_pops))
    for j, pop in enumerate(model.populations):
        lo, hi = model.offsets[pop.name]
        if hi - lo == 1:  # one neuron: its own harmonics, unchanged
            pop_amp[:, j], pop_phase[:, j], pop_freq[:, j] = (
                amplitude[:, lo], phase[:, lo], stat_freq[:, lo])
            continue
        coefficient = np.mean(from_amplitude_phase(amplitude[:, lo:hi], phase[:, lo:hi]),
                              axis=1)
        pop_amp[:, j], pop_phase[:, j] = to_amplitude_phase(coefficient)
        uniform = np.all(stat_freq[:, lo:hi] == stat_freq[:, lo:lo + 1], axis=1)
        pop_freq[:, j] = np.where(uniform, stat_freq[:, lo], np.nan)
        pop_amp[~uniform, j] = np.nan
        pop_phase[~uniform, j] = np.nan
    return pop_amp, pop_phase, pop_freq


def _gain_reference(model: Model, result: xr.Dataset, n_batch: int) -> np.ndarray:
    """``|I1|`` (batch, population) that a population's gain refers to: its own drive's, or
    for an undriven population that of the one driven population (NaN if none or several)."""
    swept = _batch_values(result)
    amp_in = np.empty((n_batch, len(model.populations)))
    freq_in = np.empty_like(amp_in)
    for j, pop in enumerate(model.populations):
        drive = model.drive(pop.name)
        amp_in[:, j] = swept.get(f"drives.{pop.name}.I1", np.full(
            n_batch, float(np.mean(drive.per_neuron("I1", pop.size)))))
        freq_in[:, j] = swept.get(f"drives.{pop.name}.freq", np.full(
            n_batch, float(np.min(drive.per_neuron("freq", pop.size)))))
    driven = (amp_in != 0.0) & (freq_in > 0.0)
    single = np.where(driven.sum(axis=1) == 1,
                      np.sum(np.where(driven, np.abs(amp_in), 0.0), axis=1), np.nan)
    return np.where(driven, np.abs(amp_in), single[:, None])


def measure_response(result: xr.Dataset, model: Model | None = None) -> xr.Dataset:
    """The ``"response"`` measure of a :func:`neurorect.simulate` result.

    Parameters
    ----------
    result : xarray.Dataset
        A simulate result, batched or not (batched drive amplitudes and frequencies are read
        from its batch coordinates).
    model : Model, optional
        The model the result was run with, before batching (default: from ``attrs["model"]``).

    Returns
    -------
    xarray.Dataset
        Over ``[batch,] population [, harmonic]``: ``mean_rate`` (Hz), ``amplitude`` (Hz) and
        ``phase`` (rad, sine convention, negative for a lag) of the population-mean rate,
        ``gain`` = ``A_1 / |I1|`` (Hz per drive unit; an undriven population is referred to
        the drive of the one driven population, NaN if there is none or several), and
        ``stat_freq`` (Hz; NaN where a population's neurons use different frequencies). A
        population of one neuron reports that neuron's amplitude and phase unchanged.
    """
    model = model if model is not None else model_from_toml(result.attrs["model"])
    lead = ("batch",) if "batch" in result.dims else ()
    res = batched(result)
    pop_amp, pop_phase, pop_freq = _population_harmonics(model, res)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = pop_amp[:, :, 0] / _gain_reference(model, res, res.sizes["batch"])

    def cut(values):
        return values if lead else values[0]

    return xr.Dataset(
        {
            "mean_rate": result["mean_rate"].reset_coords(drop=True).copy(),
            "amplitude": (lead + ("population", "harmonic"), cut(pop_amp),
                          attrs("Hz", "harmonic amplitude A_k of the population-mean rate")),
            "phase": (lead + ("population", "harmonic"), cut(pop_phase),
                      attrs("rad", "harmonic phase relative to the drive's sine "
                                   "(negative: lag)")),
            "gain": (lead + ("population",), cut(gain),
                     attrs("Hz per drive unit", "gain A_1 / |I1| at the drive frequency")),
            "stat_freq": (lead + ("population",), cut(pop_freq),
                          attrs("Hz", "analysis frequency of the statistics")),
        },
        coords={"population": _population_coord(model),
                "harmonic": ("harmonic", np.arange(1, pop_amp.shape[-1] + 1),
                             attrs("1", "harmonic number k"))},
    )


def _step_onset(model: Model) -> float:
    """The earliest step of the model's drives (s); ModelError if there is none."""
    starts = [float(np.min(step.start)) for drive in model.drives.values()
              for step in drive.steps]
    if not starts:
        raise ModelError("the step-response measure needs a step in a drive (or onset=...)",
                         key="drives", value=None,
                         allowed="drives.P.steps = [{ start = ..., amplitude = ... }]",
                         file=model.source)
    return min(starts)


def measure_step_response(result: xr.Dataset, model: Model | None = None, *,
                          onset: float | None = None, band: float = 0.02,
                          levels: tuple[float, float] = (0.1, 0.9),
                          tail: float = 0.05) -> xr.Dataset:
    """The step-response measures of each population's mean rate in a simulate result.

    Parameters
    ----------
    result : xarray.Dataset
        A :func:`neurorect.simulate` result with recorded ``rate`` (``record="rate"``; all
        neurons or a subset), batched or not. Use it as a sweep measure with
        ``run_sweep(model, grid, measure=measure_step_response)`` (each point's own
        result; ``functools.partial`` sets the options).
    model : Model, optional
        The model of the run (default: from ``result.attrs["model"]``).
    onset : float, optional
        Time of the step, s (default: the earliest step of the model's drives).
    band, levels, tail
        As in :func:`neurorect.stepresponse.step_measures` (settling band 2 %, rise from
        10 % to 90 %, final value from the last 5 %).

    Returns
    -------
    xarray.Dataset
        Over ``[batch,] population``: ``overshoot`` (fraction), ``peak_time``,
        ``rise_time``, ``settling_time`` (s, from the step), ``initial_value``,
        ``final_value`` (Hz) and ``settled``.
    """
    model = model if model is not None else model_from_toml(result.attrs["model"])
    if "rate" not in result:
        raise ModelError("the step-response measure needs recorded rates", key="record",
                         value=result.attrs.get("record", "none"),
                         allowed="record='rate' (run_sweep(..., record='rate'))")
    onset = _step_onset(model) if onset is None else float(onset)
    lead = ("batch",) if "batch" in result.dims else ()
    rate = batched(result)["rate"]
    neuron_dim = "neuron" if "neuron" in rate.dims else "recorded"
    indices = (np.asarray(result["recorded_neuron"]) if neuron_dim == "recorded"
               else np.arange(model.size))
    trace = rate.transpose("batch", "time", neuron_dim).values
    time = rate["time"].values
    values = {name: np.full((trace.shape[0], len(model.populations)), np.nan)
              for name in STEP_MEASURES}
    for j, pop in enumerate(model.populations):
        lo, hi = model.offsets[pop.name]
        columns = np.flatnonzero((indices >= lo) & (indices < hi))
        for b in range(trace.shape[0]):
            if columns.size:
                found = step_measures(time, trace[b][:, columns].mean(axis=1), onset,
                                      band=band, levels=levels, tail=tail)
                for name, value in found.items():
                    values[name][b, j] = value
    data = {name: (lead + ("population",), array if lead else array[0],
                   attrs(*STEP_MEASURES[name])) for name, array in values.items()}
    ds = xr.Dataset(data, coords={"population": _population_coord(model)})
    ds["settled"] = ds["settled"].fillna(0).astype(np.int8)
    ds["settled"].attrs.update(attrs(*STEP_MEASURES["settled"]))
    ds.attrs.update(step_onset=onset, band=band, levels=list(levels))
    return ds


def _theory_point(model: Model, which: str) -> dict[str, Any]:
    from neurorect.theory import fixed_point

    form = model.single_form("the fixed-point measures")
    neurons = model.neuron_arrays()
    fp = fixed_point(model.coupling_matrix(), neurons.I0, list(neurons.transfer),
                     tau=neurons.tau, form=form)
    rates, silent = [], []
    for pop in model.populations:
        lo, hi = model.offsets[pop.name]
        threshold = getattr(pop.transfer, "threshold", getattr(pop.transfer, "v_th", math.nan))
        rates.append(float(np.mean(fp.rate[lo:hi])))
        silent.append(float(np.mean(fp.input[lo:hi] < threshold)))
    out = {"silent_fraction": silent, "converged": int(fp.converged)}
    if which == "fixed_point":
        out.update(fixed_point_rate=rates, stable=int(fp.stable),
                   max_real_eigenvalue=fp.max_real_eigenvalue)
    return out


def theory_chunk(model: Model, chunk: Chunk, which: str) -> xr.Dataset:
    """The theory measure ``which`` (``"fixed_point"`` or ``"silent_fraction"``) at each
    point of ``chunk``: the fixed point of the constant input ``I0`` (sinusoids, steps,
    pulses and noise ignored)."""
    rows = []
    for k in range(chunk.points.size):
        values = {p: to_python(v[k]) for p, v in chunk.batch.items()}
        rows.append(_theory_point(model.with_values(values) if values else model, which))
    data = {}
    for name in rows[0]:
        array = np.array([row[name] for row in rows])
        dims = ("point", "population") if array.ndim == 2 else ("point",)
        if name in ("stable", "converged"):
            array = array.astype(np.int8)
        data[name] = (dims, array, attrs(*_THEORY_ATTRS[name]))
    return xr.Dataset(data, coords={"population": _population_coord(model)})


def _as_dataset(out: Any) -> xr.Dataset:
    """A measure callable's return value as a Dataset (checked; attrs completed)."""
    if isinstance(out, xr.DataArray):
        out = out.to_dataset(name=out.name or "value")
    elif isinstance(out, Mapping) and not isinstance(out, xr.Dataset):
        out = xr.Dataset({k: ((), v) if np.ndim(v) == 0 else v for k, v in out.items()})
    if not isinstance(out, xr.Dataset):
        raise ModelError("a measure callable must return a Dataset, a DataArray or a "
                         "mapping of values", key="measure", value=type(out).__name__,
                         allowed="xarray.Dataset")
    if "point" in out.dims:
        raise ModelError("a measure's result must not have a 'point' dim", key="measure",
                         value=list(out.dims), allowed="other dim names")
    for variable in out.variables.values():
        variable.attrs.setdefault("units", "unspecified")
        variable.attrs.setdefault("long_name", "")
        variable.attrs["long_name"] = variable.attrs["long_name"] or "user measure"
    return out


def callable_chunk(result: xr.Dataset, chunk: Chunk,
                   measure: Callable[[xr.Dataset], Any]) -> xr.Dataset:
    """``measure`` applied to each point's own result, split off the chunk's batched
    ``result`` (its ``model`` and ``seed`` attrs are the point's), concatenated over
    ``point``."""
    run_model = model_from_toml(result.attrs["model"])
    batch_coords = [name for name, c in result.coords.items() if "batch" in c.dims]
    outputs = []
    for b in range(chunk.points.size):
        if "batch" in result.dims:
            point = result.isel(batch=b).drop_vars(batch_coords)
            point_model = run_model.with_values(
                {p: to_python(v[b]) for p, v in chunk.batch.items()})
            point.attrs = {**result.attrs, "model": dumps_model(point_model),
                           "seed": point_model.simulation.seed}
        else:
            point = result
        outputs.append(_as_dataset(measure(point)))
    return xr.concat(outputs, dim="point", data_vars="all", coords="different",
                     compat="equals", join="exact")
