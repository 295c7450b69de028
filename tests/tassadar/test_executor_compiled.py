"""The compiled decode loop emits the reference trace, with hull and with brute-force lookups."""

from __future__ import annotations

from dataclasses import replace

import pytest

from psionic.core.errors import InvalidInput, Refusal
from psionic.tassadar.executor.compiled import (
    NO_HALT,
    OK,
    CompiledModel,
    decode_compiled,
    generate_compiled,
    run,
)
from psionic.tassadar.executor.decode import MAX_STEP_TOKENS, default_model, generate
from psionic.tassadar.executor.model import Model
from psionic.tassadar.executor.prompt import lay_out
from psionic.tassadar.ingress import load, load_wat
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.run import run_program
from psionic.tassadar.workloads import WORKLOADS

from .exactness import decode_corpus
from .markers import HAS_CLANG
from .straightline import straight_line


def _prompt(wat: str, args) -> tuple:
    program = load_wat(wat)
    p = lay_out(program.program, 0, list(args), 10_000)
    return program, p, MAX_STEP_TOKENS * (p.steps_bound + 1) + 2


def _generated(lookup: str, seeds: range) -> None:
    for seed in seeds:
        wat, args, _ = straight_line(seed)
        program = load_wat(wat)
        out = decode_compiled(program, "run", list(args), [], None, lookup)
        ref = Machine(program.program).run("run", list(args))
        assert list(out.tokens) == list(ref.tokens), seed
        assert (out.result, out.trap, out.steps) == (ref.result, ref.trap, ref.steps)


@pytest.mark.parametrize("lookup", ["hull", "linear"])
def test_generated_programs_match_the_reference(lookup: str) -> None:
    _generated(lookup, range(0, 150, 15))


@pytest.mark.slow
@pytest.mark.parametrize("lookup", ["hull", "linear"])
def test_all_generated_programs_match_the_reference(lookup: str) -> None:
    _generated(lookup, range(150))


DEFAULT_RUN_TOKENS = 60_000  # longer traces: test_executor_memory's slow C workload tests


def test_corpus_workloads_match_the_reference() -> None:
    decoded = []
    for w in WORKLOADS.values():
        if w.slow or (w.language == "c" and not HAS_CLANG):
            continue
        program = load(w.path)
        ref = Machine(program.program, w.inputs).run(w.entry, w.args)
        if len(ref.tokens) > DEFAULT_RUN_TOKENS:  # ackermann, fib_c, the C programs with memory: slow tests
            continue
        try:
            out = decode_compiled(program, w.entry, list(w.args), list(w.inputs), None)
        except Refusal:
            continue
        assert list(out.tokens) == list(ref.tokens), w.name
        decoded.append(w.name)
    assert {"const_arith", "wrap_extend"} <= set(decoded)


HULL_TOKENS = 1 << 22  # the position bound of a one-page memory (the C programs' memories)


@pytest.mark.slow
@pytest.mark.timeout(7200)  # minutes: the whole corpus, the long runs and 1M-token C programs included
def test_every_corpus_workload_decodes_exactly_or_is_refused_in_hull_mode() -> None:
    from .test_executor_decode import DECODED

    decoded, refused = decode_corpus(
        lambda p, w: decode_compiled(p, w.entry, list(w.args), list(w.inputs), None),
        lambda w: True, lambda n: n <= HULL_TOKENS)
    assert set(decoded) == DECODED and not set(refused) & DECODED, (decoded, refused)


def test_same_tokens_and_fewer_dot_products_than_the_session() -> None:
    wat, args, _ = straight_line(3)
    _, p, mx = _prompt(wat, args)
    model = default_model()
    cm = CompiledModel.of(model)
    h, lin = run(cm, p.tokens, mx, "hull"), run(cm, p.tokens, mx, "linear")
    hull, dots_hull, dots_linear = h.tokens, h.dot_products, lin.dot_products
    assert h.status == lin.status == OK
    assert hull == lin.tokens == generate(model, p.tokens, mx).tokens
    n = len(p.tokens) + len(hull) - 1
    assert dots_linear == cm.n_hardmax * n * (n + 1) // 2  # every key of every head, every token
    assert dots_hull < dots_linear / 10


def test_no_halt_within_the_bound_is_reported() -> None:
    wat, args, _ = straight_line(5)
    _, p, _ = _prompt(wat, args)
    done = run(CompiledModel.of(default_model()), p.tokens, 3)
    assert done.status == NO_HALT and len(done.tokens) == 3


def test_keys_past_the_int64_range_fall_back_to_exact_hulls() -> None:
    # scaling every key by 2^40 keeps each argmax but leaves the int64 fast path's range
    model = default_model()
    scaled = Model(model.features, model.embedding,
                   tuple(replace(lw, wk=lw.wk * 2.0 ** 40) for lw in model.layers),
                   model.unembedding, model.unembedding_bias)
    wat, args, _ = straight_line(7)
    program, p, mx = _prompt(wat, args)
    assert run(CompiledModel.of(scaled), p.tokens, mx, "hull").status != OK  # no guessing
    gen = generate_compiled(scaled, p.tokens, mx)
    assert gen.tokens == list(Machine(program.program).run("run", list(args)).tokens)


def test_decode_modes_and_refusals() -> None:
    p = load_wat('(module (func (export "run") (param i32) (result i32) local.get 0 i32.const 5 '
                 'i32.mul))')
    reports = {m: run_program(p, "run", [7], decode=m)
               for m in ("linear", "hull", "linear-compiled", "hull-session")}
    assert {r.trace_digest for r in reports.values()} == {reports["linear"].trace_digest}
    assert reports["hull"].result == (35,)
    with pytest.raises(InvalidInput):
        decode_compiled(p, "run", [7], [], None, "nope")
