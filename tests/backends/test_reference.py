from __future__ import annotations

import gguf
import numpy as np
import pytest
from backend_samples import FORMATS, random_blocks

from psionic.backends.quant_matrix import QuantMatrix
from psionic.backends.reference import (
    dequantize,
    dequantize_blocks,
    reference_formats,
    reference_matmul,
    register_dequantizer,
)
from psionic.core.dtypes import DType
from psionic.core.errors import TensorShapeMismatch, UnsupportedQuantType


def test_every_kernel_format_has_a_reference() -> None:
    assert set(FORMATS) <= set(reference_formats())


@pytest.mark.parametrize("name", FORMATS)
def test_reference_equals_gguf_on_random_blocks(name: str, rng: np.random.Generator) -> None:
    dtype = DType.get(name)
    blocks = random_blocks(dtype, 97, rng)
    ours = dequantize_blocks(dtype, blocks)
    qtype = gguf.GGMLQuantizationType(dtype.ggml_type)
    if name == "bf16":
        theirs = gguf.quants.dequantize(blocks, qtype)
    else:
        theirs = gguf.quants.dequantize(blocks.reshape(-1), qtype)
    theirs = np.asarray(theirs, np.float32).reshape(ours.shape)
    assert ours.dtype == np.float32 and ours.shape == (97, dtype.block_size)
    np.testing.assert_array_equal(ours.view(np.uint32), theirs.view(np.uint32))


def test_a_known_q4_1_block() -> None:
    block = np.zeros((1, 20), np.uint8)
    block[0, 0:2] = np.frombuffer(np.float16(0.5).tobytes(), np.uint8)
    block[0, 2:4] = np.frombuffer(np.float16(-1.0).tobytes(), np.uint8)
    block[0, 4] = 0x3A  # element 0 = 0xA, element 16 = 0x3
    values = dequantize_blocks(DType.get("q4_1"), block)[0]
    assert values[0] == 0.5 * 10 - 1 and values[16] == 0.5 * 3 - 1 and values[1] == -1.0


def test_matrix_dequantize_and_matmul(rng: np.random.Generator) -> None:
    dtype = DType.get("q8_0")
    w = QuantMatrix.from_array(dtype, random_blocks(dtype, 6, rng).reshape(3, -1))
    dense = dequantize(w)
    assert dense.shape == (3, 64)
    x = rng.standard_normal((2, 64))
    np.testing.assert_allclose(reference_matmul(x, w), x @ dense.astype(np.float64).T)


def test_refusals() -> None:
    with pytest.raises(UnsupportedQuantType) as err:
        dequantize_blocks(DType.get("q2_k"), np.zeros((1, 84), np.uint8))
    assert err.value.details["dtype"] == "q2_k"
    with pytest.raises(TensorShapeMismatch):
        dequantize_blocks(DType.get("q8_0"), np.zeros((1, 33), np.uint8))
    with pytest.raises(ValueError):
        register_dequantizer("q8_0")(lambda b: b)
