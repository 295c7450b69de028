"""Linear memory in the prompt: records of memory steps, the memory header and the initial image.

Records (``layout.FIELDS``) of the memory steps:

- loads: ``width`` the result width, ``kind = load``, ``ext_n`` the bytes read,
  ``ext_signed``, ``src_c`` the address slot, ``dst`` the same slot (the result
  replaces the address), ``imm0``/``imm1`` the static offset in 12-bit halves;
- stores: ``width = ext_n`` the bytes written, ``kind = store``, ``src_a`` the
  value slot, ``src_c`` the address slot, ``dst`` the sink slot (a store
  writes no stack slot), the offset as for loads;
- ``memory.size``: ``kind = msize``, ``dst`` the pushed slot;
- ``memory.grow``: ``kind = mgrow``, ``src_c = dst`` the delta's slot.

A static offset above ``MEM_OFFSET_CLAMP`` is laid out as that clamp: both
trap on every address, as every covered memory is smaller.

The memory header gives the initial pages, the declared maximum (in two
fields), the run's page limit (clamped to ``NUM_LIMIT - 1``), the recency scale ``S / 4096``
of the memory keys, the centre of the keys' addresses (half the largest
reachable memory) ``/ 4096``, and where the memory image lies; the image is every byte
from the lowest data segment offset (rounded down to 64) to the highest
segment end, with the segments applied in order (the gaps are zeros, as in
memory). ``S`` is the largest power of two with ``S * (bytes / 2)^2 <= 2^52``
for the largest memory the run can reach; the decode may use ``S`` positions.
"""

from __future__ import annotations

from dataclasses import dataclass

from psionic.core.errors import UnsupportedOperation
from psionic.tassadar.executor import layout as L
from psionic.tassadar.program import Op, Program

Fields = dict[str, int]
MAX_PAGES = 65536  # the Wasm page bound: a memory without a declared maximum
SCORE_BITS = 52
MAX_SCALE = 1 << 22  # S / 4096 stays a header number
DEFAULT_PAGE_LIMIT = 1024  # the run's page limit when none is given (the reference's default)


def _offset(offset: int) -> Fields:
    clamped = min(offset, L.MEM_OFFSET_CLAMP)
    return {"imm0": clamped % L.NUM_LIMIT, "imm1": clamped // L.NUM_LIMIT}


def _load(op: Op, sp: int) -> Fields:
    offset, n, signed, w = op.args
    return {"width": w, "kind": L.KIND["load"], "ext_n": n, "ext_signed": int(signed),
            "src_c": sp - 1, "dst": sp - 1, **_offset(offset)}


def _store(op: Op, sp: int) -> Fields:
    offset, n = op.args
    return {"width": n, "kind": L.KIND["store"], "ext_n": n, "src_a": sp - 1, "src_c": sp - 2,
            "dst": L.SINK_SLOT, **_offset(offset)}


def _size(op: Op, sp: int) -> Fields:
    return {"width": 4, "kind": L.KIND["msize"], "dst": sp}


def _grow(op: Op, sp: int) -> Fields:
    return {"width": 4, "kind": L.KIND["mgrow"], "src_c": sp - 1, "dst": sp - 1}


LOADS = ("i32.load", "i64.load", "i32.load8_s", "i32.load8_u", "i32.load16_s", "i32.load16_u",
         "i64.load8_s", "i64.load8_u", "i64.load16_s", "i64.load16_u", "i64.load32_s",
         "i64.load32_u")
STORES = ("i32.store", "i64.store", "i32.store8", "i32.store16", "i64.store8", "i64.store16",
          "i64.store32")
RECORDS = {**{name: _load for name in LOADS}, **{name: _store for name in STORES},
           "memory.size": _size, "memory.grow": _grow}


@dataclass(frozen=True, slots=True)
class MemoryLayout:
    header: tuple[int, ...]  # the MEM_HEADER fields but the image base (prompt.py places it)
    image: bytes  # the initial memory image
    image_start: int  # its first byte's address
    position_bound: int  # positions the memory keys order exactly (S)


def scale(max_bytes: int) -> int:
    """The largest power of two ``S <= 2^22`` with ``S * (max_bytes / 2)^2 <= 2^52``: addresses
    centred on ``max_bytes / 2`` are at most that far from the centre."""
    half = max_bytes // 2
    s = 1
    while s < MAX_SCALE and 2 * s * half * half <= 1 << SCORE_BITS:
        s *= 2
    return s


def lay_out_memory(program: Program, code: list[Op], max_memory_pages: int | None
                   ) -> MemoryLayout | None:
    """The memory header and image for ``program`` (``None`` without a memory)."""
    m = program.module
    if m.memory is None:
        return None
    limit = max_memory_pages if max_memory_pages is not None else DEFAULT_PAGE_LIMIT
    declared = MAX_PAGES if m.memory.maximum is None else m.memory.maximum
    pages = m.memory.minimum
    grows = any(op.name == "memory.grow" for op in code)
    reach = min(declared, limit) if grows else pages
    if reach > L.MEM_MAX_PAGES:
        raise UnsupportedOperation(
            f"the executor covers memories of at most {L.MEM_MAX_PAGES} pages; this run can "
            f"reach {reach} (initial {pages}, declared maximum {declared}, limit {limit})")
    memory = bytearray(pages * L.PAGE)
    if m.datas:
        for seg in m.datas:
            if seg.offset + len(seg.data) > len(memory):
                raise UnsupportedOperation("the executor does not cover instantiation traps")
            memory[seg.offset : seg.offset + len(seg.data)] = seg.data
        start = min(seg.offset for seg in m.datas) // L.MEM_DSTART_UNIT * L.MEM_DSTART_UNIT
        end = max(seg.offset + len(seg.data) for seg in m.datas)
        image = bytes(memory[start:end])
    else:
        start, image = 0, b""
    s = scale(reach * L.PAGE)
    cap = L.NUM_LIMIT - 1
    # a limit past the largest covered memory only matters past the declared maximum, where
    # growth is refused first: clamping it changes no outcome
    centre = reach * L.PAGE // 2 // L.MEM_SCALE_UNIT
    header = (pages, declared % L.NUM_LIMIT, declared // L.NUM_LIMIT, min(limit, cap),
              s // L.MEM_SCALE_UNIT, centre, 0, start // L.MEM_DSTART_UNIT)
    return MemoryLayout(header, image, start, min(s, L.MAX_POSITION))
