"""The torch backend's GGUF decoders and quantized products, against gguf's reference dequantization.

Decoded values must be bit-equal to ``gguf.quants.dequantize`` (the same
float32 operations in the same order). Products agree with a float64 product
over the reference weights to rtol 1e-4 in float32; in bf16 the operands are
rounded to 8 significant bits, so the bound is a relative Frobenius error of
2e-2 (f16: 5e-3).
"""

from __future__ import annotations

from collections.abc import Callable

import gguf
import numpy as np
import pytest
from backend_samples import FORMATS, random_blocks

from psionic.backends import get_backend
from psionic.backends.quant_matrix import QuantMatrix
from psionic.backends.reference import dequantize, reference_matmul
from psionic.core.dtypes import DType
from psionic.core.errors import UnsupportedOperation, UnsupportedQuantType

torch = pytest.importorskip("torch")

from psionic.backends import torch_backend as TB  # noqa: E402
from psionic.backends import torch_quant as Q  # noqa: E402

MakeMatrix = Callable[[str, int, int], QuantMatrix]


def test_the_torch_backend_declares_every_format_the_cpu_backend_decodes() -> None:
    assert get_backend("torch").matmul_dtypes == get_backend("cpu").matmul_dtypes
    assert set(Q.DECODERS) == set(get_backend("torch").matmul_dtypes) == set(FORMATS)


@pytest.mark.parametrize("name", FORMATS)
def test_decoded_blocks_equal_gguf_bit_for_bit(name: str, rng: np.random.Generator) -> None:
    dtype = DType.get(name)
    blocks = random_blocks(dtype, 97, rng)
    if not dtype.is_quantized:  # float formats: any finite values
        values = rng.standard_normal(97).astype(dtype.numpy)
        blocks = values.view(np.uint8).reshape(97, dtype.type_size)
    ours = Q.to_numpy(Q.decode_blocks(name, Q.asarray(blocks, None)))
    qtype = gguf.GGMLQuantizationType(dtype.ggml_type)
    flat = blocks if name == "bf16" else blocks.reshape(-1)
    theirs = np.asarray(gguf.quants.dequantize(flat, qtype), np.float32).reshape(ours.shape)
    assert ours.dtype == np.float32 and ours.shape == (97, dtype.block_size)
    np.testing.assert_array_equal(ours.view(np.uint32), theirs.view(np.uint32))


@pytest.mark.parametrize("name", FORMATS)
def test_products_and_row_lookup_match_the_reference(name: str, make_matrix: MakeMatrix,
                                                     rng: np.random.Generator) -> None:
    w = make_matrix(name, 48, 512)
    x = rng.standard_normal((3, 5, 512)).astype(np.float32)
    g = rng.standard_normal((7, 48)).astype(np.float32)
    dense = dequantize(w).astype(np.float64)
    got = Q.to_numpy(Q.quant_matmul(Q.asarray(x, None), w))
    assert got.shape == (3, 5, 48)
    np.testing.assert_allclose(got.reshape(15, 48), reference_matmul(x.reshape(15, 512), w),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(Q.to_numpy(Q.quant_matmul_t(Q.asarray(g, None), w)), g @ dense,
                               rtol=1e-4, atol=1e-4)
    ids = np.array([[3, 0], [47, 3]], np.int64)
    rows = Q.to_numpy(Q.quant_rows(Q.asarray(ids, None), w))
    np.testing.assert_array_equal(rows, dequantize(w)[ids])


def test_products_split_into_row_chunks_sum_the_same(monkeypatch: pytest.MonkeyPatch,
                                                    make_matrix: MakeMatrix,
                                                    rng: np.random.Generator) -> None:
    w = make_matrix("q4_k", 40, 256)
    x = Q.asarray(rng.standard_normal((4, 256)).astype(np.float32), None)
    g = Q.asarray(rng.standard_normal((4, 40)).astype(np.float32), None)
    whole = Q.to_numpy(Q.quant_matmul(x, w)), Q.to_numpy(Q.quant_matmul_t(g, w))
    monkeypatch.setattr(Q, "ROWS_PER_CHUNK", 16)  # three chunks: 16, 16, 8
    chunked = Q.to_numpy(Q.quant_matmul(x, w)), Q.to_numpy(Q.quant_matmul_t(g, w))
    np.testing.assert_array_equal(chunked[0], whole[0])
    np.testing.assert_allclose(chunked[1], whole[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("precision", "bound"), [("bf16", 2e-2), ("f16", 5e-3)])
def test_autocast_products_round_operands_and_return_float32(precision: str, bound: float,
                                                             make_matrix: MakeMatrix,
                                                             rng: np.random.Generator) -> None:
    w = make_matrix("q6_k", 32, 256)
    x = rng.standard_normal((6, 256)).astype(np.float32)
    exact = reference_matmul(x, w)
    with TB.autocast(precision):
        got = Q.quant_matmul(Q.asarray(x, None), w, TB.compute_dtype())
        plain = TB.array_prims()["matmul"](Q.asarray(x, None), Q.asarray(x.T.copy(), None))
    assert got.dtype == torch.float32 and plain.dtype == torch.float32
    error = np.linalg.norm(Q.to_numpy(got) - exact) / np.linalg.norm(exact)
    assert 1e-6 < error < bound  # rounded (so not float32), yet close
    assert TB.compute_dtype() is None  # the block ended


def test_autocast_refuses_an_unknown_precision() -> None:
    with pytest.raises(UnsupportedOperation, match="f8"), TB.autocast("f8"):
        pass


def test_the_packed_bytes_are_shared_not_decoded_at_upload(make_matrix: MakeMatrix) -> None:
    w = make_matrix("q4_0", 64, 256)
    packed = Q.PACKED.get(w)
    assert packed.dtype == torch.uint8 and tuple(packed.shape) == w.data.shape
    assert Q.PACKED.get(w) is packed
    if packed.device.type == "cpu":
        assert packed.data_ptr() == w.data.ctypes.data  # a view, nothing copied


def test_an_unsupported_format_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedQuantType, match="q2_k"):
        Q.decode_blocks("q2_k", Q.asarray(np.zeros((1, 84), np.uint8), None))
