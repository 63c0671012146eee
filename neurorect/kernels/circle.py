"""Cosine and sine from arithmetic LLVM vectorises: the kernels' libm-free unit circle.

Without SVML, ``math.cos`` and ``math.sin`` inside a Numba loop stay scalar libm calls
(~20 ns each); the functions here are polynomials and selects only, so a loop over a tile's
lanes calling them compiles to SIMD code. Every product that feeds a sum is an explicit
:func:`fma` (rounded once), never a ``*`` followed by a ``+`` that LLVM may or may not
contract: the bits are the same in a vectorised loop and in a scalar call, whatever the
caller's fastmath flags (a chunked run rebuilds at its start, in scalar code, the phasors a
single run computes in its SIMD loop).

* :func:`quarter_cos_sin`: ``(cos x, sin x)`` for ``|x| <= pi/4``, Taylor series to
  ``x^16`` and ``x^15`` (truncation below 1e-17 there; ~1 ulp with rounding);
* :func:`rotate`: the complex product of a phasor and a rotation, its two sums of
  products each one FMA (the same bits in the tiles' SIMD loops and in the scalar code that
  rebuilds a chunk's starting phasors);
* :func:`turn_cos_sin`: ``(cos 2 pi t, sin 2 pi t)`` for any finite ``t`` in turns
  (cycles): ``t`` reduced to the nearest whole turn (exact), then to the nearest quarter
  turn (exact), the rest by :func:`quarter_cos_sin` (tested against libm to 4e-16 absolute).
  An angle given in turns loses nothing in the reduction; its only rounding is the one of
  ``t`` itself (``f t_n``, as libm's argument ``2 pi f t_n`` has it).
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from neurorect.kernels.layout import FASTMATH

__all__ = ["fma", "quarter_cos_sin", "turn_cos_sin", "rotate"]

_TWO_PI = 2.0 * math.pi
_KERNEL = dict(cache=True, fastmath=FASTMATH, error_model="numpy")


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (``llvm.fma``: one vector FMA instruction on this
    hardware), in float64."""
    if not (a == types.float64 and b == types.float64 and c == types.float64):
        return None

    def codegen(context, builder, signature, args):
        double = ir.DoubleType()
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(double, [double, double, double]), "llvm.fma.f64")
        return builder.call(function, args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@njit(inline="always", **_KERNEL)
def quarter_cos_sin(x):
    """``(cos x, sin x)`` for ``|x| <= pi/4`` (Taylor series, Horner in ``x^2``)."""
    x2 = x * x
    sine = -1.0 / 1307674368000.0
    sine = fma(sine, x2, 1.0 / 6227020800.0)
    sine = fma(sine, x2, -1.0 / 39916800.0)
    sine = fma(sine, x2, 1.0 / 362880.0)
    sine = fma(sine, x2, -1.0 / 5040.0)
    sine = fma(sine, x2, 1.0 / 120.0)
    sine = fma(sine, x2, -1.0 / 6.0)
    sine = fma(x * x2, sine, x)
    cosine = 1.0 / 20922789888000.0
    cosine = fma(cosine, x2, -1.0 / 87178291200.0)
    cosine = fma(cosine, x2, 1.0 / 479001600.0)
    cosine = fma(cosine, x2, -1.0 / 3628800.0)
    cosine = fma(cosine, x2, 1.0 / 40320.0)
    cosine = fma(cosine, x2, -1.0 / 720.0)
    cosine = fma(cosine, x2, 1.0 / 24.0)
    cosine = fma(cosine, x2, -0.5)
    cosine = fma(x2, cosine, 1.0)
    return cosine, sine


@njit(inline="always", **_KERNEL)
def turn_cos_sin(t):
    """``(cos 2 pi t, sin 2 pi t)`` for finite ``t`` (turns): ~1 ulp, vectorisable."""
    t = t - math.floor(t + 0.5)  # [-1/2, 1/2): exact
    quarter = math.floor(4.0 * t + 0.5)  # -2 .. 2
    cosine, sine = quarter_cos_sin((t - 0.25 * quarter) * _TWO_PI)  # |x| <= pi/4, exact diff
    odd = quarter == 1.0 or quarter == -1.0
    c = -sine if odd else cosine  # rotated by one quarter turn: (-sin, cos)
    s = cosine if odd else sine
    half = quarter == 2.0 or quarter == -2.0 or quarter == -1.0  # a half turn more
    return (-c if half else c), (-s if half else s)


@njit(inline="always", **_KERNEL)
def rotate(zr, zi, cr, ci):
    """``(zr + i zi)(cr + i ci)`` as (real, imag), each part one FMA over one product."""
    return fma(zr, cr, -(zi * ci)), fma(zr, ci, zi * cr)
