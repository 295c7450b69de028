"""The session's sparse products equal the dense ones and the term-by-term reference."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.tassadar.executor.model import Model, _LayerPlan
from psionic.tassadar.executor.sparse_rows import SparseRows, times_reference


@pytest.mark.parametrize("shape", [(0, 0), (3, 0), (0, 4), (1, 1), (7, 5), (40, 33)])
def test_products_equal_the_reference(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    dense = rng.integers(-9, 10, size=shape) * (rng.random(shape) < 0.2)
    dense = dense.astype(np.float64)
    if shape[0] > 2:
        dense[1] = 0.0  # an empty row
    x = rng.integers(-1000, 1000, size=shape[1]).astype(np.float64)
    m = SparseRows.of(dense)
    assert m.entries == int(np.count_nonzero(dense))
    assert m.times(x).tolist() == times_reference(dense, x).tolist() == (dense @ x).tolist()


def test_every_executor_matrix_keeps_its_entries() -> None:
    rng = np.random.default_rng(0)
    for lw in Model.load().layers:
        p = _LayerPlan.of(lw)
        for dense in (p.w_qkv, p.w_o, p.w_gv, p.w_out):
            m = SparseRows.of(dense)
            assert m.shape == dense.shape and m.entries == int(np.count_nonzero(dense))
            x = rng.integers(-50, 50, size=dense.shape[1]).astype(np.float64)
            assert m.times(x).tolist() == (dense @ x).tolist()
