from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import MissingTensor, TensorShapeMismatch
from psionic.nn import Module, ModuleList, Parameter
from psionic.nn.layers import Linear, RMSNorm


class Tiny(Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = Linear(np.eye(3, dtype=np.float32), bias=np.ones(3, np.float32))
        self.norm = RMSNorm(np.ones(3, np.float32), 1e-6)
        self.blocks = ModuleList([Linear(np.eye(3, dtype=np.float32)) for _ in range(2)])
        self.register_buffer("positions", np.arange(3))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self.proj(x)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


def test_registration_and_names() -> None:
    m = Tiny()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["proj.weight", "proj.bias", "norm.weight", "blocks.0.weight", "blocks.1.weight"]
    assert set(m.state_dict()) == set(names) | {"positions"}
    assert len(m.blocks) == 2 and m.blocks[-1] is m.blocks[1]


def test_forward_and_reassignment() -> None:
    m = Tiny()
    out = m(np.array([[1.0, 2.0, 3.0]], np.float32))
    x = np.array([2.0, 3.0, 4.0])
    assert np.allclose(out, x / np.sqrt(np.mean(x * x)), atol=1e-5)
    m.proj = Linear(np.zeros((3, 3), np.float32))  # replaces the registered child
    assert [n for n, _ in m.named_parameters()][0] == "proj.weight"


def test_load_state_dict_strict_and_shapes() -> None:
    m = Tiny()
    state = {k: v for k, v in m.state_dict().items() if k != "positions"}
    state["proj.weight"] = np.full((3, 3), 2.0, np.float32)
    m.load_state_dict(state)
    assert m.proj.weight.data[0, 0] == 2.0
    with pytest.raises(MissingTensor, match="missing"):
        m.load_state_dict({"proj.weight": state["proj.weight"]})
    assert m.load_state_dict({"proj.weight": state["proj.weight"], "extra": np.zeros(1)}, strict=False) == ["extra"]
    with pytest.raises(TensorShapeMismatch, match="proj.weight"):
        m.load_state_dict({"proj.weight": np.zeros((2, 2))}, strict=False)


def test_train_eval_freeze() -> None:
    m = Tiny().train()
    assert all(mod.training for _, mod in m.named_modules())
    m.eval().freeze()
    assert not m.blocks[0].training
    assert not any(p.requires_grad for p in m.parameters())
    assert Parameter(np.zeros(2)).requires_grad
