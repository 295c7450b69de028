"""Linear decode on the executor: token-exact traces against the reference, refusals, isolation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import psionic.tassadar.executor as executor_pkg
from psionic.core.errors import Refusal, UnsupportedOpcode
from psionic.tassadar import handlers, interpreter, semantics
from psionic.tassadar import run as run_mod
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.prompt import COVERED
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.run import run_program
from psionic.tassadar.workloads import WORKLOADS

from .markers import HAS_CLANG
from .straightline import straight_line

HELD_OUT = [  # written after the weights were frozen
    ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))',
     (255, 1)),
    ('(module (func (export "run") (param i32) (result i32) (local i32) local.get 0 i32.const 1 '
     'i32.sub local.tee 1 local.get 1 i32.sub local.get 0 i32.sub))', (0,)),
    ('(module (func (export "run") (param i64) (result i64) local.get 0 i64.const -1 i64.add '
     'i64.const 0x7fffffffffffffff i64.sub))', (-0x8000000000000000,)),
    ('(module (func (export "run") (result i32) i32.const 5 drop nop i32.const 6 return))', ()),
    ('(module (func (export "run") (param i32) local.get 0 i32.const 7 i32.add drop))', (3,)),
    ('(module (func (export "run") (param i32) (result i32) local.get 0 unreachable))', (1,)),
    ('(module (global $g (mut i32) (i32.const 7)) (global $h (mut i64) (i64.const -5)) '
     '(global $c i32 (i32.const 100)) (func (export "run") (param i32) (result i32) global.get $g '
     'local.get 0 i32.add global.set $g global.get $h i64.const 9 i64.add global.set $h '
     'global.get $g global.get $c i32.sub global.get $g i32.add))', (5,)),
]


def _exact(wat: str, args, limits: Limits | None = None) -> None:
    program = load_wat(wat)
    ref = Machine(program.program, (), limits).run("run", list(args))
    out = decode_linear(program, "run", list(args), [], limits)
    assert list(out.tokens) == list(ref.tokens)
    assert (out.result, out.trap, out.steps, out.outputs) == (ref.result, ref.trap, ref.steps,
                                                              ref.outputs)
    assert (out.memory, out.globals) == (ref.memory, ref.globals)


@pytest.mark.parametrize("case", range(len(HELD_OUT)))
def test_held_out_programs_decode_exactly(case: int) -> None:
    _exact(*HELD_OUT[case])


def test_generated_straight_line_programs_decode_exactly() -> None:
    for seed in range(150):
        wat, args, _ = straight_line(seed)
        _exact(wat, args)


@pytest.mark.slow
def test_many_generated_straight_line_programs_decode_exactly() -> None:
    for seed in range(150, 400):  # 250 more held-out programs
        wat, args, _ = straight_line(seed)
        _exact(wat, args)


@pytest.mark.parametrize("max_steps", [0, 1, 2, 5])
def test_step_bound_traps_like_the_reference(max_steps: int) -> None:
    wat, args = HELD_OUT[1]
    _exact(wat, args, Limits(max_steps=max_steps))


def test_uncovered_opcode_is_refused_before_decoding_with_its_name() -> None:
    p = load_wat('(module (func (export "run") (param i32) (result i32) local.get 0 i32.const 3 '
                 'i32.div_u))')
    with pytest.raises(UnsupportedOpcode, match="i32.div_u"):
        decode_linear(p, "run", [2], [], None)


def test_corpus_workloads_decode_exactly_or_are_refused() -> None:
    decoded, refused = [], []
    for w in WORKLOADS.values():
        if w.slow or (w.language == "c" and not HAS_CLANG):
            continue
        program = load(w.path)
        try:
            out = decode_linear(program, w.entry, list(w.args), list(w.inputs), None)
        except Refusal:
            refused.append(w.name)
            continue
        ref = Machine(program.program, w.inputs).run(w.entry, w.args)
        assert list(out.tokens) == list(ref.tokens), w.name
        decoded.append(w.name)
    assert decoded or refused


class _Raiser:
    def __init__(self, *a, **k) -> None:
        raise AssertionError("the reference interpreter was called from the decode path")


def test_decode_path_never_reaches_the_interpreter(monkeypatch) -> None:
    monkeypatch.setattr(interpreter, "Machine", _Raiser)
    monkeypatch.setattr(run_mod, "Machine", _Raiser)
    monkeypatch.setattr(handlers, "build", _Raiser)  # the step closures of the reference
    monkeypatch.setattr(semantics, "BINARY", {})  # the reference's numeric semantics
    monkeypatch.setattr(semantics, "UNARY", {})
    wat, args = HELD_OUT[0]
    report = run_program(load_wat(wat), "run", args, decode="linear")
    assert report.result == (256,) and report.decode == "linear"
    for seed in range(10):
        wat, args, _ = straight_line(seed)
        run_program(load_wat(wat), "run", args, decode="linear")
    for name in ("const_arith", "wrap_extend"):  # corpus workloads, decoded by the model alone
        w = WORKLOADS[name]
        assert run_program(load(w.path), w.entry, w.args, decode="linear").trap is None


def test_executor_modules_import_no_interpreter_code() -> None:
    banned = {"psionic.tassadar.interpreter", "psionic.tassadar.handlers",
              "psionic.tassadar.handlers_flow", "psionic.tassadar.semantics"}
    for path in Path(executor_pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            else:
                continue
            assert not names & banned, (path.name, names & banned)


def test_covered_opcodes_are_listed() -> None:
    assert {"i32.add", "i64.sub", "i32.mul", "i32.lt_s", "select"} <= set(COVERED)
    assert "i32.div_u" not in COVERED and "br_if" not in COVERED
