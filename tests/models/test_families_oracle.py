"""Every family against transformers on a small synthetic model with the same weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psionic.models.decoder import Segment
from psionic.models.kv_cache import KVCache
from psionic.models.loader import load_model

from .synthetic import VOCAB, hf_model, write_family_gguf

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

CASES = [
    ("llama", 2, None),
    ("mistral", 2, 8),
    ("qwen2", 2, None),
    ("qwen3", 2, None),
    ("gemma3", 6, 8),  # layers 0-4 slide over 8 positions, layer 5 is global
]
SEQ = 24


def run_ours(path: Path, ids: np.ndarray, split: int) -> np.ndarray:
    """All-position logits, prefilling ``split`` tokens and then the rest in a second step."""
    loaded = load_model(str(path))
    cfg = loaded.config
    kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(ids))
    first = loaded.model(ids[:split], [Segment(kv, 0, split)], logit_rows=np.arange(split))
    rest = loaded.model(ids[split:], [Segment(kv, split, len(ids) - split)], logit_rows=np.arange(len(ids) - split))
    return np.concatenate([first, rest])


@pytest.mark.parametrize("family, layers, window", CASES, ids=[c[0] for c in CASES])
def test_logits_match_transformers(tmp_path: Path, family: str, layers: int, window: int | None) -> None:
    model = hf_model(family, layers, window)
    path = tmp_path / f"{family}.gguf"
    write_family_gguf(path, family, model)
    ids = np.random.default_rng(1).integers(0, VOCAB, SEQ)
    with torch.no_grad():
        expected = model(torch.tensor(ids[None])).logits[0].float().numpy()
    ours = run_ours(path, ids, split=SEQ - 5)
    scale = np.abs(expected).max()
    assert np.abs(ours - expected).max() <= 2e-3 * scale, f"{family}: logits differ"
    assert (ours.argmax(-1) == expected.argmax(-1)).all()


@pytest.mark.parametrize("family", ["llama", "gemma3"])
def test_quantized_weights_stay_close(tmp_path: Path, family: str) -> None:
    layers, window = (2, None) if family == "llama" else (6, 8)
    model = hf_model(family, layers, window)
    path = tmp_path / f"{family}-q8.gguf"
    write_family_gguf(path, family, model, quant="q8_0")
    ids = np.random.default_rng(2).integers(0, VOCAB, SEQ)
    with torch.no_grad():
        expected = model(torch.tensor(ids[None])).logits[0].float().numpy()
    ours = run_ours(path, ids, split=SEQ)
    cos = (ours * expected).sum(-1) / np.linalg.norm(ours, axis=-1) / np.linalg.norm(expected, axis=-1)
    assert cos.min() > 0.99
