"""Generated programs over linear memory: stores and loads of every width and sign at run-time
addresses (a base argument plus constants and static offsets), over data segments.

>>> wat, args = memory_program(3)
>>> "(memory" in wat and len(args) == 1
True
"""

from __future__ import annotations

import random

STORES = {"i32.store": 4, "i32.store8": 1, "i32.store16": 2, "i64.store": 8, "i64.store8": 1,
          "i64.store16": 2, "i64.store32": 4}
LOADS = ("i32.load", "i32.load8_s", "i32.load8_u", "i32.load16_s", "i32.load16_u", "i64.load",
         "i64.load8_s", "i64.load8_u", "i64.load16_s", "i64.load16_u", "i64.load32_s",
         "i64.load32_u")


def _value(rng: random.Random, bits: int) -> int:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.choice([0, -1, 1, 0x80, 0x7F, -0x80])
    v = rng.getrandbits(bits)
    return v - (1 << bits) if v >> (bits - 1) else v


def memory_program(seed: int) -> tuple[str, tuple[int, ...]]:
    """A program that stores and loads around ``base`` (its argument) and folds every loaded
    value into an i64 accumulator; data segments give some bytes initial values."""
    rng = random.Random(seed)
    base = rng.randrange(0, 200)
    datas = []
    for _ in range(rng.randrange(3)):
        at = rng.randrange(0, 260)
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 12)))
        escaped = "".join("\\" + f"{b:02x}" for b in raw)
        datas.append(f'(data (i32.const {at}) "{escaped}")')
    body = []
    for _ in range(rng.randrange(8, 16)):
        addr = f"local.get 0 i32.const {rng.randrange(0, 48)} i32.add"
        offset = rng.choice([0, 0, 0, 1, 3, 16, 4097])
        imm = f" offset={offset}" if offset else ""
        if rng.random() < 0.45:
            op = rng.choice(list(STORES))
            bits = 64 if op.startswith("i64") else 32
            body.append(f"{addr} {op[:3]}.const {_value(rng, bits)} {op}{imm}")
        else:
            op = rng.choice(LOADS)
            widen = "" if op.startswith("i64") else rng.choice([" i64.extend_i32_s",
                                                                " i64.extend_i32_u"])
            fold = rng.choice(["i64.add", "i64.xor"])
            body.append(f"{addr} {op}{imm}{widen} local.get 1 {fold} local.set 1")
    if rng.random() < 0.3:
        body.append("memory.size i64.extend_i32_u local.get 1 i64.add local.set 1")
    wat = (f'(module (memory 1) {" ".join(datas)} (func (export "run") (param i32) (result i64) '
           f'(local i64) {" ".join(body)} local.get 1))')
    return wat, (base,)
