"""The hull's hard-max answers equal a brute-force scan, ties to the lowest position included."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from psionic.tassadar.hull import Hull, UpperChain, brute_force, hull_of

SMALL = st.integers(-6, 6)
HUGE = st.integers(-(1 << 53), 1 << 53)
WIDE = st.integers(-(1 << 70), 1 << 70)  # past int64 products: Python ints stay exact


def _queries(coord: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[int, int]]:
    # q_y > 0, < 0 and == 0 all drawn often
    return st.tuples(coord, st.one_of(coord, st.just(0), st.just(1), st.just(-1)))


def _check(keys: list[tuple[int, int]], queries: list[tuple[int, int]]) -> None:
    h = Hull()
    for t, k in enumerate(keys):
        h.insert(t, k)
        for q in queries:  # after every insertion, not only at the end
            assert h.query(q) == brute_force(keys[: t + 1], q), (keys[: t + 1], q)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(SMALL, SMALL), max_size=40), st.lists(_queries(SMALL), min_size=1, max_size=8))
def test_small_grid_with_duplicates_and_collinear_runs(keys, queries) -> None:
    _check(keys, queries)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(HUGE, HUGE), max_size=30), st.lists(_queries(HUGE), min_size=1, max_size=6))
def test_huge_coordinates(keys, queries) -> None:
    _check(keys, queries)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(WIDE, WIDE), max_size=25), st.lists(_queries(WIDE), min_size=1, max_size=6))
def test_coordinates_past_int64(keys, queries) -> None:
    _check(keys, queries)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-50, 50)), max_size=40),
       st.lists(_queries(st.integers(-4, 4)), min_size=1, max_size=6))
def test_same_x_stacks(keys, queries) -> None:
    _check(keys, queries)


@settings(max_examples=200, deadline=None)
@given(st.integers(-5, 5), st.integers(-5, 5), st.integers(-4, 4), st.integers(-4, 4),
       st.lists(st.integers(-8, 8), max_size=30),
       st.lists(_queries(st.integers(-6, 6)), min_size=1, max_size=6))
def test_points_on_one_line(ox, oy, dx, dy, steps, queries) -> None:
    # every key on the line o + s d, in any order and with repeats: one long collinear run
    _check([(ox + s * dx, oy + s * dy) for s in steps], queries)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 3)), max_size=40),
       st.lists(st.integers(0, 30), min_size=1, max_size=5))
def test_latest_write_to_address(writes, asks) -> None:
    # the executor's pattern: key (2 M a, -M a^2 + t), query (M q, M)... plus noise in y
    m = 1 << 24
    keys = [(2 * m * a, -m * a * a + 4 * t + noise) for t, (a, noise) in enumerate(writes)]
    _check(keys, [(m * a, m) for a in asks])


def test_positions_out_of_order_keep_the_lowest_among_ties() -> None:
    h = Hull()
    for seq, key in ((5, (0, 0)), (3, (2, 0)), (1, (1, 0)), (4, (1, 0)), (0, (1, -1))):
        h.insert(seq, key)
    assert h.query((0, 1)) == 1  # (0,0), (1,0), (2,0) tie; position 1 is the lowest
    assert h.query((0, -1)) == 0
    assert h.query((1, 0)) == 3 and h.query((-1, 0)) == 5 and h.query((0, 0)) == 0


def test_rational_keys_and_queries() -> None:
    keys = [(Fraction(1, 3), Fraction(2, 7)), (Fraction(2, 3), Fraction(-1, 5)), (0, 1)]
    h = hull_of(keys)
    for q in ((Fraction(1, 2), 1), (1, Fraction(-1, 9)), (-1, 0), (3, Fraction(1, 1000))):
        assert h.query(q) == brute_force(keys, q)


def test_parabola_keeps_every_point_and_stack_keeps_one() -> None:
    # positional keys (2p, -p^2) are all on the upper hull; same-x writes keep only the newest
    chain = UpperChain()
    for p in range(100):
        chain.insert(p, 2 * p, -p * p)
    assert len(chain) == 100
    stack = UpperChain()
    for p in range(100):
        stack.insert(p, 7, p)
    assert len(stack) == 1 and stack.seqs == [99]


def test_matches_numpy_argmax_on_random_floats_of_integers() -> None:
    rng = np.random.default_rng(0)
    keys = rng.integers(-1000, 1000, size=(500, 2))
    h = hull_of([(int(x), int(y)) for x, y in keys])
    for q in rng.integers(-50, 50, size=(200, 2)):
        scores = keys.astype(np.float64) @ q.astype(np.float64)
        assert h.query((int(q[0]), int(q[1]))) == int(np.argmax(scores))


def test_empty() -> None:
    assert Hull().query((1, 1)) is None and Hull().query((0, 0)) is None
