"""Explicit 16-lane float32 vectors for numba kernels.

A ``f32x16`` value is an LLVM ``<16 x float>``: numba keeps it in registers,
and LLVM lowers it to whatever the host has (one zmm, two ymm, four xmm).
Kernels written with these intrinsics fix their arithmetic by construction:
every lane operation is one IEEE operation (``vfma`` is a fused
multiply-add with a single rounding, on every target), and ``vsum`` reduces
the lanes in one fixed pairwise tree. Nothing here is reassociated by the
compiler, so a kernel computes the same bits wherever it runs the same
sequence of these operations.

Loads read 16 elements starting at an index of the array's own element type
(``vload`` on float32 arrays) or at a *byte* offset of a uint8 array (the
``vload_*b`` family, for packed weight rows); no bounds are checked, callers
keep every access inside the array.

>>> import numpy as np
>>> from numba import njit
>>> @njit
... def total(a):
...     return vsum(vadd(vload(a, 0), vsplat(np.float32(1.0))))
>>> float(total(np.arange(16, dtype=np.float32)))
136.0
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

LANES = 16

_F32 = ir.FloatType()
_I32 = ir.IntType(32)
_VF = ir.VectorType(_F32, LANES)
_VI = ir.VectorType(_I32, LANES)


def _host_has_avx512() -> bool:
    """Whether kernels compile for this host with AVX-512F (numba's default target)."""
    if getattr(numba.config, "CPU_NAME", None) not in (None, "host"):
        return False
    try:
        return bool(llvm.get_host_cpu_features().get("avx512f"))
    except RuntimeError:
        return False


# A variable lane permute (vpermps) turns a 16-entry table lookup into one instruction.
# Without AVX-512 the same values are computed arithmetically; results are identical.
HAS_LANE_PERMUTE = _host_has_avx512()


class F32x16(types.Type):
    """Numba type of a 16-lane float32 vector."""

    def __init__(self) -> None:
        super().__init__(name="f32x16")


f32x16 = F32x16()


@register_model(F32x16)
class _F32x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VF)


# --- codegen helpers -----------------------------------------------------------


def _pointer(context, builder, aryty, ary, index, pointee):
    """Address of element ``index`` of a 1-D array, as a pointer to ``pointee``."""
    data = context.make_array(aryty)(context, builder, value=ary).data
    return builder.bitcast(builder.gep(data, [index]), pointee.as_pointer())


def _splat_i32(context, builder, value, valty):
    scalar = context.cast(builder, value, valty, types.int32)
    undef = ir.Constant(_VI, ir.Undefined)
    first = builder.insert_element(undef, scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(first, undef, ir.Constant(_VI, [0] * LANES))


def _splat_f32(context, builder, value, valty):
    scalar = context.cast(builder, value, valty, types.float32)
    undef = ir.Constant(_VF, ir.Undefined)
    first = builder.insert_element(undef, scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(first, undef, ir.Constant(_VI, [0] * LANES))


def _load_bytes(context, builder, sig, args):
    """16 bytes at byte offset args[1] of the uint8 array args[0], as <16 x i8>."""
    ptr = _pointer(context, builder, sig.args[0], args[0], args[1], ir.VectorType(ir.IntType(8), LANES))
    return builder.load(ptr, align=1)


# --- construction, loads and stores --------------------------------------------


@intrinsic
def vzero(typingctx):
    """All lanes +0.0."""

    def codegen(context, builder, sig, args):
        return ir.Constant(_VF, None)

    return f32x16(), codegen


@intrinsic
def vsplat(typingctx, x):
    """All lanes ``float32(x)``."""

    def codegen(context, builder, sig, args):
        scalar = context.cast(builder, args[0], sig.args[0], types.float32)
        undef = ir.Constant(_VF, ir.Undefined)
        first = builder.insert_element(undef, scalar, ir.Constant(_I32, 0))
        return builder.shuffle_vector(first, undef, ir.Constant(_VI, [0] * LANES))

    return f32x16(x), codegen


@intrinsic
def vload(typingctx, arr, i):
    """``arr[i : i + 16]`` of a 1-D float32 array."""

    def codegen(context, builder, sig, args):
        return builder.load(_pointer(context, builder, sig.args[0], args[0], args[1], _VF), align=4)

    return f32x16(arr, i), codegen


@intrinsic
def vstore(typingctx, arr, i, v):
    """``arr[i : i + 16] = v`` for a 1-D float32 array."""

    def codegen(context, builder, sig, args):
        builder.store(args[2], _pointer(context, builder, sig.args[0], args[0], args[1], _VF), align=4)
        return context.get_dummy_value()

    return types.none(arr, i, v), codegen


@intrinsic
def vload_f32b(typingctx, arr, at):
    """16 little-endian float32 at byte offset ``at`` of a uint8 array."""

    def codegen(context, builder, sig, args):
        return builder.load(_pointer(context, builder, sig.args[0], args[0], args[1], _VF), align=1)

    return f32x16(arr, at), codegen


@intrinsic
def vload_f16b(typingctx, arr, at):
    """16 IEEE half floats at byte offset ``at`` of a uint8 array, widened exactly."""

    def codegen(context, builder, sig, args):
        vh = ir.VectorType(ir.HalfType(), LANES)
        half = builder.load(_pointer(context, builder, sig.args[0], args[0], args[1], vh), align=1)
        return builder.fpext(half, _VF)

    return f32x16(arr, at), codegen


@intrinsic
def vload_bf16b(typingctx, arr, at):
    """16 bfloat16 at byte offset ``at`` of a uint8 array, widened exactly."""

    def codegen(context, builder, sig, args):
        v16 = ir.VectorType(ir.IntType(16), LANES)
        raw = builder.load(_pointer(context, builder, sig.args[0], args[0], args[1], v16), align=1)
        wide = builder.shl(builder.zext(raw, _VI), ir.Constant(_VI, [16] * LANES))
        return builder.bitcast(wide, _VF)

    return f32x16(arr, at), codegen


@intrinsic
def vload_i8b(typingctx, arr, at):
    """16 signed bytes at byte offset ``at`` of a uint8 array, as floats."""

    def codegen(context, builder, sig, args):
        return builder.sitofp(_load_bytes(context, builder, sig, args), _VF)

    return f32x16(arr, at), codegen


@intrinsic
def vload_bits(typingctx, arr, at, shift, mask):
    """16 bytes at byte offset ``at``: lane l is ``float((arr[at + l] >> shift) & mask)``."""

    def codegen(context, builder, sig, args):
        wide = builder.zext(_load_bytes(context, builder, sig, args), _VI)
        wide = builder.lshr(wide, _splat_i32(context, builder, args[2], sig.args[2]))
        wide = builder.and_(wide, _splat_i32(context, builder, args[3], sig.args[3]))
        return builder.uitofp(wide, _VF)

    return f32x16(arr, at, shift, mask), codegen


@intrinsic
def vnib_affine(typingctx, arr, at, shift, scale, offset):
    """16 nibbles ``n_l = (arr[at + l] >> shift) & 15`` mapped to ``fma(n_l, scale, offset)``.

    On AVX-512 hosts the sixteen possible values are computed once (one fma on
    0..15) and looked up with a lane permute; elsewhere each lane is converted
    and fused. Either way every lane is exactly ``fma(float(n_l), scale, offset)``.
    """

    def codegen(context, builder, sig, args):
        wide = builder.zext(_load_bytes(context, builder, sig, args), _VI)
        wide = builder.lshr(wide, _splat_i32(context, builder, args[2], sig.args[2]))
        wide = builder.and_(wide, ir.Constant(_VI, [15] * LANES))
        fma_ty = ir.FunctionType(_VF, [_VF, _VF, _VF])
        fma = cgutils.get_or_insert_function(builder.module, fma_ty, "llvm.fma.v16f32")
        scale = _splat_f32(context, builder, args[3], sig.args[3])
        offset = _splat_f32(context, builder, args[4], sig.args[4])
        if HAS_LANE_PERMUTE:
            iota = ir.Constant(_VF, [float(i) for i in range(LANES)])
            table = builder.call(fma, [iota, scale, offset])
            perm_ty = ir.FunctionType(_VF, [_VF, _VI])
            perm = cgutils.get_or_insert_function(
                builder.module, perm_ty, "llvm.x86.avx512.permvar.sf.512"
            )
            return builder.call(perm, [table, wide])
        return builder.call(fma, [builder.uitofp(wide, _VF), scale, offset])

    return f32x16(arr, at, shift, scale, offset), codegen


@intrinsic
def vload_u32_bits(typingctx, arr, at, first):
    """The little-endian u32 at byte ``at``: lane l is ``float((word >> (first + l)) & 1)``."""

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1], _I32)
        word = builder.load(ptr, align=1)
        undef = ir.Constant(_VI, ir.Undefined)
        lanes = builder.shuffle_vector(
            builder.insert_element(undef, word, ir.Constant(_I32, 0)), undef,
            ir.Constant(_VI, [0] * LANES),
        )
        shifts = builder.add(
            _splat_i32(context, builder, args[2], sig.args[2]), ir.Constant(_VI, list(range(LANES)))
        )
        bits = builder.and_(builder.lshr(lanes, shifts), ir.Constant(_VI, [1] * LANES))
        return builder.uitofp(bits, _VF)

    return f32x16(arr, at, first), codegen


@intrinsic
def prefetch(typingctx, arr, at):
    """Hint that byte ``at`` of a uint8 array will be read soon (no effect on results)."""

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1], ir.IntType(8))
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, high temporal locality, data cache
        builder.call(fn, [ptr, ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return types.none(arr, at), codegen


@intrinsic
def f16_at(typingctx, arr, at):
    """The IEEE half float at byte offset ``at`` of a uint8 array, as float32 (exact)."""

    def codegen(context, builder, sig, args):
        ptr = _pointer(context, builder, sig.args[0], args[0], args[1], ir.HalfType())
        return builder.fpext(builder.load(ptr, align=1), _F32)

    return types.float32(arr, at), codegen


# --- arithmetic ------------------------------------------------------------------


def _binary(opname: str, doc: str):
    @intrinsic
    def op(typingctx, a, b):
        def codegen(context, builder, sig, args):
            return getattr(builder, opname)(args[0], args[1])

        return f32x16(a, b), codegen

    op.__doc__ = doc
    return op


vadd = _binary("fadd", "Lane-wise a + b.")
vsub = _binary("fsub", "Lane-wise a - b.")
vmul = _binary("fmul", "Lane-wise a * b.")


def llvm_fma(value_type: types.Type, suffix: str, doc: str):
    """An intrinsic ``(a, b, c) -> a * b + c`` with one rounding on ``value_type`` values: a
    call of LLVM's ``llvm.fma.<suffix>`` (``suffix`` names the type there, e.g. ``f32``)."""

    @intrinsic
    def fma(typingctx, a, b, c):
        def codegen(context, builder, sig, args):
            llvm_type = context.get_value_type(value_type)
            fnty = ir.FunctionType(llvm_type, [llvm_type] * 3)
            fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fma.{suffix}")
            return builder.call(fn, args)

        return value_type(value_type, value_type, value_type), codegen

    fma.__doc__ = doc
    return fma


vfma = llvm_fma(f32x16, f"v{LANES}f32", "Lane-wise ``a * b + c`` with one rounding.")


def _tree(builder, vec, combine):
    """Fold 16 lanes in a fixed tree: halves (l, l + 8), then (l, l + 4), (l, l + 2), (0, 1)."""
    width = LANES
    while width > 1:
        half = width // 2
        mask_lo = ir.Constant(ir.VectorType(_I32, half), list(range(half)))
        mask_hi = ir.Constant(ir.VectorType(_I32, half), list(range(half, width)))
        vec = combine(builder.shuffle_vector(vec, vec, mask_lo), builder.shuffle_vector(vec, vec, mask_hi))
        width = half
    return builder.extract_element(vec, ir.Constant(_I32, 0))


@intrinsic
def vsum(typingctx, v):
    """The sum of the 16 lanes in a fixed pairwise tree (see ``_tree``)."""

    def codegen(context, builder, sig, args):
        return _tree(builder, args[0], builder.fadd)

    return types.float32(v), codegen


@intrinsic
def vsum4(typingctx, a, b, c, d):
    """``(vsum(a), vsum(b), vsum(c), vsum(d))``, bit for bit, with shared shuffles.

    The four trees are interleaved lane-wise: every sum adds the same two
    values, in the same order, as ``vsum`` does, so results are identical.
    """

    def codegen(context, builder, sig, args):
        def mask(idx: list[int]):
            return ir.Constant(ir.VectorType(_I32, len(idx)), idx)

        def fold(x, y, lo_idx: list[int], hi_idx: list[int]):
            return builder.fadd(
                builder.shuffle_vector(x, y, mask(lo_idx)), builder.shuffle_vector(x, y, mask(hi_idx))
            )

        # (l, l + 8): lanes 0-7 belong to the first input, 8-15 to the second
        step1_lo = list(range(8)) + list(range(16, 24))
        step1_hi = list(range(8, 16)) + list(range(24, 32))
        ab = fold(args[0], args[1], step1_lo, step1_hi)
        cd = fold(args[2], args[3], step1_lo, step1_hi)
        # (l, l + 4): four lanes per input
        step2_lo = [i + o for o in (0, 8, 16, 24) for i in range(4)]
        step2_hi = [i + 4 + o for o in (0, 8, 16, 24) for i in range(4)]
        quad = fold(ab, cd, step2_lo, step2_hi)
        # (l, l + 2), then (0, 1)
        pair = fold(quad, quad, [o + i for o in (0, 4, 8, 12) for i in range(2)],
                    [o + 2 + i for o in (0, 4, 8, 12) for i in range(2)])
        single = fold(pair, pair, [0, 2, 4, 6], [1, 3, 5, 7])
        values = [builder.extract_element(single, ir.Constant(_I32, i)) for i in range(4)]
        return context.make_tuple(builder, sig.return_type, values)

    return types.UniTuple(types.float32, 4)(a, b, c, d), codegen


# --- exp ---------------------------------------------------------------------------

# exp(x) = 2**n * exp(r), n = rint(x * log2(e)), r = x - n * ln2 (ln2 split in two so the
# product is exact), exp(r) ~= 1 + r + r*r * P(r) on |r| <= ln2 / 2 (a degree-5 minimax P).
_LOG2E = 1.44269504088896341
_LN2_HI = 0.693359375
_LN2_LO = -2.12194440e-4
_EXP_P = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
          1.6666665459e-1, 5.0000001201e-1)
_EXP_MIN = -87.0  # below this the result is flushed to +0.0 (softmax weights < 2e-38)
_EXP_MAX = 88.0


@intrinsic
def vexp(typingctx, v):
    """Lane-wise ``exp`` in float32 (within 2 ulp; 0 below -87, inputs above 88 clamp).

    One fixed sequence of IEEE operations, the same on every target: unlike a
    libm call, its bits do not depend on which library the host links.
    """

    def codegen(context, builder, sig, args):
        def const(value: float):
            return ir.Constant(_VF, [value] * LANES)

        def intrinsic_call(name: str, *operands):
            fnty = ir.FunctionType(_VF, [_VF] * len(operands))
            return builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), operands)

        x = args[0]
        low = builder.fcmp_ordered("<", x, const(_EXP_MIN))
        x = builder.select(builder.fcmp_ordered(">", x, const(_EXP_MAX)), const(_EXP_MAX), x)
        x = builder.select(low, const(_EXP_MIN), x)
        n = intrinsic_call("llvm.rint.v16f32", builder.fmul(x, const(_LOG2E)))
        r = intrinsic_call("llvm.fma.v16f32", n, const(-_LN2_HI), x)
        r = intrinsic_call("llvm.fma.v16f32", n, const(-_LN2_LO), r)
        p = const(_EXP_P[0])
        for coef in _EXP_P[1:]:
            p = intrinsic_call("llvm.fma.v16f32", p, r, const(coef))
        p = intrinsic_call("llvm.fma.v16f32", p, builder.fmul(r, r), r)
        p = builder.fadd(p, const(1.0))
        exponent = builder.shl(
            builder.add(builder.fptosi(n, _VI), ir.Constant(_VI, [127] * LANES)),
            ir.Constant(_VI, [23] * LANES),
        )
        result = builder.fmul(p, builder.bitcast(exponent, _VF))
        return builder.select(low, ir.Constant(_VF, None), result)

    return f32x16(v), codegen
