"""Execute a compiled plan on an array backend, reusing its arena between runs.

On the cpu backend, kernels and fused chains whose result has the planned
shape and dtype write into their slot's buffer through numpy's ``out=``: a
fused chain runs every op in place in one buffer, and a slot's memory is
allocated once for the life of the executor. Other backends run each
primitive and keep its result. Outputs are copied out of the arena.

>>> import psionic.array as pa
>>> from psionic.compiler import compile_graph
>>> from psionic.ir import trace
>>> run = Executor(compile_graph(trace(lambda x: (x + 1.0) * 3.0, pa.ones((2,)))[0]))
>>> [t.tolist() for t in run([pa.tensor([0.0, 1.0])])]
[[3.0, 6.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from psionic.array.backend import ArrayBackend, get_array_backend
from psionic.array.numpy_prims import ACCEPTS_OUT
from psionic.array.tensor import Tensor
from psionic.compiler.plan import Plan, Step
from psionic.core.dtypes import DType
from psionic.ir.graph import Node
from psionic.ir.interpret import check_inputs

_OUT_DTYPES = frozenset({"f32", "f64", "f16"})


class Executor:
    """Runs one plan; holds its constants and arena (mutable: buffers fill on first run)."""

    def __init__(self, plan: Plan, backend: str = "cpu") -> None:
        self.plan = plan
        self.backend: ArrayBackend = get_array_backend(backend)
        self._consts = {nid: self.backend.asarray(v, None) for nid, v in plan.graph.consts.items()}
        self._arena: dict[int, np.ndarray] = {}
        self._use_out = self.backend.name == "cpu"
        self.runs = 0

    @property
    def arena_bytes(self) -> int:
        return sum(b.nbytes for b in self._arena.values())

    def facts(self) -> dict[str, Any]:
        """The plan run, where, and what it has used so far (for receipts and reports)."""
        return {
            "plan": self.plan.digest(), "source_graph": self.plan.source_digest,
            "backend": self.backend.name, "device": self.backend.device, "runs": self.runs,
            "arena_bytes": self.arena_bytes, **self.plan.summary(),
        }

    def _buffer(self, slot: int, node: Node) -> np.ndarray | None:
        if not self._use_out or node.dtype not in _OUT_DTYPES:
            return None
        raw = self._arena.get(slot)
        size = self.plan.memory.slot_bytes[slot]
        if raw is None:
            raw = self._arena[slot] = np.empty(size, np.uint8)
        dt = DType.get(node.dtype).numpy
        assert dt is not None  # array dtypes only reach the arena
        return raw[: node.nbytes].view(dt).reshape(node.shape)

    def _call(self, node: Node, args: list[Any], out: np.ndarray | None) -> Any:
        prim = self.backend.prim(node.op)
        if out is not None and node.op in ACCEPTS_OUT:
            shape = np.broadcast_shapes(*(np.shape(a) for a in args)) if node.op != "matmul" else None
            if shape is None or shape == node.shape:
                return prim(*args, out=out)
        return prim(*args, **dict(node.attrs))

    def _run_step(self, step: Step, env: dict[int, Any]) -> None:
        out = None if step.slot is None else self._buffer(step.slot, step.output)
        for node in step.nodes:
            args = [env[i] for i in node.inputs]
            env[node.id] = self._call(node, args, out if node.shape == step.output.shape
                                      and node.dtype == step.output.dtype else None)

    def __call__(self, args: Sequence[Tensor]) -> list[Tensor]:
        graph = self.plan.graph
        check_inputs(graph, args)
        env: dict[int, Any] = dict(self._consts)
        for nid, a in zip(graph.inputs, args, strict=True):
            env[nid] = a.to(self.backend.name)._data
        for step in self.plan.steps:
            self._run_step(step, env)
        self.runs += 1
        outs = []
        for nid in graph.outputs:
            value = env[nid]
            if isinstance(value, np.ndarray):
                value = np.array(value, copy=True)
            outs.append(Tensor._wrap(value, self.backend))
        return outs
