"""The backward product through a frozen quantized weight: the same values from the decoded-weights
cache and from block-by-block decoding (both against a float64 reference), and the cache's budget."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.array import decoded_cache, numpy_prims
from psionic.array.decoded_cache import DecodedCache
from psionic.backends.quant_matrix import QuantMatrix
from psionic.backends.reference import dequantize
from psionic.core.dtypes import DType
from psionic.models.gguf_writer import quantize


def _weight(rows: int, cols: int, seed: int = 0) -> QuantMatrix:
    w = np.random.default_rng(seed).standard_normal((rows, cols)).astype(np.float32)
    raw = quantize(w, "q8_0")
    return QuantMatrix.from_array(DType.get("q8_0"), raw.data)


@pytest.mark.parametrize("budget_mb", [64, 0])  # cached whole / decoded a block at a time
def test_transpose_product_matches_reference(monkeypatch: pytest.MonkeyPatch, budget_mb: int) -> None:
    monkeypatch.setattr(decoded_cache, "DECODED", DecodedCache(budget_mb << 20))
    monkeypatch.setattr(numpy_prims, "QUANT_BLOCK_ELEMENTS", 64 * 32)  # several blocks at this size
    w = _weight(1000, 64)
    g = np.random.default_rng(1).standard_normal((2, 7, 1000)).astype(np.float32)
    got = numpy_prims._quant_matmul_t(g, w)
    want = g.astype(np.float64) @ dequantize(w).astype(np.float64)
    assert got.shape == (2, 7, 64) and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    assert (len(decoded_cache.DECODED.entries) == 1) == (budget_mb > 0)


def test_cache_keeps_within_its_budget_least_recent_out() -> None:
    a, b, c = _weight(64, 64, 0), _weight(64, 64, 1), _weight(64, 64, 2)
    cache = DecodedCache(budget_bytes=2 * 64 * 64 * 4)
    first = cache.get(a)
    assert cache.get(a) is first and not first.flags.writeable
    np.testing.assert_array_equal(first, dequantize(a))
    cache.get(b)
    cache.get(a)  # a is now the most recent
    cache.get(c)  # evicts b
    assert set(cache.entries) == {id(a), id(c)} and cache.nbytes == 2 * 64 * 64 * 4
    assert not DecodedCache(budget_bytes=100).fits(a)
    cache.clear()
    assert cache.nbytes == 0 and not cache.entries
