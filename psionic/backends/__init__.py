"""Backends: kernels on raw arrays, each declaring what it supports.

A ``Backend`` is a description: its name, its device, the weight formats its
matmul accepts, and the module holding its kernels (imported on first use, so
naming a backend costs nothing). Anything outside the declaration is refused
with a typed ``UnsupportedQuantType`` that names the format.

>>> cpu = get_backend("cpu")
>>> cpu.supports_matmul("q4_k"), cpu.supports_matmul("q2_k")
(True, False)
>>> sorted(cpu.precisions), sorted(get_backend("torch").precisions)
(['f32'], ['bf16', 'f16', 'f32'])
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from psionic.core.dtypes import DType
from psionic.core.errors import BackendUnavailable, UnsupportedQuantType


@dataclass(frozen=True, slots=True)
class Backend:
    """What one backend is and what it can do."""

    name: str
    device: str
    matmul_dtypes: frozenset[str]  # weight formats its matmul / get_rows accept
    ops_module: str  # import path of the module holding its kernels
    # Precisions it can train in: "f32" everywhere; "bf16"/"f16" run products in that dtype.
    precisions: frozenset[str] = frozenset({"f32"})

    def supports_matmul(self, dtype: DType | str) -> bool:
        return _name(dtype) in self.matmul_dtypes

    def check_matmul(self, dtype: DType | str) -> None:
        """Raise ``UnsupportedQuantType`` unless this backend multiplies ``dtype`` weights."""
        name = _name(dtype)
        if name not in self.matmul_dtypes:
            raise UnsupportedQuantType(
                f"the {self.name} backend has no matmul for {name} weights; it supports "
                + ", ".join(sorted(self.matmul_dtypes)),
                dtype=name, backend=self.name,
            )

    def supports_precision(self, precision: str) -> bool:
        return precision in self.precisions

    def ops(self) -> ModuleType:
        """The kernel module (compiles nothing until a kernel is called)."""
        return importlib.import_module(self.ops_module)


def _name(dtype: DType | str) -> str:
    return dtype.name if isinstance(dtype, DType) else str(dtype).lower()


_BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend) -> Backend:
    if backend.name in _BACKENDS:
        raise ValueError(f"backend {backend.name!r} is already registered")
    _BACKENDS[backend.name] = backend
    return backend


def get_backend(name: str) -> Backend:
    try:
        return _BACKENDS[name]
    except KeyError:
        raise BackendUnavailable(
            f"no backend named {name!r}; known: {', '.join(sorted(_BACKENDS))}", backend=name
        ) from None


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


from psionic.backends.cpu import CPU_BACKEND  # noqa: E402  (registers after Backend exists)
from psionic.backends.torch_backend import TORCH_BACKEND  # noqa: E402  (imports no torch)

register_backend(CPU_BACKEND)
register_backend(TORCH_BACKEND)
