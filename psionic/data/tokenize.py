"""Records to token ids with a loss mask that covers what the model must learn to write.

A chat record is rendered with the model's own chat template one turn at a
time: the text before each assistant turn is rendered exactly as it would be
at inference (``add_generation_prompt=True``) and tokenized as the prompt would
be; the assistant turn (its content and the template's end-of-turn text) is
tokenized on its own and is the only part with loss. A completion record has
loss on the completion and the end-of-sequence token.

``mask[t]`` says whether token ``t`` is a prediction target (predicted from
the tokens before it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from psionic.core.digest import digest_json
from psionic.core.errors import ChatTemplateError, ChatTemplateMissing
from psionic.data.records import Example


class TokenizerLike(Protocol):
    @property
    def eos_id(self) -> int | None: ...

    @property
    def digest(self) -> str: ...

    def encode(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]: ...


class TemplateLike(Protocol):
    @property
    def digest(self) -> str: ...

    def render(self, messages: Sequence[Any], add_generation_prompt: bool = False, **kw: Any) -> str: ...


@dataclass(frozen=True, slots=True)
class TokenizedExample:
    ids: np.ndarray  # (T,) int32
    mask: np.ndarray  # (T,) bool: token t is a target
    source: str
    line: int
    digest: str  # the record's content digest

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def loss_tokens(self) -> int:
        return int(self.mask.sum())


@dataclass(frozen=True, slots=True)
class Tokenization:
    """The tokenizer and chat template a dataset is tokenized with, and their identity."""

    tokenizer: TokenizerLike
    template: TemplateLike | None

    def identity(self) -> dict[str, Any]:
        return {
            "tokenizer": self.tokenizer.digest,
            "chat_template": self.template.digest if self.template is not None else None,
        }

    @property
    def digest(self) -> str:
        return digest_json("tokenization", self.identity())

    def __call__(self, example: Example) -> TokenizedExample:
        chunks = _chat_chunks(example, self.template) if example.kind == "chat" else None
        ids: list[int] = []
        mask: list[bool] = []
        if chunks is None:
            prompt = self.tokenizer.encode(example.prompt, add_special=True)
            answer = self.tokenizer.encode(example.completion, add_special=False)
            eos = self.tokenizer.eos_id
            answer = answer + ([eos] if eos is not None else [])
            ids, mask = prompt + answer, [False] * len(prompt) + [True] * len(answer)
        else:
            for i, (text, trained) in enumerate(chunks):
                part = self.tokenizer.encode(text, add_special=i == 0)
                ids.extend(part)
                mask.extend([trained] * len(part))
        return TokenizedExample(
            np.asarray(ids, np.int32), np.asarray(mask, np.bool_), example.source, example.line,
            example.digest,
        )


def _chat_chunks(example: Example, template: TemplateLike | None) -> list[tuple[str, bool]]:
    """The rendered conversation cut into (text, is_assistant_turn) pieces, in order."""
    if template is None:
        raise ChatTemplateMissing(
            f"{example.source}:{example.line}: a chat record needs a model with a chat template",
            file=example.source, line=example.line,
        )
    messages = [{"role": m.role, "content": m.content} for m in example.messages]
    chunks: list[tuple[str, bool]] = []
    done = ""
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = template.render(messages[:i], add_generation_prompt=True)
        after = template.render(messages[: i + 1])
        if not before.startswith(done) or not after.startswith(before):
            raise ChatTemplateError(
                f"{example.source}:{example.line}: the chat template does not render turn {i} as an "
                "extension of the turns before it, so the assistant tokens cannot be separated",
                reason="render", file=example.source, line=example.line,
            )
        if len(before) > len(done):
            chunks.append((before[len(done):], False))
        chunks.append((after[len(before):], True))
        done = after
    return chunks


def tokenize_all(examples: Sequence[Example], tokenization: Tokenization) -> list[TokenizedExample]:
    return [tokenization(e) for e in examples]
