"""A small language for hand-built transformers: named residual features, heads and ReGLU units.

The executor's weights are written as a *circuit*: every residual dimension
has a name, every attention head says in words and in linear forms what it
queries, what its keys are and which features it copies, and every
feed-forward unit is ``coef * relu(gate . x) * (value . x)`` over named
features. ``compile_circuit`` turns the circuit into plain arrays (the
weights); the model card is generated from the same records.

>>> c = Circuit(inputs=("one", "pos"))
>>> c.feature("double")
>>> c.layer().unit(gate={"one": 1.0}, value={"pos": 2.0}, out={"double": 1.0}, doc="2 * pos")
>>> w = compile_circuit(c)
>>> w.width, len(w.layers)
(3, 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from psionic.core.errors import InvalidInput

Form = Mapping[str, float]  # a linear form: feature name -> coefficient


@dataclass(frozen=True, slots=True)
class Head:
    """One attention head. ``kind`` is ``hardmax`` (argmax of q.k) or ``uniform`` (prefix mean)."""

    name: str
    kind: str
    query: tuple[dict[str, float], dict[str, float]]
    key: tuple[dict[str, float], dict[str, float]]
    reads: tuple[tuple[str, str], ...]  # (feature at the attended position, feature written here)
    doc: str


@dataclass(frozen=True, slots=True)
class Unit:
    """One ReGLU unit: ``out += coef * relu(gate . x) * (value . x)`` for each ``out`` entry."""

    gate: dict[str, float]
    value: dict[str, float]
    out: dict[str, float]
    doc: str


@dataclass
class Layer:
    # built up by the compiler, then frozen into arrays (mutable while the circuit is written)
    heads: list[Head] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)

    def head(self, name: str, query: tuple[Form, Form], key: tuple[Form, Form],
             reads: tuple[tuple[str, str], ...], doc: str, kind: str = "hardmax") -> None:
        if kind not in ("hardmax", "uniform"):
            raise InvalidInput(f"unknown head kind {kind!r}")
        self.heads.append(Head(name, kind, (dict(query[0]), dict(query[1])),
                               (dict(key[0]), dict(key[1])), tuple(reads), doc))

    def unit(self, gate: Form, value: Form, out: Form, doc: str) -> None:
        self.units.append(Unit(dict(gate), dict(value), dict(out), doc))


@dataclass
class Circuit:
    # the residual layout grows as features are declared (mutable while being written)
    inputs: tuple[str, ...]
    features: list[str] = field(default_factory=list)
    docs: dict[str, str] = field(default_factory=dict)
    layers: list[Layer] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in self.inputs:
            self.feature(name)

    def feature(self, name: str, doc: str = "") -> None:
        if name in self.features:
            raise InvalidInput(f"feature {name!r} declared twice")
        self.features.append(name)
        self.docs[name] = doc

    def layer(self) -> Layer:
        self.layers.append(Layer())
        return self.layers[-1]


@dataclass(frozen=True, slots=True)
class LayerWeights:
    wq: np.ndarray  # (H, 2, D)
    wk: np.ndarray  # (H, 2, D)
    wv: np.ndarray  # (H, V, D)
    wo: np.ndarray  # (H, D, V)
    uniform: np.ndarray  # (H,) 1.0 for prefix-mean heads
    w_gate: np.ndarray  # (N, D)
    w_value: np.ndarray  # (N, D)
    w_out: np.ndarray  # (D, N)


@dataclass(frozen=True, slots=True)
class CircuitWeights:
    features: tuple[str, ...]
    layers: tuple[LayerWeights, ...]

    @property
    def width(self) -> int:
        return len(self.features)


def _row(form: Form, index: dict[str, int], width: int) -> np.ndarray:
    row = np.zeros(width)
    for name, coef in form.items():
        if name not in index:
            raise InvalidInput(f"unknown feature {name!r}")
        row[index[name]] += coef
    return row


def _compile_layer(layer: Layer, index: dict[str, int], width: int) -> LayerWeights:
    nh = len(layer.heads)
    nv = max([len(h.reads) for h in layer.heads] + [1])
    wq, wk = np.zeros((nh, 2, width)), np.zeros((nh, 2, width))
    wv, wo = np.zeros((nh, nv, width)), np.zeros((nh, width, nv))
    uniform = np.zeros(nh)
    for h, head in enumerate(layer.heads):
        for c in range(2):
            wq[h, c] = _row(head.query[c], index, width)
            wk[h, c] = _row(head.key[c], index, width)
        for v, (src, dst) in enumerate(head.reads):
            wv[h, v, index[src]] = 1.0
            wo[h, index[dst], v] = 1.0
        uniform[h] = head.kind == "uniform"
    nu = len(layer.units)
    w_gate, w_value, w_out = np.zeros((nu, width)), np.zeros((nu, width)), np.zeros((width, nu))
    for u, unit in enumerate(layer.units):
        w_gate[u] = _row(unit.gate, index, width)
        w_value[u] = _row(unit.value, index, width)
        w_out[:, u] = _row(unit.out, index, width)
    return LayerWeights(wq, wk, wv, wo, uniform, w_gate, w_value, w_out)


def compile_circuit(circuit: Circuit) -> CircuitWeights:
    """Lay the named features out as residual dimensions and emit each layer's arrays."""
    index = {name: i for i, name in enumerate(circuit.features)}
    width = len(circuit.features)
    return CircuitWeights(tuple(circuit.features),
                          tuple(_compile_layer(layer, index, width) for layer in circuit.layers))
