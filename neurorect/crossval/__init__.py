r"""Rate-versus-spike cross-validation, for single populations and for E-I networks.

Single populations (:mod:`~neurorect.crossval.single`): a population of LIF neurons, the
leaky-ReLU rate model matched to it (:func:`matched_model`) and LIF theory under the same
sinusoidal drive (:func:`compare`); the fits of :mod:`neurorect.fit` are re-exported.

This package never imports Brian2 or Numba at import time: the comparisons import the Brian2
bridge and the rate engine when they run them.

Modules
-------
single
    :func:`matched_model`, :func:`compare`, :func:`format_table` (one LIF population).
"""

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
]
