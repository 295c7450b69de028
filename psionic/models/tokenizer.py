"""Tokenizers rebuilt from GGUF metadata, matching llama.cpp token for token.

``Tokenizer.from_gguf(model_file)`` reads the vocabulary the file carries
(``tokenizer_vocab``), builds the HF ``tokenizers`` pipeline for its model
(``tokenizer_models``), and adds what llama.cpp does around it:

- special tokens (control, user-defined, unknown) are cut out of the text
  first, longest first, and each becomes one id; user-defined tokens are cut
  even when ``parse_special=False``;
- BOS/EOS are added per ``tokenizer.ggml.add_bos_token``/``add_eos_token``;
- SentencePiece models prefix a space per ``add_space_prefix``;
- decoding joins each token's bytes, so byte-fallback and byte-level pieces
  reassemble multi-byte characters; ``IncrementalDecoder`` streams the same
  text without ever splitting a character.

>>> from psionic.models.catalog import CatalogEntry
>>> from psionic.models.gguf_file import GGUFModelFile
>>> tok = Tokenizer.from_gguf(GGUFModelFile.open(CatalogEntry.get("smollm2-135m-instruct").path()))  # doctest: +SKIP
>>> tok.encode("<|im_start|>user")  # doctest: +SKIP
[1, 4093]
>>> tok.decode([1, 4093])  # doctest: +SKIP
'<|im_start|>user'
"""

from __future__ import annotations

import codecs
import operator
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from psionic.core.errors import InvalidInput
from psionic.models.tokenizer_models import SPACE, TokenizerModel, build_tokenizer_model
from psionic.models.tokenizer_vocab import TokenType, Vocab

if TYPE_CHECKING:
    from psionic.models.gguf_file import GGUFModelFile

_SPECIAL_TYPES = (TokenType.CONTROL, TokenType.UNKNOWN)
_SPLIT_TYPES = (TokenType.CONTROL, TokenType.UNKNOWN, TokenType.USER_DEFINED)


class Tokenizer:
    """Text to ids and back, as the GGUF file's own tokenizer defines it."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self._model: TokenizerModel = build_tokenizer_model(vocab)
        self._pieces = self._model.pieces
        # Tokens cut out of text before the model sees it, longest first (ties: lower id).
        split = [
            (text, i, vocab.types[i] == TokenType.USER_DEFINED)
            for i, text in enumerate(vocab.tokens)
            if vocab.types[i] in _SPLIT_TYPES and text
        ]
        split.sort(key=lambda s: (-len(s[0]), s[1]))
        self._split_tokens = split
        self._special_ids = frozenset(
            i for i, t in enumerate(vocab.types) if t in _SPECIAL_TYPES
        )

    @classmethod
    def from_gguf(cls, model_file: GGUFModelFile) -> Tokenizer:
        """The tokenizer a GGUF model file defines."""
        return cls(Vocab.from_gguf(model_file.metadata, source=model_file.path.name))

    # --- facts ---------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    @property
    def bos_id(self) -> int | None:
        return self.vocab.bos_id

    @property
    def eos_id(self) -> int | None:
        return self.vocab.eos_id

    @property
    def eos_ids(self) -> frozenset[int]:
        """Ids that end generation: EOS and the end-of-turn markers the vocabulary has."""
        return self.vocab.end_ids

    @property
    def add_bos(self) -> bool:
        return self.vocab.add_bos

    @cached_property
    def digest(self) -> str:
        """``sha256:`` digest of the tokenizer definition (computed on first use)."""
        return self.vocab.digest

    def token_text(self, token_id: int) -> str:
        """The token as the vocabulary spells it (``Ġthe``, ``▁the``, ``<|im_end|>``)."""
        return self.vocab.tokens[self._check(token_id)]

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes the token decodes to (special tokens: their text)."""
        return self._pieces[self._check(token_id)]

    def token_id(self, text: str) -> int | None:
        """The id of the token spelled ``text``, or None."""
        return self.vocab.token_id(text)

    def token_type(self, token_id: int) -> TokenType:
        t = self.vocab.types[self._check(token_id)]
        return TokenType(t) if t in TokenType._value2member_map_ else TokenType.UNDEFINED

    def is_special(self, token_id: int) -> bool:
        """Control and unknown tokens: the ones ``skip_special`` drops."""
        return token_id in self._special_ids

    # --- encoding ------------------------------------------------------------

    def encode(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]:
        """Token ids for ``text``; ``add_special`` adds BOS/EOS as the file asks.

        With ``parse_special`` the text of a control token (``<|im_start|>``)
        becomes that token; without it, only user-defined tokens are matched.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"encode takes a str, not {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InvalidInput(
                f"text is not valid Unicode at index {e.start} (a lone surrogate?)", index=e.start
            ) from None
        ids: list[int] = []
        v = self.vocab
        if add_special and v.add_bos and v.bos_id is not None:
            ids.append(v.bos_id)
        prev_special = True
        for part in self._partition(text, parse_special):
            if isinstance(part, int):
                ids.append(part)
                prev_special = True
                continue
            if self._model.escape_spaces:
                if v.add_space_prefix and prev_special:
                    part = " " + part
                part = part.replace(" ", SPACE)
            ids.extend(self._model.pipeline.encode(part, add_special_tokens=False).ids)
            prev_special = False
        if add_special and v.add_eos and v.eos_id is not None:
            ids.append(v.eos_id)
        return ids

    def _partition(self, text: str, parse_special: bool) -> list[str | int]:
        """Cut special tokens out of ``text``, longest first, as llama.cpp does."""
        parts: list[str | int] = [text] if text else []
        for token, token_id, user_defined in self._split_tokens:
            if not (parse_special or user_defined) or token not in text:
                continue
            out: list[str | int] = []
            for part in parts:
                if isinstance(part, int) or token not in part:
                    out.append(part)
                    continue
                pieces = part.split(token)
                for k, piece in enumerate(pieces):
                    if k:
                        out.append(token_id)
                    if piece:
                        out.append(piece)
            parts = out
        return parts

    # --- decoding ------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int], skip_special: bool = False) -> bytes:
        """The raw bytes ``ids`` stand for (possibly ending inside a character)."""
        out = []
        strip = self.vocab.add_space_prefix
        for i in ids:
            piece = self._piece(i, skip_special)
            if strip:
                # SentencePiece's prefixed space comes off the first token only.
                piece = piece[1:] if piece.startswith(b" ") else piece
                strip = False
            out.append(piece)
        return b"".join(out)

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """The text for ``ids``; invalid UTF-8 becomes U+FFFD."""
        return self.decode_bytes(ids, skip_special).decode("utf-8", errors="replace")

    def incremental_decoder(self, skip_special: bool = False) -> IncrementalDecoder:
        return IncrementalDecoder(self, skip_special)

    def _piece(self, token_id: int, skip_special: bool) -> bytes:
        i = self._check(token_id)
        if skip_special and i in self._special_ids:
            return b""
        return self._pieces[i]

    def _check(self, token_id: int) -> int:
        try:
            i = operator.index(token_id)  # numpy integers are ids too
        except TypeError:
            i = -1
        if not 0 <= i < self.vocab.size:
            raise InvalidInput(
                f"token id {token_id!r} is outside the vocabulary of {self.vocab.size}",
                token_id=repr(token_id),
            )
        return i

    def __repr__(self) -> str:
        v = self.vocab
        return f"Tokenizer(model={v.model!r}, pre={v.pre!r}, vocab_size={v.size})"


class IncrementalDecoder:
    """Streams text as ids arrive, holding back bytes until a character is complete.

    ``"".join(push(i) for i in ids) + flush()`` equals ``decode(ids)``.

    >>> class _Bytes:  # a stand-in tokenizer whose tokens are single bytes
    ...     vocab = Vocab(model="gpt2", pre="gpt2", tokens=("a",), types=(1,), scores=None,
    ...                   merges=(), bos_id=None, eos_id=None, unk_id=None)
    ...     def _piece(self, i, skip_special):
    ...         return bytes([i])
    >>> d = IncrementalDecoder(_Bytes())
    >>> [d.push(b) for b in "é!".encode()] + [d.flush()]
    ['', 'é', '!', '']
    """

    def __init__(self, tokenizer: Tokenizer, skip_special: bool = False) -> None:
        self._tokenizer = tokenizer
        self._skip_special = skip_special
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._strip = tokenizer.vocab.add_space_prefix
        self.text = ""

    def push(self, token_id: int) -> str:
        """Add one id; return the text it completes (maybe empty)."""
        piece = self._tokenizer._piece(token_id, self._skip_special)
        if self._strip:
            piece = piece[1:] if piece.startswith(b" ") else piece
            self._strip = False
        out = self._utf8.decode(piece)
        self.text += out
        return out

    def extend(self, ids: Sequence[int]) -> str:
        """Add several ids; return the text they complete."""
        return "".join(self.push(i) for i in ids)

    def flush(self) -> str:
        """End of stream: bytes still held back become U+FFFD."""
        out = self._utf8.decode(b"", final=True)
        self.text += out
        return out
