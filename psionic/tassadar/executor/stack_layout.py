"""The stack header: the recency scale, centre and frame range of the stack keys of one run.

The stack heads (``compiler.py``) find the latest write to a stack byte ``a``
with the key ``(2 S a', -S a'^2 + pos)``, ``a' = a - c``: the score
``S (q'^2 - (a' - q')^2) + pos`` of a query ``q'`` is largest at ``a = q``,
newest first, as long as ``S`` exceeds every position and every score that
can win is an exact float64 integer (``S a'^2 <= 2^52``). ``S`` and the
stack's reach share 52 bits, so the prompt picks them per run, as it does
for linear memory (``memory_layout.py``):

- the stack bytes a run can touch lie from the sink (slot 999) and the
  globals (slots 1000..1399) up to the top of its deepest frame (frames start
  at slot ``L.FRAME_ORIGIN``); ``reach`` is how many frame slots that is:
  the longest chain of frames when no function can reach itself, else the
  call-depth bound times the largest frame step plus the largest frame;
- *the whole reach*: when the largest ``S`` that keeps that reach exact still
  leaves the run ``MIN_POSITIONS`` positions (or all its step bound can use),
  the header carries that ``S`` and the reach: no call can pass the range;
- *positions first* otherwise (a recursive program whose bound times its
  frame step cannot be exact with that many positions): ``S`` is the smallest
  power of two that holds every position the step bound allows (at most
  ``L.MAX_POSITION``, or the memory keys' bound), and the frame range is
  whatever ``S`` leaves; a call past it ends the decode with a refusal
  (``call_records.check_capacity``), as before.

The centre ``c`` is the middle of the byte range, so ``|a'|`` is half of it.
The run may use ``S`` positions (``prompt.py`` bounds the decode by them).

>>> fit(10_004, 1 << 24, 1 << 30).scale, fit(10_004, 1 << 24, 1 << 30).slots
(2097152, 10004)
>>> fit(100_000, 1 << 24, 1 << 30).scale, fit(100_000, 1 << 24, 1 << 30).slots
(16777216, 3688)
"""

from __future__ import annotations

from dataclasses import dataclass

from psionic.tassadar.executor import layout as L

SCORE_BITS = 52
MIN_POSITIONS = 1 << 21  # the whole reach is covered when this leaves the run that many positions
MAX_FRAME_SLOTS = 1 << 15  # the centre / 64 stays a header number; the padding for the frame
# base's rounding (FRAME_SLOTS / FP_SNAP positions) stays short
LOW = 8 * L.SINK_SLOT  # the lowest stack byte a run writes (the sink)


@dataclass(frozen=True, slots=True)
class StackLayout:
    scale: int  # S: a power of two, STACK_SCALE_UNIT <= S <= MAX_POSITION
    slots: int  # frame slots the run may use (above FRAME_ORIGIN)
    centre: int  # c, a multiple of STACK_CENTER_UNIT

    @property
    def header(self) -> tuple[int, ...]:
        return (self.scale // L.STACK_SCALE_UNIT, self.centre // L.STACK_CENTER_UNIT,
                self.slots % L.NUM_LIMIT, self.slots // L.NUM_LIMIT)


def _half(slots: int) -> int:
    """The largest ``|a - c|`` over the stack bytes of ``slots`` frame slots (centred range)."""
    top = 8 * (L.FRAME_ORIGIN + slots)  # one past the highest byte
    centre = _centre(slots)
    return max(centre - LOW, top - 1 - centre)


def _centre(slots: int) -> int:
    top = 8 * (L.FRAME_ORIGIN + slots)
    unit = L.STACK_CENTER_UNIT
    return (LOW + top) // 2 // unit * unit


def _exact(scale: int, slots: int) -> bool:
    half = _half(slots)
    return scale * half * half <= 1 << SCORE_BITS


def _largest_scale(slots: int, cap: int) -> int:
    s = cap
    while s > L.STACK_SCALE_UNIT and not _exact(s, slots):
        s //= 2
    return s


def _largest_slots(scale: int) -> int:
    lo, hi = 0, 1
    while _exact(scale, hi):
        hi *= 2
    while hi - lo > 1:  # _exact(scale, lo) and not _exact(scale, hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _exact(scale, mid) else (lo, mid)
    return lo


def fit(reach: int, cap: int, positions: int) -> StackLayout:
    """``S``, the frame range and the centre for a run that can reach ``reach`` frame slots,
    may use at most ``cap`` positions (a power of two) and wants ``positions`` of them."""
    whole = _largest_scale(reach, cap)
    if reach <= MAX_FRAME_SLOTS and _exact(whole, reach) \
            and whole >= min(MIN_POSITIONS, positions, cap):
        return StackLayout(whole, reach, _centre(reach))
    scale = L.STACK_SCALE_UNIT
    while scale < min(positions, cap):
        scale *= 2
    slots = min(reach, MAX_FRAME_SLOTS, _largest_slots(scale))
    return StackLayout(scale, slots, _centre(slots))
