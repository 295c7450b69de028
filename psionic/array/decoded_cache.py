"""Frozen quantized weights decoded to float32, kept between training steps.

A backward pass through a frozen ``QuantMatrix`` needs ``g @ W``, which the
kernels cannot do in the packed format, so W is decoded first; in training
every weight is decoded again at every step, which costs about as much as the
product itself. This cache keeps decoded weights up to a byte budget
(``PSIONIC_DECODED_WEIGHTS_MB``, default 1024; 0 turns it off), least recently
used out first. The weights are frozen, so a cached decode never goes stale;
entries hold their matrix, so an ``id`` is never reused while cached.

>>> import numpy as np
>>> from psionic.backends.quant_matrix import QuantMatrix
>>> from psionic.core.dtypes import DType
>>> w = QuantMatrix.from_array(DType.get("f32"), np.eye(16, dtype=np.float32))
>>> cache = DecodedCache(budget_bytes=1 << 20)
>>> cache.get(w) is cache.get(w)
True
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

DEFAULT_BUDGET_MB = 1024


def _budget_from_env() -> int:
    try:
        return max(0, int(os.environ.get("PSIONIC_DECODED_WEIGHTS_MB", DEFAULT_BUDGET_MB))) << 20
    except ValueError:
        return DEFAULT_BUDGET_MB << 20


class DecodedCache:
    """Decoded (rows, cols) float32 copies of quantized matrices, by identity, within a byte budget."""

    def __init__(self, budget_bytes: int | None = None) -> None:
        self.budget = _budget_from_env() if budget_bytes is None else budget_bytes
        self.entries: OrderedDict[int, tuple[Any, np.ndarray]] = OrderedDict()
        self.nbytes = 0
        self.lock = threading.Lock()

    def fits(self, weight: Any) -> bool:
        return weight.rows * weight.cols * 4 <= self.budget

    def get(self, weight: Any) -> np.ndarray:
        """The decoded matrix (read-only), decoding and caching it on first use."""
        from psionic.backends.cpu.matmul import get_rows

        key = id(weight)
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and hit[0] is weight:
                self.entries.move_to_end(key)
                return hit[1]
        decoded = get_rows(weight, np.arange(weight.rows))
        decoded.flags.writeable = False
        with self.lock:
            if key not in self.entries:
                self.entries[key] = (weight, decoded)
                self.nbytes += decoded.nbytes
            while self.nbytes > self.budget and self.entries:
                _, (_, old) = self.entries.popitem(last=False)
                self.nbytes -= old.nbytes
        return decoded

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.nbytes = 0


DECODED = DecodedCache()
