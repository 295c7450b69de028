"""psionic.compiler: traced graph -> plan (CSE, dead-code elimination, elementwise fusion,
a memory plan), with a canonical text and a digest per plan.

>>> import psionic.array as pa
>>> from psionic.ir import trace
>>> compile_graph(trace(lambda x: x.exp() * 2.0, pa.ones((2,)))[0]).summary()["fused_steps"]
1
"""

from psionic.compiler.memory import MemoryPlan, plan_memory
from psionic.compiler.passes import (
    elementwise_chains,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    optimize,
)
from psionic.compiler.plan import Plan, Step, compile_graph

__all__ = [
    "MemoryPlan", "Plan", "Step", "compile_graph", "elementwise_chains",
    "eliminate_common_subexpressions", "eliminate_dead_code", "optimize", "plan_memory",
]
