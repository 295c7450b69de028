"""Per-sequence key/value storage for decoding.

``KVCache`` is the contiguous form used by single-stream generation: one
preallocated (capacity, kv_heads, head_dim) array per layer for keys and for
values. The serving engine's paged cache offers the same two methods.
"""

from __future__ import annotations

import numpy as np

from psionic.core.errors import ContextOverflow
from psionic.nn import ops


class KVCache:
    """Keys and values of one sequence, for every layer, up to ``capacity`` positions."""

    def __init__(self, n_layers: int, n_kv_heads: int, head_dim: int, capacity: int) -> None:
        shape = (n_layers, capacity, n_kv_heads, head_dim)
        self.keys = np.zeros(shape, dtype=np.float32)
        self.values = np.zeros(shape, dtype=np.float32)
        self.capacity = capacity

    def write(self, layer: int, start: int, k: np.ndarray, v: np.ndarray) -> None:
        """Store (T, kv_heads, head_dim) keys/values at positions start .. start+T-1."""
        end = start + k.shape[0]
        if end > self.capacity:
            raise ContextOverflow(
                f"sequence of {end} tokens exceeds the cache capacity of {self.capacity}",
                tokens=end,
                capacity=self.capacity,
            )
        self.keys[layer, start:end] = k
        self.values[layer, start:end] = v

    def read(self, layer: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Keys and values of positions 0 .. end-1 (views, no copy)."""
        return self.keys[layer, :end], self.values[layer, :end]

    def attend(
        self, layer: int, q: np.ndarray, start: int, scale: float, window: int | None
    ) -> np.ndarray:
        """Causal attention of (T, H, D) queries at positions start.. over this cache."""
        keys, values = self.read(layer, start + q.shape[0])
        return ops.attention(q, keys, values, start, scale, window)
