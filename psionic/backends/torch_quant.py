"""GGUF weight formats on the torch backend: packed blocks on the device, decoded per call.

A ``QuantMatrix`` keeps its packed bytes; the first product that needs it
uploads those bytes once (zero-copy on a CPU device) and every later call
decodes them, ``ROWS_PER_CHUNK`` rows at a time, into the compute dtype just
before the product: the QLoRA arrangement, where the base weights stay
quantized in memory and only a slice of rows is ever dense at once. No
weight is ever decoded whole to float32 at load.

Each format registers one decoder from ``(n_blocks, type_size)`` uint8 to
``(n_blocks, block_size)`` float32, written with the same float32 operations
in the same order as the numpy reference (``psionic.backends.reference``), so
the values are the reference's (tests compare with ``gguf.quants``).

>>> import numpy as np
>>> from psionic.core.dtypes import DType
>>> from psionic.backends.quant_matrix import QuantMatrix
>>> w = QuantMatrix.from_array(DType.get("f16"), np.eye(2, dtype=np.float16))
>>> to_numpy(decode_rows(w, asarray(np.array([1]), None))).tolist()
[[0.0, 1.0]]
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from psionic.backends.torch_backend import asarray, default_device, require_torch, to_numpy
from psionic.core.errors import UnsupportedQuantType

__all__ = [
    "DECODERS", "PACKED", "asarray", "decode_blocks", "decode_rows", "quant_matmul",
    "quant_matmul_t", "quant_rows", "to_numpy",
]

Decoder = Callable[[Any], Any]
DECODERS: dict[str, Decoder] = {}

# Rows decoded at once in a product: bounds the dense slice (rows x K) a call holds.
ROWS_PER_CHUNK = 4096


def register_decoder(name: str) -> Callable[[Decoder], Decoder]:
    def add(fn: Decoder) -> Decoder:
        if name in DECODERS:
            raise ValueError(f"a torch decoder for {name!r} is already registered")
        DECODERS[name] = fn
        return fn

    return add


# --- field helpers ---------------------------------------------------------------------


def _f16(blocks: Any, at: int) -> Any:
    """The little-endian f16 at byte ``at`` of each block, as a float32 column (n, 1)."""
    torch = require_torch()
    return blocks[:, at : at + 2].contiguous().view(torch.float16).float()


def _nibbles(qs: Any) -> Any:
    """(n, 16) bytes -> (n, 32) uint8: element i < 16 is qs[i] & 15, else qs[i - 16] >> 4."""
    torch = require_torch()
    return torch.cat([qs & 0x0F, qs >> 4], dim=1)


def _bits(qh: Any) -> Any:
    """(n, 4) bytes of a little-endian u32 -> (n, 32) bits, bit i for element i."""
    torch = require_torch()
    shifts = torch.arange(8, device=qh.device, dtype=torch.int32)
    return ((qh.int()[:, :, None] >> shifts) & 1).reshape(qh.shape[0], 32)


def _k_scales(scales: Any) -> tuple[Any, Any]:
    """The 12 packed bytes of q4_k / q5_k -> eight 6-bit scales and mins, as float32 (n, 8)."""
    torch = require_torch()
    s = scales.int()
    lo, mid, hi = s[:, 0:4], s[:, 4:8], s[:, 8:12]
    sc = torch.cat([lo & 63, (hi & 0x0F) | ((lo >> 6) << 4)], dim=1)
    mn = torch.cat([mid & 63, (hi >> 4) | ((mid >> 6) << 4)], dim=1)
    return sc.float(), mn.float()


def _k_nibbles(qs: Any) -> Any:
    """(n, 128) bytes -> (n, 8, 32): sub-blocks 2c and 2c + 1 are the low and high nibbles of qs[32c:32c+32]."""
    torch = require_torch()
    q = qs.reshape(-1, 4, 1, 32)
    return torch.cat([q & 0x0F, q >> 4], dim=2).reshape(-1, 8, 32).int()


# --- the formats ---------------------------------------------------------------------------


def _float_view(name: str) -> Decoder:
    def decode(blocks: Any) -> Any:
        torch = require_torch()
        typed = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[name]
        return blocks.contiguous().view(typed).float()

    return decode


for _name in ("f32", "f16", "bf16"):
    register_decoder(_name)(_float_view(_name))


@register_decoder("q8_0")
def _q8_0(blocks: Any) -> Any:
    torch = require_torch()
    return _f16(blocks, 0) * blocks[:, 2:34].contiguous().view(torch.int8).float()


@register_decoder("q4_0")
def _q4_0(blocks: Any) -> Any:
    return _f16(blocks, 0) * (_nibbles(blocks[:, 2:18]).float() - 8.0)  # q - 8 is exact in float32


@register_decoder("q4_1")
def _q4_1(blocks: Any) -> Any:
    torch = require_torch()
    dm = blocks[:, 0:4].contiguous().view(torch.float16).float()  # (n, 2): d and m
    return dm[:, 0:1] * _nibbles(blocks[:, 4:20]).float() + dm[:, 1:2]


@register_decoder("q5_0")
def _q5_0(blocks: Any) -> Any:
    q = (_nibbles(blocks[:, 6:22]).int() | (_bits(blocks[:, 2:6]) << 4)) - 16
    return _f16(blocks, 0) * q.float()


@register_decoder("q5_1")
def _q5_1(blocks: Any) -> Any:
    q = _nibbles(blocks[:, 8:24]).int() | (_bits(blocks[:, 4:8]) << 4)
    return _f16(blocks, 0) * q.float() + _f16(blocks, 2)


def _k_affine(blocks: Any, q: Any) -> Any:
    """(d * sc[j]) * q - dmin * mn[j] for the eight sub-blocks j; q is (n, 8, 32)."""
    sc, mn = _k_scales(blocks[:, 4:16])
    scale = (_f16(blocks, 0) * sc)[:, :, None]
    offset = (_f16(blocks, 2) * mn)[:, :, None]
    return (scale * q.float() - offset).reshape(-1, 256)


@register_decoder("q4_k")
def _q4_k(blocks: Any) -> Any:
    return _k_affine(blocks, _k_nibbles(blocks[:, 16:144]))


@register_decoder("q5_k")
def _q5_k(blocks: Any) -> Any:
    torch = require_torch()
    shifts = torch.arange(8, device=blocks.device, dtype=torch.int32)[None, :, None]
    high = (blocks[:, 16:48].int()[:, None, :] >> shifts) & 1  # (n, 8, 32): bit j of qh[l]
    return _k_affine(blocks, _k_nibbles(blocks[:, 48:176]) | (high << 4))


@register_decoder("q6_k")
def _q6_k(blocks: Any) -> Any:
    torch = require_torch()
    ql = blocks[:, 0:128].reshape(-1, 2, 2, 32)  # (half, g & 1, lane)
    nib = torch.cat([ql & 0x0F, ql >> 4], dim=2).int()  # (n, half, g, lane), g = 0..3
    shifts = (2 * torch.arange(4, device=blocks.device, dtype=torch.int32)).reshape(1, 1, 4, 1)
    high = (blocks[:, 128:192].reshape(-1, 2, 1, 32).int() >> shifts) & 3
    q = (nib | (high << 4)).reshape(-1, 16, 16) - 32
    scales = blocks[:, 192:208].contiguous().view(torch.int8).float()
    scale = (_f16(blocks, 208) * scales)[:, :, None]
    return (scale * q.float()).reshape(-1, 256)


def decode_blocks(name: str, blocks: Any) -> Any:
    """(n_blocks, type_size) uint8 on the device -> (n_blocks, block_size) float32."""
    fn = DECODERS.get(name)
    if fn is None:
        raise UnsupportedQuantType(
            f"the torch backend has no decoder for {name} weights; it supports "
            + ", ".join(sorted(DECODERS)), dtype=name, backend="torch")
    return fn(blocks)


# --- packed bytes on the device --------------------------------------------------------------


class PackedCache:
    """Each matrix's packed bytes as a device tensor, uploaded once, held with the matrix.

    On a CPU device the tensor is a view of the numpy bytes (nothing copied); on
    CUDA it is one upload of the packed bytes (never a float copy), kept least
    recently used within ``budget_bytes``.
    """

    def __init__(self, budget_bytes: int = 64 << 30) -> None:
        self.budget = budget_bytes
        self.entries: OrderedDict[int, tuple[Any, Any]] = OrderedDict()
        self.nbytes = 0
        self.lock = threading.Lock()

    def get(self, weight: Any) -> Any:
        key = id(weight)
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and hit[0] is weight:
                self.entries.move_to_end(key)
                return hit[1]
        torch = require_torch()
        with warnings.catch_warnings():  # the bytes are read-only and are never written
            warnings.simplefilter("ignore", UserWarning)
            packed = torch.from_numpy(np.asarray(weight.data)).to(default_device())
        with self.lock:
            if key not in self.entries:
                self.entries[key] = (weight, packed)
                self.nbytes += weight.nbytes
            while self.nbytes > self.budget and len(self.entries) > 1:
                _, (old, _) = self.entries.popitem(last=False)
                self.nbytes -= old.nbytes
        return packed


PACKED = PackedCache()


def decode_rows(weight: Any, rows: Any, dtype: Any = None) -> Any:
    """Rows ``rows`` (an int64 tensor or slice) of ``weight`` as a dense (R, K) tensor of ``dtype``."""
    torch = require_torch()
    packed = PACKED.get(weight)[rows]
    blocks = packed.reshape(-1, weight.dtype.type_size)
    dense = decode_blocks(weight.dtype.name, blocks).reshape(packed.shape[0], weight.cols)
    return dense if dtype is None or dtype == torch.float32 else dense.to(dtype)


def _chunks(n: int) -> list[slice]:
    return [slice(s, min(s + ROWS_PER_CHUNK, n)) for s in range(0, n, ROWS_PER_CHUNK)]


def quant_matmul(x: Any, weight: Any, compute: Any = None) -> Any:
    """``x @ W^T`` (..., N) in float32, the product formed in ``compute`` (float32 when None)."""
    torch = require_torch()
    dtype = compute or torch.float32
    flat = x.reshape(-1, x.shape[-1]).to(dtype)
    parts = [flat @ decode_rows(weight, rows, dtype).T for rows in _chunks(weight.rows)]
    out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    return out.float().reshape(*x.shape[:-1], weight.rows)


def quant_matmul_t(g: Any, weight: Any, compute: Any = None) -> Any:
    """``g @ W`` (..., K) in float32, accumulated over row chunks of W."""
    torch = require_torch()
    dtype = compute or torch.float32
    flat = g.reshape(-1, weight.rows).to(dtype)
    out = torch.zeros((flat.shape[0], weight.cols), dtype=torch.float32, device=flat.device)
    for rows in _chunks(weight.rows):
        out += (flat[:, rows] @ decode_rows(weight, rows, dtype)).float()
    return out.reshape(*g.shape[:-1], weight.cols)


def quant_rows(ids: Any, weight: Any) -> Any:
    """Rows ``ids`` (any shape) of ``weight`` in float32: (..., K)."""
    return decode_rows(weight, ids.reshape(-1)).reshape(*ids.shape, weight.cols)
