"""Simulator-agnostic harmonic analysis of rate traces and spike trains.

Everything here works on plain arrays or on the xarray result schema, so a rate trace from
:func:`neurorect.simulate` and a spike train from the Brian2 bridge go through the same code.
This module never imports Numba or Brian2.

Convention (the project's Fourier contract)
-------------------------------------------
Over whole periods of the drive frequency ``f`` after a discarded transient::

    r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)

``r0`` is the mean rate (Hz), ``A_k >= 0`` the amplitude of harmonic ``k`` (Hz) and ``phase_k``
the phase in radians relative to the drive's sine ``I1 sin(2 pi f t)`` (phase 0 at ``t = 0``,
absolute time), negative for a lag, wrapped to ``(-pi, pi]``. A pure ``A sin(2 pi f t + p)``
gives ``A_1 = A``, ``phase_1 = p``.

The *complex coefficient* of harmonic ``k`` is ``z_k = A_k exp(i phase_k)``. It is related to
the usual complex Fourier projection over a window of whole periods ``T``::

    c_k = (2 / T) integral r(t) exp(-i 2 pi k f t) dt,        z_k = i c_k,

so ``Re z_k = (2/T) integral r sin(2 pi k f t) dt`` and ``Im z_k = (2/T) integral r cos(...)``.
For a linear filter with frequency response ``H(f)`` (forward transform ``exp(-i 2 pi f t)``,
as in numpy and scipy) the drive ``sin(2 pi f t)`` gives ``|H| sin(2 pi f t + arg H)``, so the
phases returned by :func:`transfer_function` (``arg H``) and by :func:`harmonics` are the same
quantity. Complex numbers are never stored in a Dataset: they travel as ``amplitude`` +
``phase``; use :func:`complex_coefficient` to get ``z_k`` back.

Public functions
----------------
harmonics
    Harmonics of sampled traces (rate model output), exact for band-limited signals.
spike_harmonics
    Harmonics of spike trains from the spike times themselves (no binning), with standard
    errors from a block (batch-means) estimate and from the Poisson shot-noise formula.
transfer_function
    Broadband (Welch) estimate of gain, phase and coherence from one noise-driven run.
spike_transfer_function
    The same for a spike train, binned at the stimulus sampling step.
complex_coefficient, to_amplitude_phase, from_amplitude_phase, wrap_phase
    Helpers for the sine-phase convention.
harmonics_from_sums, leakage_bound, measurable_harmonics
    Mean and harmonics from streaming sums over any window (least squares with the exact Gram
    matrix of the sampled basis: exact for harmonics 1..K), and the bound on the leakage of
    higher harmonics into them; which harmonics lie below the Nyquist frequency.
amplitude_phase_se
    Standard errors of amplitude and phase from the covariance of the complex coefficient
    (delta method).

Modules
-------
phase
    The convention itself: ``wrap_phase``, ``to_amplitude_phase``, ``from_amplitude_phase``,
    ``complex_coefficient`` and ``amplitude_phase_se`` (delta method).
sums
    ``harmonics_from_sums`` (the rate engine's streaming sums, exact least squares over any
    window) and ``leakage_bound``.
sampling
    Sampled inputs (numpy or xarray) as uniformly sampled series in seconds.
harmonics
    :func:`harmonics` of sampled traces.
spikes
    :func:`spike_harmonics` of spike trains and their block and shot-noise errors.
spectra
    Welch estimates: :func:`transfer_function`, :func:`spike_transfer_function`.

Internal interface (names shared between the modules, not re-exported here):
``phase.TWO_PI``; ``sampling.GRID_TOL`` (relative tolerance of times on a grid) and
``sampling.as_series`` (input -> DataArray with time last, and its step, s), used by
harmonics and spectra; ``spikes.spike_conditions`` (spike times, condition of each spike,
number of conditions and neurons per condition), used by spectra. Layers point one way:
phase <- sampling <- harmonics, spikes <- spectra; phase <- sums.
"""

from neurorect.fourier.harmonics import harmonics
from neurorect.fourier.phase import (
    amplitude_phase_se,
    complex_coefficient,
    from_amplitude_phase,
    to_amplitude_phase,
    wrap_phase,
)
from neurorect.fourier.spectra import spike_transfer_function, transfer_function
from neurorect.fourier.spikes import spike_harmonics
from neurorect.fourier.sums import harmonics_from_sums, leakage_bound, measurable_harmonics

__all__ = [
    "harmonics", "spike_harmonics", "transfer_function", "spike_transfer_function",
    "complex_coefficient", "to_amplitude_phase", "from_amplitude_phase", "wrap_phase",
    "harmonics_from_sums", "leakage_bound", "measurable_harmonics", "amplitude_phase_se",
]
