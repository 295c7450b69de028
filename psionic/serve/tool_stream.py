"""Tool calls out of a token stream: content passes through, calls leave as ``ToolCallDelta``s.

``ToolStream.feed(text)`` returns what may be sent now: content (text that
cannot be the start of a call is never held back longer than the opener's
length) and call deltas. Where the grammar holds the arguments to their
schema as they are written (``ToolPlan.holds_arguments``), a call streams
incrementally: its id and name as soon as they are known, then its argument
text piece by piece; otherwise each call leaves whole, once it has closed and
its arguments have validated. ``finish()`` releases the rest. Put together,
the calls equal ``ToolPlan.outcome`` on the whole text (arguments as the same
JSON value).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field

from psionic.serve.tool_formats import _decode
from psionic.serve.tools import ToolCallDelta, ToolPlan

_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"(?:arguments|parameters)"\s*:')


@dataclass(slots=True)
class StreamEvents:
    content: str = ""
    deltas: list[ToolCallDelta] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _value_end(text: str) -> int | None:
    """Where the JSON object or array at the start of ``text`` ends (after spaces), or None if it has not."""
    i = len(text) - len(text.lstrip())
    if i >= len(text) or text[i] not in "{[":
        return None
    depth, in_string, escaped = 0, False, False
    for j in range(i, len(text)):
        c = text[j]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return j + 1
    return None


class ToolStream:
    """Mutable: holds the text not yet released and the call being streamed."""

    def __init__(self, plan: ToolPlan) -> None:
        self.plan = plan
        self.opener = plan.fmt.open.strip()
        self.closer = plan.fmt.close.strip()
        self.incremental = plan.holds_arguments
        self.buffer = ""
        self.in_call = False
        self.started = False  # any non-space content released (bare formats decide on the first text)
        self.calls = 0
        self.broken = False
        self.live: ToolCallDelta | None = None  # the head of the call now streaming
        self.sent = 0  # argument characters of the live call already sent

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
            if self.incremental:
                self._stream_arguments(events)
            if not self._take_call(events):
                return events

    def _stream_arguments(self, events: StreamEvents) -> None:
        """Send the live call's head and any new argument text."""
        head = _HEAD.match(self.buffer, len(self.opener))
        if head is None:
            return
        if self.live is None:
            self.live = ToolCallDelta(self.calls, f"call_{secrets.token_hex(12)}", json.loads(f'"{head.group(1)}"'))
            events.deltas.append(self.live)
        args = self.buffer[head.end():]
        end = _value_end(args)
        body = args.lstrip()[: (end - (len(args) - len(args.lstrip()))) if end is not None else None]
        if len(body) > self.sent:
            events.deltas.append(ToolCallDelta(self.live.index, arguments=body[self.sent:]))
            self.sent = len(body)

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
        self._complete(events, value)
        self.buffer = self.buffer[end:]
        self.in_call = False
        return not self.broken

    def _complete(self, events: StreamEvents, value: object) -> None:
        items, problems = self.plan.fmt._items(value)
        calls, bad = self.plan.validate(items)
        if self.live is not None:
            # Streamed under a grammar that held it: only the end is left to send.
            events.problems += problems + bad
            events.deltas.append(ToolCallDelta(self.live.index, done=True))
            self.calls += 1
            self.live, self.sent = None, 0
            return
        if problems or bad or len(calls) < len(items):
            self._fail(events, *(problems + bad))
            return
        for call in calls:
            events.deltas.append(ToolCallDelta.whole(self.calls, call))
            self.calls += 1

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
        if self.live is not None:
            # The output ended inside a streamed call (max_tokens): close it; the rest is not a call.
            parsed = _decode(text, len(self.opener))
            if parsed is not None:
                self._complete(events, parsed[0])
            else:
                events.problems.append("the output ended inside a call")
                events.deltas.append(ToolCallDelta(self.live.index, done=True))
            return events
        if text and not self.broken and (self.in_call or (not self.opener and not self.started)):
            outcome = self.plan.outcome(text)
            events.problems, events.content = outcome.problems, outcome.content or ""
            events.deltas = [ToolCallDelta.whole(self.calls + k, c) for k, c in enumerate(outcome.calls)]
            self.calls += len(outcome.calls)
        else:
            events.content = text
        return events


def _partial_suffix(text: str, marker: str) -> int:
    """The length of the longest end of ``text`` that is a proper start of ``marker``."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-n:]):
            return n
    return 0
