"""The numba hull kernels give the Python reference's answers (and brute force's) exactly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from psionic.tassadar import hull_kernels as K
from psionic.tassadar.executor.attention import HeadId, LinearAttention
from psionic.tassadar.executor.hull_attention import ExactHullAttention, HullAttention
from psionic.tassadar.hull import brute_force

BIG = 1 << 53


@settings(max_examples=300, deadline=None)
@given(st.integers(-(1 << 61), 1 << 61), st.integers(-(1 << 61), 1 << 61),
       st.integers(-(1 << 61), 1 << 61), st.integers(-(1 << 61), 1 << 61))
def test_sign_dot_is_exact_past_int64_products(a, b, c, d) -> None:
    want = a * b + c * d
    assert K.sign_dot(a, b, c, d) == (want > 0) - (want < 0)


def test_sign_dot_cancellation_near_the_limit() -> None:
    a = (1 << 61) - 1
    for b, c, d in ((1 << 60, -(1 << 60), a), (3, -1, 3 * a), ((1 << 61) - 3, -((1 << 61) - 3), a)):
        want = a * b + c * d
        assert K.sign_dot(a, b, c, d) == (want > 0) - (want < 0)


def _replay(keys: list[list[tuple[int, int]]], queries: list[list[tuple[float, float]]]) -> None:
    heads = tuple(HeadId(0, h, f"h{h}") for h in range(len(keys[0])))
    fast, exact = HullAttention(heads, 4), ExactHullAttention(heads, 4)
    for t, row in enumerate(keys):
        arr = np.array(row, dtype=np.float64)
        fast.insert(t, arr)
        exact.insert(t, arr)
        for q in queries:
            qa = np.array(q, dtype=np.float64)
            got = fast.query(qa).tolist()
            assert got == exact.query(qa).tolist()
            assert got == [brute_force([keys[s][h] for s in range(t + 1)], q[h])
                           for h in range(len(heads))]
    assert fast.exact is None  # everything stayed on the int64 path


def _rows(coord: st.SearchStrategy[int], heads: int = 2) -> st.SearchStrategy:
    return st.lists(st.lists(st.tuples(coord, coord), min_size=heads, max_size=heads),
                    min_size=1, max_size=30)


def _qrows(coord: st.SearchStrategy[int], heads: int = 2) -> st.SearchStrategy:
    q = st.tuples(coord, st.one_of(coord, st.just(0), st.just(1), st.just(-1)))
    return st.lists(st.lists(q, min_size=heads, max_size=heads), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(_rows(st.integers(-5, 5)), _qrows(st.integers(-5, 5)))
def test_small_grid_duplicates_collinear_stacks(keys, queries) -> None:
    _replay(keys, queries)


@settings(max_examples=200, deadline=None)
@given(_rows(st.integers(-BIG, BIG)), _qrows(st.integers(-(1 << 40), 1 << 40)))
def test_huge_coordinates(keys, queries) -> None:
    _replay(keys, queries)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-BIG // 8, BIG // 8), min_size=1, max_size=20),
       st.integers(-3, 3), st.integers(-3, 3), _qrows(st.integers(-4, 4), 1))
def test_collinear_runs_of_huge_points(steps, dx, dy, queries) -> None:
    _replay([[(s * dx, s * dy)] for s in steps], queries)


def test_dyadic_queries_scale_exactly() -> None:
    # n = (t + 1) * mean is a float a hair off an integer; the hull must not round it
    keys = [[(2 * p, -p * p)] for p in range(40)]
    queries = [[(17 + 2.0 ** -40, 1.0)], [(17 - 2.0 ** -40, 1.0)], [(16.5, 1.0)], [(3.25, -0.5)]]
    _replay(keys, queries)


def test_out_of_range_switches_to_the_exact_hull() -> None:
    heads = (HeadId(0, 0, "h"),)
    fast, lin = HullAttention(heads, 8), LinearAttention(heads, 8)
    for t, key in enumerate([(1.0, 2.0), (2.0 ** 60, 1.0), (0.5, 3.0), (-4.0, 0.0)]):
        fast.insert(t, np.array([key]))
        lin.insert(t, np.array([key]))
    assert fast.exact is not None
    for q in ((1.0, 0.0), (-1.0, 1.0), (0.0, 1.0), (0.0, -1.0), (1e-300, 1.0)):
        assert fast.query(np.array([q])).tolist() == lin.query(np.array([q])).tolist()


def test_capacity_grows_past_the_first_block() -> None:
    heads = (HeadId(0, 0, "parabola"), HeadId(0, 1, "stack"))
    fast = HullAttention(heads, 1 << 20)
    n = 3000
    for p in range(n):
        fast.insert(p, np.array([[2.0 * p, -float(p) * p], [5.0, float(p)]]))
    assert fast.xs.shape[1] >= n and fast.lens[0] == n and fast.lens[2] == 1
    for a in (0, 1234, n - 1):
        assert fast.query(np.array([[float(a), 1.0], [0.0, 1.0]])).tolist() == [a, n - 1]
    assert fast.dot_products < 2 * 3 * 14  # logarithmic, not n


@settings(max_examples=200, deadline=None)
@given(_rows(st.integers(-6, 6), heads=1), st.integers(-8, 8), st.integers(1, 4),
       st.lists(st.integers(-3, 40), min_size=1, max_size=6))
def test_search_from_any_hint_gives_the_bisection_answer(keys, qx, qy, hints) -> None:
    xs, ys, sq = (np.zeros(len(keys) + 1, dtype=np.int64) for _ in range(3))
    n = 0
    for t, ((x, y),) in enumerate(keys):
        n = K.chain_insert(xs, ys, sq, n, t, x, y)
    counts = np.zeros(1, dtype=np.int64)
    want = K.chain_query(xs, ys, sq, n, qx, qy, counts)
    assert want == brute_force([k for (k,) in keys], (qx, qy))
    for hint in hints:
        got, index = K.chain_query_near(xs, ys, sq, 0, n, qx, qy, hint, counts)
        assert got == want and 0 <= index < max(n, 1)
        # searching again from the returned index costs at most a few comparisons
        before = int(counts[0])
        assert K.chain_query_near(xs, ys, sq, 0, n, qx, qy, index, counts)[0] == want
        assert int(counts[0]) - before <= 4 + (n - index)
