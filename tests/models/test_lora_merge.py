"""Merging an adapter into a new GGUF file gives the logits of base + adapter (F32: to float32
rounding; F16: to F16 rounding of the merged weights), and unmerging gives back the base's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psionic.core.errors import InvalidInput
from psionic.models.gguf_file import GGUFModelFile
from psionic.models.loader import load_model
from psionic.models.lora import adapter_from_model, attach_lora
from psionic.models.lora_config import ALL_TARGETS, AdapterConfig
from psionic.models.lora_merge import META_ADAPTER, merge_adapter, unmerge_adapter

from .synthetic import VOCAB, hf_model, write_family_gguf
from .test_lora_peft import our_logits, randomize

pytest.importorskip("torch")
CASES = {"llama": (2, None, "q4_1"), "gemma3": (6, 8, "q8_0")}


def within(got: np.ndarray, want: np.ndarray, rel: float) -> None:
    assert np.abs(got - want).max() <= rel * np.abs(want).max(), np.abs(got - want).max() / np.abs(want).max()
    assert (got.argmax(-1) == want.argmax(-1)).all()


@pytest.mark.parametrize("family", list(CASES))
def test_merge_matches_base_plus_adapter_and_unmerge_gives_the_base_back(tmp_path: Path, family: str) -> None:
    layers, window, quant = CASES[family]
    base_path = tmp_path / "base.gguf"
    write_family_gguf(base_path, family, hf_model(family, layers, window), quant=quant)
    ids = np.random.default_rng(0).integers(0, VOCAB, 16)
    loaded = load_model(str(base_path))
    base = our_logits(loaded, ids)
    attach_lora(loaded.model, config=AdapterConfig(rank=4, alpha=8.0, targets=ALL_TARGETS,
                                                   base_digest=loaded.model_digest), seed=0)
    randomize(loaded.model, 1)
    adapter = adapter_from_model(loaded.model)
    adapted = our_logits(loaded, ids)
    assert np.abs(adapted - base).max() > 0.05 * np.abs(base).max()

    merged = merge_adapter(base_path, adapter, tmp_path / "merged.gguf")
    within(our_logits(load_model(str(merged)), ids), adapted, 1e-5)
    half = merge_adapter(base_path, adapter, tmp_path / "merged16.gguf", dtype="f16")
    within(our_logits(load_model(str(half)), ids), adapted, 1e-2)
    meta = GGUFModelFile.open(merged).metadata
    assert meta[META_ADAPTER] == adapter.digest and meta["psionic.lora.base_digest"] == loaded.model_digest
    assert len(meta["psionic.lora.merged_tensors"]) == 7 * layers

    again = unmerge_adapter(merged, adapter, tmp_path / "again.gguf")
    within(our_logits(load_model(str(again)), ids), base, 1e-5)
    original, restored = GGUFModelFile.open(base_path), GGUFModelFile.open(again)
    assert META_ADAPTER not in restored.metadata
    assert {n: t.dtype.name for n, t in restored.tensors.items()} == {n: t.dtype.name for n, t in original.tensors.items()}
    same = sum(np.array_equal(restored.tensors[n].data, t.data) for n, t in original.tensors.items())
    # Requantizing base + delta - delta lands on the original blocks for nearly every tensor.
    assert same >= 0.9 * len(original.tensors)


def test_refusals(tmp_path: Path) -> None:
    base_path = tmp_path / "base.gguf"
    write_family_gguf(base_path, "llama", hf_model("llama", 1, None))
    loaded = load_model(str(base_path))
    attach_lora(loaded.model, rank=2, targets=("q_proj",))
    randomize(loaded.model, 0)
    adapter = adapter_from_model(loaded.model)
    with pytest.raises(InvalidInput, match="q4_0"):
        merge_adapter(base_path, adapter, tmp_path / "m.gguf", dtype="q4_0")
    merged = merge_adapter(base_path, adapter, tmp_path / "m.gguf")
    with pytest.raises(InvalidInput, match="already has an adapter"):
        merge_adapter(merged, adapter, tmp_path / "mm.gguf")
    with pytest.raises(InvalidInput, match="no adapter merged"):
        unmerge_adapter(base_path, adapter, tmp_path / "u.gguf")
    randomize(loaded.model, 1)
    other = adapter_from_model(loaded.model)
    with pytest.raises(InvalidInput, match="not sha256"):
        unmerge_adapter(merged, other, tmp_path / "u.gguf")
    bound = AdapterConfig(rank=2, targets=("q_proj",), base_digest="sha256:" + "2" * 64)
    with pytest.raises(InvalidInput, match="made for the model"):
        merge_adapter(base_path, type(adapter)(bound, adapter.weights), tmp_path / "x.gguf")
