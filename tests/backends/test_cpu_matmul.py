"""CPU matmul and get_rows: exact weights, accurate products, bit-exact batch invariance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from backend_samples import FORMATS

from psionic.backends.cpu.launch import SERIAL_MACS
from psionic.backends.cpu.matmul import (
    SMALL_M,
    TILE_M,
    TILE_N,
    get_rows,
    matmul,
)
from psionic.backends.cpu.threads import get_num_threads, max_threads, set_num_threads
from psionic.backends.quant_matrix import QuantMatrix
from psionic.backends.reference import dequantize, reference_matmul
from psionic.core.dtypes import DType
from psionic.core.errors import TensorShapeMismatch, UnsupportedOperation, UnsupportedQuantType

MakeMatrix = Callable[[str, int, int], QuantMatrix]
# 38 weight rows: not a multiple of TILE_N, so tiles and leftovers both run.
N_ROWS, K_COLS = 38, 512


# Formats whose decoders fuse ``d * q + m`` into one rounding (see formats.py).
FUSED_OFFSET = ("q4_1", "q5_1", "q4_k", "q5_k")


@pytest.mark.parametrize("name", FORMATS)
def test_get_rows_equals_the_reference_dequantization(name: str, make_matrix: MakeMatrix) -> None:
    w = make_matrix(name, N_ROWS, K_COLS)
    ids = [5, 0, 37, 5]
    got = get_rows(w, np.array(ids))
    want = dequantize(w)[ids]
    if name not in FUSED_OFFSET:
        # the same values (q4_0's fused form may give +0.0 where the reference has -0.0)
        np.testing.assert_array_equal(got, want)
    else:
        # one rounding instead of two: within an ulp of the larger of the two terms
        ulp = np.spacing(np.maximum(np.abs(want), np.abs(got)) + np.float32(1e-30)) * 4
        assert np.all(np.abs(got - want) <= ulp)
        assert np.mean(got == want) > 0.5


@pytest.mark.parametrize("name", FORMATS)
def test_matmul_is_accurate(name: str, make_matrix: MakeMatrix, rng: np.random.Generator) -> None:
    w = make_matrix(name, N_ROWS, K_COLS)
    for m in (1, 7):  # the row-at-a-time path and the tiled path
        x = rng.standard_normal((m, K_COLS)).astype(np.float32)
        got = matmul(x, w).astype(np.float64)
        want = reference_matmul(x, w)
        # float32 accumulation of K products: a few ulps of the row's magnitude.
        bound = 1e-5 * np.abs(x).astype(np.float64) @ np.abs(dequantize(w)).astype(np.float64).T
        assert np.all(np.abs(got - want) <= bound), name


@pytest.mark.parametrize("name", FORMATS)
def test_batch_invariance_is_bit_exact(
    name: str, make_matrix: MakeMatrix, rng: np.random.Generator
) -> None:
    w = make_matrix(name, N_ROWS, K_COLS)
    x = rng.standard_normal((512, K_COLS)).astype(np.float32)
    alone = np.concatenate([matmul(x[i : i + 1], w) for i in range(0, 512, 37)])
    for m in (1, 3, 16, 64, 512):
        perm = rng.permutation(512)[:m]
        batch = matmul(x[perm], w)
        for pos, row in enumerate(perm):
            if row % 37 == 0:
                np.testing.assert_array_equal(batch[pos], alone[row // 37])
        # any two orderings of the same rows agree row for row
        back = np.empty_like(batch)
        shuffled = rng.permutation(m)
        back[shuffled] = matmul(x[perm][shuffled], w)
        np.testing.assert_array_equal(back.view(np.uint32), batch.view(np.uint32))


def test_paths_cover_tiles_leftovers_and_serial_launches() -> None:
    assert SMALL_M <= 16 and TILE_M == 4 and TILE_N == 4 and N_ROWS % TILE_N
    # the invariance test above runs single-threaded small jobs and threaded large ones
    assert N_ROWS * K_COLS < SERIAL_MACS <= 16 * N_ROWS * K_COLS


@pytest.mark.skipif(max_threads() < 2, reason="needs a pool of two threads")
def test_thread_count_does_not_change_bits(make_matrix: MakeMatrix, rng: np.random.Generator) -> None:
    w = make_matrix("q4_1", N_ROWS, K_COLS)
    x = rng.standard_normal((21, K_COLS)).astype(np.float32)
    before = get_num_threads()
    try:
        set_num_threads(1)
        one = (matmul(x, w), matmul(x[:1], w), get_rows(w, [1, 2]))
        set_num_threads(2)
        two = (matmul(x, w), matmul(x[:1], w), get_rows(w, [1, 2]))
    finally:
        set_num_threads(before)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_read_only_weights_and_inputs(make_matrix: MakeMatrix, rng: np.random.Generator) -> None:
    w = make_matrix("q4_k", 12, 256)
    frozen = w.data.copy()
    frozen.flags.writeable = False  # as a memory-mapped model file is
    ro = QuantMatrix.from_array(w.dtype, frozen)
    x = rng.standard_normal((2, 256)).astype(np.float32)
    x.flags.writeable = False
    for _ in range(2):  # first call compiles and remembers the entry point, second uses it
        np.testing.assert_array_equal(matmul(x, ro), matmul(x.copy(), w))
        np.testing.assert_array_equal(get_rows(ro, [3]), get_rows(w, [3]))


def test_out_argument_and_empty_inputs(make_matrix: MakeMatrix) -> None:
    w = make_matrix("q8_0", 8, 64)
    x = np.ones((2, 64), np.float32)
    out = np.zeros((2, 8), np.float32)
    assert matmul(x, w, out=out) is out
    assert matmul(np.zeros((0, 64), np.float32), w).shape == (0, 8)
    assert get_rows(w, []).shape == (0, 64)


def test_bad_shapes_and_formats_are_refused(make_matrix: MakeMatrix) -> None:
    w = make_matrix("q4_0", 8, 64)
    with pytest.raises(TensorShapeMismatch):
        matmul(np.ones((2, 32), np.float32), w)
    with pytest.raises(TensorShapeMismatch):
        matmul(np.ones((2, 64), np.float32), w, out=np.zeros((2, 9), np.float32))
    with pytest.raises(TensorShapeMismatch):
        get_rows(w, [8])
    q2 = DType.get("q2_k")
    with pytest.raises(UnsupportedQuantType) as err:
        matmul(np.ones((1, 256), np.float32), QuantMatrix(q2, (1, 256), np.zeros((1, 84), np.uint8)))
    assert err.value.details["dtype"] == "q2_k"
    odd = QuantMatrix.from_array(DType.get("f32"), np.ones((2, 24), np.float32))
    with pytest.raises(UnsupportedOperation):
        matmul(np.ones((1, 24), np.float32), odd)
