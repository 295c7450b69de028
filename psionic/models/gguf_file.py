"""GGUF model files: memory-mapped, validated, zero-copy.

``GGUFModelFile.open(path)`` maps the file read-only, parses its header with
every size checked against the file (``gguf_header``), and checks what a model
loader relies on: a known architecture, tensor types that psionic's dtype
registry knows, whole quant blocks per row, aligned and non-overlapping tensor
data inside the file. Tensor data are numpy views of the mapped bytes; nothing
is copied. Any broken input raises a typed ``PsionicError`` naming the problem.

Shapes are numpy order (rows first): ggml's ``ne = (576, 49152)`` is the shape
``(49152, 576)``. Quantized tensors are exposed as their raw bytes, one row of
blocks per row: ``uint8`` of shape ``(*shape[:-1], row_bytes)``.

>>> from psionic.models.catalog import CatalogEntry
>>> f = GGUFModelFile.open(CatalogEntry.get("smollm2-135m-instruct").path())  # doctest: +SKIP
>>> f.architecture, f.require("llama.block_count")  # doctest: +SKIP
('llama', 30)
>>> t = f.tensor("token_embd.weight", expected_shape=(49152, 576))  # doctest: +SKIP
>>> t.dtype.name, t.data.shape  # doctest: +SKIP
('q8_0', (49152, 612))
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from psionic.core.digest import digest_file
from psionic.core.dtypes import DType
from psionic.core.errors import (
    InvalidInput,
    MalformedGGUF,
    MissingTensor,
    ModelNotFound,
    TensorShapeMismatch,
    TruncatedFile,
    UnknownArchitecture,
    UnknownDType,
    UnsupportedQuantType,
)
from psionic.models.gguf_header import RawHeader, RawTensorInfo, parse_header

# Architectures psionic has (or is writing) a model family for.
KNOWN_ARCHITECTURES: frozenset[str] = frozenset(
    {"llama", "gemma3", "qwen2", "qwen3", "mistral", "bert"}
)

_MISSING = object()
_MAX_ELEMENTS = (1 << 63) - 1  # ggml counts elements in int64


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor: numpy-order shape, psionic dtype, and a view of its bytes in the file."""

    name: str
    dtype: DType
    shape: tuple[int, ...]  # rows first (reversed ggml ne)
    offset: int  # absolute byte offset in the file
    nbytes: int
    # Typed array for array dtypes; uint8 (*shape[:-1], row_bytes) for block-quant types.
    data: np.ndarray = field(repr=False, compare=False)

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass(frozen=True)
class GGUFModelFile:
    """A validated GGUF file. Not slotted: the file digest is cached on first use."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: dict[str, TensorInfo]
    architecture: str
    alignment: int
    data_offset: int
    file_size: int

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        architectures: Collection[str] | None = KNOWN_ARCHITECTURES,
    ) -> GGUFModelFile:
        """Map and validate ``path``; ``architectures=None`` accepts any architecture."""
        path = Path(path)
        mm = _map(path)
        header = parse_header(memoryview(mm), str(path))
        buf = np.frombuffer(mm, dtype=np.uint8)
        architecture = _architecture(header.metadata, path, architectures)
        tensors = _tensors(header, buf, path)
        return cls(
            path=path,
            version=header.version,
            metadata=header.metadata,
            tensors=tensors,
            architecture=architecture,
            alignment=header.alignment,
            data_offset=header.data_offset,
            file_size=len(buf),
        )

    @cached_property
    def digest(self) -> str:
        """``sha256:<hex>`` of the file's bytes, computed on first use."""
        return digest_file(self.path)

    def meta(self, key: str, default: Any = None) -> Any:
        """A metadata value, or ``default`` when the key is absent."""
        return self.metadata.get(key, default)

    def require(self, key: str, kind: type | tuple[type, ...] | None = None) -> Any:
        """A metadata value that must be present (and of ``kind``, if given)."""
        value = self.metadata.get(key, _MISSING)
        if value is _MISSING:
            raise MalformedGGUF(
                f"{self.path}: required metadata key {key!r} is missing",
                path=str(self.path),
                key=key,
            )
        if kind is not None and (
            not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float))
        ):
            raise MalformedGGUF(
                f"{self.path}: metadata {key!r} is {type(value).__name__}, "
                f"expected {getattr(kind, '__name__', kind)}",
                path=str(self.path),
                key=key,
            )
        return value

    def arch_meta(self, suffix: str, default: Any = None) -> Any:
        """``meta(f"{architecture}.{suffix}")``: the family's hyperparameters."""
        return self.meta(f"{self.architecture}.{suffix}", default)

    def tensor(self, name: str, expected_shape: tuple[int, ...] | None = None) -> TensorInfo:
        """A tensor by name, optionally checked against a numpy-order shape."""
        info = self.tensors.get(name)
        if info is None:
            raise MissingTensor(
                f"{self.path}: tensor {name!r} is missing", path=str(self.path), tensor=name
            )
        if expected_shape is not None and tuple(expected_shape) != info.shape:
            raise TensorShapeMismatch(
                f"{self.path}: tensor {name!r} has shape {info.shape}, "
                f"expected {tuple(expected_shape)}",
                path=str(self.path),
                tensor=name,
                shape=list(info.shape),
                expected=list(expected_shape),
            )
        return info

    def has_tensor(self, name: str) -> bool:
        return name in self.tensors


def open_gguf(
    path: str | os.PathLike[str], architectures: Collection[str] | None = KNOWN_ARCHITECTURES
) -> GGUFModelFile:
    """Shorthand for ``GGUFModelFile.open``."""
    return GGUFModelFile.open(path, architectures)


def _map(path: Path) -> mmap.mmap:
    """The whole file, mapped read-only."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise TruncatedFile(f"{path}: file is empty", path=str(path), offset=0)
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise ModelNotFound(f"{path}: no such file", path=str(path)) from None
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read: {e.strerror or e}", path=str(path)) from None
    return mm


def _architecture(
    metadata: Mapping[str, Any], path: Path, architectures: Collection[str] | None
) -> str:
    arch = metadata.get("general.architecture")
    if arch is None:
        raise MalformedGGUF(
            f"{path}: required metadata key 'general.architecture' is missing",
            path=str(path),
            key="general.architecture",
        )
    if not isinstance(arch, str):
        raise MalformedGGUF(f"{path}: general.architecture is not a string", path=str(path))
    if architectures is not None and arch not in architectures:
        raise UnknownArchitecture(
            f"{path}: unknown architecture {arch!r}; known: {', '.join(sorted(architectures))}",
            path=str(path),
            architecture=arch,
        )
    return arch


def _dtype(raw: RawTensorInfo, path: Path) -> DType:
    try:
        return DType.from_ggml(raw.ggml_type)
    except UnknownDType:
        try:
            type_name = gguf.GGMLQuantizationType(raw.ggml_type).name
        except ValueError:
            type_name = "unknown"
        raise UnsupportedQuantType(
            f"{path}: tensor {raw.name!r} has GGML type {raw.ggml_type} ({type_name}), "
            "which psionic does not support",
            path=str(path),
            tensor=raw.name,
            ggml_type=raw.ggml_type,
            type_name=type_name,
        ) from None


def _tensors(header: RawHeader, buf: np.ndarray, path: Path) -> dict[str, TensorInfo]:
    size = len(buf)
    tensors: dict[str, TensorInfo] = {}
    spans: list[tuple[int, int, str]] = []
    for raw in header.tensors:
        if raw.name in tensors:
            raise MalformedGGUF(f"{path}: duplicate tensor {raw.name!r}", path=str(path))
        dtype = _dtype(raw, path)
        n = 1
        for d in raw.ne:
            n *= d
        if n > _MAX_ELEMENTS:
            raise MalformedGGUF(
                f"{path}: tensor {raw.name!r} has an absurd element count {n} (dims {raw.ne})",
                path=str(path),
                tensor=raw.name,
            )
        if raw.ne[0] % dtype.block_size:
            raise MalformedGGUF(
                f"{path}: tensor {raw.name!r} rows of {raw.ne[0]} elements are not whole "
                f"{dtype.name} blocks of {dtype.block_size}",
                path=str(path),
                tensor=raw.name,
            )
        nbytes = n // dtype.block_size * dtype.type_size
        if raw.offset % header.alignment:
            raise MalformedGGUF(
                f"{path}: tensor {raw.name!r} data offset {raw.offset} is not aligned to "
                f"{header.alignment}",
                path=str(path),
                tensor=raw.name,
            )
        start = header.data_offset + raw.offset
        if start + nbytes > size:
            raise TruncatedFile(
                f"{path}: tensor {raw.name!r} data [{start}, {start + nbytes}) extends past "
                f"the end of the file ({size} bytes)",
                path=str(path),
                tensor=raw.name,
                offset=start,
                nbytes=nbytes,
            )
        shape = tuple(reversed(raw.ne))
        tensors[raw.name] = TensorInfo(
            raw.name, dtype, shape, start, nbytes, _view(buf, dtype, shape, start, nbytes)
        )
        spans.append((start, start + nbytes, raw.name))
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise MalformedGGUF(
                f"{path}: the data of tensors {a!r} and {b!r} overlap",
                path=str(path),
                tensors=[a, b],
            )
    return tensors


def _view(buf: np.ndarray, dtype: DType, shape: tuple[int, ...], start: int, nbytes: int) -> np.ndarray:
    raw = buf[start : start + nbytes]
    if dtype.is_quantized:
        row_bytes = shape[-1] // dtype.block_size * dtype.type_size
        return raw.reshape(*shape[:-1], row_bytes)
    assert dtype.numpy is not None
    return raw.view(dtype.numpy.newbyteorder("<")).reshape(shape)
