"""The model card, generated from the compiler's circuit: shape, coverage, every head and unit.

``psionic tassadar card`` prints it; docs/TASSADAR_EXECUTOR.md embeds it
between markers, and a test keeps the two equal.

>>> "latest_mark" in model_card()
True
"""

from __future__ import annotations

from collections import Counter

from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.compiler import build
from psionic.tassadar.executor.model import WEIGHTS_DIGEST, Model
from psionic.tassadar.executor.prompt import COVERED
from psionic.tassadar.opcodes import PROFILE

PERCEPTA = {"layers": 7, "width": 36, "heads": 18}


def _params(model: Model) -> int:
    total = model.embedding.size + model.unembedding.size + model.unembedding_bias.size
    for lw in model.layers:
        total += sum(a.size for a in (lw.wq, lw.wk, lw.wv, lw.wo, lw.w_gate, lw.w_value, lw.w_out))
    return int(total)


def _nonzero(model: Model) -> int:
    total = 0
    for name, arr in model.tensors().items():
        if name != "layers.uniform":
            total += int((arr != 0).sum())
    return total


def model_card() -> str:
    w = build()
    model = Model.from_weights(w)
    c = w.circuit
    lines = [
        "| | this executor | Percepta |",
        "|---|---|---|",
        f"| layers (attention + ReGLU) | {model.n_layers} | {PERCEPTA['layers']} |",
        f"| model width | {model.width} | {PERCEPTA['width']} |",
        f"| attention heads (query/key dim 2) | {model.n_heads} | {PERCEPTA['heads']} |",
        f"| ReGLU units | {model.n_units} | |",
        f"| parameters (nonzero) | {_params(model)} ({_nonzero(model)}) | |",
        f"| input / output vocabulary | {L.IN_VOCAB} / {L.OUT_VOCAB} | |",
        "",
        f"Weights: `psionic/tassadar/executor/tassadar_executor.safetensors`, `{WEIGHTS_DIGEST}`.",
        "",
        f"**Coverage.** Of the profile `{PROFILE}` the executor runs every function the "
        "entry can reach, with its structured control flow (`block`, `loop`, `if`/`else`, "
        "`br`, `br_if`, `br_table`, branches that move one value, early `return`), calls "
        "(`call`, `call_indirect` through the table with its `table_out_of_bounds`, "
        "`indirect_call_to_null` and `indirect_call_type_mismatch` traps, recursion, the "
        "`call_depth_exceeded` trap; locals and parameters in per-call frames), globals, "
        f"linear memory of at most {L.MEM_MAX_PAGES} pages (loads and stores of every width "
        "and sign with their static offsets, `memory.size`, `memory.grow` with the declared "
        "maximum and the `memory_limit_exceeded` trap, data segments, the "
        "`memory_out_of_bounds` trap), and the host imports `input_i32`/`output_i32` with the "
        "`input_exhausted` trap. It refuses any other program before decoding "
        "(`unsupported_opcode` naming the first uncovered opcode, or `unsupported_operation` "
        "for start functions that call or that the entry also runs, instantiation traps, calls of the entry function, host imports "
        "in the table, more than two results or the size bounds), and a run whose call stack "
        f"passes the executor's exact range ({L.MAX_DEPTH} frames; the frame slots the "
        "prompt's stack header covers, at least 3,688 and the whole reach of the frames "
        "where that leaves the run 2^21 positions) when it gets there. The covered lowered "
        "opcodes:",
        "",
        ", ".join(f"`{name}`" for name in COVERED) + ".",
        "",
        "i64 is covered for constants, locals, globals, `add`, `sub`, `and`, `or`, `xor`, "
        "`select`, wrap, the extensions, `mul`, `div`/`rem`, shifts, rotations, the counts "
        "(`clz`, `ctz`, `popcnt`), `eqz` and the ten comparisons (high halves first, then "
        "the low halves unsigned). Functions return up to two results (multi-value). A start function runs first, "
        "in slots above the entry's. "
        "`div_s`/`div_u`/`rem_s`/`rem_u` of both widths run as restoring long division in "
        "scratch tokens (trace ABI 4.3) with both traps, over base-256 digits so that i64 "
        "stays exact. Refused: `br_table` entries that move different "
        f"values, memories that can grow past {L.MEM_MAX_PAGES} pages.",
        "",
        "### Residual features",
        "",
        "| # | feature | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| {i} | `{f}` | {c.docs.get(f, '')} |" for i, f in enumerate(c.features)]
    for li, layer in enumerate(c.layers, 1):
        lines += ["", f"### Layer {li}", "", "| head | kind | reads | explanation |",
                  "|---|---|---|---|"]
        for h in layer.heads:
            reads = ", ".join(f"`{src}` -> `{dst}`" for src, dst in h.reads)
            lines.append(f"| `{h.name}` | {h.kind} | {reads} | {h.doc} |")
        lines += ["", "| ReGLU units | writes | explanation |", "|---|---|---|"]
        groups: Counter[tuple[str, str]] = Counter()
        for u in layer.units:
            groups[(", ".join(f"`{k}`" for k in u.out), u.doc)] += 1
        lines += [f"| {n} | {out} | {doc} |" for (out, doc), n in groups.items()]
    return "\n".join(lines) + "\n"
