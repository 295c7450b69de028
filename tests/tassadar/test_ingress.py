"""Ingress: .wasm, .wat and .c, the C toolchain, and what happens without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from psionic.core.errors import (
    InvalidInput,
    MalformedWasm,
    ToolMissing,
    UnsupportedImport,
    UnsupportedOpcode,
    UnsupportedWasmFeature,
)
from psionic.core.home import psionic_cache
from psionic.tassadar import ingress
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.workloads import get

from .markers import needs_clang


def test_wasm_and_wat_files_load_the_same_program(tmp_path: Path) -> None:
    w = get("sum_loop")
    from_wat = ingress.load(w.path)
    wasm_path = tmp_path / "sum.wasm"
    wasm_path.write_bytes(from_wat.wasm)
    from_wasm = ingress.load(wasm_path)
    assert from_wasm.digest == from_wat.digest and from_wasm.source == "wasm"
    assert Machine(from_wasm.program).run("run", [10]).result == (55,)


def test_bad_wat_and_unknown_suffix_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MalformedWasm) as info:
        ingress.load_wat("(module (func (result i32) i32.const))")
    assert "does not assemble" in info.value.message
    other = tmp_path / "p.py"
    other.write_text("print(1)")
    with pytest.raises(InvalidInput) as info2:
        ingress.load(other)
    assert ".wasm" in info2.value.message
    with pytest.raises(InvalidInput):
        ingress.load(tmp_path / "missing.wat")


@needs_clang
def test_c_source_compiles_with_clang_and_is_cached(tmp_path: Path) -> None:
    src = tmp_path / "twice.c"
    src.write_text("int run(int x) { return 2 * x + 1; }\n")
    first = ingress.load(src)
    assert first.source == "c"
    assert Machine(first.program).run("run", [20]).result == (41,)
    cached = list((psionic_cache() / "tassadar" / "c").glob("*.wasm"))
    assert any(p.read_bytes() == first.wasm for p in cached)
    assert ingress.load(src).digest == first.digest


@needs_clang
def test_c_that_leaves_the_profile_is_refused_by_name(tmp_path: Path) -> None:
    floats = tmp_path / "floats.c"
    floats.write_text("int run(int x) { return (int)(x * 1.5); }\n")
    with pytest.raises((UnsupportedOpcode, UnsupportedWasmFeature)) as info:
        ingress.load(floats)
    assert "f64" in info.value.message and "offset" in info.value.message
    libc = tmp_path / "libc.c"
    libc.write_text("int puts(const char *); int run(void) { return puts(\"hi\"); }\n")
    with pytest.raises(UnsupportedImport) as info2:
        ingress.load(libc)
    assert "env.puts" in info2.value.message


@needs_clang
def test_c_compile_errors_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.c"
    bad.write_text("int run(void) { return }\n")
    with pytest.raises(InvalidInput) as info:
        ingress.load(bad)
    assert "clang could not compile bad.c" in info.value.message


def test_without_clang_c_is_refused_with_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingress, "find_tool", lambda name: None)
    src = tmp_path / "x.c"
    src.write_text("int run(void) { return 1; }\n")
    with pytest.raises(ToolMissing) as info:
        ingress.load(src)
    assert "clang-16" in info.value.message and "apt-get install clang-16 lld-16" in info.value.message
    assert ingress.load(get("sum_loop").path).source == "wat"  # .wat still works


STACK_HUNGRY = """
static volatile int data[4] = {7, 7, 7, 7};
static int deep(int n) {
    volatile char frame[1024];
    frame[n * 37 % 1024] = (char)n;
    if (n == 0) return data[0];
    return deep(n - 1) + frame[n * 37 % 1024];
}
int run(int n) { return deep(n); }
"""


@needs_clang
def test_c_links_into_one_page_with_the_stack_below_the_data(tmp_path: Path) -> None:
    src = tmp_path / "stack.c"
    src.write_text(STACK_HUNGRY)
    loaded = ingress.load(src)
    module = loaded.program.module
    assert module.memory is not None
    assert (module.memory.minimum, module.memory.maximum) == (1, 1)  # 2^22 key positions
    (seg,) = module.datas
    assert seg.offset >= 16384  # the data above a 16 KiB stack
    assert Machine(loaded.program).run("run", [8]).result == (7 + sum(range(1, 9)),)
    # 24 frames of 1 KiB pass the stack: out of bounds below address 0, the data untouched
    out = Machine(loaded.program).run("run", [24])
    assert out.trap == "memory_out_of_bounds"
    assert out.memory[seg.offset : seg.offset + 16] == bytes([7, 0, 0, 0] * 4)
