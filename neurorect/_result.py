"""Assemble :func:`neurorect.driver.simulate`'s xarray Dataset from the kernels' output.

Schema (DESIGN.md): dims ``time``, ``neuron``, ``harmonic``, ``population`` and, for a batch,
``batch`` (with one coordinate per batched parameter, named after it); every variable and
coordinate carries ``units`` and ``long_name``. The streaming statistics ``r0``,
``amplitude``, ``phase`` (sine convention ``r(t) = r0 + sum_k A_k sin(2 pi k f t +
phase_k)``) come from :func:`neurorect._recording.window_statistics` (exact least squares
over each window); they are NaN together where the window holds fewer than ``min_periods``
whole periods, and ``stat_periods``, ``stat_duration`` and ``stat_leakage`` say what each
unit got. With unit statistics (``moments``), the per-neuron fractions and rate variance and
their population means are added (:func:`_add_unit_stats`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorect._plan import Plan
from neurorect._recording import WindowStatistics
from neurorect._schema import attrs, path_units, provenance
from neurorect.kernels.layout import M_BELOW, M_SQUARES, M_SUM, M_ZERO
from neurorect.spec import Simulation

__all__ = ["to_dataset"]


def to_dataset(plan: Plan, sim: Simulation, stats: WindowStatistics, freq: np.ndarray,
               chosen: np.ndarray, record_out: np.ndarray, dtype: str,
               moments: np.ndarray | None = None, **run_attrs: Any) -> xr.Dataset:
    """The result of a run: the statistics ``stats`` at ``freq``, traces of the ``chosen``
    neurons from ``record_out`` (columns batch-major), unit statistics from ``moments``
    (``Evolving.moments``) if given; ``run_attrs`` are added to the provenance attrs."""
    r0, amplitude, phase = stats.r0, stats.amplitude, stats.phase
    batched = bool(plan.batch)
    lead = ("batch",) if batched else ()

    def shape(values: np.ndarray, *rest: int) -> np.ndarray:
        values = values.reshape(plan.n_batch, plan.n_neurons, *rest)
        return values if batched else values[0]

    population_names = [p.name for p in plan.model.populations]
    coords = _coords(plan, sim, population_names)
    data: dict[str, Any] = {
        "r0": (lead + ("neuron",), shape(r0), attrs("Hz", "mean rate")),
        "amplitude": (lead + ("neuron", "harmonic"), shape(amplitude, sim.n_harmonics),
                      attrs("Hz", "harmonic amplitude A_k")),
        "phase": (lead + ("neuron", "harmonic"), shape(phase, sim.n_harmonics),
                  attrs("rad", "harmonic phase relative to the drive's sine (negative: lag)")),
        "stat_freq": (lead + ("neuron",), shape(freq),
                      attrs("Hz", "analysis frequency of the streaming statistics")),
        "stat_duration": (lead + ("neuron",), shape(stats.duration),
                          attrs("s", "length of the statistics window: stat_periods whole "
                                "periods rounded to the nearest step (all of the time after "
                                "the transient where stat_periods is below min_periods or "
                                "stat_freq is 0)")),
        "stat_periods": (lead + ("neuron",), shape(stats.periods),
                         attrs("1", "whole periods of stat_freq in the statistics window "
                               "(0 for stat_freq = 0: mean only)")),
        "stat_leakage": (lead + ("neuron",), shape(stats.leakage),
                         attrs("1", "bound on the change of A_k (and twice that of r0) per "
                               "unit amplitude of a harmonic above n_harmonics (below "
                               "Nyquist - K f): pi |delta| / (N - pi K |delta|), delta the "
                               "window's miss of whole periods in steps")),
    }
    offsets = plan.model.offsets
    means = np.stack([shape(r0)[..., lo:hi].mean(axis=-1)
                      for lo, hi in (offsets[p] for p in population_names)], axis=-1)
    data["mean_rate"] = (lead + ("population",), means,
                         attrs("Hz", "population mean rate (statistics window)"))
    if moments is not None:
        counts = np.rint(stats.duration / sim.dt)
        _add_unit_stats(plan, moments, counts, shape, lead, population_names, data)
    if chosen.size:
        _add_traces(plan, sim, chosen, record_out, lead, coords, data)
    for path, values in plan.batch.items():
        coords[_batch_coord_name(path, plan.batch)] = (
            "batch", values, attrs(path_units(path), path, path=path))
    if batched and not any(p == "simulation.seed" for p in plan.batch):
        coords["seed"] = ("batch", plan.seeds, attrs("1", "noise seed"))
    return xr.Dataset(data, coords=coords, attrs=provenance(
        plan.model, dt=sim.dt, duration=sim.duration, method=sim.method, seed=sim.seed,
        transient=sim.transient, dtype=dtype, record_every=sim.record_every,
        fourier_convention="r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)", **run_attrs))


def _add_unit_stats(plan: Plan, moments: np.ndarray, counts: np.ndarray, shape, lead,
                    population_names: list[str], data: dict[str, Any]) -> None:
    """Per-neuron fractions and rate variance from the kernels' shifted sums, and their
    population means. The variance is over the window's steps (divisor n):
    ``(S2 - S1^2 / n) / n`` with ``S1 = sum (r - K)``, ``S2 = sum (r - K)^2``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        below = moments[:, M_BELOW] / counts
        zero = moments[:, M_ZERO] / counts
        offset = moments[:, M_SUM] / counts
        variance = np.maximum(moments[:, M_SQUARES] / counts - offset * offset, 0.0)
    variance[~(counts > 0)] = np.nan
    per_neuron = {
        "fraction_below_threshold": (below, "1", "fraction of steps with the input below "
                                     "the transfer's threshold (rate form: total input to "
                                     "phi; voltage form: v)", "subthreshold_fraction"),
        "fraction_zero_rate": (zero, "1", "fraction of steps with rate exactly 0",
                               "silent_fraction"),
        "rate_variance": (variance, "Hz^2", "variance of the rate over the statistics "
                          "window", "mean_rate_variance"),
    }
    offsets = plan.model.offsets
    for name, (values, units, long_name, population_name) in per_neuron.items():
        values = shape(values)
        data[name] = (lead + ("neuron",), values, attrs(units, long_name))
        means = np.stack([values[..., lo:hi].mean(axis=-1)
                          for lo, hi in (offsets[p] for p in population_names)], axis=-1)
        data[population_name] = (lead + ("population",), means,
                                 attrs(units, f"population mean of {name}"))


def _coords(plan: Plan, sim: Simulation, population_names: list[str]) -> dict[str, Any]:
    """Neuron, harmonic and population coordinates."""
    neuron_population = np.concatenate([[p.name] * p.size for p in plan.model.populations])
    coords: dict[str, Any] = {
        "neuron": ("neuron", np.arange(plan.n_neurons), attrs("1", "neuron index")),
        "harmonic": ("harmonic", np.arange(1, sim.n_harmonics + 1),
                     attrs("1", "harmonic number k")),
        "population": ("population", population_names, attrs("1", "population")),
        "neuron_population": ("neuron", neuron_population,
                              attrs("1", "population of the neuron")),
    }
    return coords


def _add_traces(plan: Plan, sim: Simulation, chosen: np.ndarray, record_out: np.ndarray,
                lead: tuple[str, ...], coords: dict[str, Any], data: dict[str, Any]) -> None:
    """The recorded ``rate`` (or ``state``) variable and its time coordinate."""
    n_rows = record_out.shape[0]
    traces = record_out.reshape(n_rows, plan.n_batch, chosen.size).transpose(1, 0, 2)
    coords["time"] = ("time", np.arange(n_rows) * sim.record_every * sim.dt,
                      attrs("s", "time"))
    name = "state" if sim.record == "state" else "rate"
    variable_attrs = (attrs("Hz", "firing rate") if name == "rate" else
                      attrs("Hz (rate form) or drive units (voltage form)",
                            "state (r in rate form, v in voltage form)"))
    dims = ("time", "neuron") if chosen.size == plan.n_neurons else ("time", "recorded")
    if chosen.size != plan.n_neurons:
        coords["recorded_neuron"] = ("recorded", chosen,
                                     attrs("1", "index of the recorded neuron"))
    data[name] = (lead + dims, traces if lead else traces[0], variable_attrs)


def _batch_coord_name(path: str, batch: Mapping[str, Any]) -> str:
    """The batch coordinate of ``path``: its last component, or the whole path with
    underscores where two batched paths share that component."""
    short = path.rsplit(".", 1)[-1]
    clashes = [p for p in batch if p.rsplit(".", 1)[-1] == short]
    return short if len(clashes) == 1 else path.replace(".", "_")

