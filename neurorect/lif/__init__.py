r"""Leaky integrate-and-fire (LIF) theory without Brian2: f-I curves, ISI CV, linear response.

Convention (Brunel 2000)
------------------------
The membrane potential obeys

.. math::  \tau_m \dot V = -V + \mu(t) + \sigma \sqrt{\tau_m}\, \xi(t),

with :math:`\xi` unit Gaussian white noise (:math:`\langle \xi(t)\xi(t')\rangle = \delta(t-t')`).
When ``V`` reaches the threshold ``v_th`` a spike is emitted, ``V`` is held for the absolute
refractory period ``t_ref`` and then restarts from ``v_reset``. Without threshold the free
membrane is an Ornstein-Uhlenbeck process with mean ``mu``, variance ``sigma**2 / 2`` and
correlation time ``tau_m``. Potentials enter the theory through the dimensionless

.. math::  y = (v - \mu) / \sigma, \qquad y_{th} = (v_{th} - \mu)/\sigma, \quad
           y_r = (v_{reset} - \mu)/\sigma .

Units are SI everywhere: seconds, volts, hertz; derivatives and susceptibilities in Hz/V.
Every public function broadcasts all of its array arguments against each other (numpy rules).

Linear response convention (DESIGN.md, sine phase)
--------------------------------------------------
For ``mu(t) = mu0 + mu1 sin(2 pi f t)`` the rate is, to first order in ``mu1``,
``r0 + |chi| mu1 sin(2 pi f t + arg chi)``; ``arg chi < 0`` is a lag. Equivalently ``chi`` is
the complex gain for a modulation ``mu1 exp(+i omega t)``.

Methods
-------
* Siegert rate: :math:`1/r = t_{ref} + \tau_m\sqrt\pi\int_{y_r}^{y_{th}}
  \mathrm{erfcx}(-u)\,du`, since :math:`e^{u^2}(1+\mathrm{erf}\,u) = \mathrm{erfcx}(-u)`.
  The integral is done by composite Gauss-Legendre quadrature after the substitution
  ``u = y_th - kappa * expm1(t)``, which resolves both the ``exp(-2 y_th w)`` boundary layer of
  the sub-threshold regime and the ``1/|u|`` tail of the supra-threshold regime; all terms are
  scaled by ``exp(-max(y_th, 0)**2)`` so nothing overflows (rates below ~1e-300 Hz underflow
  to 0).
* ISI CV (Brunel 2000, appendix): :math:`CV^2 = 2\pi (r\tau_m)^2 \int_{y_r}^{y_{th}} dx\,
  e^{x^2} \int_{-\infty}^x dy\, e^{y^2}(1+\mathrm{erf}\,y)^2`. The order of integration is
  swapped so that the inner integral of :math:`e^{x^2}` is a closed form (Dawson function),
  leaving single integrals that are done with the same mapped quadrature.
* Susceptibility: Richardson's (2007) threshold integration of the linearised Fokker-Planck
  equation, reduced to homogeneous solutions (see :func:`susceptibility`) and integrated with a
  fourth-order Magnus exponential integrator whose 2x2 exponentials are closed forms; an
  arbitrary-precision oracle with parabolic cylinder functions is
  :func:`susceptibility_reference`.

Modules
-------
rates
    :func:`deterministic_rate`, :func:`siegert_rate`, :func:`siegert_derivative`.
cv
    :func:`isi_cv`, :func:`membrane_stats` and :class:`MembraneStats`.
susceptibility
    :func:`susceptibility` (threshold integration) and :func:`susceptibility_reference`.
quadrature
    The mapped composite Gauss-Legendre rule of the rate and CV integrals.
params
    Validation and broadcasting of the LIF parameters (one table of rules; see there why it
    is not :mod:`neurorect._validate`).

laplace
    :func:`laplace_response`: the rate response to the input's mean and variance at complex
    Laplace frequency (threshold integration off the imaginary axis); :func:`isi_laplace`,
    the Laplace transform of the ISI density.
characteristic
    Roots of ``1 = exp(-lam D) G(lam)``: Nyquist count and Newton's method.
mean_field
    :func:`mean_field`: self-consistent rates, stability (eigenvalues with the delay, mean and
    variance channels) and linear response of Brunel's E-I network of LIF neurons.
spectrum
    :func:`population_spectrum`, the finite-size spectrum of its population rates.

Internal interface (names shared between the modules, not re-exported here):
``params``: ``check_params(**params)`` (validated float arrays), ``broadcast_flat(*arrays)``,
``as_output(x, shape)``, ``by_noise(noiseless, noisy, **params)`` (validate, broadcast and
evaluate the ``sigma == 0`` and ``sigma > 0`` branches) and ``NEURON`` (their parameter
order); ``quadrature``: ``mapped_quad(integrand, width, kappa, *params)``,
``chunked(func, *arrays)`` and ``scaled_erfcx_neg(u, s)``; ``rates``: ``siegert_parts``
(the scaled Siegert integral, used by cv) and ``SQRT_PI``. Layers point one way: params,
quadrature <- rates <- cv, susceptibility, laplace <- characteristic, mean_field <- spectrum.
"""

from neurorect.lif.cv import MembraneStats, isi_cv, membrane_stats
from neurorect.lif.laplace import isi_laplace, laplace_response
from neurorect.lif.mean_field import mean_field
from neurorect.lif.rates import deterministic_rate, siegert_derivative, siegert_rate
from neurorect.lif.spectrum import population_spectrum
from neurorect.lif.susceptibility import susceptibility, susceptibility_reference

__all__ = [
    "MembraneStats",
    "deterministic_rate",
    "isi_cv",
    "isi_laplace",
    "laplace_response",
    "mean_field",
    "population_spectrum",
    "membrane_stats",
    "siegert_derivative",
    "siegert_rate",
    "susceptibility",
    "susceptibility_reference",
]
