"""Small synthetic models of every family: an HF transformers model as the oracle,
and the same weights written as a GGUF file with a byte-level BPE vocabulary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from psionic.models.gguf_writer import RawTensor, quantize, write_gguf

HIDDEN, HEADS, KV_HEADS, HEAD_DIM, FF = 64, 4, 2, 16, 128


def byte_unicode() -> list[str]:
    """GPT-2's printable stand-in character for each byte 0..255."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


TOKENS = [*byte_unicode(), "\u0120t", "<|endoftext|>"]
VOCAB = len(TOKENS)


def tokenizer_metadata() -> dict[str, Any]:
    return {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "default",
        "tokenizer.ggml.tokens": TOKENS,
        "tokenizer.ggml.token_type": [1] * (VOCAB - 1) + [3],
        "tokenizer.ggml.merges": ["\u0120 t"],
        "tokenizer.ggml.bos_token_id": VOCAB - 1,
        "tokenizer.ggml.eos_token_id": VOCAB - 1,
        "tokenizer.ggml.add_bos_token": False,
    }


def hf_model(family: str, layers: int, window: int | None, seed: int = 0):  # type: ignore[no-untyped-def]
    import torch
    import transformers as tf

    common = dict(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=FF, num_hidden_layers=layers,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=512,
        rms_norm_eps=1e-6, tie_word_embeddings=False,
    )
    if family == "llama":
        config = tf.LlamaConfig(**common, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        cls = tf.LlamaForCausalLM
    elif family == "mistral":
        config = tf.MistralConfig(**common, sliding_window=window, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        cls = tf.MistralForCausalLM
    elif family == "qwen2":
        config = tf.Qwen2Config(**common, rope_parameters={"rope_type": "default", "rope_theta": 1e6})
        cls = tf.Qwen2ForCausalLM
    elif family == "qwen3":
        config = tf.Qwen3Config(**common, head_dim=HEAD_DIM, rope_parameters={"rope_type": "default", "rope_theta": 1e6})
        cls = tf.Qwen3ForCausalLM
    elif family == "gemma3":
        config = tf.Gemma3TextConfig(
            **common, head_dim=HEAD_DIM, query_pre_attn_scalar=HEAD_DIM, sliding_window=window,
            layer_types=["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(layers)],
            rope_parameters={
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                "full_attention": {"rope_type": "default", "rope_theta": 1e6},
            },
            final_logit_softcapping=None, attn_logit_softcapping=None,
        )
        cls = tf.Gemma3ForCausalLM
    else:
        raise KeyError(family)
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = cls(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                # norms near their identity, but not exactly, so a mix-up shows
                p.copy_(torch.randn_like(p) * 0.1 + (0.0 if family == "gemma3" else 1.0))
            elif name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.1)
    return model


def _permute_rope(w: np.ndarray, heads: int) -> np.ndarray:
    """HF's halves layout -> the adjacent-pair layout that llama-family GGUF files use."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
}
# Gemma 3 norms around each sublayer; other families' post_attention_layernorm is the FFN pre-norm.
GEMMA_NORMS = {
    "post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
    "post_feedforward_layernorm": "post_ffw_norm",
}


def write_family_gguf(path: Path, family: str, model: Any, quant: str | None = None) -> None:
    cfg = model.config
    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    tensors: dict[str, np.ndarray | RawTensor] = {}
    gemma = family == "gemma3"
    for name, value in state.items():
        if name == "model.embed_tokens.weight":
            gguf_name = "token_embd.weight"
        elif name == "model.norm.weight":
            gguf_name = "output_norm.weight"
        elif name == "lm_head.weight":
            gguf_name = "output.weight"
        else:
            parts = name.split(".")  # model.layers.<i>.<module...>.<weight|bias>
            layer, module, kind = parts[2], ".".join(parts[3:-1]), parts[-1]
            table = {**HF_TO_GGUF, **(GEMMA_NORMS if gemma else {"post_attention_layernorm": "ffn_norm"})}
            gguf_name = f"blk.{layer}.{table[module]}.{kind}"
            if family in ("llama", "mistral") and module in ("self_attn.q_proj", "self_attn.k_proj"):
                heads = cfg.num_attention_heads if module.endswith("q_proj") else cfg.num_key_value_heads
                value = _permute_rope(value, heads)
        if gemma and gguf_name.endswith("norm.weight"):
            value = value + 1.0  # Gemma's norm scales by (1 + w); GGUF stores it added in
        if quant and value.ndim == 2:
            tensors[gguf_name] = quantize(value, quant)
        else:
            tensors[gguf_name] = value.astype(np.float32)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    rope = cfg.rope_parameters
    theta = rope["full_attention"]["rope_theta"] if gemma else rope["rope_theta"]
    meta: dict[str, Any] = {
        f"{family}.block_count": cfg.num_hidden_layers,
        f"{family}.context_length": 512,
        f"{family}.embedding_length": cfg.hidden_size,
        f"{family}.feed_forward_length": cfg.intermediate_size,
        f"{family}.attention.head_count": cfg.num_attention_heads,
        f"{family}.attention.head_count_kv": cfg.num_key_value_heads,
        f"{family}.attention.key_length": head_dim,
        f"{family}.attention.value_length": head_dim,
        f"{family}.attention.layer_norm_rms_epsilon": float(cfg.rms_norm_eps),
        f"{family}.rope.freq_base": float(theta),
        f"{family}.rope.dimension_count": head_dim,
        **tokenizer_metadata(),
    }
    window = getattr(cfg, "sliding_window", None)
    if window:
        meta[f"{family}.attention.sliding_window"] = int(window)
    write_gguf(path, family, meta, tensors)
