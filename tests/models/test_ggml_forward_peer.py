"""numerics="llamacpp" against llama.cpp itself (the peer, default layout): the same float32
logits, bit for bit, in one batch and one token at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from psionic.models.decoder import Segment
from psionic.models.kv_cache import KVCache
from psionic.models.loader import load_model
from psionic.models.parity import load_fixture, repacked_tensors

PEER_PYTHON = Path.home() / ".cache/psionic-peers/llamacpp-0.3.36/bin/python"
FIXTURE = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/fixtures/llamacpp" for i in range(2, 5)) if p.exists()),
    None,
)
FIXTURES = {
    "smollm2-135m-instruct": "public_smollm2-135m-instruct-q4_1.json",
    "gemma3-270m": "public_gemma3-270m-q4_k_m.json",
}
pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(not PEER_PYTHON.exists(), reason="llama.cpp peer not built"),
    pytest.mark.skipif(FIXTURE is None, reason="shared/fixtures/llamacpp is not beside this checkout"),
]


@pytest.mark.parametrize("model", list(FIXTURES))
def test_logits_bit_identical_to_llamacpp(model: str) -> None:
    from psionic.models.peers.llamacpp import LlamaCppPeer

    loaded = load_model(model, numerics="llamacpp")
    cfg = loaded.config
    _, cases = load_fixture(FIXTURE / FIXTURES[model])  # type: ignore[operator]
    tokens = cases[0].tokens[:24]
    rng = np.random.default_rng(0)
    ids = [sorted(set(rng.integers(0, cfg.vocab_size, 200).tolist()) | set(top)) for top, _ in cases[0].top5[:24]]
    with LlamaCppPeer(str(PEER_PYTHON), loaded.path, 2, n_ctx=64, logits_all=True,
                      repack_tensors=repacked_tensors(loaded)) as peer:
        batch = peer.call(op="logits_at", tokens=tokens, ids=ids, batch=True)["logits"]
        alone = peer.call(op="logits_at", tokens=tokens, ids=ids, batch=False)["logits"]
    kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(tokens))
    rows = loaded.model(np.asarray(tokens), [Segment(kv, 0, len(tokens))], logit_rows=np.arange(len(tokens)))
    for r, want, got in zip(ids, batch, rows, strict=True):
        assert np.array_equal(np.float32(want), got[r])
    kv = KVCache(cfg.n_layers, cfg.n_kv_heads, cfg.head_dim, len(tokens))
    for p, (r, want) in enumerate(zip(ids, alone, strict=True)):
        got = loaded.model(np.asarray(tokens[p : p + 1]), [Segment(kv, p, 1)])[0]
        assert np.array_equal(np.float32(want), got[r]), f"position {p}"
