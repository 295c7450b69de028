"""i32 division and remainder as restoring long division, one scratch byte per token.

Trace ABI 4.3: a step ``i32.div_*`` emits the bytes of ``Q = |x| div |y|``
most significant first as scratch tokens ``q..`` (``rem`` then those of
``R = |x| mod |y|``), then the result least significant byte first, negated
as ``(~X) + 1`` with addition's carry flags when it is negative. Payload
index ``s`` (1-based) of the step: ``Q_(4-s)`` for ``s = 1..4``, ``R_(8-s)``
for ``s = 5..8`` (remainders), result byte ``k`` at ``skip + 1 + k``, where
``skip`` (a record field) is 4 or 8.

Every scratch byte is ``floor(Y / D)`` with ``0 <= Y < 256 D``:

- quotient byte ``Q_k``: ``Y = |x| - |y| Qhigh``, ``D = |y| 256^k``, with
  ``Qhigh = sum_(i>k) Q_i 256^i`` read back from the scratch tokens already
  emitted (a zero for those not yet emitted);
- remainder byte ``R_k``: ``Y = |x| - |y| Q - Rhigh = R - Rhigh``, ``D = 256^k``.

So one form covers both, ``Y = |x| - |y| Qhigh - Rhigh`` and
``D = |y| pwq + pwr`` (``pwq = 256^k`` in the quotient phase, ``pwr = 256^k``
in the remainder phase, each 0 in the other), and ``floor(Y / D) =
sum_(m=1..255) [Y >= m D]``: 255 threshold pairs of a linear form. Every value
is an integer below ``2^53`` wherever the comparison is close (``Y < 2^33``);
where ``m D`` is larger the form is far below zero and its sign survives
rounding.

Layers (the compiler calls one function per layer):

3. ``indicators``: phase indicators of ``j`` and ``skip``, the powers ``pwq``/``pwr``;
4. ``operands``: heads reading the scratch bytes back (position ``mpos + s``) and
   the scratch byte a result byte copies (position ``mpos + 2 skip - j``); units:
   signs, ``|x|``, ``|y|``, ``Qhigh``, ``Rhigh``, the trap conditions;
5. ``columns``: ``|y| Qhigh``, ``D``, the result's sign, the overflow test; the
   division-by-zero trap;
6. ``floor``: ``floor(Y / D)``; the overflow trap;
7. ``last``: the scratch token, or the result byte (copied or negated).

Cost: ``i32.div_*`` 9 tokens per step, ``i32.rem_*`` 13. The i64 divisions are
refused: ``|x|`` reaches ``2^64``, beyond the exact range of float64.

>>> from psionic.tassadar.executor.compiler import build_circuit
>>> c = build_circuit()
>>> sum(h.name.startswith("div_") for layer in c.layers for h in layer.heads)
8
"""

from __future__ import annotations

import numpy as np

from psionic.tassadar import trace as tr
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.circuit import Circuit, Layer

INPUTS = {"div_q": "the byte of a division scratch token q.."}
KINDS = ("div_u", "div_s", "rem_u", "rem_s")
N = 4  # operand bytes (i32)
# scratch bytes read back: the quotient, then the remainder but its last byte (R_0 is read only
# as the source of a result byte)
SCRATCH = 2 * N - 1
BIG = float(1 << 42)  # larger than any |Y - m D| the thresholds must keep apart from 0
J = {"pos": 1.0, "mpos": -1.0}
ON = {f"is_{k}": 1.0 for k in KINDS}  # 1 on a division step, 0 elsewhere (linear)


def embed(e: np.ndarray, idx: dict[str, int]) -> None:
    """Scratch tokens carry their byte in ``div_q`` (and nothing else: they write nowhere)."""
    for v in range(256):
        e[tr.DIV_SCRATCH + v, idx["div_q"]] = v


def record(op_name: str, sp: int) -> dict[str, int]:
    """The record fields of an i32 division: operands ``x`` (src_a), ``y`` (src_c)."""
    kind = op_name.split(".")[1]
    skip = N if kind.startswith("div") else 2 * N
    return {"width": skip + N, "kind": L.KIND[kind], "src_a": sp - 2, "src_c": sp - 1,
            "dst": sp - 2, "skip": skip}


def _hat(lay: Layer, x: dict[str, float], out: dict[str, float], doc: str) -> None:
    """``out += coef * [x == 0]`` for integer-valued ``x``."""
    for shift, coef in ((1.0, 1.0), (0.0, -2.0), (-1.0, 1.0)):
        gate = dict(x)
        gate["one"] = gate.get("one", 0.0) + shift
        lay.unit(gate, {"one": 1.0}, {k: coef * v for k, v in out.items()}, doc)


def _step(lay: Layer, x: dict[str, float], out: str, doc: str) -> None:
    """``out += [x >= 1]`` for integer-valued ``x``."""
    lay.unit(dict(x), {"one": 1.0}, {out: 1.0}, doc)
    lay.unit({**x, "one": x.get("one", 0.0) - 1.0}, {"one": 1.0}, {out: -1.0}, doc)


def indicators(c: Circuit, lay: Layer) -> None:
    """Layer 3: where the step is (scratch or result phase) and the powers of the divisor."""
    c.feature("div_scr", "[j < skip]: a division's next token is a scratch byte")
    c.feature("div_res0", "[j == skip]: a division's next token is its first result byte")
    c.feature("div_pwq", "256^(3 - j) for j = 0..3: the place of the next quotient byte")
    c.feature("div_pwr", "256^(7 - j) for j = 4..7: the place of the next remainder byte")
    _step(lay, {"f_skip": 1.0, **{k: -v for k, v in J.items()}}, "div_scr",
          "div_scr = [skip - j >= 1]")
    _hat(lay, {"f_skip": -1.0, **J}, {"div_res0": 1.0}, "div_res0 = [j == skip]")
    for s in range(1, SCRATCH + 1):
        c.feature(f"div_ge{s}", f"[j >= {s}]: scratch byte {s} has been emitted")
        _step(lay, {**J, "one": 1.0 - s}, f"div_ge{s}", f"div_ge{s} = [j - {s} + 1 >= 1]")
    for j in range(N):
        _hat(lay, {**J, "one": -float(j)}, {"div_pwq": float(256 ** (N - 1 - j))},
             f"div_pwq += 256^{N - 1 - j} [j == {j}]")
        _hat(lay, {**J, "one": -float(N + j)}, {"div_pwr": float(256 ** (N - 1 - j))},
             f"div_pwr += 256^{N - 1 - j} [j == {N + j}]")


def operands(c: Circuit, lay: Layer) -> None:
    """Layer 4: the scratch bytes read back, magnitudes, the partial quotient and remainder."""
    key = ({"pos": 2.0}, {"pos2": -1.0})
    for s in range(1, SCRATCH + 1):
        c.feature(f"div_q{s}", f"div_q of payload token {s} of the step")
        lay.head(f"div_read{s}", ({"mpos": 1.0, "one": float(s)}, {"one": 1.0}), key,
                 (("div_q", f"div_q{s}"),),
                 f"division: reads the scratch byte at position mpos + {s} (the current token "
                 "when it is not yet emitted; gated by div_ge)")
    c.feature("div_src", "the scratch byte that the next result byte copies")
    lay.head("div_source", ({"mpos": 2.0, "f_skip": 2.0, "pos": -1.0}, {"one": 1.0}), key,
             (("div_q", "div_src"),),
             "division: reads the scratch byte at position mpos + 2 skip - j, the byte of the "
             "result (Q_k or R_k) that result byte k = j - skip is made of")
    for feat, doc in (("div_sa", "[x < 0] for div_s/rem_s (0 for the unsigned ops)"),
                      ("div_sc", "[y < 0] for div_s/rem_s"),
                      ("div_absa", "|x| (x unsigned for div_u/rem_u)"),
                      ("div_absd", "|y| (y unsigned for div_u/rem_u)"),
                      ("div_qhigh", "sum of the quotient bytes emitted so far, at their places"),
                      ("div_rhigh", "sum of the remainder bytes emitted so far, at their places"),
                      ("div_dz", "[y == 0]"), ("div_amin", "[x == 0x80000000]"),
                      ("div_cm1", "[y == 0xffffffff]")):
        c.feature(feat, doc)
    signed = {"is_div_s": 256.0, "is_rem_s": 256.0, "one": -256.0}  # 0 when signed, else -256
    for side, byte, sign, mag in (("a", "a", "div_sa", "div_absa"), ("c", "c", "div_sc", "div_absd")):
        value = {f"{byte}{k}": float(256**k) for k in range(N)}
        flipped = {"one": float(1 << 32), **{k: -2.0 * v for k, v in value.items()}}
        lay.unit({"one": 1.0}, value, {mag: 1.0}, f"{mag}: the unsigned value of src_{side}")
        for shift, coef in ((-127.0, 1.0), (-128.0, -1.0)):
            gate = {f"{byte}3": 1.0, **signed}
            gate["one"] += shift
            lay.unit(gate, {"one": 1.0}, {sign: coef}, f"{sign} = [{byte}3 >= 128] when signed")
            lay.unit(gate, flipped, {mag: coef},
                     f"{mag} += {sign} (2^32 - 2 v): the magnitude of a negative value")
    for s in range(1, SCRATCH + 1):
        out = "div_qhigh" if s <= N else "div_rhigh"
        place = float(256 ** ((N if s <= N else 2 * N) - s))
        lay.unit({f"div_q{s}": 1.0, f"div_ge{s}": 256.0, "one": -256.0}, {"one": place},
                 {out: 1.0}, f"{out} += 256^{int(np.log2(place)) // 8} div_q{s} once emitted")
    csum = {f"c{k}": 1.0 for k in range(N)}
    _hat(lay, csum, {"div_dz": 1.0}, "div_dz = [c0 + c1 + c2 + c3 == 0]")
    _hat(lay, {"a0": 1024.0, "a1": 1024.0, "a2": 1024.0, "a3": 1.0, "one": -128.0},
         {"div_amin": 1.0}, "div_amin = [1024 (a0 + a1 + a2) + a3 - 128 == 0]")
    _hat(lay, {**{k: -v for k, v in csum.items()}, "one": 1020.0}, {"div_cm1": 1.0},
         "div_cm1 = [1020 - (c0 + c1 + c2 + c3) == 0]")


def quotient(c: Circuit, columns: Layer, floor: Layer, last: Layer) -> None:
    """Layers 5-7: the traps, floor(Y / D) for a scratch byte, and the result bytes."""
    g = L.GATE
    for feat, doc in (("div_dq", "|y| Qhigh"), ("div_dk", "|y| pwq: the quotient phase's D"),
                      ("div_neg", "the result is negative (div_s: signs differ; rem_s: x < 0)"),
                      ("div_ovf", "div_s of 0x80000000 by -1"), ("div_x", "floor(Y / D)")):
        c.feature(feat, doc)
    columns.unit({"div_absd": 1.0}, {"div_qhigh": 1.0}, {"div_dq": 1.0},
                 "div_dq = |y| Qhigh (ReGLU product, |y| >= 0)")
    columns.unit({"div_pwq": 1.0}, {"div_absd": 1.0}, {"div_dk": 1.0},
                 "div_dk = pwq |y| (ReGLU product, pwq >= 0)")
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
    y = {"div_absa": 1.0, "div_dq": -1.0, "div_rhigh": -1.0}
    live = {**{k: BIG for k in ON}, "div_scr": BIG, "div_dz": -BIG, "div_ovf": -BIG,
            "is_tgt": -BIG, "one": -2 * BIG}  # 0 on a scratch token, <= -BIG elsewhere
    for m in range(1, 256):
        form = {**y, "div_dk": -float(m), "div_pwr": -float(m), **live}
        for shift, coef in ((1.0, 1.0), (0.0, -1.0)):
            floor.unit({**form, "one": form["one"] + shift}, {"one": 1.0}, {"div_x": coef},
                       "div_x = sum_m [Y >= m D], m = 1..255 (Y = |x| - |y| Qhigh - Rhigh, "
                       "D = |y| pwq + pwr)")
    scratch = {**{k: g for k in ON}, "div_scr": g, "div_dz": -g, "div_ovf": -g, "is_tgt": -g,
               "one": float(tr.DIV_SCRATCH) - 2 * g}
    last.unit({"div_x": 1.0, **scratch}, {"one": 1.0}, {"T": 1.0},
              "division, j < skip: T = q<floor(Y / D)>")
    result = {**{k: g for k in ON}, "div_scr": -g, "at_end": -g, "is_tgt": -g, "one": -g}
    last.unit({"div_src": 1.0, **result, "div_neg": -g}, {"one": 1.0}, {"T": 1.0},
              "division result byte k: T = byte k of Q or R")
    last.unit({"div_src": -1.0, "flag": 1.0, "div_res0": 1.0, **result, "div_neg": g,
               "one": result["one"] + 255.0 - g}, {"one": 1.0}, {"T": 1.0},
              "negative result byte k: T = 255 - X_k + carry-in (c.. when it carries out)")
