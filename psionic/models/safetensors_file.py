"""Read a safetensors file in place: a checked header, then zero-copy numpy views.

The format is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw little-endian data. The file
is memory-mapped once; every tensor is a read-only view into the mapping, so a
90 MB model costs page cache, not a copy. Nothing is ever unpickled.

The checks follow the format's own rules (the ``safetensors`` library rejects
the same files): byte ranges must tile the data section exactly, in order of
offset, with no gap, overlap or trailing byte, and each range must hold exactly
``prod(shape) * itemsize`` bytes.

>>> f = SafetensorsFile.open("model.safetensors")  # doctest: +SKIP
>>> f.array("embeddings.word_embeddings.weight").shape  # doctest: +SKIP
(30522, 384)
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

from psionic.core.errors import MalformedFile, MissingTensor, TruncatedFile

# The reference implementation refuses headers above 100 MB; so do we.
MAX_HEADER_BYTES = 100_000_000

DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
}


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One header entry; ``begin``/``end`` are offsets into the data section."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


class SafetensorsFile:
    """A parsed, memory-mapped safetensors file (holds the mapping while alive)."""

    def __init__(
        self,
        path: Path,
        buffer: mmap.mmap | bytes,
        data_start: int,
        tensors: dict[str, TensorInfo],
        metadata: dict[str, str],
    ) -> None:
        self.path = path
        self._buffer = buffer
        self._data_start = data_start
        self.tensors = tensors
        self.metadata = metadata

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> SafetensorsFile:
        """Parse and check the header of ``path`` and map its data."""
        path = Path(path)
        size = path.stat().st_size
        if size < 8:
            raise TruncatedFile(f"{path}: {size} bytes, shorter than the 8-byte header length", path=str(path))
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > MAX_HEADER_BYTES:
                raise MalformedFile(
                    f"{path}: header length {header_len} exceeds {MAX_HEADER_BYTES} bytes",
                    path=str(path),
                )
            if 8 + header_len > size:
                raise TruncatedFile(
                    f"{path}: header of {header_len} bytes runs past the end of a {size}-byte file",
                    path=str(path),
                )
            header = _parse_header(path, f.read(header_len))
            buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        data_start = 8 + header_len
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise MalformedFile(f"{path}: __metadata__ must map strings to strings", path=str(path))
        tensors = {name: _tensor_info(path, name, entry) for name, entry in header.items()}
        _check_layout(path, tensors, size - data_start)
        return cls(path, buffer, data_start, tensors, metadata)

    def names(self) -> list[str]:
        return list(self.tensors)

    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    def array(self, name: str) -> np.ndarray:
        """The tensor ``name`` as a read-only numpy view of the mapping (no copy)."""
        info = self.tensors.get(name)
        if info is None:
            raise MissingTensor(f"{self.path}: no tensor {name!r}", path=str(self.path), name=name)
        dtype = DTYPES[info.dtype]
        count = math.prod(info.shape)
        flat = np.frombuffer(self._buffer, dtype=dtype, count=count, offset=self._data_start + info.begin)
        return flat.reshape(info.shape)


def _parse_header(path: Path, raw: bytes) -> dict[str, object]:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedFile(f"{path}: header is not UTF-8 JSON ({exc})", path=str(path)) from None
    if not isinstance(header, dict):
        raise MalformedFile(f"{path}: header is a JSON {type(header).__name__}, not an object", path=str(path))
    return header


def _tensor_info(path: Path, name: str, entry: object) -> TensorInfo:
    def bad(why: str) -> MalformedFile:
        return MalformedFile(f"{path}: tensor {name!r}: {why}", path=str(path), name=name)

    if not isinstance(entry, dict):
        raise bad("entry is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPES:
        raise bad(f"unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise bad(f"shape {shape!r} is not a list of non-negative integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
        raise bad(f"data_offsets {offsets!r} is not two non-negative integers")
    begin, end = offsets
    if end < begin:
        raise bad(f"data_offsets end {end} precedes begin {begin}")
    expected = math.prod(shape) * DTYPES[dtype].itemsize
    if end - begin != expected:
        raise bad(f"{end - begin} bytes for shape {shape} of {dtype} (needs {expected})")
    return TensorInfo(name, dtype, tuple(shape), begin, end)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_layout(path: Path, tensors: dict[str, TensorInfo], data_bytes: int) -> None:
    """The byte ranges, sorted, must tile [0, data_bytes) exactly."""
    position = 0
    for info in sorted(tensors.values(), key=lambda t: (t.begin, t.end)):
        if info.begin != position:
            what = "overlaps the previous tensor" if info.begin < position else "leaves a gap"
            raise MalformedFile(
                f"{path}: tensor {info.name!r} at byte {info.begin} {what} (expected {position})",
                path=str(path),
                name=info.name,
            )
        position = info.end
    if position > data_bytes:
        raise TruncatedFile(
            f"{path}: tensors need {position} data bytes, the file holds {data_bytes}", path=str(path)
        )
    if position < data_bytes:
        raise MalformedFile(
            f"{path}: {data_bytes - position} trailing bytes after the last tensor", path=str(path)
        )
