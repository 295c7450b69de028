"""psionic.ir: traced graphs of array programs, their canonical text, digest and evaluation.

>>> import psionic.array as pa
>>> g, _ = trace(lambda x: x.sum(), pa.ones((2,)))
>>> g.digest().startswith("sha256:")
True
"""

from psionic.ir.graph import Graph, Node
from psionic.ir.interpret import evaluate
from psionic.ir.trace import trace

__all__ = ["Graph", "Node", "evaluate", "trace"]
