"""What a run will cost, estimated before anything is allocated, and the refusal of work far
beyond the machine.

:func:`run_cost` estimates the bytes a :func:`neurorect.simulate` call allocates (the packed
plan, the state, the statistics sums and their results, the coupling matrix, the recording)
and its work in neuron-steps; :func:`check_cost` refuses a run above the limits with a
ModelError that says what it would cost and how to lift the limit.

Limits (each: keyword argument, else environment variable, else default):

* work: ``max_work`` (neuron-steps; ``NEURORECT_MAX_WORK``), default ``1e11``, about two
  minutes at the engine's best speed on two cores (~1e9 neuron-steps/s, vectorised leaky-ReLU
  units) and several minutes on a shared machine or on the per-unit path;
* memory: ``max_memory`` (bytes; ``NEURORECT_MAX_MEMORY``), default 80 % of the machine's
  physical memory.

``math.inf`` lifts a limit. The estimates are upper bounds within a factor of ~2 (they count
the temporary copies the driver makes).
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

from neurorect.errors import ModelError

__all__ = ["Cost", "run_cost", "sweep_cost", "check_cost", "DEFAULT_MAX_WORK", "work_limit",
           "memory_limit"]

#: Default largest run, neuron-steps (see the module docstring).
DEFAULT_MAX_WORK = 1e11
_MEMORY_FRACTION = 0.8  # default memory limit: this fraction of the physical memory
_BEST_SPEED = 1e9  # neuron-steps/s: the engine's best case on 2 cores (README, W1)
# bytes per unit: plan (kinds 16, params 72, tparams 48, keys/init/ou_init 24), evolving
# (state, ou, fail 24), windows and analysis frequency 24, the statistics' results and
# their temporaries (r0, periods, duration, leakage, mean ~48), doubled for the driver's
# copies (tiling, the batch columns, the Dataset)
_UNIT_BYTES = 2 * (16 + 72 + 48 + 24 + 24 + 24 + 48)
_HARMONIC_BYTES = 2 * (16 + 16)  # per unit and harmonic: the complex sum, amplitude + phase
_PULSE_BYTES = 2 * 40  # per unit and step/pulse component


class Cost(NamedTuple):
    """Estimated bytes allocated and work (neuron-steps) of a run."""

    bytes: float
    neuron_steps: float


def run_cost(*, n_units: int, n_neurons: int, n_steps: int, n_harmonics: int,
             n_pulses: int = 0, record_bytes: float = 0.0, coupling_copies: int = 0,
             itemsize: int = 8) -> Cost:
    """The :class:`Cost` of ``n_units`` units (batch copies times neurons) over ``n_steps``.

    ``coupling_copies`` is 0 for an uncoupled model, else the number of dense N x N
    matrices (1 shared, or one per batch copy), counted in float64 and in the run's dtype.
    """
    per_unit = _UNIT_BYTES + _HARMONIC_BYTES * n_harmonics + _PULSE_BYTES * n_pulses
    matrices = coupling_copies * float(n_neurons) ** 2 * (8 + itemsize)
    return Cost(float(n_units) * per_unit + matrices + record_bytes,
                float(n_units) * float(n_steps))


def work_limit(max_work: float | None) -> float:
    """``max_work``, else ``NEURORECT_MAX_WORK``, else :data:`DEFAULT_MAX_WORK`."""
    if max_work is not None:
        return float(max_work)
    return _environment("NEURORECT_MAX_WORK", DEFAULT_MAX_WORK)


def memory_limit(max_memory: float | None) -> float:
    """``max_memory``, else ``NEURORECT_MAX_MEMORY``, else 80 % of the physical memory."""
    if max_memory is not None:
        return float(max_memory)
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: no default limit
        physical = math.inf
    return _environment("NEURORECT_MAX_MEMORY", _MEMORY_FRACTION * physical)


def check_cost(cost: Cost, *, max_work: float | None, max_memory: float | None,
               what: str = "this run") -> None:
    """ModelError if ``cost`` exceeds the work or memory limit (see the module docstring)."""
    work = work_limit(max_work)
    if cost.neuron_steps > work:
        hours = cost.neuron_steps / _BEST_SPEED / 3600.0
        raise ModelError(
            f"{what} is {cost.neuron_steps:.3g} neuron-steps, over the limit of {work:.3g} "
            f"(at least {_duration_text(hours)} at the engine's best speed of "
            f"~{_BEST_SPEED:.0e} neuron-steps/s); check dt, the duration and the grid, or "
            "pass max_work=... (math.inf for no limit) or set NEURORECT_MAX_WORK",
            key="max_work", value=work, allowed=f"work <= {work:.3g} neuron-steps")
    memory = memory_limit(max_memory)
    if cost.bytes > memory:
        raise ModelError(
            f"{what} would allocate about {cost.bytes / 2**30:.3g} GiB, over the limit of "
            f"{memory / 2**30:.3g} GiB (80 % of this machine's memory unless set); use fewer "
            "neurons or batch copies (run_sweep cuts a grid into chunks), record less, or "
            "pass max_memory=... (bytes) or set NEURORECT_MAX_MEMORY",
            key="max_memory", value=memory, allowed=f"memory <= {memory:.4g} bytes")


def _duration_text(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:.3g} days"
    if hours >= 1:
        return f"{hours:.3g} hours"
    return f"{hours * 60:.3g} minutes"


def _environment(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ModelError("environment variable must be a number", key=name, value=text,
                         allowed="a positive number, or 'inf'") from None
    if not value > 0:
        raise ModelError("environment variable must be positive", key=name, value=text,
                         allowed="a positive number, or 'inf'")
    return value


def sweep_cost(*, n_points: int, n_dims: int, n_populations: int, n_harmonics: int,
               neuron_steps: float) -> Cost:
    """The :class:`Cost` of a sweep's own arrays (the layout's per-point indices, the
    chunks' results and the assembled grid, ~3 copies) and its total neuron-steps; each
    chunk's run is checked by :func:`neurorect.simulate` itself."""
    per_point = 8 * (2 * n_dims + 4) + 3 * 8 * (n_populations * (2 + 2 * n_harmonics) + 4)
    return Cost(float(n_points) * per_point, float(neuron_steps))
