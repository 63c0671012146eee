r"""Rate-versus-spike cross-validation, for single populations and for E-I networks.

Single populations (:mod:`~neurorect.crossval.single`): a population of LIF neurons, the
leaky-ReLU rate model matched to it (:func:`matched_model`) and LIF theory under the same
sinusoidal drive (:func:`compare`); the fits of :mod:`neurorect.fit` are re-exported.

E-I networks of LIF neurons (Brunel 2000): :mod:`~neurorect.crossval.matched` builds the
leaky-ReLU rate network matched to the mean field (:func:`matched_network`) and holds its
theory; :mod:`~neurorect.crossval.network` compares Brian2, mean field and rate network under
one modulation of the external rate (:func:`compare_network`).

This package never imports Brian2 or Numba at import time: the comparisons import the Brian2
bridge and the rate engine when they run them.

Modules
-------
single
    :func:`matched_model`, :func:`compare`, :func:`format_table` (one LIF population).
matched
    :func:`matched_network`, :class:`MatchInfo`, :func:`rate_network_theory`,
    :func:`delayed_eigenvalues`, :func:`delayed_response`.
network
    :func:`compare_network`, :func:`format_network_table`, :data:`NETWORK_SOURCES`.
"""

from neurorect.crossval.matched import (
    MatchInfo,
    delayed_eigenvalues,
    delayed_response,
    matched_network,
    rate_network_theory,
)
from neurorect.crossval.network import NETWORK_SOURCES, compare_network, format_network_table
from neurorect.crossval.single import (
    SOURCES,
    FitInfo,
    compare,
    default_mu_range,
    fit_leaky_relu,
    fit_lowpass_tau,
    fit_siegert,
    fit_to_lif,
    format_table,
    matched_model,
)

__all__ = [
    "FitInfo", "fit_leaky_relu", "fit_to_lif", "fit_siegert", "fit_lowpass_tau",
    "matched_model", "compare", "default_mu_range", "SOURCES", "format_table",
    "MatchInfo", "matched_network", "rate_network_theory", "delayed_eigenvalues",
    "delayed_response", "compare_network", "format_network_table", "NETWORK_SOURCES",
]
