r"""Finite-size power spectrum of the population rates of Brunel's E-I network (linear response).

:func:`population_spectrum`: each neuron's spike train is its unperturbed renewal train (ISI
density from :func:`~neurorect.lif.laplace.isi_laplace`, spectrum
``S0 = r0 Re[(1 + F) / (1 - F)]``) plus its linear response to the population rates through
the delayed loop. With ``u`` and ``v`` the loop gains from E and from I
(``exp(-i omega D) (chi_mu W_b + chi_var S_b)``) and ``G = u + v``, the one-sided spectrum of
the E rate is ``2 S0 [|1 + u/(1 - G)|^2 / N_E + |v/(1 - G)|^2 / N_I]`` (and symmetrically for
I). Left out: the input correlations of shared presynaptic neurons beyond the population
rates, and non-linear effects; so the theory is for the asynchronous state only.

"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurorect._schema import attrs
from neurorect.errors import ModelError
from neurorect.lif.cv import isi_cv
from neurorect.lif.laplace import isi_laplace, laplace_response
from neurorect.lif.mean_field import network_arrays, resolve_networks, self_consistent_rates
from neurorect.spec import Model
from neurorect.spec_lif import POPULATIONS, LIFNetwork

__all__ = ["population_spectrum"]


def population_spectrum(model: Model | LIFNetwork, freqs: ArrayLike, *, solution: int = 0,
                        step: float = 0.13) -> xr.Dataset:
    """Linear-response power spectrum of the E and I population rates (finite size).

    See the module docstring. ``freqs`` in Hz (> 0); returns ``psd`` (population, freq),
    one-sided, Hz^2/Hz (``2 r0 / N`` for independent Poisson neurons), and ``psd_single``,
    twice the single neuron's spike-train spectrum ``S0`` (Hz).
    """
    networks, _, _ = resolve_networks(model, None)
    network = networks[0]
    f = np.atleast_1d(np.asarray(freqs, dtype=float)).ravel()
    if f.size == 0 or np.any(~np.isfinite(f) | (f <= 0)):
        raise ModelError("frequencies must be finite and > 0", key="freqs",
                         value=f.tolist(), allowed="freq > 0 Hz")
    arrays = network_arrays([network])
    rates = self_consistent_rates(arrays)[0]
    if not (0 <= solution < np.isfinite(rates).sum()):
        raise ModelError("no such solution", key="solution", value=solution,
                         allowed=f"0..{int(np.isfinite(rates).sum()) - 1}")
    nu = rates[solution]
    mu, sigma = arrays.moments(np.array([nu]))
    kw = {k: float(v[0]) for k, v in arrays.neuron().items()}
    lam = 2j * np.pi * f
    chi_mu, chi_var = laplace_response(lam, mu[0], sigma[0], step=step, **kw)
    F = isi_laplace(lam, mu[0], sigma[0], step=step, **kw)
    single = 2.0 * nu * np.real((1.0 + F) / (1.0 - F))
    tau, J, g = network.tau_m, network.J, network.g
    feedback = np.exp(-lam * network.delay)
    u = feedback * (chi_mu * tau * J * network.C_E + chi_var * tau * J**2 * network.C_E)
    v = feedback * (-chi_mu * tau * g * J * network.C_I
                    + chi_var * tau * g**2 * J**2 * network.C_I)
    closed = 1.0 / (1.0 - u - v)
    psd_e = single * (np.abs(1.0 + u * closed) ** 2 / network.N_E
                      + np.abs(v * closed) ** 2 / network.N_I)
    psd_i = single * (np.abs(u * closed) ** 2 / network.N_E
                      + np.abs(1.0 + v * closed) ** 2 / network.N_I)
    cv = float(isi_cv(mu[0], sigma[0], **kw))
    return xr.Dataset(
        {"psd": (("population", "freq"), np.stack([psd_e, psd_i]),
                 attrs("Hz", "linear-response spectrum of the population rate (one-sided)")),
         "psd_single": ("freq", single, attrs("Hz", "single-neuron spike-train spectrum "
                                                    "(one-sided, 2 S0)")),
         "r0": ((), nu, attrs("Hz", "self-consistent rate")),
         "cv": ((), cv, attrs("1", "ISI CV of the unperturbed neuron"))},
        coords={"population": ("population", list(POPULATIONS), attrs("1", "population")),
                "freq": ("freq", f, attrs("Hz", "frequency"))})
