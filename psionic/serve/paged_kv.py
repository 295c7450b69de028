"""Paged key/value storage: one preallocated array of blocks per layer, read through block tables."""

from __future__ import annotations

import numpy as np

from psionic.nn import ops


class KVPool:
    """Keys and values for ``num_blocks`` blocks of ``block_size`` positions, every layer."""

    def __init__(self, n_layers: int, num_blocks: int, block_size: int, n_kv_heads: int, head_dim: int) -> None:
        shape = (n_layers, num_blocks, block_size, n_kv_heads, head_dim)
        self.keys = np.zeros(shape, dtype=np.float32)
        self.values = np.zeros(shape, dtype=np.float32)
        self.block_size = block_size

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.values.nbytes)


class PagedKV:
    """One sequence's view of the pool: its block table (a KVStore for the decoder)."""

    def __init__(self, pool: KVPool, block_table: list[int]) -> None:
        self.pool = pool
        self.table = np.asarray(block_table, dtype=np.int64)

    def _slots(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        positions = np.arange(start, start + count)
        bs = self.pool.block_size
        return self.table[positions // bs], positions % bs

    def write(self, layer: int, start: int, k: np.ndarray, v: np.ndarray) -> None:
        blocks, offsets = self._slots(start, k.shape[0])
        self.pool.keys[layer, blocks, offsets] = k
        self.pool.values[layer, blocks, offsets] = v

    def gather(self, layer: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Contiguous copies of positions 0 .. end-1."""
        bs = self.pool.block_size
        used = self.table[: (end + bs - 1) // bs]
        keys = self.pool.keys[layer, used].reshape(-1, *self.pool.keys.shape[3:])[:end]
        values = self.pool.values[layer, used].reshape(-1, *self.pool.values.shape[3:])[:end]
        return np.ascontiguousarray(keys), np.ascontiguousarray(values)

    def read(self, layer: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Keys and values of positions 0 .. end-1, as ``KVCache.read`` gives them."""
        return self.gather(layer, end)

    def attend(
        self, layer: int, q: np.ndarray, start: int, scale: float, window: int | None
    ) -> np.ndarray:
        keys, values = self.gather(layer, start + q.shape[0])
        return ops.attention(q, keys, values, start, scale, window)
