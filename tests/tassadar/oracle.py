"""wasmtime as the authority: run a program there and report what the reference reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import wasmtime

from psionic.core.digest import digest_bytes

# wasmtime trap codes -> the trap kinds of the trace ABI
TRAP_KINDS = {
    wasmtime.TrapCode.UNREACHABLE: "unreachable",
    wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO: "integer_divide_by_zero",
    wasmtime.TrapCode.INTEGER_OVERFLOW: "integer_overflow",
    wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS: "memory_out_of_bounds",
    wasmtime.TrapCode.TABLE_OUT_OF_BOUNDS: "table_out_of_bounds",
    wasmtime.TrapCode.INDIRECT_CALL_TO_NULL: "indirect_call_to_null",
    wasmtime.TrapCode.BAD_SIGNATURE: "indirect_call_type_mismatch",
    wasmtime.TrapCode.STACK_OVERFLOW: "call_depth_exceeded",
}


@dataclass(frozen=True)
class OracleRun:
    result: tuple[int, ...]
    outputs: tuple[int, ...]
    trap: str | None
    memory_digest: str | None


class _InputExhausted(Exception):
    pass


def run_wasmtime(
    wasm: bytes, entry: str, args: Sequence[int] = (), inputs: Sequence[int] = ()
) -> OracleRun:
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, wasm)
    outputs: list[int] = []
    pending = list(inputs)
    exhausted = []

    def input_i32() -> int:
        if not pending:
            exhausted.append(True)
            raise _InputExhausted("input exhausted")
        v = pending.pop(0) & 0xFFFFFFFF
        return v - (1 << 32) if v >> 31 else v

    def output_i32(v: int) -> None:
        outputs.append(v)

    i32 = wasmtime.ValType.i32()
    linker = wasmtime.Linker(engine)
    linker.define_func("env", "input_i32", wasmtime.FuncType([], [i32]), input_i32)
    linker.define_func("env", "output_i32", wasmtime.FuncType([i32], []), output_i32)
    trap: str | None = None
    result: tuple[int, ...] = ()
    instance = None
    try:
        instance = linker.instantiate(store, module)
        func = instance.exports(store)[entry]
        typed = func.type(store)
        call_args = []
        for a, t in zip(args, typed.params, strict=False):
            bits = 64 if str(t) == "i64" else 32
            v = int(a) & ((1 << bits) - 1)
            call_args.append(v - (1 << bits) if v >> (bits - 1) else v)
        value = func(store, *call_args)
        if value is None:
            result = ()
        elif isinstance(value, list | tuple):
            result = tuple(value)
        else:
            result = (value,)
    except _InputExhausted:
        trap = "input_exhausted"
    except wasmtime.Trap as t:
        trap = TRAP_KINDS.get(t.trap_code, f"wasmtime:{t.trap_code}")
    except wasmtime.WasmtimeError as err:
        if exhausted:
            trap = "input_exhausted"
        else:
            raise AssertionError(f"wasmtime failed outside a trap: {err}") from err
    if exhausted:
        trap = "input_exhausted"
    memory_digest = None
    if instance is not None:
        mem = instance.exports(store).get("memory")
        if isinstance(mem, wasmtime.Memory):
            memory_digest = digest_bytes(bytes(mem.read(store, 0, mem.data_len(store))))
    return OracleRun(result, tuple(outputs), trap, memory_digest)
