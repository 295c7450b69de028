"""Transformer blocks on Tensors: RoPE and attention against the numpy reference, KV cache,
grouped-query heads, dropout, and the small GPT against its torch twin."""

from __future__ import annotations

import numpy as np
import pytest

import psionic.array as pa
from psionic.nn import functional as F
from psionic.nn import tensor_ops as T
from psionic.nn.gpt import GPT, GPTConfig
from psionic.nn.transformer import GLU, MLP, CausalSelfAttention, Dropout, KVCache

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("neox", [True, False])
@pytest.mark.parametrize("rope_dim", [8, 4])
def test_rope_matches_numpy_reference(neox: bool, rope_dim: int) -> None:
    x = RNG.standard_normal((5, 2, 8)).astype(np.float32)
    positions = np.arange(3, 8)
    freqs = F.rope_frequencies(rope_dim, 10000.0)
    ours = T.apply_rope(pa.tensor(x), positions, freqs, neox).numpy()
    np.testing.assert_allclose(ours, F.apply_rope(x, positions, freqs, neox), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("window", [None, 3])
def test_attention_matches_numpy_reference_with_gqa(window: int | None) -> None:
    q = RNG.standard_normal((4, 4, 8)).astype(np.float32)
    k = RNG.standard_normal((6, 2, 8)).astype(np.float32)
    v = RNG.standard_normal((6, 2, 8)).astype(np.float32)
    ours = T.attention(pa.tensor(q), pa.tensor(k), pa.tensor(v), 2, 0.35, window).numpy()
    np.testing.assert_allclose(ours, F.causal_attention(q, k, v, 2, 0.35, window), rtol=1e-5, atol=1e-6)


def test_kv_cache_decoding_equals_full_sequence_with_gqa() -> None:
    attn = CausalSelfAttention(16, n_heads=4, n_kv_heads=2, rng=np.random.default_rng(1))
    x = pa.randn((2, 6, 16), seed=2)
    full = attn(x).numpy()
    cache = KVCache()
    first = attn(x[:, :4], cache=cache)
    rest = [attn(x[:, t:t + 1], cache=cache) for t in range(4, 6)]
    assert cache.length == 6
    np.testing.assert_allclose(pa.concat([first, *rest], 1).numpy(), full, rtol=1e-5, atol=1e-5)


def test_dropout_only_in_training_and_keeps_expectation() -> None:
    drop = Dropout(0.5, np.random.default_rng(0))
    x = pa.ones((200, 50))
    assert drop(x) is x  # eval mode by default
    drop.train()
    y = drop(x).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs(y.mean() - 1.0) < 0.05


def test_mlp_and_glu_shapes_and_gradients_reach_every_weight() -> None:
    for block in (MLP(8, 32, np.random.default_rng(0)), GLU(8, 16, np.random.default_rng(0))):
        out = block(pa.randn((3, 8), seed=1))
        assert out.shape == (3, 8)
        out.sum().backward()
        assert all(p.grad is not None for p in block.parameters())


def test_gpt_loss_and_gradients_match_torch_twin() -> None:
    pytest.importorskip("torch")
    import torch

    from psionic.cli.bench_train import torch_twin

    cfg = GPTConfig(vocab_size=50, n_layers=2, d_model=32, n_heads=4, seq_len=12)
    model = GPT(cfg, seed=3)
    ids = np.random.default_rng(4).integers(0, 50, (2, 12))
    targets = np.random.default_rng(5).integers(0, 50, (2, 12))
    twin = torch_twin(model)
    loss = model.loss(pa.tensor(ids), pa.tensor(targets))
    loss.backward()
    t_loss = torch.nn.functional.cross_entropy(
        twin(torch.from_numpy(ids)).reshape(-1, 50), torch.from_numpy(targets).reshape(-1))
    t_loss.backward()
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-5)
    for name, p in model.named_parameters():
        tp = twin.p[name.replace(".", "__")]
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=2e-3, atol=2e-5, err_msg=name)


def test_gpt_gradient_checkpointing_gives_the_same_gradients() -> None:
    cfg = GPTConfig(vocab_size=40, n_layers=2, d_model=16, n_heads=2, seq_len=8)
    ids = pa.tensor(np.random.default_rng(6).integers(0, 40, (2, 8)))
    targets = pa.tensor(np.random.default_rng(7).integers(0, 40, (2, 8)))
    grads = []
    for flag in (False, True):
        model = GPT(cfg, seed=8)
        model.gradient_checkpointing = flag
        model.loss(ids, targets).backward()
        grads.append({n: p.grad.numpy() for n, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        np.testing.assert_allclose(grads[1][name], grads[0][name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_training_on_the_cpu_backend_is_bit_reproducible() -> None:
    from psionic.array.cpu_parallel import THREADS, set_num_threads
    from psionic.nn.optim import AdamW

    cfg = GPTConfig(vocab_size=64, n_layers=2, d_model=64, n_heads=4, seq_len=32)
    ids = pa.tensor(np.random.default_rng(9).integers(0, 64, (4, 32)))
    before = THREADS.count
    set_num_threads(2)
    try:
        runs = []
        for _ in range(2):
            model = GPT(cfg, seed=10)
            opt = AdamW(model.trainable_parameters(), lr=1e-2)
            for _ in range(2):
                opt.zero_grad()
                model.loss(ids, ids).backward()
                opt.step()
            runs.append([p.data.copy() for p in model.parameters()])
    finally:
        set_num_threads(before)
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)
