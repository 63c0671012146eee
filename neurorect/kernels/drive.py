"""The deterministic drive inside the kernels: pulses, and the rotating phasors.

Sinusoids and Fourier projections advance by a rotating phasor (one complex multiply per
step): ``z_n = exp(i (2 pi f t_n + phase))`` of the drive, ``zs_n = exp(-i (2 pi f_stat t_n +
theta))`` of the statistics (``theta = STAT_PHASE``, undone by the driver). Both are
recomputed exactly at every multiple of ``RESYNC`` global steps, and :func:`synced_phasors`
rebuilds them at a chunk start exactly as a run from step 0 has them, so a chunked run
equals a single run bit for bit.
"""

from __future__ import annotations

import math

from numba import njit

from neurorect.kernels.layout import (
    P_AMP,
    P_PERIOD,
    P_START,
    P_STOP,
    P_WIDTH,
    RESYNC,
    SIN_FREQ,
    SIN_PHASE,
    STAT_FREQ,
    STAT_PHASE,
)

__all__ = ["pulses_at", "drive_phasor", "stat_phasor", "phasor_rotations", "synced_phasors"]

_TWO_PI = 2.0 * math.pi


@njit(cache=True, inline="always")
def pulses_at(pulses, u, t):
    """Sum of unit u's steps and pulse trains at time t (a step has an infinite period)."""
    total = 0.0
    for j in range(pulses.shape[1]):
        start = pulses[u, j, P_START]
        if t >= start and t < pulses[u, j, P_STOP]:
            period = pulses[u, j, P_PERIOD]
            if math.isinf(period) or ((t - start) % period) < pulses[u, j, P_WIDTH]:
                total += pulses[u, j, P_AMP]
    return total


@njit(cache=True, inline="always")
def drive_phasor(params, u, n, dt):
    """exp(i (2 pi f t_n + phase)) of unit u's sinusoid."""
    angle = _TWO_PI * params[u, SIN_FREQ] * (n * dt) + params[u, SIN_PHASE]
    return complex(math.cos(angle), math.sin(angle))


@njit(cache=True, inline="always")
def stat_phasor(params, u, n, dt):
    """exp(-i (2 pi f_stat t_n + theta)), theta the unit's STAT_PHASE."""
    angle = _TWO_PI * params[u, STAT_FREQ] * (n * dt) + params[u, STAT_PHASE]
    return complex(math.cos(angle), -math.sin(angle))


@njit(cache=True, inline="always")
def phasor_rotations(params, u, dt):
    """``(half, rotation, stat_rotation)`` of unit u: the drive phasor's rotation over half a
    step ``exp(i pi f dt)`` and over a step (its square), and the statistics phasor's
    ``exp(-i 2 pi f_stat dt)``."""
    half = complex(math.cos(math.pi * params[u, SIN_FREQ] * dt),
                   math.sin(math.pi * params[u, SIN_FREQ] * dt))
    stat_rotation = complex(math.cos(_TWO_PI * params[u, STAT_FREQ] * dt),
                            -math.sin(_TWO_PI * params[u, STAT_FREQ] * dt))
    return half, half * half, stat_rotation


@njit(cache=True, inline="always")
def synced_phasors(params, u, n, dt, rotation, stat_rotation):
    """Drive and statistics phasors at step n exactly as a run from step 0 has them: exact at
    the last multiple of RESYNC, then rotated step by step (chunking-invariant bits)."""
    base = n - n % RESYNC
    z = drive_phasor(params, u, base, dt)
    zs = stat_phasor(params, u, base, dt)
    for _ in range(n - base):
        z *= rotation
        zs *= stat_rotation
    return z, zs
