"""Module and Parameter: the containers model families are written with.

A Module owns Parameters (weights), buffers (non-trainable state) and child
Modules, registered by plain attribute assignment as in PyTorch. The same
definition serves inference (weights may be quantized, memory-mapped
matrices) and training (the framework-core layer adds gradients).

>>> import numpy as np
>>> class Affine(Module):
...     def __init__(self):
...         super().__init__()
...         self.weight = Parameter(np.ones((2, 2), np.float32))
>>> sorted(Affine().state_dict())
['weight']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from psionic.array.backend import get_array_backend
from psionic.array.tensor import Tensor
from psionic.core.errors import InvalidInput, MissingTensor, TensorShapeMismatch


class Parameter:
    """A named weight. ``data`` is any array-like with a ``shape`` (ndarray, quantized matrix).

    Inference reads ``data`` directly. Training reads ``tensor``: a leaf Tensor
    on the parameter's ``backend`` mirroring ``data`` (the same memory where
    the backend allows, as on the cpu backend and torch on a CPU device, else a
    device copy), whose ``grad`` the backward pass fills; an optimizer updates
    ``data`` in place and calls ``sync`` so that a device copy follows.
    """

    __slots__ = ("data", "requires_grad", "backend", "_tensor", "_host")

    def __init__(self, data: Any, requires_grad: bool = True, backend: str = "cpu") -> None:
        self.data = data
        self.requires_grad = requires_grad
        self.backend = backend
        self._tensor: Tensor | None = None
        self._host: Any = None  # the ``data`` object ``_tensor`` mirrors

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def is_float_array(self) -> bool:
        return isinstance(self.data, np.ndarray) and self.data.dtype.kind == "f"

    @property
    def tensor(self) -> Tensor:
        """``data`` as a leaf Tensor on ``backend``; it requires grad when the parameter does."""
        t = self._tensor
        if t is None or self._host is not self.data or t.backend != self.backend:
            if not self.is_float_array:
                raise InvalidInput(
                    f"a {type(self.data).__name__} parameter has no trainable tensor; quantized "
                    "weights stay frozen and are multiplied in their stored format"
                )
            be = get_array_backend(self.backend)
            t = self._tensor = Tensor._wrap(be.asarray(self.data, None), be)
            self._host = self.data
        t.requires_grad = self.requires_grad
        return t

    def sync(self) -> None:
        """Carry an in-place change of ``data`` into a tensor that holds its own copy of it."""
        t = self._tensor
        if t is not None and self._host is self.data and t._data is not self.data:
            t._backend.copy_from_host(t._data, self.data)

    @property
    def grad(self) -> Tensor | None:
        t = self._tensor
        return t.grad if t is not None and self._host is self.data else None

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        self.tensor.grad = value

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, requires_grad={self.requires_grad})"


class Module:
    """Base of every layer and model; children and parameters register on assignment."""

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", False)
        object.__setattr__(self, "array_backend", "cpu")  # where ``tensor`` inputs are made

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError("call Module.__init__() before assigning attributes")
        if isinstance(value, Parameter):
            target: dict[str, Any] | None = self._parameters
        elif isinstance(value, Module):
            target = self._modules
        else:
            target = None
        for registry in (self._parameters, self._modules, self._buffers):
            if registry is not target:
                registry.pop(name, None)
        if target is None:
            object.__setattr__(self, name, value)
            return
        target[name] = value  # a replacement keeps its place in the order
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        for registry in ("_parameters", "_modules", "_buffers"):
            table = self.__dict__.get(registry)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def register_buffer(self, name: str, value: Any) -> None:
        self._buffers[name] = value

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for module_name, module in self.named_modules(prefix):
            for name, value in module._buffers.items():
                yield (f"{module_name}.{name}" if module_name else name), value

    # --- traversal -------------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def trainable_parameters(self) -> list[Parameter]:
        """Parameters that require grad (frozen and quantized weights excluded)."""
        return [p for p in self.parameters() if p.requires_grad and p.is_float_array]

    def zero_grad(self) -> None:
        for param in self.parameters():
            if param._tensor is not None:
                param._tensor.grad = None

    # --- state -----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Parameter and buffer arrays by dotted name."""
        state = {name: p.data for name, p in self.named_parameters()}
        for module_name, module in self.named_modules():
            for name, value in module._buffers.items():
                state[f"{module_name}.{name}" if module_name else name] = value
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> list[str]:
        """Assign arrays by name; returns the names in ``state`` that matched nothing.

        ``strict`` raises on a missing or unexpected name; shapes must always match.
        """
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        if strict and (missing or unexpected):
            raise MissingTensor(
                f"state dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}",
                missing=missing,
                unexpected=unexpected,
            )
        for name, value in state.items():
            param = params.get(name)
            if param is None:
                continue
            if tuple(value.shape) != param.shape:
                raise TensorShapeMismatch(
                    f"{name}: expected shape {param.shape}, got {tuple(value.shape)}", name=name
                )
            param.data = value
        return unexpected

    def train(self, mode: bool = True) -> Module:
        for _, module in self.named_modules():
            object.__setattr__(module, "training", mode)
        return self

    def to_backend(self, name: str) -> Module:
        """Train on backend ``name``: parameter tensors and the inputs a model makes live there.

        Float parameters keep their host arrays (the optimizer's master copies);
        quantized ones stay packed and are decoded by that backend's kernels.
        """
        get_array_backend(name)  # a typed refusal for an unknown or missing backend
        for _, module in self.named_modules():
            object.__setattr__(module, "array_backend", name)
            for param in module._parameters.values():
                param.backend = name
        return self

    def eval(self) -> Module:
        return self.train(False)

    def freeze(self) -> Module:
        for param in self.parameters():
            param.requires_grad = False
        return self

    def unfreeze(self) -> Module:
        """Make every float parameter trainable again (quantized ones stay frozen)."""
        for param in self.parameters():
            param.requires_grad = param.is_float_array
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")


class ModuleList(Module):
    """An indexable sequence of Modules, registered as ``0``, ``1``, ..."""

    def __init__(self, modules: list[Module] | None = None) -> None:
        super().__init__()
        for module in modules or []:
            self.append(module)

    def append(self, module: Module) -> None:
        self._modules[str(len(self._modules))] = module

    def __getitem__(self, index: int) -> Module:
        return self._modules[str(index % len(self._modules))]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())
