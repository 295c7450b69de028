"""Linear memory in the executor's circuit: loads, stores, ``memory.size``/``grow``, data segments.

Memory is the token history, like the stack. A store's payload byte ``j``
(0-based) is a write of byte address ``ea + j``, where ``ea`` is the address
operand plus the static offset; an ``m..`` token of the prompt's memory image
is a write of its address (the data segments: older than every trace token).
Every writing token carries the key ``(2 S a', -S a'^2 + pos)`` with the
address centred, ``a' = a - c`` (``c`` half the largest reachable memory); a
load queries ``(q', 1)``, ``q' = ea + j - c``, for its byte ``j`` and the score
``S (q'^2 - (a' - q')^2) + pos`` is maximal at the newest write of address
``q`` (``S`` exceeds every position). Tokens that write no memory have the key
``(0, -S + pos)``, below every write of the queried address. An address
never written is found as a write of another address (or as no write): the
head also reads that token's uncentred address (``-1`` on tokens that write
none), and a hat of the difference gates the byte to 0.

``S`` is a run-time value from the prompt's header: the largest power of two
with ``S * (size / 2)^2 <= 2^52`` for the largest memory the program can reach
(at most ``MEM_MAX_PAGES`` pages), so every score that can win is an exact
float64 integer and the run may use ``S`` positions (``prompt.py`` bounds the
decode).

The memory size in pages is a latest-write register too: header field
``mem_pages`` writes the initial size, and a ``memory.grow`` that succeeds
writes ``old + delta`` at its first payload byte (``old`` is that byte, the
trace's own token; ``delta`` the operand as it was at the step's opcode
token). The bounds check ``ea + n > 65536 size`` and the growth checks
against the declared maximum (``-1``) and the run's page limit (the
``memory_limit_exceeded`` trap) are steps of exact integers.

The hooks, one per layer group, are called from ``compiler.py``:
``header`` (layer 1), ``fields`` (layer 3), ``addresses`` (layer 4) and
``lookups`` (layers 5-7). Feature names start with ``mem_``.
"""

from __future__ import annotations

import numpy as np

from psionic.tassadar import trace as tr
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.circuit import Circuit, Layer
from psionic.tassadar.executor.forms import add as _plus
from psionic.tassadar.executor.forms import hat as _hat
from psionic.tassadar.executor.forms import step as _step

J = {"pos": 1.0, "mpos": -1.0}  # index of the current token within its step (compiler.J)
POSITION_KEY = ({"pos": 2.0}, {"pos2": -1.0})  # score 2 p pos - pos^2: maximal at pos = p
ADDRESS_KEY = ({"mem_sac": 2.0}, {"mem_sac2": -1.0, "pos": 1.0})  # latest write to an address
CENTRE = {"mem_center": -float(L.MEM_SCALE_UNIT)}  # minus the centre of the addresses
OPERAND = {"c0": 1.0, "c1": 256.0, "c2": 65536.0, "c3": float(1 << 24)}  # src_c, unsigned
OFFSET = {"mem_off_lo": 1.0, "mem_off_hi": 4096.0}


def header(c: Circuit, lay: Layer) -> None:
    """Layer 1: the memory header fields (positions 8..14)."""
    docs = {"mem_declared": "the module's declared maximum pages mod 4096 (growth past it "
            "returns -1)", "mem_declared_hi": "the declared maximum pages // 4096",
            "mem_limit": "the run's page limit (growth past it traps)",
            "mem_scale": "recency scale S of the memory keys, divided by 4096",
            "mem_center": "centre of the memory keys' addresses, divided by 4096",
            "mem_dbase": "position of the first byte of the memory image",
            "mem_dstart": "address of the memory image's first byte, divided by 64"}
    for name in L.MEM_HEADER[1:]:  # the initial size is a write of the size register instead
        at = L.MEM_HEADER_AT[name]
        c.feature(name, f"{docs[name]} (header field {at})")
        lay.head(f"header_{name}", ({"one": float(at)}, {"one": 1.0}), POSITION_KEY,
                 (("val", name),), f"reads the prompt token at position {at} (score 2*{at}*pos - "
                 "pos^2)")


def fields(c: Circuit, lay: Layer, current: dict[str, float]) -> None:
    """Layer 3: the static offset of a load or store (record fields imm0, imm1) and the
    position of the initial-size header field."""
    for name, field in (("mem_off_lo", "imm0"), ("mem_off_hi", "imm1")):
        c.feature(name, f"static offset of a load or store, {'low' if field == 'imm0' else 'high'}"
                  " 12 bits (record field " + field + ")")
        lay.head(f"record_{name}", (_plus(current, const=float(L.FIELD[field])), {"one": 1.0}),
                 POSITION_KEY, (("val", name),), f"reads field {field} of the record of pc: "
                 f"{name[4:]} of the static offset")
    c.feature("mem_hdr", "[pos == 7]: the header field of the initial memory size")
    _hat(lay, {"pos": 1.0, "one": -float(L.MEM_HEADER_AT["mem_pages"])}, "mem_hdr",
         "mem_hdr = [pos == 7]")


def addresses(c: Circuit, lay: Layer) -> None:
    """Layer 4 (after the operand heads): the effective address, the memory byte address each
    token writes and its square."""
    c.feature("mem_ea", "src_c (unsigned) plus the static offset: a load's or store's effective "
              "address, memory.grow's delta")
    c.feature("mem_ma", "memory byte address this token writes (-1: none)")
    c.feature("mem_ac", "that address minus the centre (0 on tokens that write none)")
    c.feature("mem_ac2", "its square (1 on tokens that write none)")
    ea = _plus(OPERAND, OFFSET)
    lay.unit({"one": 1.0}, ea, {"mem_ea": 1.0}, "mem_ea = c0 + 256 c1 + 65536 c2 + 2^24 c3 + offset")
    big = L.MEM_ADDR_GATE
    store = _plus(ea, J, const=-1.0)  # payload byte j - 1 of a store
    image = {"mem_dstart": float(L.MEM_DSTART_UNIT), "pos": 1.0, "mem_dbase": -1.0}
    for addr, off, what in ((store, {"is_store": big, "is_pay": big, "one": -2 * big},
                             "a store's payload byte j - 1 writes address ea + j - 1"),
                            (image, {"mem_data": big, "one": -big},
                             "a memory image byte at position p writes 64 dstart + p - dbase")):
        lay.unit(_plus(addr, off), {"one": 1.0}, {"mem_ma": 1.0}, what)
        centred = _plus(addr, CENTRE)
        back = {k: -v for k, v in centred.items()}
        lay.unit(_plus(centred, off), {"one": 1.0}, {"mem_ac": 1.0}, "... centred: relu(d) ...")
        lay.unit(_plus(back, off), {"one": 1.0}, {"mem_ac": -1.0}, "... - relu(-d)")
        lay.unit(_plus(centred, off), centred, {"mem_ac2": 1.0}, "... squared: relu(d) d ...")
        lay.unit(_plus(back, off), back, {"mem_ac2": 1.0}, "... + relu(-d) (-d)")
    lay.unit({"one": 1.0}, {"one": 1.0, "mem_data": -1.0}, {"mem_ma": -1.0, "mem_ac2": 1.0},
             "every other token writes no memory: address -1, key (0, -S + pos) ...")
    lay.unit({"is_store": 1.0, "is_pay": 1.0, "one": -1.0}, {"one": 1.0},
             {"mem_ma": 1.0, "mem_ac2": -1.0}, "... except a store's payload bytes")


def lookups(c: Circuit, columns: Layer, floor: Layer, last: Layer) -> None:
    """Layers 5-7: the step's address, the keys, the size register, the loads, the checks and
    the candidates of the next token."""
    c.feature("mem_ea_m", "mem_ea at the current step's opcode token (before a load's result "
              "overwrites its address slot)")
    columns.head("mem_mark", ({"mpos": 1.0}, {"one": 1.0}), POSITION_KEY,
                 (("mem_ea", "mem_ea_m"),), "reads mem_ea at the step's opcode token (position mpos)")
    c.feature("mem_sac", "S * mem_ac: the first coordinate of the memory key, halved")
    c.feature("mem_sac2", "S * mem_ac2")
    scale = {"mem_scale": float(L.MEM_SCALE_UNIT)}
    columns.unit(scale, {"mem_ac": 1.0}, {"mem_sac": 1.0}, "S * mem_ac (ReGLU product, S > 0)")
    columns.unit(scale, {"mem_ac2": 1.0}, {"mem_sac2": 1.0}, "S * mem_ac2 (ReGLU product)")
    _size_writes(c, columns)
    _reads(c, floor)
    _next_token(last)


def _size_writes(c: Circuit, columns: Layer) -> None:
    c.feature("mem_szw", "1 on a write of the size register: the header's initial size, the first "
              "payload byte of a memory.grow that succeeded")
    c.feature("mem_newsize", "the size in pages that token writes")
    columns.unit({"mem_hdr": 1.0}, {"one": 1.0}, {"mem_szw": 1.0},
                 "the header field mem_pages writes the initial size")
    columns.unit({"val": 1.0, "mem_hdr": L.GATE, "one": -L.GATE}, {"one": 1.0},
                 {"mem_newsize": 1.0}, "... its value")
    ok = {"val": -1.0, "is_mgrow": 256.0, "j1": 256.0, "one": 255.0 - 512.0}
    _step(columns, ok, "mem_szw",
          "memory.grow's first payload byte writes the size unless it is 0xff (refused)")
    big = L.MEM_ADDR_GATE
    columns.unit({"val": 1.0, "mem_ea_m": 1.0, "is_mgrow": big, "j1": big, "one": -2 * big},
                 {"one": 1.0}, {"mem_newsize": 1.0},
                 "... the old size (this byte) plus the delta (src_c at the opcode token)")


def _reads(c: Circuit, floor: Layer) -> None:
    c.feature("mem_size", "memory size in pages (the newest size write)")
    floor.head("mem_size", ({"one": L.MARK_WEIGHT}, {"one": 1.0}), ({"mem_szw": 1.0}, {"pos": 1.0}),
               (("mem_newsize", "mem_size"),),
               "hard-max on (mem_szw, pos): the newest write of the size register")
    byte_q = _plus({"mem_ea_m": 1.0}, J)
    top_q = {"mem_ea_m": 1.0, "f_ext_n": 1.0, "one": -1.0}
    for name, query, what in (("byte", byte_q, "byte ea + j (the next payload byte of a load)"),
                              ("top", top_q, "byte ea + n - 1 (a load's sign byte)")):
        c.feature(f"mem_{name}_v", f"the newest value written to memory {what}")
        c.feature(f"mem_{name}_a", "the address that token writes (equal when it was written)")
        floor.head(f"mem_{name}", (_plus(query, CENTRE), {"one": 1.0}), ADDRESS_KEY,
                   (("val", f"mem_{name}_v"), ("mem_ma", f"mem_{name}_a")),
                   f"latest write to memory {what}: score S(2 a' q' - a'^2) + pos (centred "
                   "addresses), maximal at a = q, newest first")
        c.feature(f"mem_{name}_hit", f"[the {name} read found a write of its own address]")
        _hat(floor, _plus({f"mem_{name}_a": 1.0}, {k: -v for k, v in query.items()}),
             f"mem_{name}_hit", f"mem_{name}_hit: hat of the found address minus the query")
    c.feature("mem_top_neg", "[mem_top_v >= 128]")
    _step(floor, {"mem_top_v": 1.0, "one": -127.0}, "mem_top_neg", "mem_top_neg = [top >= 128]")
    c.feature("mem_oob", "[ea + n > 65536 size]: a load or store out of bounds")
    _step(floor, {"mem_ea_m": 1.0, "f_ext_n": 1.0, "mem_size": -float(L.PAGE)}, "mem_oob",
          "mem_oob = [ea + n - 65536 size >= 1]")
    c.feature("mem_refused", "[size + delta > declared maximum]: memory.grow returns -1")
    _step(floor, {"mem_size": 1.0, "mem_ea_m": 1.0, "mem_declared": -1.0,
                  "mem_declared_hi": -float(L.NUM_LIMIT)}, "mem_refused",
          "mem_refused = [size + delta - declared >= 1]")
    c.feature("mem_over", "[size + delta > page limit]: memory.grow traps (unless refused)")
    _step(floor, {"mem_size": 1.0, "mem_ea_m": 1.0, "mem_limit": -1.0}, "mem_over",
          "mem_over = [size + delta - limit >= 1]")
    c.feature("mem_ff", "[val == 255]: memory.grow's result is -1")
    _step(floor, {"val": 1.0, "one": -254.0}, "mem_ff", "mem_ff = [val >= 255]")


def _next_token(last: Layer) -> None:
    g = L.GATE
    oob = float(tr.TRAP_ID["memory_out_of_bounds"])
    over = float(tr.TRAP_ID["memory_limit_exceeded"])
    rows = [
        ({"mem_byte_v": 1.0, "is_load": g, "low": g, "mem_byte_hit": g, "mem_oob": -g,
          "at_end": -g, "one": -3 * g}, {"one": 1.0},
         "load: T = memory byte ea + j while j < n (0 if never written)"),
        ({"is_load": 1.0, "low": -1.0, "f_ext_signed": 1.0, "mem_top_hit": 1.0, "mem_top_neg": 1.0,
          "at_end": -1.0, "mem_oob": -1.0, "one": -3.0}, {"one": 255.0},
         "load: T = 0xff past byte n when signed and byte n - 1 is negative"),
        ({"opa": 1.0, "is_store": g, "mem_oob": -g, "at_end": -g, "one": -g}, {"one": 1.0},
         "store: T = byte j of the value (src_a)"),
        ({"is_load": 1.0, "is_store": 1.0, "first": 1.0, "mem_oob": 1.0, "one": -2.0},
         {"one": oob}, "load or store out of bounds: T = trap.memory_out_of_bounds"),
        ({"mem_size": 1.0, "is_msize": g, "first": g, "one": -2 * g}, {"one": 1.0},
         "memory.size: T = pages (byte 0)"),
        ({"is_mgrow": 1.0, "first": 1.0, "mem_over": 1.0, "mem_refused": -1.0, "one": -2.0},
         {"one": over}, "memory.grow past the page limit: T = trap.memory_limit_exceeded"),
        ({"is_mgrow": 1.0, "first": 1.0, "mem_refused": 1.0, "one": -2.0}, {"one": 255.0},
         "memory.grow past the declared maximum: T = 0xff (-1)"),
        ({"mem_size": 1.0, "is_mgrow": g, "first": g, "mem_refused": -g, "mem_over": -g,
          "one": -2 * g}, {"one": 1.0}, "memory.grow: T = the old size (byte 0)"),
        ({"is_mgrow": 1.0, "mem_ff": 1.0, "first": -1.0, "at_end": -1.0, "one": -1.0},
         {"one": 255.0}, "memory.grow: bytes 1..3 are 0xff after 0xff, else 0"),
    ]
    for gate, value, doc in rows:
        last.unit(gate, value, {"T": 1.0}, doc)


def embed(e: np.ndarray, idx: dict[str, int]) -> None:
    """Embedding rows of the memory image tokens ``m0 .. m255``."""
    for v in range(256):
        e[L.MEM_INIT_BASE + v, idx["mem_data"]] = 1.0
        e[L.MEM_INIT_BASE + v, idx["val"]] = v
