"""The trace ABI ``tassadar.trace.v3``: vocabulary, step layout, encode/decode, digest.

A trace is the token sequence a run emits: per executed step, one opcode token
and then the bytes that step writes (pushed values, stored bytes, moved
results), least significant byte first, and, for a step that jumps, the pc it
jumps to. Nothing else: no stack, local or memory snapshots.
docs/TASSADAR_TRACE_ABI.md is the full specification.

Token ids (fixed by the version):

- ``0..255`` a value byte; ``256..511`` the same byte whose addition (or
  subtraction) carried (borrowed) out of it;
- ``512..2559`` the carry between two bytes of a multiplication (0..2047);
- ``2560`` ``halt``; then one token per trap kind; then one token per step opcode;
- then ``p0 .. p4095``: the pc of the next step, the last token of a jumping step;
- then ``q00 .. qff``: a division's scratch bytes (the magnitudes of its quotient
  and remainder, most significant byte first), written nowhere.

v2 is v1 plus the jump targets; v3 is v2 plus the division scratch block, and
a division's payload is its scratch bytes followed by its result (ABI 4.3).
Every older id keeps its meaning; an older trace is refused by ``require_abi``.

>>> t = Trace((TraceStep("i32.const", (7, 0, 0, 0)),), "halt")
>>> decode(encode(t)) == t
True
>>> VOCAB.id("halt")
2560
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from psionic.core.errors import InvalidInput, UnsupportedVersion
from psionic.tassadar import opcodes as oc

ABI = "tassadar.trace.v3"
OLDER_ABIS = ("tassadar.trace.v1", "tassadar.trace.v2")  # earlier versions, refused by name
BYTE = 0
CARRY_BYTE = 256
MUL_CARRY = 512
MUL_CARRY_LIMIT = 2048
PC_LIMIT = 4096  # jump targets p0 .. p4095: lowered code of at most 4096 instructions
HALT = "halt"

# Trap kinds, in token order. Stable: the next version appends, never reorders.
TRAPS: tuple[str, ...] = (
    "unreachable",
    "integer_divide_by_zero",
    "integer_overflow",
    "memory_out_of_bounds",
    "table_out_of_bounds",
    "indirect_call_to_null",
    "indirect_call_type_mismatch",
    "input_exhausted",
    "call_depth_exceeded",
    "memory_limit_exceeded",
    "step_limit_exceeded",
)

# Step opcodes whose token says which way a condition went.
_VARIANTS = {"if": ("if.then", "if.else"), "br_if": ("br_if.taken", "br_if.fallthrough")}
_NO_STEP = {"block", "loop"}  # resolved at validation; they never execute as steps
HOST_STEPS = ("host.input_i32", "host.output_i32")


def _step_ops() -> tuple[str, ...]:
    names: list[str] = []
    for byte in sorted(oc.OPCODES):
        name = oc.OPCODES[byte].name
        if name in _NO_STEP:
            continue
        for token in _VARIANTS.get(name, (name,)):
            if token not in names:
                names.append(token)
    return (*names, *HOST_STEPS)


STEP_OPS: tuple[str, ...] = _step_ops()


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Token names in id order; ``id``/``name`` translate."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names):
            raise ValueError("duplicate token names in the trace vocabulary")

    def id(self, name: str) -> int:
        return _IDS[name]

    def name(self, token: int) -> str:
        return self.names[token]

    def __len__(self) -> int:
        return len(self.names)


def _names() -> tuple[str, ...]:
    names = [f"b{v:02x}" for v in range(256)]
    names += [f"c{v:02x}" for v in range(256)]
    names += [f"k{v}" for v in range(MUL_CARRY_LIMIT)]
    names.append(HALT)
    names += [f"trap.{t}" for t in TRAPS]
    names += list(STEP_OPS)
    names += [f"p{n}" for n in range(PC_LIMIT)]
    # --- appended by tassadar.trace.v3: division scratch bytes (ABI 4.3) ---
    names += [f"q{v:02x}" for v in range(256)]
    return tuple(names)


VOCAB = Vocabulary(_names())
_IDS = {n: i for i, n in enumerate(VOCAB.names)}
HALT_ID = _IDS[HALT]
TRAP_BASE = _IDS[f"trap.{TRAPS[0]}"]
OP_BASE = _IDS[STEP_OPS[0]]
TRAP_ID = {t: _IDS[f"trap.{t}"] for t in TRAPS}
OP_ID = {n: _IDS[n] for n in STEP_OPS}
TARGET_BASE = _IDS["p0"]  # p<n> = TARGET_BASE + n
DIV_SCRATCH = _IDS["q00"]  # q<v> = DIV_SCRATCH + v


def target_token(pc: int) -> int:
    """The token naming ``pc`` as the next step's instruction."""
    return TARGET_BASE + pc


def is_payload(t: int) -> bool:
    """Bytes, carries and jump targets: the tokens that follow a step's opcode token."""
    return t < HALT_ID or t >= TARGET_BASE


def require_abi(abi: str) -> None:
    """Refuse a trace recorded under another ABI version (by name)."""
    if abi == ABI:
        return
    if abi in OLDER_ABIS:
        raise UnsupportedVersion(
            f"trace ABI {abi} is not read here: {ABI} adds the jump target of every jumping "
            "step (v2) and a division's scratch bytes (v3), which an older trace lacks; record "
            "the run again")
    raise UnsupportedVersion(f"unknown trace ABI {abi!r}; this reader takes {ABI}")


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One executed step: its opcode token name and the ids of the tokens that follow it."""

    op: str
    payload: tuple[int, ...] = ()

    def value_bytes(self) -> bytes:
        """The bytes written by the step, carry flags, multiplication carries, target and
        division scratch removed."""
        return bytes(t & 0xFF for t in self.payload if t < MUL_CARRY)

    @property
    def target(self) -> int | None:
        """The pc this step jumps to (its last token), or None for a step that does not jump."""
        if self.payload and TARGET_BASE <= self.payload[-1] < TARGET_BASE + PC_LIMIT:
            return self.payload[-1] - TARGET_BASE
        return None


@dataclass(frozen=True, slots=True)
class Trace:
    steps: tuple[TraceStep, ...]
    end: str  # "halt" or a trap kind

    @property
    def trap(self) -> str | None:
        return None if self.end == HALT else self.end


def encode(trace: Trace) -> array:
    """Token ids of ``trace`` (an ``array('H')``: every id is below 65536)."""
    out = array("H")
    for step in trace.steps:
        if step.op not in OP_ID:
            raise InvalidInput(f"{step.op!r} is not a step opcode of {ABI}")
        out.append(OP_ID[step.op])
        for t in step.payload:
            if not (0 <= t < len(VOCAB.names) and is_payload(t)):
                raise InvalidInput(f"payload token {t} is not a byte, carry, target or scratch token "
                                   f"of {ABI}")
        out.extend(step.payload)
    if trace.end == HALT:
        out.append(HALT_ID)
    elif trace.end in TRAP_ID:
        out.append(TRAP_ID[trace.end])
    else:
        raise InvalidInput(f"a trace ends with halt or a trap kind, not {trace.end!r}")
    return out


def decode(tokens: Sequence[int] | Iterable[int]) -> Trace:
    """The ``Trace`` whose encoding is ``tokens``; refuses anything that is not one."""
    steps: list[TraceStep] = []
    op: str | None = None
    payload: list[int] = []
    names = VOCAB.names
    end: str | None = None
    for position, t in enumerate(tokens):
        if end is not None:
            raise InvalidInput(f"token {t} at position {position} follows the end of the trace")
        if not 0 <= t < len(names):
            raise InvalidInput(f"token id {t} at position {position} is outside {ABI}")
        if t < HALT_ID or t >= TARGET_BASE:
            if op is None:
                raise InvalidInput(f"payload token at position {position} precedes any opcode")
            payload.append(t)
            continue
        if op is not None:
            steps.append(TraceStep(op, tuple(payload)))
            op, payload = None, []
        if t >= OP_BASE:
            op = names[t]
        else:
            end = HALT if t == HALT_ID else TRAPS[t - TRAP_BASE]
    if end is None:
        raise InvalidInput(f"a {ABI} trace must end with halt or a trap token")
    if op is not None:  # pragma: no cover - an end token always flushes the last step
        steps.append(TraceStep(op, tuple(payload)))
    return Trace(tuple(steps), end)


def token_bytes(tokens: Sequence[int]) -> bytes:
    """The digest's byte encoding: each id as a little-endian unsigned 32-bit integer."""
    arr = array("I", tokens)
    if arr.itemsize != 4:  # pragma: no cover - every supported platform has 4-byte 'I'
        raise RuntimeError("array('I') is not 32-bit here")
    if sys.byteorder != "little":  # pragma: no cover
        arr.byteswap()
    return arr.tobytes()


def trace_digest(tokens: Sequence[int], chunk: int = 1 << 20) -> str:
    """``sha256:<hex>`` over ``token_bytes(tokens)``, hashed a chunk at a time."""
    h = hashlib.sha256()
    for start in range(0, len(tokens), chunk):
        h.update(token_bytes(tokens[start : start + chunk]))
    return "sha256:" + h.hexdigest()


def render(tokens: Sequence[int], limit: int | None = None) -> str:
    """One line per step, token names separated by spaces (for humans and docs)."""
    lines: list[str] = []
    line: list[str] = []
    for t in tokens:
        if not is_payload(t) and line:
            lines.append(" ".join(line))
            line = []
            if limit is not None and len(lines) >= limit:
                return "\n".join(lines)
        line.append(VOCAB.names[t])
    if line:
        lines.append(" ".join(line))
    return "\n".join(lines)
