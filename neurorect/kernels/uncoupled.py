"""Independent units: :func:`run_uncoupled` and its per-unit path.

Each chunk, every unit is given a path by its own parameters alone (never by its neighbours,
so its bits do not depend on the batch slot, the chunking or the thread count):

* ``PATH_DETERMINISTIC``: a noise-free, pulse-free leaky-ReLU unit under exponential Euler
  whose rate provably stays within ``max_rate`` (:func:`_rate_bound`), with its statistics
  at the drive frequency and no unit statistics: :func:`~neurorect.kernels.tiles.
  deterministic_tile`, the fastest;
* ``PATH_CHECKED``: any other pulse-free leaky-ReLU unit under exponential Euler (OU or white
  noise, unit statistics, ...): :func:`~neurorect.kernels.tiles.checked_tile`;
* ``PATH_GENERAL``: everything else (other transfers, Euler, RK4, pulses and steps):
  :func:`_advance_unit`, one unit's straightforward scalar loop, the reference the tiles are
  tested against (``general_only=True`` sends every unit there).

Units of one path, form and noise kind are gathered into tiles of ``TILE``; the tiles and
groups of general units are interleaved by kind before the parallel loop shares them out.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from neurorect.kernels.drive import (
    drive_phasor,
    phasor_rotations,
    pulses_at,
    stat_phasor,
    synced_phasors,
)
from neurorect.kernels.layout import (
    EULER,
    EXP_EULER,
    FAIL_RATE,
    FAIL_STATE,
    I0,
    LEAKY_RELU,
    OU_SIGMA,
    P_START,
    RECORD_RATE,
    RESYNC,
    SIN_AMP,
    SIN_FREQ,
    STAT_FREQ,
    TAU,
    VOLTAGE_FORM,
    WHITE_SIGMA,
)
from neurorect.kernels.random import normal_at
from neurorect.kernels.step import (
    add_moments,
    as_state,
    decay_factors,
    note_failure,
    rate_fails,
    rate_of,
    rhs,
)
from neurorect.kernels.tiles import (
    NOISE_OU,
    NOISE_WHITE,
    TILE,
    checked_tile,
    deterministic_tile,
)
from neurorect.kernels.transfer import transfer_value

__all__ = ["run_uncoupled", "schedule_units", "kernels_used", "unit_paths", "PATH_GENERAL",
           "PATH_DETERMINISTIC", "PATH_CHECKED"]

PATH_GENERAL, PATH_DETERMINISTIC, PATH_CHECKED = 0, 1, 2
GENERAL_GROUP = 16  # general-path units per task
_KEY_STEPS = 1 << 26  # windows below this many steps sort on one int64 key (group < 18)
_BOUND_MARGIN = 1e-6  # relative slack of the rate bound (rounding; see _rate_bound)


def run_uncoupled(step0, n_steps, setup, evolving, recording, general_only=False,
                  schedule=None):
    """Advance independent units ``n_steps`` steps from global step ``step0``.

    ``setup``, ``evolving`` and ``recording`` are the groups of
    :mod:`neurorect.kernels.layout` (``evolving.state`` of shape (U,)). Failures (a rate
    breaking ``setup.max_rate``, a non-finite state) are noted at their exact step by every
    path. ``general_only`` sends every unit down the per-unit path (the reference).
    ``schedule`` is :func:`schedule_units`'s for these units (computed when not given; a
    chunked run computes it once: it depends on the parameters only).

    Each path is its own parallel kernel, called only when some unit takes it: a kernel
    compiles on its first call (minutes for the tiles), so a noise-free model never
    compiles the noisy tiles and vice versa. Units are independent, so running the paths
    one after the other changes no bits.
    """
    if schedule is None:
        schedule = schedule_units(setup, evolving, general_only)
    units, kinds, variants, starts, sizes = schedule
    for kind, kernel in PATH_KERNELS.items():
        tasks = np.flatnonzero(kinds == kind)
        if tasks.size:
            kernel(tasks, units, variants, starts, sizes, step0, n_steps, setup, evolving,
                   recording)


def schedule_units(setup, evolving, general_only=False):
    """Every unit's path (:func:`unit_paths`) gathered into tasks (:func:`_tasks`):
    ``(units, kinds, variants, starts, sizes)``, from the units' parameters alone."""
    group, key = _unit_classes(setup, evolving, general_only)
    if key.size == 0 or key[0] >= 0:  # one key (see _unit_classes): NumPy's sort, 3x Numba's
        units = np.argsort(key)
    else:
        windows = setup.windows
        by_end = np.argsort(windows[:, 1], kind="stable")
        by_window = by_end[np.argsort(windows[by_end, 0], kind="stable")]
        units = by_window[np.argsort(group[by_window], kind="stable")]
    return _tasks(group, units)


def kernels_used(schedule) -> list:
    """The path kernels :func:`run_uncoupled` calls for this :func:`schedule_units`
    schedule (for the driver's first-compile notice)."""
    present = set(np.unique(schedule[1]).tolist())
    return [kernel for kind, kernel in PATH_KERNELS.items() if kind in present]


@njit(cache=True, parallel=True)
def _deterministic_tasks(tasks, units, variants, starts, sizes, step0, n_steps, setup,
                         evolving, recording):
    for t in prange(tasks.size):
        task = tasks[t]
        deterministic_tile(units, starts[task], sizes[task], step0, n_steps, setup, evolving,
                           recording, variants[task] == 1)


@njit(cache=True, parallel=True)
def _general_tasks(tasks, units, variants, starts, sizes, step0, n_steps, setup, evolving,
                   recording):
    for t in prange(tasks.size):
        task = tasks[t]
        for u in units[starts[task]:starts[task] + sizes[task]]:
            _advance_unit(u, step0, n_steps, setup, evolving, recording)


@njit(cache=True, parallel=True)
def _checked_tasks(tasks, units, variants, starts, sizes, step0, n_steps, setup, evolving,
                   recording):
    for t in prange(tasks.size):
        task = tasks[t]
        checked_tile(units, starts[task], sizes[task], step0, n_steps, setup, evolving,
                     recording, variants[task])


@njit(cache=True, inline="always")
def _path_of(setup, u, plain, stats):
    """Unit u's path (PATH_*): PATH_GENERAL for every unit when ``plain`` (the reference
    path asked for, or a method other than exponential Euler)."""
    return PATH_GENERAL if plain else _unit_path(setup, u, stats)


@njit(cache=True, parallel=True)
def unit_paths(setup, evolving, general_only=False):
    """The path of every unit (PATH_*), from its own parameters only."""
    n_units = setup.kinds.shape[0]
    paths = np.empty(n_units, dtype=np.int64)
    plain = general_only or setup.method != EXP_EULER
    stats = evolving.moments.shape[1] > 0
    for u in prange(n_units):
        paths[u] = _path_of(setup, u, plain, stats)
    return paths


@njit(cache=True, inline="always")
def _unit_path(setup, u, stats):
    """Unit u's path under exponential Euler (``stats``: unit statistics are streamed)."""
    kinds, params, pulses = setup.kinds, setup.params, setup.pulses
    if kinds[u, 0] != LEAKY_RELU:
        return PATH_GENERAL
    for j in range(pulses.shape[1]):
        if not math.isinf(pulses[u, j, P_START]):
            return PATH_GENERAL
    if stats or params[u, OU_SIGMA] > 0.0 or params[u, WHITE_SIGMA] > 0.0:
        return PATH_CHECKED
    one_minus_a = -math.expm1(-setup.dt / params[u, TAU])  # decay_factors' 1 - a
    deterministic = (one_minus_a > 1e-9 and setup.tparams[u, 0] > 0.0
                     and params[u, STAT_FREQ] == params[u, SIN_FREQ]
                     and _rate_bound(setup, u) <= setup.max_rate)
    return PATH_DETERMINISTIC if deterministic else PATH_CHECKED


@njit(cache=True, inline="always")
def _rate_bound(setup, u):
    """Bound on |phi| over the drive's range, for a noise-free, pulse-free leaky-ReLU unit.

    The drive stays in ``[I0 - |I1|, I0 + |I1|]`` and each exponential-Euler update is a
    convex combination (``a + (1 - a) = 1``), so over a chunk the state stays in the hull of
    its start and of the drive range (voltage form) or of phi over it (rate form): |rate|
    stays below the larger of this bound and the rate at the chunk's start (checked by the
    tile). phi is piecewise linear and clipped, so |phi| peaks at an end or at the kink. The
    margin covers rounding: the phasor's modulus drifts by < 1e-12 between resyncs, and the
    rounding of a + (1 - a) lets the state exceed the hull by ~1e-16 / (1 - a) relative,
    below 1e-6 for 1 - a > 1e-9 (``unit_paths`` requires that).
    """
    params, p = setup.params, setup.tparams[u]
    spread = abs(params[u, SIN_AMP]) * (1.0 + _BOUND_MARGIN)
    low = params[u, I0] - spread
    high = params[u, I0] + spread
    bound = max(abs(transfer_value(LEAKY_RELU, p, low)), abs(transfer_value(LEAKY_RELU, p, high)))
    if low < p[1] < high:
        bound = max(bound, abs(transfer_value(LEAKY_RELU, p, p[1])))
    return bound * (1.0 + _BOUND_MARGIN)


@njit(cache=True, parallel=True)
def _unit_classes(setup, evolving, general_only=False):
    """Every unit's class ``(path * 2 + form) * 3 + variant`` and its sort key, from its own
    parameters (:func:`unit_paths`' path; parallel over units).

    The variant is the noise kind (NOISE_*) of a checked unit, 1 for a clipped
    deterministic unit (finite rate_min or rate_max: it computes the transfer as written,
    the others a folded update), 0 otherwise; tiles never mix classes. Units sort by class,
    then statistics window (start, end), so that a tile's lanes open and close their windows
    together and few steps take the masked loop (lanes never interact: neither the grouping
    nor the order of equal keys changes a bit). The key is one int64 while every window is
    below 2^26 steps (classes < 18), else -1 (sort by the three columns)."""
    n_units = setup.kinds.shape[0]
    group = np.empty(n_units, dtype=np.int64)
    key = np.full(n_units, -1, dtype=np.int64)
    windows = setup.windows
    one_key = n_units > 0 and windows.max() < _KEY_STEPS and windows.min() >= 0
    plain = general_only or setup.method != EXP_EULER
    stats = evolving.moments.shape[1] > 0
    for u in prange(n_units):
        path = _path_of(setup, u, plain, stats)
        variant = 0
        if path == PATH_CHECKED:
            if setup.params[u, OU_SIGMA] > 0.0:
                variant = NOISE_OU
            elif setup.params[u, WHITE_SIGMA] > 0.0:
                variant = NOISE_WHITE
        elif path == PATH_DETERMINISTIC:
            clipped = setup.tparams[u, 3] > -np.inf or setup.tparams[u, 4] < np.inf
            variant = 1 if clipped else 0
        group[u] = (path * 2 + setup.kinds[u, 1]) * 3 + variant
        if one_key:
            key[u] = (group[u] * _KEY_STEPS + windows[u, 0]) * _KEY_STEPS + windows[u, 1]
    return group, key


@njit(cache=True)
def _tasks(group, units):
    """The tasks of the ``units`` sorted by class (:func:`_unit_classes`): (units, kind,
    variant, start, size), each a tile of up to TILE units or GENERAL_GROUP general units
    of one class; the classes' tasks interleaved (see below)."""
    n_units = units.size
    kinds = np.empty(n_units, dtype=np.int64)
    variants = np.empty(n_units, dtype=np.int64)
    starts = np.empty(n_units, dtype=np.int64)
    sizes = np.empty(n_units, dtype=np.int64)
    n_tasks = 0
    lo = 0
    while lo < n_units:
        key = group[units[lo]]
        hi = lo
        while hi < n_units and group[units[hi]] == key:
            hi += 1
        path = key // 6
        width = GENERAL_GROUP if path == PATH_GENERAL else TILE
        for start in range(lo, hi, width):
            kinds[n_tasks], variants[n_tasks], starts[n_tasks] = path, key % 3, start
            sizes[n_tasks] = min(width, hi - start)
            n_tasks += 1
        lo = hi
    # interleave the classes' tasks in proportion (task i of a class of m sits at i / m),
    # so that each thread's contiguous share of the prange holds some of every class
    position = np.empty(n_tasks)
    first = 0
    while first < n_tasks:
        last = first
        while last < n_tasks and kinds[last] == kinds[first] and (
                variants[last] == variants[first]):
            last += 1
        for t in range(first, last):
            position[t] = (t - first + 0.5) / (last - first)
        first = last
    order = np.argsort(position, kind="mergesort")
    return units, kinds[order], variants[order], starts[order], sizes[order]


# ------------------------------------------------------------------------------ per unit
@njit(cache=True, inline="never")
def _advance_unit(u, step0, n_steps, setup, evolving, recording):
    """General path: one unit's whole time loop, any transfer, method, noise and pulses.

    Everything a step touches is a scalar local (the mean and the fundamental's running
    sums included; higher harmonics in a small local array), so the loop carries no memory
    dependency. At a rate breaking the runaway criterion (``rate_fails``) or a non-finite
    state, the failure is noted (``note_failure``: step, quantity, value) and the unit stops.
    """
    # One function for the whole time loop, so that its state stays in registers; the
    # methods' branches are loop-invariant and cost nothing per step.
    dt, method, params, pulses = setup.dt, setup.method, setup.params, setup.pulses
    acc = evolving.acc
    record_out, record_every = recording.out, recording.every
    record_rate = recording.kind == RECORD_RATE
    n_sums = acc.shape[1]
    has_pulses = pulses.shape[1] > 0
    code = setup.kinds[u, 0]
    form = setup.kinds[u, 1]
    p = setup.tparams[u]
    tau = params[u, TAU]
    a, one_minus_a, ou_a, ou_b, white_b = decay_factors(params, u, dt, method)
    base = params[u, I0]
    amp = params[u, SIN_AMP]
    ou_sigma = params[u, OU_SIGMA]
    white = params[u, WHITE_SIGMA]
    half, rotation, stat_rotation = phasor_rotations(params, u, dt)
    win0 = setup.windows[u, 0]
    win1 = setup.windows[u, 1]
    column = recording.column[u]
    key = setup.keys[u]
    max_rate = setup.max_rate
    moments = evolving.moments
    stats = moments.shape[1] > 0
    x = evolving.state[u]
    eta = evolving.ou[u]
    mean_sum = acc[u, 0].real
    first_sum = acc[u, 1]
    higher = acc[u, 2:].copy()
    z, zs = synced_phasors(params, u, step0, dt, rotation, stat_rotation)
    for n in range(step0, step0 + n_steps):
        if n % RESYNC == 0:
            z = drive_phasor(params, u, n, dt)
            zs = stat_phasor(params, u, n, dt)
        rate = rate_of(code, p, form, x)
        if rate_fails(rate, max_rate):
            note_failure(evolving, u, n, FAIL_RATE, rate)
            return
        if column >= 0 and n % record_every == 0:
            record_out[n // record_every, column] = rate if record_rate else x
        inside = n >= win0 and n < win1
        if inside:
            mean_sum += rate
            first_sum += rate * zs
            if n_sums > 2:
                power = zs
                for k in range(n_sums - 2):
                    power *= zs
                    higher[k] += rate * power
        if method == EXP_EULER:  # drive at the middle of the step
            drive = base + amp * (z * half).imag + eta
            if has_pulses:
                drive += pulses_at(pulses, u, (n + 0.5) * dt)
            if inside and stats:
                add_moments(moments, u, rate, (x if form == VOLTAGE_FORM else drive) < p[1])
            target = drive if form == VOLTAGE_FORM else transfer_value(code, p, drive)
            x = a * x + one_minus_a * target
        elif method == EULER:
            drive = base + amp * z.imag + eta
            if has_pulses:
                drive += pulses_at(pulses, u, n * dt)
            if inside and stats:
                add_moments(moments, u, rate, (x if form == VOLTAGE_FORM else drive) < p[1])
            x = x + dt * rhs(code, p, form, tau, x, drive)
        else:
            t = n * dt
            drive = base + amp * z.imag + eta
            if has_pulses:
                drive += pulses_at(pulses, u, t)
            if inside and stats:
                add_moments(moments, u, rate, (x if form == VOLTAGE_FORM else drive) < p[1])
            z_mid = z * half
            mid = base + amp * z_mid.imag + eta
            end = base + amp * (z_mid * half).imag + eta
            if has_pulses:
                mid += pulses_at(pulses, u, t + 0.5 * dt)
                end += pulses_at(pulses, u, t + dt)
            k1 = rhs(code, p, form, tau, x, drive)
            k2 = rhs(code, p, form, tau, x + 0.5 * dt * k1, mid)
            k3 = rhs(code, p, form, tau, x + 0.5 * dt * k2, mid)
            k4 = rhs(code, p, form, tau, x + dt * k3, end)
            x = x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        if white > 0.0:
            x += white_b * normal_at(key, n, 1)
        if ou_sigma > 0.0:
            eta = ou_a * eta + ou_b * normal_at(key, n, 0)
        x = as_state(x, evolving.state)
        if not math.isfinite(x):
            note_failure(evolving, u, n + 1, FAIL_STATE, x)
            return
        z *= rotation
        zs *= stat_rotation
    evolving.state[u] = x
    evolving.ou[u] = eta
    acc[u, 0] = mean_sum
    acc[u, 1] = first_sum
    acc[u, 2:] = higher



#: The parallel kernel of each path (see :func:`run_uncoupled`).
PATH_KERNELS = {PATH_DETERMINISTIC: _deterministic_tasks, PATH_GENERAL: _general_tasks,
                PATH_CHECKED: _checked_tasks}
