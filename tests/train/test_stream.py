"""The row stream: every row once per epoch, a new seeded order each epoch, and a position that
restores the same continuation."""

from __future__ import annotations

import pytest

from psionic.core.errors import InvalidInput
from psionic.train.stream import RowStream


def test_epochs_cover_every_row_in_fresh_orders() -> None:
    s = RowStream(list(range(10)), seed=4)
    first, second = list(s.take(10)), list(s.take(10))
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    assert list(RowStream(list(range(10)), seed=4, shuffle=False).take(3)) == [0, 1, 2]


def test_restore_continues_the_same_sequence() -> None:
    a = RowStream(list(range(7)), seed=1)
    list(a.take(9))
    b = RowStream(list(range(7)), seed=1)
    b.restore(a.state())
    assert list(a.take(12)) == list(b.take(12))
    with pytest.raises(InvalidInput, match="7 rows with seed 1"):
        RowStream(list(range(8)), seed=1).restore(a.state())
    with pytest.raises(InvalidInput, match="empty"):
        RowStream([], seed=0)
