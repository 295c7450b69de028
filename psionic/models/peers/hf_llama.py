"""A Hugging Face transformers twin of a loaded llama-family GGUF model (peer for benchmarks and tests).

Every weight is decoded exactly as our kernels decode it (so both sides start
from the same float32 numbers), Q/K rows are put back in Hugging Face's RoPE
halves order, and the GGUF names map to the ``LlamaForCausalLM`` module tree.
Needs torch and transformers (the dev extra); refuses other families.

>>> twin = hf_llama(load_model("smollm2-135m-instruct"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psionic.core.errors import BackendUnavailable, UnsupportedOperation
from psionic.models.lora_merge import decoded
from psionic.models.lora_peft import gguf_rows_to_hf

_BLOCK_NAMES = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
}


def hf_state_dict(loaded: Any) -> dict[str, np.ndarray]:
    """The model's weights under ``LlamaForCausalLM`` names, float32, in Hugging Face row order."""
    cfg = loaded.config
    state: dict[str, np.ndarray] = {}
    for name, info in loaded.file.tensors.items():
        weights = decoded(info) if len(info.shape) == 2 else np.array(info.data, np.float32)
        if name == "token_embd.weight":
            state["model.embed_tokens.weight"] = weights
        elif name == "output_norm.weight":
            state["model.norm.weight"] = weights
        elif name == "output.weight":
            state["lm_head.weight"] = weights
        else:
            _, layer, stem, kind = name.split(".")
            if stem in ("attn_q", "attn_k"):
                heads = cfg.n_heads if stem == "attn_q" else cfg.n_kv_heads
                weights = np.ascontiguousarray(gguf_rows_to_hf(weights, heads))
            state[f"model.layers.{layer}.{_BLOCK_NAMES[stem]}.{kind}"] = weights
    return state


def hf_llama(loaded: Any) -> Any:
    """A ``LlamaForCausalLM`` (float32, eager attention, eval mode) computing what ``loaded`` computes."""
    if loaded.architecture != "llama":
        raise UnsupportedOperation(
            f"the transformers twin covers the llama family, not {loaded.architecture!r}",
            architecture=loaded.architecture,
        )
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise BackendUnavailable(f"the transformers twin needs torch and transformers ({exc})") from None
    cfg = loaded.config
    state = hf_state_dict(loaded)
    tied = "lm_head.weight" not in state
    config = transformers.LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.d_ff,
        num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_kv_heads,
        head_dim=cfg.head_dim, max_position_embeddings=cfg.context_length, rms_norm_eps=cfg.rms_eps,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_base},
        tie_word_embeddings=tied, attention_bias=False, mlp_bias=False,
    )
    config._attn_implementation = "eager"
    from transformers.initialization import no_init_weights

    with no_init_weights():  # every weight is overwritten below; random init would only cost time
        model = transformers.LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    missing = [k for k in missing if not (tied and k == "lm_head.weight")]
    if missing or unexpected:
        raise UnsupportedOperation(f"twin weights do not line up: missing {missing}, unexpected {unexpected}")
    if tied:
        model.tie_weights()
    return model.eval()
