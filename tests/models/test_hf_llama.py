"""The transformers twin of a llama GGUF model (the LoRA benchmark's peer) computes our logits; on
SmolLM2 itself (slow) a psionic adapter exported to PEFT and loaded by peft onto the twin gives the
logits psionic gives with that adapter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psionic.core.errors import UnsupportedOperation
from psionic.models.loader import load_model
from psionic.models.lora import adapter_from_model, attach_lora
from psionic.models.lora_config import ALL_TARGETS, AdapterConfig
from psionic.models.lora_peft import save_peft
from psionic.models.peers.hf_llama import hf_llama

from .synthetic import VOCAB, hf_model, write_family_gguf
from .test_lora_peft import our_logits, randomize

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")


def test_twin_of_a_quantized_llama_computes_our_logits(tmp_path: Path) -> None:
    path = tmp_path / "llama.gguf"
    write_family_gguf(path, "llama", hf_model("llama", 2, None), quant="q4_1")
    loaded = load_model(str(path))
    ids = np.random.default_rng(0).integers(0, VOCAB, 10)
    with torch.no_grad():
        twin = hf_llama(loaded)(torch.tensor(ids[None])).logits[0].numpy()
    ours = our_logits(loaded, ids)
    assert np.abs(twin - ours).max() <= 1e-4 * np.abs(ours).max()


def test_twin_refuses_other_families(tmp_path: Path) -> None:
    path = tmp_path / "gemma.gguf"
    write_family_gguf(path, "gemma3", hf_model("gemma3", 1, None))
    with pytest.raises(UnsupportedOperation, match="llama family"):
        hf_llama(load_model(str(path)))


@pytest.mark.slow
def test_smollm2_adapter_in_peft_matches_ours(tmp_path: Path) -> None:
    loaded = load_model("smollm2-135m-instruct")
    twin = hf_llama(loaded)
    ids = np.array([504, 3575, 282, 4649, 314, 7042, 30])
    with torch.no_grad():
        base = twin(torch.tensor(ids[None])).logits[0].numpy()
    attach_lora(loaded.model, config=AdapterConfig(rank=8, alpha=16.0, targets=ALL_TARGETS,
                                                   base_digest=loaded.model_digest), seed=0)
    randomize(loaded.model, 1)
    for p in loaded.model.trainable_parameters():
        p.data *= 0.1
    adapter = adapter_from_model(loaded.model)
    ours = our_logits(loaded, ids)
    assert np.abs(ours - base).max() > 0.02 * np.abs(base).max()  # the adapter matters
    directory = save_peft(adapter, tmp_path / "adapter", loaded.config)
    model = peft.PeftModel.from_pretrained(twin, str(directory)).eval()
    with torch.no_grad():
        theirs = model(torch.tensor(ids[None])).logits[0].numpy()
    assert np.abs(theirs - ours).max() <= 1e-3 * np.abs(ours).max()
    assert (theirs.argmax(-1) == ours.argmax(-1)).all()
