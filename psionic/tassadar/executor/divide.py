"""Division and remainder (i32 and i64) as restoring long division, one scratch byte per token.

Trace ABI 4.3: a step ``div_*`` on ``N``-byte operands (``N`` = 4 or 8) emits
the bytes of ``Q = |x| div |y|`` most significant first as scratch tokens
``q..`` (``rem`` then those of ``R = |x| mod |y|``), then the result least
significant byte first, negated as ``(~X) + 1`` with addition's carry flags
when it is negative. Payload index ``s`` (1-based) of the step: ``Q_(N-s)``
for ``s = 1..N``, ``R_(2N-s)`` for ``s = N+1..2N``, result byte ``k`` at
``skip + 1 + k``, where ``skip`` (a record field) is ``N`` or ``2N`` and
``N = width - skip``.

Every scratch byte is ``floor(Y / D) = sum_(m=1..255) [Y - m D >= 0]`` with
``0 <= Y < 256 D``:

- quotient byte ``Q_t``: ``Y = |x| - |y| Qhigh``, ``D = |y| 256^t``, with
  ``Qhigh = sum_(i>t) Q_i 256^i`` read back from the scratch tokens already
  emitted;
- remainder byte ``R_t``: ``Y = |x| - |y| Q - Rhigh``, ``D = 256^t``.

An i64 dividend reaches ``2^64`` and ``m D`` ``2^72``: beyond float64's 53
exact bits. So every quantity is kept as base-256 digits, small exact
integers: the magnitudes' digits (a negative operand's are ``255 - v_k``,
plus 1 on digit 0: unnormalised, but exact), the digit products of
``|y| Qhigh`` and of ``D``. Split at digit 4, ``Y - m D = H_m 2^32 + L_m``
with ``H_m`` and ``L_m`` exact (``|L_m| < 2^43``). A first layer clamps
``H_m`` to ``[-C, C]`` (``C = 2^12``, so ``C 2^32 > |L_m|``: the clamp keeps
the sign of ``Y - m D``); the next one takes the 255 threshold steps of
``clamp(H_m) 2^32 + L_m``, now below ``2^46``. Where ``D >= 2^64`` (a digit
of ``|y|`` shifted to place 8 or beyond) the digit is counted as ``2^33``
in ``H``, which already makes every ``H_m`` fall below ``-C``.

Layers (the compiler calls one function per layer):

1. ``indicators``: phase indicators of ``j``, ``N`` and ``skip``, the digit ``t``;
2. ``operands``: heads reading the scratch bytes back two at a time (position ``mpos + s``
   for even ``s``: byte ``s`` and the previous token's, ``s - 1``) and
   the scratch byte a result byte copies (position ``mpos + 2 skip - j``); units:
   signs, the magnitudes' digits, the emitted quotient and remainder digits, the
   trap conditions;
3. ``columns``: digit products of ``|y| Qhigh`` and of ``D``, split at digit 4; the
   result's sign, the overflow test; the division-by-zero trap;
4. ``floor``: ``clamp(H_m)`` for ``m = 1..255``; the overflow trap;
5. ``last``: the scratch token ``q<sum_m [Y - m D >= 0]>``, or the result byte
   (copied or negated).

Cost: ``i32.div_*`` 9 tokens per step, ``i32.rem_*`` 13, ``i64.div_*`` 17,
``i64.rem_*`` 25.

>>> from psionic.tassadar.executor.compiler import build_circuit
>>> c = build_circuit()
>>> sum(h.name.startswith("div_") for layer in c.layers for h in layer.heads)
9
"""

from __future__ import annotations

import numpy as np

from psionic.tassadar import trace as tr
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.circuit import Circuit, Layer
from psionic.tassadar.executor.forms import add as _add
from psionic.tassadar.executor.forms import hat as _hat
from psionic.tassadar.executor.forms import scale as _scale
from psionic.tassadar.executor.forms import step

INPUTS = {"div_q": "the byte of a division scratch token q.."}
KINDS = ("div_u", "div_s", "rem_u", "rem_s")
WIDTHS = {"i32": 4, "i64": 8}  # operand bytes N
DIGITS = 8  # digits of the magnitudes (an i32's upper four are 0)
# scratch bytes read back: the quotient, then the remainder but its last byte (R_0 is read only
# as the source of a result byte)
SCRATCH = 2 * DIGITS - 1
SPLIT = 4  # digits below SPLIT form L, the others H (H counts units of 2^32)
CLAMP = float(1 << 12)  # C: C 2^32 > |L_m| (< 2^43)
BEYOND = float(1 << 33)  # H's count for a digit of D at place 8 or above: more than any Y's H
LIVE = float(1 << 47)  # larger than |H_m| (< 2^45) and |V'_m| (< 2^46); sums stay below 2^53
J = {"pos": 1.0, "mpos": -1.0}
N_FORM = {"f_width": 1.0, "f_skip": -1.0}  # N = width - skip on a division step
ON = {f"is_{k}": 1.0 for k in KINDS}  # 1 on a division step, 0 elsewhere (linear)
SIGNED = {"is_div_s": 1.0, "is_rem_s": 1.0}


def embed(e: np.ndarray, idx: dict[str, int]) -> None:
    """Scratch tokens carry their byte in ``div_q`` (and nothing else: they write nowhere)."""
    for v in range(256):
        e[tr.DIV_SCRATCH + v, idx["div_q"]] = v


def record(op_name: str, sp: int) -> dict[str, int]:
    """The record fields of a division: operands ``x`` (src_a), ``y`` (src_c)."""
    width, kind = op_name.split(".")
    n = WIDTHS[width]
    skip = n if kind.startswith("div") else 2 * n
    return {"width": skip + n, "kind": L.KIND[kind], "src_a": sp - 2, "src_c": sp - 1,
            "dst": sp - 2, "skip": skip}


def _wide(n: int) -> dict[str, float]:
    """0 when the step's operands have ``n`` bytes, 1 (i32) or -1 (i64) otherwise."""
    return {"div_w": 1.0} if n == 4 else {"div_w": -1.0, "one": 1.0}


def _placed(t: int) -> tuple[str, float]:
    """The feature and the place of digit ``t``: ``L`` (units of 1) or ``H`` (units of 2^32)."""
    return ("lo", float(256**t)) if t < SPLIT else ("hi", float(256 ** (t - SPLIT)))


def indicators(c: Circuit, lay: Layer) -> None:
    """Where the step is (scratch or result phase) and which digit the next scratch byte is."""
    c.feature("div_scr", "[j < skip]: a division's next token is a scratch byte")
    c.feature("div_res0", "[j == skip]: a division's next token is its first result byte")
    c.feature("div_w", "[width - skip == 8]: a division of i64 operands")
    neg_j = _scale(J, -1.0)
    step(lay, _add({"f_skip": 1.0}, neg_j), "div_scr", "div_scr = [skip - j >= 1]")
    _hat(lay, _add({"f_skip": -1.0}, J), {"div_res0": 1.0}, "div_res0 = [j == skip]")
    _hat(lay, _add(N_FORM, const=-8.0), {"div_w": 1.0}, "div_w = [width - skip == 8]")
    for s in range(1, SCRATCH + 2):
        c.feature(f"div_ge{s}", f"[j >= {s}]: scratch byte {s} has been emitted")
        step(lay, _add(J, const=1.0 - s), f"div_ge{s}", f"div_ge{s} = [j - {s} + 1 >= 1]")
    for t in range(DIGITS):
        c.feature(f"div_kq{t}", f"[j == N - 1 - {t}]: the next token is quotient byte Q_{t}")
        c.feature(f"div_kr{t}", f"[j == 2N - 1 - {t}]: the next token is remainder byte R_{t}")
        _hat(lay, _add(J, _scale(N_FORM, -1.0), const=1.0 + t), {f"div_kq{t}": 1.0},
             f"div_kq{t} = [j - N + 1 + {t} == 0]")
        # an i32 remainder has digits 0..3: j = 2N - 1 - t would fall in its quotient phase
        only_i64 = _add(_scale(N_FORM, -1024.0), const=8 * 1024.0) if t >= 4 else {}
        _hat(lay, _add(J, _scale(N_FORM, -2.0), only_i64, const=1.0 + t), {f"div_kr{t}": 1.0},
             f"div_kr{t} = [j - 2N + 1 + {t} == 0]" + (" and N == 8" if t >= 4 else ""))


def _magnitude(c: Circuit, lay: Layer, side: str, byte: str, sign: str, mag: str) -> None:
    """Digits of ``|v|`` for the operand with bytes ``byte0..``: ``v_k``, or where ``v`` is
    negative ``255 - v_k`` (plus 1 on digit 0), 0 off a division step."""
    c.feature(sign, f"[src_{side} < 0] for div_s/rem_s (0 for the unsigned ops)")
    signs = {}
    for width, n in WIDTHS.items():
        # [top byte >= 128] on a signed division of this width: 0 <= form otherwise
        signs[n] = _add({f"{byte}{n - 1}": 1.0}, _scale(SIGNED, 256.0),
                        _scale(_wide(n), -256.0), const=-127.0 - 256.0)
        step(lay, signs[n], sign, f"{sign} = [{byte}{n - 1} >= 128], signed {width}")
    for k in range(DIGITS):
        c.feature(f"{mag}{k}", f"digit {k} of |src_{side}| (unnormalised: up to 256)")
        gate = dict(ON) if k < 4 else _add(ON, {"div_w": 1.0}, const=-1.0)
        lay.unit(gate, {f"{byte}{k}": 1.0}, {f"{mag}{k}": 1.0},
                 f"{mag}{k} = {byte}{k} on a division step (i64 only for k >= 4)")
        for n in WIDTHS.values():
            if k < n:
                flipped = {"one": 255.0 + (k == 0), f"{byte}{k}": -2.0}
                step(lay, signs[n], f"{mag}{k}",
                     f"{mag}{k} += {sign} (255 - 2 {byte}{k}{' + 1' if k == 0 else ''}): "
                     f"|v| = 2^{8 * n} - v has digits 255 - v_k, plus 1 on digit 0", flipped)


def previous(c: Circuit) -> tuple[tuple[str, str], ...]:
    """What the previous-token head also reads: the scratch byte before each token, so that
    one head at an even payload token reads two scratch bytes."""
    c.feature("div_prevq", "div_q of the token before this one")
    return (("div_q", "div_prevq"),)


def _emitted(lay: Layer, s: int, width: dict[str, float], digit: str, doc: str) -> None:
    """``digit += scratch byte s`` once it is emitted (``j >= s``; 0 when ``width`` < 0).

    The head at ``mpos + 2r`` holds byte ``2r`` and, as the previous token's, byte ``2r - 1``;
    while ``j = 2r - 1`` it lands on the current token, whose own byte is ``2r - 1``."""
    gate = _add(width, const=-256.0)
    if s % 2 == 0:
        lay.unit(_add(gate, {f"div_q{s}": 1.0, f"div_ge{s}": 256.0}), {"one": 1.0}, {digit: 1.0},
                 doc)
        return
    lay.unit(_add(gate, {f"div_p{s + 1}": 1.0, f"div_ge{s + 1}": 256.0}), {"one": 1.0},
             {digit: 1.0}, doc + " (j > s: the previous token's byte at s + 1)")
    lay.unit(_add(gate, {f"div_q{s + 1}": 1.0, f"div_ge{s}": 256.0, f"div_ge{s + 1}": -256.0}),
             {"one": 1.0}, {digit: 1.0}, doc + " (j == s: the current token's byte)")


def operands(c: Circuit, lay: Layer) -> None:
    """The scratch bytes read back, magnitudes' digits, emitted digits, trap conditions."""
    key = ({"pos": 2.0}, {"pos2": -1.0})
    for s in range(2, SCRATCH + 2, 2):
        c.feature(f"div_q{s}", f"div_q at payload token {s} of the step")
        c.feature(f"div_p{s}", f"div_q at payload token {s - 1} (div_prevq at token {s})")
        lay.head(f"div_read{s}", ({"mpos": 1.0, "one": float(s)}, {"one": 1.0}), key,
                 (("div_q", f"div_q{s}"), ("div_prevq", f"div_p{s}")),
                 f"division: reads scratch bytes {s - 1} and {s} at position mpos + {s} (the "
                 "current token when it is not yet emitted; gated by div_ge)")
    c.feature("div_src", "the scratch byte that the next result byte copies")
    lay.head("div_source", ({"mpos": 2.0, "f_skip": 2.0, "pos": -1.0}, {"one": 1.0}), key,
             (("div_q", "div_src"),),
             "division: reads the scratch byte at position mpos + 2 skip - j, the byte of the "
             "result (Q_k or R_k) that result byte k = j - skip is made of")
    _magnitude(c, lay, "a", "a", "div_sa", "div_x")
    _magnitude(c, lay, "c", "c", "div_sc", "div_y")
    for t in range(DIGITS):
        c.feature(f"div_qd{t}", f"quotient digit Q_{t} once emitted (else 0)")
        if t:
            c.feature(f"div_rd{t}", f"remainder digit R_{t} once emitted (else 0)")
        for n in WIDTHS.values():
            for digit, s in ((f"div_qd{t}", n - t), (f"div_rd{t}", 2 * n - t)):
                if t < n and 1 <= s <= SCRATCH and (t or digit.startswith("div_qd")):
                    _emitted(lay, s, _scale(_wide(n), -256.0), digit,
                             f"{digit} = scratch byte {s} once emitted, {n}-byte operands")
    for feat, doc in (("div_dz", "[y == 0]"), ("div_amin", "[x == -2^(8N-1)]"),
                      ("div_cm1", "[y == -1]")):
        c.feature(feat, doc)
    far = float(1 << 20)  # pushes a hat's argument away from 0 for the other width
    for n in WIDTHS.values():
        other = _scale(_wide(n), far)
        _hat(lay, _add({f"c{k}": 1.0 for k in range(n)}, other), {"div_dz": 1.0},
             f"div_dz = [c0 + .. + c{n - 1} == 0] ({n}-byte operands)")
        _hat(lay, _add({f"a{k}": 1024.0 for k in range(n - 1)}, {f"a{n - 1}": 1.0}, other,
                       const=-128.0),
             {"div_amin": 1.0}, f"div_amin = [1024 (a0 + .. + a{n - 2}) + a{n - 1} - 128 == 0]")
        _hat(lay, _add({f"c{k}": -1.0 for k in range(n)}, other, const=255.0 * n),
             {"div_cm1": 1.0}, f"div_cm1 = [{255 * n} - (c0 + .. + c{n - 1}) == 0]")


def quotient(c: Circuit, columns: Layer, floor: Layer, last: Layer) -> None:
    """The digit products, the traps, clamp(H_m), and the scratch or result token."""
    g = L.GATE
    for feat, doc in (("div_plo", "digits 0..3 of |y| Qhigh (sum of digit products at place)"),
                      ("div_phi", "digits 4..7 of |y| Qhigh, in units of 2^32"),
                      ("div_dlo", "digits 0..3 of D"), ("div_dhi", "digits 4.. of D, in units "
                                                         "of 2^32 (2^33 for a digit at 8 or above)"),
                      ("div_neg", "the result is negative (div_s: signs differ; rem_s: x < 0)"),
                      ("div_ovf", "div_s of -2^(8N-1) by -1")):
        c.feature(feat, doc)
    for i in range(DIGITS):
        for j in range(DIGITS - i):
            part, place = _placed(i + j)
            columns.unit({f"div_qd{j}": 1.0}, {f"div_y{i}": 1.0}, {f"div_p{part}": place},
                         "|y| Qhigh: digit product |y|_i Q_j at place i + j (ReGLU)")
        for t in range(DIGITS):
            if i + t < DIGITS:
                part, place = _placed(i + t)
                columns.unit({f"div_kq{t}": 1.0}, {f"div_y{i}": 1.0}, {f"div_d{part}": place},
                             "D = |y| 256^t: digit |y|_i at place i + t in the quotient phase")
            else:
                step(columns, _add({f"div_y{i}": 1.0, f"div_kq{t}": 512.0}, const=-512.0), "div_dhi",
                     "D >= 2^64: a nonzero digit of |y| at place 8 or above counts 2^33 in H",
                     {"one": BEYOND})
    for t in range(DIGITS):
        part, place = _placed(t)
        columns.unit({f"div_kr{t}": 1.0}, ON, {f"div_d{part}": place},
                     "D = 256^t in the remainder phase")
    for form, doc in (({"div_sa": 1.0, "div_sc": -1.0, "is_div_s": 1.0, "one": -1.0}, "x < 0 <= y"),
                      ({"div_sc": 1.0, "div_sa": -1.0, "is_div_s": 1.0, "one": -1.0}, "y < 0 <= x"),
                      ({"div_sa": 1.0, "is_rem_s": 1.0, "one": -1.0}, "rem_s, x < 0")):
        columns.unit(form, {"one": 1.0}, {"div_neg": 1.0}, f"div_neg += [{doc}]")
    columns.unit({"div_amin": 1.0, "div_cm1": 1.0, "is_div_s": 1.0, "one": -2.0}, {"one": 1.0},
                 {"div_ovf": 1.0}, "div_ovf = div_s and x == INT_MIN and y == -1")
    dz_trap = float(tr.TRAP_ID["integer_divide_by_zero"])
    columns.unit({**{k: g for k in ON}, "div_dz": g, "first": g, "is_tgt": -g,
                  "one": dz_trap - 3 * g}, {"one": 1.0}, {"T": 1.0},
                 "division by zero: T = trap.integer_divide_by_zero as the first payload token")
    floor.unit({"div_ovf": g, "first": g, "is_tgt": -g,
                "one": float(tr.TRAP_ID["integer_overflow"]) - 2 * g}, {"one": 1.0}, {"T": 1.0},
               "div_s overflow: T = trap.integer_overflow as the first payload token")
    # Y - m D = H_m 2^32 + L_m, each a linear form of the digits
    y_hi = _add({f"div_x{k}": float(256 ** (k - SPLIT)) for k in range(SPLIT, DIGITS)},
                {f"div_rd{t}": -float(256 ** (t - SPLIT)) for t in range(SPLIT, DIGITS)},
                {"div_phi": -1.0})
    y_lo = _add({f"div_x{k}": float(256**k) for k in range(SPLIT)},
                {f"div_rd{t}": -float(256**t) for t in range(1, SPLIT)}, {"div_plo": -1.0})
    live = _add(_scale(ON, LIVE), {"div_scr": LIVE, "div_dz": -LIVE, "div_ovf": -LIVE,
                                   "is_tgt": -LIVE}, const=-2 * LIVE)  # 0 on a scratch token
    for m in range(1, 256):
        c.feature(f"div_h{m}", f"clamp(H_{m}, -C, C) + C on a scratch token (else 0)")
        h_m = _add(y_hi, {"div_dhi": -float(m)}, live)
        floor.unit(_add(h_m, const=CLAMP), {"one": 1.0}, {f"div_h{m}": 1.0},
                   "div_h_m = relu(H_m + C) - relu(H_m - C): H_m clamped to [-C, C], plus C "
                   "(H_m = high digits of Y - m D, units of 2^32)")
        floor.unit(_add(h_m, const=-CLAMP), {"one": 1.0}, {f"div_h{m}": -1.0},
                   "div_h_m = relu(H_m + C) - relu(H_m - C): H_m clamped to [-C, C], plus C "
                   "(H_m = high digits of Y - m D, units of 2^32)")
        v_m = _add({f"div_h{m}": float(1 << 32)}, y_lo, {"div_dlo": -float(m)}, live,
                   const=-CLAMP * float(1 << 32))
        step(last, _add(v_m, const=1.0), "T",
             "scratch byte: T += [clamp(H_m) 2^32 + L_m >= 0] = [Y >= m D], m = 1..255")
    scratch = {**{k: g for k in ON}, "div_scr": g, "div_dz": -g, "div_ovf": -g, "is_tgt": -g,
               "one": float(tr.DIV_SCRATCH) - 2 * g}
    last.unit(scratch, {"one": 1.0}, {"T": 1.0},
              "division, j < skip: T = q<floor(Y / D)> (the scratch block's base)")
    result = {**{k: g for k in ON}, "div_scr": -g, "at_end": -g, "is_tgt": -g, "one": -g}
    last.unit({"div_src": 1.0, **result, "div_neg": -g}, {"one": 1.0}, {"T": 1.0},
              "division result byte k: T = byte k of Q or R")
    last.unit({"div_src": -1.0, "flag": 1.0, "div_res0": 1.0, **result, "div_neg": g,
               "one": result["one"] + 255.0 - g}, {"one": 1.0}, {"T": 1.0},
              "negative result byte k: T = 255 - X_k + carry-in (c.. when it carries out)")
