"""The decoder's forward pass in llama.cpp's numerics (``numerics="llamacpp"``).

``GGMLDecoder`` runs the same weights as ``DecoderModel`` through the kernels
of ``psionic.backends.cpu.ggml``, in the op order of llama.cpp's graphs
(``llm_build_llama``, ``llm_build_gemma3``): every matmul quantizes its
activations to 8-bit blocks, K and V are stored as f16, Q and the attention
weights are rounded to f16, norms sum in double, and the exp, SiLU and GELU
are ggml's. On the formats it supports it reproduces llama.cpp's CPU logits
bit for bit (see docs/PARITY.md for which paths and formats are exact).

It is selected explicitly; the default float32 path and its batch invariance
are untouched. Like llama.cpp, its results depend on the evaluation path: a
forward of one token takes ggml's one-row kernels, two or more its GEMM ones.
Sequences sharing a step are evaluated one by one, so a sequence's bits do not
depend on the others (only on how its own tokens were split into steps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from psionic.backends.cpu.ggml import attention as ggml_attention
from psionic.backends.cpu.ggml import elementwise as ew
from psionic.backends.cpu.ggml import kquant, quant
from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.errors import UnsupportedOperation, UnsupportedQuantType
from psionic.models.decoder import DecoderModel, Segment
from psionic.nn import ops

MATMULS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "q4_1": quant.matmul_q4_1,
    "q8_0": quant.matmul_q8_0,
    "q5_0": quant.matmul_q5_0,
    "q6_k": kquant.matmul_q6_k,
    # llama.cpp repacks Q4_K rows for its x86 GEMM by default (the recordings' layout)
    "q4_k": kquant.matmul_q4_k_repacked,
}
# The families whose llama.cpp graphs this forward follows (checked against llama.cpp's
# tensors); others are refused rather than run in an order nobody compared.
FAMILIES = frozenset({"llama", "gemma3"})
# Families whose llama.cpp graph scales Q before attention (softmax scale 1) instead of
# scaling the scores in the softmax.
SCALES_Q = frozenset({"gemma3"})


def supported_formats() -> list[str]:
    return sorted(MATMULS)


def check_supported(model: DecoderModel) -> None:
    """Refuse a model with a weight format the ggml kernels do not reproduce."""
    for name, p in model.named_parameters():
        if isinstance(p.data, QuantMatrix) and p.data.dtype.name not in MATMULS:
            raise UnsupportedQuantType(
                f"numerics 'llamacpp' has no kernel for {p.data.dtype.name} ({name}); "
                f"it supports {', '.join(supported_formats())}",
                dtype=p.data.dtype.name,
            )


def _linear(x: np.ndarray, lin: Any) -> np.ndarray:
    w = lin.weight.data
    out = MATMULS[w.dtype.name](x, w.data)
    if lin.bias is not None:
        out = out + lin.bias.data
    return out


class GGMLDecoder:
    """``DecoderModel``'s weights, run in llama.cpp's numerics; called like the model."""

    numerics = "llamacpp"

    def __init__(self, model: DecoderModel, architecture: str = "llama") -> None:
        if architecture not in FAMILIES:
            raise UnsupportedOperation(
                f"numerics 'llamacpp' follows llama.cpp's graphs for {', '.join(sorted(FAMILIES))}; "
                f"not {architecture}",
                architecture=architecture,
            )
        check_supported(model)
        self.model = model
        self.config = model.config
        self.scales_q = architecture in SCALES_Q

    def __getattr__(self, name: str) -> Any:  # parameters, named_parameters, ... of the model
        return getattr(self.model, name)

    def __call__(self, ids: np.ndarray, segments: Sequence[Segment],
                 logit_rows: np.ndarray | None = None) -> np.ndarray:
        return self.forward(ids, segments, logit_rows)

    def forward(self, ids: np.ndarray, segments: Sequence[Segment],
                logit_rows: np.ndarray | None = None) -> np.ndarray:
        """Logits (R, vocab) for ``logit_rows`` of the flat batch (default: each segment's last).

        Each segment runs on its own, as llama.cpp evaluates one sequence: its ggml
        kernels choose their order by the number of rows (one-row dots, GEMMs, Q4_K
        groups of four, Q6_K from eight rows), so sharing a step with other sequences
        must not change a sequence's bits.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if sum(s.length for s in segments) != len(ids):
            raise ValueError("segment lengths must add up to the number of tokens")
        if any(s.adapter is not None for s in segments):
            raise UnsupportedOperation("numerics 'llamacpp' does not run LoRA adapters")
        ends = np.cumsum([s.length for s in segments])
        rows = ends - 1 if logit_rows is None else np.asarray(logit_rows, dtype=np.int64)
        out = np.empty((len(rows), self.config.vocab_size), np.float32)
        for seg, end in zip(segments, ends, strict=True):
            first = end - seg.length
            mine = (rows >= first) & (rows < end)
            logits = self._sequence(ids[first:end], seg, rows[mine] - first)
            if logits is not None:
                out[mine] = logits
        return out

    def _sequence(self, ids: np.ndarray, seg: Segment, logit_rows: np.ndarray) -> np.ndarray | None:
        """One sequence's new tokens through every layer; logits at ``logit_rows`` (None if none)."""
        cfg, m = self.config, self.model
        positions = np.arange(seg.start, seg.start + seg.length)
        x = ops.embed(m.embed_tokens.weight.data, ids)
        if cfg.embed_scale is not None:  # ggml_scale by sqrtf(n_embd)
            x = x * np.sqrt(np.float32(cfg.d_model))
        single = len(ids) == 1
        for block in m.layers:
            x = self._block(block, x, positions, [seg], single)
        if not len(logit_rows):
            return None
        h = ew.rms_norm(x[logit_rows], m.norm.weight.data, cfg.rms_eps)
        logits = _linear(h, m.lm_head)
        cap = cfg.final_logit_softcap
        if cap:
            logits = np.tanh(logits / np.float32(cap)) * np.float32(cap)
        return logits

    def _block(self, block: Any, x: np.ndarray, positions: np.ndarray,
               segments: Sequence[Segment], single: bool) -> np.ndarray:
        cfg = self.config
        h = self._attention(block.self_attn, ew.rms_norm(x, block.input_layernorm.weight.data, cfg.rms_eps),
                            positions, segments, single)
        if cfg.sandwich_norm:
            h = ew.rms_norm(h, block.post_attention_norm.weight.data, cfg.rms_eps)
        x = x + h
        n = ew.rms_norm(x, block.post_attention_layernorm.weight.data, cfg.rms_eps)
        mlp = block.mlp
        gate, up = _linear(n, mlp.gate_proj), _linear(n, mlp.up_proj)
        h = _linear(ACTIVATIONS[cfg.activation](gate, up), mlp.down_proj)
        if cfg.sandwich_norm:
            h = ew.rms_norm(h, block.post_feedforward_norm.weight.data, cfg.rms_eps)
        return x + h

    def _attention(self, attn: Any, x: np.ndarray, positions: np.ndarray,
                   segments: Sequence[Segment], single: bool) -> np.ndarray:
        cfg = self.config
        n = x.shape[0]
        q = _linear(x, attn.q_proj).reshape(n, cfg.n_heads, cfg.head_dim)
        k = _linear(x, attn.k_proj).reshape(n, cfg.n_kv_heads, cfg.head_dim)
        v = _linear(x, attn.v_proj).reshape(n, cfg.n_kv_heads, cfg.head_dim)
        if cfg.qk_norm:
            q = ew.rms_norm(q.reshape(-1, cfg.head_dim), attn.q_norm.weight.data, cfg.rms_eps).reshape(q.shape)
            k = ew.rms_norm(k.reshape(-1, cfg.head_dim), attn.k_norm.weight.data, cfg.rms_eps).reshape(k.shape)
        base = self._rope_base(attn)
        q = ew.rope(q, positions, cfg.rope_dim, base, cfg.rope_neox)
        k = ew.rope(k, positions, cfg.rope_dim, base, cfg.rope_neox)
        scale = np.float32(cfg.attn_scale)
        if self.scales_q:
            q, scale = q * scale, np.float32(1.0)
        # K and V go to llama.cpp's f16 cache
        k = k.astype(np.float16).astype(np.float32)
        v = v.astype(np.float16).astype(np.float32)
        out = np.empty((n, cfg.n_heads, cfg.head_dim), dtype=np.float32)
        row = 0
        for seg in segments:
            rows = slice(row, row + seg.length)
            seg.kv.write(attn.layer, seg.start, k[rows], v[rows])
            keys, values = seg.kv.read(attn.layer, seg.start + seg.length)
            out[rows] = ggml_attention.attention(
                q[rows], keys, values, seg.start, float(scale), attn.window or 0, single
            )
            row += seg.length
        return _linear(out.reshape(n, cfg.n_heads * cfg.head_dim), attn.o_proj)

    def _rope_base(self, attn: Any) -> float:
        cfg = self.config
        sliding = cfg.is_sliding(attn.layer)
        return float(cfg.rope_base_sliding if sliding and cfg.rope_base_sliding else cfg.rope_base)


ACTIVATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "silu": ew.swiglu,
    "gelu_tanh": ew.geglu,
}
