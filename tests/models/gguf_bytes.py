"""Build GGUF files byte by byte, so tests can write exactly the damage they want.

``gguf.GGUFWriter`` only writes valid files; these helpers write anything.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import gguf

VT = gguf.GGUFValueType
_FMT = {
    VT.UINT8: "<B", VT.INT8: "<b", VT.UINT16: "<H", VT.INT16: "<h", VT.UINT32: "<I",
    VT.INT32: "<i", VT.FLOAT32: "<f", VT.BOOL: "<?", VT.UINT64: "<Q", VT.INT64: "<q",
    VT.FLOAT64: "<d",
}


def string(s: str | bytes) -> bytes:
    raw = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(raw)) + raw


def value(vtype: int, v: object) -> bytes:
    if vtype == VT.STRING:
        return string(v)  # type: ignore[arg-type]
    return struct.pack(_FMT[vtype], v)


def kv(key: str, vtype: int, v: object) -> bytes:
    return string(key) + struct.pack("<I", vtype) + value(vtype, v)


def kv_array(key: str, item_type: int, items: list[object]) -> bytes:
    body = b"".join(value(item_type, x) for x in items)
    return string(key) + struct.pack("<IIQ", VT.ARRAY, item_type, len(items)) + body


def tensor_info(name: str, ne: tuple[int, ...], ggml_type: int, offset: int) -> bytes:
    return (
        string(name)
        + struct.pack("<I", len(ne))
        + b"".join(struct.pack("<Q", d) for d in ne)
        + struct.pack("<IQ", ggml_type, offset)
    )


@dataclass
class RawGGUF:
    """A GGUF file as parts; ``bytes()`` assembles it with aligned data."""

    kvs: list[bytes] = field(default_factory=list)
    tensors: list[bytes] = field(default_factory=list)
    data: bytes = b""
    version: int = 3
    magic: bytes = b"GGUF"
    alignment: int = 32
    n_tensors: int | None = None  # override the counts to lie about them
    n_kv: int | None = None

    def __bytes__(self) -> bytes:
        head = (
            self.magic
            + struct.pack("<I", self.version)
            + struct.pack("<Q", len(self.tensors) if self.n_tensors is None else self.n_tensors)
            + struct.pack("<Q", len(self.kvs) if self.n_kv is None else self.n_kv)
            + b"".join(self.kvs)
            + b"".join(self.tensors)
        )
        pad = -len(head) % self.alignment
        return head + b"\0" * pad + self.data


def tiny_model(arch: str = "llama") -> RawGGUF:
    """A valid file: an architecture, a block count, one f32 (2, 4) tensor and one q8_0 row."""
    f32 = struct.pack("<8f", *range(8))
    q8 = struct.pack("<e", 0.5) + bytes(range(32))  # one q8_0 block: f16 scale + 32 int8
    return RawGGUF(
        kvs=[kv("general.architecture", VT.STRING, arch), kv(f"{arch}.block_count", VT.UINT32, 1)],
        tensors=[
            tensor_info("a.weight", (4, 2), 0, 0),
            tensor_info("q.weight", (32, 1), 8, 32),
        ],
        data=f32 + q8,
    )
