"""Model specification: frozen dataclasses, validated on construction, and TOML model files.

A model file (see ``models/``) has the tables ``[simulation]``, ``[populations.NAME]``,
``[drives.NAME]`` (one per driven population) and ``[connections.NAME]``. Quantities may be
written with units (``"10 ms"``, ``"15 mV"``, ``"5 Hz"``, ``"100 Hz/mV"``) and are converted to SI
on load. Every parameter has a dotted path that mirrors the file, e.g.
``populations.E.transfer.alpha``, ``drives.E.freq``, ``connections.EI.weight``,
``simulation.dt``; :meth:`Model.with_values` sets parameters by path and
:func:`neurorect.run_sweep` sweeps them.

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
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from neurorect._validate import check_choice, check_integer, check_range, closest_hint
from neurorect.drive import Drive
from neurorect.errors import ModelError
from neurorect.transfer import LeakyReLU, Transfer, transfer_from_dict
from neurorect.units import to_si

__all__ = [
    "Population", "Connection", "Simulation", "Model", "model_from_dict", "single_population",
    "LIFNeuron", "NeuronArrays", "METHODS", "FORMS",
]

FORMS = ("rate", "voltage")
METHODS = ("exp_euler", "euler", "rk4")
CONNECTION_KINDS = ("full", "dense", "sparse", "gaussian")
RECORD_CHOICES = ("rate", "state", "none")


def _si(key: str, value) -> Any:
    try:
        return to_si(value)
    except ValueError as error:
        raise ModelError(str(error), key=key, value=value,
                         allowed="a number or a quantity string such as '10 ms'") from None


def _check_keys(prefix: str, data: Mapping[str, Any], allowed, required=()) -> None:
    for key in data:
        if key not in allowed:
            raise ModelError(f"unknown key{closest_hint(key, allowed)}", key=f"{prefix}.{key}"
                             if prefix else key, value=data[key], allowed=", ".join(allowed))
    for key in required:
        if key not in data:
            raise ModelError("missing required key", key=f"{prefix}.{key}" if prefix else key,
                             value=None, allowed=f"the table must set {key!r}")


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
    transfer : Transfer
        Rate transfer ``phi`` (Hz).
    form : {"rate", "voltage"}
        Which state equation (see module docstring).
    init : float
        Initial state: rate (Hz) in rate form, input ``v`` (drive units) in voltage form.
    """

    name: str
    tau: float
    transfer: Transfer = field(default_factory=LeakyReLU)
    size: int = 1
    form: str = "rate"
    init: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau", float(_si("tau", self.tau)))
        check_range("tau", self.tau, low=0.0, low_open=True, high=math.inf, high_open=True,
                    unit="s")
        check_integer("size", self.size, low=1)
        check_choice("form", self.form, FORMS)
        object.__setattr__(self, "init", float(_si("init", self.init)))
        if not isinstance(self.transfer, Transfer):
            raise ModelError("must be a transfer", key="transfer", value=self.transfer,
                             allowed="a neurorect transfer (LeakyReLU, Softplus, ...)")


@dataclass(frozen=True)
class Connection:
    """A block of the coupling matrix from population ``pre`` to population ``post``.

    See the module docstring for the kinds. ``weight`` is in drive units per Hz in rate
    form (it multiplies rates) and drive units per Hz in voltage form too (it multiplies
    ``phi(v)``).
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

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, CONNECTION_KINDS)
        object.__setattr__(self, "weight", float(_si("weight", self.weight)))
        if not math.isfinite(self.weight):
            raise ModelError("must be finite", key="weight", value=self.weight,
                             allowed="a finite number")
        check_range("probability", self.probability, low=0.0, high=1.0)
        check_range("g", self.g, low=0.0, high=math.inf, high_open=True)
        check_integer("seed", self.seed, low=0)
        if self.kind == "dense" and self.matrix is None:
            raise ModelError("missing required key", key="matrix", value=None,
                             allowed="kind = 'dense' needs a matrix (list of lists or .npy path)")
        if isinstance(self.matrix, list):
            object.__setattr__(self, "matrix", tuple(tuple(float(v) for v in row)
                                                     for row in self.matrix))

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
    method : {"exp_euler", "euler", "rk4"}
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
    method: str = "exp_euler"
    seed: int = 0
    transient: float = 0.0
    record: str = "rate"
    record_every: int = 1
    n_harmonics: int = 3

    def __post_init__(self) -> None:
        for name in ("dt", "duration", "transient"):
            object.__setattr__(self, name, float(_si(name, getattr(self, name))))
        check_range("dt", self.dt, low=0.0, low_open=True, high=math.inf, high_open=True,
                    unit="s")
        check_range("duration", self.duration, low=self.dt, high=math.inf, high_open=True,
                    unit="s")
        check_range("transient", self.transient, low=0.0, high=self.duration, high_open=True,
                    unit="s")
        check_choice("method", self.method, METHODS)
        check_choice("record", self.record, RECORD_CHOICES)
        check_integer("seed", self.seed, low=0)
        check_integer("record_every", self.record_every, low=1)
        check_integer("n_harmonics", self.n_harmonics, low=1)


@dataclass(frozen=True)
class LIFNeuron:
    """The leaky integrate-and-fire neuron a rate population is matched to (``[lif]`` table).

    Brunel's convention: ``tau_m dV/dt = -V + mu(t) + sigma sqrt(tau_m) xi(t)``, voltages from
    rest. The input ``mu(t)`` is the matched population's drive (``drives.<population>``),
    in volts.

    Parameters
    ----------
    population : str
        The rate population whose drive the LIF neurons receive.
    tau_m : float
        Membrane time constant, s.
    v_th, v_reset : float
        Threshold and reset, V (``v_reset < v_th``).
    t_ref : float
        Absolute refractory period, s.
    sigma : float
        Noise amplitude, V (free membrane standard deviation ``sigma / sqrt(2)``).
    n_neurons : int
        LIF neurons per condition.
    dt : float
        Brian2 time step, s.
    """

    population: str = "E"
    tau_m: float = 0.02
    v_th: float = 0.02
    v_reset: float = 0.01
    t_ref: float = 0.002
    sigma: float = 0.005
    n_neurons: int = 1000
    dt: float = 5e-5

    def __post_init__(self) -> None:
        for name in ("tau_m", "v_th", "v_reset", "t_ref", "sigma", "dt"):
            object.__setattr__(self, name, float(_si(name, getattr(self, name))))
        check_range("tau_m", self.tau_m, low=0.0, low_open=True, high=math.inf,
                    high_open=True, unit="s")
        check_range("v_reset", self.v_reset, low=-math.inf, high=self.v_th, high_open=True,
                    unit="V")
        check_range("t_ref", self.t_ref, low=0.0, high=math.inf, high_open=True, unit="s")
        check_range("sigma", self.sigma, low=0.0, high=math.inf, high_open=True, unit="V")
        check_range("dt", self.dt, low=0.0, low_open=True, high=self.tau_m, unit="s")
        check_integer("n_neurons", self.n_neurons, low=1)


class NeuronArrays(NamedTuple):
    """Per-neuron view of a model (length ``model.size``, populations in order)."""

    transfer: tuple[Transfer, ...]
    tau: np.ndarray  # s
    voltage: np.ndarray  # bool: voltage form
    I0: np.ndarray  # drive units


_TOP_KEYS = ("name", "description", "simulation", "populations", "drives", "connections",
             "lif")


@dataclass(frozen=True)
class Model:
    """An immutable network model: populations, their drives, connections and settings.

    Build from a file with :func:`load_model`, from scratch with :func:`single_population`
    or the constructor; change with :meth:`replace` or :meth:`with_values`.
    """

    populations: tuple[Population, ...]
    drives: Mapping[str, Drive] = field(default_factory=dict)
    connections: tuple[Connection, ...] = ()
    simulation: Simulation = field(default_factory=Simulation)
    name: str = "model"
    description: str = ""
    lif: LIFNeuron | None = None
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
        tau_min = min(p.tau for p in self.populations)
        limits = {"euler": 1.0, "rk4": 2.0}
        if sim.method in limits and sim.dt > limits[sim.method] * tau_min:
            bound = limits[sim.method] * tau_min
            raise ModelError(f"dt too large for the explicit method {sim.method!r}",
                             key="simulation.dt", value=sim.dt,
                             allowed=f"dt <= {bound:g} s ({limits[sim.method]:g} x the smallest "
                                     f"tau, {tau_min:g} s), or method = 'exp_euler'",
                             file=self.source)
        nyquist = 0.5 / sim.dt
        for pop_name, drive in self.drives.items():
            fmax = float(np.max(drive.freq))
            if fmax >= nyquist:
                raise ModelError("drive frequency at or above the Nyquist frequency",
                                 key=f"drives.{pop_name}.freq", value=fmax,
                                 allowed=f"freq < 1/(2 dt) = {nyquist:g} Hz",
                                 file=self.source)

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

    def drive(self, name: str) -> Drive:
        """The drive of population ``name`` (zero drive if none is given)."""
        return self.drives.get(name, Drive())

    def drive_scalar(self, population: str, name: str) -> float:
        """``drives.<population>.<name>`` (``I0``, ``I1``, ``freq``, ``phase``) as one number.

        Raises ModelError naming the file and the full key when the population has
        per-neuron values that differ.
        """
        try:
            return self.drive(population).scalar(name)
        except ModelError as error:
            raise error.in_context(prefix=f"drives.{population}", file=self.source) from None

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

        Values may carry units (``"5 ms"``). The result is validated like a model file.
        """
        data = self.to_dict()
        for path, value in values.items():
            set_path(data, path, value)
        return model_from_dict(data, source=self.source)

    def get_value(self, path: str) -> Any:
        """The value at a dotted path (SI)."""
        node: Any = self.to_dict()
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                keys = list(node) if isinstance(node, dict) else []
                raise ModelError(f"no such parameter{closest_hint(part, keys)}", key=path,
                                 value=part, allowed=", ".join(map(str, keys)))
            node = node[part]
        return node

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict in model-file layout (SI floats)."""
        sim = {f.name: getattr(self.simulation, f.name) for f in fields(Simulation)}
        pops = {p.name: {"size": p.size, "tau": p.tau, "form": p.form, "init": p.init,
                         "transfer": p.transfer.to_dict()} for p in self.populations}
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["simulation"] = sim
        out["populations"] = pops
        if self.drives:
            out["drives"] = {name: d.to_dict() for name, d in self.drives.items()}
        if self.connections:
            conns = {}
            for c in self.connections:
                entry: dict[str, Any] = {"pre": c.pre, "post": c.post, "kind": c.kind,
                                         "weight": c.weight}
                if c.kind == "sparse":
                    entry.update(probability=c.probability, seed=c.seed)
                if c.kind == "gaussian":
                    entry.update(g=c.g, seed=c.seed)
                if c.kind == "dense":
                    entry["matrix"] = (c.matrix if isinstance(c.matrix, str)
                                       else [list(row) for row in c.matrix])
                if c.autapses:
                    entry["autapses"] = True
                conns[c.name] = entry
            out["connections"] = conns
        if self.lif is not None:
            out["lif"] = {f.name: getattr(self.lif, f.name) for f in fields(LIFNeuron)}
        return out


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``path = "a.b.c"``; missing leaves are created only
    where the table exists (drives of undriven populations are created)."""
    parts = path.split(".")
    node = data
    for depth, part in enumerate(parts[:-1]):
        if part not in node:
            if parts[0] in ("drives",) and depth <= 1 or (parts[0] == "drives"
                                                           and part == "noise"):
                node[part] = {}
            else:
                keys = list(node)
                raise ModelError(f"no such table{closest_hint(part, keys)}", key=path,
                                 value=part, allowed=", ".join(map(str, keys)))
        node = node[part]
        if not isinstance(node, dict):
            raise ModelError("path goes through a value, not a table", key=path, value=node,
                             allowed="a path to a parameter")
    node[parts[-1]] = value


def _population_from_dict(name: str, data: dict[str, Any]) -> Population:
    allowed = ("size", "tau", "form", "init", "transfer")
    _check_keys("", data, allowed, required=("tau", "transfer"))
    transfer_data = data["transfer"]
    if not isinstance(transfer_data, dict):
        raise ModelError("must be a table", key="transfer", value=transfer_data,
                         allowed="{ kind = 'leaky_relu', gain = ..., ... }")
    transfer_si = {k: (v if k == "kind" else _si(f"transfer.{k}", v))
                   for k, v in transfer_data.items()}
    try:
        transfer = transfer_from_dict(transfer_si)
    except ModelError as error:
        raise error.in_context(prefix="transfer") from None
    return Population(name=name, tau=data["tau"], transfer=transfer,
                      size=data.get("size", 1), form=data.get("form", "rate"),
                      init=data.get("init", 0.0))


def _connection_from_dict(name: str, data: dict[str, Any]) -> Connection:
    allowed = [f.name for f in fields(Connection) if f.name != "name"]
    _check_keys("", data, allowed, required=("pre", "post"))
    return Connection(name=name, **data)


def _simulation_from_dict(data: dict[str, Any]) -> Simulation:
    allowed = [f.name for f in fields(Simulation)]
    _check_keys("", data, allowed)
    return Simulation(**data)


def model_from_dict(data: dict[str, Any], *, source: str | None = None) -> Model:
    """Build and validate a Model from the nested model-file dict.

    Raises ModelError naming ``source`` (the file), the full key path, the value and what is
    allowed.
    """
    try:
        _check_keys("", data, _TOP_KEYS, required=("populations",))
    except ModelError as error:
        raise error.in_context(file=source) from None

    def build(prefix: str, fn, *args):
        try:
            return fn(*args)
        except ModelError as error:
            raise error.in_context(prefix=prefix, file=source) from None
        except TypeError as error:  # wrong argument types from a malformed table
            raise ModelError(str(error), key=prefix, value=args[-1],
                             allowed="see the model-file reference", file=source) from None

    def table(key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ModelError("must be a table", key=key, value=value,
                             allowed=f"[{key}.NAME] tables", file=source)
        return value

    populations = [build(f"populations.{n}", _population_from_dict, n, d)
                   for n, d in table("populations").items()]
    drives = {n: build(f"drives.{n}", Drive.from_dict, d) for n, d in table("drives").items()}
    connections = [build(f"connections.{n}", _connection_from_dict, n, d)
                   for n, d in table("connections").items()]
    simulation = build("simulation", _simulation_from_dict, table("simulation"))
    lif = build("lif", _lif_from_dict, data["lif"]) if "lif" in data else None
    return Model(populations=populations, drives=drives, connections=connections,
                 simulation=simulation, name=str(data.get("name", "model")),
                 description=str(data.get("description", "")), lif=lif, source=source)


def _lif_from_dict(data: dict[str, Any]) -> LIFNeuron:
    _check_keys("", data, [f.name for f in fields(LIFNeuron)])
    return LIFNeuron(**data)


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
