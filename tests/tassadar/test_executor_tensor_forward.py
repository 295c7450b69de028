"""The executor's whole-sequence forward on psionic.array Tensors predicts the decoded trace."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.tassadar.entry import resolve_entry
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.model import Model
from psionic.tassadar.executor.prompt import lay_out
from psionic.tassadar.executor.tensor_forward import sequence_logits
from psionic.tassadar.ingress import load_wat

from .test_executor_decode import FLOW_HELD_OUT, IO
from .test_executor_frames import CALLS

CASES = [
    (FLOW_HELD_OUT[0][0], (2,), ()),  # a loop
    (FLOW_HELD_OUT[3][0], (1,), ()),  # br_if moving a value over dropped slots
    ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 i32.mul '
     'local.get 0 local.get 1 i32.shr_s i32.xor))', (-0x12345678, 13), ()),
    (IO, (), (5, -7)),  # inputs, an output, then the inputs run out
    (CALLS["recursive_sum"][0], (3,), ()),  # frames: depth and frame base as prefix sums
    (CALLS["fresh_locals"][0], (7,), ()),  # declared locals of a callee read zero
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_teacher_forced_argmax_is_the_decoded_trace(case: int) -> None:
    wat, args, inputs = CASES[case]
    program = load_wat(wat)
    model = Model.load()
    out = decode_linear(program, "run", list(args), list(inputs), None, model=model)
    entry = resolve_entry(program.program.module, "run")
    prompt = lay_out(program.program, entry, list(args), 50_000_000, None, inputs)
    seq = [*prompt.tokens, *out.tokens]
    predicted = sequence_logits(model, seq[:-1]).numpy().argmax(-1)
    start = len(prompt.tokens) - 1  # the prompt's last position predicts the first trace token
    assert predicted[start:].tolist() == list(out.tokens)


def test_a_deleted_head_changes_the_tensor_forward_too() -> None:
    import dataclasses

    model = Model.load()
    wat, args, _ = CASES[0]
    program = load_wat(wat)
    out = decode_linear(program, "run", list(args), [], None, model=model)
    prompt = lay_out(program.program, 0, list(args), 50_000_000)
    seq = [*prompt.tokens, *out.tokens]
    layers = list(model.layers)
    wo = layers[1].wo.copy()
    wo[:] = 0.0  # layer 2's head: the newest jump target
    layers[1] = dataclasses.replace(layers[1], wo=wo)
    broken = dataclasses.replace(model, layers=tuple(layers))
    predicted = np.asarray(sequence_logits(broken, seq[:-1]).numpy()).argmax(-1)
    assert predicted[len(prompt.tokens) - 1 :].tolist() != list(out.tokens)
