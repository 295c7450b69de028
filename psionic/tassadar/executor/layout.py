"""The executor's fixed layout: input vocabulary, prompt sections, record fields, constants.

The model reads tokens from an *input* vocabulary that extends the trace
vocabulary (``tassadar.trace.v3``, whose ids it also emits) with prompt-only
tokens: ``i<v>`` (one byte of an initial stack slot: an argument or a
declared local), ``g<v>`` (one byte of a global's initial value) and ``n<v>``
(a small number in a header or instruction-record field). The prompt is
laid out as::

    n<record base> n<bound % 4096> n<bound // 4096> n<globals base> n<tables base>
    n<inputs base> n<number of inputs>     header, positions 0..6
    i.. (8 per slot)                       initial stack bytes; position p is stack byte p - 7
    g.. (8 per global)                     initial globals; global g is stack slot 1000 + g
    n.. (one per br_table entry)           branch tables: each br_table's targets, default last
    n.. (4 per input)                      the run's inputs for host.input_i32, bytes low first
    n.. (RECORD per record)                the record of pc p at record base + RECORD * p
    p<entry pc>                            a target token: decoding starts after it

There is one record per lowered instruction of the whole program (zeros for
the instructions the entry function cannot reach). The pc of the current
step is the newest target token's pc plus the steps since it (trace v2).
"""

from __future__ import annotations

from psionic.tassadar import trace as tr

OUT_VOCAB = len(tr.VOCAB.names)  # ids the model emits (the trace vocabulary)
INIT_BASE = OUT_VOCAB  # i0 .. i255
NUM_BASE = INIT_BASE + 256  # n0 .. n(NUM_LIMIT - 1)
NUM_LIMIT = 4096
GLOBAL_INIT_BASE = NUM_BASE + NUM_LIMIT  # g0 .. g255
IN_VOCAB = GLOBAL_INIT_BASE + 256

HEADER = 7  # record base, step bound (low, high), globals base, tables base, inputs base, inputs
STACK_BASE = HEADER  # position of stack byte 0
GLOBAL_SLOT = 1000  # global g lives in stack slot GLOBAL_SLOT + g (bytes 8 * (1000 + g) + k)
SINK_SLOT = 999  # host.output_i32 writes its bytes here: a slot no program reads
MAX_GLOBALS = 400

# record fields, in order; RECORD tokens per record
FIELDS = ("op", "width", "kind", "mul", "ext_n", "ext_signed", "src_a", "src_b", "src_c", "dst", "after",
          "target", "cond", "tlen", "imm0", "imm1", "imm2", "imm3", "imm4", "imm5", "imm6", "imm7",
          "skip")  # skip: payload tokens before the written bytes (a division's scratch)
FIELD = {name: i for i, name in enumerate(FIELDS)}
RECORD = len(FIELDS)

# payload kinds of a step (the ``kind`` field)
COMPARISONS = ("eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u")
BITWISE = ("and", "or", "xor")
KINDS = ("none", "const", "copy", "add", "sub", "eqz", *COMPARISONS, "select", *BITWISE, "extend", "shl", "shr_u", "shr_s",
         "br_table", "input", "div_u", "div_s", "rem_u", "rem_s", "rotl", "rotr",
         "clz", "ctz", "popcnt")
KIND = {name: i for i, name in enumerate(KINDS)}

# numeric bounds that the margins below rely on (checked when a prompt is laid out)
MAX_POSITION = 1 << 24  # positions of prompt and trace tokens
MAX_SLOTS = 999  # stack slots a program may touch (below the sink): addresses below 8 * 1000
RECENCY = float(1 << 24)  # M: address scores are scaled by M so that recency (pos < M) breaks ties
MARK_WEIGHT = float(1 << 25)  # a mark outranks any recency difference
GATE = 8192.0  # C: larger than any value a gated unit passes (token ids, sums of two bytes)
assert OUT_VOCAB <= GATE
WIDE_GATE = float(1 << 34)  # larger than any difference of two i32 values
POS_GATE = float(1 << 25)  # larger than any position
ADDR_GATE = float(1 << 20)  # larger than any stack byte address computed from a record
