"""Token masks that hold one sequence to its constraint (llguidance matchers).

``guide_for(tokenizer, vocab_size, constraint)`` builds a ``Guide``: before
each draw ``mask`` leaves only the tokens the grammar allows (the end-of-turn
tokens exactly when the grammar accepts), and ``accept`` advances the grammar
by the token drawn. The mask covers the model's whole output vocabulary;
padding ids past the tokenizer's are never allowed. A grammar that allows no
token at all raises ``ConstraintDeadEnd`` rather than sample from nothing.

>>> guide = guide_for(tokenizer, 49152, Constraint("choice", {"choices": ["yes", "no"]}))  # doctest: +SKIP
>>> masked = guide.mask(logits)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from psionic.models.constraints import (
    Constraint,
    ConstraintDeadEnd,
    UnsupportedConstraint,
    grammar_for,
)
from psionic.models.tokenizer import Tokenizer

_SPECIAL_PREFIX = b"\xff"  # llguidance's marker for a special token's bytes
_lock = threading.Lock()
_tokenizers: dict[tuple[str, int], Any] = {}


class _Encoder:
    """The tokenizer as llguidance calls it: text in, ids out (never special tokens)."""

    def __init__(self, tokenizer: Tokenizer, vocab_size: int) -> None:
        self.tokenizer = tokenizer
        self.eos_token_id = tokenizer.eos_id
        self.bos_token_id = tokenizer.bos_id
        self.tokens = [
            _SPECIAL_PREFIX + tokenizer.token_bytes(i) if tokenizer.is_special(i) else tokenizer.token_bytes(i)
            for i in range(tokenizer.vocab_size)
        ]
        self.tokens += [b""] * (vocab_size - tokenizer.vocab_size)  # padding logits: never allowed
        self.special_token_ids = [i for i in range(tokenizer.vocab_size) if tokenizer.is_special(i)]

    def __call__(self, text: str) -> list[int]:
        if not isinstance(text, str):  # llguidance probes with bytes and falls back to str
            raise TypeError("text only")
        return self.tokenizer.encode(text, add_special=False, parse_special=False)


def grammar_tokenizer(tokenizer: Tokenizer, vocab_size: int) -> Any:
    """The llguidance tokenizer for ``tokenizer`` (built once per tokenizer and vocabulary size)."""
    import llguidance

    key = (tokenizer.digest, vocab_size)
    with _lock:
        built = _tokenizers.get(key)
        if built is None:
            eos = sorted(tokenizer.eos_ids) or None
            built = llguidance.LLTokenizer(
                llguidance.TokenizerWrapper(_Encoder(tokenizer, vocab_size)), eos_token=eos
            )
            _tokenizers[key] = built
        return built


class Guide:
    """One sequence's grammar state (mutable: advances with every accepted token).

    States: ``opening`` (the output may still open a reasoning block with
    ``opener``), ``thinking`` (inside it: unconstrained until ``closer``), and
    ``active`` (every token masked by the grammar).
    """

    def __init__(self, matcher: Any, vocab_size: int, opener: int | None = None, closer: bytes | None = None,
                 token_bytes: Callable[[int], bytes] | None = None) -> None:
        self.matcher = matcher
        self.vocab_size = vocab_size
        self.words = (vocab_size + 31) // 32
        self.bitmask = np.full((1, self.words), -1, dtype=np.int32)
        self.opener = opener  # the token that opens a reasoning block
        self.closer = closer  # the bytes that close it
        self.token_bytes = token_bytes
        self.state = "opening" if opener is not None and closer else "active"
        self.tail = b""

    @property
    def active(self) -> bool:
        return self.state == "active"

    def allowed(self) -> np.ndarray:
        """A bool array over the vocabulary: the tokens allowed next."""
        if self.state == "thinking":
            return np.ones(self.vocab_size, np.bool_)
        self.matcher.unsafe_compute_mask_ptr(self.bitmask.ctypes.data, self.words * 4)
        if self.matcher.is_error():
            raise ConstraintDeadEnd(f"the output constraint failed: {self.matcher.get_error()}")
        bits = np.unpackbits(self.bitmask.view(np.uint8), bitorder="little")
        allowed = bits[: self.vocab_size].view(np.bool_)
        if self.state == "opening":
            allowed = allowed.copy()
            allowed[self.opener] = True
        return allowed

    def mask(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` with every token the constraint forbids set to -inf (a copy)."""
        if self.state == "thinking":
            return logits
        allowed = self.allowed()
        if not allowed.any():
            raise ConstraintDeadEnd("the output constraint allows no next token")
        return np.where(allowed, logits, -np.inf)

    def accept(self, token: int) -> None:
        if self.state == "opening":
            if token == self.opener:
                self.state = "thinking"
                return
            self.state = "active"
        if self.state == "thinking":
            assert self.closer is not None and self.token_bytes is not None
            self.tail = (self.tail + self.token_bytes(token))[-len(self.closer):]
            if self.tail == self.closer:
                self.state = "active"
            return
        if not self.matcher.consume_token(token):
            raise ConstraintDeadEnd(f"token {token} broke the output constraint: {self.matcher.get_error()}")

    @property
    def accepting(self) -> bool:
        return self.active and bool(self.matcher.is_accepting())


def guide_for(tokenizer: Tokenizer, vocab_size: int, constraint: Constraint) -> Guide:
    """A fresh ``Guide`` for one sequence; refuses a grammar the matcher rejects."""
    import llguidance

    matcher = llguidance.LLMatcher(grammar_tokenizer(tokenizer, vocab_size), grammar_for(constraint), log_level=0)
    if matcher.is_error():
        raise UnsupportedConstraint(f"{constraint.kind} cannot be enforced: {matcher.get_error()}",
                                    param="response_format")
    opener = closer = None
    if constraint.reasoning:
        ids = tokenizer.encode(constraint.reasoning[0], add_special=False, parse_special=True)
        # A multi-token opener cannot be told from constrained output: no reasoning block then.
        opener = ids[0] if len(ids) == 1 else None
        closer = constraint.reasoning[1].encode()
    n = tokenizer.vocab_size
    return Guide(matcher, vocab_size, opener, closer, lambda t: tokenizer.token_bytes(t) if t < n else b"")
