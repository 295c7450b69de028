"""Op/shape cases shared by the gradient tests: a psionic function and its torch twin.

Each case names input shapes, an input domain (``pos`` keeps inputs away from
zero and negatives, for log/sqrt/pow), and the same computation written once
with psionic tensors and once with torch tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import psionic.array as pa


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    shapes: tuple[tuple[int, ...], ...]
    fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    domain: str = "any"
    low_precision: bool = True  # also checked in f16 / bf16 against torch


def _t() -> Any:
    import torch

    return torch


CASES: list[Case] = [
    # elementwise, unary
    Case("neg", ((3, 4),), lambda x: -x, lambda x: -x),
    Case("exp", ((3, 4),), lambda x: x.exp(), lambda x: x.exp()),
    Case("log", ((3, 4),), lambda x: x.log(), lambda x: x.log(), "pos"),
    Case("sqrt", ((5,),), lambda x: x.sqrt(), lambda x: x.sqrt(), "pos"),
    Case("rsqrt", ((2, 3),), lambda x: x.rsqrt(), lambda x: x.rsqrt(), "pos"),
    Case("tanh", ((2, 3, 4),), lambda x: x.tanh(), lambda x: x.tanh()),
    Case("sigmoid", ((4, 3),), lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    Case("relu", ((4, 3),), lambda x: x.relu(), lambda x: x.relu()),
    Case("abs", ((6,),), lambda x: x.abs(), lambda x: x.abs()),
    Case("sin_cos", ((3, 3),), lambda x: x.sin() * x.cos(), lambda x: x.sin() * x.cos()),
    Case("square", ((3,),), lambda x: x.square(), lambda x: x.square()),
    Case("clamp", ((8,),), lambda x: x.clamp(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5)),
    # elementwise, binary with broadcasting
    Case("add", ((3, 4), (3, 4)), lambda a, b: a + b, lambda a, b: a + b),
    Case("add_bcast_row", ((3, 4), (4,)), lambda a, b: a + b, lambda a, b: a + b),
    Case("add_bcast_col", ((3, 4), (3, 1)), lambda a, b: a + b, lambda a, b: a + b),
    Case("sub_bcast_3d", ((2, 3, 4), (3, 1)), lambda a, b: a - b, lambda a, b: a - b),
    Case("mul", ((3, 4), (3, 4)), lambda a, b: a * b, lambda a, b: a * b),
    Case("mul_bcast_outer", ((3, 1), (1, 4)), lambda a, b: a * b, lambda a, b: a * b),
    Case("div", ((3, 4), (3, 4)), lambda a, b: a / b, lambda a, b: a / b, "pos"),
    Case("div_bcast", ((2, 3, 4), (4,)), lambda a, b: a / b, lambda a, b: a / b, "pos"),
    Case("pow", ((3, 4), (3, 4)), lambda a, b: a ** b, lambda a, b: a ** b, "pos"),
    Case("pow_scalar", ((5,),), lambda x: x ** 3.0, lambda x: x ** 3.0),
    Case("rsub_scalar", ((5,),), lambda x: 2.0 - x, lambda x: 2.0 - x),
    Case("rdiv_scalar", ((5,),), lambda x: 1.0 / x, lambda x: 1.0 / x, "pos"),
    Case("maximum", ((3, 4), (3, 4)), lambda a, b: a.maximum(b), lambda a, b: _t().maximum(a, b)),
    Case("minimum_bcast", ((3, 4), (4,)), lambda a, b: a.minimum(b), lambda a, b: _t().minimum(a, b)),
    Case("where", ((3, 4), (3, 4)), lambda a, b: pa.where(a > b, a, b * 2.0),
         lambda a, b: _t().where(a > b, a, b * 2.0)),
    Case("where_bcast", ((3, 4), (4,)), lambda a, b: pa.where(a > 0, a, b),
         lambda a, b: _t().where(a > 0, a, b)),
    Case("masked_fill", ((3, 4),), lambda x: x.masked_fill(x < 0, 0.0) * x,
         lambda x: x.masked_fill(x < 0, 0.0) * x),
    # reductions
    Case("sum_all", ((3, 4),), lambda x: x.sum(), lambda x: x.sum()),
    Case("sum_axis0", ((3, 4),), lambda x: x.sum(0), lambda x: x.sum(0)),
    Case("sum_axis_neg_keep", ((2, 3, 4),), lambda x: x.sum(-1, keepdims=True),
         lambda x: x.sum(-1, keepdim=True)),
    Case("sum_two_axes", ((2, 3, 4),), lambda x: x.sum((0, 2)), lambda x: x.sum((0, 2))),
    Case("mean", ((2, 3, 4),), lambda x: x.mean(1), lambda x: x.mean(1)),
    Case("var", ((3, 5),), lambda x: x.var(-1), lambda x: x.var(-1, unbiased=False)),
    Case("max_axis", ((3, 5),), lambda x: x.max(1), lambda x: x.amax(1)),
    Case("max_all", ((3, 5),), lambda x: x.max(), lambda x: x.amax()),
    Case("min_axis_keep", ((3, 5),), lambda x: x.min(0, keepdims=True), lambda x: x.amin(0, keepdim=True)),
    Case("softmax", ((3, 5),), lambda x: x.softmax(-1), lambda x: x.softmax(-1)),
    Case("softmax_axis0", ((4, 3),), lambda x: x.softmax(0), lambda x: x.softmax(0)),
    Case("log_softmax", ((3, 5),), lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1)),
    Case("log_softmax_3d", ((2, 3, 4),), lambda x: x.log_softmax(1), lambda x: x.log_softmax(1)),
    # movement and views
    Case("reshape", ((3, 4),), lambda x: x.reshape(2, 6) * x.reshape(2, 6),
         lambda x: x.reshape(2, 6) * x.reshape(2, 6)),
    Case("reshape_infer", ((2, 3, 4),), lambda x: x.reshape(-1, 4).exp(), lambda x: x.reshape(-1, 4).exp()),
    Case("permute", ((2, 3, 4),), lambda x: x.permute(2, 0, 1) * 2.0, lambda x: x.permute(2, 0, 1) * 2.0),
    Case("transpose", ((3, 4),), lambda x: x.T @ x, lambda x: x.T @ x),
    Case("unsqueeze_expand", ((3,),), lambda x: x.unsqueeze(0).expand(4, 3) * x,
         lambda x: x.unsqueeze(0).expand(4, 3) * x),
    Case("squeeze", ((3, 1, 2),), lambda x: x.squeeze(1).tanh(), lambda x: x.squeeze(1).tanh()),
    Case("slice_rows", ((5, 4),), lambda x: x[1:4], lambda x: x[1:4]),
    Case("slice_step", ((6, 3),), lambda x: x[::2, 1:], lambda x: x[::2, 1:]),
    Case("slice_int", ((4, 5),), lambda x: x[2] * x[0], lambda x: x[2] * x[0]),
    Case("slice_ellipsis", ((2, 3, 4),), lambda x: x[..., :2], lambda x: x[..., :2]),
    Case("slice_newaxis", ((3, 4),), lambda x: x[:, None, :] * x[None], lambda x: x[:, None, :] * x[None]),
    Case("overlapping_views", ((6,),), lambda x: x[:4] * x[2:], lambda x: x[:4] * x[2:]),
    Case("take_rows", ((5, 3),), lambda x: x.take([0, 2, 2, 4], 0), lambda x: x[[0, 2, 2, 4]]),
    Case("take_2d_index", ((6, 2),), lambda x: x[np.array([[0, 1], [5, 0]])],
         lambda x: x[_t().tensor([[0, 1], [5, 0]])]),
    Case("take_axis1", ((3, 5),), lambda x: x.take([4, 0], 1), lambda x: x[:, [4, 0]]),
    Case("gather", ((3, 5),), lambda x: x.gather([[1], [0], [4]], -1),
         lambda x: x.gather(-1, _t().tensor([[1], [0], [4]]))),
    Case("concat", ((2, 3), (4, 3)), lambda a, b: pa.concat([a, b * 2.0], 0),
         lambda a, b: _t().cat([a, b * 2.0], 0)),
    Case("concat_axis1", ((2, 3), (2, 2)), lambda a, b: pa.concat([a, b], 1).exp(),
         lambda a, b: _t().cat([a, b], 1).exp()),
    Case("stack", ((2, 3), (2, 3)), lambda a, b: pa.stack([a, b], 1), lambda a, b: _t().stack([a, b], 1)),
    # contraction
    Case("matmul", ((3, 4), (4, 5)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matmul_batched", ((2, 3, 4), (2, 4, 5)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matmul_bcast_batch", ((2, 3, 4), (4, 5)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matmul_bcast_both", ((2, 1, 3, 4), (3, 4, 2)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("matvec", ((3, 4), (4,)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("vecmat", ((4,), (4, 3)), lambda a, b: a @ b, lambda a, b: a @ b),
    Case("dot", ((4,), (4,)), lambda a, b: a @ b, lambda a, b: a @ b),
    # compositions
    Case("layer_norm_like", ((3, 6),), lambda x: (x - x.mean(-1, keepdims=True)) / (x.var(-1, keepdims=True) + 1e-5).sqrt(),
         lambda x: (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True, unbiased=False) + 1e-5).sqrt()),
    Case("normalize_fused", ((3, 6),), lambda x: x.normalize(1e-5) * x,
         lambda x: _t().nn.functional.layer_norm(x, (6,), eps=1e-5) * x),
    Case("rms_normalize_fused", ((2, 3, 5),), lambda x: x.normalize(1e-6, center=False),
         lambda x: _t().nn.functional.rms_norm(x, (5,), eps=1e-6)),
    Case("attention_like", ((2, 3, 4), (2, 5, 4)),
         lambda q, k: ((q @ k.mT) * 0.5).softmax(-1) @ k,
         lambda q, k: ((q @ k.mT) * 0.5).softmax(-1) @ k),
    Case("cross_entropy_like", ((4, 6),),
         lambda x: -x.log_softmax(-1).gather([[1], [0], [5], [2]], -1).mean(),
         lambda x: -x.log_softmax(-1).gather(-1, _t().tensor([[1], [0], [5], [2]])).mean()),
    Case("gelu_tanh_like", ((3, 4),), lambda x: 0.5 * x * (1.0 + (0.79788456 * (x + 0.044715 * x ** 3.0)).tanh()),
         lambda x: 0.5 * x * (1.0 + (0.79788456 * (x + 0.044715 * x ** 3.0)).tanh())),
    Case("gelu_tanh_fused", ((3, 4),), lambda x: x.gelu_tanh(),
         lambda x: _t().nn.functional.gelu(x, approximate="tanh")),
    Case("gelu_tanh_fused_twice", ((5,),), lambda x: x.gelu_tanh().gelu_tanh() * x,
         lambda x: _t().nn.functional.gelu(_t().nn.functional.gelu(x, approximate="tanh"), approximate="tanh") * x),
    Case("silu", ((3, 4),), lambda x: x * x.sigmoid(), lambda x: x * x.sigmoid()),
    Case("reuse_input", ((4,),), lambda x: x * x.exp() + x.sum(), lambda x: x * x.exp() + x.sum()),
    Case("cast_roundtrip", ((3,),), lambda x: x.cast("f64").cast(x.dtype) * 2.0,
         lambda x: x.double().to(x.dtype) * 2.0, low_precision=False),
]
