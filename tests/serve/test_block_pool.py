from __future__ import annotations

import pytest

from psionic.serve.block_pool import BlockPool, block_hash, chain_hashes


def test_allocate_release_and_free_count() -> None:
    pool = BlockPool(4, 2)
    blocks = [pool.allocate() for _ in range(4)]
    assert pool.num_free == 0 and pool.num_used == 4
    with pytest.raises(MemoryError):
        pool.allocate()
    pool.release(blocks)
    assert pool.num_free == 4
    with pytest.raises(RuntimeError, match="released more often"):
        pool.release([blocks[0]])


def test_chained_hashes_bind_prefix_and_namespace() -> None:
    a = chain_hashes(b"m1", [1, 2, 3, 4, 5], 2)
    assert len(a) == 2  # the partial last block is not hashed
    assert chain_hashes(b"m1", [1, 2, 3, 4], 2) == a
    assert chain_hashes(b"m1", [9, 2, 3, 4], 2)[1] != a[1]  # a different prefix changes later hashes
    assert chain_hashes(b"m2", [1, 2, 3, 4], 2) != a  # another model or adapter never hits
    assert block_hash(None, b"m1", [1, 2]) == a[0]


def test_prefix_hits_survive_release_until_evicted() -> None:
    pool = BlockPool(3, 2)
    hashes = chain_hashes(b"m", [1, 2, 3, 4], 2)
    blocks = [pool.allocate(), pool.allocate()]
    for b, h in zip(blocks, hashes, strict=True):
        pool.register(b, h)
    pool.release(blocks)
    assert pool.take_cached(hashes) == blocks  # both come back, with a reference each
    assert pool.hits == 2 and pool.num_free == 1
    pool.release(blocks)
    # Allocation takes the never-cached block first, then evicts the tail block (freed first).
    first, second = pool.allocate(), pool.allocate()
    assert first not in blocks and second == blocks[1]
    assert pool.take_cached(hashes) == [blocks[0]]  # the head survives; the chain stops at the gap
    assert pool.hit_rate() == pytest.approx(3 / 4)  # the miss that ends a chain counts
