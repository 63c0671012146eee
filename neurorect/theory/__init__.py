"""Closed-form theory of rectifier rate neurons (numpy, scipy and xarray only).

Contents
--------
sinusoid_response
    Exact periodic response (mean rate and harmonics) of a rectifier to
    ``I(t) = I0 + I1 sin(2 pi f t)``, static or through a first-order filter.
gaussian_moment, gaussian_slope_moment, gaussian_stats, gaussian_mean_rate, gaussian_gain
    ``E[phi(x)^k]`` and ``E[phi'(x)^k]`` (raw or central, ``k = 1..4``) for Gaussian input
    ``x ~ N(mu, s**2)``, the mean rate and gain, and a Dataset of the derived statistics
    (variance, skewness, kurtosis, slope CV, fraction below threshold).
fixed_point, FixedPoint, feedforward_levels
    Fixed points ``r* = phi(W r* + I0)`` of rate networks, with a contraction test,
    a solver and linear stability (a network without loops: one exact pass).
fixed_points
    The distinct fixed points reached from many starting states, with their stability.
depth_propagation, depth_fixed_point
    The mean-field recursion of signal propagation through layers (variance ``q_l`` and
    the Jacobian factor ``chi_l``), its fixed point ``q*`` and stability.
network_susceptibility, linear_response
    Linear response of a network around a fixed point to a sinusoidal input modulation.
lowpass
    The first-order low-pass ``1 / (1 + i 2 pi f tau)``.

Conventions (DESIGN.md): SI units (s, Hz); input in drive units. Fourier series in the sine
convention ``r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)``, ``A_k >= 0`` (Hz), ``phase_k``
in rad relative to the drive's sine, negative for a lag, wrapped to ``(-pi, pi]``. A complex
response ``chi`` means ``|chi| I1 sin(2 pi f t + arg chi)`` for an input ``I1 sin(2 pi f t)``.

Modules
-------
sinusoid
    :func:`sinusoid_response`: closed form for the (clipped) leaky ReLU, graded quadrature
    over the drive phase for the other transfers; the filters of the rate and voltage forms.
gaussian
    The Gaussian moments (closed form for the leaky ReLU, quadrature on the standardised
    input otherwise, exact substitutions where ``phi'`` diverges).
normal
    Tail moments of the standard normal, stable far in the tails (the closed form's parts).
gaussian_quad
    The Gaussian averages of the other transfers, by quadrature.
fixed_point
    :func:`fixed_point` and :class:`FixedPoint`: contraction bound, damped relaxation,
    Newton's method, stability.
linear
    :func:`lowpass`, :func:`network_susceptibility`, :func:`linear_response`.
pwl
    The leaky ReLU as a sum of ramps (shared by the two closed forms).
quadrature
    Graded composite Gauss-Legendre panels (shared by the two numerical fall-backs).
common
    Units, coordinate attrs and argument handling.

depth
    :func:`depth_propagation`, :func:`depth_fixed_point` (built on gaussian).
multistart
    :func:`fixed_points` (built on fixed_point).

Internal interface (names shared between the modules, not re-exported here):
``common``: ``TWO_PI``, ``DRIVE`` (the drive's units), ``COORD_ATTRS`` and ``PARAM_UNITS``
(units and long names of coordinates and transfer parameters), ``annotate(obj, units,
long_name)``, ``argument(name, value, low=)`` (scalar, 1-D or DataArray argument -> validated
DataArray) and ``check_transfer``; ``pwl``: ``Ramps``, ``leaky_relu_ramps(*params)`` and
``LEAKY_NAMES`` (its parameter order); ``quadrature``: ``CHUNK``, ``breaks(transfer)``,
``singular_slope(transfer)`` and ``graded_rule(low, high, n_panels, n_nodes, rows, kinks)``;
``fixed_point.network_arrays(W, I0, tau)`` (validated network arrays, used by linear);
``linear.lowpass`` (used by sinusoid); ``normal``: ``density``, ``tail_moments``,
``interval_moments``, ``piece_power_sums``; ``gaussian.variance_slope`` and
``gaussian.MAX_POWER``; ``gaussian_quad``: ``expect``, ``quad_powers``,
``quad_slope_powers``, ``slope_raw``, ``METHOD``. Layers point one way: common, pwl,
quadrature <- fixed_point <- linear <- sinusoid; normal, quadrature <- gaussian_quad <-
gaussian (with common and pwl) <- depth; fixed_point <- multistart.
"""

from neurorect.theory.depth import depth_fixed_point, depth_propagation
from neurorect.theory.fixed_point import FixedPoint, feedforward_levels, fixed_point
from neurorect.theory.gaussian import (
    gaussian_gain,
    gaussian_mean_rate,
    gaussian_moment,
    gaussian_slope_moment,
    gaussian_stats,
)
from neurorect.theory.linear import linear_response, lowpass, network_susceptibility
from neurorect.theory.multistart import fixed_points
from neurorect.theory.sinusoid import sinusoid_response

__all__ = [
    "sinusoid_response", "gaussian_mean_rate", "gaussian_gain", "gaussian_moment",
    "gaussian_slope_moment", "gaussian_stats", "fixed_point", "FixedPoint",
    "feedforward_levels", "fixed_points", "depth_propagation", "depth_fixed_point",
    "network_susceptibility", "linear_response", "lowpass",
]
