"""Theory of the broadband (noise-driven) frequency response of an uncoupled population.

The broadband method of :func:`neurorect.frequency_response` drives a population with
Gaussian noise ``s(t)`` (standard deviation ``I1``, correlation time ``stimulus_tau``)
instead of a sinusoid and estimates ``H(f) = S_rs(f) / S_ss(f)``. For Gaussian input this
has a closed form (Bussgang's theorem, or Stein's lemma: ``E[phi(x) s] = E[phi'(x)]
E[x s]`` for jointly Gaussian ``x`` and ``s``):

* rate form ``tau dr/dt = -r + phi(I0 + s + eta)``: ``H(f) = E[phi'(x)] L(f)`` with
  ``x ~ N(I0, I1**2 + var_eta)``;
* voltage form ``tau dv/dt = -v + I0 + s + eta``, ``r = phi(v)``: ``H(f) = E[phi'(v)] L(f)``
  with ``v ~ N(I0, var_v)``, ``var_v = I1**2 tau_s / (tau + tau_s) + var_eta tau_eta /
  (tau + tau_eta)`` (each OU input low-passed by the membrane);

``L(f) = 1 / (1 + i 2 pi f tau)``; ``eta`` is the model's own OU input noise (its own
``sigma`` and ``tau``). This is the effective linear response to noise of that size: for a
nonlinear unit it differs from the response to a sinusoid and from the small-signal
``phi'(I0) L(f)``. The engine holds the noise stimulus over each time step, which delays
it by half a step: the factor ``exp(-i pi f dt)`` (a phase of ``-pi f dt``, 0.06 rad at
200 Hz for dt = 0.1 ms) is included when ``dt`` is given.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from neurorect.theory.gaussian import gaussian_gain
from neurorect.theory.linear import lowpass
from neurorect.transfer import Transfer

__all__ = ["broadband_response"]


def broadband_response(transfer: Transfer, I0: float, stimulus_sd: float, freqs: ArrayLike,
                       *, tau: float, form: str = "rate", stimulus_tau: float = 0.0,
                       noise_sd: float = 0.0, noise_tau: float = 0.0,
                       dt: float = 0.0) -> np.ndarray:
    """The complex broadband transfer function ``H(f)`` (Hz per drive unit) of one
    uncoupled population (see the module docstring).

    Parameters
    ----------
    transfer : Transfer
    I0 : float
        Mean input, drive units.
    stimulus_sd, stimulus_tau : float
        Standard deviation (drive units) and correlation time (s) of the OU stimulus.
    freqs : array_like
        Frequencies, Hz.
    tau : float
        The population's time constant, s.
    form : {"rate", "voltage"}
    noise_sd, noise_tau : float
        The model's own OU input noise (0: none).
    dt : float
        Time step of the simulation the estimate comes from (0: continuous time).

    Returns
    -------
    numpy.ndarray
        Complex ``H(f)``, sine convention (``arg H < 0`` is a lag).
    """
    freqs = np.asarray(freqs, dtype=float)
    if form == "voltage":
        variance = (stimulus_sd ** 2 * stimulus_tau / (tau + stimulus_tau)
                    + noise_sd ** 2 * noise_tau / (tau + noise_tau))
    elif form == "rate":
        variance = stimulus_sd ** 2 + noise_sd ** 2
    else:
        raise ValueError(f"form must be 'rate' or 'voltage', not {form!r}")
    slope = float(gaussian_gain(transfer, I0, np.sqrt(variance)))
    return slope * lowpass(freqs, tau) * np.exp(-1j * np.pi * freqs * dt)
