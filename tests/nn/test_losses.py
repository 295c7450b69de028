"""Losses against torch, values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import psionic.array as pa
from psionic.core.errors import InvalidInput
from psionic.nn.losses import cross_entropy, mse_loss

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("shape", "ignore", "smoothing"),
    [((6, 5), None, 0.0), ((2, 3, 7), None, 0.0), ((6, 5), 2, 0.0), ((4, 9), None, 0.1), ((5, 4), 0, 0.2)],
)
def test_cross_entropy_matches_torch(shape: tuple[int, ...], ignore: int | None, smoothing: float) -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape).astype(np.float32)
    targets = rng.integers(0, shape[-1], shape[:-1])
    x = pa.tensor(logits, requires_grad=True)
    loss = cross_entropy(x, pa.tensor(targets), ignore_index=ignore, label_smoothing=smoothing)
    loss.backward()
    tx = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(
        tx.reshape(-1, shape[-1]), torch.from_numpy(targets).reshape(-1),
        ignore_index=-100 if ignore is None else ignore, label_smoothing=smoothing,
    )
    t_loss.backward()
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_mse_matches_torch() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    x = pa.tensor(a, requires_grad=True)
    mse_loss(x, pa.tensor(b)).backward()
    tx = torch.tensor(a, requires_grad=True)
    torch.nn.functional.mse_loss(tx, torch.tensor(b)).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_cross_entropy_checks_target_shape() -> None:
    with pytest.raises(InvalidInput):
        cross_entropy(pa.zeros((3, 4)), pa.tensor([1, 2]))
