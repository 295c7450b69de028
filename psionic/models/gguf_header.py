"""The GGUF header, parsed with every size checked against the file before it is trusted.

A GGUF file is a header (magic, version, counts), key/value metadata, tensor
descriptions, then aligned tensor data. This module reads the first three from
a read-only memory map and returns plain records; ``gguf_file`` turns them into
the validated model file. Layout facts (the magic, value type ids, the default
alignment) come from the ``gguf`` package.

Every length and count read from the file is checked against the bytes that
remain before anything is allocated or looped over, so a corrupted count fails
fast with a typed error instead of exhausting memory or hanging.

>>> parse_header(memoryview(b"GGUF"), path="x.gguf")
Traceback (most recent call last):
...
psionic.core.errors.TruncatedFile: truncated_file: x.gguf: file ends at byte 4 while reading the version (needs 4 more bytes)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import gguf
import numpy as np

from psionic.core.errors import MalformedGGUF, TruncatedFile, UnsupportedVersion

SUPPORTED_VERSIONS = (2, 3)
GGML_MAX_DIMS = 4
# Limits far above any real model that stop a corrupted count before it costs anything.
MAX_TENSORS = 1 << 20
MAX_KV = 1 << 20
MAX_ARRAY_DEPTH = 2
# A string or array longer than this is corruption, not a model, whatever the file size.
MAX_LENGTH = 1 << 32

_VT = gguf.GGUFValueType
# value type -> (struct format, byte size, numpy dtype)
_SCALARS: dict[int, tuple[str, int, np.dtype]] = {
    _VT.UINT8: ("<B", 1, np.dtype("<u1")),
    _VT.INT8: ("<b", 1, np.dtype("<i1")),
    _VT.UINT16: ("<H", 2, np.dtype("<u2")),
    _VT.INT16: ("<h", 2, np.dtype("<i2")),
    _VT.UINT32: ("<I", 4, np.dtype("<u4")),
    _VT.INT32: ("<i", 4, np.dtype("<i4")),
    _VT.FLOAT32: ("<f", 4, np.dtype("<f4")),
    _VT.BOOL: ("<?", 1, np.dtype("?")),
    _VT.UINT64: ("<Q", 8, np.dtype("<u8")),
    _VT.INT64: ("<q", 8, np.dtype("<i8")),
    _VT.FLOAT64: ("<d", 8, np.dtype("<f8")),
}
# The fewest bytes one value of a type can take (a string is at least its length field).
_MIN_SIZE = {**{t: size for t, (_, size, _) in _SCALARS.items()}, _VT.STRING: 8, _VT.ARRAY: 12}


@dataclass(frozen=True, slots=True)
class RawTensorInfo:
    """One tensor description as stored: ggml dims (fastest first), type id, data offset."""

    name: str
    ne: tuple[int, ...]
    ggml_type: int
    offset: int  # relative to the start of the data section


@dataclass(frozen=True, slots=True)
class RawHeader:
    version: int
    metadata: dict[str, Any]
    tensors: list[RawTensorInfo]
    alignment: int
    data_offset: int  # absolute offset of the data section


class _Cursor:
    """Reads little-endian values from a buffer, refusing to step past its end."""

    def __init__(self, buf: memoryview, path: str) -> None:
        self.buf = buf
        self.size = len(buf)
        self.pos = 0
        self.path = path

    @property
    def left(self) -> int:
        return self.size - self.pos

    def need(self, n: int, what: str) -> None:
        if n > self.left:
            raise TruncatedFile(
                f"{self.path}: file ends at byte {self.size} while reading {what} "
                f"(needs {n - self.left} more bytes)",
                path=self.path,
                offset=self.pos,
                reading=what,
            )

    def scalar(self, vtype: int, what: str) -> Any:
        fmt, size, _ = _SCALARS[vtype]
        self.need(size, what)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def u32(self, what: str) -> int:
        return int(self.scalar(_VT.UINT32, what))

    def u64(self, what: str) -> int:
        return int(self.scalar(_VT.UINT64, what))

    def string(self, what: str) -> str:
        start = self.pos
        n = self.u64(f"the length of {what}")
        if n > self.left:
            raise self._bad_length(n, what, start)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedGGUF(
                f"{self.path}: {what} at byte {start} is not valid UTF-8 ({e.reason})",
                path=self.path,
                offset=start,
            ) from None

    def count(self, n: int, min_item: int, what: str, start: int) -> None:
        """Refuse ``n`` items of at least ``min_item`` bytes that cannot fit in what is left."""
        if n * min_item > self.left:
            raise self._bad_length(n, what, start, min_item)

    def _bad_length(
        self, n: int, what: str, start: int, item: int = 1
    ) -> MalformedGGUF | TruncatedFile:
        # An absurd length is corruption; a plausible one that runs past the end is truncation.
        cls = MalformedGGUF if n > MAX_LENGTH else TruncatedFile
        claim = f"{n} bytes" if item == 1 else f"{n} items of at least {item} bytes"
        return cls(
            f"{self.path}: {what} at byte {start} claims {claim}, "
            f"but only {self.left} bytes remain in a file of {self.size}",
            path=self.path,
            offset=start,
            count=n,
        )


def parse_header(buf: memoryview, path: str) -> RawHeader:
    """Parse magic, version, metadata and tensor descriptions from ``buf`` (the whole file)."""
    cur = _Cursor(buf, path)
    cur.need(4, "the magic")
    magic = bytes(buf[:4])
    if magic != struct.pack("<I", gguf.GGUF_MAGIC):
        raise MalformedGGUF(f"{path}: bad magic {magic!r} at byte 0 (expected b'GGUF')", path=path)
    cur.pos = 4
    version = cur.u32("the version")
    if version not in SUPPORTED_VERSIONS:
        hint = " (a big-endian file?)" if version & 0xFFFF == 0 and version else ""
        raise UnsupportedVersion(
            f"{path}: GGUF version {version}{hint} is not supported; "
            f"supported: {', '.join(map(str, SUPPORTED_VERSIONS))}",
            path=path,
            version=version,
        )
    n_tensors = cur.u64("the tensor count")
    n_kv = cur.u64("the metadata count")
    for n, limit, what in ((n_tensors, MAX_TENSORS, "tensor"), (n_kv, MAX_KV, "metadata")):
        if n > limit:
            raise MalformedGGUF(
                f"{path}: absurd {what} count {n} (limit {limit})", path=path, count=n
            )
    cur.count(n_kv, 8 + 4 + 1, "the metadata count", 16)
    metadata: dict[str, Any] = {}
    for i in range(n_kv):
        key_at = cur.pos
        key = cur.string(f"metadata key #{i}")
        vtype = cur.u32(f"the type of {key!r}")
        if key in metadata:
            raise MalformedGGUF(f"{path}: duplicate metadata key {key!r}", path=path, key=key)
        metadata[key] = _value(cur, vtype, key, key_at, depth=0)
    alignment = metadata.get("general.alignment", gguf.GGUF_DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0 or (
        alignment & (alignment - 1)
    ):
        raise MalformedGGUF(f"{path}: general.alignment {alignment!r} is not a power of two")
    cur.count(n_tensors, 8 + 4 + 4 + 8, "the tensor count", 8)
    tensors = [_tensor_info(cur, i) for i in range(n_tensors)]
    data_offset = -(-cur.pos // alignment) * alignment
    return RawHeader(version, metadata, tensors, alignment, data_offset)


def _value(cur: _Cursor, vtype: int, key: str, at: int, depth: int) -> Any:
    if vtype in _SCALARS:
        value = cur.scalar(vtype, f"the value of {key!r}")
        return float(value) if vtype in (_VT.FLOAT32, _VT.FLOAT64) else value
    if vtype == _VT.STRING:
        return cur.string(f"the value of {key!r}")
    if vtype == _VT.ARRAY:
        if depth >= MAX_ARRAY_DEPTH:
            raise MalformedGGUF(f"{cur.path}: {key!r} nests arrays deeper than {MAX_ARRAY_DEPTH}")
        item_type = cur.u32(f"the item type of {key!r}")
        start = cur.pos
        n = cur.u64(f"the length of {key!r}")
        if item_type not in _MIN_SIZE:
            raise _bad_type(cur, item_type, key, at, "array item type")
        cur.count(n, _MIN_SIZE[item_type], f"the array {key!r}", start)
        if item_type in _SCALARS:
            _, size, dtype = _SCALARS[item_type]
            arr = np.frombuffer(cur.buf, dtype=dtype, count=n, offset=cur.pos)
            cur.pos += n * size
            return arr.tolist()
        if item_type == _VT.STRING:
            return [cur.string(f"item {j} of {key!r}") for j in range(n)]
        return [_value(cur, _VT.ARRAY, f"{key}[{j}]", at, depth + 1) for j in range(n)]
    raise _bad_type(cur, vtype, key, at)


def _bad_type(
    cur: _Cursor, vtype: int, key: str, at: int, what: str = "value type"
) -> MalformedGGUF:
    return MalformedGGUF(
        f"{cur.path}: metadata {key!r} at byte {at} has unknown {what} {vtype}",
        path=cur.path,
        key=key,
        value_type=vtype,
    )


def _tensor_info(cur: _Cursor, i: int) -> RawTensorInfo:
    at = cur.pos
    name = cur.string(f"the name of tensor #{i}")
    n_dims = cur.u32(f"the rank of tensor {name!r}")
    if not 1 <= n_dims <= GGML_MAX_DIMS:
        raise MalformedGGUF(
            f"{cur.path}: tensor {name!r} at byte {at} has rank {n_dims} "
            f"(GGUF allows 1 to {GGML_MAX_DIMS})",
            path=cur.path,
            tensor=name,
        )
    ne = tuple(cur.u64(f"dimension {d} of tensor {name!r}") for d in range(n_dims))
    ggml_type = cur.u32(f"the type of tensor {name!r}")
    offset = cur.u64(f"the data offset of tensor {name!r}")
    return RawTensorInfo(name, ne, ggml_type, offset)
