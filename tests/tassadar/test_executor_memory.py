"""Linear memory on the executor: loads, stores, memory.size/grow, data segments and the memory
traps decode token-exact (linear, compiled linear and hull), the final memory is read back from
the emitted tokens, and the bounds of the construction are refused by name."""

from __future__ import annotations

import pytest

from psionic.core.errors import UnsupportedOperation
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.compiled import decode_compiled
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.memory_layout import scale
from psionic.tassadar.executor.model import Model
from psionic.tassadar.executor.prompt import lay_out
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.workloads import WORKLOADS

from .exactness import assert_workload_decodes_exactly, largest_key, without_head
from .markers import HAS_CLANG
from .memprog import memory_program


def _exact(wat: str, args, limits: Limits | None = None, mode: str = "linear") -> None:
    program = load_wat(wat)
    ref = Machine(program.program, (), limits).run("run", list(args))
    if mode == "linear":
        out = decode_linear(program, "run", list(args), [], limits)
    else:
        out = decode_compiled(program, "run", list(args), [], limits, lookup=mode)
    assert list(out.tokens) == list(ref.tokens)
    assert (out.result, out.trap, out.steps) == (ref.result, ref.trap, ref.steps)
    assert out.memory == ref.memory


SIGNS = ('(module (memory 1) (func (export "run") (param i32) (result i64) '
         'local.get 0 i32.const 0x80ff7f81 i32.store offset=2 '
         'local.get 0 i32.load8_s offset=2 i64.extend_i32_s '
         'local.get 0 i32.load8_u offset=3 i64.extend_i32_u i64.add '
         'local.get 0 i32.load16_s offset=4 i64.extend_i32_s i64.add '
         'local.get 0 i64.load8_s offset=5 i64.add '
         'local.get 0 i64.load16_u offset=4 i64.add '
         'local.get 0 i64.load32_s offset=2 i64.add '
         'local.get 0 i64.load8_s offset=6 i64.add '  # never written: 0, not sign-extended
         'local.get 0 i64.load offset=1 i64.xor))')
GROW = ('(module (memory 1 3) (func (export "run") (param i32) (result i32) '
        'local.get 0 memory.grow memory.size i32.const 8 i32.mul i32.add '
        'i32.const 131070 i32.const 0x1234 i32.store16 i32.const 131070 i32.load16_u i32.add))')
MEMORY_HELD_OUT = [  # written after the weights were frozen
    (SIGNS, (0,), None),
    (SIGNS, (65531,), None),  # the last bytes of the page
    (SIGNS, (65532,), None),  # offset 2 + 4 bytes past the end: the store traps
    # overwrites: the newest write of each byte wins, across widths
    ('(module (memory 1) (func (export "run") (result i64) i32.const 8 i64.const -1 i64.store '
     'i32.const 9 i32.const 0 i32.store8 i32.const 12 i32.const 0x5566 i32.store16 '
     'i32.const 8 i32.const 7 i32.store8 i32.const 8 i64.load))', (), None),
    # a data segment under later stores, and an offset past 4096
    ('(module (memory 1) (data (i32.const 4200) "\\01\\02\\03\\04\\05") (data (i32.const 4202) '
     '"\\ff") (func (export "run") (param i32) (result i32) local.get 0 i32.const 9 '
     'i32.store8 offset=4100 local.get 0 i32.load offset=4100))', (101,), None),
    (GROW, (1,), None),  # grows: the store at 131070 is in bounds
    (GROW, (0,), None),  # no growth: the store is out of bounds
    (GROW, (5,), None),  # past the declared maximum: -1, nothing grows
    (GROW, (-1,), None),  # delta 2^32 - 1
    (GROW, (2,), Limits(max_memory_pages=2)),  # past the run's page limit: the trap
    ('(module (memory 1) (func (export "run") (param i32) (result i32) local.get 0 '
     'i32.load offset=0xfffffff0))', (0,), None),  # an offset past every covered memory
    ('(module (memory 1) (func (export "run") (param i32) (result i64) local.get 0 '
     'i64.load))', (65528,), None),  # the last eight bytes: in bounds, never written
    ('(module (memory 1) (func (export "run") (param i32) (result i64) local.get 0 '
     'i64.load))', (65529,), None),
]


@pytest.mark.parametrize("case", range(len(MEMORY_HELD_OUT)))
def test_held_out_memory_programs_decode_exactly(case: int) -> None:
    _exact(*MEMORY_HELD_OUT[case])


@pytest.mark.parametrize("case", [0, 5, 9])
def test_held_out_memory_programs_decode_exactly_in_hull_mode(case: int) -> None:
    _exact(*MEMORY_HELD_OUT[case], mode="hull")


def test_generated_memory_programs_decode_exactly() -> None:
    _exact(*memory_program(0))
    for seed in range(1, 5):
        _exact(*memory_program(seed), mode="hull")


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("mode", ["linear", "hull"])
def test_many_generated_memory_programs_decode_exactly(mode: str) -> None:
    for seed in range(5, 205):
        _exact(*memory_program(seed), mode=mode)


@pytest.mark.parametrize("name", ["memory_widths", "memory_grow", "data_checksum", "trap_oob"])
def test_memory_workloads_decode_exactly_with_their_final_memory(name: str) -> None:
    assert_workload_decodes_exactly(name)


@pytest.mark.slow
@pytest.mark.parametrize("lookup", ["hull", "linear"])
def test_memory_sum_decodes_exactly(lookup: str) -> None:
    w = WORKLOADS["memory_sum"]
    program = load(w.path)
    ref = Machine(program.program).run(w.entry, w.args)
    out = decode_compiled(program, w.entry, list(w.args), [], None, lookup=lookup)
    assert list(out.tokens) == list(ref.tokens) and out.memory == ref.memory


# C at -O2 whose entry needs memory but no call or division
C_WORKLOADS = ("strings_c", "bubble_sort_c", "bytecode_vm_c", "crc32_c", "sieve_c",
               "binary_search_c")


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("name", C_WORKLOADS)
def test_c_workloads_with_memory_decode_exactly_in_hull_mode(name: str) -> None:
    if not HAS_CLANG:
        pytest.skip("no clang")
    assert_workload_decodes_exactly(name)


def test_the_recency_scale_leaves_every_score_exact() -> None:
    for pages in range(2, L.MEM_MAX_PAGES + 1):  # addresses centred on half the memory
        half = pages * L.PAGE // 2
        s = scale(2 * half)
        assert s * half * half <= 1 << 52 < 2 * s * half * half
    assert scale(L.PAGE) == 1 << 22  # capped: S / 4096 is a header number
    assert scale(2 * L.PAGE) == 1 << 20 and scale(4 * L.PAGE) == 1 << 18


def test_the_run_may_use_as_many_positions_as_the_scale() -> None:
    one = load_wat('(module (memory 1) (func (export "run") (result i32) i32.const 0 i32.load))')
    grows = load_wat('(module (memory 1 4) (func (export "run") (result i32) i32.const 1 '
                     'memory.grow))')
    assert lay_out(one.program, 0, [], 100).position_bound == 1 << 22
    assert lay_out(grows.program, 0, [], 100).position_bound == 1 << 18
    plain = load_wat('(module (func (export "run") (result i32) i32.const 0))')
    assert lay_out(plain.program, 0, [], 100).position_bound == L.MAX_POSITION


REFUSED = [
    ('(module (memory 5) (func (export "run") (result i32) i32.const 0 i32.load))',
     "at most 4 pages"),
    # growth without a declared maximum reaches the run's limit (1024 pages by default)
    ('(module (memory 1) (func (export "run") (result i32) i32.const 1 memory.grow))',
     "at most 4 pages"),
    ('(module (memory 1) (data (i32.const 65535) "ab") (func (export "run") (result i32) '
     'i32.const 0))', "instantiation traps"),
]


@pytest.mark.parametrize("wat,named", REFUSED)
def test_memories_past_the_construction_are_refused_by_name(wat: str, named: str) -> None:
    with pytest.raises(UnsupportedOperation, match=named):
        decode_linear(load_wat(wat), "run", [], [], None)


def test_a_page_limit_within_the_bound_admits_growth_without_a_maximum() -> None:
    wat = ('(module (memory 1) (func (export "run") (param i32) (result i32) local.get 0 '
           'memory.grow memory.size i32.add))')
    for delta in (1, 3, 4):
        _exact(wat, (delta,), Limits(max_memory_pages=4))


def test_centred_addresses_keep_every_key_in_the_exact_range(monkeypatch) -> None:
    wat = ('(module (memory 1) (func (export "run") (result i32) i32.const 65535 i32.const 7 '
           'i32.store8 i32.const 65535 i32.load8_u))')
    program, model = load_wat(wat), Model.load()
    out, largest = largest_key(monkeypatch, program, [], model)
    assert out.result == (7,) and largest <= 2.0**53
    _, largest = largest_key(monkeypatch, program, [], without_head(model, "header_mem_center"))
    assert largest > 2.0**53  # uncentred: S a^2 = 2^22 65535^2 > 2^53
