"""The memory plan: which arena slot holds each computed value, reusing slots whose values died.

Views (reshape, permute, expand, getitem) own no memory: they alias their
source, whose slot then stays alive until the last use of any view of it.
Graph outputs live to the end. A slot is reused only by a value that fits
its size after growing it at most to the largest value it holds.

>>> plan = plan_memory([(0, (), 16, False), (1, (0,), 16, False), (2, (1,), 16, False)], outputs={2})
>>> plan.slot_of, plan.peak_bytes, plan.naive_bytes
({0: 0, 1: 1, 2: 0}, 32, 48)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    slot_of: dict[int, int]  # value id -> slot
    slot_bytes: tuple[int, ...]
    alias_of: dict[int, int]  # view value id -> value id owning its memory
    naive_bytes: int  # what one fresh buffer per value would take

    @property
    def peak_bytes(self) -> int:
        return sum(self.slot_bytes)


# (value id, ids it reads, bytes, is_view), in execution order
StepUse = tuple[int, tuple[int, ...], int, bool]


def plan_memory(steps: Sequence[StepUse], outputs: set[int]) -> MemoryPlan:
    owner: dict[int, int] = {}
    for vid, reads, _, is_view in steps:
        if is_view and reads:
            owner[vid] = owner.get(reads[0], reads[0])
    last_use: dict[int, float] = {}
    for at, (_, reads, _, _) in enumerate(steps):
        for r in reads:
            root = owner.get(r, r)
            last_use[root] = max(last_use.get(root, -1), at)
    for o in outputs:
        last_use[owner.get(o, o)] = float("inf")
    slot_of: dict[int, int] = {}
    slot_bytes: list[int] = []
    free: list[int] = []
    live: list[tuple[float, int]] = []  # (last use, slot)
    naive = 0
    for at, (vid, _, nbytes, is_view) in enumerate(steps):
        still = []
        for end, slot in live:
            if end < at:
                free.append(slot)
            else:
                still.append((end, slot))
        live = still
        if is_view:
            continue
        naive += nbytes
        fits = sorted((s for s in free if slot_bytes[s] >= nbytes), key=lambda s: slot_bytes[s])
        if fits:
            slot = fits[0]
        elif free:
            slot = max(free, key=lambda s: slot_bytes[s])
            slot_bytes[slot] = nbytes
        else:
            slot = len(slot_bytes)
            slot_bytes.append(nbytes)
        if slot in free:
            free.remove(slot)
        slot_of[vid] = slot
        live.append((last_use.get(vid, at), slot))
    return MemoryPlan(slot_of, tuple(slot_bytes), owner, naive)
