"""Tool calls out of a token stream: content passes through, each call leaves whole once it closes.

``ToolStream.feed(text)`` returns what may be sent now: content deltas (text
that cannot be the start of a call is never held back longer than the
opener's length) and validated ``ToolCall``s, each as soon as its closing
text arrives. ``finish()`` releases the rest. What it emits, put together,
equals ``ToolPlan.outcome`` on the whole text, except when a call fails
validation: then the stream has already sent the content before it and
reports the failed call's text as content.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psionic.serve.tool_formats import _decode
from psionic.serve.tools import ToolCall, ToolPlan


@dataclass(slots=True)
class StreamEvents:
    content: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class ToolStream:
    """Mutable: holds the text not yet released."""

    def __init__(self, plan: ToolPlan) -> None:
        self.plan = plan
        self.opener = plan.fmt.open.strip()
        self.closer = plan.fmt.close.strip()
        self.buffer = ""
        self.in_call = False
        self.started = False  # any non-space content released (bare formats decide on the first text)
        self.calls = 0
        self.broken = False

    def feed(self, text: str) -> StreamEvents:
        self.buffer += text
        events = StreamEvents()
        if self.broken:
            events.content, self.buffer = self.buffer, ""
            return events
        if not self.opener:
            return self._feed_bare(events)
        while True:
            if not self.in_call:
                start = self.buffer.find(self.opener)
                if start < 0:
                    keep = _partial_suffix(self.buffer, self.opener)
                    events.content += self.buffer[: len(self.buffer) - keep]
                    self.buffer = self.buffer[len(self.buffer) - keep:]
                    return events
                events.content += self.buffer[:start]
                self.buffer = self.buffer[start:]
                self.in_call = True
            if not self._take_call(events):
                return events

    def _take_call(self, events: StreamEvents) -> bool:
        """Release one complete call from the buffer; False while it is still arriving."""
        parsed = _decode(self.buffer, len(self.opener))
        if parsed is None:
            return False
        value, end = parsed
        rest = self.buffer[end:]
        stripped = rest.lstrip()
        if self.closer:
            if not stripped.startswith(self.closer):
                if self.closer.startswith(stripped):
                    return False  # the closer is still arriving
                return self._fail(events, f"a call is not closed by {self.closer!r}")
            end += len(rest) - len(stripped) + len(self.closer)
        items, problems = self.plan.fmt._items(value)
        calls, bad = self.plan.validate(items)
        if problems or bad or len(calls) < len(items):
            return self._fail(events, *(problems + bad))
        events.calls += calls
        self.calls += len(calls)
        self.buffer = self.buffer[end:]
        self.in_call = False
        return True

    def _fail(self, events: StreamEvents, *problems: str) -> bool:
        events.problems += problems
        events.content += self.buffer
        self.buffer = ""
        self.in_call = False
        self.broken = True  # after a broken call, the rest is plain content
        return False

    def _feed_bare(self, events: StreamEvents) -> StreamEvents:
        if self.started:
            events.content, self.buffer = self.buffer, ""
            return events
        head = self.buffer.lstrip()
        if head and not ("<|python_tag|>".startswith(head[:14]) or head.startswith(("{", "<|python_tag|>"))):
            self.started = True
            events.content, self.buffer = self.buffer, ""
        return events  # otherwise the whole output may be a call: held until finish()

    def finish(self) -> StreamEvents:
        events = StreamEvents()
        text, self.buffer = self.buffer, ""
        if text and not self.broken and (self.in_call or (not self.opener and not self.started)):
            outcome = self.plan.outcome(text)
            events.calls, events.problems, events.content = outcome.calls, outcome.problems, outcome.content or ""
        else:
            events.content = text
        return events


def _partial_suffix(text: str, marker: str) -> int:
    """The length of the longest end of ``text`` that is a proper start of ``marker``."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-n:]):
            return n
    return 0
