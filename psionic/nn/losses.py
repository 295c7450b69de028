"""Losses on Tensors: cross-entropy over class logits and mean squared error.

>>> import psionic.array as pa
>>> round(cross_entropy(pa.zeros((2, 4)), pa.tensor([1, 3])).item(), 4)  # log(4)
1.3863
"""

from __future__ import annotations

from psionic.array import Tensor
from psionic.core.errors import InvalidInput


def cross_entropy(logits: Tensor, targets: Tensor, ignore_index: int | None = None,
                  label_smoothing: float = 0.0) -> Tensor:
    """Mean over rows of -log softmax(logits)[target]; logits (..., C), targets (...) int.

    Rows whose target is ``ignore_index`` count neither in the sum nor in the mean.
    """
    if targets.shape != logits.shape[:-1]:
        raise InvalidInput(f"targets {targets.shape} do not match logits {logits.shape}")
    n_classes = logits.shape[-1]
    logp = logits.reshape(-1, n_classes).log_softmax(-1)
    flat = targets.reshape(-1)
    safe = flat
    weight = None
    if ignore_index is not None:
        keep = flat != ignore_index
        safe = keep.cast(flat.dtype) * flat  # ignored rows read class 0, then weigh nothing
        weight = keep.cast(logp.dtype)
    picked = -logp.gather(safe.unsqueeze(-1), -1).squeeze(-1)
    if label_smoothing:
        picked = picked * (1.0 - label_smoothing) - logp.mean(-1) * label_smoothing
    if weight is None:
        return picked.mean()
    return (picked * weight).sum() / weight.sum().maximum(1.0)


def mse_loss(pred: Tensor, target: Tensor) -> Tensor:
    diff = pred - target
    return (diff * diff).mean()
