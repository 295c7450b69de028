"""clz, ctz and popcnt of i32 and i64: byte functions, then a masked sum.

Per operand byte ``a_k`` three byte functions (layer 5, 255 threshold pairs per
byte, idle off a count step): ``pop8``, ``clz8`` (``8 - bit_length``) and
``ctz8`` (8 at 0). Then (layer 6)

- ``popcnt = sum_k pop8(a_k)``;
- ``clz = sum_k [a_(n-1) + ... + a_(k+1) == 0] clz8(a_k)``: bytes above the top
  nonzero byte count 8 each, the top one its own leading zeros, lower ones nothing;
- ``ctz = sum_k [a_0 + ... + a_(k-1) == 0] ctz8(a_k)``;

each product a gated unit ``relu(f - 16 (1 - z))`` (``f <= 8``). The count is
byte 0 of the result (layer 7); the other bytes are 0. i32 sums bytes 0..3
only (the slot's bytes 4..7 are stale), i64 all eight.

>>> from psionic.tassadar.executor.compiler import build_circuit
>>> "cnt_clz64" in build_circuit().features
True
"""

from __future__ import annotations

from collections.abc import Callable

from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.circuit import Circuit, Layer
from psionic.tassadar.executor.forms import hat as _zero

KINDS = ("clz", "ctz", "popcnt")
BIG = float(1 << 20)
FUNCTIONS: dict[str, Callable[[int], int]] = {
    "pop": lambda x: bin(x).count("1"),
    "clz": lambda x: 8 - x.bit_length(),
    "ctz": lambda x: 8 if x == 0 else (x & -x).bit_length() - 1,
}


def record(op_name: str, sp: int) -> dict[str, int]:
    w = 4 if op_name.startswith("i32") else 8
    return {"width": w, "kind": L.KIND[op_name.split(".")[1]], "src_a": sp - 1, "dst": sp - 1}


def build(c: Circuit, columns: Layer, floor: Layer, last: Layer) -> None:
    """Layers 5-7 (operand bytes a0..a7 come from layer 4)."""
    on = {f"is_{k}": BIG for k in KINDS}
    for k in range(8):
        for name in FUNCTIONS:
            c.feature(f"cnt_{name}_b{k}", f"{name}8 of byte {k} of src_a (at a count step)")
        base = {f"cnt_{name}_b{k}": float(f(0)) for name, f in FUNCTIONS.items() if f(0)}
        columns.unit({"one": 1.0}, {"one": 1.0}, base, f"byte functions of a{k}: the values at 0")
        for t in range(1, 256):
            delta = {f"cnt_{name}_b{k}": float(f(t) - f(t - 1)) for name, f in FUNCTIONS.items()}
            delta = {n: v for n, v in delta.items() if v}
            for shift, sign in ((1.0 - t, 1.0), (-float(t), -1.0)):
                columns.unit({f"a{k}": 1.0, **on, "one": shift - BIG}, {"one": 1.0},
                             {n: sign * v for n, v in delta.items()},
                             f"byte functions of a{k}: the step [a{k} >= t], t = 1..255")
    for n in (4, 8):
        for k in range(n):
            c.feature(f"cnt_zhi{n}_{k}", f"[bytes {k + 1}..{n - 1} of src_a are 0]")
            c.feature(f"cnt_zlo{n}_{k}", f"[bytes 0..{k - 1} of src_a are 0]")
            _zero(columns, {f"a{i}": 1.0 for i in range(k + 1, n)}, f"cnt_zhi{n}_{k}",
                  f"cnt_zhi{n}_{k} = [a_{k + 1} + ... + a_{n - 1} == 0]")
            _zero(columns, {f"a{i}": 1.0 for i in range(k)}, f"cnt_zlo{n}_{k}",
                  f"cnt_zlo{n}_{k} = [a_0 + ... + a_{k - 1} == 0]")
        for name in ("clz", "ctz", "popcnt"):
            c.feature(f"cnt_{name}{8 * n}", f"{name} of src_a as {8 * n}-bit")
        for k in range(n):
            floor.unit({f"cnt_pop_b{k}": 1.0}, {"one": 1.0}, {f"cnt_popcnt{8 * n}": 1.0},
                       f"popcnt{8 * n} += pop8(a{k})")
            floor.unit({f"cnt_clz_b{k}": 1.0, f"cnt_zhi{n}_{k}": 16.0, "one": -16.0}, {"one": 1.0},
                       {f"cnt_clz{8 * n}": 1.0}, f"clz{8 * n} += clz8(a{k}) when the bytes above are 0")
            floor.unit({f"cnt_ctz_b{k}": 1.0, f"cnt_zlo{n}_{k}": 16.0, "one": -16.0}, {"one": 1.0},
                       {f"cnt_ctz{8 * n}": 1.0}, f"ctz{8 * n} += ctz8(a{k}) when the bytes below are 0")
    g = L.GATE
    for name in KINDS:
        for n, width in ((4, {"sh_w8": -g}), (8, {"sh_w8": g, "one": -g})):
            gate = {f"cnt_{name}{8 * n}": 1.0, f"is_{name}": g, "first": g, "is_tgt": -g,
                    "one": -2 * g}
            for key, v in width.items():
                gate[key] = gate.get(key, 0.0) + v
            last.unit(gate, {"one": 1.0}, {"T": 1.0},
                      f"{name} ({8 * n}-bit): T = the count as byte 0 of the result")
