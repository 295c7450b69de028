"""Layers given Tensors: same values as the numpy inference path, gradients against torch,
parameters that share memory with their tensors, freezing, initializers, and quantized weights."""

from __future__ import annotations

import numpy as np
import pytest

import psionic.array as pa
from psionic.backends.quant_matrix import QuantMatrix
from psionic.backends.reference import dequantize
from psionic.core.dtypes import DType
from psionic.core.errors import InvalidInput
from psionic.nn import Module, Parameter
from psionic.nn import init as nn_init
from psionic.nn.layers import Embedding, LayerNorm, Linear, RMSNorm

RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 8)).astype(np.float32)


@pytest.mark.parametrize(
    "layer",
    [
        Linear(RNG.standard_normal((4, 8)).astype(np.float32), RNG.standard_normal(4).astype(np.float32)),
        RMSNorm(RNG.standard_normal(8).astype(np.float32), 1e-6),
        LayerNorm(RNG.standard_normal(8).astype(np.float32), RNG.standard_normal(8).astype(np.float32), 1e-5),
    ],
    ids=["linear", "rms_norm", "layer_norm"],
)
def test_tensor_path_equals_inference_path(layer: Module) -> None:
    np.testing.assert_allclose(layer(pa.tensor(X)).numpy(), layer(X), rtol=1e-5, atol=1e-6)


def test_embedding_tensor_path_and_gradient_rows() -> None:
    table = RNG.standard_normal((6, 3)).astype(np.float32)
    emb = Embedding(table)
    ids = np.array([[1, 4], [1, 0]])
    out = emb(pa.tensor(ids))
    np.testing.assert_array_equal(out.numpy(), emb(ids))
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [1, 2, 0, 0, 1, 0])


def test_linear_gradients_match_torch() -> None:
    torch = pytest.importorskip("torch")
    w, b = RNG.standard_normal((4, 8)).astype(np.float32), RNG.standard_normal(4).astype(np.float32)
    layer = Linear(w.copy(), b.copy())
    x = pa.tensor(X, requires_grad=True)
    (layer(x).tanh() ** 2.0).sum().backward()
    tw, tb, tx = (torch.tensor(a, requires_grad=True) for a in (w, b, X))
    (torch.nn.functional.linear(tx, tw, tb).tanh() ** 2).sum().backward()
    for ours, theirs in ((layer.weight.grad, tw), (layer.bias.grad, tb), (x.grad, tx)):
        np.testing.assert_allclose(ours.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_parameter_tensor_shares_memory_and_follows_reassignment() -> None:
    p = Parameter(np.zeros(3, np.float32))
    t = p.tensor
    assert t.requires_grad and np.shares_memory(t.numpy(), p.data)
    p.data[0] = 5.0
    assert t.numpy()[0] == 5.0
    p.data = np.ones(3, np.float32)
    assert p.tensor is not t and p.grad is None


def test_freeze_zero_grad_and_trainable_parameters() -> None:
    layer = Linear(np.eye(3, dtype=np.float32), np.zeros(3, np.float32))
    (layer(pa.tensor(np.ones((1, 3), np.float32))).sum()).backward()
    assert layer.weight.grad is not None
    layer.zero_grad()
    assert layer.weight.grad is None
    layer.freeze()
    assert layer.trainable_parameters() == []
    out = layer(pa.tensor(np.ones((1, 3), np.float32)))
    assert not out.requires_grad
    layer.unfreeze()
    assert len(layer.trainable_parameters()) == 2


def test_quantized_weight_has_no_tensor_but_trains_its_input() -> None:
    blocks = np.random.default_rng(1).integers(0, 255, (8, 34 * 2), dtype=np.uint8)
    blocks[:, 0:2] = np.frombuffer(np.float16(0.01).tobytes(), np.uint8)  # sane block scales
    blocks[:, 34:36] = np.frombuffer(np.float16(0.02).tobytes(), np.uint8)
    w = QuantMatrix.from_array(DType.get("q8_0"), blocks)
    layer = Linear(w)
    with pytest.raises(InvalidInput):
        _ = layer.weight.tensor
    x = pa.tensor(RNG.standard_normal((3, 64)).astype(np.float32), requires_grad=True)
    y = layer(x)
    dense = dequantize(w)
    np.testing.assert_allclose(y.numpy(), x.numpy() @ dense.T, rtol=1e-4, atol=1e-4)
    g = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(pa.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g @ dense, rtol=1e-4, atol=1e-4)
    assert layer.trainable_parameters() == []


def test_initializers_fill_in_place_with_seeded_values() -> None:
    p = Parameter(np.empty((16, 32), np.float32))
    before = p.data
    nn_init.kaiming_uniform_(p, np.random.default_rng(0))
    assert p.data is before and np.abs(p.data).max() <= 1 / np.sqrt(32) + 1e-7
    q = Parameter(np.empty((16, 32), np.float32))
    nn_init.kaiming_uniform_(q, np.random.default_rng(0))
    np.testing.assert_array_equal(p.data, q.data)
    nn_init.normal_(p, np.random.default_rng(1), std=0.02)
    assert 0.015 < p.data.std() < 0.025
    nn_init.zeros_(p)
    assert not p.data.any()
