"""The executor's weights: deterministic compile, committed file, digest, safetensors round trip."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.core.digest import digest_bytes
from psionic.core.errors import DigestMismatch
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
    assert WEIGHTS_PATH.stat().st_size < 12_000_000  # 10 MB: calls, memory, division, i64
    assert model.n_layers <= 11
