"""Random weight matrices in every format the kernels decode, shared by the backend tests."""

from __future__ import annotations

import numpy as np

from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.dtypes import DType

FORMATS = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k")

# Byte offsets of the f16 scale fields in each block; random bytes elsewhere are all valid.
SCALE_FIELDS = {
    "q8_0": (0,), "q4_0": (0,), "q4_1": (0, 2), "q5_0": (0,), "q5_1": (0, 2),
    "q4_k": (0, 2), "q5_k": (0, 2), "q6_k": (208,),
}


def random_blocks(dtype: DType, n_blocks: int, rng: np.random.Generator) -> np.ndarray:
    """Random ``(n_blocks, type_size)`` bytes whose f16 scales are finite and moderate."""
    blocks = rng.integers(0, 256, (n_blocks, dtype.type_size), dtype=np.uint8)
    for at in SCALE_FIELDS.get(dtype.name, ()):
        scale = rng.uniform(-0.02, 0.02, n_blocks).astype("<f2")
        blocks[:, at : at + 2] = scale.view(np.uint8).reshape(n_blocks, 2)
    return blocks


def random_matrix(name: str, rows: int, cols: int, rng: np.random.Generator) -> QuantMatrix:
    dtype = DType.get(name)
    if not dtype.is_quantized:
        values = rng.standard_normal((rows, cols)).astype(np.float32)
        return QuantMatrix.from_array(dtype, values.astype(dtype.numpy))
    blocks = random_blocks(dtype, rows * cols // dtype.block_size, rng)
    return QuantMatrix.from_array(dtype, blocks.reshape(rows, -1))
