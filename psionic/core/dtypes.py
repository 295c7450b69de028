"""Every element type Psionic knows, in one registry.

Two kinds live here: *array* dtypes (a numpy dtype per element, bf16 and fp8
through ml_dtypes) and GGUF *block-quant* types (elements packed in blocks of
``block_size`` taking ``type_size`` bytes). Both carry the GGML type id where
GGUF defines one, so a tensor read from a file maps to exactly one entry.

>>> DType.get("bf16").itemsize
2
>>> q = DType.get("q4_k"); (q.block_size, q.type_size, q.ggml_type)
(256, 144, 12)
>>> DType.from_ggml(8).name
'q8_0'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import ml_dtypes
import numpy as np

from psionic.core.errors import UnknownDType


@dataclass(frozen=True, slots=True)
class DType:
    """One element type: an array dtype (block_size 1) or a block-quant type."""

    name: str
    kind: str  # "float" | "int" | "uint" | "bool" | "quant"
    block_size: int
    type_size: int  # bytes per block (per element when block_size == 1)
    ggml_type: int | None = None
    numpy: np.dtype | None = None  # None for block-quant types

    _by_name: ClassVar[dict[str, DType]] = {}
    _by_ggml: ClassVar[dict[int, DType]] = {}

    @property
    def is_quantized(self) -> bool:
        return self.kind == "quant"

    @property
    def is_floating(self) -> bool:
        return self.kind == "float"

    @property
    def itemsize(self) -> int:
        """Bytes per element; only defined for array dtypes."""
        if self.is_quantized:
            raise TypeError(f"{self.name} is block-quantized: use bytes_for(n_elements)")
        return self.type_size

    def bytes_for(self, n_elements: int) -> int:
        """Bytes that ``n_elements`` occupy; a partial block is an error."""
        if n_elements % self.block_size:
            raise ValueError(
                f"{n_elements} elements is not a whole number of {self.name} blocks "
                f"of {self.block_size}"
            )
        return n_elements // self.block_size * self.type_size

    @classmethod
    def register(cls, dtype: DType) -> DType:
        if dtype.name in cls._by_name:
            raise ValueError(f"dtype {dtype.name!r} is already registered")
        if dtype.ggml_type is not None:
            if dtype.ggml_type in cls._by_ggml:
                raise ValueError(f"GGML type id {dtype.ggml_type} is already registered")
            cls._by_ggml[dtype.ggml_type] = dtype
        cls._by_name[dtype.name] = dtype
        return dtype

    @classmethod
    def get(cls, name: str) -> DType:
        try:
            return cls._by_name[name.lower()]
        except KeyError:
            raise UnknownDType(f"unknown dtype {name!r}", dtype=name) from None

    @classmethod
    def from_ggml(cls, ggml_type: int) -> DType:
        try:
            return cls._by_ggml[ggml_type]
        except KeyError:
            raise UnknownDType(f"unknown GGML type id {ggml_type}", ggml_type=ggml_type) from None

    @classmethod
    def from_numpy(cls, dtype: np.dtype | type) -> DType:
        dt = np.dtype(dtype)
        for entry in cls._by_name.values():
            if entry.numpy is not None and entry.numpy == dt:
                return entry
        raise UnknownDType(f"no psionic dtype for numpy {dt}", dtype=str(dt))

    @classmethod
    def all(cls) -> list[DType]:
        return list(cls._by_name.values())


def _array(name: str, kind: str, np_dtype: type | np.dtype, ggml: int | None = None) -> DType:
    dt = np.dtype(np_dtype)
    return DType.register(DType(name, kind, 1, dt.itemsize, ggml, dt))


def _quant(name: str, block_size: int, type_size: int, ggml: int) -> DType:
    return DType.register(DType(name, "quant", block_size, type_size, ggml, None))


float64 = _array("f64", "float", np.float64, 28)
float32 = _array("f32", "float", np.float32, 0)
float16 = _array("f16", "float", np.float16, 1)
bfloat16 = _array("bf16", "float", ml_dtypes.bfloat16, 30)
float8_e4m3 = _array("f8_e4m3", "float", ml_dtypes.float8_e4m3fn)
float8_e5m2 = _array("f8_e5m2", "float", ml_dtypes.float8_e5m2)
int8 = _array("i8", "int", np.int8, 24)
int16 = _array("i16", "int", np.int16, 25)
int32 = _array("i32", "int", np.int32, 26)
int64 = _array("i64", "int", np.int64, 27)
uint8 = _array("u8", "uint", np.uint8)
uint32 = _array("u32", "uint", np.uint32)
bool_ = _array("bool", "bool", np.bool_)

# GGUF block-quant layouts: (block_size, bytes per block, GGML type id), as ggml defines them.
q4_0 = _quant("q4_0", 32, 18, 2)
q4_1 = _quant("q4_1", 32, 20, 3)
q5_0 = _quant("q5_0", 32, 22, 6)
q5_1 = _quant("q5_1", 32, 24, 7)
q8_0 = _quant("q8_0", 32, 34, 8)
q8_1 = _quant("q8_1", 32, 40, 9)
q2_k = _quant("q2_k", 256, 84, 10)
q3_k = _quant("q3_k", 256, 110, 11)
q4_k = _quant("q4_k", 256, 144, 12)
q5_k = _quant("q5_k", 256, 176, 13)
q6_k = _quant("q6_k", 256, 210, 14)
q8_k = _quant("q8_k", 256, 292, 15)
