"""Functions with two results (multi-value) on the executor: token-exact for every pair of
widths, and the copy2 offsets decide the i32-first pairs."""

from __future__ import annotations

import pytest

from psionic.core.errors import UnsupportedOperation
from psionic.tassadar.executor.compiled import decode_compiled
from psionic.tassadar.executor.model import Model
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.workloads import WORKLOADS

from .exactness import without_units

TYPES = [("i32", "i32"), ("i32", "i64"), ("i64", "i32"), ("i64", "i64")]


def _pairs(t1: str, t2: str) -> str:
    # a callee returning (t2, t1) by falling off its end, one returning (t1, t2) with `return`,
    # and an entry with two results
    return (f'(module (func $swap (param {t1} {t2}) (result {t2} {t1}) local.get 1 local.get 0) '
            f'(func $keep (param {t1} {t2}) (result {t1} {t2}) (local i32) local.get 0 '
            f'local.get 1 return) '
            f'(func (export "run") (param {t1} {t2}) (result {t2} {t1}) local.get 0 local.get 1 '
            f'call $keep call $swap))')


def _exact(wat: str, args: list[int], model: Model | None = None) -> bool:
    # the numpy session (linear decode) runs block_results in test_executor_decode's corpus
    program = load_wat(wat)
    ref = Machine(program.program).run("run", args)
    out = decode_compiled(program, "run", args, [], Limits(max_steps=ref.steps + 2), model=model)
    return list(out.tokens) == list(ref.tokens) and out.result == ref.result


# written after the weights were frozen: every byte of both values distinct
@pytest.mark.parametrize("t1,t2", TYPES, ids=[f"{a},{b}" for a, b in TYPES])
def test_two_results_decode_exactly(t1: str, t2: str) -> None:
    for args in ([0x0123456789ABCDEF, -0x1032547698BADCFF], [-1, 0]):
        a, b = ((v & 0xFFFFFFFF) - ((v & 0x80000000) << 1) if t == "i32" else v
                for v, t in zip(args, (t1, t2), strict=True))
        assert _exact(_pairs(t1, t2), [a, b]), (t1, t2, args)


@pytest.mark.parametrize("x", [3, 9, 0, -3])
def test_block_results_decodes_exactly(x: int) -> None:
    w = WORKLOADS["block_results"]
    program = load(w.path)
    ref = Machine(program.program).run(w.entry, [x])
    out = decode_compiled(program, w.entry, [x], [], None)
    assert list(out.tokens) == list(ref.tokens) and out.result == ref.result


def test_three_results_are_refused() -> None:
    wat = ('(module (func $f (result i32 i32 i32) i32.const 1 i32.const 2 i32.const 3) '
           '(func (export "run") (result i32) call $f i32.add i32.add))')
    with pytest.raises(UnsupportedOperation, match="at most two results"):
        decode_compiled(load_wat(wat), "run", [], [], None)



@pytest.mark.parametrize("feature", ["pair_r", "pair_w"])
def test_deleting_a_copy2_offset_breaks_i32_first_pairs_only(feature: str) -> None:
    model = Model.load()
    broken = without_units(model, feature)
    args = [0x11223344, -0x55667788]
    assert _exact(_pairs("i32", "i32"), args, model)
    assert not _exact(_pairs("i32", "i32"), args, broken)
    assert _exact(_pairs("i64", "i64"), args, broken)  # contiguous bytes: no offset
