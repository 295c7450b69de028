"""Which exported function a run starts from: ``run`` by default, else a parameterless ``main``.

Shared by every decode mode, so that choosing the entry needs no interpreter.

>>> from psionic.tassadar.ingress import load_wat
>>> m = load_wat('(module (func (export "main")))').program.module
>>> resolve_entry(m, None)
0
"""

from __future__ import annotations

from psionic.core.errors import InvalidInput
from psionic.tassadar.module import Module


def resolve_entry(module: Module, entry: str | None) -> int:
    """The function index of export ``entry``; by default ``run``, else a parameterless ``main``."""
    if entry is None:
        main = module.export("main")
        if module.export("run"):
            entry = "run"
        elif main is not None and not module.func_type(main.index).params:
            entry = "main"
        else:
            names = sorted(e.name for e in module.exports if e.kind == "func")
            raise InvalidInput(
                f"no entry: the program exports no 'run' (nor a parameterless 'main'); "
                f"its function exports are {names}"
            )
    export = module.export(entry)
    if export is None:
        names = sorted(e.name for e in module.exports if e.kind == "func")
        raise InvalidInput(f"no exported function {entry!r}; exports are {names}")
    return export.index
