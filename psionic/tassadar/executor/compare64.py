"""i64 comparisons and ``i64.eqz``: a 64-bit order decided by the high halves, then the low.

The difference of two i64 operands reaches ``2^64``, past float64's exact
integers, so it is never formed. Two 64-bit values compare as their high
halves (bytes 4..7; signed for the ``_s`` comparisons, through the sign bits
of bytes 7) unless those are equal, and then as their low halves (bytes 0..3)
compared *unsigned*, whatever the signedness of the comparison. Layer 5
turns the difference of the high halves (below ``2^33`` in magnitude, exact)
into its sign ``h`` in ``{-1, 0, 1}`` with two steps of integers; the last
layer then forms

    E = 2^33 h + sum_(k<4) (a_k - c_k) 256^k

which has the sign of the 64-bit comparison and stays below ``2^34`` in
magnitude (exact), so the i32 comparison units of ``compiler.py`` apply to
``E`` unchanged. ``i64.eqz`` is ``relu(1 - (a0 + ... + a7))`` (bytes are
non-negative). The result is an i32: byte 0 is the answer, bytes 1..3 are 0.

>>> from psionic.tassadar.executor.compiler import build_circuit
>>> {"hi_cmp_s", "hi_cmp_u", "is_lt_s64"} <= set(build_circuit().features)
True
"""

from __future__ import annotations

from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.circuit import Circuit, Layer

HIGH = float(1 << 32)  # the sign bits' weight in the signed difference of the high halves
DECIDE = float(1 << 33)  # exceeds every difference of the low halves


def _high_difference(signed: bool) -> dict[str, float]:
    """sum_(k=4..7) (a_k - c_k) 256^(k-4), minus 2^32 (sign_a7 - sign_c7) when signed."""
    form = {f"a{k}": float(256 ** (k - 4)) for k in range(4, 8)}
    form.update({f"c{k}": -float(256 ** (k - 4)) for k in range(4, 8)})
    if signed:
        form.update({"sign_a7": -HIGH, "sign_c7": HIGH})
    return form


def _sign(lay: Layer, x: dict[str, float], out: str, doc: str) -> None:
    """``out += [x >= 1] - [x <= -1]`` for integer-valued ``x``: four units."""
    neg = {k: -v for k, v in x.items()}
    for form, coef in ((x, 1.0), (neg, -1.0)):
        lay.unit(form, {"one": 1.0}, {out: coef}, doc)
        lay.unit({**form, "one": form.get("one", 0.0) - 1.0}, {"one": 1.0}, {out: -coef}, doc)


def build(c: Circuit, lay: Layer, columns: Layer, last: Layer,
          first_gate: dict[str, float]) -> None:
    """The sign bit of c7 (layer 4), the signs of the high halves' differences (layer 5),
    ``i64.eqz`` (last layer). ``first_gate`` is 0 on the first payload byte of an
    ``i64.eqz`` step and at most ``-GATE`` elsewhere."""
    c.feature("sign_c7", "[c7 >= 128]: src_c is negative as i64")
    for shift, coef in ((-127.0, 1.0), (-128.0, -1.0)):
        lay.unit({"c7": 1.0, "one": shift}, {"one": 1.0}, {"sign_c7": coef},
                 "sign_c7 = [c7 >= 128]")
    for signed, feat in ((False, "hi_cmp_u"), (True, "hi_cmp_s")):
        kind = "signed" if signed else "unsigned"
        c.feature(feat, f"sign (1, 0, -1) of the {kind} difference of the high halves "
                  "(bytes 4..7) of src_a and src_c")
        _sign(columns, _high_difference(signed), feat,
              f"{feat} = [d >= 1] - [d <= -1], d = the {kind} difference of bytes 4..7 of "
              "src_a and src_c (exact: |d| < 2^33)")
    form = {f"a{k}": -1.0 for k in range(8)}
    form.update(first_gate)
    form["one"] = form.get("one", 0.0) + 1.0
    last.unit(form, {"one": 1.0}, {"T": 1.0},
              "i64.eqz: byte 0 = relu(1 - (a0 + ... + a7)); bytes 1..3 are 0")


def difference(op: str) -> dict[str, float]:
    """``E = 2^33 h + (unsigned difference of the low halves)``: the sign of the i64 ``op``."""
    form = {f"a{k}": float(256**k) for k in range(4)}
    form.update({f"c{k}": -float(256**k) for k in range(4)})
    form["hi_cmp_s" if op.endswith("_s") else "hi_cmp_u"] = DECIDE
    return form


assert DECIDE + HIGH < L.WIDE_GATE  # |E| < 2^33 + 2^32: the comparison gate dominates it
