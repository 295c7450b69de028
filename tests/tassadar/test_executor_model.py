"""The executor's weights: deterministic compile, committed file, digest, safetensors round trip,
malformed files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from psionic.core.digest import digest_bytes
from psionic.core.errors import DigestMismatch, InvalidInput
from psionic.tassadar.executor.model import WEIGHTS_DIGEST, WEIGHTS_PATH, Model, file_digest


def test_committed_weights_are_what_the_compiler_builds() -> None:
    assert file_digest() == WEIGHTS_DIGEST
    assert digest_bytes(Model.compile().to_bytes()) == WEIGHTS_DIGEST


def test_weights_round_trip_through_safetensors() -> None:
    model = Model.load()
    fresh = Model.compile()
    assert model.features == fresh.features
    for name, arr in fresh.tensors().items():
        assert np.array_equal(model.tensors()[name], arr), name


def test_tampered_weights_are_refused(tmp_path) -> None:
    data = bytearray(WEIGHTS_PATH.read_bytes())
    data[-1] ^= 1
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(DigestMismatch):
        Model.load(bad)


def test_weights_are_universal_and_small() -> None:
    # one file for every program; Percepta's 7 layers plus the four that make the frame base
    # exact and scale the stack keys before the stack is read (frames.py; it is wider too:
    # the card says)
    model = Model.load()
    # stored sparse: nonzero values, their flat indices and each tensor's shape
    assert WEIGHTS_PATH.stat().st_size < 2_000_000
    assert model.n_layers <= 11


def _resaved(mutate) -> bytes:
    from safetensors.numpy import load, save

    data = WEIGHTS_PATH.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + header_len])["__metadata__"]
    tensors = load(data)
    mutate(tensors, meta)
    return save(tensors, metadata=meta)


def _drop(name):
    return lambda t, m: t.pop(name)


def _set(name, value):
    return lambda t, m: t.__setitem__(name, value)


BAD_FILES = [
    ("not bytes of safetensors", lambda: b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}...."),
    ("an older format", lambda: _resaved(lambda t, m: m.__setitem__(
        "psionic", m["psionic"].replace("executor.v2", "executor.v1")))),
    ("a tensor without its shape", lambda: _resaved(_drop("layers.3.w_gate.shape"))),
    ("an index past the shape", lambda: _resaved(_set("unembedding.bias.index",
                                                      np.array([1 << 30], dtype=np.int32)))),
    ("a missing layer tensor", lambda: _resaved(lambda t, m: [t.pop(k) for k in list(t)
                                                             if k.startswith("layers.0.wq")])),
]


@pytest.mark.parametrize("why,make", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_malformed_weights_files_are_refused_by_name(why: str, make) -> None:
    with pytest.raises(InvalidInput):
        Model.from_bytes(make())
