from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.dtypes import DType
from psionic.core.errors import TensorShapeMismatch, UnsupportedQuantType


def test_packed_bytes_are_wrapped_without_copying() -> None:
    raw = np.zeros((3, 2 * 20), np.uint8)
    w = QuantMatrix.from_array(DType.get("q4_1"), raw)
    assert w.shape == (3, 64) and w.row_bytes == 40 and w.nbytes == 120
    assert np.shares_memory(w.data, raw)
    assert not w.data.flags.writeable and raw.flags.writeable


@pytest.mark.parametrize(("name", "np_dtype"), [
    ("f32", np.float32), ("f16", np.float16), ("bf16", ml_dtypes.bfloat16),
])
def test_float_arrays_are_viewed_as_bytes(name: str, np_dtype: type) -> None:
    values = np.arange(32, dtype=np.float32).reshape(2, 16).astype(np_dtype)
    w = QuantMatrix.from_array(DType.get(name), values)
    assert w.shape == (2, 16) and w.data.dtype == np.uint8
    assert np.shares_memory(w.data, values)


def test_memory_mapped_rows(tmp_path) -> None:
    path = tmp_path / "w.bin"
    np.zeros((4, 34), np.uint8).tofile(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r", shape=(4, 34))
    w = QuantMatrix.from_array(DType.get("q8_0"), mm)
    assert w.shape == (4, 32) and np.shares_memory(w.data, mm)


def test_malformed_matrices_are_refused() -> None:
    q8 = DType.get("q8_0")
    with pytest.raises(TensorShapeMismatch):
        QuantMatrix.from_array(q8, np.zeros((2, 35), np.uint8))  # not whole blocks
    with pytest.raises(TensorShapeMismatch):
        QuantMatrix(q8, (2, 64), np.zeros((2, 34), np.uint8))  # bytes disagree with shape
    with pytest.raises(TensorShapeMismatch):
        QuantMatrix(q8, (2, 48), np.zeros((2, 51), np.uint8))  # partial block
    with pytest.raises(TensorShapeMismatch):
        QuantMatrix.from_array(q8, np.zeros((2, 68), np.uint8)[:, ::2])  # not contiguous
    with pytest.raises(TensorShapeMismatch):
        QuantMatrix.from_array(DType.get("f16"), np.zeros((2, 16), np.float32))
    with pytest.raises(TensorShapeMismatch):
        QuantMatrix.from_array(q8, np.zeros(34, np.uint8))
    with pytest.raises(UnsupportedQuantType):
        QuantMatrix(DType.get("i32"), (1, 4), np.zeros((1, 16), np.uint8))
