"""Calls in the executor's circuit: call depth, frame base, return pcs, call_indirect.

Every record slot is relative to the frame base ``fp`` of its function
(``call_records.py``); the circuit turns it into an absolute slot. Two prefix
sums carry the call structure, because the trace itself names no frame:

- **depth** ``d``: ``+1`` on every ``call``/``call_indirect`` opcode token,
  ``-1`` on every ``return``/``end`` opcode token (uniform attention, layer 1,
  times ``pos + 1``), made exact by a read at position ``d`` (``d <= pos``):
  the score ``2 d' p - p^2`` over positions ``p`` peaks at the integer nearest
  the approximate ``d'``, and the read returns that position;
- **frame base** ``fp``: ``+D`` on a call's opcode token (its record's
  ``fr_d``), ``-D`` on the target token of a return (the record read there is
  the one of the return pc minus one: the call's), summed by a uniform head in
  the first added layer and made exact in two reads: the position nearest
  ``fp / 64`` gives ``h`` (second added layer), the position nearest
  ``fp - 64 h + 40`` gives ``l + 40`` with ``|l| <= 32`` (third), and
  ``fp = 64 h + l``; the prompt is padded past ``slots / 64`` and 80
  positions, not past the whole stack.

Frame slot ``s`` is stack slot ``FRAME_ORIGIN + fp + s``: the frames lie above
the sink (999) and the globals (1000..1399), so the frame range can grow with
the prompt's stack header (``stack_layout.py``). Every token that writes a
stack byte ``a`` carries ``a`` (read back by the stack heads), ``a' = a - c``
and ``a'^2``; a fourth added layer scales the last two by the header's ``S``
into the stack heads' key ``(2 S a', -S a'^2 + pos)``.

Each call's opcode token is a frame record keyed by its depth ``d``
(key ``(2 M d, -M d^2 + pos)``): a return reads the newest one of depth
``d + 1`` (its depth has already dropped) for the step count and target it
saw, so the return pc is ``tgt + n - n_tgt``; a read of a declared local
compares the position of the byte's newest write with the newest record of
depth ``d`` (the call that entered the frame): an older write is another
frame's, and the byte reads as zero.

``call_indirect`` reads its index (a whole i32, slot ``src_c``), clamps it to
the table length like ``br_table``, and reads ``(pc + 1, type + 1)`` from the
call table in the prompt; the traps are, in order, index past the table,
null slot, type mismatch, call depth.
"""

from __future__ import annotations

import numpy as np

from psionic.tassadar import trace as tr
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.circuit import Circuit, Layer

INPUTS = {
    "fr_call_tok": "1 on call and call_indirect opcode tokens",
    "fr_ci_tok": "1 on call_indirect opcode tokens",
    "fr_ret_tok": "1 on return and end opcode tokens",
    "fr_dstep": "the call depth change of the token: +1 call, -1 return",
}
B = L.POS_GATE  # outweighs any position, depth, slot or record field
RELATIVE = ("src_a", "src_b", "src_c", "dst")  # record slots below L.SINK_SLOT are frame-relative
POSITION_KEY = ({"pos": 2.0}, {"pos2": -1.0})  # score 2 x pos - pos^2: largest at pos = round(x)
CENTRE = {"st_center": -float(L.STACK_CENTER_UNIT)}  # minus the centre of the stack keys
# the exact frame base in the layer of the second read: 64 h + (l + 40) - 40
FP = {"fr_fp_hi": float(L.FP_SNAP), "fr_fp_lo": 1.0, "one": -float(L.FP_SNAP_OFFSET)}
SLOTS = {"st_slots_lo": 1.0, "st_slots_hi": float(L.NUM_LIMIT)}


def embed(e: np.ndarray, idx: dict[str, int]) -> None:
    for name in ("call", "call_indirect"):
        e[tr.OP_ID[name], idx["fr_call_tok"]] = 1.0
        e[tr.OP_ID[name], idx["fr_dstep"]] = 1.0
    e[tr.OP_ID["call_indirect"], idx["fr_ci_tok"]] = 1.0
    for name in ("return", "end"):
        e[tr.OP_ID[name], idx["fr_ret_tok"]] = 1.0
        e[tr.OP_ID[name], idx["fr_dstep"]] = -1.0


def _step(lay: Layer, x: dict[str, float], out: str, doc: str, coef: float = 1.0) -> None:
    """``out += coef [x >= 1]`` for integer-valued ``x``."""
    lay.unit(dict(x), {"one": 1.0}, {out: coef}, doc)
    lay.unit({**x, "one": x.get("one", 0.0) - 1.0}, {"one": 1.0}, {out: -coef}, doc)


def _hat(lay: Layer, x: dict[str, float], out: str, doc: str, sign: float = 1.0) -> None:
    """``out += sign [x == 0]`` for integer-valued ``x``."""
    for shift, coef in ((1.0, 1.0), (0.0, -2.0), (-1.0, 1.0)):
        lay.unit({**x, "one": x.get("one", 0.0) + shift}, {"one": 1.0}, {out: sign * coef}, doc)


def where(c: Circuit, lay: Layer) -> None:
    """Layer 1: the approximate depth, and whether the newest opcode token is a return."""
    c.feature("fr_mean_depth", "mean of fr_dstep over the prefix")
    c.feature("fr_depth_approx", "the call depth (prefix sum of fr_dstep), up to rounding")
    c.feature("fr_m_ret", "fr_ret_tok of the newest opcode token: this step is a return")
    lay.head("fr_count_depth", ({}, {}), ({}, {}), (("fr_dstep", "fr_mean_depth"),),
             "uniform attention over the prefix: the mean of fr_dstep (+1 call, -1 return)",
             kind="uniform")
    lay.head("fr_latest_mark", ({"one": L.MARK_WEIGHT}, {"one": 1.0}),
             ({"is_mark": 1.0}, {"pos": 1.0}), (("fr_ret_tok", "fr_m_ret"),),
             "hard-max on (is_mark, pos): whether the newest opcode token is return or end")
    lay.unit({"pos": 1.0, "one": 1.0}, {"fr_mean_depth": 1.0}, {"fr_depth_approx": 1.0},
             "fr_depth_approx = (pos + 1) * fr_mean_depth")
    docs = {"st_scale": "recency scale S of the stack keys, divided by 8192",
            "st_center": "centre of the stack keys' byte addresses, divided by 64",
            "st_slots_lo": "frame slots the stack keys cover, mod 4096",
            "st_slots_hi": "frame slots the stack keys cover, // 4096"}
    for name in L.STACK_HEADER:
        at = L.STACK_HEADER_AT[name]
        c.feature(name, f"{docs[name]} (header field {at})")
        lay.head(f"header_{name}", ({"one": float(at)}, {"one": 1.0}), POSITION_KEY,
                 (("val", name),), f"reads the prompt token at position {at} (score 2*{at}*pos - "
                 "pos^2)")


def which(c: Circuit, lay: Layer) -> None:
    """Layer 2: the exact depth; the frame record key of a call's opcode token."""
    c.feature("fr_depth", "the call depth: calls minus returns so far, the current token included")
    c.feature("fr_fk", "frame record key: the depth on a call's opcode token, else 0")
    c.feature("fr_fk2", "its square")
    lay.head("fr_snap_depth", ({"fr_depth_approx": 1.0}, {"one": 1.0}),
             ({"pos": 2.0}, {"pos2": -1.0}), (("pos", "fr_depth"),),
             "reads the position nearest fr_depth_approx (score 2 d p - p^2): the exact depth "
             "(depth <= pos: every call is at least two tokens)")
    gate = {"fr_depth": 1.0, "fr_call_tok": B, "one": -B}
    lay.unit(gate, {"one": 1.0}, {"fr_fk": 1.0}, "fr_fk = depth on a call's opcode token")
    lay.unit(gate, {"fr_depth": 1.0}, {"fr_fk2": 1.0}, "... and its square")


def what(c: Circuit, lay: Layer, current: dict[str, float]) -> None:
    """Layer 3: the call fields of the record of pc, the frame records, the frame delta."""
    key = ({"pos": 2.0}, {"pos2": -1.0})
    for name in ("fr_d", "fr_lim_lo", "fr_lim_hi", "fr_ret", "fr_stale", "fr_want", "fr_toff",
                 "fr_need"):
        c.feature(f"f_{name}", f"field {name} of the current record")
        q = dict(current)
        q["one"] = q.get("one", 0.0) + float(L.FIELD[name])
        lay.head(f"record_{name}", (q, {"one": 1.0}), key, (("val", f"f_{name}"),),
                 f"reads field {name} of the record of pc (position rec_base + {L.RECORD}*pc + "
                 f"{L.FIELD[name]})")
    frame_key = ({"fr_fk": 2.0 * L.RECENCY},
                 {"fr_fk2": -L.RECENCY, "pos": 1.0, "fr_call_tok": B, "one": -B})
    for feat in ("fr_r_tgt", "fr_r_n", "fr_r_ntgt"):
        c.feature(feat, "tgt, n, n_tgt at the call this return goes back to")
    lay.head("fr_frame_return", ({"fr_depth": 1.0, "one": 1.0}, {"one": 1.0}), frame_key,
             (("tgt", "fr_r_tgt"), ("n", "fr_r_n"), ("n_tgt", "fr_r_ntgt")),
             "the newest call of depth d + 1 (a return's depth has dropped already): score "
             "M(2 k q - k^2) + pos on call tokens, pos - B elsewhere; the return pc is "
             "tgt + n - n_tgt there")
    c.feature("fr_callpos", "position of the call that entered the current frame")
    lay.head("fr_frame_entry", ({"fr_depth": 1.0}, {"one": 1.0}), frame_key,
             (("pos", "fr_callpos"),), "the newest call of depth d: where the current frame began")
    c.feature("fr_dd", "the frame base change at this token")
    lay.unit({"f_fr_d": 1.0, "fr_call_tok": B, "one": -B}, {"one": 1.0}, {"fr_dd": 1.0},
             "a call's opcode token moves the frame base up by the record's D")
    lay.unit({"f_fr_d": 1.0, "is_tgt": B, "fr_m_ret": B, "one": -2 * B}, {"one": 1.0},
             {"fr_dd": -1.0}, "a return's target token moves it down by D of the call at "
             "the return pc minus one (the record read there)")
    c.feature("fr_deep", "[depth >= the call-depth bound]: a call here traps")
    _step(lay, {"fr_depth": 1.0, "f_fr_lim_lo": -1.0, "f_fr_lim_hi": -float(L.NUM_LIMIT),
                "one": 1.0}, "fr_deep", "fr_deep = [d - bound >= 0]")
    lay.unit({"f_fr_ret": 1.0, "fr_m_ret": 1.0, "one": -1.0, "is_tgt": -B}, {"one": 1.0},
             {"jumps_now": 1.0}, "jumps_now on a callee's return: its target is still to come")
    for name in RELATIVE:
        c.feature(f"fr_rel_{name}", f"[{name} < {L.SINK_SLOT}]: slot {name} is frame-relative")
        _step(lay, {f"f_{name}": -1.0, "one": float(L.SINK_SLOT)}, f"fr_rel_{name}",
              f"fr_rel_{name} = [{L.SINK_SLOT} - {name} >= 1]")


def frame_layers(c: Circuit) -> tuple[Layer, Layer, Layer]:
    """Three added layers: the frame base as a prefix sum; its 64th part, exact; the
    remainder, exact, and with it the frame base, the absolute slots and the range check."""
    c.feature("fr_mean_dd", "mean of fr_dd over the prefix")
    c.feature("fr_fp_approx", "the frame base (prefix sum of fr_dd), up to rounding")
    c.feature("fr_fp_hi", "h: the integer nearest fr_fp_approx / 64")
    c.feature("fr_fp_lo", "l + 40: the frame base is 64 h + l")
    c.feature("fr_fp", "the frame base: the current frame's first local is stack slot "
              f"{L.FRAME_ORIGIN} + fp")
    total = c.layer()
    total.head("fr_sum_frames", ({}, {}), ({}, {}), (("fr_dd", "fr_mean_dd"),),
               "uniform attention over the prefix: the mean of fr_dd", kind="uniform")
    total.unit({"pos": 1.0, "one": 1.0}, {"fr_mean_dd": 1.0}, {"fr_fp_approx": 1.0},
               "fr_fp_approx = (pos + 1) * fr_mean_dd")
    exact = c.layer()
    exact.head("fr_snap_frame", ({"fr_fp_approx": 1.0 / L.FP_SNAP}, {"one": 1.0}), POSITION_KEY,
               (("pos", "fr_fp_hi"),),
               f"reads the position nearest fr_fp_approx / {L.FP_SNAP}: h (the prompt is padded "
               f"past slots / {L.FP_SNAP})")
    g = L.GATE
    exact.unit({"at_end": g, "jumps_now": g, "f_fr_ret": g, "one": 1.0 - 3 * g},
               {"fr_r_tgt": 1.0, "fr_r_n": 1.0, "fr_r_ntgt": -1.0}, {"T": 1.0},
               "a callee's return, its bytes written: T = p<tgt + n - n_tgt of its call>")
    based = c.layer()
    based.head("fr_snap_rest", ({"fr_fp_approx": 1.0, "fr_fp_hi": -float(L.FP_SNAP),
                                 "one": float(L.FP_SNAP_OFFSET)}, {"one": 1.0}), POSITION_KEY,
               (("pos", "fr_fp_lo"),),
               f"reads the position nearest fr_fp_approx - {L.FP_SNAP} h + {L.FP_SNAP_OFFSET}: "
               f"l + {L.FP_SNAP_OFFSET}, |l| <= {L.FP_SNAP // 2} (every prompt is longer)")
    based.unit({"one": 1.0}, FP, {"fr_fp": 1.0}, f"fr_fp = {L.FP_SNAP} h + l")
    for name in ("src_a", "src_b", "src_c"):
        c.feature(f"fr_off_{name}", f"{L.FRAME_ORIGIN} + fp when {name} is frame-relative, else 0")
        based.unit({**FP, "one": FP["one"] + float(L.FRAME_ORIGIN) - B, f"fr_rel_{name}": B},
                   {"one": 1.0}, {f"fr_off_{name}": 1.0},
                   f"fr_off_{name} = ({L.FRAME_ORIGIN} + fp) [{name} is frame-relative]")
    c.feature("fr_full", "[fp + need > slots]: the callee's frame would pass the stack range")
    _step(based, {**FP, "f_fr_need": 1.0, **{k: -v for k, v in SLOTS.items()}}, "fr_full",
          "fr_full = [fp + need - slots >= 1] (fp is the callee's at a call token; slots from "
          "the stack header)")
    return total, exact, based


def address_units(lay: Layer, addr: dict[str, float], off: dict[str, float], doc: str) -> None:
    """On tokens where ``off`` is 0 (elsewhere ``<= -L.ADDR_GATE``), the stack byte address
    ``addr`` they write: ``sa`` (read back), ``st_ac = addr - c`` and ``st_ac2``, its square."""
    def plus(*forms: dict[str, float]) -> dict[str, float]:
        out: dict[str, float] = {}
        for form in forms:
            for k, v in form.items():
                out[k] = out.get(k, 0.0) + v
        return out
    centred = plus(addr, CENTRE)
    back = {k: -v for k, v in centred.items()}
    lay.unit(plus(addr, off), {"one": 1.0}, {"sa": 1.0}, doc)
    lay.unit(plus(centred, off), {"one": 1.0}, {"st_ac": 1.0}, "... centred: relu(d) ...")
    lay.unit(plus(back, off), {"one": 1.0}, {"st_ac": -1.0}, "... - relu(-d)")
    lay.unit(plus(centred, off), centred, {"st_ac2": 1.0}, "... squared: relu(d) d ...")
    lay.unit(plus(back, off), back, {"st_ac2": 1.0}, "... + relu(-d) (-d)")


def scale_keys(c: Circuit) -> None:
    """A fourth added layer: the stack heads' key, the centred address and its square times S."""
    c.feature("st_sac", "S * st_ac: the first coordinate of the stack key, halved")
    c.feature("st_sac2", "S * st_ac2")
    lay = c.layer()
    scale = {"st_scale": float(L.STACK_SCALE_UNIT)}
    lay.unit(scale, {"st_ac": 1.0}, {"st_sac": 1.0}, "S * st_ac (ReGLU product, S > 0)")
    lay.unit(scale, {"st_ac2": 1.0}, {"st_sac2": 1.0}, "S * st_ac2 (ReGLU product)")


STACK_KEY = ({"st_sac": 2.0}, {"st_sac2": -1.0, "pos": 1.0})  # S (2 a' q' - a'^2) + pos


def payload_keys(lay: Layer, j: dict[str, float]) -> None:
    """The stack byte a payload token writes, now that fp is exact (key of the stack heads)."""
    a = L.ADDR_GATE
    frame = {k: 8.0 * v for k, v in FP.items()}
    frame["one"] += 8.0 * L.FRAME_ORIGIN
    for rel, base, doc in (
        # skip: a division's scratch tokens come before the bytes it writes (divide.py)
        # pair_w: a copy2's bytes past the first i32 go to the next slot (compiler.py)
        (1, frame, f"8 ({L.FRAME_ORIGIN} + fp + dst) + j - 1 - skip (+ 4 past a copy2's first "
         "i32; a frame slot)"),
        (0, {}, "8 dst + j - 1 - skip (+ 4 past a copy2's first i32; a global or the sink)"),
    ):
        addr = {"f_dst": 8.0, "f_skip": -1.0, **j, "pair_w": 4.0}
        for k, v in base.items():
            addr[k] = addr.get(k, 0.0) + v
        addr["one"] = addr.get("one", 0.0) - 1.0
        off = {"one": -a - (a if rel else 0.0), "is_pay": a, "f_mul": -a,
               "fr_rel_dst": a if rel else -a}
        address_units(lay, addr, off, f"payload byte j - 1 writes {doc}")
    mul_addr = {"f_dst": 8.0, **frame, "pos": 0.5, "mpos": -0.5}
    mul_addr["one"] = mul_addr.get("one", 0.0) - 0.5
    # f_mul is a record field: 0/1 on trace tokens, any number below NUM_LIMIT on prompt
    # tokens, so the is_pay gate outweighs it
    big = a * 2 * L.NUM_LIMIT
    address_units(lay, mul_addr, {"one": -a - big, "is_pay": big, "f_mul": a},
                  f"a multiplication's byte r_k (j = 2k + 1) writes 8 ({L.FRAME_ORIGIN} + fp + "
                  "dst) + (j - 1) / 2")


def operands(c: Circuit, lay: Layer) -> None:
    """Layer of the stack reads: is the local just read stale; call_indirect's index bound."""
    c.feature("fr_stale_now", "[the newest write of byte j of src_a precedes the frame's call]")
    _step(lay, {"fr_callpos": 1.0, "fr_opa_pos": -1.0}, "fr_stale_now",
          "fr_stale_now = [callpos - opa_pos >= 1]")
    c.feature("fr_miss", "[the write read is of another byte]: byte j of src_a was never written")
    lay.unit({"one": 1.0}, {"one": 1.0}, {"fr_miss": 1.0}, "fr_miss = 1 - [sa - q == 0] ...")
    _hat(lay, {"fr_opa_sa": 1.0, "f_src_a": -8.0, "fr_off_src_a": -8.0, "pos": -1.0, "mpos": 1.0},
         "fr_miss", "... with q = 8 (src_a + fp) + j", sign=-1.0)
    c.feature("fr_stop", "[a call here traps]: past the depth bound or the executor's range")
    _step(lay, {"fr_deep": 1.0, "fr_full": 1.0}, "fr_stop", "fr_stop = [deep + full >= 1]")
    c.feature("fr_oob", "[call_indirect index >= table length]")
    index = {f"c{k}": float(256**k) for k in range(4)}
    _step(lay, {**index, "f_tlen": -1.0, "one": 1.0}, "fr_oob", "fr_oob = [index - tlen >= 0]")


def columns(c: Circuit, lay: Layer) -> None:
    """The call table entry; a stale local reads zero."""
    key = ({"pos": 2.0}, {"pos2": -1.0})
    c.feature("fr_code", "call table: pc + 1 of the function at the clamped index (0: null)")
    c.feature("fr_type", "call table: its type + 1")
    for feat, off in (("fr_code", 0.0), ("fr_type", 1.0)):
        lay.head(f"{feat}_entry", ({"tbase": 1.0, "f_fr_toff": 1.0, "tidx": 2.0, "one": off},
                                   {"one": 1.0}), key, (("val", feat),),
                 f"call_indirect: reads the call table at tbase + toff + 2 tidx + {int(off)}")
    lay.unit({"fr_call_tok": 1.0, "fr_ci_tok": -1.0, "fr_stop": 1.0, "one": -1.0}, {"f_target": -1.0,
             "one": float(tr.TRAP_ID["call_depth_exceeded"] - tr.TARGET_BASE)}, {"T": 1.0},
             "call past the depth bound: T = trap.call_depth_exceeded instead of p<target>")
    lay.unit({"fr_stale_now": 1.0, "f_fr_stale": 1.0, "is_copy": 1.0, "at_end": -1.0,
              "one": -2.0}, {"opa": -1.0}, {"T": 1.0},
             "a declared local not yet written in this frame reads 0: T -= opa")
    lay.unit({"fr_miss": 1.0, "fr_stale_now": -1.0, "f_fr_stale": 1.0, "is_copy": 1.0,
              "at_end": -1.0, "one": -2.0}, {"opa": -1.0}, {"T": 1.0},
             "... and so does one never written at all")
    c.feature("fr_null", "[code == 0]: the table slot is null")
    c.feature("fr_match", "[type == the call's type]")
    _hat(lay, {"fr_code": 1.0}, "fr_null", "fr_null = [code == 0]")
    _hat(lay, {"fr_type": 1.0, "f_fr_want": -1.0}, "fr_match", "fr_match = [type == want]")


def floor(lay: Layer) -> None:
    """call_indirect's next token: a trap, or p<the function's pc>."""
    base = float(tr.TARGET_BASE)
    cases = (
        ({"fr_oob": 1.0, "one": -1.0}, {"one": float(tr.TRAP_ID["table_out_of_bounds"]) - base},
         "index past the table: T = trap.table_out_of_bounds"),
        ({"fr_null": 1.0, "fr_oob": -1.0, "one": -1.0},
         {"one": float(tr.TRAP_ID["indirect_call_to_null"]) - base},
         "null slot: T = trap.indirect_call_to_null"),
        ({"fr_match": -1.0, "fr_oob": -1.0, "fr_null": -1.0},
         {"one": float(tr.TRAP_ID["indirect_call_type_mismatch"]) - base},
         "another type: T = trap.indirect_call_type_mismatch"),
        ({"fr_match": 1.0, "fr_stop": 1.0, "fr_oob": -1.0, "fr_null": -1.0, "one": -2.0},
         {"one": float(tr.TRAP_ID["call_depth_exceeded"]) - base},
         "past the depth bound: T = trap.call_depth_exceeded"),
        ({"fr_match": 1.0, "fr_stop": -1.0, "fr_oob": -1.0, "fr_null": -1.0, "one": -1.0},
         {"fr_code": 1.0, "one": -1.0}, "otherwise: T = p<code - 1>"),
    )
    for gate, value, doc in cases:
        lay.unit({**gate, "fr_ci_tok": 1.0}, value, {"T": 1.0}, f"call_indirect: {doc}")
