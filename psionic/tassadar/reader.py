"""A cursor over Wasm bytes: LEB128 integers, names and vectors, with offsets in every error."""

from __future__ import annotations

from psionic.core.errors import MalformedWasm


class Reader:
    """Reads the binary format from ``data[pos:end]``; every error names the byte offset."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def fail(self, what: str, offset: int | None = None) -> MalformedWasm:
        at = self.pos if offset is None else offset
        return MalformedWasm(f"{what} at byte offset {at}", offset=at)

    def at_end(self) -> bool:
        return self.pos >= self.end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise self.fail("unexpected end of input")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def bytes(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise self.fail(f"{n} bytes run past the end of their section")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return bytes(out)

    def u32(self) -> int:
        return self._uleb(32)

    def _uleb(self, bits: int) -> int:
        start = self.pos
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift >= bits:
                raise self.fail("integer representation too long", start)
        if result >> bits:
            raise self.fail("integer too large", start)
        return result

    def sleb(self, bits: int) -> int:
        """A signed LEB128 of ``bits`` bits, returned as a Python int (negative when negative)."""
        start = self.pos
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift >= bits:
                raise self.fail("integer representation too long", start)
        if b & 0x40:
            result -= 1 << shift
        if not -(1 << (bits - 1)) <= result < (1 << (bits - 1)):
            raise self.fail("integer too large", start)
        return result

    def name(self) -> str:
        n = self.u32()
        raw = self.bytes(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("malformed UTF-8 name", self.pos - n) from None
