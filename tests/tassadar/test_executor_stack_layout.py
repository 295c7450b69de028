"""The stack header: recency scale, centre and frame range of the stack keys, per run."""

from __future__ import annotations

import pytest

from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor import stack_layout as SL
from psionic.tassadar.executor.model import Model
from psionic.tassadar.ingress import load_wat

from .exactness import largest_key, without_head
from .test_executor_frames import wide_frames

BIG = 1 << 30  # positions wanted: more than any cap


def _half(layout: SL.StackLayout) -> int:
    top = 8 * (L.FRAME_ORIGIN + layout.slots)
    return max(layout.centre - SL.LOW, top - 1 - layout.centre)


@pytest.mark.parametrize("reach", [1, 999, 3_688, 3_689, 7_784, 10_004, 15_000, 32_768, 40_000,
                                   10 ** 7])
@pytest.mark.parametrize("cap", [1 << 18, 1 << 22, 1 << 24])
def test_every_layout_keeps_the_scores_exact_and_the_header_numbers_small(reach: int,
                                                                         cap: int) -> None:
    layout = SL.fit(reach, cap, BIG)
    half = _half(layout)
    assert layout.scale * half * half <= 1 << 52  # every score that can win is exact
    assert L.STACK_SCALE_UNIT <= layout.scale <= cap and layout.scale & (layout.scale - 1) == 0
    assert all(0 <= v < L.NUM_LIMIT for v in layout.header)
    assert layout.centre % L.STACK_CENTER_UNIT == 0 and layout.slots <= min(reach, SL.MAX_FRAME_SLOTS)


def test_the_whole_reach_is_covered_where_it_leaves_enough_positions() -> None:
    # 10,004 slots: the largest exact scale is 2^21, the whole reach
    layout = SL.fit(10_004, 1 << 24, BIG)
    assert (layout.scale, layout.slots) == (1 << 21, 10_004)
    assert layout.scale * _half(layout) ** 2 <= 1 << 52 < 2 * layout.scale * _half(layout) ** 2
    # 15,000 slots leave 2^20 positions: positions first, and the range 2^24 leaves
    assert (SL.fit(15_000, 1 << 24, BIG).scale, SL.fit(15_000, 1 << 24, BIG).slots) == (
        1 << 24, 3_688)
    # ... unless the step bound wants no more than 2^20 positions
    assert (SL.fit(15_000, 1 << 24, 1 << 20).scale, SL.fit(15_000, 1 << 24, 1 << 20).slots) == (
        1 << 20, 15_000)
    # a smaller cap (the memory keys' 2^22 positions) leaves more slots
    assert SL.fit(10 ** 7, 1 << 22, BIG).slots == 7_784


def test_centred_stack_addresses_keep_every_key_in_the_exact_range(monkeypatch) -> None:
    # 40 frames of 41 slots under S = 2^24: the top bytes lie past 8 * 3,040, where the
    # uncentred key S a^2 passes 2^53
    program, model = load_wat(wide_frames(40)), Model.load()
    out, largest = largest_key(monkeypatch, program, [40], model)
    assert out.result == (0,) and largest <= 2.0**53
    _, largest = largest_key(monkeypatch, program, [40], without_head(model, "header_st_center"))
    assert largest > 2.0**53
