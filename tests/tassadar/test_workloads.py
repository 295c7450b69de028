"""The corpus against wasmtime: result, outputs, trap kind and final memory, workload by workload."""

from __future__ import annotations

import itertools

import pytest

from psionic.core.digest import digest_bytes
from psionic.tassadar.entry import resolve_entry
from psionic.tassadar.executor.prompt import lay_out
from psionic.tassadar.ingress import load
from psionic.tassadar.interpreter import Limits, Machine
from psionic.tassadar.workloads import (
    EASY_SUDOKU,
    INKALA_HARDEST,
    WORKLOADS,
    Workload,
    get,
    hungarian_instance,
    sudoku_cells,
)

from .markers import needs_clang
from .oracle import run_wasmtime


def _params(slow: bool) -> list:
    out = []
    for w in WORKLOADS.values():
        if w.slow != slow:
            continue
        marks = [needs_clang] if w.language == "c" else []
        if slow:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(w, id=w.name, marks=marks))
    return out


def _agree(w: Workload) -> None:
    program = load(w.path)
    ours = Machine(program.program, w.inputs).run(w.entry, w.args)
    theirs = run_wasmtime(program.wasm, w.entry, w.args, w.inputs)
    assert ours.trap == theirs.trap
    assert ours.result == theirs.result
    assert ours.outputs == theirs.outputs
    if theirs.memory_digest is not None:
        assert digest_bytes(ours.memory) == theirs.memory_digest


@pytest.mark.parametrize("workload", _params(slow=False))
def test_workload_agrees_with_wasmtime(workload: Workload) -> None:
    _agree(workload)


@pytest.mark.parametrize("workload", _params(slow=True))
def test_slow_workload_agrees_with_wasmtime(workload: Workload) -> None:
    _agree(workload)


def test_corpus_has_the_promised_size_and_coverage() -> None:
    wat = [w for w in WORKLOADS.values() if w.language == "wat"]
    c_files = {w.file for w in WORKLOADS.values() if w.language == "c"}
    assert len({w.file for w in wat}) >= 30
    assert len(c_files) >= 20
    for kind in ("loop", "memory", "call", "recursi", "br_table", "trap"):
        assert any(kind in w.name or kind in w.path.read_text() for w in wat), kind
    traps = {w.name for w in wat if w.name.startswith("trap_")}
    assert len(traps) >= 6


def _check_sudoku(puzzle: str, grid: tuple[int, ...]) -> None:
    assert len(grid) == 81
    for i, c in enumerate(puzzle):
        assert c == "0" or int(c) == grid[i]
    groups = itertools.chain(
        ([r * 9 + c for c in range(9)] for r in range(9)),
        ([r * 9 + c for r in range(9)] for c in range(9)),
        ([(br + r) * 9 + bc + c for r in range(3) for c in range(3)]
         for br in (0, 3, 6) for bc in (0, 3, 6)),
    )
    for group in groups:
        assert sorted(grid[i] for i in group) == list(range(1, 10))


@needs_clang
def test_sudoku_solution_is_a_valid_grid() -> None:
    w = get("sudoku_c")
    out = Machine(load(w.path).program, w.inputs).run()
    assert out.trap is None and out.result[0] >= 0
    _check_sudoku(EASY_SUDOKU, out.outputs)


INKALA_SOLUTION = (
    "812753649943682175675491283154237896369845721287169534521974368438526917796318452"
)


@needs_clang
def test_inkala_sudoku_is_solved_within_the_executors_position_bound() -> None:
    w = get("sudoku_inkala_c")
    assert w.inputs == sudoku_cells(INKALA_HARDEST)
    program = load(w.path)
    out = Machine(program.program, w.inputs).run()
    assert out.trap is None and out.result[0] > 0  # it guessed
    _check_sudoku(INKALA_HARDEST, out.outputs)
    assert "".join(map(str, out.outputs)) == INKALA_SOLUTION
    # prompt and trace fit the positions the memory keys order exactly: it can decode in full
    prompt = lay_out(program.program, resolve_entry(program.program.module, "run"), [],
                     Limits().max_steps, None, list(w.inputs))
    assert len(prompt.tokens) + len(out.tokens) <= prompt.position_bound == 1 << 22


@needs_clang
def test_sudoku_without_a_solution_says_so() -> None:
    cells = [0] * 81
    cells[:8] = range(1, 9)  # the first row lacks only 9 ...
    cells[9 + 8] = 9  # ... which the last column has already
    out = Machine(load(get("sudoku_c").path).program, cells).run()
    assert out.result == (-2,) and out.outputs == ()
    cells[3] = 10
    assert Machine(load(get("sudoku_c").path).program, cells).run().result == (-1,)


@needs_clang
def test_sudoku_refuses_inconsistent_givens() -> None:
    cells = list(sudoku_cells(EASY_SUDOKU))
    cells[1] = 5  # a second 5 in the first row
    out = Machine(load(get("sudoku_c").path).program, cells).run()
    assert out.result == (-1,)


def _min_cost(n: int, costs: list[int]) -> int:
    """Exact minimum-cost perfect matching by dynamic programming over column subsets."""
    best = {0: 0}
    for row in range(n):
        nxt: dict[int, int] = {}
        for used, cost in best.items():
            for col in range(n):
                if not used >> col & 1:
                    key = used | 1 << col
                    value = cost + costs[row * n + col]
                    if value < nxt.get(key, 1 << 60):
                        nxt[key] = value
        best = nxt
    return best[(1 << n) - 1]


@needs_clang
def test_hungarian_finds_the_minimum_cost_matching() -> None:
    w = get("hungarian_c")
    n, *costs = hungarian_instance()
    out = Machine(load(w.path).program, w.inputs).run()
    assert out.trap is None
    assignment = out.outputs
    assert sorted(assignment) == list(range(n))
    total = sum(costs[r * n + c] for r, c in enumerate(assignment))
    assert out.result == (total,) == (_min_cost(n, costs),)
