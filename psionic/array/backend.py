"""Array backends: where a tensor's data lives and which primitives run on it.

An ``ArrayBackend`` is chosen per tensor by name (``"cpu"`` or ``"torch"``).
It declares the primitives and dtypes it supports; anything else is refused
with a typed ``UnsupportedOperation`` naming the backend and the op. Backends
are looked up in ``psionic.backends`` (the kernel registry) and their array
primitives built on first use, so naming ``torch`` imports torch only then.

>>> be = get_array_backend("cpu")
>>> be.name, "matmul" in be.prims, be.supports_dtype("bf16")
('cpu', True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from psionic.backends import get_backend
from psionic.core.dtypes import DType
from psionic.core.errors import UnsupportedOperation


@contextmanager
def _float32_only(precision: str) -> Iterator[None]:
    if precision != "f32":
        raise UnsupportedOperation(f"this backend computes in f32 only, not {precision}",
                                   precision=precision)
    yield


@dataclass(frozen=True, slots=True)
class ArrayBackend:
    """One backend's array primitives, and how raw data enters and leaves it."""

    name: str
    device: str
    prims: Mapping[str, Callable[..., Any]]
    dtypes: frozenset[str]
    asarray: Callable[[Any, DType | None], Any]  # (data, dtype) -> raw array
    to_numpy: Callable[[Any], Any]
    dtype_of: Callable[[Any], DType]
    deterministic: bool
    # (raw, host array): copy an in-place change of a host array into the raw array mirroring it
    copy_from_host: Callable[[Any, Any], None] = lambda raw, host: None
    # precision -> a block in which products run in that precision (float32 everywhere else)
    autocast: Callable[[str], AbstractContextManager[None]] = _float32_only

    def supports(self, op: str) -> bool:
        return op in self.prims

    def facts(self) -> dict[str, Any]:
        """What this backend declares, for manifests and reports."""
        return {
            "backend": self.name, "device": self.device, "deterministic": self.deterministic,
            "dtypes": sorted(self.dtypes), "ops": sorted(self.prims),
        }

    def supports_dtype(self, dtype: DType | str) -> bool:
        return (dtype.name if isinstance(dtype, DType) else dtype) in self.dtypes

    def prim(self, op: str) -> Callable[..., Any]:
        fn = self.prims.get(op)
        if fn is None:
            raise UnsupportedOperation(
                f"the {self.name} backend has no {op!r} primitive", backend=self.name, op=op
            )
        return fn

    def check_dtype(self, dtype: DType) -> None:
        if dtype.name not in self.dtypes:
            raise UnsupportedOperation(
                f"the {self.name} backend does not hold {dtype.name} tensors; it supports "
                + ", ".join(sorted(self.dtypes)),
                backend=self.name, dtype=dtype.name,
            )


_CACHE: dict[str, ArrayBackend] = {}
_FACTORIES: dict[str, Callable[[], ArrayBackend]] = {}


def register_array_backend(name: str, factory: Callable[[], ArrayBackend]) -> None:
    """Register how to build backend ``name``'s array side; built once, on first use."""
    if name in _FACTORIES:
        raise ValueError(f"array backend {name!r} is already registered")
    _FACTORIES[name] = factory


def get_array_backend(name: str) -> ArrayBackend:
    """The array backend ``name``; ``BackendUnavailable`` when unknown or not installed."""
    found = _CACHE.get(name)
    if found is not None:
        return found
    record = get_backend(name)  # typed refusal for an unknown name
    factory = _FACTORIES.get(record.name)
    if factory is None:
        raise UnsupportedOperation(
            f"the {name} backend has no array primitives", backend=name
        )
    found = _CACHE[name] = factory()
    return found


def _cpu() -> ArrayBackend:
    from psionic.array import numpy_prims as P

    by_dtype: dict[Any, DType] = {}

    def dtype_of(x: Any) -> DType:
        dt = by_dtype.get(x.dtype)
        if dt is None:
            dt = by_dtype[x.dtype] = DType.from_numpy(x.dtype)
        return dt

    return ArrayBackend(
        name="cpu", device="cpu", prims=P.PRIMS,
        dtypes=frozenset({"f64", "f32", "f16", "bf16", "i32", "i64", "bool"}),
        asarray=P.asarray, to_numpy=P.to_numpy, dtype_of=dtype_of, deterministic=True,
    )


def _torch() -> ArrayBackend:
    from psionic.backends import torch_backend as T

    t = T.require_torch()
    return ArrayBackend(
        name="torch", device=T.default_device(), prims=T.array_prims(),
        dtypes=frozenset(T.DTYPES), asarray=T.asarray, to_numpy=T.to_numpy,
        dtype_of=T.dtype_of, deterministic=not t.cuda.is_available(),
        copy_from_host=T.copy_from_host, autocast=T.autocast,
    )


register_array_backend("cpu", _cpu)
register_array_backend("torch", _torch)
