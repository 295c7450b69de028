"""The records a decoded Wasm module is made of (the profile's subset of the binary format).

Function indices count imports first, as in the binary format: ``funcs`` holds
the defined functions, whose index is ``len(imports) + position``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psionic.tassadar.opcodes import VALTYPE_NAME, OpInfo


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple[int, ...]
    results: tuple[int, ...]

    def __str__(self) -> str:
        p = " ".join(VALTYPE_NAME[t] for t in self.params)
        r = " ".join(VALTYPE_NAME[t] for t in self.results)
        return f"[{p}] -> [{r}]"


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    name: str
    type_index: int
    offset: int


@dataclass(frozen=True, slots=True)
class Instruction:
    """One decoded instruction: where it sits in the binary, what it is, its immediates."""

    offset: int
    op: OpInfo
    imm: tuple = ()


@dataclass(frozen=True, slots=True)
class Function:
    type_index: int
    locals: tuple[int, ...]  # declared locals, expanded (parameters not included)
    body: tuple[Instruction, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class Global:
    valtype: int
    mutable: bool
    init: int  # unsigned bits


@dataclass(frozen=True, slots=True)
class Limits:
    minimum: int
    maximum: int | None


@dataclass(frozen=True, slots=True)
class ElemSegment:
    offset: int
    funcs: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DataSegment:
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Export:
    name: str
    kind: str  # "func", "table", "memory", "global"
    index: int


@dataclass(frozen=True, slots=True)
class Module:
    types: tuple[FuncType, ...]
    imports: tuple[Import, ...]
    funcs: tuple[Function, ...]
    table: Limits | None
    memory: Limits | None
    globals: tuple[Global, ...]
    exports: tuple[Export, ...]
    start: int | None
    elems: tuple[ElemSegment, ...]
    datas: tuple[DataSegment, ...]
    names: dict[int, str] = field(default_factory=dict)  # from the "name" custom section

    def func_type(self, index: int) -> FuncType:
        """The type of function ``index`` (imports first)."""
        n = len(self.imports)
        if index < n:
            return self.types[self.imports[index].type_index]
        return self.types[self.funcs[index - n].type_index]

    @property
    def num_funcs(self) -> int:
        return len(self.imports) + len(self.funcs)

    def export(self, name: str, kind: str = "func") -> Export | None:
        for e in self.exports:
            if e.name == name and e.kind == kind:
                return e
        return None

    def func_name(self, index: int) -> str:
        for e in self.exports:
            if e.kind == "func" and e.index == index:
                return e.name
        if index < len(self.imports):
            imp = self.imports[index]
            return f"{imp.module}.{imp.name}"
        return self.names.get(index, f"func{index}")
