"""A vectorizable float32 exp for numba kernels.

numba's LLVM has no vector math library here, so a call to `exp` inside a pixel loop stops SIMD
vectorization. `exp_neg(s)` = exp(-s) for s >= 0 is written with range reduction (2^k · 2^f) and a
degree-5 polynomial for 2^f on [0, 1) (relative error below 1e-7, i.e. float32 rounding), with 2^k
built by writing the exponent bits directly, so LLVM turns the whole thing into vector instructions.
"""

from __future__ import annotations

import llvmlite.ir as lir
import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from .._numba_setup import FAST_ELEMENTWISE

_LOG2E = np.float32(1.4426950408889634)
_EXP_CLAMP = np.float32(87.0)
# least-squares fit of 2^f on [0, 1] (relative weights), float32 coefficients, max rel. error 7.7e-8
_P0 = np.float32(0.9999999403953552)
_P1 = np.float32(0.6931529641151428)
_P2 = np.float32(0.24015453457832336)
_P3 = np.float32(0.05582360550761223)
_P4 = np.float32(0.00899258442223072)
_P5 = np.float32(0.0018762329127639532)


@intrinsic
def _int32_bits_as_float32(typingctx, bits):
    """Reinterpret the low 32 bits of an integer as a float32 (numba widens int32 sums to int64)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        value = args[0]
        if value.type.width > 32:
            value = builder.trunc(value, lir.IntType(32))
        return builder.bitcast(value, lir.FloatType())

    return types.float32(bits), codegen


@njit(inline="always", fastmath=FAST_ELEMENTWISE, cache=True)
def exp_neg(s):
    """exp(-s) in float32 for s >= 0 (s is clamped to 87, below which the result is ~1.6e-38)."""
    t = -min(s, _EXP_CLAMP) * _LOG2E
    k = np.floor(t)
    f = t - k
    p = _P0 + f * (_P1 + f * (_P2 + f * (_P3 + f * (_P4 + f * _P5))))
    scale = _int32_bits_as_float32((np.int32(k) + 127) << 23)
    return p * scale
