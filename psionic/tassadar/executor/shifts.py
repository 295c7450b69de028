"""Shifts and rotations of i32 and i64: a byte of the result from two operand bytes.

For ``n``-byte operands and a count ``s = c0 mod 8n = 8q + r``:

- ``shl``: byte ``j = (a_(j-q) 2^r mod 256) + floor(a_(j-q-1) 2^r / 256)``, bytes
  below 0 read as 0;
- ``shr_u``/``shr_s``: byte ``j = floor(a_(j+q) 2^(8-r) / 256) + (a_(j+q+1) 2^(8-r)
  mod 256)``, bytes past ``n - 1`` read as 0, or ``0xff`` for ``shr_s`` of a
  negative ``a``;
- ``rotl``/``rotr``: ``shl``/``shr`` with the byte indices taken mod ``n``.

The functions ``[q == m]`` (of ``c0 mod 32`` and of ``c0 mod 64``), ``2^r`` and
``2^(8-r)`` of the byte ``c0`` share 255 threshold pairs (layer 4); layer 5
selects ``a_(j-q)`` and ``a_(j-q-1)`` (or ``a_(j+q)``, ``a_(j+q+1)``) from the
operand bytes read at the step's opcode token (the result overwrites ``a`` as
it is written), one unit per (byte, ``q``, ``j``), gated to the operand width;
layer 6 multiplies by ``2^r`` (``2^(8-r)``) and layer 7 takes the remainder and
the quotient by 256 with threshold pairs.

>>> from psionic.tassadar.executor.compiler import build_circuit
>>> "shq64_7" in build_circuit().features
True
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from psionic.tassadar.executor.circuit import Circuit, Layer
from psionic.tassadar.executor.forms import add as _merge

WIDE = float(1 << 20)
J = {"pos": 1.0, "mpos": -1.0}
WIDTHS = (4, 8)


def byte_functions(lay: Layer, byte: str, functions: dict[str, Callable[[int], int]],
                   doc: str) -> None:
    """``out[name] += f(byte)`` for integer functions of a byte: f(0) plus one threshold pair
    ``relu(x - t + 1) - relu(x - t)`` per t = 1..255, shared by every function."""
    base = {name: float(f(0)) for name, f in functions.items() if f(0)}
    if base:
        lay.unit({"one": 1.0}, {"one": 1.0}, base, f"{doc}: value at 0")
    for t in range(1, 256):
        delta = {name: float(f(t) - f(t - 1)) for name, f in functions.items()}
        delta = {k: v for k, v in delta.items() if v}
        if not delta:
            continue
        lay.unit({byte: 1.0, "one": 1.0 - t}, {"one": 1.0}, delta, f"{doc}: step at {t}")
        lay.unit({byte: 1.0, "one": -float(t)}, {"one": 1.0}, {k: -v for k, v in delta.items()},
                 f"{doc}: step at {t}")


def _is_q(x: int, n: int, m: int) -> int:
    return int((x % (8 * n)) // 8 == m)


def _q(n: int, m: int) -> str:
    return f"shq{m}" if n == 4 else f"shq64_{m}"


def _jind(j: int) -> str:
    return {0: "first", 1: "j1", 2: "j2", 3: "j3"}.get(j, f"sh_j{j}")


def _width_gate(n: int) -> dict[str, float]:
    """0 for a step of width ``n``, <= -WIDE for the other width."""
    return {"sh_w8": -WIDE} if n == 4 else {"sh_w8": WIDE, "one": -WIDE}


def build(c: Circuit, lay: Layer, columns: Layer, floor: Layer, last: Layer) -> None:
    """Layers 4-7 of shl, shr_u, shr_s, rotl, rotr for both widths."""
    functions: dict[str, Callable[[int], int]] = {"pow2r": lambda x: 1 << (x % 8),
                                                  "pow2r8": lambda x: 1 << (8 - x % 8)}
    for n in WIDTHS:
        for m in range(n):
            c.feature(_q(n, m), f"[(c0 mod {8 * n}) // 8 == {m}]")
            functions[_q(n, m)] = partial(_is_q, n=n, m=m)
    c.feature("pow2r", "2^(c0 mod 8)")
    c.feature("pow2r8", "2^(8 - c0 mod 8)")
    byte_functions(lay, "c0", functions, "shift amount")
    c.feature("sh_w8", "[width == 8]: an i64 shift or rotation")
    c.feature("sign_a7", "[a7 >= 128]: src_a is negative as i64")
    for shift, coef in ((1.0, 1.0), (0.0, -2.0), (-1.0, 1.0)):
        lay.unit({"f_width": 1.0, "one": shift - 8.0}, {"one": 1.0}, {"sh_w8": coef},
                 "sh_w8 = [width == 8]")
    for shift, coef in ((-127.0, 1.0), (-128.0, -1.0)):
        lay.unit({"a7": 1.0, "one": shift}, {"one": 1.0}, {"sign_a7": coef}, "sign_a7 = [a7 >= 128]")
    for j in range(4, 8):
        c.feature(f"sh_j{j}", f"[j == {j}]")
        for shift, coef in ((1.0, 1.0), (0.0, -2.0), (-1.0, 1.0)):
            lay.unit({**J, "one": shift - j}, {"one": 1.0}, {f"sh_j{j}": coef},
                     f"sh_j{j} = [j == {j}]")
    _select_left(c, columns)
    _select_right(c, columns)
    for feat, power in (("shl_lo", "pow2r"), ("shl_hi", "pow2r"), ("shr_lo", "pow2r8"),
                        ("shr_hi", "pow2r8")):
        c.feature(f"{feat}_x", f"{feat} * {power}")
        floor.unit({feat: 1.0}, {power: 1.0}, {f"{feat}_x": 1.0}, f"{feat} * {power} (ReGLU product)")
    _emit(last)


def _select_left(c: Circuit, columns: Layer) -> None:
    for feat, extra in (("shl_lo", 0), ("shl_hi", 1)):
        c.feature(feat, f"byte j - q - {extra} of src_a (0 below byte 0; mod n for rotl)")
        for n in WIDTHS:
            for k in range(n):
                for m in range(n):
                    j = k + m + extra
                    if j < n:
                        gate = {f"mark_a{k}": 1.0, "one": -2 * WIDE, _jind(j): WIDE,
                                _q(n, m): WIDE}
                        doc = f"{feat}: a_k where k = j - q - {extra} (width {n})"
                    else:
                        gate = {f"mark_a{k}": 1.0, "one": -3 * WIDE, _jind(j - n): WIDE,
                                _q(n, m): WIDE, "is_rotl": WIDE}
                        doc = f"{feat}, rotl: a_k where k = j - q - {extra} + {n} (width {n})"
                    columns.unit(_merge(gate, _width_gate(n)), {"one": 1.0}, {feat: 1.0}, doc)


def _select_right(c: Circuit, columns: Layer) -> None:
    for feat, extra in (("shr_lo", 0), ("shr_hi", 1)):
        c.feature(feat, f"byte j + q + {extra} of src_a (past the top: the fill byte, or mod n "
                  "for rotr)")
        for n in WIDTHS:
            sign = "sign_a" if n == 4 else "sign_a7"
            for j in range(n):
                for m in range(n):
                    k = j + m + extra
                    if k < n:
                        columns.unit(_merge({f"mark_a{k}": 1.0, "one": -2 * WIDE, _jind(j): WIDE,
                                             _q(n, m): WIDE}, _width_gate(n)), {"one": 1.0},
                                     {feat: 1.0}, f"{feat}: a_k where k = j + q + {extra} "
                                     f"(width {n})")
                        continue
                    width_flag = {"sh_w8": -1.0} if n == 4 else {"sh_w8": 1.0, "one": -1.0}
                    columns.unit(_merge({_jind(j): 1.0, _q(n, m): 1.0, sign: 1.0, "is_shr_s": 1.0,
                                         "one": -3.0}, width_flag), {"one": 1.0}, {feat: 255.0},
                                 f"{feat}: 0xff past byte {n - 1} when shr_s and a is negative")
                    columns.unit(_merge({f"mark_a{k - n}": 1.0, "one": -3 * WIDE,
                                         _jind(j): WIDE, _q(n, m): WIDE, "is_rotr": WIDE},
                                        _width_gate(n)), {"one": 1.0}, {feat: 1.0},
                                 f"{feat}, rotr: a_k where k = j + q + {extra} - {n} (width {n})")


def _emit(last: Layer) -> None:
    """T: remainders and quotients by 256 of the scaled bytes (threshold pairs)."""
    gate = {"one": -WIDE, "is_shl": WIDE, "is_rotl": WIDE, "at_end": -WIDE}
    last.unit(_merge({"shl_lo_x": 1.0}, gate), {"one": 1.0}, {"T": 1.0},
              "shl/rotl: a_(j-q) 2^r ...")
    for m in range(1, 128):
        for shift, coef in ((1.0, 1.0), (0.0, -1.0)):
            last.unit(_merge({"shl_lo_x": 1.0, "one": shift - 256.0 * m}, gate), {"one": 1.0},
                      {"T": -256.0 * coef}, "shl/rotl: ... mod 256 (minus 256 [x >= 256 m])")
            last.unit(_merge({"shl_hi_x": 1.0, "one": shift - 256.0 * m}, gate), {"one": 1.0},
                      {"T": coef}, "shl/rotl: + floor(a_(j-q-1) 2^r / 256)")
    gate = {"one": -WIDE, "is_shr_u": WIDE, "is_shr_s": WIDE, "is_rotr": WIDE, "at_end": -WIDE}
    last.unit(_merge({"shr_hi_x": 1.0}, gate), {"one": 1.0}, {"T": 1.0},
              "shr/rotr: a_(j+q+1) 2^(8-r) ...")
    for m in range(1, 256):
        for shift, coef in ((1.0, 1.0), (0.0, -1.0)):
            last.unit(_merge({"shr_hi_x": 1.0, "one": shift - 256.0 * m}, gate), {"one": 1.0},
                      {"T": -256.0 * coef}, "shr/rotr: ... mod 256 (minus 256 [x >= 256 m])")
            last.unit(_merge({"shr_lo_x": 1.0, "one": shift - 256.0 * m}, gate), {"one": 1.0},
                      {"T": coef}, "shr/rotr: + floor(a_(j+q) 2^(8-r) / 256)")
