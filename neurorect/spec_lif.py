r"""The LIF tables: ``[lif]`` (:class:`LIFNeuron`, the neuron a rate population is matched to)
and ``[lif_network]`` (:class:`LIFNetwork`, a Brunel (2000) E-I network of LIF neurons); both
re-exported by :mod:`neurorect.spec`.

Brunel's model A: ``N_E`` excitatory and ``N_I`` inhibitory leaky integrate-and-fire neurons
(Brunel's convention, voltages from rest: ``tau_m dV/dt = -V + tau_m sum_j J_j
sum_k delta(t - t_j^k - D)``, threshold ``v_th``, reset ``v_reset``, absolute refractory
period ``t_ref`` during which the neuron ignores its input). Every neuron, E or I, receives
exactly ``C_E`` excitatory and ``C_I`` inhibitory recurrent inputs (fixed in-degree, presynaptic
neurons drawn without replacement, no autapses; seeded by ``seed``), delta synapses with EPSP
``J`` and IPSP ``-g J``, and one transmission delay ``delay`` (``D``). External input comes
from ``C_E`` independent sources per neuron at the rate ``nu_ext = eta * nu_thr``,
``nu_thr = v_th / (J C_E tau_m)`` (the external rate that brings the free mean input to
threshold):

* ``external = "poisson"``: Poisson spike trains, EPSP ``J`` (Brunel's network);
* ``external = "white"``: Gaussian white noise of the same mean and variance,
  ``mu_ext = C_E J tau_m nu_ext`` and ``sigma_ext^2 = C_E J^2 tau_m nu_ext`` (the diffusion
  limit of the external input; the recurrent input stays spikes).

An optional (multi-)sinusoidal modulation of the external rate,
``nu_ext(t) = nu_ext (1 + mod_depth sum_k sin(2 pi f_k t))`` with ``f_k`` in ``mod_freqs``,
probes the network's linear response at every ``f_k`` from one run. The frequencies must be
distinct and free of second-order collisions (no ``f_i = 2 f_j``, ``f_i = f_j + f_k`` or
``f_i = |f_j - f_k|``: there the second-order response of one component would be read as the
first-order response of another), and ``len(mod_freqs) * mod_depth <= 1`` keeps the rate
non-negative.

Mean field (Brunel 2000; :func:`neurorect.lif.mean_field`):
``mu = C_E J tau_m (nu_ext + nu (1 - g C_I / C_E))``,
``sigma^2 = J^2 C_E tau_m (nu_ext + nu (1 + g^2 C_I / C_E))``, ``nu = Siegert(mu, sigma)``.
Every parameter has the dotted path ``lif_network.<key>`` (``lif_network.g``,
``lif_network.eta``, ...) for :meth:`~neurorect.spec.Model.with_values` and sweeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurorect._validate import (
    check_choice,
    check_integer,
    check_nonnegative,
    check_positive,
    check_range,
)
from neurorect.errors import ModelError
from neurorect.units import field_dimension, to_si

__all__ = ["LIFNeuron", "LIFNetwork", "EXTERNAL_KINDS", "LIF_NETWORK_UNITS", "POPULATIONS"]

EXTERNAL_KINDS = ("poisson", "white")
#: The two populations of the network, excitatory first.
POPULATIONS = ("E", "I")
#: Units (SI) of every key of the table, for result coordinates and the model-file reference.
LIF_NETWORK_UNITS = {
    "N_E": "1", "N_I": "1", "C_E": "1", "C_I": "1", "J": "V", "g": "1", "delay": "s",
    "eta": "1", "external": "1", "tau_m": "s", "v_th": "V", "v_reset": "V", "t_ref": "s",
    "dt": "s", "mod_depth": "1", "mod_freqs": "Hz", "seed": "1",
}
#: Relative tolerance of the checks that compare frequencies and step multiples.
_REL_TOL = 1e-9


def _si(key: str, value: Any, dimension: str | None = None, table: str = "LIFNetwork") -> Any:
    """``value`` in SI, its dimension checked against the entry of field ``key`` of class
    ``table`` in :data:`neurorect.units.FIELD_DIMENSIONS` (or ``dimension``)."""
    if type(value) is float or type(value) is int:  # already SI: nothing to check
        return float(value)
    want = dimension if dimension is not None else field_dimension(table, key)
    try:
        return to_si(value, want, key=key)
    except ModelError:
        raise
    except (ValueError, TypeError) as error:
        raise ModelError(str(error), key=key, value=value,
                         allowed="a number or a quantity string such as '1.5 ms'") from None


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
            object.__setattr__(self, name, float(_si(name, getattr(self, name), table="LIFNeuron")))
        check_positive("tau_m", self.tau_m, unit="s")
        check_range("v_reset", self.v_reset, low=-math.inf, high=self.v_th, high_open=True,
                    unit="V")
        check_nonnegative("t_ref", self.t_ref, unit="s")
        check_nonnegative("sigma", self.sigma, unit="V")
        check_range("dt", self.dt, low=0.0, low_open=True, high=self.tau_m, unit="s")
        check_integer("n_neurons", self.n_neurons, low=1)


@dataclass(frozen=True)
class LIFNetwork:
    """A Brunel (2000) E-I network of LIF neurons (the ``[lif_network]`` table).

    See the module docstring for the model. All quantities SI.

    Parameters
    ----------
    N_E, N_I : int
        Numbers of excitatory and inhibitory neurons (>= 1).
    C_E, C_I : int
        Excitatory and inhibitory in-degree of every neuron (``1 <= C_E <= N_E - 1``,
        ``0 <= C_I <= N_I - 1``); ``C_E`` is also the number of external sources.
    J : float
        EPSP amplitude, V (> 0).
    g : float
        Relative strength of inhibition (IPSP ``-g J``), >= 0.
    delay : float
        Transmission delay ``D``, s: a whole number (>= 1) of Brian2 steps ``dt``.
    eta : float
        External rate in units of ``nu_thr``, >= 0.
    external : {"poisson", "white"}
        External input as Poisson spike trains or as white noise of matched mean and variance.
    tau_m : float
        Membrane time constant, s.
    v_th, v_reset : float
        Threshold and reset, V (from rest; ``v_reset < v_th``, ``v_th > 0``).
    t_ref : float
        Absolute refractory period, s.
    dt : float
        Brian2 time step, s.
    mod_depth : float
        Relative amplitude of each sinusoidal component of the external rate (>= 0).
    mod_freqs : tuple of float
        Modulation frequencies, Hz (distinct, > 0, below the Nyquist frequency of ``dt``).
    seed : int
        Seed of the connectivity (the noise has the run's seed).
    """

    N_E: int = 8000
    N_I: int = 2000
    C_E: int = 800
    C_I: int = 200
    J: float = 1e-4
    g: float = 5.0
    delay: float = 1.5e-3
    eta: float = 2.0
    external: str = "poisson"
    tau_m: float = 0.02
    v_th: float = 0.02
    v_reset: float = 0.01
    t_ref: float = 0.002
    dt: float = 1e-4
    mod_depth: float = 0.0
    mod_freqs: tuple[float, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("J", "g", "delay", "eta", "tau_m", "v_th", "v_reset", "t_ref", "dt",
                     "mod_depth"):
            object.__setattr__(self, name, float(_si(name, getattr(self, name))))
        listed = self.mod_freqs if isinstance(self.mod_freqs, (list, tuple)) else [self.mod_freqs]
        freqs = _si("mod_freqs", list(listed), "frequency")
        object.__setattr__(self, "mod_freqs", tuple(float(f) for f in np.atleast_1d(freqs)))
        for name, low in (("N_E", 1), ("N_I", 1), ("C_E", 1), ("C_I", 0), ("seed", 0)):
            object.__setattr__(self, name, check_integer(name, getattr(self, name), low=low))
        check_range("C_E", self.C_E, low=1, high=self.N_E - 1)
        check_range("C_I", self.C_I, low=0, high=max(self.N_I - 1, 0))
        check_positive("J", self.J, unit="V")
        check_nonnegative("g", self.g)
        check_nonnegative("eta", self.eta)
        check_choice("external", self.external, EXTERNAL_KINDS)
        check_positive("tau_m", self.tau_m, unit="s")
        check_positive("v_th", self.v_th, unit="V")
        check_range("v_reset", self.v_reset, low=-math.inf, high=self.v_th, high_open=True,
                    unit="V")
        check_nonnegative("t_ref", self.t_ref, unit="s")
        check_range("dt", self.dt, low=0.0, low_open=True, high=0.1 * self.tau_m, unit="s")
        self._check_delay()
        self._check_modulation()

    def _check_delay(self) -> None:
        steps = self.delay / self.dt
        if not (math.isfinite(steps) and steps >= 1 - _REL_TOL
                and abs(steps - round(steps)) <= _REL_TOL * max(steps, 1.0)):
            raise ModelError("the delay must be a whole number of Brian2 steps", key="delay",
                             value=self.delay,
                             allowed=f"k * dt with k >= 1 integer (dt = {self.dt:g} s)")

    def _check_modulation(self) -> None:
        check_nonnegative("mod_depth", self.mod_depth)
        freqs = np.asarray(self.mod_freqs, dtype=float)
        if freqs.size == 0:
            return
        nyquist = 0.5 / self.dt
        check_range("mod_freqs", freqs, low=0.0, low_open=True, high=nyquist, high_open=True,
                    unit="Hz")
        if np.unique(freqs).size != freqs.size:
            raise ModelError("modulation frequencies must be distinct", key="mod_freqs",
                             value=list(self.mod_freqs), allowed="distinct values")
        if freqs.size * self.mod_depth > 1.0 + _REL_TOL:
            raise ModelError("the modulated external rate could become negative",
                             key="mod_depth", value=self.mod_depth,
                             allowed=f"len(mod_freqs) * mod_depth <= 1 (here {freqs.size} "
                                     "frequencies)")
        collision = second_order_collision(freqs)
        if collision:
            raise ModelError(f"modulation frequencies collide at second order ({collision})",
                             key="mod_freqs", value=list(self.mod_freqs),
                             allowed="no f_i = 2 f_j, f_j + f_k or |f_j - f_k| (e.g. "
                                     "incommensurate frequencies such as 7, 17, 31 Hz)")

    # -- derived quantities -----------------------------------------------------------------
    @property
    def nu_thr(self) -> float:
        """External rate that brings the free mean input to threshold, Hz."""
        return self.v_th / (self.J * self.C_E * self.tau_m)

    @property
    def nu_ext(self) -> float:
        """External rate per source, ``eta * nu_thr``, Hz."""
        return self.eta * self.nu_thr

    @property
    def sizes(self) -> tuple[int, int]:
        """``(N_E, N_I)``."""
        return (self.N_E, self.N_I)

    @property
    def delay_steps(self) -> int:
        """The delay in Brian2 steps."""
        return int(round(self.delay / self.dt))

    def in_degree(self) -> np.ndarray:
        """In-degrees ``K[post, pre]`` (2 x 2, populations E, I)."""
        return np.array([[self.C_E, self.C_I], [self.C_E, self.C_I]], dtype=float)

    def weights(self) -> np.ndarray:
        """PSP amplitudes ``J[post, pre]`` (2 x 2), V."""
        return np.array([[self.J, -self.g * self.J], [self.J, -self.g * self.J]])

    def external_moments(self) -> tuple[float, float]:
        """Mean (V) and variance (V**2) of the external input, ``C_E J tau_m nu_ext`` and
        ``C_E J**2 tau_m nu_ext``, the same for both populations and both kinds."""
        rate = self.C_E * self.tau_m * self.nu_ext
        return self.J * rate, self.J**2 * rate


def second_order_collision(freqs: np.ndarray) -> str:
    """The first second-order collision among ``freqs`` (``"a = 2 x b"``, ``"a = b + c"``,
    ``"a = b - c"``), or ``""``; relative tolerance 1e-9."""
    f = np.asarray(freqs, dtype=float)
    for i, fi in enumerate(f):
        for j, fj in enumerate(f):
            if i != j and abs(fi - 2 * fj) <= _REL_TOL * fi:
                return f"{fi:g} = 2 x {fj:g}"
            for k, fk in enumerate(f):
                if len({i, j, k}) < 3:
                    continue
                if abs(fi - (fj + fk)) <= _REL_TOL * fi:
                    return f"{fi:g} = {fj:g} + {fk:g}"
                if abs(fi - abs(fj - fk)) <= _REL_TOL * fi:
                    return f"{fi:g} = |{fj:g} - {fk:g}|"
    return ""
