"""LoRA adapters in PEFT's on-disk layout: ``adapter_config.json`` + ``adapter_model.safetensors``.

Tensor names follow the Hugging Face module tree that PEFT wraps, for example
``base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight`` (shape
``(r, in_features)``) and ``...lora_B.weight`` (``(out_features, r)``), float32.
GGUF files of the llama family store the Q and K projections with their output
rows permuted (RoPE rotates adjacent pairs there, halves in Hugging Face), so
B of those projections is permuted back on export and forward again on load.

The safetensors metadata also carries the adapter digest and the base model's
digest; on load the digest is recomputed and must match. Adapters written by
PEFT itself (no such metadata) load too, as long as they use only what the
arithmetic here implements: plain LoRA (or rsLoRA) on the seven projections,
no DoRA, biases, per-module ranks or extra saved modules.

>>> save_peft(adapter, "out/adapter", loaded.config)  # doctest: +SKIP
>>> load_peft("out/adapter", loaded.config).digest == adapter.digest  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from psionic.core.errors import InvalidInput, MalformedFile, MalformedJSON, ModelNotFound
from psionic.models.decoder import DecoderConfig
from psionic.models.lora_adapter import Key, LoRAAdapter
from psionic.models.lora_config import TARGETS, AdapterConfig
from psionic.models.safetensors_file import SafetensorsFile

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
KEY_PREFIX = "base_model.model.model.layers"
KEY = re.compile(
    r"^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\."
    r"(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.lora_([AB])\.weight$"
)
META_DIGEST = "psionic.adapter_digest"
META_BASE_DIGEST = "psionic.base_digest"

# PEFT config fields whose non-default values change the arithmetic; an adapter using
# one is refused rather than applied wrongly. Each maps to the values accepted.
_PLAIN_LORA: dict[str, tuple[Any, ...]] = {
    "peft_type": ("LORA",),
    "bias": ("none", None),
    "fan_in_fan_out": (False, None),
    "use_dora": (False, None),
    "lora_bias": (False, None),
    "modules_to_save": (None, []),
    "rank_pattern": ({}, None),
    "alpha_pattern": ({}, None),
    "layer_replication": (None,),
    "target_parameters": (None, []),
    "trainable_token_indices": (None,),
    "use_qalora": (False, None),
}


def _permuted_heads(target: str, cfg: DecoderConfig) -> int | None:
    """How many heads the GGUF file permuted this projection's output rows over (None: not at all)."""
    if cfg.rope_neox:
        return None
    return {"q_proj": cfg.n_heads, "k_proj": cfg.n_kv_heads}.get(target)


def gguf_rows_to_hf(w: np.ndarray, heads: int) -> np.ndarray:
    """GGUF's adjacent-pair row order -> Hugging Face's halves order (inverse of the converter's)."""
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_rows_to_gguf(w: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face's halves row order -> GGUF's adjacent pairs (what the GGUF converter does)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def peft_key(layer: int, target: str, which: str) -> str:
    return f"{KEY_PREFIX}.{layer}.{TARGETS[target].module}.{target}.lora_{which}.weight"


def peft_config(adapter: LoRAAdapter, n_layers: int) -> dict[str, Any]:
    cfg = adapter.config
    layers = adapter.layers
    return {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": cfg.base_model or None,
        "r": cfg.rank,
        "lora_alpha": cfg.alpha,
        "lora_dropout": cfg.dropout,
        "target_modules": list(cfg.targets),
        "layers_to_transform": None if layers == list(range(n_layers)) else layers,
        "bias": "none",
        "fan_in_fan_out": False,
        "use_rslora": cfg.use_rslora,
        "use_dora": False,
        "lora_bias": False,
        "modules_to_save": None,
        "init_lora_weights": True,
        "inference_mode": True,
        "rank_pattern": {},
        "alpha_pattern": {},
    }


def save_peft(adapter: LoRAAdapter, directory: str | os.PathLike[str], model_config: DecoderConfig) -> Path:
    """Write the adapter in PEFT's layout into ``directory`` (created); returns the directory."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    for (layer, target), (a, b) in sorted(adapter.weights.items()):
        heads = _permuted_heads(target, model_config)
        b_hf = gguf_rows_to_hf(b, heads) if heads else b
        tensors[peft_key(layer, target, "A")] = np.ascontiguousarray(a, np.float32)
        tensors[peft_key(layer, target, "B")] = np.ascontiguousarray(b_hf, np.float32)
    metadata = {"format": "pt", META_DIGEST: adapter.digest}
    if adapter.config.base_digest:
        metadata[META_BASE_DIGEST] = adapter.config.base_digest
    save_file(tensors, str(out / WEIGHTS_FILE), metadata=metadata)
    text = json.dumps(peft_config(adapter, model_config.n_layers), indent=2, sort_keys=True)
    (out / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
    return out


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFound(f"no {CONFIG_FILE} in {path.parent}", path=str(path)) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedJSON(f"{path}: not JSON ({exc})", path=str(path)) from None
    if not isinstance(data, dict):
        raise MalformedJSON(f"{path}: the config must be a JSON object", path=str(path))
    for name, accepted in _PLAIN_LORA.items():
        if name in data and data[name] not in accepted:
            raise InvalidInput(
                f"{path}: {name} = {data[name]!r} is not supported (plain LoRA only)", path=str(path), field=name
            )
    if "peft_type" not in data:
        raise InvalidInput(f"{path}: no peft_type; not a PEFT adapter config", path=str(path))
    return data


def _adapter_config(data: dict[str, Any], path: Path, targets_found: set[str],
                    base_digest: str) -> AdapterConfig:
    declared = data.get("target_modules")
    if isinstance(declared, str):
        # A regular expression or "all-linear": what was adapted is what the file holds.
        declared = sorted(targets_found)
    if not isinstance(declared, list) or not all(isinstance(t, str) for t in declared):
        raise InvalidInput(f"{path}: target_modules must be a list of names", path=str(path), field="target_modules")
    missing = targets_found - set(declared)
    if missing:
        raise InvalidInput(
            f"{path}: weights for {sorted(missing)} but target_modules is {declared}", path=str(path)
        )
    for key in ("r", "lora_alpha"):
        if not isinstance(data.get(key), (int, float)) or isinstance(data.get(key), bool):
            raise InvalidInput(f"{path}: {key} must be a number", path=str(path), field=key)
    try:
        return AdapterConfig(
            rank=int(data["r"]),
            alpha=float(data["lora_alpha"]),
            dropout=float(data.get("lora_dropout") or 0.0),
            targets=tuple(declared),
            use_rslora=bool(data.get("use_rslora", False)),
            base_model=str(data.get("base_model_name_or_path") or ""),
            base_digest=base_digest,
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc.message}", path=str(path), **exc.details) from None


def load_peft(directory: str | os.PathLike[str], model_config: DecoderConfig) -> LoRAAdapter:
    """Read a PEFT-layout adapter for a model of ``model_config``; refuses anything it cannot apply exactly."""
    root = Path(directory)
    if not root.is_dir():
        raise ModelNotFound(f"no adapter directory at {root}", path=str(root))
    data = _read_config(root / CONFIG_FILE)
    weights_path = root / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ModelNotFound(f"no {WEIGHTS_FILE} in {root}", path=str(weights_path))
    st = SafetensorsFile.open(weights_path)
    pairs: dict[Key, dict[str, np.ndarray]] = {}
    for name in st.names():
        match = KEY.match(name)
        if match is None:
            raise MalformedFile(
                f"{weights_path}: tensor {name!r} is not a LoRA A/B weight of a decoder projection",
                path=str(weights_path), tensor=name,
            )
        layer, module, target, which = int(match[1]), match[2], match[3], match[4]
        if TARGETS[target].module != module:
            raise MalformedFile(f"{weights_path}: {target} is not under {module}", path=str(weights_path), tensor=name)
        array = np.asarray(st.array(name))
        if array.dtype.kind != "f" and "bfloat16" not in str(array.dtype):
            raise MalformedFile(f"{weights_path}: {name} is {array.dtype}, not a float", path=str(weights_path))
        pairs.setdefault((layer, target), {})[which] = np.array(array, dtype=np.float32)
    if not pairs:
        raise MalformedFile(f"{weights_path}: no LoRA weights", path=str(weights_path))
    weights: dict[Key, tuple[np.ndarray, np.ndarray]] = {}
    for (layer, target), pair in pairs.items():
        if set(pair) != {"A", "B"}:
            raise MalformedFile(
                f"{weights_path}: layer {layer} {target} has lora_{''.join(sorted(pair))} only",
                path=str(weights_path),
            )
        if layer >= model_config.n_layers:
            raise InvalidInput(
                f"{weights_path}: layer {layer} does not exist in a {model_config.n_layers}-layer model",
                path=str(weights_path),
            )
        heads = _permuted_heads(target, model_config)
        b = pair["B"]
        if heads and b.shape[0] % (2 * heads) == 0:
            b = np.ascontiguousarray(hf_rows_to_gguf(b, heads))
        weights[(layer, target)] = (pair["A"], b)
    config = _adapter_config(data, root / CONFIG_FILE, {t for _, t in weights},
                             st.metadata.get(META_BASE_DIGEST, ""))
    adapter = LoRAAdapter(config, weights)
    recorded = st.metadata.get(META_DIGEST)
    if recorded is not None and recorded != adapter.digest:
        raise MalformedFile(
            f"{weights_path}: adapter digest is {adapter.digest}, the file records {recorded}",
            path=str(weights_path),
        )
    return adapter
