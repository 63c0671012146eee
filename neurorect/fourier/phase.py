"""The sine-phase convention: phases, complex coefficients and their standard errors.

``z_k = A_k exp(i phase_k)`` with phases in rad wrapped to ``(-pi, pi]`` (see
:mod:`neurorect.fourier` for the contract). Everything else in the subpackage, and the rate
engine's streaming statistics (:mod:`~neurorect.fourier.sums`), goes through these helpers.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurorect._arguments import float_array
from neurorect._schema import attrs

__all__ = ["wrap_phase", "to_amplitude_phase", "from_amplitude_phase", "complex_coefficient",
           "amplitude_phase_se"]

TWO_PI = 2.0 * np.pi


def wrap_phase(phase: ArrayLike) -> np.ndarray:
    """Wrap phases (rad) to the interval ``(-pi, pi]``."""
    phase = float_array("phase", phase, allowed="phases in rad")
    return np.pi - np.mod(np.pi - phase, TWO_PI)


def to_amplitude_phase(z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Split complex coefficients ``z = A exp(i phase)`` into ``(A, phase)``.

    Parameters
    ----------
    z : array_like of complex
        Complex coefficients in the sine convention (``A_k exp(i phase_k)``, in the units of
        the signal, e.g. Hz).

    Returns
    -------
    amplitude : ndarray
        ``|z|``, same units as ``z``.
    phase : ndarray
        ``arg z`` in rad, wrapped to ``(-pi, pi]`` (0 where ``z == 0``).
    """
    z = np.asarray(z, dtype=complex)
    return np.abs(z), wrap_phase(np.angle(z))


def from_amplitude_phase(amplitude: ArrayLike, phase: ArrayLike) -> np.ndarray:
    """Complex coefficient ``amplitude * exp(i phase)`` (phase in rad, sine convention)."""
    return np.asarray(amplitude, dtype=float) * np.exp(1j * np.asarray(phase, dtype=float))


def complex_coefficient(result: xr.Dataset) -> xr.DataArray:
    """The complex coefficients ``z_k = A_k exp(i phase_k)`` of a harmonics result.

    Parameters
    ----------
    result : xarray.Dataset
        Any Dataset with ``amplitude`` and ``phase`` (rad) variables, e.g. the output of
        :func:`harmonics`, :func:`spike_harmonics` or ``theory.sinusoid_response``.

    Returns
    -------
    xarray.DataArray
        Complex, in the units of ``amplitude``. ``z_k = i c_k`` where ``c_k`` is the projection
        ``(2/T) integral r(t) exp(-i 2 pi k f t) dt`` (see the module docstring).
    """
    z = result["amplitude"] * np.exp(1j * result["phase"])
    z.attrs = attrs(result["amplitude"].attrs.get("units", ""),
                    "complex coefficient A exp(i phase) (sine convention)")
    return z.rename("complex_coefficient")


def amplitude_phase_se(amplitude, phase, vxx, vyy, vxy):
    """Standard errors of ``|z|`` and ``arg z`` from the covariance of ``(Re z, Im z)``.

    First-order (delta method): with ``z = x + i y = A exp(i phi)``::

        var A   = cos^2 phi Vxx + 2 sin phi cos phi Vxy + sin^2 phi Vyy
        var phi = (sin^2 phi Vxx - 2 sin phi cos phi Vxy + cos^2 phi Vyy) / A^2

    Valid for ``A >> se``; near ``A = 0`` the amplitude is Rice-distributed (biased upwards
    by about ``se^2 / (2 A)``) and the phase nearly uniform.
    """
    c, s = np.cos(phase), np.sin(phase)
    var_a = c * c * vxx + 2 * s * c * vxy + s * s * vyy
    with np.errstate(divide="ignore", invalid="ignore"):
        var_p = (s * s * vxx - 2 * s * c * vxy + c * c * vyy) / amplitude**2
    return np.sqrt(np.maximum(var_a, 0.0)), np.sqrt(np.maximum(var_p, 0.0))
