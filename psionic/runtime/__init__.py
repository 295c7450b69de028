"""psionic.runtime: executing compiled plans on backends, with a plan cache keyed by digest.

>>> import psionic.array as pa
>>> compile_fn(lambda x: x.exp().sum())(pa.zeros((4,))).item()
4.0
"""

from psionic.runtime.compiled import PLAN_CACHE, CompiledFunction, PlanCache, compile_fn
from psionic.runtime.executor import Executor

__all__ = ["PLAN_CACHE", "CompiledFunction", "Executor", "PlanCache", "compile_fn"]
