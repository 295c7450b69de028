"""A preallocated pool of fixed-size KV blocks with a free list and a prefix cache.

Blocks are reference-counted. A block whose count drops to zero goes to the
back of the free queue but keeps its contents and its hash, so a later request
with the same prefix can take it back (a prefix-cache hit); allocation takes
from the front, evicting the least recently freed cached block first.

Block hashes chain: hash(parent hash, namespace, the block's token ids), where
the namespace binds the model digest and adapter, so a hit implies the same
model, the same adapter and the same tokens at the same positions.

>>> pool = BlockPool(num_blocks=4, block_size=2)
>>> a = pool.allocate(); pool.num_free
3
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np


def block_hash(parent: bytes | None, namespace: bytes, tokens: Sequence[int]) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(parent or b"\0" * 16)
    h.update(namespace)
    h.update(np.asarray(tokens, dtype=np.int64).tobytes())
    return h.digest()


def chain_hashes(namespace: bytes, tokens: Sequence[int], block_size: int) -> list[bytes]:
    """Hashes of every full block of ``tokens``."""
    hashes: list[bytes] = []
    parent: bytes | None = None
    for start in range(0, len(tokens) - block_size + 1, block_size):
        parent = block_hash(parent, namespace, tokens[start : start + block_size])
        hashes.append(parent)
    return hashes


class BlockPool:
    """Block ids 0..num_blocks-1, their reference counts, and the prefix cache index."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        if num_blocks < 1 or block_size < 1:
            raise ValueError("a block pool needs at least one block of at least one token")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.ref_counts = [0] * num_blocks
        self.hashes: list[bytes | None] = [None] * num_blocks
        self.cached: dict[bytes, int] = {}
        # Zero-reference blocks in eviction order (front = evicted first).
        self.free: OrderedDict[int, None] = OrderedDict((i, None) for i in range(num_blocks))
        self.hits = 0
        self.queries = 0

    @property
    def num_free(self) -> int:
        return len(self.free)

    @property
    def num_used(self) -> int:
        return self.num_blocks - len(self.free)

    def allocate(self) -> int:
        """A block with reference count 1; raises ``MemoryError`` when none is free."""
        if not self.free:
            raise MemoryError("no free KV blocks")
        block, _ = self.free.popitem(last=False)
        old = self.hashes[block]
        if old is not None:
            del self.cached[old]
            self.hashes[block] = None
        self.ref_counts[block] = 1
        return block

    def release(self, blocks: Sequence[int]) -> None:
        """Drop one reference to each block; tail blocks first, so they are evicted first."""
        for block in reversed(blocks):
            self.ref_counts[block] -= 1
            if self.ref_counts[block] < 0:
                raise RuntimeError(f"block {block} released more often than taken")
            if self.ref_counts[block] == 0:
                self.free[block] = None

    def register(self, block: int, digest: bytes) -> None:
        """Record that ``block`` holds the full block whose chained hash is ``digest``."""
        if digest in self.cached or self.hashes[block] is not None:
            return  # the same content is cached already, or this block is already indexed
        self.hashes[block] = digest
        self.cached[digest] = block

    def take_cached(self, hashes: Sequence[bytes]) -> list[int]:
        """The longest cached run of ``hashes`` from the start, each block taken once more."""
        found: list[int] = []
        for digest in hashes:
            self.queries += 1
            block = self.cached.get(digest)
            if block is None:
                break
            self.hits += 1
            if self.ref_counts[block] == 0:
                del self.free[block]
            self.ref_counts[block] += 1
            found.append(block)
        return found

    def hit_rate(self) -> float:
        return self.hits / self.queries if self.queries else 0.0
