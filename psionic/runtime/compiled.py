"""Compiled functions: trace once per input signature, compile, cache the plan by digest.

``compile_fn(f)`` returns a callable with ``f``'s signature. The first call
with a new (shapes, dtypes, backend) signature traces ``f``, lowers the graph
to a plan and looks the plan up in the process-wide ``PLAN_CACHE`` by the
traced graph's digest (identical programs share one plan); later calls run
the plan. Tensors that ``f`` captures rather than takes as arguments are
constants of the trace: pass anything that changes as an argument.

>>> import psionic.array as pa
>>> f = compile_fn(lambda x, y: (x * y).sum(-1))
>>> f(pa.ones((2, 3)), pa.full((2, 3), 2.0)).tolist()
[6.0, 6.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psionic.array.autograd import no_grad
from psionic.array.tensor import Tensor
from psionic.compiler.plan import Plan, compile_graph
from psionic.core.errors import InvalidInput
from psionic.ir.graph import Graph
from psionic.ir.trace import trace
from psionic.runtime.executor import Executor


@dataclass(slots=True)
class PlanCache:
    """Plans by the digest of the graph they were compiled from (mutable: it fills)."""

    plans: dict[str, Plan] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def get(self, graph: Graph) -> Plan:
        key = graph.digest()
        plan = self.plans.get(key)
        if plan is None:
            self.misses += 1
            plan = self.plans[key] = compile_graph(graph)
        else:
            self.hits += 1
        return plan


PLAN_CACHE = PlanCache()


class CompiledFunction:
    """``fn`` run through traced, compiled plans, one per input signature."""

    def __init__(self, fn: Callable[..., Any], cache: PlanCache = PLAN_CACHE) -> None:
        self.fn = fn
        self.cache = cache
        self._executors: dict[tuple[Any, ...], tuple[Executor, bool]] = {}

    @staticmethod
    def signature(args: tuple[Tensor, ...]) -> tuple[Any, ...]:
        return tuple((a.shape, a.dtype.name, a.backend) for a in args)

    def executor(self, *args: Tensor) -> Executor:
        return self._prepare(args)[0]

    def _prepare(self, args: tuple[Tensor, ...]) -> tuple[Executor, bool]:
        if not all(isinstance(a, Tensor) for a in args):
            raise InvalidInput("a compiled function takes Tensor arguments only")
        key = self.signature(args)
        found = self._executors.get(key)
        if found is None:
            with no_grad():
                graph, result = trace(self.fn, *args)
            single = not isinstance(result, (tuple, list))
            backend = args[0].backend if args else "cpu"
            found = self._executors[key] = (Executor(self.cache.get(graph), backend), single)
        return found

    def __call__(self, *args: Tensor) -> Any:
        executor, single = self._prepare(args)
        outs = executor(args)
        return outs[0] if single else tuple(outs)


def compile_fn(fn: Callable[..., Any]) -> CompiledFunction:
    return CompiledFunction(fn)
