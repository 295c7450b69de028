"""Joining packed rows into one micro-batch sequence keeps every example and padding apart."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import InvalidInput
from psionic.data.packing import PackedRow, join_rows, pack
from psionic.data.tokenize import TokenizedExample


def _examples() -> list[TokenizedExample]:
    return [TokenizedExample(np.arange(n, dtype=np.int32) + 10 * i, np.r_[False, np.ones(n - 1, bool)],
                             "d", i, f"ex{i}") for i, n in enumerate((3, 4, 2, 3))]


def test_joined_rows_keep_examples_padding_and_targets_apart() -> None:
    rows = pack(_examples(), length=7, pad_id=0)
    assert len(rows) == 2 and rows[1].starts == (0, 2, 5)  # the second row ends in padding
    joined = join_rows(rows)
    assert joined.ids.tolist() == [r for row in rows for r in row.ids.tolist()]
    assert joined.records == ("ex0", "ex1", "ex2", "ex3")
    # Documents: each example and each row's padding on its own, numbered through the rows.
    expect = np.concatenate([row.documents + offset for row, offset in
                             zip(rows, np.cumsum([0] + [r.documents.max() + 1 for r in rows[:-1]]),
                                 strict=True)])
    assert joined.documents.tolist() == expect.tolist()
    assert joined.loss_tokens == sum(r.loss_tokens for r in rows)
    assert joined.starts == (0, 3, 7, 9, 12)
    assert not joined.mask[[0, 7]].any()  # nothing in one row predicts the next row's first token


def test_a_row_whose_first_token_is_a_target_loses_only_that_cross_row_target() -> None:
    a = PackedRow(np.arange(4, dtype=np.int32), np.ones(4, bool), ("a",))
    joined = join_rows([a, a])
    assert joined.mask.tolist() == [False, True, True, True, False, True, True, True]
    assert join_rows([a]) is a
    with pytest.raises(InvalidInput):
        join_rows([])
