"""The workload corpus: hand-written WAT programs and C programs, each with its run inputs.

Every workload is registered once under a unique name with the file it runs,
its entry, arguments and input list. ``slow`` marks the long runs (a reference
run of more than a few seconds, or a decode of minutes), which the corpus
loops of the default tests and the article's corpus table leave out.
Expected answers are not stored here: the differential tests take them from
wasmtime.

>>> get("fib_c").entry
'run'
>>> len([w for w in WORKLOADS.values() if w.language == "wat"]) >= 30
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psionic.core.errors import InvalidInput

ROOT = Path(__file__).parent

INKALA_HARDEST = (
    "800000000003600000070090200050007000000045700000100030001000068008500010090000400"
)
EASY_SUDOKU = (
    "530070000600195000098000060800060003400803001700020006060000280000419005000080079"
)


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    file: str  # relative to this package
    args: tuple[int, ...] = ()
    inputs: tuple[int, ...] = ()
    entry: str = "run"
    slow: bool = False
    note: str = ""

    @property
    def path(self) -> Path:
        return ROOT / self.file

    @property
    def language(self) -> str:
        return Path(self.file).suffix.lstrip(".")


WORKLOADS: dict[str, Workload] = {}


def register(w: Workload) -> Workload:
    if w.name in WORKLOADS:
        raise ValueError(f"workload {w.name!r} registered twice")
    WORKLOADS[w.name] = w
    return w


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise InvalidInput(f"no workload {name!r}; known: {sorted(WORKLOADS)}") from None


def sudoku_cells(puzzle: str) -> tuple[int, ...]:
    return tuple(int(c) for c in puzzle)


def hungarian_instance(n: int = 10, seed: int = 20260326) -> tuple[int, ...]:
    """``n`` then an ``n*n`` cost matrix (values 1..999) from a 32-bit LCG."""
    x = seed
    costs = []
    for _ in range(n * n):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        costs.append((x >> 8) % 999 + 1)
    return (n, *costs)


def _wat(name: str, *args: int, inputs: tuple[int, ...] = (), slow: bool = False) -> None:
    register(Workload(name, f"wat/{name}.wat", tuple(args), tuple(inputs), slow=slow))


def _c(name: str, *args: int, inputs: tuple[int, ...] = (), slow: bool = False,
       note: str = "") -> None:
    register(Workload(f"{name}_c", f"c/{name}.c", tuple(args), tuple(inputs), slow=slow,
                      note=note))


# --- hand-written WAT ---------------------------------------------------------------
_wat("const_arith", 123456789, -987654321)
_wat("straight_rounds_i32", 1, 2)
_wat("straight_rounds_i64", -1234567890123, 98765432109)
_wat("i64_arith", -1234567890123, 98765432109)
_wat("bit_counts", 0x00F0_0100)
_wat("compare_all", -5, 7)
_wat("wrap_extend", 0x0123_4567_89AB_CDEF)
_wat("select_minmax", 9, -4, 17)
_wat("sum_loop", 1000)
_wat("factorial_i64", 25)
_wat("nested_loops", 60)
_wat("fib_iter", 90)
_wat("memory_sum", 300)
_wat("memory_widths", -0x0123_4567_89AB_CDEF)
_wat("data_checksum")
_wat("memory_grow")
_wat("globals_counter", 500)
_wat("call_chain", 1234567)
_wat("recursive_factorial", 12)
_wat("ackermann", 2, 30)
_wat("mutual_recursion", 301)
_wat("call_indirect_ops", 200)
_wat("br_table_switch", 50)
_wat("br_table_values")
_wat("collatz_state", 27)
_wat("block_results", 3)
_wat("function_label_branches", 5)
_wat("if_else_classify", 40)
_wat("start_function")
_wat("io_transform", inputs=(3, -4, 100000, 7, 0, 99))
_wat("io_prefix_sums", inputs=(6, 10, -20, 30, 2147483647, 5, 1))
_wat("signed_division", -2147483647, -7)
_wat("shifts_wide", -123456, 37)
_wat("tee_drop_nop", 200)
_wat("trap_unreachable", 4)
_wat("trap_div_zero", 5)
_wat("trap_overflow", -2147483648, -1)
_wat("trap_oob", 65532)
_wat("trap_indirect", 1)
register(Workload("trap_indirect_null", "wat/trap_indirect.wat", (3,)))
register(Workload("trap_indirect_oob", "wat/trap_indirect.wat", (9,)))
_wat("trap_input", inputs=(1, 2, 3))
_wat("trap_deep_recursion")

# --- C (clang-16 -O2 for wasm32) -------------------------------------------------------
_c("fib", 20)
_c("collatz", 300)
_c("gcd", 40)
_c("sieve", 5000)
_c("bubble_sort", inputs=(20, 5, -3, 99, 0, 12, 12, -50, 7, 1000, 3, -1, 8, 42, 6, 6, 2, -9, 77, 13, 4))
_c("insertion_sort", 200)
_c("matmul", 12)
_c("strings")
_c("quicksort", 600)
_c("binary_search", 200)
_c("crc32", 1000)
_c("nqueens", 6)
_c("knapsack", 30)
_c("lcs", 60)
_c("powmod", 1000000)
_c("hanoi", 10)
_c("isqrt", 100)
_c("bigfact", 60)
_c("bit_tricks", 500)
_c("bytecode_vm", 100)
_c("func_pointers", 300)
_c("sudoku", inputs=sudoku_cells(EASY_SUDOKU), note="an easy instance")
_c("hungarian", inputs=hungarian_instance(), note="10x10, costs from an LCG")
register(Workload(
    "sudoku_inkala_c", "c/sudoku.c", inputs=sudoku_cells(INKALA_HARDEST), slow=True,
    note="Arto Inkala's 'hardest' Sudoku",
))
