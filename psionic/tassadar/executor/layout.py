"""The executor's fixed layout: input vocabulary, prompt sections, record fields, constants.

The model reads tokens from an *input* vocabulary that extends the trace
vocabulary (``tassadar.trace.v3``, whose ids it also emits) with prompt-only
tokens: ``i<v>`` (one byte of an initial stack slot: an argument or a
declared local), ``g<v>`` (one byte of a global's initial value) and ``n<v>``
(a small number in a header or instruction-record field) and ``m<v>`` (one
byte of the initial memory image laid out from the data segments). The prompt is
laid out as::

    n<record base> n<bound % 4096> n<bound // 4096> n<globals base> n<tables base>
    n<inputs base> n<number of inputs>     header, positions 0..6
    n<pages> n<declared max % 4096> n<declared max // 4096> n<limit> n<scale / 4096>
    n<centre / 4096> n<image base> n<image start / 64>
                                           memory header, positions 7..14 (``memory.py``)
    n<scale / 8192> n<centre / 64> n<frame slots % 4096> n<frame slots // 4096>
                                           stack header, positions 15..18 (``stack_layout.py``)
    i.. (8 per slot)                       initial stack bytes; position p is byte p - 19 of
                                           the entry's frame (stack byte 8 * 1400 + p - 19)
    g.. (8 per global)                     initial globals; global g is stack slot 1000 + g
    n.. (one per br_table entry)           branch tables: each br_table's targets, default last
    n.. (4 per input)                      the run's inputs for host.input_i32, bytes low first
    m.. (1 per byte)                       the data segments' initial memory image
    n0 ..                                  with calls, padding: the frame base is rounded by
                                           reads at positions up to its 64th part (frames.py)
    n.. (RECORD per record)                the record of pc p at record base + RECORD * p
    s                                      only with a start function: call depth +1
    p<entry pc>                            a target token: decoding starts after it (the
                                           start function's pc when there is one)

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
MEM_INIT_BASE = GLOBAL_INIT_BASE + 256  # m0 .. m255: initial memory bytes (data segments)
START_TOKEN = MEM_INIT_BASE + 256  # s: call depth +1 in a prompt whose run begins in a start
IN_VOCAB = START_TOKEN + 1  # function (start.py)

# record base, step bound (low, high), globals base, tables base, inputs base, inputs, then
# the memory header: initial pages, declared maximum (mod 4096, // 4096), page limit, recency
# scale / 4096, centre of the addresses / 4096, position of the memory image, its start / 64
MEM_HEADER = ("mem_pages", "mem_declared", "mem_declared_hi", "mem_limit", "mem_scale",
              "mem_center", "mem_dbase", "mem_dstart")
MEM_HEADER_AT = {name: 7 + i for i, name in enumerate(MEM_HEADER)}
# the stack header (``stack_layout.py``): recency scale S / 8192 of the stack keys, centre of
# their byte addresses / 64, frame slots the run may use (mod 4096, // 4096)
STACK_HEADER = ("st_scale", "st_center", "st_slots_lo", "st_slots_hi")
STACK_HEADER_AT = {name: 7 + len(MEM_HEADER) + i for i, name in enumerate(STACK_HEADER)}
HEADER = 7 + len(MEM_HEADER) + len(STACK_HEADER)
STACK_BASE = HEADER  # position of the entry frame's byte 0
GLOBAL_SLOT = 1000  # global g lives in stack slot GLOBAL_SLOT + g (bytes 8 * (1000 + g) + k)
SINK_SLOT = 999  # host.output_i32 writes its bytes here: a slot no program reads
MAX_GLOBALS = 400
FRAME_ORIGIN = GLOBAL_SLOT + MAX_GLOBALS  # frame slot s at frame base fp is stack slot 1400+fp+s

# record fields, in order; RECORD tokens per record
FIELDS = ("op", "width", "kind", "mul", "ext_n", "ext_signed", "src_a", "src_b", "src_c", "dst", "after",
          "target", "cond", "tlen", "imm0", "imm1", "imm2", "imm3", "imm4", "imm5", "imm6", "imm7",
          # calls (frames.py): frame delta, call-depth bound (low, high), a return to a caller,
          # a read of a declared local that is zero on entry, call_indirect's type and table
          "fr_d", "fr_lim_lo", "fr_lim_hi", "fr_ret", "fr_stale", "fr_want", "fr_toff", "fr_need",
          "skip")  # skip: payload tokens before the written bytes (a division's scratch)
FIELD = {name: i for i, name in enumerate(FIELDS)}
RECORD = len(FIELDS)

# payload kinds of a step (the ``kind`` field)
COMPARISONS = ("eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u")
COMPARISONS64 = tuple(f"{op}64" for op in COMPARISONS)  # i64 operands (compare64.py)
BITWISE = ("and", "or", "xor")
KINDS = ("none", "const", "copy", "add", "sub", "eqz", *COMPARISONS, "select", *BITWISE, "extend", "shl", "shr_u", "shr_s",
         "br_table", "input", "load", "store", "msize", "mgrow", "div_u", "div_s", "rem_u",
         "rem_s", "rotl", "rotr", "clz", "ctz", "popcnt", "eqz64", *COMPARISONS64,
         "copy2")  # copy2: two values, the first an i32 (bytes 4.. come from the next slot)
KIND = {name: i for i, name in enumerate(KINDS)}

# numeric bounds that the margins below rely on (checked when a prompt is laid out)
MAX_POSITION = 1 << 24  # positions of prompt and trace tokens
MAX_SLOTS = 999  # slots one frame may use: record slots below the sink are frame-relative
RECENCY = float(1 << 24)  # M: depth scores are scaled by M so that recency (pos < M) breaks ties
MARK_WEIGHT = float(1 << 25)  # a mark outranks any recency difference
GATE = 8192.0  # C: larger than any value a gated unit passes (token ids, sums of two bytes)
assert OUT_VOCAB <= GATE
WIDE_GATE = float(1 << 34)  # larger than any difference of two i32 values
POS_GATE = float(1 << 25)  # larger than any position
ADDR_GATE = float(1 << 24)  # larger than any stack byte address computed from a record
MAX_DEPTH = 11584  # call depth the frame heads address exactly (2 M d (d + 1) <= 2^52)

# the stack (``stack_layout.py``): the latest write to stack byte a has key
# (2 S a', -S a'^2 + pos), a' = a - centre, S a power of two with S a'^2 <= 2^52 over the
# bytes the run can reach and S > every position, as for linear memory below
STACK_SCALE_UNIT = 8192  # the header holds S / 8192
STACK_CENTER_UNIT = 64  # the header holds the centre / 64
FP_SNAP = 64  # the frame base is rounded as 64 h + l: h by one read, then l (frames.py)
FP_SNAP_OFFSET = 40  # l is read at position l + 40 (|l| <= 32: the prompt is longer)

# linear memory (``memory.py``): the latest write to byte address a has key
# (2 S a', -S a'^2 + pos), a' = a - centre, with the recency scale S > every position and
# S a'^2 <= 2^52, so the covered memory and the run's positions share a float64's 53 bits
PAGE = 65536
MEM_MAX_PAGES = 4  # addresses below 2^18: |a'| <= 2^17, S >= 2^18 positions
MEM_SCALE_UNIT = 4096  # the header holds S / 4096
MEM_DSTART_UNIT = 64  # the header holds the image's start address / 64
MEM_ADDR_GATE = float(1 << 38)  # larger than any address computed from src_c and an offset,
# also from the n.. values (< 4096 each) that prompt tokens read as operand bytes
MEM_OFFSET_CLAMP = MEM_MAX_PAGES * PAGE + 1  # a larger static offset traps like this one
