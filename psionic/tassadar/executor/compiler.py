"""The weight compiler: one universal transformer that emits ``tassadar.trace.v3`` traces.

Nothing here depends on a program. The program, the arguments and the step
bound arrive in the prompt (``prompt.py``); these weights read them with
attention. Eleven layers, each hard-max/uniform attention (possibly none) then a
ReGLU feed-forward block (the call depth and frame base of ``frames.py`` ride
along in layers 1 to 3):

1. *where am I*: the latest step mark (and whether it jumps), the header, the
   number of steps and of input steps so far;
2. *which instruction*: the newest jump target (trace v2) and the step count
   there, so pc = target + steps since;
3. *what is this step*: the record of pc, three fields of the record of
   pc + 1, the next input byte; then the indicators the dispatch needs;
   the frame records (``frames.py``);
   (four frame layers) the frame base as a prefix sum, then exact in two
   reads; the stack address each payload byte writes, centred and squared;
   both times the stack header's recency scale (the latest-write heads' key);
4. *operands*: the latest write to each operand byte (byte j, and whole i32
   operands), the next step's condition; bits, sign bits, column products,
   functions of a shift count, the branch-table index;
5. *the step's own operands*: values computed at the step's opcode token
   (before in-place results overwrite them), the branch-table entry;
   multiplication column sums, the next opcode's variant;
6. floors by 256 (multiplication, shifts);
7. the remaining candidates of the next token id ``T``. Each candidate is
   gated exactly by 0/1 indicators; the unembedding ``logit_i = 2 i T - i^2``
   has its argmax at ``T``.

Every head and unit carries a one-line explanation; the model card is
generated from them (``card.py``).

>>> w = build()
>>> len(w.circuit.layers), w.embedding.shape[0] == w.unembedding.shape[0] + 4865
(11, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psionic.tassadar import trace as tr
from psionic.tassadar.executor import compare64, counts, divide, frames, memory, shifts, start
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.circuit import Circuit, CircuitWeights, Layer, compile_circuit
from psionic.tassadar.executor.forms import add as _add
from psionic.tassadar.executor.forms import hat as _hat
from psionic.tassadar.executor.forms import step as _step

INPUTS = {
    "one": "1 on every token",
    "pos": "the token's position (positional encoding)",
    "pos2": "the square of the position (positional encoding)",
    "is_mark": "1 on a step's opcode token and on go",
    "is_pay": "1 on a written byte (b.. or c..)",
    "val": "the byte of b../c../i.. tokens, the number of n.. tokens",
    "flag": "1 on c.. (the byte carried or borrowed out)",
    "is_init": "1 on i.. (an initial stack byte in the prompt)",
    "mcarry": "the carry c of a multiplication carry token k<c>",
    "is_ginit": "1 on g.. (a byte of a global's initial value in the prompt)",
    "is_tgt": "1 on p.. (a jump target: the pc of the next step; the prompt ends with one)",
    "jump_tok": "1 on opcode tokens whose step ends with a target (br, br_if.taken, br_table, "
                "if.else, else)",
    "fall_tok": "1 on br_if.fallthrough (a conditional step that writes nothing)",
    "is_in": "1 on host.input_i32 opcode tokens",
    **frames.INPUTS,
    "mem_data": "1 on m.. (a byte of the initial memory image in the prompt)",
    **divide.INPUTS,
}


def _where(c: Circuit) -> None:
    c.feature("mpos", "position of the latest step mark (opcode token or go)")
    c.feature("rec_base", "position of record 0 (header field 0)")
    c.feature("steps_lo", "the step bound mod 4096 (header field 1)")
    c.feature("steps_hi", "the step bound // 4096 (header field 2)")
    c.feature("gbase", "position of the first initial global byte (header field 3)")
    c.feature("tbase", "position of the branch tables (header field 4)")
    c.feature("ibase", "position of the inputs (header field 5)")
    c.feature("n_inputs", "the number of inputs (header field 6)")
    c.feature("mean_in", "mean of is_in over the prefix")
    c.feature("n_in", "host.input_i32 steps so far, the current one included")
    c.feature("mean_mark", "mean of is_mark over the prefix")
    c.feature("n", "opcode tokens so far: the number of the current step")
    c.feature("m_jumps", "jump_tok of the newest opcode token: this step ends with a target")
    c.feature("m_fall", "fall_tok of the newest opcode token: a br_if that fell through")
    lay = c.layer()
    lay.head("latest_mark", ({"one": L.MARK_WEIGHT}, {"one": 1.0}), ({"is_mark": 1.0}, {"pos": 1.0}),
             (("pos", "mpos"), ("jump_tok", "m_jumps"), ("fall_tok", "m_fall")),
             "hard-max on (is_mark, pos): the newest opcode token; j = pos - mpos is the index "
             "of the current token in its step; whether that step jumps or fell through")
    for name, at in (("rec_base", 0), ("steps_lo", 1), ("steps_hi", 2), ("gbase", 3), ("tbase", 4),
                     ("ibase", 5), ("n_inputs", 6)):
        lay.head(f"header_{name}", ({"one": float(at)}, {"one": 1.0}),
                 ({"pos": 2.0}, {"pos2": -1.0}), (("val", name),),
                 f"reads the prompt token at position {at} (score 2*{at}*pos - pos^2)")
    memory.header(c, lay)
    c.feature("prev_mcarry", "mcarry of the token before this one")
    lay.head("previous_token", ({"pos": 1.0, "one": -1.0}, {"one": 1.0}),
             ({"pos": 2.0}, {"pos2": -1.0}), (("mcarry", "prev_mcarry"), *divide.previous(c)),
             "reads the token at position pos - 1 (a multiplication's carry-in two tokens back, "
             "a division's scratch byte)")
    lay.head("count_marks", ({}, {}), ({}, {}), (("is_mark", "mean_mark"),),
             "uniform attention over the prefix: the mean of is_mark", kind="uniform")
    lay.unit({"pos": 1.0, "one": 1.0}, {"mean_mark": 1.0}, {"n": 1.0},
             "n = (pos + 1) * mean_mark: the number of marks so far (prefix sum)")
    lay.head("count_inputs", ({}, {}), ({}, {}), (("is_in", "mean_in"),),
             "uniform attention over the prefix: the mean of is_in", kind="uniform")
    lay.unit({"pos": 1.0, "one": 1.0}, {"mean_in": 1.0}, {"n_in": 1.0},
             "n_in = (pos + 1) * mean_in: input steps so far; the input cursor is n_in - 1")
    frames.where(c, lay)


def _which(c: Circuit) -> None:
    """The pc of the current step: the newest target plus the steps since it (trace v2)."""
    c.feature("tgt", "the pc named by the newest target token (the prompt's last token at first)")
    c.feature("n_tgt", "n at the newest target token")
    lay = c.layer()
    lay.head("latest_target", ({"one": L.MARK_WEIGHT}, {"one": 1.0}), ({"is_tgt": 1.0}, {"pos": 1.0}),
             (("val", "tgt"), ("n", "n_tgt")),
             "hard-max on (is_tgt, pos): the newest target token; the current step runs "
             "pc = tgt + n - n_tgt - 1 (at a target token itself: the next step runs tgt)")
    frames.which(c, lay)


J = {"pos": 1.0, "mpos": -1.0}  # index of the current token within its step
PC = {"tgt": 1.0, "n": 1.0, "n_tgt": -1.0, "one": -1.0}  # pc of the current step's instruction


def _what(c: Circuit) -> None:
    fields = {"width": "f_width", "kind": "f_kind", "src_a": "f_src_a", "src_b": "f_src_b",
              "src_c": "f_src_c", "dst": "f_dst", "after": "f_after", "mul": "f_mul",
              "ext_n": "f_ext_n", "ext_signed": "f_ext_signed", "target": "f_target",
              "tlen": "f_tlen", "skip": "f_skip"}
    for feat in fields.values():
        c.feature(feat, f"field {feat[2:]} of the current record")
    c.feature("f_imm", "immediate byte j of the current record")
    c.feature("f_in", "byte j of input n_in - 1 (the value host.input_i32 pushes)")
    c.feature("f_opnext", "opcode id of the next record (the next step's opcode token)")
    c.feature("f_ncond", "cond field of the next record: its opcode token depends on a condition")
    c.feature("f_nsrc_c", "src_c field of the next record: the slot of its condition")
    lay = c.layer()
    current = _add({"rec_base": 1.0}, {k: float(L.RECORD) * v for k, v in PC.items()})
    following = _add(current, const=float(L.RECORD))
    key = ({"pos": 2.0}, {"pos2": -1.0})
    for name, feat in fields.items():
        lay.head(f"record_{name}", (_add(current, const=float(L.FIELD[name])), {"one": 1.0}), key,
                 (("val", feat),), f"reads field {name} of the record of pc (position "
                 f"rec_base + {L.RECORD}*pc + {L.FIELD[name]})")
    lay.head("record_imm", (_add(current, J, const=float(L.FIELD["imm0"])), {"one": 1.0}), key,
             (("val", "f_imm"),), "reads immediate byte j of the record of pc (the next const byte)")
    lay.head("input_byte", ({"ibase": 1.0, "n_in": 4.0, "one": -4.0, **J}, {"one": 1.0}), key,
             (("val", "f_in"),), "reads byte j of input n_in - 1 (position ibase + 4 (n_in - 1) + j)")
    for name, feat in (("op", "f_opnext"), ("cond", "f_ncond"), ("src_c", "f_nsrc_c")):
        lay.head(f"next_record_{name}", (_add(following, const=float(L.FIELD[name])),
                                         {"one": 1.0}), key, (("val", feat),),
                 f"reads field {name} of the record of pc + 1 (the next step, unless this one jumps)")
    memory.fields(c, lay, current)
    _keys_and_indicators(c, lay)
    frames.what(c, lay, current)


def _keys_and_indicators(c: Circuit, lay: Layer) -> None:
    c.feature("sa", "stack byte address this token writes (-1: none)")
    c.feature("st_ac", "that address minus the centre of the stack keys (0: none)")
    c.feature("st_ac2", "its square (1: none)")
    for name in ("at_end", "first", *(f"is_{k}" for k in L.KINDS[1:]), "has_after", "limit",
                 "jumps_now", "exhausted"):
        c.feature(name, "0/1 indicator")
    # payload bytes write frame slots: their keys wait for the exact frame base
    # (frames.payload_keys, in the third frame layer)
    frames.address_units(lay, {"pos": 1.0, "one": 8.0 * L.FRAME_ORIGIN - float(L.STACK_BASE)},
                         {"one": -L.POS_GATE, "is_init": L.POS_GATE},
                         f"an initial stack byte at position p writes 8 * {L.FRAME_ORIGIN} + p - "
                         f"{L.STACK_BASE}")
    frames.address_units(lay, {"pos": 1.0, "gbase": -1.0, "one": 8.0 * L.GLOBAL_SLOT},
                         {"one": -L.POS_GATE, "is_ginit": L.POS_GATE},
                         "an initial global byte at position p writes 8 * 1000 + p - gbase")
    lay.unit({"one": 1.0}, {"one": 1.0, "is_init": -1.0, "is_pay": -1.0, "is_ginit": -1.0},
             {"sa": -1.0, "st_ac2": 1.0},
             "every other token writes nowhere: address -1, key (0, -S + pos) below every write")
    big = L.POS_GATE
    _hat(lay, _add(J, {"f_width": -1.0, "m_fall": -big, "is_tgt": -big}), "at_end",
         "at_end = [j == width]: the step has written its bytes")
    _hat(lay, _add(J, {"one": -big, "m_fall": big, "is_tgt": -big}), "at_end",
         "at_end = [j == 0] after br_if.fallthrough (it writes nothing)")
    lay.unit({"is_tgt": 1.0}, {"one": 1.0}, {"at_end": 1.0},
             "at_end = 1 on a target token: the next token is the next step's opcode")
    lay.unit({"m_jumps": 1.0, "is_tgt": -1.0}, {"one": 1.0}, {"jumps_now": 1.0},
             "jumps_now = m_jumps and not a target token: the step's target is still to come")
    _hat(lay, J, "first", "first = [j == 0]: the next token is the first payload byte")
    c.feature("odd", "[j odd]: a multiplication's next token is a carry")
    for col in range(8):
        c.feature(f"col{col}", f"[j in {{{2 * col}, {2 * col + 1}}}]: multiplication column {col}")
        for p in (2 * col, 2 * col + 1):
            _hat(lay, _add(J, const=-float(p)), f"col{col}", f"col{col} includes j = {p}")
    for p in range(1, 15, 2):
        _hat(lay, _add(J, const=-float(p)), "odd", f"odd includes j = {p}")
    for x in (1, 2, 3):
        c.feature(f"j{x}", f"[j == {x}]")
        _hat(lay, _add(J, const=-float(x)), f"j{x}", f"j{x} = [j == {x}]")
    c.feature("low", "[j < ext_n]: an extension's next byte is a source byte")
    _step(lay, _add({"f_ext_n": 1.0}, {k: -v for k, v in J.items()}), "low",
          "low = [ext_n - j >= 1]")
    for n in (1, 2, 4):
        c.feature(f"ext{n}", f"[ext_n == {n}]")
        _hat(lay, {"f_ext_n": 1.0, "one": -float(n)}, f"ext{n}", f"ext{n} = [ext_n == {n}]")
    for kind in L.KINDS[1:]:
        _hat(lay, {"f_kind": 1.0, "one": -float(L.KIND[kind])}, f"is_{kind}",
             f"is_{kind} = [kind == {L.KIND[kind]}]")
    _step(lay, {"n_in": 1.0, "n_inputs": -1.0}, "exhausted",
          "exhausted = [n_in - 1 >= n_inputs]: an input step with no input left")
    _step(lay, {"f_after": 1.0, "is_tgt": -big}, "has_after",
          "has_after = [after >= 1] (not on a target token): the step ends the run")
    _step(lay, {"n": 1.0, "steps_lo": -1.0, "steps_hi": -4096.0, "one": 1.0}, "limit",
          "limit = [n >= steps_lo + 4096 steps_hi]: the step budget is spent")
    divide.indicators(c, lay)


def _operands(c: Circuit) -> None:
    c.feature("opa", "byte j of stack slot src_a (latest write)")
    c.feature("opb", "byte j of stack slot src_b (latest write)")
    c.feature("T", "the id of the next token")
    lay = c.layer()
    key = frames.STACK_KEY
    c.feature("fr_opa_pos", "position of the latest write of byte j of src_a")
    # slots are frame-relative: fr_off_* adds the frame base (frames.py)
    c.feature("fr_opa_sa", "the stack byte address of that write (another one when the byte "
              "was never written)")
    for name, src, reads in (("opa", "f_src_a", (("val", "opa"), ("pos", "fr_opa_pos"),
                                                 ("sa", "fr_opa_sa"))),
                             ("opb", "f_src_b", (("val", "opb"),))):
        shift = {"pair_r": 4.0} if name == "opa" else {}
        lay.head(f"stack_{name}", (_add({src: 8.0, f"fr_off_{src[2:]}": 8.0}, J, shift,
                                        frames.CENTRE), {"one": 1.0}),
                 key, reads,
                 f"latest write to stack byte 8*{src[2:]} + j: score S(2 a' q' - a'^2) + pos "
                 "(centred addresses), maximal at a = q, newest first")
    for k in range(8):
        for side, src in (("a", "f_src_a"), ("c", "f_src_c")):
            c.feature(f"{side}{k}", f"byte {k} of stack slot {src[2:]} (latest write)")
            lay.head(f"stack_{side}{k}", ({src: 8.0, f"fr_off_{src[2:]}": 8.0, "one": float(k),
                                           **frames.CENTRE}, {"one": 1.0}), key,
                     (("val", f"{side}{k}"),), f"latest write to stack byte 8*{src[2:]} + {k} "
                     "(whole operands: comparisons, conditions, products)")
    c.feature("nonzero_next", "[the next step's condition (slot nsrc_c) != 0] as i32")
    for k in range(4):
        c.feature(f"nc{k}", f"byte {k} of the next step's condition slot (latest write)")
        lay.head(f"stack_nc{k}", ({"f_nsrc_c": 8.0, "fr_fp": 8.0, **frames.CENTRE,
                                   "one": float(k + 8 * L.FRAME_ORIGIN)}, {"one": 1.0}), key,
                 (("val", f"nc{k}"),), f"latest write to stack byte 8*nsrc_c + {k}: the condition "
                 "that picks the next opcode token (if.then/if.else, br_if.taken/fallthrough)")
    _step(lay, {f"nc{k}": 1.0 for k in range(4)}, "nonzero_next",
          "nonzero_next = [nc0 + nc1 + nc2 + nc3 >= 1]")
    c.feature("tidx", "br_table: the entry chosen by the index in src_c, min(index, tlen)")
    lay.unit({"f_tlen": 1.0}, {"one": 1.0}, {"tidx": 1.0}, "tidx = tlen - relu(tlen - index) ...")
    lay.unit({"f_tlen": 1.0, **{f"c{k}": -float(256**k) for k in range(4)}}, {"one": 1.0},
             {"tidx": -1.0}, "... with index = c0 + 256 c1 + 65536 c2 + 2^24 c3 (unsigned)")
    _dispatch(lay)
    frames.operands(c, lay)
    memory.addresses(c, lay)
    _whole_operands(c, lay)
    divide.operands(c, lay)


def _whole_operands(c: Circuit, lay: Layer) -> None:
    """Sign bits and the nonzero test of whole i32 operands; eqz; then comparisons and select."""
    c.feature("sign_a", "[a3 >= 128]: src_a is negative as i32")
    c.feature("sign_c", "[c3 >= 128]: src_c is negative as i32")
    c.feature("nonzero_c", "[src_c != 0] as i32 (a select or branch condition)")
    c.feature("sign_a0", "[a0 >= 128]")
    c.feature("sign_a1", "[a1 >= 128]")
    for feat, byte in (("sign_a", "a3"), ("sign_c", "c3"), ("sign_a0", "a0"), ("sign_a1", "a1")):
        _step(lay, {byte: 1.0, "one": -127.0}, feat, f"{feat} = [{byte} >= 128]")
    _step(lay, {"c0": 1.0, "c1": 1.0, "c2": 1.0, "c3": 1.0}, "nonzero_c",
          "nonzero_c = [c0 + c1 + c2 + c3 >= 1]")
    g = L.GATE
    lay.unit(_add({"a0": -1.0, "a1": -1.0, "a2": -1.0, "a3": -1.0}, _first_gate("is_eqz", g),
                  const=1.0), {"one": 1.0}, {"T": 1.0},
             "eqz: byte 0 = relu(1 - (a0 + a1 + a2 + a3)); bytes 1..3 are 0")
    columns = c.layer()
    floor = c.layer()
    last = c.layer()
    frames.columns(c, columns)
    frames.floor(floor)
    memory.lookups(c, columns, floor, last)
    c.feature("tt", "br_table: the target stored at entry tidx of the step's table")
    columns.head("table_entry", (_add({"tbase": 1.0, "f_target": 1.0, "tidx": 1.0}), {"one": 1.0}),
                 ({"pos": 2.0}, {"pos2": -1.0}), (("val", "tt"),),
                 "br_table: reads the table entry at tbase + target + tidx (the default is last)")
    floor.unit({"tt": 1.0, "one": float(tr.TARGET_BASE) - 3 * g, "at_end": g, "jumps_now": g,
                "is_br_table": g}, {"one": 1.0}, {"T": 1.0},
               "br_table: T = p<the chosen entry's target>")
    columns.unit({"one": 1.0 - 2 * g, "at_end": g, "has_after": -g, "limit": -g, "jumps_now": -g,
                  "f_ncond": g, "nonzero_next": -g}, {"one": 1.0}, {"T": 1.0},
                 "the next opcode's other variant (if.else, br_if.fallthrough: id + 1) when its "
                 "condition is zero")
    sel = _add({"at_end": -g}, {"one": -g, "is_select": g})
    last.unit(_add({"opa": 1.0}, sel, {"one": -g, "nonzero_c": g}), {"one": 1.0}, {"T": 1.0},
              "select: T = byte j of src_a when the condition is nonzero")
    last.unit(_add({"opb": 1.0}, sel, {"nonzero_c": -g}), {"one": 1.0}, {"T": 1.0},
              "select: T = byte j of src_b when it is zero")
    _extend(last)
    shifts.build(c, lay, columns, floor, last)
    _bitwise(c, lay, last)
    _multiply(c, lay, columns, floor, last)
    divide.quotient(c, columns, floor, last)
    counts.build(c, columns, floor, last)
    unsigned = {f"a{k}": float(256**k) for k in range(4)}
    unsigned.update({f"c{k}": -float(256**k) for k in range(4)})
    signed = _add(unsigned, {"sign_a": -float(1 << 32), "sign_c": float(1 << 32)})
    for op in L.COMPARISONS:
        diff = signed if op.endswith("_s") else unsigned
        _comparison(last, op, diff, _first_gate(f"is_{op}", L.WIDE_GATE))
    compare64.build(c, lay, columns, last, _first_gate("is_eqz64", g))
    for op in L.COMPARISONS:
        _comparison(last, f"{op}64", compare64.difference(op),
                    _first_gate(f"is_{op}64", L.WIDE_GATE))


def _multiply(c: Circuit, lay: Layer, columns: Layer, floor: Layer, last: Layer) -> None:
    """i32.mul and i64.mul, ABI 4.1: S = column products + carry-in; r = S mod 256, carry =
    floor(S / 256).

    The result bytes overwrite operand a as they are emitted, so the column products are
    computed once at the step's opcode token (operands intact) and read from there.
    """
    for k in range(8):
        c.feature(f"prod{k}", f"column {k} of a * c: sum of a_i c_j over i + j = {k}")
        for i in range(k + 1):
            lay.unit({f"a{i}": 1.0}, {f"c{k - i}": 1.0}, {f"prod{k}": 1.0},
                     "a_i * c_j (ReGLU product of two bytes)")
    reads = []
    for k in range(8):
        c.feature(f"mark_prod{k}", f"prod{k} at the current step's opcode token")
        reads.append((f"prod{k}", f"mark_prod{k}"))
    for k in range(8):
        c.feature(f"mark_a{k}", f"a{k} at the current step's opcode token")
        reads.append((f"a{k}", f"mark_a{k}"))
    columns.head("mark_operands", ({"mpos": 1.0}, {"one": 1.0}), ({"pos": 2.0}, {"pos2": -1.0}),
                 tuple(reads), "reads the column products and the bytes of operand a as they "
                 "were at the step's opcode token (position mpos), before the result bytes "
                 "overwrite operand a (mul, shl)")
    c.feature("mulsum", "the current column's product sum")
    c.feature("mulfloor", "floor(S / 256) for S = mulsum + carry-in")
    wide = float(1 << 20)
    for k in range(8):
        columns.unit({f"mark_prod{k}": 1.0, "one": -wide, f"col{k}": wide}, {"one": 1.0},
                     {"mulsum": 1.0}, "mulsum = the product sum of column j // 2")
    s_form = {"mulsum": 1.0, "mcarry": 1.0, "prev_mcarry": 1.0}
    top = (8 * 255 * 255 + 1784) // 256  # i64: 8 products per column, carries up to 1784
    only_mul = {"f_mul": 2 * wide, "one": -2 * wide}  # S < 2^20: idle off multiplications
    for m in range(1, top + 1):
        for shift, coef in ((1.0, 1.0), (0.0, -1.0)):
            floor.unit(_add(s_form, only_mul, const=shift - 256.0 * m), {"one": 1.0},
                       {"mulfloor": coef}, f"floor(S / 256) = sum_m [S >= 256 m], m = 1..{top}")
    g = L.GATE
    # only_mul: off a multiplication the floor is not computed, so S itself must be gated off
    off = _add({"one": -g, "f_mul": g, "at_end": -g}, only_mul)
    last.unit(_add(s_form, {"mulfloor": -256.0}, off, {"odd": -g}), {"one": 1.0}, {"T": 1.0},
              "mul, even j: T = r = S - 256 floor(S / 256)")
    last.unit(_add({"mulfloor": 1.0}, off, {"one": -g + float(tr.MUL_CARRY), "odd": g}),
              {"one": 1.0}, {"T": 1.0}, "mul, odd j: T = k<floor(S / 256)>")


def _extend(last: Layer) -> None:
    """Sign and zero extensions: source bytes below ext_n, then 0xff or 0 by the sign bit."""
    g = L.GATE
    last.unit({"opa": 1.0, "one": -2 * g, "is_extend": g, "at_end": -g, "low": g}, {"one": 1.0},
              {"T": 1.0}, "extend: T = byte j of the source while j < ext_n")
    for n, sign in ((1, "sign_a0"), (2, "sign_a1"), (4, "sign_a")):
        last.unit({sign: 1.0, f"ext{n}": 1.0, "is_extend": 1.0, "f_ext_signed": 1.0, "low": -1.0,
                   "at_end": -1.0, "one": -3.0}, {"one": 1.0}, {"T": 255.0},
                  f"extend: T = 0xff past the source when ext_n = {n} and byte {n - 1} is negative")


def _bitwise(c: Circuit, lay: Layer, last: Layer) -> None:
    """and/or/xor of byte j: bits of both operand bytes (one threshold pair per value), then
    ``sum_i 2^i f(a_i + b_i)`` with ``f`` a hat or step of the bit sum."""
    for side in ("a", "b"):
        for i in range(8):
            c.feature(f"{side}bit{i}", f"bit {i} of byte j of src_{side}")
    for side, byte in (("a", "opa"), ("b", "opb")):
        # bit i of x = sum over m of (-1)^(m+1) [x >= m 2^i]; thresholds shared across bits
        for t in range(1, 256):
            out = {f"{side}bit{i}": float((-1) ** (t // (1 << i) + 1))
                   for i in range(8) if t % (1 << i) == 0}
            for shift, sign in ((1.0, 1.0), (0.0, -1.0)):
                lay.unit({byte: 1.0, "one": shift - t}, {"one": 1.0},
                         {k: sign * v for k, v in out.items()},
                         f"bits of {byte}: the step [{byte} >= t] for t = 1..255")
    g = L.GATE
    for op in L.BITWISE:
        gate = {"one": -g, f"is_{op}": g, "at_end": -g}
        for i in range(8):
            both = _add({f"abit{i}": 1.0, f"bbit{i}": 1.0}, gate)
            terms = {"and": [(-1.0, 1.0)], "or": [(0.0, 1.0), (-1.0, -1.0)],
                     "xor": [(0.0, 1.0), (-1.0, -2.0)]}[op]
            for shift, coef in terms:
                last.unit(_add(both, const=shift), {"one": 1.0}, {"T": coef * (1 << i)},
                          f"{op}: sum_i 2^i f(a_i + b_i)")


def _first_gate(indicator: str, g: float) -> dict[str, float]:
    """0 when ``indicator`` holds and the next token is the first payload byte, else <= -g."""
    return {"one": -2.0 * g, indicator: g, "first": g, "at_end": -g}


def _comparison(lay: Layer, op: str, diff: dict[str, float], gate: dict[str, float]) -> None:
    """Byte 0 of a comparison: a 0/1 function of the exact difference ``diff`` (i64: the
    signed stand-in of ``compare64.difference``)."""
    base = op.split("_")[0].removesuffix("64")
    neg = {k: -v for k, v in diff.items()}
    units = {  # (form, coefficient) pairs; each form is gated by ``gate``
        "eq": [(_add(diff, const=1.0), 1.0), (diff, -2.0), (_add(diff, const=-1.0), 1.0)],
        "lt": [(neg, 1.0), (_add(neg, const=-1.0), -1.0)],
        "gt": [(diff, 1.0), (_add(diff, const=-1.0), -1.0)],
    }
    complement = {"ne": "eq", "ge": "lt", "le": "gt"}
    if base in complement:
        lay.unit(_add(gate, const=1.0), {"one": 1.0}, {"T": 1.0}, f"{op}: 1 - [{complement[base]}]")
        terms = [(form, -coef) for form, coef in units[complement[base]]]
    else:
        terms = units[base]
    for form, coef in terms:
        lay.unit(_add(form, gate), {"one": 1.0}, {"T": coef},
                 f"{op}: exact step/hat of the difference of the operands")


def _dispatch(lay: Layer) -> None:
    g = L.GATE
    off_end = {"one": g, "at_end": -g}  # 0 when the step is complete, else C
    off_mid = {"at_end": g}  # 0 while the step still writes bytes
    trap_step = float(tr.TRAP_ID["step_limit_exceeded"])
    jumping = {"jumps_now": -g}
    rows = [
        (_add({"f_after": 1.0, "is_tgt": -g}, _neg(off_end), jumping), {"T": 1.0},
         "end of step, record says halt/trap: T = after"),
        (_add({"one": trap_step}, _neg(off_end), {"has_after": -g}, {"one": -g, "limit": g},
              jumping),
         {"T": 1.0}, "end of step, budget spent: T = trap.step_limit_exceeded"),
        (_add({"f_opnext": 1.0}, _neg(off_end), {"has_after": -g}, {"limit": -g}, jumping),
         {"T": 1.0}, "end of step otherwise: T = the next record's opcode"),
        (_add({"f_target": 1.0, "one": float(tr.TARGET_BASE) - g}, _neg(off_end),
              {"jumps_now": g, "is_br_table": -g}), {"T": 1.0},
         "end of a jumping step's bytes: T = p<target> (the record's static target)"),
        (_add({"f_imm": 1.0}, _neg(off_mid), {"one": -g, "is_const": g}), {"T": 1.0},
         "const: T = immediate byte j"),
        (_add({"f_in": 1.0}, _neg(off_mid), {"one": -g, "is_input": g, "exhausted": -g}),
         {"T": 1.0}, "host.input_i32: T = byte j of the next input"),
        ({"one": float(tr.TRAP_ID["input_exhausted"]) - 2 * g, "is_input": g, "exhausted": g,
          "at_end": -g}, {"T": 1.0}, "host.input_i32 with no input left: T = trap.input_exhausted"),
        (_add({"opa": 1.0}, _neg(off_mid), {"one": -g, "is_copy": g}), {"T": 1.0},
         "copy: T = byte j of src_a"),
        (_add({"opa": 1.0}, _neg(off_mid), {"one": -g, "is_copy2": g}), {"T": 1.0},
         "copy2 (two results, the first an i32): T = byte j of src_a (pair_r shifts the read)"),
        (_add({"opa": 1.0}, _neg(off_mid), {"one": -g, "is_br_table": g}), {"T": 1.0},
         "br_table moving a value beneath dropped slots: T = byte j of src_a"),
        (_add({"opa": 1.0, "opb": 1.0, "flag": 1.0}, _neg(off_mid), {"one": -g, "is_add": g}),
         {"T": 1.0}, "add: T = a_j + b_j + carry-in = byte + 256 * carry-out"),
    ]
    for gate, out, doc in rows:
        lay.unit(gate, {"one": 1.0}, out, doc)
    # sub: d = a_j - b_j - borrow-in in [-256, 255]; T = d + 512 [d < 0] = byte + 256 * borrow
    d = {"opa": 1.0, "opb": -1.0, "flag": -1.0}
    off_sub = _add(_neg(off_mid), {"one": -g, "is_sub": g})
    neg_d = {k: -v for k, v in d.items()}
    for gate, coef, doc in (
        (_add(d, off_sub, const=256.0), 1.0, "sub: relu(d + 256)"),
        (_add(off_sub, const=256.0), -1.0, "sub: - 256"),
        (_add(neg_d, off_sub), 512.0, "sub: + 512 [d < 0] (first half)"),
        (_add(neg_d, off_sub, const=-1.0), -512.0, "sub: + 512 [d < 0] (second half)"),
    ):
        lay.unit(gate, {"one": 1.0}, {"T": coef}, doc)


def _neg(form: dict[str, float]) -> dict[str, float]:
    return {k: -v for k, v in form.items()}


def _embedding(features: tuple[str, ...]) -> np.ndarray:
    idx = {f: i for i, f in enumerate(features)}
    e = np.zeros((L.IN_VOCAB, len(features)))
    e[:, idx["one"]] = 1.0
    for v in range(512):  # b.. and c..
        e[v, idx["is_pay"]] = 1.0
        e[v, idx["val"]] = v & 0xFF
        e[v, idx["flag"]] = v >> 8
    for c in range(tr.MUL_CARRY_LIMIT):
        e[tr.MUL_CARRY + c, idx["mcarry"]] = c
    for i in tr.OP_ID.values():
        e[i, idx["is_mark"]] = 1.0
    for pc in range(tr.PC_LIMIT):
        e[tr.target_token(pc), idx["is_tgt"]] = 1.0
        e[tr.target_token(pc), idx["val"]] = pc
    for name in ("br", "br_if.taken", "br_table", "if.else", "else", "call", "call_indirect"):
        e[tr.OP_ID[name], idx["jump_tok"]] = 1.0
    e[tr.OP_ID["br_if.fallthrough"], idx["fall_tok"]] = 1.0
    e[tr.OP_ID["host.input_i32"], idx["is_in"]] = 1.0
    frames.embed(e, idx)
    for v in range(256):
        e[L.INIT_BASE + v, idx["is_init"]] = 1.0
        e[L.INIT_BASE + v, idx["val"]] = v
    for v in range(L.NUM_LIMIT):
        e[L.NUM_BASE + v, idx["val"]] = v
    for v in range(256):
        e[L.GLOBAL_INIT_BASE + v, idx["is_ginit"]] = 1.0
        e[L.GLOBAL_INIT_BASE + v, idx["val"]] = v
    memory.embed(e, idx)
    divide.embed(e, idx)
    start.embed(e, idx)
    return e


def _unembedding(features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.arange(L.OUT_VOCAB, dtype=np.float64)
    w = np.zeros((L.OUT_VOCAB, len(features)))
    w[:, features.index("T")] = 2.0 * ids
    return w, -ids * ids


@dataclass(frozen=True, slots=True)
class ExecutorWeights:
    circuit: Circuit
    compiled: CircuitWeights
    embedding: np.ndarray  # (IN_VOCAB, D)
    unembedding: np.ndarray  # (OUT_VOCAB, D)
    unembedding_bias: np.ndarray  # (OUT_VOCAB,)


def _pair_offsets(c: Circuit, lay: Layer) -> None:
    """copy2 moves two results, the first an i32: its bytes 4.. are bytes 0.. of the next slot,
    4 stack bytes further on, both where they are read and where they are written."""
    c.feature("pair_r", "[copy2 and j >= 4]: byte j is read 4 bytes further on")
    c.feature("pair_w", "[copy2 and j - 1 >= 4]: this payload byte is written 4 bytes further on")
    off = {"is_copy2": shifts.WIDE, "one": -shifts.WIDE}  # j < 2^20 on trace tokens
    for feat, first in (("pair_r", 4.0), ("pair_w", 5.0)):
        _step(lay, _add(J, off, const=1.0 - first), feat,
              f"{feat} = [j >= {int(first)}] on a copy2 step")


def build_circuit() -> Circuit:
    c = Circuit(inputs=tuple(INPUTS))
    for name, doc in INPUTS.items():
        c.docs[name] = doc
    _where(c)
    _which(c)
    _what(c)
    total, _, based = frames.frame_layers(c)
    _pair_offsets(c, total)
    frames.payload_keys(based, J)
    frames.scale_keys(c)
    _operands(c)
    return c


def build() -> ExecutorWeights:
    """Compile the executor's weights (deterministic: same arrays every time)."""
    circuit = build_circuit()
    compiled = compile_circuit(circuit)
    w_u, b_u = _unembedding(compiled.features)
    return ExecutorWeights(circuit, compiled, _embedding(compiled.features), w_u, b_u)
