"""A tiny Wasm binary writer for hand-made (and deliberately broken) test modules."""

from __future__ import annotations

MAGIC = b"\x00asm\x01\x00\x00\x00"
I32, I64, F32 = 0x7F, 0x7E, 0x7D


def leb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def vec(items: list[bytes]) -> bytes:
    return leb(len(items)) + b"".join(items)


def section(sid: int, payload: bytes) -> bytes:
    return bytes([sid]) + leb(len(payload)) + payload


def functype(params: list[int], results: list[int]) -> bytes:
    return b"\x60" + vec([bytes([p]) for p in params]) + vec([bytes([r]) for r in results])


def body(code: bytes, locals_: list[tuple[int, int]] = ()) -> bytes:
    inner = vec([leb(n) + bytes([t]) for n, t in locals_]) + code
    return leb(len(inner)) + inner


def module(
    types: list[bytes],
    funcs: list[int],
    bodies: list[bytes],
    exports: list[bytes] = (),
    memory: bytes | None = None,
    extra: list[bytes] = (),
) -> bytes:
    parts = [MAGIC, section(1, vec(types)), section(3, vec([leb(f) for f in funcs]))]
    if memory is not None:
        parts.append(section(5, vec([memory])))
    if exports:
        parts.append(section(7, vec(list(exports))))
    parts.extend(extra)
    parts.append(section(10, vec(bodies)))
    return b"".join(parts)


def export_func(name: str, index: int) -> bytes:
    return leb(len(name)) + name.encode() + b"\x00" + leb(index)


def one_function(code: bytes, params: list[int] = (), results: list[int] = (I32,),
                 locals_: list[tuple[int, int]] = (), memory: bool = False) -> bytes:
    """A module with one exported function ``run`` whose body is ``code`` (ending in 0x0b)."""
    return module(
        [functype(list(params), list(results))], [0], [body(code, list(locals_))],
        [export_func("run", 0)], memory=b"\x00\x01" if memory else None,
    )
