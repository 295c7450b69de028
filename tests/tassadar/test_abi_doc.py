"""docs/TASSADAR_TRACE_ABI.md agrees with the code: vocabulary, example trace, digest."""

from __future__ import annotations

import re
from pathlib import Path

from psionic.tassadar import trace as tr
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.semantics import div_tokens, mul_tokens

DOC = Path(__file__).resolve().parents[2] / "docs" / "TASSADAR_TRACE_ABI.md"


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(title)
    return text[start : text.index("\n## ", start + 1)]


def test_doc_lists_the_vocabulary_in_id_order() -> None:
    vocab = _section("## 3. Vocabulary")
    ops = vocab[vocab.index("Step opcodes, in id order") :]
    assert re.findall(r"`([a-z0-9_.]+)`", ops.split(".\n\n")[0]) == list(tr.STEP_OPS)
    traps = vocab[vocab.index("Trap kinds, in id order") :]
    named = re.findall(r"`([a-z_]+)`", traps.split("Step opcodes")[0])
    assert [n for n in named if n in tr.TRAPS] == list(tr.TRAPS)
    assert f"The vocabulary has {len(tr.VOCAB)} tokens" in vocab
    assert f"| {tr.OP_BASE} .. {tr.TARGET_BASE - 1} | step opcodes |" in vocab
    assert f"| {tr.TARGET_BASE} .. {tr.DIV_SCRATCH - 1} | `p0` .. `p{tr.PC_LIMIT - 1}` |" in vocab
    assert f"| {tr.DIV_SCRATCH} .. {len(tr.VOCAB) - 1} | `q00` .. `qff` |" in vocab


def test_doc_division_example_is_what_the_semantics_emit() -> None:
    section = _section("### 4.3 Division and remainder")
    listed = re.search(r"emits\n?\s*`([a-z0-9 ]+)`", section).group(1).split()
    payload, _ = div_tokens((-7) & 0xFFFFFFFF, 2, 4, True, True, tr.DIV_SCRATCH)
    assert listed == [tr.VOCAB.name(t) for t in payload]


def test_doc_example_is_what_the_interpreter_emits() -> None:
    example = _section("## 9. Example")
    program = load_wat('(module (func (export "run") (param i32 i32) (result i32) '
                       "local.get 0 local.get 1 i32.add))")
    out = Machine(program.program).run("run", [255, 1])
    listed = [int(t) for t in re.search(r"ids `([\d\s]+)`", example).group(1).split()]
    assert listed == list(out.tokens)
    assert tr.trace_digest(out.tokens) in example
    lines = [line.split(";")[0].strip() for line in example.split("```")[1].strip().splitlines()]
    assert lines == tr.render(out.tokens).splitlines()


def test_doc_states_the_true_multiplication_carry_bounds() -> None:
    text = _section("### 4.1 Multiplication")
    for n, bits in ((8, "i64"), (4, "i32")):
        worst = max(mul_tokens((1 << (8 * n)) - 1, (1 << (8 * n)) - 1, n, 0)[1::2])
        assert f"{worst} for {bits}" in text
