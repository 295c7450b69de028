"""Optimizers: SGD, Adam and AdamW, updating Parameters' float data in place.

The update rules follow PyTorch's documented algorithms step for step (the
tests check single steps against torch). An optional schedule multiplies the
base learning rate by step. ``state_dict`` holds the step count and every
moment buffer, so a resumed run continues bit for bit.

>>> import numpy as np, psionic.array as pa
>>> from psionic.nn.module import Parameter
>>> p = Parameter(np.array([1.0], np.float32))
>>> opt = SGD([p], lr=0.1)
>>> (p.tensor * 3.0).sum().backward(); opt.step(); p.data.tolist()
[0.699999988079071]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from psionic.core.errors import InvalidInput
from psionic.nn.module import Parameter
from psionic.nn.schedules import Schedule


class Optimizer:
    """Base: holds the trainable parameters, the step count and per-parameter state
    (mutable by nature: every step changes it)."""

    hyper_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Parameter], lr: float, schedule: Schedule | None = None) -> None:
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise InvalidInput("the optimizer got no parameters that require grad")
        for p in self.params:
            if not p.is_float_array:
                raise InvalidInput(f"cannot optimize a {type(p.data).__name__} parameter")
            if not p.data.flags.writeable:
                raise InvalidInput(
                    f"a parameter of shape {p.shape} is read-only (memory-mapped from a file?); "
                    "give it a writable copy before training it"
                )
        self.lr = lr
        self.schedule = schedule
        self.steps = 0
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]

    @property
    def current_lr(self) -> float:
        return self.lr * (self.schedule(self.steps) if self.schedule else 1.0)

    def zero_grad(self) -> None:
        for p in self.params:
            if p._tensor is not None:
                p._tensor.grad = None

    def step(self) -> None:
        lr = self.current_lr
        self.steps += 1
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            self._update(p.data, np.asarray(g.numpy(), dtype=p.data.dtype), self.state[i], lr)
            p.sync()

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], lr: float) -> None:
        raise NotImplementedError

    def hyper(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ("lr", *self.hyper_names)}

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "hyper": self.hyper(),
            "state": [{k: v.copy() for k, v in s.items()} for s in self.state],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["state"]) != len(self.params):
            raise InvalidInput(
                f"optimizer state for {len(state['state'])} parameters, this one has {len(self.params)}"
            )
        for p, s in zip(self.params, state["state"], strict=True):
            for v in s.values():
                if v.shape != p.shape:
                    raise InvalidInput(f"optimizer state shape {v.shape} != parameter {p.shape}")
        self.steps = int(state["steps"])
        for name, value in state["hyper"].items():
            setattr(self, name, value)
        self.state = [{k: np.array(v, copy=True) for k, v in s.items()} for s in state["state"]]


class SGD(Optimizer):
    hyper_names = ("momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 schedule: Schedule | None = None) -> None:
        super().__init__(params, lr, schedule)
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], lr: float) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum:
            buf = state.get("momentum")
            if buf is None:
                buf = state["momentum"] = g.copy()
            else:
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        w -= lr * g


class Adam(Optimizer):
    """Adam; ``weight_decay`` adds ``wd * w`` to the gradient (L2), as torch's Adam does."""

    hyper_names = ("betas", "eps", "weight_decay")
    decoupled = False

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, schedule: Schedule | None = None) -> None:
        super().__init__(params, lr, schedule)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps, self.weight_decay = eps, weight_decay

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], lr: float) -> None:
        b1, b2 = self.betas
        if self.weight_decay:
            if self.decoupled:
                w *= 1.0 - lr * self.weight_decay
            else:
                g = g + self.weight_decay * w
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(w)
            state["exp_avg_sq"] = np.zeros_like(w)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        step = self.steps
        bias1 = 1.0 - b1 ** step
        bias2 = 1.0 - b2 ** step
        denom = np.sqrt(v)
        denom /= math.sqrt(bias2)
        denom += self.eps
        w -= (lr / bias1) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w *= 1 - lr * wd`` before the Adam step."""

    decoupled = True

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, schedule: Schedule | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, schedule)
