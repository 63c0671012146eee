"""Compile a Model (and an optional batch of parameter values) into the kernels' arrays.

A batch is ``{dotted path: 1-D array of B values}`` (zipped: element b takes the b-th value
of every path). The base model is compiled once and tiled B times; each path then overwrites
its column of the packed arrays, so a batch of 10,000 copies costs array writes, not 10,000
model constructions. Paths that change the coupling rebuild W per copy; paths that change
the shape of the simulation (sizes, dt, method, ...) cannot be batched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurorect._coupling import coupling_channels
from neurorect._paths import si_values
from neurorect.errors import ModelError
from neurorect.kernels.layout import (
    I0,
    N_PARAMS,
    N_PULSE,
    OU_SIGMA,
    OU_TAU,
    P_START,
    RATE_FORM,
    SIN_AMP,
    SIN_FREQ,
    SIN_PHASE,
    TAU,
    VOLTAGE_FORM,
    WHITE_SIGMA,
)
from neurorect.kernels.random import initial_normals, stream_keys
from neurorect.spec import Model
from neurorect.units import DimensionError

_INIT_SALT = np.uint64(0xD1B54A32D192ED03)
_VALIDATE_ALL_UP_TO = 64  # unique values per path validated one by one; beyond: min and max


@dataclass
class Plan:
    """Packed arrays for the kernels; see :mod:`neurorect.kernels` for the layout."""

    model: Model
    n_batch: int
    kinds: np.ndarray
    params: np.ndarray
    tparams: np.ndarray
    pulses: np.ndarray
    keys: np.ndarray
    init: np.ndarray
    ou_init: np.ndarray
    W: np.ndarray | None
    batch: dict[str, np.ndarray] = field(default_factory=dict)
    seeds: np.ndarray | None = None
    channels: tuple = ()  #: the coupling's channels (neurorect._coupling.Channel)

    @property
    def n_neurons(self) -> int:
        return self.model.size

    @property
    def n_units(self) -> int:
        return self.n_batch * self.model.size

    @property
    def coupled(self) -> bool:
        return self.W is not None


def _neuron_params(model: Model):
    """Per-neuron arrays of the base model (one batch copy)."""
    n = model.size
    kinds = np.zeros((n, 2), dtype=np.int64)
    params = np.zeros((n, N_PARAMS))
    tparams = np.zeros((n, 6))
    init = np.zeros(n)
    pulse_lists: list[list[tuple]] = [[] for _ in range(n)]
    for pop in model.populations:
        lo, hi = model.offsets[pop.name]
        size = pop.size
        drive = model.drive(pop.name)
        kinds[lo:hi, 0] = pop.transfer.code
        kinds[lo:hi, 1] = VOLTAGE_FORM if pop.form == "voltage" else RATE_FORM
        tparams[lo:hi] = pop.transfer.kernel_params()
        params[lo:hi, TAU] = pop.tau
        params[lo:hi, I0] = drive.per_neuron("I0", size)
        params[lo:hi, SIN_AMP] = drive.per_neuron("I1", size)
        params[lo:hi, SIN_FREQ] = drive.per_neuron("freq", size)
        params[lo:hi, SIN_PHASE] = drive.per_neuron("phase", size)
        params[lo:hi, OU_TAU] = 1.0
        if drive.noise is not None:
            column = OU_SIGMA if drive.noise.kind == "ou" else WHITE_SIGMA
            params[lo:hi, column] = drive.noise.sigma
            if drive.noise.kind == "ou":
                params[lo:hi, OU_TAU] = drive.noise.tau
        init[lo:hi] = pop.initial_values()
        for component in (*drive.steps, *drive.pulses):
            for i in range(lo, hi):
                pulse_lists[i].append(component.as_pulse())
    n_pulses = max((len(p) for p in pulse_lists), default=0)
    pulses = np.zeros((n, n_pulses, N_PULSE))
    pulses[:, :, P_START] = math.inf  # padding: never active
    for i, plist in enumerate(pulse_lists):
        if plist:
            pulses[i, :len(plist)] = plist
    return kinds, params, tparams, pulses, init


def _noise_keys(seeds: np.ndarray, n_neurons: int) -> np.ndarray:
    """Noise-stream keys, shape (B * N,): key(seed_b, neuron i), batch-major."""
    seeds = np.asarray(seeds, dtype=np.int64)
    if seeds.size and seeds.min() == seeds.max():  # one seed (the common case): no sort
        return np.tile(stream_keys(seeds[:1], n_neurons), seeds.size)
    unique, inverse = np.unique(seeds, return_inverse=True)
    table = stream_keys(unique, n_neurons).reshape(unique.size, n_neurons)
    return table[inverse].reshape(-1)


def _transfer_column(model: Model, pop_name: str, name: str) -> int:
    names = model.population(pop_name).transfer.param_names()
    if name not in names:
        raise ModelError("no such transfer parameter", key=f"populations.{pop_name}.transfer."
                         f"{name}", value=name, allowed=", ".join(names))
    return names.index(name)


_DRIVE_COLUMNS = {"I0": I0, "I1": SIN_AMP, "freq": SIN_FREQ,
                  "phase": SIN_PHASE}


def _validate_values(model: Model, path: str, values: np.ndarray) -> None:
    """Validate batch values through the model constructor (messages name file and key)."""
    unique = np.unique(values) if values.size <= _VALIDATE_ALL_UP_TO else values
    if unique.size > _VALIDATE_ALL_UP_TO:  # min and max (no sort: ~10x cheaper at 1e4)
        if not np.all(np.isfinite(values)):
            raise ModelError("batch values must be finite", key=path,
                             value=float(values[~np.isfinite(values)][0]),
                             allowed="finite numbers", file=model.source)
        unique = np.array([values.min(), values.max()])
    for value in unique:
        model.with_values({path: int(value) if values.dtype.kind in "iu" else float(value)})


def batch_kind(model: Model, path: str) -> str:
    """How a path is batched: 'column', 'seed', 'coupling'; raises ModelError otherwise."""
    parts = path.split(".")
    head = parts[0]
    allowed = ("populations.P.transfer.<param>, populations.P.tau, populations.P.init, "
               "populations.P.init.<field>, "
               "drives.P.I0|I1|freq|phase, drives.P.noise.sigma|tau, connections.C.<param>, "
               "simulation.seed")
    if head == "simulation" and parts[1:] == ["seed"]:
        return "seed"
    if head == "connections" and len(parts) == 3 and parts[2] not in ("delay", "tau_syn"):
        return "coupling"
    if head == "populations" and len(parts) >= 3 and (
            parts[2] in ("tau", "init") and len(parts) == 3
            or parts[2] == "transfer" and len(parts) == 4):
        return "column"
    if head == "populations" and len(parts) == 4 and parts[2] == "init":
        return "init"  # a field of an initial-state table: each copy draws its own states
    if head == "drives" and (len(parts) == 3 and parts[2] in _DRIVE_COLUMNS
                             or len(parts) == 4 and parts[2] == "noise"
                             and parts[3] in ("sigma", "tau")):
        return "column"
    raise ModelError("cannot be batched in one kernel call (it changes the shape or the "
                     "method of the simulation); run such values separately", key=path,
                     value=None, allowed=allowed, file=model.source)


def compile_plan(model: Model, *, seed: int, batch: Mapping[str, Any] | None = None) -> Plan:
    """Compile ``model`` and a zipped batch of parameter values into a :class:`Plan`."""
    values = _batch_values(model, batch or {})
    sizes = {array.size for array in values.values()}
    if len(sizes) > 1:
        raise ModelError("batch paths have different lengths (a batch is zipped)",
                         key="batch", value={p: a.size for p, a in values.items()},
                         allowed="equal lengths; use run_sweep for product grids")
    n_batch = sizes.pop() if sizes else 1
    kinds_by_path = {path: batch_kind(model, path) for path in values}
    for path, array in values.items():
        _validate_values(model, path, array)

    n = model.size
    kinds, params, tparams, pulses, init = _neuron_params(model)
    kinds = np.tile(kinds, (n_batch, 1))
    params = np.tile(params, (n_batch, 1))
    tparams = np.tile(tparams, (n_batch, 1))
    pulses = np.tile(pulses, (n_batch, 1, 1))
    init = np.tile(init, n_batch)
    seeds = np.full(n_batch, int(seed), dtype=np.int64)
    for path, array in values.items():
        if kinds_by_path[path] == "seed":
            seeds = array.astype(np.int64)
        elif kinds_by_path[path] == "column":
            _write_column(model, path, array, params, tparams, init)

    _write_initial_states(model, values, kinds_by_path, init)
    keys = _noise_keys(seeds, n)
    for pop in model.populations:  # shared noise: every neuron uses its first neuron's stream
        noise = model.drive(pop.name).noise
        if noise is not None and noise.shared:
            lo, hi = model.offsets[pop.name]
            table = keys.reshape(n_batch, n)
            table[:, lo:hi] = table[:, lo:lo + 1]
    ou_init = np.zeros(params.shape[0])  # the OU input starts in its stationary law
    if np.any(params[:, OU_SIGMA] != 0):
        ou_init = initial_normals(keys, _INIT_SALT) * params[:, OU_SIGMA]
    coupling_values = {p: values[p] for p, kind in kinds_by_path.items() if kind == "coupling"}
    W = _coupling_matrices(model, coupling_values, n_batch)
    return Plan(model=model, n_batch=n_batch, kinds=kinds, params=params, tparams=tparams,
                pulses=pulses, keys=keys, init=init, ou_init=ou_init, W=W, batch=values,
                seeds=seeds, channels=() if W is None else coupling_channels(
                    model, W, coupling_values))


def _batch_values(model: Model, batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The batch as ``{path: 1-D SI array}`` (seeds kept as exact integers), each value
    checked against its field's dimension (DimensionError naming the path)."""
    values: dict[str, np.ndarray] = {}
    for path, raw in batch.items():
        if path == "simulation.seed":  # integers: keep them exact (no float round trip)
            array = np.atleast_1d(np.asarray(raw))
            if array.dtype.kind not in "iu" or np.any(array < 0):
                raise ModelError("seeds must be non-negative integers", key=path,
                                 value=array.tolist()[:5], allowed="integers >= 0")
            values[path] = array.astype(np.int64)
            continue
        try:
            array = np.atleast_1d(si_values(model, path, list(raw) if not isinstance(
                raw, np.ndarray) else raw))
        except DimensionError:
            raise  # a unit of the wrong dimension, named by si_values
        except (ValueError, TypeError) as error:
            raise ModelError(f"batch values must be numbers ({error})", key=path,
                             value=raw if np.ndim(raw) == 0 else list(raw)[:4],
                             allowed="numbers or quantity strings such as '5 ms'") from None
        if array.ndim != 1:
            raise ModelError("batch values must be one-dimensional", key=path,
                             value=f"shape {array.shape}", allowed="a 1-D sequence")
        values[path] = array
    return values


def _write_column(model: Model, path: str, array: np.ndarray, params: np.ndarray,
                  tparams: np.ndarray, init: np.ndarray) -> None:
    """Write a 'column' batch path into the tiled arrays: copy b of the population takes
    ``array[b]``."""
    parts = path.split(".")
    pop = parts[1]
    n = model.size
    lo, hi = model.offsets[pop]
    view = np.arange(array.size)[:, None] * n + np.arange(lo, hi)[None, :]
    per_copy = array[:, None]
    if parts[0] == "populations" and parts[2] == "tau":
        params[view, TAU] = per_copy
    elif parts[0] == "populations" and parts[2] == "init":
        init[view] = per_copy
    elif parts[0] == "populations":
        tparams[view, _transfer_column(model, pop, parts[3])] = per_copy
    elif parts[2] == "noise":
        noise = model.drive(pop).noise
        if noise is None:
            raise ModelError("the model has no noise to vary; give the population a "
                             "noise table first", key=path, value=None,
                             allowed="drives.P.noise = { kind, sigma, tau }",
                             file=model.source)
        if parts[3] == "tau":
            params[view, OU_TAU] = per_copy
        else:
            params[view, OU_SIGMA if noise.kind == "ou" else WHITE_SIGMA] = per_copy
    else:
        params[view, _DRIVE_COLUMNS[parts[2]]] = per_copy


def _write_initial_states(model: Model, values: Mapping[str, np.ndarray],
                          kinds_by_path: Mapping[str, str], init: np.ndarray) -> None:
    """Per-copy initial states of the populations whose init table is batched
    (``populations.P.init.<field>``): copy b draws them from its own table."""
    by_population: dict[str, list[str]] = {}
    for path, kind in kinds_by_path.items():
        if kind == "init":
            by_population.setdefault(path.split(".")[1], []).append(path)
    n = model.size
    for pop_name, paths in by_population.items():
        lo, hi = model.offsets[pop_name]
        for b in range(init.size // n):
            changed = model.with_values({p: values[p][b].item() for p in paths})
            init[b * n + lo:b * n + hi] = changed.population(pop_name).initial_values()


def _coupling_matrices(model: Model, coupling_values: Mapping[str, np.ndarray],
                       n_batch: int) -> np.ndarray | None:
    """W as (1, N, N) shared or (B, N, N) per copy (batched coupling paths); None when the
    model has no connections or W is zero."""
    if not model.connections:
        return None
    if coupling_values:
        W = np.stack([model.with_values({p: v[b] for p, v in coupling_values.items()})
                      .coupling_matrix() for b in range(n_batch)])
    else:
        W = model.coupling_matrix()[None]
    return W if np.any(W) else None
