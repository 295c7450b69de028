"""An assistant turn's text shaped for the API: reasoning apart, tool calls apart, the rest content.

For families that think in ``<think>...</think>`` (their chat template says
so) the block at the start of the output becomes ``reasoning_content``; tool
calls (when the request has tools) become ``tool_calls``. ``shape`` does this
for a whole text, ``ChatOutputStream`` for a stream of text pieces (calls as
``ToolCallDelta``s), and what the stream emits adds up to what ``shape``
returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psionic.serve.tool_stream import ToolStream, _partial_suffix
from psionic.serve.tools import ToolCall, ToolCallDelta, ToolPlan

THINK = ("<think>", "</think>")


def reasoning_markers(template_source: str | None) -> tuple[str, str] | None:
    """The thinking block a family writes, if its chat template shows one."""
    return THINK if template_source and THINK[0] in template_source and THINK[1] in template_source else None


@dataclass(slots=True)
class Shaped:
    """One turn's parts (mutable: a stream fills it piece by piece)."""

    content: str = ""
    reasoning: str = ""
    calls: list[ToolCall] = field(default_factory=list)  # whole calls (a finished turn)
    deltas: list[ToolCallDelta] = field(default_factory=list)  # call pieces (a stream)
    problems: list[str] = field(default_factory=list)


def split_reasoning(text: str, markers: tuple[str, str] | None) -> tuple[str, str]:
    """(reasoning, rest): the thinking block at the start of ``text``, if any (unclosed: all of it)."""
    if markers is None:
        return "", text
    head = text.lstrip()
    if not head.startswith(markers[0]):
        return "", text
    body = head[len(markers[0]):]
    end = body.find(markers[1])
    if end < 0:
        return body, ""
    return body[:end], body[end + len(markers[1]):].lstrip()


def shape(text: str, markers: tuple[str, str] | None, plan: ToolPlan | None) -> Shaped:
    reasoning, rest = split_reasoning(text, markers)
    if plan is None:
        return Shaped(rest, reasoning)
    outcome = plan.outcome(rest)
    return Shaped(outcome.content or "", reasoning, calls=outcome.calls, problems=outcome.problems)


class ChatOutputStream:
    """Mutable: the state of one streamed choice."""

    def __init__(self, markers: tuple[str, str] | None, plan: ToolPlan | None) -> None:
        self.markers = markers
        self.tools = ToolStream(plan) if plan is not None else None
        self.state = "start" if markers else "content"
        self.buffer = ""

    def feed(self, text: str) -> Shaped:
        out = Shaped()
        self.buffer += text
        if self.state == "start":
            head = self.buffer.lstrip()
            opener = self.markers[0]  # type: ignore[index]
            if head.startswith(opener):
                self.buffer = head[len(opener):]
                self.state = "thinking"
            elif not opener.startswith(head):
                self.state = "content"
            else:
                return out  # could still be the opener
        if self.state == "thinking":
            closer = self.markers[1]  # type: ignore[index]
            end = self.buffer.find(closer)
            if end < 0:
                keep = _partial_suffix(self.buffer, closer)
                out.reasoning, self.buffer = self.buffer[: len(self.buffer) - keep], self.buffer[len(self.buffer) - keep:]
                return out
            out.reasoning = self.buffer[:end]
            self.buffer = self.buffer[end + len(closer):]
            self.state = "after"
        if self.state == "after":  # the whitespace between the block and the answer is dropped
            self.buffer = self.buffer.lstrip()
            if not self.buffer:
                return out
            self.state = "content"
        text, self.buffer = self.buffer, ""
        self._content(out, text)
        return out

    def _content(self, out: Shaped, text: str) -> None:
        if self.tools is None:
            out.content += text
            return
        events = self.tools.feed(text)
        out.content += events.content
        out.deltas += events.deltas
        out.problems += events.problems

    def finish(self) -> Shaped:
        out = Shaped()
        text, self.buffer = self.buffer, ""
        if self.state == "start":
            self._content(out, text)
        elif self.state == "thinking":
            out.reasoning = text
        elif self.state == "content":
            self._content(out, text)
        if self.tools is not None:
            events = self.tools.finish()
            out.content += events.content
            out.deltas += events.deltas
            out.problems += events.problems
        return out
