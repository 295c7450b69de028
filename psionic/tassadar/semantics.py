"""Exact WebAssembly integer semantics on unsigned Python ints.

Values of type i32 are ints in ``[0, 2**32)`` and i64 in ``[0, 2**64)``; signed
operations reinterpret them. ``UNARY`` and ``BINARY`` map an opcode name to a
pure function; division and remainder raise ``Trap`` as Wasm requires.

>>> BINARY["i32.sub"](0, 1) == 0xFFFFFFFF
True
>>> BINARY["i32.div_s"](0xFFFFFFF9, 2) == (-3) & 0xFFFFFFFF
True
"""

from __future__ import annotations

from collections.abc import Callable

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
S32 = 0x80000000
S64 = 0x8000000000000000


class Trap(Exception):
    """A Wasm trap inside the interpreter; ``kind`` is one of ``trace.TRAPS``."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


def _div_s(bits: int) -> Callable[[int, int], int]:
    mask = (1 << bits) - 1

    def f(a: int, b: int) -> int:
        if b == 0:
            raise Trap("integer_divide_by_zero")
        x, y = signed(a, bits), signed(b, bits)
        q = abs(x) // abs(y)
        if (x < 0) != (y < 0):
            q = -q
        if q == 1 << (bits - 1):
            raise Trap("integer_overflow")
        return q & mask

    return f


def _div_u(a: int, b: int) -> int:
    if b == 0:
        raise Trap("integer_divide_by_zero")
    return a // b


def _rem_s(bits: int) -> Callable[[int, int], int]:
    mask = (1 << bits) - 1

    def f(a: int, b: int) -> int:
        if b == 0:
            raise Trap("integer_divide_by_zero")
        x, y = signed(a, bits), signed(b, bits)
        r = abs(x) % abs(y)
        return (-r if x < 0 else r) & mask

    return f


def _rem_u(a: int, b: int) -> int:
    if b == 0:
        raise Trap("integer_divide_by_zero")
    return a % b


def _family(bits: int) -> dict[str, Callable[[int, int], int]]:
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    k = bits - 1
    p = f"i{bits}"

    def rotl(a: int, b: int) -> int:
        n = b & k
        return ((a << n) | (a >> (bits - n))) & mask

    def rotr(a: int, b: int) -> int:
        n = b & k
        return ((a >> n) | (a << (bits - n))) & mask

    def shr_s(a: int, b: int) -> int:
        return (signed(a, bits) >> (b & k)) & mask

    return {
        f"{p}.add": lambda a, b: (a + b) & mask,
        f"{p}.sub": lambda a, b: (a - b) & mask,
        f"{p}.mul": lambda a, b: (a * b) & mask,
        f"{p}.div_s": _div_s(bits),
        f"{p}.div_u": _div_u,
        f"{p}.rem_s": _rem_s(bits),
        f"{p}.rem_u": _rem_u,
        f"{p}.and": lambda a, b: a & b,
        f"{p}.or": lambda a, b: a | b,
        f"{p}.xor": lambda a, b: a ^ b,
        f"{p}.shl": lambda a, b: (a << (b & k)) & mask,
        f"{p}.shr_s": shr_s,
        f"{p}.shr_u": lambda a, b: a >> (b & k),
        f"{p}.rotl": rotl,
        f"{p}.rotr": rotr,
        f"{p}.eq": lambda a, b: int(a == b),
        f"{p}.ne": lambda a, b: int(a != b),
        f"{p}.lt_s": lambda a, b: int((a ^ sign) < (b ^ sign)),
        f"{p}.lt_u": lambda a, b: int(a < b),
        f"{p}.gt_s": lambda a, b: int((a ^ sign) > (b ^ sign)),
        f"{p}.gt_u": lambda a, b: int(a > b),
        f"{p}.le_s": lambda a, b: int((a ^ sign) <= (b ^ sign)),
        f"{p}.le_u": lambda a, b: int(a <= b),
        f"{p}.ge_s": lambda a, b: int((a ^ sign) >= (b ^ sign)),
        f"{p}.ge_u": lambda a, b: int(a >= b),
    }


def _ctz(bits: int) -> Callable[[int], int]:
    return lambda a: (a & -a).bit_length() - 1 if a else bits


def _extend(from_bits: int, mask: int) -> Callable[[int], int]:
    low = (1 << from_bits) - 1
    return lambda a: signed(a & low, from_bits) & mask


BINARY: dict[str, Callable[[int, int], int]] = {**_family(32), **_family(64)}

UNARY: dict[str, Callable[[int], int]] = {
    "i32.eqz": lambda a: int(a == 0),
    "i64.eqz": lambda a: int(a == 0),
    "i32.clz": lambda a: 32 - a.bit_length(),
    "i64.clz": lambda a: 64 - a.bit_length(),
    "i32.ctz": _ctz(32),
    "i64.ctz": _ctz(64),
    "i32.popcnt": int.bit_count,
    "i64.popcnt": int.bit_count,
    "i32.wrap_i64": lambda a: a & M32,
    "i64.extend_i32_s": lambda a: signed(a, 32) & M64,
    "i64.extend_i32_u": lambda a: a,
    "i32.extend8_s": _extend(8, M32),
    "i32.extend16_s": _extend(16, M32),
    "i64.extend8_s": _extend(8, M64),
    "i64.extend16_s": _extend(16, M64),
    "i64.extend32_s": _extend(32, M64),
}


def mul_tokens(a: int, b: int, nbytes: int, carry_base: int) -> list[int]:
    """Byte-wise product with explicit carries: ``[r0, k1, r1, k2, ..., r(n-1)]``.

    ``r_k`` is byte ``k`` of ``a*b mod 2**(8n)`` and ``k_(k+1)`` is
    ``carry_base`` plus the carry out of byte ``k`` of the schoolbook product,
    where ``S_k = sum_(i+j=k) a_i*b_j + carry_k``, ``r_k = S_k mod 256`` and
    ``carry_(k+1) = S_k // 256`` (always below 2048 for 8-byte operands).

    >>> mul_tokens(0xFF, 0xFF, 2, 1000)
    [1, 1254, 254]
    """
    ab = a.to_bytes(nbytes, "little")
    bb = b.to_bytes(nbytes, "little")
    out: list[int] = []
    carry = 0
    for k in range(nbytes):
        s = carry
        for i in range(k + 1):
            s += ab[i] * bb[k - i]
        if k:
            out.append(carry_base + carry)
        out.append(s & 0xFF)
        carry = s >> 8
    return out


def div_tokens(a: int, b: int, nbytes: int, is_signed: bool, remainder: bool,
               scratch_base: int) -> tuple[list[int], int]:
    """A division's payload (trace ABI 4.3) and its result; raises ``Trap`` as Wasm does.

    With ``x``, ``y`` the operands (signed or not), ``Q = |x| // |y|`` and
    ``R = |x| % |y|``: the bytes of ``Q`` most significant first as scratch tokens
    (``scratch_base + byte``), for a remainder then those of ``R``, then the result
    ``X`` (``Q`` or ``R``) least significant byte first; a negative result is
    emitted as the sum ``(~X) + 1`` with the carry flags of an addition.

    >>> div_tokens(7, 2, 4, False, True, 1000)[0]
    [1000, 1000, 1000, 1003, 1000, 1000, 1000, 1001, 1, 0, 0, 0]
    >>> div_tokens(0xFFFFFFF9, 2, 4, True, False, 1000)[0][4:]
    [253, 255, 255, 255]
    """
    bits = 8 * nbytes
    mask = (1 << bits) - 1
    if b == 0:
        raise Trap("integer_divide_by_zero")
    x, y = (signed(a, bits), signed(b, bits)) if is_signed else (a, b)
    if is_signed and not remainder and x == -(1 << (bits - 1)) and y == -1:
        raise Trap("integer_overflow")
    q, r = abs(x) // abs(y), abs(x) % abs(y)
    msb = range(nbytes - 1, -1, -1)
    out = [scratch_base + (q >> (8 * k) & 0xFF) for k in msb]
    if remainder:
        out += [scratch_base + (r >> (8 * k) & 0xFF) for k in msb]
        value, negative = r, x < 0
    else:
        value, negative = q, (x < 0) != (y < 0)
    if not negative:
        return out + list(value.to_bytes(nbytes, "little")), value
    inverted = ~value & mask
    total = inverted + 1
    carries = (inverted ^ 1 ^ total) >> 8  # bit 8k: carry out of byte k
    out += [(total >> (8 * k) & 0xFF) | (carries >> (8 * k) & 1) << 8 for k in range(nbytes)]
    return out, total & mask
