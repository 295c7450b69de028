"""Shared checks of the executor tests: corpus workloads decoded against the reference, the
model with a feature's ReGLU units deleted, and the largest key a decode inserts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from psionic.core.errors import Refusal
from psionic.tassadar.executor.attention import MODES, LinearAttention
from psionic.tassadar.executor.circuit import Unit
from psionic.tassadar.executor.compiled import decode_compiled
from psionic.tassadar.executor.compiler import build_circuit
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.executor.model import Model
from psionic.tassadar.ingress import LoadedProgram, load
from psionic.tassadar.interpreter import Machine
from psionic.tassadar.workloads import WORKLOADS, Workload

from .markers import HAS_CLANG


def assert_workload_decodes_exactly(name: str, lookup: str = "hull") -> None:
    """Tokens, result, trap, globals and final memory of the compiled decode equal the
    reference's."""
    w = WORKLOADS[name]
    program = load(w.path)
    ref = Machine(program.program, w.inputs).run(w.entry, w.args)
    out = decode_compiled(program, w.entry, list(w.args), list(w.inputs), None, lookup=lookup)
    assert list(out.tokens) == list(ref.tokens), name
    assert (out.result, out.trap, out.globals) == (ref.result, ref.trap, ref.globals), name
    assert out.memory == ref.memory, name


def decode_corpus(decode: Callable, keep: Callable[[Workload], bool],
                  within: Callable[[int], bool]) -> tuple[list[str], list[str]]:
    """Decode, with ``decode(program, workload)``, every corpus workload that ``keep`` accepts
    (C ones only where clang is installed) and whose reference trace length ``within`` accepts;
    each decoded one must equal the reference in tokens, result, trap, globals and final
    memory. Returns the names decoded and those refused."""
    decoded, refused = [], []
    for w in WORKLOADS.values():
        if not keep(w) or (w.language == "c" and not HAS_CLANG):
            continue
        program = load(w.path)
        ref = Machine(program.program, w.inputs).run(w.entry, w.args)
        if not within(len(ref.tokens)):
            continue
        try:
            out = decode(program, w)
        except Refusal:
            refused.append(w.name)
            continue
        assert list(out.tokens) == list(ref.tokens), w.name
        assert (out.result, out.trap, out.globals) == (ref.result, ref.trap, ref.globals), w.name
        assert out.memory == ref.memory, w.name
        decoded.append(w.name)
    return decoded, refused


def without_units(model: Model, out_feature: str, doc: str = "") -> Model:
    """``model`` with every ReGLU unit that writes ``out_feature`` (and whose explanation
    starts with ``doc``) deleted."""
    circuit = build_circuit()

    def chosen(unit: Unit) -> bool:
        return out_feature in unit.out and unit.doc.startswith(doc)

    li = next(i for i, layer in enumerate(circuit.layers) if any(map(chosen, layer.units)))
    units = [u for u, unit in enumerate(circuit.layers[li].units) if chosen(unit)]
    w_out = model.layers[li].w_out.copy()
    assert units and np.any(w_out[:, units])
    w_out[:, units] = 0.0
    layers = list(model.layers)
    layers[li] = dataclasses.replace(layers[li], w_out=w_out)
    return dataclasses.replace(model, layers=tuple(layers))


class KeyRange(LinearAttention):
    """Linear lookups that record the largest key coordinate inserted (``largest``)."""

    largest = 0.0

    def insert(self, position: int, keys: np.ndarray) -> None:
        KeyRange.largest = max(KeyRange.largest, float(np.max(np.abs(keys))))
        super().insert(position, keys)


def without_head(model: Model, name: str) -> Model:
    """``model`` with the output of head ``name`` deleted."""
    li, hi = next((li, hi) for li, layer in enumerate(build_circuit().layers)
                  for hi, h in enumerate(layer.heads) if h.name == name)
    wo = model.layers[li].wo.copy()
    wo[hi] = 0.0
    layers = list(model.layers)
    layers[li] = dataclasses.replace(layers[li], wo=wo)
    return dataclasses.replace(model, layers=tuple(layers))


def largest_key(monkeypatch, program: LoadedProgram, args: list[int], model: Model) -> tuple:
    """The outcome of decoding ``program`` and the largest key coordinate it inserted."""
    monkeypatch.setitem(MODES, "key_range", KeyRange)
    KeyRange.largest = 0.0
    out = decode_linear(program, "run", args, [], None, model=model, attention="key_range")
    return out, KeyRange.largest
