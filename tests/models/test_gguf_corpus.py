"""A corpus of broken GGUF files made from the real SmolLM2 file and a tiny synthetic one.

Every case must fail with the typed error it names, quickly; random damage
(fixed seeds) must end in a ``PsionicError`` or a valid file, never anything else.
Cases made from the 98 MB file copy only its header and leave the rest sparse,
so each costs what the header costs.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gguf_bytes import tiny_model

from psionic.core.errors import PsionicError
from psionic.models.gguf_file import GGUFModelFile

Patch = Callable[[bytearray, "Layout"], None]


class Layout:
    """Where things are in the SmolLM2 header (found by searching its bytes)."""

    def __init__(self, header: bytes, data_offset: int) -> None:
        self.header = header
        self.data_offset = data_offset
        self.arch_value = header.index(b"general.architecture") + 20 + 4 + 8  # after key, type, len
        self.tokens_key = header.index(b"tokenizer.ggml.tokens")
        self.tokens_item_type = self.tokens_key + 21 + 4
        self.tokens_count = self.tokens_item_type + 4
        self.first_token = self.tokens_count + 8 + 8  # after the count and the first length
        self.tensor0 = header.rindex(b"token_embd.weight") - 8  # at its name's length field
        self.tensor0_rank = self.tensor0 + 8 + len(b"token_embd.weight")
        self.tensor0_type = self.tensor0_rank + 4 + 2 * 8
        self.tensor0_offset = self.tensor0_type + 4
        self.tensor1 = self.tensor0_offset + 8
        (n1,) = struct.unpack_from("<Q", header, self.tensor1)
        (rank1,) = struct.unpack_from("<I", header, self.tensor1 + 8 + n1)
        self.tensor1_offset = self.tensor1 + 8 + n1 + 4 + 8 * rank1 + 4


@pytest.fixture(scope="module")
def smollm_header(smollm_gguf: GGUFModelFile) -> tuple[Layout, int]:
    with open(smollm_gguf.path, "rb") as f:
        header = f.read(smollm_gguf.data_offset)
    return Layout(header, smollm_gguf.data_offset), smollm_gguf.file_size


def _put(fmt: str, where: Callable[[Layout], int], value: int) -> Patch:
    def patch(buf: bytearray, at: Layout) -> None:
        struct.pack_into(fmt, buf, where(at), value)

    return patch


def _bytes(where: Callable[[Layout], int], value: bytes) -> Patch:
    def patch(buf: bytearray, at: Layout) -> None:
        i = where(at)
        buf[i : i + len(value)] = value

    return patch


CORRUPTIONS: list[tuple[str, Patch, str]] = [
    ("bad magic", _bytes(lambda a: 0, b"GGML"), "malformed_gguf"),
    ("version 1", _put("<I", lambda a: 4, 1), "unsupported_version"),
    ("version 99", _put("<I", lambda a: 4, 99), "unsupported_version"),
    ("byte-swapped version", _put("<I", lambda a: 4, 3 << 24), "unsupported_version"),
    ("absurd tensor count", _put("<Q", lambda a: 8, 1 << 63), "malformed_gguf"),
    ("absurd kv count", _put("<Q", lambda a: 16, 1 << 40), "malformed_gguf"),
    ("absurd first key length", _put("<Q", lambda a: 24, 1 << 62), "malformed_gguf"),
    ("first value type 13", _put("<I", lambda a: 24 + 8 + 20, 13), "malformed_gguf"),
    ("architecture renamed", _bytes(lambda a: a.arch_value, b"llamb"), "unknown_architecture"),
    ("architecture key renamed", _bytes(lambda a: 24 + 8 + 19, b"X"), "malformed_gguf"),
    ("token array item type 77", _put("<I", lambda a: a.tokens_item_type, 77), "malformed_gguf"),
    ("absurd token count", _put("<Q", lambda a: a.tokens_count, 1 << 40), "malformed_gguf"),
    ("token not UTF-8", _bytes(lambda a: a.first_token, b"\xff"), "malformed_gguf"),
    ("tensor rank 5", _put("<I", lambda a: a.tensor0_rank, 5), "malformed_gguf"),
    ("tensor type IQ2_XXS", _put("<I", lambda a: a.tensor0_type, 16), "unsupported_quant_type"),
    ("tensor type 200", _put("<I", lambda a: a.tensor0_type, 200), "unsupported_quant_type"),
    ("misaligned tensor", _put("<Q", lambda a: a.tensor0_offset, 1), "malformed_gguf"),
    ("tensor past the end", _put("<Q", lambda a: a.tensor0_offset, 1 << 40), "truncated_file"),
    ("overlapping tensors", _put("<Q", lambda a: a.tensor1_offset, 0), "malformed_gguf"),
]


def _sparse_copy(path: Path, header: bytes, size: int) -> Path:
    """The header as given, then zeros up to ``size`` (sparse: nothing is written)."""
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(size)
    return path


def _code(path: Path) -> str:
    try:
        GGUFModelFile.open(path)
    except PsionicError as e:
        return e.code
    return "ok"


def test_the_sparse_copy_itself_loads(tmp_path: Path, smollm_header: tuple[Layout, int]) -> None:
    layout, size = smollm_header
    assert _code(_sparse_copy(tmp_path / "m.gguf", layout.header, size)) == "ok"


@pytest.mark.parametrize(("case", "patch", "code"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_smollm2_corruptions(
    tmp_path: Path, smollm_header: tuple[Layout, int], case: str, patch: Patch, code: str
) -> None:
    layout, size = smollm_header
    buf = bytearray(layout.header)
    patch(buf, layout)
    assert _code(_sparse_copy(tmp_path / "m.gguf", bytes(buf), size)) == code


TRUNCATIONS = ["0", "3", "4", "8", "20", "24", "52", "60", "1000", "100000", "1500000",
               "data-5", "data", "data+123456", "half", "size-1"]


@pytest.mark.parametrize("where", TRUNCATIONS)
def test_smollm2_truncations(tmp_path: Path, smollm_gguf: GGUFModelFile, where: str) -> None:
    size, data = smollm_gguf.file_size, smollm_gguf.data_offset
    named = {"data-5": data - 5, "data": data, "data+123456": data + 123456,
             "half": size // 2, "size-1": size - 1}
    n = named[where] if where in named else int(where)
    path = tmp_path / "t.gguf"
    with open(smollm_gguf.path, "rb") as src, open(path, "wb") as dst:
        dst.write(src.read(n))
    assert _code(path) == "truncated_file"


def test_every_truncation_of_a_tiny_file(tmp_path: Path) -> None:
    raw = bytes(tiny_model())
    path = tmp_path / "t.gguf"
    for n in range(len(raw)):
        path.write_bytes(raw[:n])
        assert _code(path) == "truncated_file", n
    path.write_bytes(raw)
    assert _code(path) == "ok"


def test_random_damage_to_a_tiny_file(tmp_path: Path) -> None:
    raw = bytes(tiny_model())
    rng = np.random.default_rng(1234)
    path = tmp_path / "d.gguf"
    codes = set()
    for _ in range(400):
        buf = bytearray(raw)
        for i in rng.integers(0, len(raw), rng.integers(1, 4)):
            buf[i] = int(rng.integers(0, 256))
        path.write_bytes(bytes(buf))
        codes.add(_code(path))  # anything but a PsionicError propagates and fails the test
    assert {"malformed_gguf", "ok"} <= codes


def test_random_damage_to_the_smollm2_header(
    tmp_path: Path, smollm_header: tuple[Layout, int]
) -> None:
    layout, size = smollm_header
    rng = np.random.default_rng(99)
    path = tmp_path / "d.gguf"
    # The counts and the first entries, the tensor table, and anywhere at all.
    regions = [(0, 4096), (layout.tensor0 - 64, layout.data_offset), (0, layout.data_offset)]
    for lo, hi in regions:
        for _ in range(4):
            buf = bytearray(layout.header)
            for i in rng.integers(lo, hi, 8):
                buf[i] = int(rng.integers(0, 256))
            _code(_sparse_copy(path, bytes(buf), size))
