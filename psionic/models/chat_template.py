"""Chat templates from GGUF files, rendered in a sandbox the way HF transformers renders them.

A GGUF file carries its chat template as Jinja source in
``tokenizer.chat_template`` (named variants in ``tokenizer.chat_template.<name>``).
``ChatTemplate`` compiles it in an immutable sandbox with transformers'
conventions: ``trim_blocks`` and ``lstrip_blocks``, loop controls, a
``{% generation %}`` block, ``raise_exception``, ``strftime_now``, a ``tojson``
filter that does not HTML-escape, and ``bos_token``/``eos_token``,
``messages``, ``tools``, ``documents`` and ``add_generation_prompt`` in scope.

Templates are untrusted input. Besides the sandbox, a render has budgets:
``range`` may produce at most ``MAX_RANGE_ITEMS`` items in total, ``*`` may
not build strings or lists longer than ``MAX_OUTPUT_CHARS``, ``**`` takes
small exponents only, and the output stops at ``MAX_OUTPUT_CHARS``. A model
without a template raises ``ChatTemplateMissing``; a template that does not
compile, calls ``raise_exception``, breaks the sandbox or fails raises
``ChatTemplateError`` with ``details['reason']``.

>>> t = ChatTemplate.from_string("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}")
>>> t.render([{"role": "user", "content": "hi"}])
'<user>hi'
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from psionic.core.digest import digest_json
from psionic.core.errors import ChatTemplateError, ChatTemplateMissing, InvalidInput

if TYPE_CHECKING:
    from psionic.models.gguf_file import GGUFModelFile
    from psionic.models.tokenizer import Tokenizer

TEMPLATE_KEY = "tokenizer.chat_template"
MAX_OUTPUT_CHARS = 1 << 20
MAX_RANGE_ITEMS = 1 << 20
MAX_EXPONENT = 256


class _Raised(Exception):
    """What ``raise_exception`` throws inside a render."""


class _OverBudget(Exception):
    """A render tried to do more work than a chat template needs."""


class GenerationBlock(Extension):
    """``{% generation %}...{% endgeneration %}``: marks assistant text; renders its body."""

    tags = {"generation"}

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    # Jinja's own tojson escapes <, >, & and ' for HTML; chat prompts want plain JSON.
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise_exception(message: str) -> None:
    raise _Raised(str(message))


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*`` and ``**`` kept to sizes a prompt can use."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*":
            for seq, times in ((left, right), (right, left)):
                n = _sized(seq)
                if n is not None and isinstance(times, int) and n * times > MAX_OUTPUT_CHARS:
                    raise _OverBudget(f"'*' would build {n * times} items")
            return operator.mul(left, right)
        if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise _OverBudget(f"'**' with exponent {right}")
        return operator.pow(left, right)


def _environment() -> jinja2.Environment:
    env = _BoundedSandbox(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.loopcontrols", GenerationBlock],
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    return env


def _budgeted_range() -> Callable[..., range]:
    used = 0

    def budgeted(*args: int) -> range:
        nonlocal used
        r = range(*args)
        used += len(r)
        if used > MAX_RANGE_ITEMS:
            raise _OverBudget(f"range() produced more than {MAX_RANGE_ITEMS} items")
        return r

    return budgeted


@dataclass(frozen=True)
class ChatTemplate:
    """A compiled chat template. Not slotted: the compiled form and digest are cached."""

    source: str
    bos_token: str = ""
    eos_token: str = ""
    name: str = "default"
    # The clock behind strftime_now; fix it for reproducible prompts.
    now: Callable[[], datetime] = field(default=datetime.now, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.source, str):
            raise ChatTemplateError("a chat template must be a string", reason="syntax")
        self._compiled  # compile now, so a broken template fails at load time  # noqa: B018

    @classmethod
    def from_string(cls, source: str, bos_token: str = "", eos_token: str = "", **kw: Any) -> ChatTemplate:
        return cls(source, bos_token, eos_token, **kw)

    @classmethod
    def from_gguf(
        cls,
        model_file: GGUFModelFile,
        tokenizer: Tokenizer | None = None,
        name: str | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> ChatTemplate:
        """The file's template (or its variant ``name``); ``ChatTemplateMissing`` if it has none."""
        key = TEMPLATE_KEY if name is None else f"{TEMPLATE_KEY}.{name}"
        source = model_file.meta(key)
        if source is None:
            what = "chat template" if name is None else f"chat template named {name!r}"
            raise ChatTemplateMissing(
                f"{model_file.path.name} has no {what} ({key}); "
                "use a completion (a raw prompt) instead",
                path=str(model_file.path),
                key=key,
            )
        bos, eos = _special_texts(model_file, tokenizer)
        return cls(source, bos, eos, name or "default", now)

    @cached_property
    def _compiled(self) -> jinja2.Template:
        try:
            return _environment().from_string(self.source)
        except jinja2.TemplateSyntaxError as e:
            raise ChatTemplateError(
                f"chat template {self.name!r} does not compile: {e.message} (line {e.lineno})",
                reason="syntax",
                line=e.lineno,
            ) from None

    @cached_property
    def digest(self) -> str:
        return digest_json(
            "chat_template",
            {"source": self.source, "bos_token": self.bos_token, "eos_token": self.eos_token},
        )

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        add_generation_prompt: bool = False,
        tools: Sequence[Mapping[str, Any]] | None = None,
        documents: Sequence[Mapping[str, Any]] | None = None,
        **extra: Any,
    ) -> str:
        """The prompt text for ``messages`` (and ``tools``), as transformers would render it."""
        _check_messages(messages)
        context = {
            **extra,
            "messages": [dict(m) for m in messages],
            "tools": [dict(t) for t in tools] if tools is not None else None,
            "documents": documents,
            "add_generation_prompt": add_generation_prompt,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "strftime_now": lambda fmt: self.now().strftime(fmt),
            "range": _budgeted_range(),
        }
        out: list[str] = []
        size = 0
        try:
            for chunk in self._compiled.generate(**context):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise _OverBudget(f"output longer than {MAX_OUTPUT_CHARS} characters")
                out.append(chunk)
        except _Raised as e:
            raise ChatTemplateError(
                f"chat template {self.name!r} refused the conversation: {e}",
                reason="raised",
                template_message=str(e),
            ) from None
        except SecurityError as e:
            raise ChatTemplateError(
                f"chat template {self.name!r} tried something the sandbox forbids: {e}",
                reason="security",
            ) from None
        except _OverBudget as e:
            raise ChatTemplateError(
                f"chat template {self.name!r} exceeded its budget: {e}", reason="budget"
            ) from None
        except Exception as e:  # a template is code: any failure in it is the template's
            raise ChatTemplateError(
                f"chat template {self.name!r} failed: {type(e).__name__}: {e}", reason="render"
            ) from None
        return "".join(out)


def _check_messages(messages: Any) -> None:
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InvalidInput("messages must be a list of {'role', 'content'} objects")
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
            raise InvalidInput(f"message {i} must be an object with a string 'role'", index=i)


def _special_texts(model_file: GGUFModelFile, tokenizer: Tokenizer | None) -> tuple[str, str]:
    """The BOS and EOS token texts, from the tokenizer or straight from the metadata."""
    if tokenizer is not None:
        ids = (tokenizer.bos_id, tokenizer.eos_id)
        return tuple(tokenizer.token_text(i) if i is not None else "" for i in ids)  # type: ignore[return-value]
    tokens = model_file.meta("tokenizer.ggml.tokens") or []
    texts = []
    for key in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
        i = model_file.meta(key)
        ok = isinstance(i, int) and 0 <= i < len(tokens)
        texts.append(tokens[i] if ok else "")
    return texts[0], texts[1]
