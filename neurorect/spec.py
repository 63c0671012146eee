"""Model specification: frozen dataclasses, validated on construction.

A model is written as a TOML file (see ``models/`` and :mod:`neurorect.modelfile`) with the
tables ``[simulation]``, ``[populations.NAME]``, ``[drives.NAME]`` (one per driven population),
``[connections.NAME]``, ``[lif]`` and ``[lif_network]`` (:mod:`neurorect.spec_lif`); each
table is one of the dataclasses here. Quantities may be written with units (``"10 ms"``,
``"15 mV"``, ``"5 Hz"``, ``"100 Hz/mV"``) or as Brian2 quantities and are converted to SI on
construction, their dimension checked against :data:`neurorect.units.FIELD_DIMENSIONS`
(``tau = "10 kHz"`` is a ModelError naming the key, the value and the dimension expected; bare
numbers are SI). Every parameter has a dotted path that mirrors the file, e.g.
``populations.E.transfer.alpha``, ``drives.E.freq``, ``connections.EI.weight``,
``simulation.dt``; :meth:`Model.with_values` sets parameters by path (through
:mod:`neurorect._paths`) and :func:`neurorect.run_sweep` sweeps them.

Dynamics of a population (``form``):

* ``"rate"``: ``tau dr/dt = -r + phi(W r + I(t) + noise)``
* ``"voltage"``: ``tau dv/dt = -v + W phi(v) + I(t) + noise``, ``r = phi(v)``

Coupling kinds (``W`` is post x pre; each connection fills the block of its two populations):

* ``"full"``: every pair, ``W_ij = weight / N_pre`` (a population-level weight, independent of
  size; for populations of one neuron ``W = weight``);
* ``"dense"``: an explicit ``matrix`` (N_post x N_pre, list of lists or a ``.npy`` path relative
  to the model file), scaled by ``weight`` (default 1);
* ``"sparse"``: each pair connected with ``probability``, synaptic weight ``weight``
  (seeded by ``seed``);
* ``"gaussian"``: ``W_ij ~ Normal(weight / N_pre, g**2 / N_pre)`` (seeded): the random-network
  gain ``g/sqrt(N)``.

``autapses = false`` (default) removes self-connections in random and full blocks of a
population onto itself.

Transmission delay and synaptic filter (per connection, so uniform per population pair):
``delay`` (s, a whole number of time steps) delays the presynaptic rates, and ``tau_syn``
(s, 0 = none) passes the connection's input through a first-order low-pass,
``tau_syn ds/dt = -s + W r(t - delay)``. Before t = 0 the rates are the initial ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from neurorect._paths import changed_fields, value_at
from neurorect._validate import (
    check_choice,
    check_integer,
    check_nonnegative,
    check_positive,
    check_range,
    closest_hint,
)
from neurorect.drive import Drive
from neurorect.errors import ModelError
from neurorect.initial import InitialState, as_init, initial_values
from neurorect.spec_lif import LIFNetwork, LIFNeuron
from neurorect.transfer import LeakyReLU, Transfer, transfer_from_dict
from neurorect.units import field_dimension, to_si

__all__ = [
    "Population", "Connection", "Simulation", "Model", "single_population", "LIFNeuron",
    "NeuronArrays", "METHODS", "FORMS", "LIFNetwork",
]

FORMS = ("rate", "voltage")
METHODS = ("exp_ab2", "exp_euler", "euler", "rk4")
CONNECTION_KINDS = ("full", "dense", "sparse", "gaussian")
RECORD_CHOICES = ("rate", "state", "none")


def _si(table: str, key: str, value, **context) -> Any:
    """``value`` (a number, a unit string or a Brian2 quantity) in SI, its dimension checked
    against field ``key`` of the class ``table`` in :data:`neurorect.units.FIELD_DIMENSIONS`
    (ModelError naming the key, the value and the expected dimension)."""
    if type(value) is float or type(value) is int:  # already SI: nothing to check
        return float(value)
    try:
        return to_si(value, field_dimension(table, key, **context), key=key)
    except ModelError:
        raise
    except (ValueError, TypeError) as error:
        raise ModelError(str(error), key=key, value=value,
                         allowed="a number or a quantity string such as '10 ms'") from None


@dataclass(frozen=True)
class Population:
    """A population of identical rate units.

    Parameters
    ----------
    name : str
    size : int
        Number of neurons (>= 1).
    tau : float
        Time constant, s (> 0).
    transfer : Transfer or dict
        Rate transfer ``phi`` (Hz), or its model-file table (``{"kind": "leaky_relu",
        "gain": ..., ...}``, unit strings allowed).
    form : {"rate", "voltage"}
        Which state equation (see module docstring).
    init : float, sequence or InitialState
        Initial state: rate (Hz) in rate form, input ``v`` (drive units) in voltage form.
        One number, one value per unit, or a seeded distribution (a table
        ``{ kind = "normal", mean = ..., std = ..., seed = ... }``, see
        :mod:`neurorect.initial`).
    """

    name: str
    tau: float
    transfer: Transfer = field(default_factory=LeakyReLU)
    size: int = 1
    form: str = "rate"
    init: float | tuple[float, ...] | InitialState = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.transfer, Mapping):
            try:
                object.__setattr__(self, "transfer", transfer_from_dict(self.transfer))
            except ModelError as error:
                raise error.in_context(prefix="transfer") from None
        object.__setattr__(self, "tau", float(_si("Population", "tau", self.tau)))
        check_positive("tau", self.tau, unit="s")
        check_integer("size", self.size, low=1)
        check_choice("form", self.form, FORMS)
        init = self.init
        if not isinstance(init, (dict, InitialState)):  # numbers, unit strings, lists
            init = _si("Population", "init", init, form=self.form)
        object.__setattr__(self, "init", as_init(init))
        initial_values(self.init, self.size)  # per-unit lists must have ``size`` values
        if not isinstance(self.transfer, Transfer):
            raise ModelError("must be a transfer", key="transfer", value=self.transfer,
                             allowed="a neurorect transfer (LeakyReLU, Softplus, ...) or "
                                     "a table { kind = 'leaky_relu', gain = ..., ... }")

    def initial_values(self) -> np.ndarray:
        """The initial state of each unit (state units), from ``init``."""
        return initial_values(self.init, self.size)


@dataclass(frozen=True)
class Connection:
    """A block of the coupling matrix from population ``pre`` to population ``post``.

    See the module docstring for the kinds. ``weight`` is in drive units per Hz in rate
    form (it multiplies rates) and drive units per Hz in voltage form too (it multiplies
    ``phi(v)``): ``0.1`` (SI: 1/Hz for dimensionless drive), ``"0.1 s"`` or ``"2 mV/Hz"``.
    ``g`` (the spread of gaussian weights) is in the same units; ``probability`` is
    dimensionless. ``delay`` (s, >= 0) is the transmission delay, a whole number of time
    steps; ``tau_syn`` (s, >= 0, 0 = none) the time constant of a first-order synaptic
    filter on the connection's input.
    """

    name: str
    pre: str
    post: str
    kind: str = "full"
    weight: float = 0.0
    probability: float = 1.0
    g: float = 0.0
    matrix: tuple[tuple[float, ...], ...] | str | None = None
    seed: int = 0
    autapses: bool = False
    delay: float = 0.0
    tau_syn: float = 0.0

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, CONNECTION_KINDS)
        for name in ("weight", "probability", "g", "delay", "tau_syn"):
            object.__setattr__(self, name, float(_si("Connection", name, getattr(self, name))))
        for name in ("delay", "tau_syn"):
            check_nonnegative(name, getattr(self, name), unit="s")
        if not math.isfinite(self.weight):
            raise ModelError("must be finite", key="weight", value=self.weight,
                             allowed="a finite number")
        check_range("probability", self.probability, low=0.0, high=1.0)
        check_nonnegative("g", self.g)
        check_integer("seed", self.seed, low=0)
        if self.kind == "dense" and self.matrix is None:
            raise ModelError("missing required key", key="matrix", value=None,
                             allowed="kind = 'dense' needs a matrix (list of lists or .npy path)")
        if isinstance(self.matrix, list):
            try:
                rows = tuple(tuple(float(v) for v in row) for row in self.matrix)
            except (TypeError, ValueError):
                raise ModelError("must be a list of lists of numbers", key="matrix",
                                 value=self.matrix, allowed="N_post rows of N_pre numbers "
                                 "(SI), or a .npy path") from None
            object.__setattr__(self, "matrix", rows)

    def block(self, n_post: int, n_pre: int, base_dir: Path | None = None) -> np.ndarray:
        """The (n_post, n_pre) block of W this connection contributes."""
        same = self.pre == self.post
        if self.kind == "full":
            block = np.full((n_post, n_pre), self.weight / n_pre)
        elif self.kind == "dense":
            matrix = self.matrix
            if isinstance(matrix, str):
                path = Path(matrix)
                if not path.is_absolute() and base_dir is not None:
                    path = base_dir / path
                matrix = np.load(path)
            block = self.weight_or_one() * np.asarray(matrix, dtype=float)
            if block.shape != (n_post, n_pre):
                raise ModelError("matrix has the wrong shape", key="matrix",
                                 value=f"shape {block.shape}",
                                 allowed=f"shape ({n_post}, {n_pre}) = (post size, pre size)")
            return block
        else:
            rng = np.random.default_rng(self.seed)
            if self.kind == "sparse":
                block = np.where(rng.random((n_post, n_pre)) < self.probability,
                                 self.weight, 0.0)
            else:  # gaussian
                block = (self.weight / n_pre
                         + self.g / math.sqrt(n_pre) * rng.standard_normal((n_post, n_pre)))
        if same and not self.autapses and n_pre > 1:
            np.fill_diagonal(block, 0.0)
        return block

    def weight_or_one(self) -> float:
        return self.weight if self.weight != 0.0 else 1.0


@dataclass(frozen=True)
class Simulation:
    """Default simulation settings of a model (``simulate`` arguments override them).

    Parameters
    ----------
    dt : float
        Time step, s.
    duration : float
        Simulated time, s.
    method : {"exp_ab2", "exp_euler", "euler", "rk4"}
        Integrator (see README, Engine): ``exp_ab2`` (default) is exponential Euler with
        the recurrent input extrapolated to the middle of the step, second order for
        networks; ``exp_euler`` holds the recurrent input at its left-end value (first
        order for networks); both are the same for uncoupled units.
    seed : int
        Seed of the noise (and nothing else; random coupling has its own seeds).
    transient : float
        Time discarded before streaming statistics start, s.
    record : {"rate", "state", "none"}
    record_every : int
        Record every n-th step.
    n_harmonics : int
        Harmonics computed by the streaming statistics.
    """

    dt: float = 1e-4
    duration: float = 1.0
    method: str = "exp_ab2"
    seed: int = 0
    transient: float = 0.0
    record: str = "rate"
    record_every: int = 1
    n_harmonics: int = 3

    def __post_init__(self) -> None:
        for name in ("dt", "duration", "transient"):
            object.__setattr__(self, name, float(_si("Simulation", name, getattr(self, name))))
        check_positive("dt", self.dt, unit="s")
        check_range("duration", self.duration, low=self.dt, high=math.inf, high_open=True,
                    unit="s")
        check_range("transient", self.transient, low=0.0, high=self.duration, high_open=True,
                    unit="s")
        check_choice("method", self.method, METHODS)
        check_choice("record", self.record, RECORD_CHOICES)
        check_integer("seed", self.seed, low=0)
        check_integer("record_every", self.record_every, low=1)
        check_integer("n_harmonics", self.n_harmonics, low=1)


class NeuronArrays(NamedTuple):
    """Per-neuron view of a model (length ``model.size``, populations in order)."""

    transfer: tuple[Transfer, ...]
    tau: np.ndarray  # s
    voltage: np.ndarray  # bool: voltage form
    I0: np.ndarray  # drive units


@dataclass(frozen=True)
class Model:
    """An immutable network model: populations, their drives, connections and settings.

    Build from a file with :func:`neurorect.load_model`, from scratch with
    :func:`single_population` or the constructor; change with :meth:`replace` or
    :meth:`with_values`.
    """

    populations: tuple[Population, ...]
    drives: Mapping[str, Drive] = field(default_factory=dict)
    connections: tuple[Connection, ...] = ()
    simulation: Simulation = field(default_factory=Simulation)
    name: str = "model"
    description: str = ""
    lif: LIFNeuron | None = None
    lif_network: LIFNetwork | None = None
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "populations", tuple(self.populations))
        object.__setattr__(self, "connections", tuple(self.connections))
        object.__setattr__(self, "drives", MappingProxyType(dict(self.drives)))
        names = [p.name for p in self.populations]
        if not names:
            raise ModelError("a model needs at least one population", key="populations",
                             value=None, allowed="one or more [populations.NAME] tables",
                             file=self.source)
        if len(set(names)) != len(names):
            raise ModelError("duplicate population name", key="populations", value=names,
                             allowed="unique names", file=self.source)
        for pop_name, drive in self.drives.items():
            if pop_name not in names:
                raise ModelError(f"drive for an unknown population{closest_hint(pop_name, names)}",
                                 key=f"drives.{pop_name}", value=pop_name,
                                 allowed=", ".join(names), file=self.source)
            size = self.population(pop_name).size
            for key in ("I0", "I1", "freq", "phase"):
                if not isinstance(getattr(drive, key), tuple):
                    continue  # one number fits any size: no array of `size` values needed
                try:
                    drive.per_neuron(key, size)
                except ModelError as error:
                    raise error.in_context(prefix=f"drives.{pop_name}",
                                           file=self.source) from None
        if self.lif is not None and self.lif.population not in names:
            raise ModelError(f"unknown population{closest_hint(self.lif.population, names)}",
                             key="lif.population", value=self.lif.population,
                             allowed=", ".join(names), file=self.source)
        for conn in self.connections:
            for end in ("pre", "post"):
                if getattr(conn, end) not in names:
                    value = getattr(conn, end)
                    raise ModelError(f"unknown population{closest_hint(value, names)}",
                                     key=f"connections.{conn.name}.{end}", value=value,
                                     allowed=", ".join(names), file=self.source)
        self._check_dt()

    def _check_dt(self) -> None:
        sim = self.simulation
        tau_min = min([p.tau for p in self.populations]
                      + [c.tau_syn for c in self.connections if c.tau_syn > 0.0])
        limits = {"euler": 1.0, "rk4": 2.0}
        if sim.method in limits and sim.dt > limits[sim.method] * tau_min:
            bound = limits[sim.method] * tau_min
            raise ModelError(f"dt too large for the explicit method {sim.method!r}",
                             key="simulation.dt", value=sim.dt,
                             allowed=f"dt <= {bound:g} s ({limits[sim.method]:g} x the smallest "
                                     f"tau or tau_syn, {tau_min:g} s), or method = 'exp_ab2' "
                                     "or method = 'exp_euler'",
                             file=self.source)
        self._check_delays()
        nyquist = 0.5 / sim.dt
        for pop_name, drive in self.drives.items():
            fmax = float(np.max(drive.freq))
            if fmax >= nyquist:
                raise ModelError("drive frequency at or above the Nyquist frequency",
                                 key=f"drives.{pop_name}.freq", value=fmax,
                                 allowed=f"freq < 1/(2 dt) = {nyquist:g} Hz",
                                 file=self.source)

    def _check_delays(self) -> None:
        """Delays are whole numbers of steps; RK4 takes neither delays nor filters."""
        sim = self.simulation
        for conn in self.connections:
            steps = conn.delay / sim.dt
            if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
                below, above = math.floor(steps) * sim.dt, math.ceil(steps) * sim.dt
                raise ModelError(
                    f"the delay must be a whole number of time steps (dt = {sim.dt:g} s): "
                    "the ring buffer of past rates holds whole steps only",
                    key=f"connections.{conn.name}.delay", value=conn.delay,
                    allowed=f"a multiple of dt, e.g. {below:g} s or {above:g} s, or a dt "
                            "that divides the delay", file=self.source)
            if sim.method == "rk4" and (conn.delay > 0.0 or conn.tau_syn > 0.0):
                key = "delay" if conn.delay > 0.0 else "tau_syn"
                raise ModelError(
                    "method 'rk4' takes no transmission delays or synaptic filters",
                    key="simulation.method", value=sim.method,
                    allowed=f"'exp_ab2' (second order), 'exp_euler' or 'euler' for a model "
                            f"with connections.{conn.name}.{key} > 0", file=self.source)

    # -- access -------------------------------------------------------------------------
    def population(self, name: str) -> Population:
        """The population called ``name``."""
        for pop in self.populations:
            if pop.name == name:
                return pop
        names = [p.name for p in self.populations]
        raise ModelError(f"no such population{closest_hint(name, names)}", key="population",
                         value=name, allowed=", ".join(names))

    @property
    def size(self) -> int:
        """Total number of neurons."""
        return sum(p.size for p in self.populations)

    @property
    def offsets(self) -> dict[str, tuple[int, int]]:
        """``{name: (first, stop)}`` neuron index range of each population."""
        out, start = {}, 0
        for pop in self.populations:
            out[pop.name] = (start, start + pop.size)
            start += pop.size
        return out

    @property
    def is_coupled(self) -> bool:
        """True if any connection has non-zero weights."""
        return bool(self.connections) and bool(np.any(self.coupling_matrix() != 0.0))

    def coupling_matrix(self) -> np.ndarray:
        """Dense W (post x pre, shape (size, size)); drive units per Hz."""
        W = np.zeros((self.size, self.size))
        base = Path(self.source).parent if self.source else None
        offsets = self.offsets
        for conn in self.connections:
            post0, post1 = offsets[conn.post]
            pre0, pre1 = offsets[conn.pre]
            try:
                W[post0:post1, pre0:pre1] += conn.block(post1 - post0, pre1 - pre0, base)
            except ModelError as error:
                raise error.in_context(prefix=f"connections.{conn.name}",
                                       file=self.source) from None
        return W

    def coupling_channels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The coupling split into channels: connections sharing a ``delay`` and a
        ``tau_syn``, in order of first appearance.

        Returns ``(W, delay, tau_syn)``: W (K, N, N) drive units per Hz, summing to
        :meth:`coupling_matrix`; delay and tau_syn (K,), s (0: none).
        """
        groups: dict[tuple[float, float], list[Connection]] = {}
        for conn in self.connections:
            groups.setdefault((conn.delay, conn.tau_syn), []).append(conn)
        if not groups:
            return np.zeros((0, self.size, self.size)), np.zeros(0), np.zeros(0)
        W = np.stack([self.replace(connections=tuple(group)).coupling_matrix()
                      for group in groups.values()])
        keys = np.array(list(groups), dtype=float)
        return W, keys[:, 0], keys[:, 1]

    def drive(self, name: str) -> Drive:
        """The drive of population ``name`` (zero drive if none is given)."""
        return self.drives.get(name, Drive())

    def require_lif(self) -> LIFNeuron:
        """The ``[lif]`` table; ModelError naming the file when the model has none."""
        if self.lif is None:
            raise ModelError("the model has no [lif] table", key="lif", value=None,
                             allowed="a model file with an [lif] table (see "
                                     "models/lif_matched.toml)", file=self.source)
        return self.lif

    def require_lif_network(self) -> LIFNetwork:
        """The ``[lif_network]`` table; ModelError naming the file when the model has none."""
        if self.lif_network is None:
            raise ModelError("the model has no [lif_network] table", key="lif_network",
                             value=None, allowed="a model file with an [lif_network] table "
                                                 "(see models/brunel_ai.toml)", file=self.source)
        return self.lif_network

    def drive_scalar(self, population: str, name: str) -> float:
        """``drives.<population>.<name>`` (``I0``, ``I1``, ``freq``, ``phase``) as one number.

        Raises ModelError naming the file and the full key when the population has
        per-neuron values that differ.
        """
        try:
            return self.drive(population).scalar(name)
        except ModelError as error:
            raise error.in_context(prefix=f"drives.{population}", file=self.source) from None

    def single_form(self, what: str) -> str:
        """The form shared by every population; ModelError naming ``what`` needs it (the
        network theories linearise one state equation) when they differ."""
        forms = {p.form for p in self.populations}
        if len(forms) > 1:
            raise ModelError(f"{what} needs one form for all populations", key="populations",
                             value=sorted(forms), allowed="all 'rate' or all 'voltage'",
                             file=self.source)
        return forms.pop()

    def neuron_arrays(self) -> NeuronArrays:
        """Transfer, tau (s), form and constant drive ``I0`` of every neuron, in order."""
        transfers: list[Transfer] = []
        for pop in self.populations:
            transfers += [pop.transfer] * pop.size
        tau = np.concatenate([np.full(p.size, p.tau) for p in self.populations])
        voltage = np.concatenate([np.full(p.size, p.form == "voltage")
                                  for p in self.populations])
        I0 = np.concatenate([self.drive(p.name).per_neuron("I0", p.size)
                             for p in self.populations])
        return NeuronArrays(tuple(transfers), tau, voltage, I0)

    # -- change ---------------------------------------------------------------------------
    def replace(self, **changes) -> Model:
        """A copy with top-level fields replaced (validated), like ``dataclasses.replace``."""
        valid = [f.name for f in fields(self)]
        for key in changes:
            if key not in valid:
                raise ModelError(f"unknown field{closest_hint(key, valid)}", key=key,
                                 value=changes[key], allowed=", ".join(valid))
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(changes)
        return Model(**data)

    def with_values(self, values: Mapping[str, Any]) -> Model:
        """A copy with parameters set by dotted path (``populations.E.transfer.alpha``).

        Values may carry units (``"5 ms"``). A dict value is a whole table: ``transfer`` and
        ``noise`` tables replace the old ones, a table of the model (``simulation``,
        ``populations.E``, ...) sets the keys it names. Each changed object is rebuilt once,
        with all its changes (:func:`dataclasses.replace`, no round trip through the file
        layout; see :mod:`neurorect._paths`), and validated like a model file: errors name
        the file and the full key.
        """
        if not isinstance(values, Mapping):
            raise ModelError("must be a mapping of dotted paths to values", key="values",
                             value=type(values).__name__, allowed="{'drives.E.I0': 0.5, ...}",
                             file=self.source)
        return self.replace(**changed_fields(self, values))

    def get_value(self, path: str) -> Any:
        """The value at a dotted path (SI), e.g. ``populations.E.transfer.alpha``."""
        return value_at(self, path)


def single_population(transfer: Transfer, *, tau: float, form: str = "rate", size: int = 1,
                      drive: Drive | None = None, name: str = "E", **simulation) -> Model:
    """A one-population model for scripts.

    Parameters
    ----------
    transfer : Transfer
    tau : float
        Time constant, s.
    form : {"rate", "voltage"}
    size : int
    drive : Drive, optional
        The population's drive (default none).
    name : str
        Population name (default ``"E"``).
    **simulation
        Fields of :class:`Simulation` (dt, duration, method, seed, ...).
    """
    try:
        pop = Population(name=name, tau=tau, transfer=transfer, size=size, form=form)
    except ModelError as error:
        raise error.in_context(prefix=f"populations.{name}") from None
    drives = {name: drive} if drive is not None else {}
    return Model(populations=(pop,), drives=drives, simulation=Simulation(**simulation),
                 name=f"single_{transfer.kind}")
