"""The tokenizer definition a GGUF file carries, read and checked once.

``Vocab.from_gguf`` collects the ``tokenizer.ggml.*`` metadata (tokens, token
types, scores, merges, special ids and the add-BOS/EOS/space-prefix flags) into
one frozen record, applying llama.cpp's defaults where a key is absent, and
refuses a definition that cannot be used (no tokens, arrays of the wrong
length, duplicate tokens, special ids out of range) with ``MalformedGGUF``.

>>> v = Vocab(model="gpt2", pre="gpt2", tokens=("a", "b", "ab"), types=(1, 1, 1),
...           scores=None, merges=("a b",), bos_id=None, eos_id=None, unk_id=None)
>>> v.size, v.token_id("ab")
(3, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import Any

from psionic.core.digest import digest_json
from psionic.core.errors import MalformedGGUF


class TokenType(IntEnum):
    """GGUF ``tokenizer.ggml.token_type`` values (as llama.cpp defines them)."""

    UNDEFINED = 0
    NORMAL = 1
    UNKNOWN = 2
    CONTROL = 3
    USER_DEFINED = 4
    UNUSED = 5
    BYTE = 6


# Token texts that end a turn or a document, wherever a vocabulary has them
# (llama.cpp treats the same texts as end-of-generation markers).
END_MARKERS = frozenset(
    {
        "<|endoftext|>",
        "<|im_end|>",
        "<|eot_id|>",
        "<|eom_id|>",
        "<|end|>",
        "<|end_of_text|>",
        "<end_of_turn>",
        "<end_of_utterance>",
        "<EOT>",
        "<｜end▁of▁sentence｜>",
    }
)

# tokenizer.ggml.model -> whether BOS is added by default (llama.cpp's defaults).
_DEFAULT_ADD_BOS = {"llama": True, "gpt2": False}
# BPE pre-tokenizers whose defaults add BOS.
_PRE_ADDS_BOS = frozenset({"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"})


@dataclass(frozen=True)
class Vocab:
    """Everything needed to rebuild a GGUF tokenizer. Not slotted: derived maps are cached."""

    model: str  # tokenizer.ggml.model: "gpt2" (byte-level BPE) | "llama" (SentencePiece BPE)
    pre: str  # tokenizer.ggml.pre
    tokens: tuple[str, ...]
    types: tuple[int, ...]
    scores: tuple[float, ...] | None
    merges: tuple[str, ...]
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None
    pad_id: int | None = None
    eot_id: int | None = None
    eom_id: int | None = None
    add_bos: bool = False
    add_eos: bool = False
    add_space_prefix: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def size(self) -> int:
        return len(self.tokens)

    @cached_property
    def ids(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def token_id(self, text: str) -> int | None:
        return self.ids.get(text)

    @cached_property
    def end_ids(self) -> frozenset[int]:
        """EOS, EOT/EOM when given, and every token whose text is a known end marker."""
        ids = {i for i in (self.eos_id, self.eot_id, self.eom_id) if i is not None}
        ids.update(i for m in END_MARKERS if (i := self.ids.get(m)) is not None)
        return frozenset(ids)

    def settings(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "pre": self.pre,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
            "unk_id": self.unk_id,
            "pad_id": self.pad_id,
            "eot_id": self.eot_id,
            "eom_id": self.eom_id,
            "add_bos": self.add_bos,
            "add_eos": self.add_eos,
            "add_space_prefix": self.add_space_prefix,
        }

    @cached_property
    def digest(self) -> str:
        """``digest_json("tokenizer", ...)`` over tokens, types, scores, merges and settings."""
        return digest_json(
            "tokenizer",
            {
                "tokens": list(self.tokens),
                "types": list(self.types),
                "scores": list(self.scores) if self.scores is not None else None,
                "merges": list(self.merges),
                "settings": self.settings(),
            },
        )

    @classmethod
    def from_gguf(cls, metadata: Mapping[str, Any], source: str = "gguf") -> Vocab:
        """Read ``tokenizer.ggml.*`` from a GGUF file's metadata."""
        reader = _Reader(metadata, source)
        model = reader.get("tokenizer.ggml.model", str)
        if model is None:
            raise MalformedGGUF(f"{source}: no tokenizer (tokenizer.ggml.model is missing)")
        pre = reader.get("tokenizer.ggml.pre", str) or "default"
        tokens = reader.get("tokenizer.ggml.tokens", list)
        if not tokens:
            raise MalformedGGUF(f"{source}: tokenizer.ggml.tokens is missing or empty")
        if not all(isinstance(t, str) for t in tokens):
            raise MalformedGGUF(f"{source}: tokenizer.ggml.tokens must be an array of strings")
        # llama.cpp keeps an empty token under a placeholder name; so do we.
        tokens = [t or f"[EMPTY_{i}]" for i, t in enumerate(tokens)]
        n = len(tokens)
        types = reader.array("tokenizer.ggml.token_type", n, int)
        scores = reader.array("tokenizer.ggml.scores", n, (int, float))
        merges = reader.get("tokenizer.ggml.merges", list) or []
        if not all(isinstance(m, str) for m in merges):
            raise MalformedGGUF(f"{source}: tokenizer.ggml.merges must be an array of strings")
        if len(set(tokens)) != n:
            seen: set[str] = set()
            dup = next(t for t in tokens if t in seen or seen.add(t))  # type: ignore[func-returns-value]
            raise MalformedGGUF(f"{source}: duplicate token {dup!r} in the vocabulary")
        bos_id = reader.token("bos", n, 1 if model == "llama" else None)
        # The defaults add BOS only where the vocabulary has one; an explicit flag must.
        add_bos_default = bos_id is not None and (
            _DEFAULT_ADD_BOS.get(model, False) or (model == "gpt2" and pre in _PRE_ADDS_BOS)
        )
        vocab = cls(
            model=model,
            pre=pre,
            tokens=tuple(tokens),
            types=tuple(types) if types is not None else (TokenType.NORMAL,) * n,
            scores=tuple(float(s) for s in scores) if scores is not None else None,
            merges=tuple(merges),
            bos_id=bos_id,
            eos_id=reader.token("eos", n, 2 if model == "llama" else None),
            unk_id=reader.token("unknown", n, 0 if model == "llama" else None),
            pad_id=reader.token("padding", n, None),
            eot_id=reader.token("eot", n, None),
            eom_id=reader.token("eom", n, None),
            add_bos=reader.flag("tokenizer.ggml.add_bos_token", add_bos_default),
            add_eos=reader.flag("tokenizer.ggml.add_eos_token", False),
            add_space_prefix=reader.flag("tokenizer.ggml.add_space_prefix", model == "llama"),
        )
        for flag, tid in (("add_bos_token", vocab.bos_id), ("add_eos_token", vocab.eos_id)):
            if getattr(vocab, flag.removesuffix("_token")) and tid is None:
                raise MalformedGGUF(f"{source}: tokenizer.ggml.{flag} is true but its id is unset")
        return vocab


class _Reader:
    def __init__(self, metadata: Mapping[str, Any], source: str) -> None:
        self.metadata = metadata
        self.source = source

    def get(self, key: str, kind: type) -> Any:
        value = self.metadata.get(key)
        if value is not None and not isinstance(value, kind):
            raise MalformedGGUF(f"{self.source}: {key} must be {kind.__name__}", key=key)
        return value

    def array(self, key: str, n: int, kind: type | tuple[type, ...]) -> list[Any] | None:
        value = self.get(key, list)
        if value is None:
            return None
        if len(value) != n:
            raise MalformedGGUF(
                f"{self.source}: {key} has {len(value)} entries for {n} tokens", key=key
            )
        if value and (not isinstance(value[0], kind) or isinstance(value[0], bool)):
            raise MalformedGGUF(f"{self.source}: {key} holds values of the wrong type", key=key)
        return value

    def token(self, name: str, n: int, default: int | None) -> int | None:
        key = f"tokenizer.ggml.{name}_token_id"
        value = self.metadata.get(key)
        if value is None:
            return default if default is not None and default < n else None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n:
            raise MalformedGGUF(
                f"{self.source}: {key} = {value!r} is not a token id (vocabulary of {n})", key=key
            )
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.metadata.get(key, default)
        if not isinstance(value, bool):
            raise MalformedGGUF(f"{self.source}: {key} must be a bool", key=key)
        return value
