"""Tokenizer models: how each GGUF ``tokenizer.ggml.model`` becomes an HF ``tokenizers`` pipeline.

Two models are registered, the ones llama.cpp calls BPE and SPM:

- ``gpt2``: byte-level BPE with ranked merges from the file and a
  pre-tokenizer chosen by ``tokenizer.ggml.pre`` (a registry of regex
  sequences, the same sequences llama.cpp applies; each regex isolates its
  matches and keeps the text between them as separate pieces).
- ``llama``: SentencePiece-style BPE. The file has no merges, only scores: the
  merges are every split of a vocabulary piece into two pieces, ranked by the
  merged piece's score, which is how SentencePiece's BPE picks pairs. Spaces
  become ``▁`` and unknown characters fall back to ``<0xXX>`` byte tokens.

Special tokens are not part of these pipelines: ``Tokenizer`` splits them out
of the text first. Each model also yields the bytes every token decodes to.

>>> sorted(TOKENIZER_MODELS)
['gpt2', 'llama']
>>> PRE_TOKENIZERS["smollm"].patterns[0]
'\\\\p{N}'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tokenizers
from tokenizers import Regex, models, pre_tokenizers

from psionic.core.errors import MalformedGGUF, UnsupportedTokenizer
from psionic.models.tokenizer_vocab import TokenType, Vocab

SPACE = "\u2581"  # SentencePiece's visible space


@dataclass(frozen=True, slots=True)
class PreTokenizer:
    """A BPE pre-tokenizer: regexes applied in order, each isolating its matches."""

    name: str
    patterns: tuple[str, ...]
    ignore_merges: bool = False  # a piece that is already a token skips the merges


PRE_TOKENIZERS: dict[str, PreTokenizer] = {}


def register_pre_tokenizer(pre: PreTokenizer, *aliases: str) -> PreTokenizer:
    for name in (pre.name, *aliases):
        if name in PRE_TOKENIZERS:
            raise ValueError(f"pre-tokenizer {name!r} is already registered")
        PRE_TOKENIZERS[name] = pre
    return pre


_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_CONTRACTIONS = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
_LLAMA3 = (
    _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = (
    _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

register_pre_tokenizer(
    PreTokenizer("default", (r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", r"[0-9][0-9][0-9]"))
)
register_pre_tokenizer(PreTokenizer("gpt-2", (_GPT2,)), "phi-2", "mpt", "olmo")
# SmolLM2 and the StarCoder family: every digit alone, then the GPT-2 regex.
register_pre_tokenizer(
    PreTokenizer("smollm", (r"\p{N}", _GPT2)),
    "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b",
)
register_pre_tokenizer(
    PreTokenizer("llama-bpe", (_LLAMA3,), ignore_merges=True),
    "llama3", "llama-v3", "falcon3", "pixtral",
)
register_pre_tokenizer(
    PreTokenizer("qwen2", (_QWEN2,)), "deepseek-r1-qwen", "megrez", "stablelm2"
)


@dataclass(frozen=True, slots=True)
class TokenizerModel:
    """A built tokenizer model: the HF pipeline for plain text and each token's bytes."""

    pipeline: tokenizers.Tokenizer
    escape_spaces: bool  # replace " " with "▁" before encoding
    pieces: tuple[bytes, ...]  # what each token decodes to (special tokens as their text)


TOKENIZER_MODELS: dict[str, Callable[[Vocab], TokenizerModel]] = {}


def register_tokenizer_model(
    name: str,
) -> Callable[[Callable[[Vocab], TokenizerModel]], Callable[[Vocab], TokenizerModel]]:
    def deco(build: Callable[[Vocab], TokenizerModel]) -> Callable[[Vocab], TokenizerModel]:
        if name in TOKENIZER_MODELS:
            raise ValueError(f"tokenizer model {name!r} is already registered")
        TOKENIZER_MODELS[name] = build
        return build

    return deco


def build_tokenizer_model(vocab: Vocab) -> TokenizerModel:
    build = TOKENIZER_MODELS.get(vocab.model)
    if build is None:
        raise UnsupportedTokenizer(
            f"tokenizer model {vocab.model!r} is not supported; "
            f"supported: {', '.join(sorted(TOKENIZER_MODELS))}",
            model=vocab.model,
        )
    return build(vocab)


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters.

    Printable Latin-1 bytes map to themselves; the other 68 bytes map, in
    order, to the code points from U+0100 upwards.
    """
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in keep}
    extra = 0x100
    for b in range(256):
        if b not in table:
            table[b] = chr(extra)
            extra += 1
    return table


_UNICODE_TO_BYTE = {c: b for b, c in byte_to_unicode().items()}


def _special_piece(vocab: Vocab, i: int) -> bytes | None:
    """Pieces shared by both models: special tokens are their text, unused ones are empty."""
    t = vocab.types[i]
    if t in (TokenType.CONTROL, TokenType.UNKNOWN, TokenType.USER_DEFINED):
        return vocab.tokens[i].encode()
    if t not in (TokenType.NORMAL, TokenType.BYTE):
        return b""
    return None


def _bpe(vocab: Vocab, merges: list[tuple[str, str]], **options: object) -> models.BPE:
    try:
        return models.BPE(vocab=dict(vocab.ids), merges=merges, **options)
    except Exception as e:  # the library reports bad merges with a bare Exception
        raise MalformedGGUF(f"the tokenizer merges do not fit the vocabulary: {e}") from None


@register_tokenizer_model("gpt2")
def build_byte_level_bpe(vocab: Vocab) -> TokenizerModel:
    pre = PRE_TOKENIZERS.get(vocab.pre)
    if pre is None:
        raise UnsupportedTokenizer(
            f"BPE pre-tokenizer {vocab.pre!r} is not supported; "
            f"supported: {', '.join(sorted(PRE_TOKENIZERS))}",
            pre=vocab.pre,
        )
    merges = []
    for rank, line in enumerate(vocab.merges):
        cut = line.find(" ", 1)
        if cut < 0:
            raise MalformedGGUF(f"tokenizer merge #{rank} {line!r} has no space", merge=rank)
        merges.append((line[:cut], line[cut + 1 :]))
    pipeline = tokenizers.Tokenizer(_bpe(vocab, merges, ignore_merges=pre.ignore_merges))
    pipeline.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in pre.patterns]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    pieces = []
    for i, text in enumerate(vocab.tokens):
        special = _special_piece(vocab, i)
        if special is not None:
            pieces.append(special)
        else:
            # A character outside the byte alphabet stands for itself.
            pieces.append(
                b"".join(
                    bytes([_UNICODE_TO_BYTE[c]]) if c in _UNICODE_TO_BYTE else c.encode()
                    for c in text
                )
            )
    return TokenizerModel(pipeline, escape_spaces=False, pieces=tuple(pieces))


def _byte_token_value(text: str) -> int | None:
    if len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
        try:
            return int(text[3:5], 16)
        except ValueError:
            return None
    return None


def score_merges(vocab: Vocab) -> list[tuple[str, str]]:
    """Every split of a piece into two pieces, best merged score first (ties: lower id)."""
    assert vocab.scores is not None
    ids, scores = vocab.ids, vocab.scores
    ranked = []
    for merged_id, piece in enumerate(vocab.tokens):
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in ids and right in ids:
                ranked.append((-scores[merged_id], merged_id, cut, left, right))
    ranked.sort()
    return [(left, right) for *_, left, right in ranked]


@register_tokenizer_model("llama")
def build_sentencepiece_bpe(vocab: Vocab) -> TokenizerModel:
    if vocab.scores is None:
        raise MalformedGGUF("a SentencePiece tokenizer needs tokenizer.ggml.scores")
    unk = vocab.tokens[vocab.unk_id] if vocab.unk_id is not None else None
    pipeline = tokenizers.Tokenizer(
        _bpe(vocab, score_merges(vocab), byte_fallback=True, unk_token=unk, fuse_unk=False)
    )
    pieces = []
    for i, text in enumerate(vocab.tokens):
        special = _special_piece(vocab, i)
        if special is not None:
            pieces.append(special)
        elif vocab.types[i] == TokenType.BYTE:
            value = _byte_token_value(text)
            if value is None:
                raise MalformedGGUF(f"byte token #{i} {text!r} is not of the form <0xHH>", token=i)
            pieces.append(bytes([value]))
        else:
            pieces.append(text.replace(SPACE, " ").encode())
    return TokenizerModel(pipeline, escape_spaces=True, pieces=tuple(pieces))
