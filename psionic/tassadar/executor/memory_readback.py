"""The final linear memory of a decoded run, read back from the emitted tokens and the prompt.

Nothing is executed here: every byte comes from a token. A step writes its
payload bytes to the stack slot its record names (``dst``, in the prompt),
exactly the writes the model's own latest-write heads read; a store's bytes
go to the address held, at that step, by the slot its record names
(``src_c``) plus the record's offset; a ``memory.grow`` whose first byte is
not ``0xff`` adds the pages held by its ``src_c`` slot. The memory starts as
the module's initial pages with the data segments applied (the prompt's
image). The step's pc is the newest emitted target plus the steps since it.
"""

from __future__ import annotations

from psionic.tassadar import trace as tr
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.prompt import Prompt
from psionic.tassadar.module import Module


def _fields(prompt: Prompt, pc: int) -> dict[str, int]:
    rec_base = prompt.tokens[0] - L.NUM_BASE
    at = rec_base + L.RECORD * pc
    return {name: prompt.tokens[at + i] - L.NUM_BASE for i, name in enumerate(L.FIELDS)}


def _initial_slots(prompt: Prompt) -> dict[int, bytearray]:
    slots: dict[int, bytearray] = {}
    for p, t in enumerate(prompt.tokens):
        if L.INIT_BASE <= t < L.INIT_BASE + 256:
            byte = p - L.STACK_BASE
        elif L.GLOBAL_INIT_BASE <= t < L.GLOBAL_INIT_BASE + 256:
            gbase = prompt.tokens[3] - L.NUM_BASE
            byte = 8 * L.GLOBAL_SLOT + p - gbase
        else:
            continue
        slots.setdefault(byte // 8, bytearray(8))[byte % 8] = t & 0xFF
    return slots


def final_memory(prompt: Prompt, module: Module, steps: tuple[tr.TraceStep, ...]) -> bytes:
    """The memory after ``steps`` (the decoded trace of the run laid out as ``prompt``)."""
    if module.memory is None:
        return b""
    memory = bytearray(module.memory.minimum * L.PAGE)
    for seg in module.datas:
        memory[seg.offset : seg.offset + len(seg.data)] = seg.data
    slots = _initial_slots(prompt)

    def u32(slot: int) -> int:
        return int.from_bytes(slots.get(slot, bytearray(8))[:4], "little")

    kinds = {L.KIND["store"]: "store", L.KIND["mgrow"]: "mgrow"}
    pc = prompt.entry_pc
    fields: dict[int, dict[str, int]] = {}  # a long run passes the same few records many times
    for step in steps:
        if pc >= len(prompt.code):
            break
        f = fields.get(pc)
        if f is None:
            f = fields[pc] = _fields(prompt, pc)
        data = step.value_bytes()
        kind = kinds.get(f["kind"])
        if kind == "store" and data:
            ea = u32(f["src_c"]) + f["imm0"] + L.NUM_LIMIT * f["imm1"]
            memory[ea : ea + len(data)] = data
        elif kind == "mgrow" and data and data[0] != 0xFF:
            memory.extend(bytes(u32(f["src_c"]) * L.PAGE))
        slot = slots.setdefault(f["dst"], bytearray(8))
        for k, b in enumerate(data[: min(f["width"], 8)]):
            slot[k] = b
        pc = step.target if step.target is not None else pc + 1
    return bytes(memory)
