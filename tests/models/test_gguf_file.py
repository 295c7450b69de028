from __future__ import annotations

import doctest
import struct
from pathlib import Path

import gguf
import ml_dtypes
import numpy as np
import pytest
from gguf_bytes import VT, RawGGUF, kv, string, tensor_info, tiny_model

from psionic.core.errors import (
    MalformedGGUF,
    MissingTensor,
    ModelNotFound,
    TensorShapeMismatch,
    UnknownArchitecture,
)
from psionic.models import gguf_file, gguf_header
from psionic.models.catalog import CatalogEntry
from psionic.models.gguf_file import GGUFModelFile


def write(tmp_path: Path, raw: RawGGUF | bytes, name: str = "m.gguf") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(raw))
    return path


# --- the real files -------------------------------------------------------------


def test_smollm2_file(smollm_gguf: GGUFModelFile) -> None:
    f = smollm_gguf
    assert (f.architecture, f.version, len(f.tensors)) == ("llama", 3, 272)
    assert f.require("llama.block_count", int) == 30
    assert f.arch_meta("embedding_length") == 576
    assert f.meta("tokenizer.ggml.pre") == "smollm"
    assert len(f.meta("tokenizer.ggml.tokens")) == 49152
    emb = f.tensor("token_embd.weight", expected_shape=(49152, 576))
    assert emb.dtype.name == "q8_0"
    assert emb.data.shape == (49152, 576 // 32 * 34) and emb.data.dtype == np.uint8
    norm = f.tensor("blk.0.attn_norm.weight", expected_shape=(576,))
    assert norm.dtype.name == "f32" and norm.data.dtype == np.float32
    # Zero-copy: views of the read-only map, not arrays of their own.
    assert not emb.data.flags.owndata and not emb.data.flags.writeable
    assert {t.dtype.name for t in f.tensors.values()} == {"q4_1", "q8_0", "f32"}


def test_gemma3_file(gemma_gguf: GGUFModelFile) -> None:
    f = gemma_gguf
    assert (f.architecture, len(f.tensors)) == ("gemma3", 236)
    assert {t.dtype.name for t in f.tensors.values()} == {"f32", "q4_k", "q5_0", "q6_k", "q8_0"}
    k = f.tensor("blk.0.attn_k.weight", expected_shape=(256, 640))
    assert k.dtype.name == "q5_0" and k.data.shape == (256, 640 // 32 * 22)
    assert f.meta("tokenizer.chat_template") is None


def test_file_digest_is_lazy_and_matches_the_catalog(smollm_path: Path) -> None:
    f = GGUFModelFile.open(smollm_path)
    assert "digest" not in f.__dict__
    assert f.digest == CatalogEntry.get("smollm2-135m-instruct").expected_digest
    assert "digest" in f.__dict__


@pytest.mark.slow
def test_smollm2_matches_gguf_reader(smollm_gguf: GGUFModelFile, smollm_path: Path) -> None:
    reader = gguf.GGUFReader(smollm_path)
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        assert smollm_gguf.metadata[name] == field.contents(), name
    for t in reader.tensors:
        info = smollm_gguf.tensors[t.name]
        assert info.shape == tuple(int(d) for d in reversed(t.shape))
        assert info.data.tobytes() == t.data.tobytes()


# --- helpers ----------------------------------------------------------------------


def test_helpers_raise_typed_errors_naming_the_problem(tmp_path: Path) -> None:
    f = GGUFModelFile.open(write(tmp_path, tiny_model()))
    assert f.meta("absent.key", 7) == 7
    with pytest.raises(MalformedGGUF, match="'absent.key' is missing") as e:
        f.require("absent.key")
    assert e.value.details["key"] == "absent.key"
    with pytest.raises(MalformedGGUF, match="expected str"):
        f.require("llama.block_count", str)
    with pytest.raises(MissingTensor, match="'b.weight'") as missing:
        f.tensor("b.weight")
    assert missing.value.code == "missing_tensor" and missing.value.details["tensor"] == "b.weight"
    with pytest.raises(TensorShapeMismatch, match=r"\(2, 4\), expected \(4, 2\)") as shape:
        f.tensor("a.weight", expected_shape=(4, 2))
    assert shape.value.details["expected"] == [4, 2]
    assert f.tensor("a.weight", (2, 4)).data.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    q = f.tensor("q.weight", (1, 32))
    assert q.data.shape == (1, 34) and q.data[0, 2:].tolist() == list(range(32))


def test_architecture_registry_can_be_passed_in(tmp_path: Path) -> None:
    path = write(tmp_path, tiny_model("phi3"))
    with pytest.raises(UnknownArchitecture, match="'phi3'"):
        GGUFModelFile.open(path)
    assert GGUFModelFile.open(path, architectures={"phi3"}).architecture == "phi3"
    assert GGUFModelFile.open(path, architectures=None).architecture == "phi3"


def test_matches_gguf_writer_and_reader(tmp_path: Path) -> None:
    path = tmp_path / "w.gguf"
    w = gguf.GGUFWriter(path, "qwen3")
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -5)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -300)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -7)
    w.add_float32("t.f32", 0.25)
    w.add_uint64("t.u64", 1 << 40)
    w.add_int64("t.i64", -(1 << 40))
    w.add_float64("t.f64", 1e-300)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo ✓")
    w.add_array("t.ints", [1, 2, 3])
    w.add_array("t.strs", ["a", "", "ß"])
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal((3, 5)).astype(np.float32)
    f16 = rng.standard_normal((2, 8)).astype(np.float16)
    bf16 = rng.standard_normal((4,)).astype(ml_dtypes.bfloat16)
    q8 = rng.integers(0, 256, (2, 68), dtype=np.uint8)  # two rows of two q8_0 blocks
    w.add_tensor("f32", f32)
    w.add_tensor("f16", f16)
    w.add_tensor("bf16", bf16.view(np.uint16), raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.add_tensor("q8", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    f = GGUFModelFile.open(path)
    reader = gguf.GGUFReader(path)
    for name, field in reader.fields.items():
        if not name.startswith("GGUF."):
            expected = field.contents()
            got = f.metadata[name]
            assert got == pytest.approx(expected) if isinstance(got, float) else got == expected
    assert f.metadata["t.str"] == "héllo ✓" and f.metadata["t.strs"] == ["a", "", "ß"]
    assert f.metadata["t.f32"] == 0.25 and f.metadata["t.bool"] is True
    np.testing.assert_array_equal(f.tensor("f32", (3, 5)).data, f32)
    np.testing.assert_array_equal(f.tensor("f16", (2, 8)).data, f16)
    bf = f.tensor("bf16", (4,))
    assert bf.dtype.name == "bf16" and bf.data.tobytes() == bf16.tobytes()
    q = f.tensor("q8", (2, 64))
    assert q.dtype.name == "q8_0" and q.data.shape == (2, 68)
    np.testing.assert_array_equal(q.data, q8)
    for t in reader.tensors:
        assert f.tensors[t.name].data.tobytes() == t.data.tobytes()


def test_doctests_run() -> None:
    for module in (gguf_file, gguf_header):
        assert doctest.testmod(module).failed == 0


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        GGUFModelFile.open(tmp_path / "absent.gguf")
    with pytest.raises(Exception) as e:
        GGUFModelFile.open(tmp_path)
    assert getattr(e.value, "code", None) == "invalid_input"


# Small files with one defect each: (case, file, expected error code).
def _synthetic_corpus() -> list[tuple[str, RawGGUF | bytes, str]]:
    arch = kv("general.architecture", VT.STRING, "llama")
    f32 = tensor_info("a", (4,), 0, 0)
    data = bytes(16)
    cases: list[tuple[str, RawGGUF | bytes, str]] = [
        ("empty", b"", "truncated_file"),
        ("magic only", b"GGUF", "truncated_file"),
        ("bad magic", RawGGUF(magic=b"GGUX", kvs=[arch]), "malformed_gguf"),
        ("version 1", RawGGUF(version=1, kvs=[arch]), "unsupported_version"),
        ("version 4", RawGGUF(version=4, kvs=[arch]), "unsupported_version"),
        ("big-endian", RawGGUF(version=3 << 24, kvs=[arch]), "unsupported_version"),
        ("no architecture", RawGGUF(kvs=[kv("general.name", VT.STRING, "x")]), "malformed_gguf"),
        (
            "architecture not a string",
            RawGGUF(kvs=[kv("general.architecture", VT.UINT32, 1)]),
            "malformed_gguf",
        ),
        ("unknown architecture", RawGGUF(kvs=[kv("general.architecture", VT.STRING, "gpt9")]),
         "unknown_architecture"),
        ("absurd tensor count", RawGGUF(kvs=[arch], n_tensors=1 << 62), "malformed_gguf"),
        ("absurd kv count", RawGGUF(kvs=[arch], n_kv=1 << 40), "malformed_gguf"),
        ("kv count past the end", RawGGUF(kvs=[arch], n_kv=1000), "truncated_file"),
        ("tensor count past the end", RawGGUF(kvs=[arch], n_tensors=1000), "truncated_file"),
        (
            "absurd key length",
            RawGGUF(kvs=[struct.pack("<Q", 1 << 60) + b"general"]),
            "malformed_gguf",
        ),
        (
            "absurd string value",
            RawGGUF(kvs=[arch, string("k") + struct.pack("<IQ", VT.STRING, 1 << 61)]),
            "malformed_gguf",
        ),
        ("unknown value type", RawGGUF(kvs=[arch, string("k") + struct.pack("<I", 13)]),
         "malformed_gguf"),
        (
            "unknown array item type",
            RawGGUF(kvs=[arch, string("k") + struct.pack("<IIQ", VT.ARRAY, 99, 1)]),
            "malformed_gguf",
        ),
        (
            "absurd array length",
            RawGGUF(kvs=[arch, string("k") + struct.pack("<IIQ", VT.ARRAY, VT.UINT32, 1 << 59)]),
            "malformed_gguf",
        ),
        (
            "arrays nested too deep",
            RawGGUF(
                kvs=[
                    arch,
                    string("k")
                    + struct.pack("<IIQ", VT.ARRAY, VT.ARRAY, 1)
                    + struct.pack("<IQ", VT.ARRAY, 1)
                    + struct.pack("<IQ", VT.UINT8, 1)
                    + b"\0",
                ]
            ),
            "malformed_gguf",
        ),
        ("invalid utf-8 key", RawGGUF(kvs=[arch, b"\x02\0\0\0\0\0\0\0\xff\xfe" + struct.pack("<IB", VT.UINT8, 0)]),
         "malformed_gguf"),
        ("duplicate key", RawGGUF(kvs=[arch, arch]), "malformed_gguf"),
        (
            "alignment not a power of two",
            RawGGUF(kvs=[arch, kv("general.alignment", VT.UINT32, 24)]),
            "malformed_gguf",
        ),
        ("rank 0", RawGGUF(kvs=[arch], tensors=[tensor_info("a", (), 0, 0)], data=data),
         "malformed_gguf"),
        ("rank 5", RawGGUF(kvs=[arch], tensors=[tensor_info("a", (1,) * 5, 0, 0)], data=data),
         "malformed_gguf"),
        ("IQ2_XXS tensor", RawGGUF(kvs=[arch], tensors=[tensor_info("a", (256,), 16, 0)],
                                   data=bytes(66)), "unsupported_quant_type"),
        ("unknown type id", RawGGUF(kvs=[arch], tensors=[tensor_info("a", (4,), 999, 0)], data=data),
         "unsupported_quant_type"),
        ("partial quant block", RawGGUF(kvs=[arch], tensors=[tensor_info("a", (33,), 8, 0)],
                                        data=bytes(68)), "malformed_gguf"),
        ("misaligned offset", RawGGUF(kvs=[arch], tensors=[tensor_info("a", (4,), 0, 4)], data=data * 2),
         "malformed_gguf"),
        ("data past the end", RawGGUF(kvs=[arch], tensors=[f32], data=bytes(8)), "truncated_file"),
        ("offset past the end", RawGGUF(kvs=[arch], tensors=[tensor_info("a", (4,), 0, 1 << 40)],
                                        data=data), "truncated_file"),
        ("absurd dims", RawGGUF(kvs=[arch], tensors=[tensor_info("a", (1 << 62, 1 << 62), 0, 0)],
                                data=data), "malformed_gguf"),
        ("duplicate tensor", RawGGUF(kvs=[arch], tensors=[f32, tensor_info("a", (4,), 0, 32)],
                                     data=data + bytes(16) + data), "malformed_gguf"),
        ("overlapping tensors", RawGGUF(kvs=[arch], tensors=[f32, tensor_info("b", (8,), 0, 0)],
                                        data=data * 2), "malformed_gguf"),
    ]
    return cases


SYNTHETIC = _synthetic_corpus()


@pytest.mark.parametrize(("case", "raw", "code"), SYNTHETIC, ids=[c[0] for c in SYNTHETIC])
def test_synthetic_corpus(tmp_path: Path, case: str, raw: RawGGUF | bytes, code: str) -> None:
    with pytest.raises(Exception) as e:
        GGUFModelFile.open(write(tmp_path, raw))
    assert getattr(e.value, "code", None) == code, f"{case}: {e.value!r}"
