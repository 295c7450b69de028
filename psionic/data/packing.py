"""Packing tokenized examples into fixed-length rows.

Examples are laid end to end in their given order; one that does not fit in
what is left of a row starts the next row (an example is never cut), and the
rest of a row is padding with no loss. An example longer than a row is an
error naming it.

>>> import numpy as np
>>> from psionic.data.tokenize import TokenizedExample
>>> ex = [TokenizedExample(np.arange(3, dtype=np.int32), np.array([0, 1, 1], bool), "d", i, str(i))
...       for i in range(3)]
>>> [r.ids.tolist() for r in pack(ex, length=7, pad_id=9)]
[[0, 1, 2, 0, 1, 2, 9], [0, 1, 2, 9, 9, 9, 9]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from psionic.core.digest import digest_bytes
from psionic.core.errors import InvalidInput
from psionic.data.errors import ExampleTooLong
from psionic.data.tokenize import TokenizedExample


@dataclass(frozen=True, slots=True)
class PackedRow:
    ids: np.ndarray  # (L,) int32
    mask: np.ndarray  # (L,) bool: token t is a target
    records: tuple[str, ...]  # the content digests of the examples in the row, in order
    starts: tuple[int, ...] = (0,)  # where each example begins; the padding after the last is one more

    @property
    def digest(self) -> str:
        """The row's identity: its tokens, its mask and where its examples begin."""
        return digest_bytes(self.ids.astype("<i4").tobytes() + self.mask.astype(np.uint8).tobytes()
                            + np.asarray(self.starts, "<i4").tobytes())

    @property
    def documents(self) -> np.ndarray:
        """(L,) the index of the example each token belongs to: attention stays within one example."""
        doc = np.zeros(len(self.ids), np.int64)
        for begin in self.starts[1:]:
            doc[begin:] += 1
        return doc

    @property
    def loss_tokens(self) -> int:
        return int(self.mask.sum())


def join_rows(rows: Sequence[PackedRow]) -> PackedRow:
    """Rows end to end as one row whose examples stay apart (a micro-batch in one sequence).

    Each row's padding stays its own document, and a row's first token is never a
    target (nothing before it in its own row predicts it), so the joined row's loss
    is the sum of the rows' losses.
    """
    if not rows:
        raise InvalidInput("no rows to join")
    if len(rows) == 1:
        return rows[0]
    offsets = np.cumsum([0] + [len(r.ids) for r in rows[:-1]])
    mask = np.concatenate([r.mask for r in rows])
    mask[offsets] = False
    starts = [int(o) + s for o, r in zip(offsets, rows, strict=True) for s in r.starts]
    return PackedRow(np.concatenate([r.ids for r in rows]), mask,
                     tuple(d for r in rows for d in r.records), tuple(starts))


def pack(examples: Sequence[TokenizedExample], length: int, pad_id: int) -> list[PackedRow]:
    if length < 2:
        raise InvalidInput(f"a packed row needs at least 2 tokens, got {length}")
    rows: list[PackedRow] = []
    ids = np.full(length, pad_id, np.int32)
    mask = np.zeros(length, np.bool_)
    used = 0
    members: list[str] = []
    starts: list[int] = []

    def close() -> None:
        padding = [used] if used < length else []
        rows.append(PackedRow(ids.copy(), mask.copy(), tuple(members), tuple(starts + padding)))

    for ex in examples:
        n = len(ex)
        if n > length:
            raise ExampleTooLong(
                f"{ex.source}:{ex.line}: {n} tokens do not fit in a row of {length}",
                file=ex.source, line=ex.line, tokens=n, row_length=length,
            )
        if used + n > length:
            close()
            ids[:], mask[:] = pad_id, False
            used, members, starts = 0, [], []
        starts.append(used)
        ids[used:used + n] = ex.ids
        mask[used:used + n] = ex.mask
        used += n
        members.append(ex.digest)
    if members:
        close()
    return rows
