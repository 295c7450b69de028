"""Model families by ``general.architecture``: each reads its config from GGUF metadata.

A family module (``llama.py``, ``gemma3.py``, ...) calls ``register_family``
at import; ``family_for`` imports the built-in ones on first use.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from psionic.core.errors import UnknownArchitecture
from psionic.models.decoder import DecoderConfig

BUILTIN_FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "gemma3")


class MetadataSource(Protocol):
    @property
    def architecture(self) -> str: ...

    def meta(self, key: str, default: Any = None) -> Any: ...
    def require(self, key: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Family:
    architecture: str
    config_from_gguf: Callable[[MetadataSource], DecoderConfig]
    description: str


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> Family:
    if family.architecture in _FAMILIES:
        raise ValueError(f"family {family.architecture!r} is already registered")
    _FAMILIES[family.architecture] = family
    return family


def family_for(architecture: str) -> Family:
    if not _FAMILIES:
        for name in BUILTIN_FAMILIES:
            importlib.import_module(f"psionic.models.{name}")
    try:
        return _FAMILIES[architecture]
    except KeyError:
        raise UnknownArchitecture(
            f"no model family for architecture {architecture!r}; known: {sorted(_FAMILIES)}",
            architecture=architecture,
        ) from None


def known_architectures() -> list[str]:
    family_for(BUILTIN_FAMILIES[0])
    return sorted(_FAMILIES)


def base_config(src: MetadataSource, **overrides: Any) -> DecoderConfig:
    """The config fields every family reads the same way from ``<arch>.*`` keys."""
    arch = src.architecture

    def key(name: str, default: Any = None, required: bool = False) -> Any:
        full = f"{arch}.{name}"
        return src.require(full) if required else src.meta(full, default)

    d_model = int(key("embedding_length", required=True))
    n_heads = int(key("attention.head_count", required=True))
    head_dim = int(key("attention.key_length", d_model // n_heads))
    vocab = key("vocab_size")
    if vocab is None:
        vocab = len(src.require("tokenizer.ggml.tokens"))
    fields: dict[str, Any] = dict(
        n_layers=int(key("block_count", required=True)),
        d_model=d_model,
        n_heads=n_heads,
        n_kv_heads=int(key("attention.head_count_kv", n_heads)),
        head_dim=head_dim,
        d_ff=int(key("feed_forward_length", required=True)),
        vocab_size=int(vocab),
        context_length=int(key("context_length", 2048)),
        rms_eps=float(key("attention.layer_norm_rms_epsilon", 1e-5)),
        rope_base=float(key("rope.freq_base", 10000.0)),
        rope_dim=int(key("rope.dimension_count", head_dim)),
        rope_neox=True,
        attn_scale=1.0 / math.sqrt(head_dim),
    )
    fields.update(overrides)
    return DecoderConfig(**fields)
