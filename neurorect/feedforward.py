"""Feed-forward layered networks: the builder, the ``[feedforward]`` model-file table, and the
static forward pass with its Jacobian.

A feed-forward network has ``L`` layers of ``N`` rate units; layer ``l`` drives layer
``l + 1`` through Gaussian weights ``W_ij ~ N(0, weight_var / N)``; layers 2..L have biases
``b_i ~ N(bias_mean, bias_var)`` (their constant drive ``I0``), and layer 1 takes an input
pattern ``I_i ~ N(input_mean, input_var)`` plus any drive the model gives it. Everything is
seeded by one ``seed``. The network is an ordinary :class:`~neurorect.spec.Model`
(populations ``L1..LL``, connections ``L1_L2``, ...; kind ``"gaussian"``), so it simulates,
sweeps and saves like any other; :func:`neurorect.theory.depth_propagation` is its mean-field
theory.

In a model file::

    [feedforward]
    layers = 6
    size = 400
    weight_var = 2.0           # He initialisation for ReLU
    bias_var = 0.0
    input_var = 1.0
    seed = 1
    tau = "10 ms"
    transfer = { kind = "relu" }

expands into those populations, connections and drives when the file is loaded (the file
may add its own populations, connections and drives, e.g. ``[drives.L1]`` with a sinusoid;
a drive of a layer keeps its own ``I0`` added to the layer's pattern). A saved model holds
the expanded tables.

:func:`forward_pass` computes the steady state of a network without loops in one pass,
population by population, and the Jacobian of each population's rates with respect to the
input of the source populations: no iteration, no eigendecomposition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from neurorect._schema import attrs, provenance
from neurorect.drive import Drive
from neurorect.errors import ModelError
from neurorect.spec import Model, Simulation
from neurorect.spec_feedforward import FeedForward
from neurorect.transfer import Transfer

#: ``FeedForward`` (the table) lives in :mod:`neurorect.spec_feedforward`, which the model-file
#: loader imports without the result layer; it is re-exported here.
__all__ = ["FeedForward", "feedforward", "forward_pass", "population_order"]


def feedforward(transfer: Transfer, layers: int, size: int, *, weight_var: float,
                tau: float | str, bias_var: float = 0.0, bias_mean: float = 0.0,
                input_var: float = 0.0, input_mean: float = 0.0, seed: int = 0,
                form: str = "rate", prefix: str = "L", drive: Drive | None = None,
                name: str = "feedforward", **simulation) -> Model:
    """A feed-forward network of ``layers`` layers of ``size`` rate units (a Model).

    Parameters
    ----------
    transfer : Transfer
        The units' transfer ``phi`` (Hz).
    layers, size : int
        ``L`` layers of ``N`` units.
    weight_var : float
        Weights ``W_ij ~ N(0, weight_var / N)`` between consecutive layers.
    tau : float or str
        Time constant, s.
    bias_var, bias_mean : float
        Biases (constant drive) of layers 2..L: ``N(bias_mean, bias_var)``, drive units.
    input_var, input_mean : float
        Input pattern of layer 1: ``N(input_mean, input_var)``, drive units.
    seed : int
        Seed of weights, biases and input pattern.
    form : {"rate", "voltage"}
    prefix : str
        Layer names ``f"{prefix}1"``, ...
    drive : Drive, optional
        A further drive of layer 1 (sinusoid, steps, noise); its ``I0`` adds to the pattern.
    name : str
        The model's name.
    **simulation
        Fields of :class:`~neurorect.spec.Simulation` (dt, duration, ...).

    Returns
    -------
    Model
    """
    spec = FeedForward(layers=layers, size=size, weight_var=weight_var, tau=tau,
                       transfer=transfer, bias_var=bias_var, bias_mean=bias_mean,
                       input_var=input_var, input_mean=input_mean, seed=seed, form=form,
                       prefix=prefix)
    given = {spec.names()[0]: drive} if drive is not None else {}
    populations, connections, drives = spec.expand(drives=given)
    return Model(populations=populations, connections=connections, drives=drives,
                 simulation=Simulation(**simulation), name=name,
                 description=f"{layers} layers x {size} units, weight_var {weight_var:g}")


# --------------------------------------------------------------------------------------------
# the static forward pass
# --------------------------------------------------------------------------------------------

def population_order(model: Model) -> list[str]:
    """The populations in an order where every connection goes forward (a topological order).

    Raises ModelError when the connections with non-zero weights form a loop, a population
    onto itself included.
    """
    return _order(model, _blocks(model))


def _order(model: Model, blocks: dict[str, list[tuple[str, np.ndarray]]]) -> list[str]:
    names = [p.name for p in model.populations]
    order: list[str] = []
    while len(order) < len(names):
        done = set(order)
        ready = [n for n in names if n not in done and all(pre in done for pre, _ in blocks[n])]
        if not ready:
            loop = sorted(n for n in names if n not in done)
            raise ModelError("the connections form a loop: the steady state of a network "
                             "with loops needs neurorect.theory.fixed_point",
                             key="connections", value=loop,
                             allowed="a network without loops (e.g. a [feedforward] table)",
                             file=model.source)
        order += ready
    return order


def _blocks(model: Model) -> dict[str, list[tuple[str, np.ndarray]]]:
    """``{post: [(pre, block), ...]}`` of the coupling's non-zero blocks (drive units per
    Hz); blocks of several connections between the same two populations are summed."""
    base = Path(model.source).parent if model.source else None
    out: dict[str, list[tuple[str, np.ndarray]]] = {p.name: [] for p in model.populations}
    for conn in model.connections:
        n_post, n_pre = model.population(conn.post).size, model.population(conn.pre).size
        try:
            block = conn.block(n_post, n_pre, base)
        except ModelError as error:
            raise error.in_context(prefix=f"connections.{conn.name}",
                                   file=model.source) from None
        out[conn.post].append((conn.pre, block))
    for post, items in out.items():
        summed: dict[str, np.ndarray] = {}
        for pre, block in items:
            summed[pre] = summed[pre] + block if pre in summed else block
        out[post] = [(pre, block) for pre, block in summed.items() if np.any(block != 0.0)]
    return out


def forward_pass(model: Model, *, jacobian: bool = True,
                 jacobian_of: str | None = None) -> xr.Dataset:
    """Steady state of a network without loops, in one pass, and its Jacobian.

    Population by population in a topological order (:func:`population_order`):
    ``h = sum_pre W_block r_pre + I0``, ``r = phi(h)`` (the fixed point of both the rate and
    the voltage form; sinusoids, steps, pulses and noise are ignored). The Jacobian of each
    population's rates with respect to the constant input of the *source* populations (those
    without inputs), ``J_P = D_P sum_pre W_block J_pre`` (``D = diag(phi'(h))``, right
    derivative at a kink), is built the same way; its stability needs no eigendecomposition
    (all eigenvalues of the dynamics' Jacobian are ``-1/tau``).

    Parameters
    ----------
    model : Model
        A model whose connections form no loop.
    jacobian : bool
        Compute ``jacobian_gain`` (default True).
    jacobian_of : str, optional
        Also return the Jacobian matrix of this population, ``jacobian`` (dims ``post``,
        ``source``), Hz per drive unit.

    Returns
    -------
    xarray.Dataset
        ``rate`` (Hz), ``input`` (``h``, drive units) and ``slope`` (``phi'(h)``) over
        ``neuron``; over ``population``: ``mean_rate``, ``h_mean`` and ``q`` (mean and
        variance of ``h`` across the population's units, as in
        :func:`neurorect.theory.depth_propagation`), ``h_second_moment`` (``mean(h^2)``),
        ``level`` (0 for sources) and ``jacobian_gain``
        (``||J_P||_F^2 / N_sources``, the mean squared singular value, (Hz/drive unit)^2).
    """
    blocks = _blocks(model)
    order = _order(model, blocks)
    sizes = {p.name: p.size for p in model.populations}
    sources = [n for n in order if not blocks[n]]
    n_src = sum(sizes[n] for n in sources)
    rate, h, slope, jac, level = {}, {}, {}, {}, {}
    column = 0
    for name in order:
        pop = model.population(name)
        h[name] = model.drive(name).per_neuron("I0", pop.size).copy()
        for pre, block in blocks[name]:
            h[name] += block @ rate[pre]
        rate[name] = np.asarray(pop.transfer(h[name]), float)
        slope[name] = np.asarray(pop.transfer.derivative(h[name]), float)
        level[name] = 1 + max((level[pre] for pre, _ in blocks[name]), default=-1)
        if jacobian or jacobian_of is not None:
            if blocks[name]:
                total = sum(block @ jac[pre] for pre, block in blocks[name])
                jac[name] = slope[name][:, None] * total
            else:
                jac[name] = np.zeros((pop.size, n_src))
                jac[name][np.arange(pop.size), column + np.arange(pop.size)] = slope[name]
                column += pop.size
    return _pass_dataset(model, rate, h, slope, jac, level, n_src, jacobian, jacobian_of)


def _pass_dataset(model, rate, h, slope, jac, level, n_src, jacobian, jacobian_of):
    """The Dataset of :func:`forward_pass`."""
    names = [p.name for p in model.populations]

    def joined(values):
        return np.concatenate([values[n] for n in names])

    def per_pop(func):
        return np.array([func(n) for n in names], dtype=float)

    data = {
        "rate": ("neuron", joined(rate), attrs("Hz", "steady-state rate")),
        "input": ("neuron", joined(h), attrs("drive units", "total input W r + I0")),
        "slope": ("neuron", joined(slope), attrs("Hz per drive unit", "phi'(h)")),
        "mean_rate": ("population", per_pop(lambda n: rate[n].mean()),
                      attrs("Hz", "population mean rate")),
        "h_mean": ("population", per_pop(lambda n: h[n].mean()),
                   attrs("drive units", "mean input across the population")),
        "q": ("population", per_pop(lambda n: h[n].var()),
              attrs("drive units^2", "variance of the input across the population")),
        "h_second_moment": ("population", per_pop(lambda n: np.mean(h[n] ** 2)),
                            attrs("drive units^2", "mean squared input")),
        "level": ("population", per_pop(lambda n: level[n]).astype(int),
                  attrs("1", "depth in the network (0: sources)")),
    }
    if jacobian:
        data["jacobian_gain"] = ("population",
                                 per_pop(lambda n: np.sum(jac[n] ** 2) / max(n_src, 1)),
                                 attrs("(Hz per drive unit)^2", "mean squared singular value "
                                       "of d rate / d source input"))
    if jacobian_of is not None:
        if jacobian_of not in names:
            raise ModelError("no such population", key="jacobian_of", value=jacobian_of,
                             allowed=", ".join(names))
        data["jacobian"] = (("post", "source"), jac[jacobian_of],
                            attrs("Hz per drive unit",
                                  f"d rate of {jacobian_of} / d input of the sources"))
    neuron_population = np.concatenate([[p.name] * p.size for p in model.populations])
    coords = {"neuron": ("neuron", np.arange(model.size), attrs("1", "neuron index")),
              "population": ("population", names, attrs("1", "population")),
              "neuron_population": ("neuron", neuron_population,
                                    attrs("1", "population of the neuron"))}
    return xr.Dataset(data, coords=coords,
                      attrs=provenance(model, method="forward pass (network without loops)"))
