"""psionic.array: the eager Tensor, its autodiff tape and functional transforms.

>>> import psionic.array as pa
>>> x = pa.tensor([1.0, -2.0, 3.0], requires_grad=True)
>>> loss = (x.relu() ** 2).sum(); loss.backward()
>>> x.grad.tolist()
[2.0, 0.0, 6.0]
"""

from psionic.array import rules as _rules  # noqa: F401  (registers every op's gradient)
from psionic.array.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from psionic.array.backend import ArrayBackend, get_array_backend
from psionic.array.creation import (
    arange,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from psionic.array.tensor import Tensor, apply, as_dtype, concat, matmul, stack, where
from psionic.array.transforms import checkpoint, grad, jvp, value_and_grad, vjp
from psionic.core.dtypes import bfloat16, bool_, float16, float32, float64, int32, int64

__all__ = [
    "ArrayBackend", "Tensor", "apply", "arange", "as_dtype", "bfloat16", "bool_", "checkpoint",
    "concat", "enable_grad", "float16", "float32", "float64", "full", "get_array_backend", "grad",
    "int32", "int64", "is_grad_enabled", "jvp", "matmul", "no_grad", "ones", "ones_like", "rand",
    "randn", "set_grad_enabled", "stack", "tensor", "value_and_grad", "vjp", "where", "zeros",
    "zeros_like",
]
