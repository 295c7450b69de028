from __future__ import annotations

import json
import struct
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from psionic.core.errors import MalformedFile, MissingTensor, TruncatedFile
from psionic.models.catalog import CatalogEntry
from psionic.models.safetensors_file import SafetensorsFile


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "a.weight": rng.standard_normal((3, 4)).astype(np.float32),
        "a.bias": rng.standard_normal(3).astype(np.float16),
        "b.ids": np.arange(5, dtype=np.int64),
        "c.empty": np.zeros((0, 2), dtype=np.float32),
    }


def _write_raw(path: Path, header: object, data: bytes, header_len: int | None = None) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if header_len is None else header_len) + raw + data)
    return path


def test_agrees_with_reference_loader(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    tensors = _tensors()
    save_file(tensors, str(path), metadata={"format": "np"})
    f = SafetensorsFile.open(path)
    assert f.metadata == {"format": "np"}
    assert set(f.names()) == set(tensors) and "a.weight" in f and "zzz" not in f
    for name, expected in tensors.items():
        got = f.array(name)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got, expected)
    view = f.array("a.weight")
    assert not view.flags.writeable and not view.flags.owndata  # a view into the mapping
    with pytest.raises(MissingTensor, match="zzz"):
        f.array("zzz")


def test_bf16_tensor(tmp_path: Path) -> None:
    values = np.array([1.0, -2.5, 3.0], dtype=ml_dtypes.bfloat16)
    raw = values.tobytes()
    path = _write_raw(tmp_path / "bf.safetensors", {"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}, raw)
    assert SafetensorsFile.open(path).array("x").astype(np.float32).tolist() == [1.0, -2.5, 3.0]


def test_real_model_file_matches_reference() -> None:
    path = CatalogEntry.get("all-minilm-l6-v2").path()
    ours = SafetensorsFile.open(path)
    reference = load_file(str(path))
    assert set(ours.names()) == set(reference)
    for name in ("embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.bias"):
        assert np.array_equal(ours.array(name), reference[name])


ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
DATA = b"\x00" * 8

# (case, header, data, forced header length, error class, text in the message)
CORPUS = [
    ("header_too_long", {"x": ENTRY}, DATA, 10_000, TruncatedFile, "past the end"),
    ("header_huge", {"x": ENTRY}, DATA, 200_000_000, MalformedFile, "exceeds"),
    ("not_object", [1, 2], b"", None, MalformedFile, "not an object"),
    ("unknown_dtype", {"x": {**ENTRY, "dtype": "F7"}}, DATA, None, MalformedFile, "unknown dtype"),
    ("bad_shape", {"x": {**ENTRY, "shape": [-2]}}, DATA, None, MalformedFile, "shape"),
    ("bool_shape", {"x": {**ENTRY, "shape": [True, 2]}}, DATA, None, MalformedFile, "shape"),
    ("missing_offsets", {"x": {"dtype": "F32", "shape": [2]}}, DATA, None, MalformedFile, "data_offsets"),
    ("reversed_offsets", {"x": {**ENTRY, "data_offsets": [8, 0]}}, DATA, None, MalformedFile, "precedes"),
    ("size_mismatch", {"x": {**ENTRY, "shape": [3]}}, DATA, None, MalformedFile, "needs 12"),
    ("data_truncated", {"x": ENTRY}, DATA[:4], None, TruncatedFile, "holds 4"),
    ("trailing_bytes", {"x": ENTRY}, DATA + b"\x00" * 4, None, MalformedFile, "trailing"),
    (
        "overlap",
        {"x": ENTRY, "y": {**ENTRY, "data_offsets": [4, 12]}},
        DATA + b"\x00" * 4,
        None,
        MalformedFile,
        "overlaps",
    ),
    ("gap", {"x": {**ENTRY, "data_offsets": [4, 12]}}, DATA + b"\x00" * 4, None, MalformedFile, "gap"),
    ("bad_metadata", {"__metadata__": {"k": 1}}, b"", None, MalformedFile, "__metadata__"),
]


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_corpus(tmp_path: Path, case: tuple) -> None:
    name, header, data, header_len, error, text = case
    path = _write_raw(tmp_path / f"{name}.safetensors", header, data, header_len)
    with pytest.raises(error, match=text) as info:
        SafetensorsFile.open(path)
    assert info.value.details["path"] == str(path)
    with pytest.raises(Exception):  # noqa: B017 - the reference rejects it too, with its own type
        load_file(str(path))


@pytest.mark.parametrize("raw", [b"", b"\x01\x02", b"\xff" * 8 + b"{}", struct.pack("<Q", 2) + b"\xff\xfe"])
def test_short_or_undecodable_files(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(raw)
    with pytest.raises(MalformedFile, match=str(path)):
        SafetensorsFile.open(path)
