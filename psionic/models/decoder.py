"""The decoder-only transformer that the GGUF families share.

A family file reads its GGUF metadata into a ``DecoderConfig`` and names its
tensors; the blocks here do the arithmetic. Features differ by flag, not by
copy: grouped-query attention, RoPE in pairs or halves, QK-norm, Gemma's
sandwich norms and scaled embeddings, sliding-window layers, attention biases.

A forward step takes a *flat batch*: the new tokens of several sequences
concatenated (N tokens in all), each sequence a ``Segment`` naming its KV
cache and how many tokens it already holds. Every matmul runs once over all N
rows; only attention runs per segment, against that segment's own cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from psionic.array import Tensor
from psionic.nn import functional as F
from psionic.nn import tensor_ops as T
from psionic.nn.layers import Embedding, Linear, RMSNorm
from psionic.nn.module import Module, ModuleList

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "silu": F.silu,
    "gelu_tanh": F.gelu_tanh,
}

# The same blocks run on numpy arrays (inference: kernels, KV caches, batches of
# sequences) and on Tensors (training: the autodiff tape, one whole sequence).
Activation = Any


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


@dataclass(frozen=True, slots=True)
class DecoderConfig:
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    vocab_size: int
    context_length: int
    rms_eps: float
    rope_base: float
    rope_dim: int
    rope_neox: bool
    attn_scale: float
    activation: str = "silu"
    qk_norm: bool = False
    sandwich_norm: bool = False
    embed_scale: float | None = None
    sliding_window: int | None = None
    # Per layer: True where the layer attends within the sliding window only.
    sliding_layers: tuple[bool, ...] = ()
    rope_base_sliding: float | None = None
    final_logit_softcap: float | None = None

    def is_sliding(self, layer: int) -> bool:
        return bool(self.sliding_layers) and self.sliding_layers[layer]


class KVStore(Protocol):
    """Where one sequence keeps its keys and values; it also runs attention over them,
    so a paged store can read its blocks in place."""

    def write(self, layer: int, start: int, k: np.ndarray, v: np.ndarray) -> None: ...

    def read(self, layer: int, end: int) -> tuple[np.ndarray, np.ndarray]: ...

    def attend(
        self, layer: int, q: np.ndarray, start: int, scale: float, window: int | None
    ) -> np.ndarray: ...


@dataclass(slots=True)
class Segment:
    """``length`` new tokens of one sequence whose cache already holds ``start`` tokens.

    ``adapter`` names a LoRA adapter installed in the model (see ``lora_bank``) that
    this sequence runs with; None runs the base weights.
    """

    kv: KVStore
    start: int
    length: int
    adapter: str | None = None


# The rows of the running flat batch that use an adapter, as (adapter, first row, end row)
# per segment; set by ``DecoderModel.forward`` for the adapted projections to read, so
# sequences with different adapters (or none) share every matmul of one forward.
BATCH_ADAPTERS: ContextVar[tuple[tuple[str, int, int], ...]] = ContextVar("batch_adapters", default=())


def adapter_rows(segments: Sequence[Segment]) -> tuple[tuple[str, int, int], ...]:
    rows, row = [], 0
    for seg in segments:
        if seg.adapter is not None:
            rows.append((seg.adapter, row, row + seg.length))
        row += seg.length
    return tuple(rows)


@dataclass(slots=True)
class StepFacts:
    """What a forward step did, for receipts and metrics (mutable: filled while running)."""

    tokens: int = 0
    segments: int = 0
    attention_keys: list[int] = field(default_factory=list)


class TensorGetter(Protocol):
    """Returns the tensor ``name`` checked against ``shape`` (numpy order); with
    ``optional`` a missing tensor gives None instead of ``MissingTensor``."""

    def __call__(self, name: str, shape: tuple[int, ...], optional: bool = False) -> Any: ...


class Attention(Module):
    def __init__(self, cfg: DecoderConfig, layer: int, get: TensorGetter, prefix: str) -> None:
        super().__init__()
        self.cfg = cfg
        self.layer = layer
        q_dim, kv_dim, d = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim, cfg.d_model

        def linear(name: str, out_dim: int, in_dim: int) -> Linear:
            weight = get(f"{prefix}.{name}.weight", (out_dim, in_dim))
            return Linear(weight, get(f"{prefix}.{name}.bias", (out_dim,), optional=True))

        self.q_proj = linear("attn_q", q_dim, d)
        self.k_proj = linear("attn_k", kv_dim, d)
        self.v_proj = linear("attn_v", kv_dim, d)
        self.o_proj = linear("attn_output", d, q_dim)
        if cfg.qk_norm:
            self.q_norm = RMSNorm(get(f"{prefix}.attn_q_norm.weight", (cfg.head_dim,)), cfg.rms_eps)
            self.k_norm = RMSNorm(get(f"{prefix}.attn_k_norm.weight", (cfg.head_dim,)), cfg.rms_eps)
        sliding = cfg.is_sliding(layer)
        base = cfg.rope_base_sliding if sliding and cfg.rope_base_sliding else cfg.rope_base
        self.freqs = F.rope_frequencies(cfg.rope_dim, base)
        self.window = cfg.sliding_window if sliding else None

    def forward(self, x: Activation, positions: np.ndarray, segments: Sequence[Segment],
                documents: np.ndarray | None = None) -> Activation:
        cfg = self.cfg
        n = x.shape[0]
        q = self.q_proj(x).reshape(n, cfg.n_heads, cfg.head_dim)
        k = self.k_proj(x).reshape(n, cfg.n_kv_heads, cfg.head_dim)
        v = self.v_proj(x).reshape(n, cfg.n_kv_heads, cfg.head_dim)
        if cfg.qk_norm:
            q = self.q_norm(q)
            k = self.k_norm(k)
        rope = T.apply_rope if _is_tensor(x) else F.apply_rope
        q = rope(q, positions, self.freqs, cfg.rope_neox)
        k = rope(k, positions, self.freqs, cfg.rope_neox)
        if _is_tensor(x):
            # Training: one whole sequence, no cache; the tape records every step.
            out_t = T.attention(q, k, v, 0, cfg.attn_scale, self.window, documents)
            return self.o_proj(out_t.reshape(n, cfg.n_heads * cfg.head_dim))
        out = np.empty((n, cfg.n_heads, cfg.head_dim), dtype=np.float32)
        row = 0
        for seg in segments:
            rows = slice(row, row + seg.length)
            seg.kv.write(self.layer, seg.start, k[rows], v[rows])
            out[rows] = seg.kv.attend(self.layer, q[rows], seg.start, cfg.attn_scale, self.window)
            row += seg.length
        return self.o_proj(out.reshape(n, cfg.n_heads * cfg.head_dim))


class MLP(Module):
    """Gated feed-forward: down(act(gate(x)) * up(x))."""

    def __init__(self, cfg: DecoderConfig, get: TensorGetter, prefix: str) -> None:
        super().__init__()
        self.gate_proj = Linear(get(f"{prefix}.ffn_gate.weight", (cfg.d_ff, cfg.d_model)))
        self.up_proj = Linear(get(f"{prefix}.ffn_up.weight", (cfg.d_ff, cfg.d_model)))
        self.down_proj = Linear(get(f"{prefix}.ffn_down.weight", (cfg.d_model, cfg.d_ff)))
        self.activation = cfg.activation

    def forward(self, x: Activation) -> Activation:
        act = (T.ACTIVATIONS if _is_tensor(x) else ACTIVATIONS)[self.activation]
        return self.down_proj(act(self.gate_proj(x)) * self.up_proj(x))


class Block(Module):
    """Pre-norm residual block; with ``sandwich_norm`` the sublayer outputs are normed too."""

    def __init__(self, cfg: DecoderConfig, layer: int, get: TensorGetter) -> None:
        super().__init__()
        prefix = f"blk.{layer}"
        self.cfg = cfg
        d = (cfg.d_model,)
        self.input_layernorm = RMSNorm(get(f"{prefix}.attn_norm.weight", d), cfg.rms_eps)
        self.self_attn = Attention(cfg, layer, get, prefix)
        self.post_attention_layernorm = RMSNorm(get(f"{prefix}.ffn_norm.weight", d), cfg.rms_eps)
        self.mlp = MLP(cfg, get, prefix)
        if cfg.sandwich_norm:
            self.post_attention_norm = RMSNorm(get(f"{prefix}.post_attention_norm.weight", d), cfg.rms_eps)
            self.post_feedforward_norm = RMSNorm(get(f"{prefix}.post_ffw_norm.weight", d), cfg.rms_eps)

    def forward(self, x: Activation, positions: np.ndarray, segments: Sequence[Segment],
                documents: np.ndarray | None = None) -> Activation:
        h = self.self_attn(self.input_layernorm(x), positions, segments, documents)
        if self.cfg.sandwich_norm:
            h = self.post_attention_norm(h)
        x = x + h
        h = self.mlp(self.post_attention_layernorm(x))
        if self.cfg.sandwich_norm:
            h = self.post_feedforward_norm(h)
        return x + h


class DecoderModel(Module):
    """Embedding, ``n_layers`` blocks, final norm and the output projection."""

    def __init__(self, cfg: DecoderConfig, get: TensorGetter) -> None:
        super().__init__()
        self.config = cfg
        table = (cfg.vocab_size, cfg.d_model)
        self.embed_tokens = Embedding(get("token_embd.weight", table))
        self.layers = ModuleList([Block(cfg, i, get) for i in range(cfg.n_layers)])
        self.norm = RMSNorm(get("output_norm.weight", (cfg.d_model,)), cfg.rms_eps)
        output = get("output.weight", table, optional=True)
        # Tied embeddings: the output projection reads the embedding table.
        self.lm_head = Linear(output if output is not None else self.embed_tokens.weight.data)

    def forward(
        self,
        ids: np.ndarray,
        segments: Sequence[Segment],
        logit_rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """Logits (R, vocab) for ``logit_rows`` of the flat batch (default: each segment's last)."""
        ids = np.asarray(ids, dtype=np.int64)
        if sum(s.length for s in segments) != len(ids):
            raise ValueError("segment lengths must add up to the number of tokens")
        positions = np.concatenate([np.arange(s.start, s.start + s.length) for s in segments])
        x = self.embed_tokens(ids)
        if self.config.embed_scale is not None:
            x = x * np.float32(self.config.embed_scale)
        token = BATCH_ADAPTERS.set(adapter_rows(segments))
        try:
            for block in self.layers:
                x = block(x, positions, segments)
        finally:
            BATCH_ADAPTERS.reset(token)
        if logit_rows is None:
            logit_rows = np.cumsum([s.length for s in segments]) - 1
        logits = self.lm_head(self.norm(x[logit_rows]))
        cap = self.config.final_logit_softcap
        if cap:
            logits = np.tanh(logits / cap) * cap
        return logits

    def sequence_logits(self, ids: np.ndarray, rows: np.ndarray | None = None,
                        documents: np.ndarray | None = None) -> Tensor:
        """Logits (T, vocab) at every position of one sequence, as a Tensor on the tape.

        The training path: the same blocks as ``forward``, run on Tensors, so
        gradients reach whatever parameters are trainable (for example LoRA adapters).
        ``rows`` keeps only those positions before the output projection (R, vocab):
        a loss on a few positions then skips the vocabulary-wide product for the rest.
        ``documents`` (T,) marks the example each token belongs to in a packed row: each
        example attends only to itself and its positions start again from 0.
        """
        ids = np.asarray(ids, dtype=np.int64)
        positions = np.arange(len(ids))
        if documents is not None:
            documents = np.asarray(documents, dtype=np.int64)
            first = np.flatnonzero(np.r_[True, documents[1:] != documents[:-1]])
            positions = positions - np.repeat(first, np.diff(np.r_[first, len(ids)]))
        x = self.embed_tokens(Tensor(ids, dtype="i64", backend=self.array_backend))
        if self.config.embed_scale is not None:
            x = x * float(np.float32(self.config.embed_scale))
        for block in self.layers:
            x = block(x, positions, (), documents)
        if rows is not None:
            x = x[np.asarray(rows, dtype=np.int64)]
        logits = self.lm_head(self.norm(x))
        cap = self.config.final_logit_softcap
        if cap:
            logits = (logits * (1.0 / cap)).tanh() * cap
        return logits
