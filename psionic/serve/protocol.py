"""Wire models of the OpenAI-compatible API (pydantic), strict by design.

Unknown fields are refused (``extra="forbid"``) and fields the server knows but
cannot honour are refused by name in ``unsupported()``: nothing a client sends
is silently ignored. Extensions beyond OpenAI's surface: ``top_k``, ``min_p``,
``repetition_penalty``, ``ignore_eos``, ``response_format`` on text
completions, and the constraint types of ``psionic.serve.structured``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_N = 8
MAX_TOP_LOGPROBS = 20


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamOptions(Strict):
    include_usage: bool = False


class SamplingFields(Strict):
    """Fields shared by chat and text completions."""

    model: str
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=MAX_N)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=0, le=2**53 - 1)
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    # extensions
    top_k: int = Field(default=0, ge=0)
    min_p: float = Field(default=0.0, ge=0.0, le=1.0)
    repetition_penalty: float = Field(default=1.0, gt=0.0, le=10.0)
    ignore_eos: bool = False


class TextPart(Strict):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    # Known, answered with a 400 until their capability lands.
    functions: list[dict[str, Any]] | None = None
    function_call: Any = None
    audio: dict[str, Any] | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    web_search_options: dict[str, Any] | None = None
    service_tier: str | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = None


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(default=16, ge=1)
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool = False
    best_of: int | None = None
    suffix: str | None = None
    # extension: the same output constraints as chat
    response_format: dict[str, Any] | None = None


class EmbeddingRequest(Strict):
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


class ResponsesRequest(Strict):
    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    stream: bool = False
    max_output_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = Field(default=None, ge=0, le=2**53 - 1)
    metadata: dict[str, str] | None = None
    user: str | None = None
    # Known, answered with a 400 until their capability lands.
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    truncation: str | None = None
    include: list[str] | None = None
    background: bool | None = None


def unsupported(request: BaseModel) -> str | None:
    """The name of the first field that is set but cannot be honoured, or None."""
    for name, allowed in _UNHONOURED.get(type(request), {}).items():
        value = getattr(request, name)
        if value is not None and not allowed(value):
            return name
    return None


def _is_none_like(value: Any) -> bool:
    return value in (None, [], {}, "none")


_UNHONOURED: dict[type, dict[str, Any]] = {
    ChatCompletionRequest: {
        "response_format": lambda v: True,  # mapped to a constraint, or refused by name there
        "functions": lambda v: v == [],
        "function_call": lambda v: v == "none",
        "audio": lambda v: False,
        "modalities": lambda v: v == ["text"],
        "prediction": lambda v: False,
        "reasoning_effort": lambda v: False,
        "web_search_options": lambda v: False,
        "service_tier": lambda v: v in ("auto", "default"),
        "store": lambda v: v is False,
        "metadata": lambda v: True,
    },
    CompletionRequest: {
        "suffix": lambda v: v == "",
        "best_of": lambda v: v == 1,
    },
    EmbeddingRequest: {},
    ResponsesRequest: {
        "text": lambda v: set(v) <= {"format"},
        "reasoning": lambda v: _is_none_like(v) or v == {"effort": None},
        "truncation": lambda v: v == "disabled",
        "include": lambda v: v == [],
        "background": lambda v: v is False,
        "metadata": lambda v: True,
    },
}
