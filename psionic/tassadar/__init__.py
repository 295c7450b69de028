"""Tassadar: WebAssembly programs executed exactly, with a trace a transformer can emit.

This package holds the ingress (``.wasm``, ``.wat``, ``.c``), the decoder and
validator for the profile ``tassadar.wasm.int.v1``, the reference interpreter,
the trace ABI ``tassadar.trace.v3`` (docs/TASSADAR_TRACE_ABI.md), the workload
corpus and the reference benchmark.

>>> from psionic.tassadar.ingress import load_wat
>>> from psionic.tassadar.run import run_program
>>> run_program(load_wat('(module (func (export "run") (result i32) i32.const 9))')).result
(9,)
"""

from psionic.tassadar.opcodes import PROFILE
from psionic.tassadar.trace import ABI

__all__ = ["ABI", "PROFILE"]
