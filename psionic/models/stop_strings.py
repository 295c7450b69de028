"""Stop strings over streamed text: find the first stop, hold back what might start one.

>>> s = StopStrings(("</end>",))
>>> s.feed("hello </e"), s.feed("nd> bye")
(('hello ', False), ('', True))
"""

from __future__ import annotations


class StopStrings:
    """Feeds text deltas; returns (text safe to release, whether a stop string was hit)."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self.longest = max((len(s) for s in stops), default=0)
        self.pending = ""  # text seen but not yet released

    def feed(self, delta: str) -> tuple[str, bool]:
        if not self.stops:
            return delta, False
        text = self.pending + delta
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.pending = ""
            return text[: min(hits)], True
        # Hold back the longest suffix that is a prefix of some stop string.
        hold = 0
        for n in range(min(self.longest - 1, len(text)), 0, -1):
            tail = text[-n:]
            if any(s.startswith(tail) for s in self.stops):
                hold = n
                break
        self.pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold], False

    def flush(self) -> str:
        """Release held-back text at the end of a generation that stopped otherwise."""
        text, self.pending = self.pending, ""
        return text
