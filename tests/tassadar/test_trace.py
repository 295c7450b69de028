"""The trace ABI: a fixed vocabulary, exact round trips, carries, digests, refusals."""

from __future__ import annotations

import hashlib
import random
import struct

import pytest

from psionic.core.errors import InvalidInput, UnsupportedVersion, UnsupportedWasmFeature
from psionic.tassadar import trace as tr
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.workloads import get

# The vocabulary is part of tassadar.trace.v3: changing it needs a new version. Its first
# 2683 names are the whole of tassadar.trace.v1 and its first 6779 the whole of v2, unchanged.
VOCAB_SHA256 = "2d10daf811709cd52ce587e9e81a3b1db4679974e1e3a100ab76425dcbce922e"
V2_VOCAB_SHA256 = "049063edbd1751a0d6947410bbef7b93c5ca452091de8d2d24e0caffb24cf4b6"
V1_VOCAB_SHA256 = "d0b044c80adeb06b55a4c2d02b176aa1a4f492c739be0fe398d9424edb7ad7df"


def test_vocabulary_is_pinned() -> None:
    text = "\n".join(tr.VOCAB.names).encode()
    assert len(tr.VOCAB) == 2683 + 4096 + 256
    assert hashlib.sha256(text).hexdigest() == VOCAB_SHA256
    v2 = "\n".join(tr.VOCAB.names[: tr.DIV_SCRATCH]).encode()
    assert hashlib.sha256(v2).hexdigest() == V2_VOCAB_SHA256
    assert tr.DIV_SCRATCH == 6779 and tr.VOCAB.name(7034) == "qff"
    v1 = "\n".join(tr.VOCAB.names[: tr.TARGET_BASE]).encode()
    assert hashlib.sha256(v1).hexdigest() == V1_VOCAB_SHA256
    assert tr.VOCAB.id("p0") == tr.TARGET_BASE == 2683 and tr.VOCAB.name(6778) == "p4095"
    assert tr.VOCAB.id("b00") == 0 and tr.VOCAB.id("cff") == 511 and tr.VOCAB.id("k0") == 512
    assert tr.VOCAB.id("halt") == 2560 and tr.VOCAB.name(2561) == "trap.unreachable"
    assert "block" not in tr.OP_ID and "loop" not in tr.OP_ID


def _run(wat: str, *args: int, inputs: tuple[int, ...] = ()):
    return Machine(load_wat(wat).program, inputs).run("run", args)


def test_roundtrip_on_real_traces() -> None:
    for name in ("call_indirect_ops", "memory_widths", "br_table_values", "trap_div_zero",
                 "io_prefix_sums", "factorial_i64"):
        w = get(name)
        out = Machine(load(w.path).program, w.inputs).run(w.entry, w.args)
        decoded = tr.decode(out.tokens)
        assert tr.encode(decoded) == out.tokens
        assert len(decoded.steps) == out.steps
        assert decoded.trap == out.trap


def test_random_traces_roundtrip() -> None:
    rng = random.Random(3)
    for _ in range(200):
        steps = tuple(
            tr.TraceStep(rng.choice(tr.STEP_OPS),
                         tuple(rng.randrange(tr.HALT_ID) for _ in range(rng.randrange(9))))
            for _ in range(rng.randrange(6))
        )
        trace = tr.Trace(steps, rng.choice(("halt", *tr.TRAPS)))
        assert tr.decode(tr.encode(trace)) == trace


def test_decode_refuses_what_is_not_a_trace() -> None:
    op = tr.OP_ID["nop"]
    for bad, words in [
        ([], "must end"),
        ([op], "must end"),
        ([5, tr.HALT_ID], "precedes any opcode"),
        ([op, tr.HALT_ID, op], "follows the end"),
        ([op, len(tr.VOCAB)], "outside"),
    ]:
        with pytest.raises(InvalidInput) as info:
            tr.decode(bad)
        assert words in info.value.message


def test_encode_refuses_bad_steps() -> None:
    with pytest.raises(InvalidInput):
        tr.encode(tr.Trace((tr.TraceStep("block"),), "halt"))
    with pytest.raises(InvalidInput):
        tr.encode(tr.Trace((tr.TraceStep("nop", (tr.HALT_ID,)),), "halt"))
    with pytest.raises(InvalidInput):
        tr.encode(tr.Trace((), "exploded"))


def test_digest_is_sha256_over_little_endian_u32_ids() -> None:
    out = _run('(module (func (export "run") (result i32) i32.const 300))')
    ids = list(out.tokens)
    raw = struct.pack(f"<{len(ids)}I", *ids)
    assert tr.trace_digest(out.tokens) == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert tr.trace_digest(ids) == tr.trace_digest(out.tokens)
    assert tr.render(out.tokens) == "i32.const b2c b01 b00 b00\nend b2c b01 b00 b00\nhalt"


def _last(out, op: str) -> tr.TraceStep:
    return [s for s in tr.decode(out.tokens).steps if s.op == op][-1]


@pytest.mark.parametrize("width,bits", [("i32", 32), ("i64", 64)])
def test_add_and_sub_carry_flags(width: str, bits: int) -> None:
    rng = random.Random(bits)
    wat = (f'(module (func (export "run") (param {width} {width}) (result {width} {width}) '
           f"local.get 0 local.get 1 {width}.add local.get 0 local.get 1 {width}.sub))")
    program = load_wat(wat).program
    n = bits // 8
    mask = (1 << bits) - 1
    for _ in range(60):
        a, b = rng.getrandbits(bits), rng.choice([rng.getrandbits(bits), mask, 1, 0])
        out = Machine(program).run("run", [a, b])
        add, sub = _last(out, f"{width}.add"), _last(out, f"{width}.sub")
        assert add.value_bytes() == ((a + b) & mask).to_bytes(n, "little")
        assert sub.value_bytes() == ((a - b) & mask).to_bytes(n, "little")
        for k in range(n):
            low = (1 << (8 * (k + 1))) - 1
            carry = (a & low) + (b & low) > low  # carry out of byte k
            borrow = (a & low) < (b & low)  # borrow out of byte k
            assert (add.payload[k] >= tr.CARRY_BYTE) == carry
            assert (sub.payload[k] >= tr.CARRY_BYTE) == borrow


def test_mul_step_carries_multiplication_carries() -> None:
    out = _run('(module (func (export "run") (param i64 i64) (result i64) '
               "local.get 0 local.get 1 i64.mul))", -1, -1)
    step = _last(out, "i64.mul")
    assert len(step.payload) == 15
    assert step.value_bytes() == (1).to_bytes(8, "little")
    assert all(tr.MUL_CARRY <= t < tr.HALT_ID for t in step.payload[1::2])


def test_step_layouts() -> None:
    wat = """(module
      (import "env" "input_i32" (func $in (result i32)))
      (import "env" "output_i32" (func $out (param i32)))
      (memory 1)
      (func $id (param i64) (result i64) local.get 0)
      (func (export "run") (result i32) (local i64)
        call $in
        call $out
        i32.const 8
        i64.const 0x0102030405060708
        i64.store16
        i64.const 5
        call $id
        local.set 0
        i32.const 1
        if (result i32) i32.const 2 else i32.const 3 end))"""
    out = _run(wat, inputs=(0x11223344,))
    lines = tr.render(out.tokens).splitlines()
    assert lines == [
        "host.input_i32 b44 b33 b22 b11",
        "host.output_i32 b44 b33 b22 b11",
        "i32.const b08 b00 b00 b00",
        "i64.const b08 b07 b06 b05 b04 b03 b02 b01",
        "i64.store16 b08 b07",
        "i64.const b05 b00 b00 b00 b00 b00 b00 b00",
        "call p0",  # the callee $id starts at pc 0
        "local.get b05 b00 b00 b00 b00 b00 b00 b00",
        "end b05 b00 b00 b00 b00 b00 b00 b00 p9",  # back to the instruction after the call
        "local.set b05 b00 b00 b00 b00 b00 b00 b00",
        "i32.const b01 b00 b00 b00",
        "if.then",
        "i32.const b02 b00 b00 b00",
        "else p15",
        "end b02 b00 b00 b00",  # the entry's return: halt follows, no target
        "halt",
    ]


def test_jumping_steps_end_with_their_target() -> None:
    wat = """(module (func (export "run") (param i32) (result i32) (local i32)
      block loop
        local.get 0 i32.eqz br_if 1
        local.get 0 i32.const 1 i32.sub local.set 0
        local.get 1 i32.const 1 i32.add local.set 1
        br 0 end end
      local.get 1
      i32.const 0 if (result i32) i32.const 1 else i32.const 2 end i32.add))"""
    out = _run(wat, 2)
    steps = tr.decode(out.tokens).steps
    jumps = [(s.op, s.target) for s in steps if s.target is not None]
    assert jumps == [("br", 0), ("br", 0), ("br_if.taken", 12), ("if.else", 17)]
    assert out.result == (4,)
    # the pc of every step is the newest target plus the steps since it (pc 0 at the start)
    program = load_wat(wat).program
    pc = 0
    for step in steps:
        name = program.code[pc].name
        assert step.op == name or step.op.startswith(name + ".")
        pc = step.target if step.target is not None else pc + 1


def test_older_trace_abis_are_refused_by_name() -> None:
    tr.require_abi(tr.ABI)
    with pytest.raises(UnsupportedVersion) as info:
        tr.require_abi("tassadar.trace.v1")
    assert "tassadar.trace.v1" in info.value.message and "jump target" in info.value.message
    with pytest.raises(UnsupportedVersion) as info:
        tr.require_abi("tassadar.trace.v2")
    assert "scratch" in info.value.message
    with pytest.raises(UnsupportedVersion):
        tr.require_abi("tassadar.trace.v9")


def test_code_past_the_target_range_is_refused() -> None:
    body = " ".join(["nop"] * tr.PC_LIMIT)
    with pytest.raises(UnsupportedWasmFeature) as info:
        _run(f'(module (func (export "run") {body}))')
    assert str(tr.PC_LIMIT) in info.value.message


def test_trap_steps_end_with_the_trap_token() -> None:
    out = _run('(module (func (export "run") (result i32) i32.const 1 i32.const 0 i32.div_u))')
    assert tr.render(out.tokens).splitlines()[-2:] == ["i32.div_u", "trap.integer_divide_by_zero"]
