"""The cpu backend's work splitting (psionic.array.cpu_parallel): same values as numpy, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.array import numpy_prims as P
from psionic.array.cpu_parallel import blas_ready


@pytest.fixture
def two_threads():  # type: ignore[no-untyped-def]
    before = P.THREADS.count
    P.set_num_threads(2)
    yield
    P.set_num_threads(before)


@pytest.mark.parametrize(
    ("sa", "sb"),
    [((256, 128), (128, 192)), ((4, 64, 128), (4, 128, 64)), ((6, 64, 128), (128, 96)),
     ((3, 4, 64, 64), (3, 4, 64, 64))],
)
def test_split_matmul_matches_numpy_and_repeats_exactly(two_threads, sa, sb) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa).astype(np.float32), rng.standard_normal(sb).astype(np.float32)
    out = P.PRIMS["matmul"](a, b)
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(out, P.PRIMS["matmul"](a, b))
    buf = np.empty_like(out)
    assert P.PRIMS["matmul"](a, b, out=buf) is buf
    np.testing.assert_array_equal(buf, out)


def test_strided_operands_are_made_blas_ready() -> None:
    x = np.random.default_rng(1).standard_normal((2, 8, 3, 4)).astype(np.float32)
    view = x.transpose(0, 2, 1, 3)  # rows strided across heads
    assert blas_ready(view).flags.c_contiguous
    assert blas_ready(view[0, 0].T) is not None
    np.testing.assert_allclose(P.PRIMS["matmul"](view, view.swapaxes(-1, -2)),
                               np.matmul(view, view.swapaxes(-1, -2)), rtol=1e-5, atol=1e-5)


def test_quantized_transpose_product_splits_and_matches_the_dense_product(two_threads, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``g @ W`` for a Q8_0 weight decoded block by block (no decoded-weights cache), split over threads."""
    from psionic.array import decoded_cache
    from psionic.backends.quant_matrix import QuantMatrix
    from psionic.backends.reference import dequantize
    from psionic.core.dtypes import DType

    monkeypatch.setattr(decoded_cache, "DECODED", decoded_cache.DecodedCache(0))
    monkeypatch.setattr(P, "QUANT_BLOCK_ELEMENTS", 64 * 256)
    rows = 256 * 2 + 37
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 255, (rows, 34 * 2), dtype=np.uint8)
    blocks[:, 0:2] = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)
    blocks[:, 34:36] = np.frombuffer(np.float16(0.02).tobytes(), np.uint8)
    w = QuantMatrix.from_array(DType.get("q8_0"), blocks)
    g = rng.standard_normal((2, 48, rows)).astype(np.float32)
    out = P.PRIMS["quant_matmul_t"](g, w)
    assert out.shape == (2, 48, 64)
    np.testing.assert_allclose(out, g @ dequantize(w), rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(out, P.PRIMS["quant_matmul_t"](g, w))
