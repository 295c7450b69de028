"""The executor's decode loop as one compiled kernel: sparse weights, hull or brute-force lookups.

``Session`` runs the forward pass in numpy, one small array operation after
another; per token that is hundreds of Python-level calls over mostly-zero
dense matrices. ``CompiledModel`` holds the same weights as one CSR matrix
(the rows of every layer's q/k/v, output, ReGLU gate/value and ReGLU output
maps, in order) and ``decode`` runs feeding and greedy emission inside one
numba function: per token the embedding row, ~32k multiply-adds, and per
hard-max head one hull insertion and one bisection (``hull_kernels``), or,
with ``lookup="linear"``, a scan of every earlier key (the O(n) peer, same
engine). Uniform heads keep running sums.

The arithmetic is the model's: float64 throughout, every construction value
an integer; only the order of additions in a matrix row differs from the
dense product, which the construction's margins absorb (the tests compare
every token with the reference trace and with ``Session``).

>>> from psionic.tassadar.executor.model import Model
>>> cm = CompiledModel.of(Model.load())
>>> cm.n_hardmax + cm.n_uniform == Model.load().n_heads
True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numba import njit

from psionic.core.errors import InvalidInput, UnsupportedOperation
from psionic.tassadar import hull_kernels as K
from psionic.tassadar import trace as tr
from psionic.tassadar.executor.attention import MODES
from psionic.tassadar.executor.decode import ExecutorOutcome, Generation, decode_linear, generate
from psionic.tassadar.executor.model import Model, _LayerPlan
from psionic.tassadar.ingress import LoadedProgram

LOOKUPS = {"hull": 0, "linear": 1}
OK, OUT_OF_RANGE, NO_HALT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class CompiledModel:
    """A ``Model`` as flat arrays for the compiled loop (built once per model)."""

    embedding: np.ndarray  # (IN_VOCAB, D)
    indptr: np.ndarray  # CSR over every stage's rows, in execution order
    indices: np.ndarray
    data: np.ndarray
    # (5 L + 1,): stage k = 5 l + (qkv, o, gate, value, out) owns rows [k] .. [k+1]; the out
    # stage is stored by unit (row u: the features unit u adds into), so idle units cost nothing
    stage_rows: np.ndarray
    row_target: np.ndarray  # feature each o row adds into (-1 for the other rows)
    layer_heads: np.ndarray  # (L,) heads per layer
    layer_nv: np.ndarray  # (L,) values per head
    head_hardmax: np.ndarray  # (G,) index among hard-max heads, -1 for uniform heads
    head_vbase: np.ndarray  # (G,) first value column of the head in the value store
    n_values: int  # value columns over all hard-max heads
    unembedding_indptr: np.ndarray
    unembedding_indices: np.ndarray
    unembedding_data: np.ndarray
    unembedding_bias: np.ndarray

    @property
    def n_hardmax(self) -> int:
        return int(np.sum(self.head_hardmax >= 0))

    @property
    def n_uniform(self) -> int:
        return int(np.sum(self.head_hardmax < 0))

    @classmethod
    def of(cls, model: Model) -> CompiledModel:
        rows: list[np.ndarray] = []  # one dense row over the D features per CSR row
        targets: list[int] = []
        stage_rows = [0]
        layer_heads, layer_nv, head_hm, head_vbase = [], [], [], []
        n_hm = n_values = 0
        d = model.width

        def add(matrix: np.ndarray, cols: np.ndarray, target: np.ndarray | None) -> None:
            for r in range(matrix.shape[0]):
                if target is None:  # reads the residual: columns are features
                    row = np.zeros(d)
                    row[cols] = matrix[r]
                else:  # reads the chosen values or the units
                    row = matrix[r]
                rows.append(row)
                targets.append(-1 if target is None else int(target[r]))
            stage_rows.append(stage_rows[-1] + matrix.shape[0])

        for lw in model.layers:
            p = _LayerPlan.of(lw)
            add(p.w_qkv, p.qkv_cols, None)
            add(p.w_o, np.arange(p.w_o.shape[1]), p.o_rows)  # columns: chosen values, flat
            units = p.w_gv.shape[0] // 2
            add(p.w_gv[:units], p.ffn_cols, None)
            add(p.w_gv[units:], p.ffn_cols, None)
            by_unit = np.zeros((units, d))
            by_unit[:, p.out_rows] = p.w_out.T
            add(by_unit, np.arange(d), None)
            layer_heads.append(p.heads)
            layer_nv.append(p.nv)
            uniform = set(p.uniform.tolist())
            for h in range(p.heads):
                if h in uniform:
                    head_hm.append(-1)
                    head_vbase.append(-1)
                else:
                    head_hm.append(n_hm)
                    head_vbase.append(n_values)
                    n_hm += 1
                    n_values += p.nv
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for row in rows:
            nz = np.flatnonzero(row)
            indices += nz.tolist()
            data += row[nz].tolist()
            indptr.append(len(indices))
        u = model.unembedding
        u_ptr, u_idx, u_val = [0], [], []
        for r in range(u.shape[0]):
            nz = np.flatnonzero(u[r])
            u_idx += nz.tolist()
            u_val += u[r, nz].tolist()
            u_ptr.append(len(u_idx))
        i64 = np.int64
        return cls(np.ascontiguousarray(model.embedding), np.array(indptr, i64),
                   np.array(indices, i64), np.array(data, np.float64), np.array(stage_rows, i64),
                   np.array(targets, i64), np.array(layer_heads, i64), np.array(layer_nv, i64),
                   np.array(head_hm, i64), np.array(head_vbase, i64), n_values,
                   np.array(u_ptr, i64), np.array(u_idx, i64), np.array(u_val, np.float64),
                   np.ascontiguousarray(model.unembedding_bias, dtype=np.float64))


@njit(cache=True)
def _grow_columns(a: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


@njit(cache=True)
def _grow_rows(a: np.ndarray) -> np.ndarray:
    out = np.zeros((2 * a.shape[0], a.shape[1]), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _rows_times(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, r0: int, r1: int,
                src: np.ndarray, dst: np.ndarray) -> None:
    for r in range(r0, r1):
        acc = 0.0
        for j in range(indptr[r], indptr[r + 1]):
            acc += data[j] * src[indices[j]]
        dst[r - r0] = acc


@njit(cache=True)
def _room(t: int, lookup: int, state: tuple) -> tuple:
    """``state`` with room for position ``t``: value rows, linear keys, one more hull point."""
    x, values, keys, xs, ys, sq, lens, ext, sums, scratch, chosen, act, live = state
    if t >= values.shape[0]:
        values = _grow_rows(values)
        if lookup == 1:
            keys = _grow_rows(keys)
    if np.max(lens) >= xs.shape[1]:
        xs, ys, sq = _grow_columns(xs), _grow_columns(ys), _grow_columns(sq)
    return (x, values, keys, xs, ys, sq, lens, ext, sums, scratch, chosen, act, live)


@njit(cache=True)
def _forward(token: int, t: int, lookup: int, weights: tuple, state: tuple,
             counts: np.ndarray) -> int:
    """The forward pass of ``token`` at position ``t``: updates the residual ``x`` and the
    caches in ``state`` (which has room, ``_room``); ``OK`` or ``OUT_OF_RANGE``."""
    emb, indptr, indices, data, stage_rows, row_target, layer_heads, layer_nv, head_hm, \
        head_vbase = weights
    x, values, keys, xs, ys, sq, lens, ext, sums, scratch, chosen, act, live = state
    for i in range(x.shape[0]):
        x[i] = emb[token, i]
    x[1] = t
    x[2] = float(t) * t
    n = t + 1
    head_base = 0
    for layer in range(layer_heads.shape[0]):
        heads, nv = layer_heads[layer], layer_nv[layer]
        k = 5 * layer
        if heads > 0:
            _rows_times(indptr, indices, data, stage_rows[k], stage_rows[k + 1], x, scratch)
            for h in range(heads):
                g = head_base + h
                m = head_hm[g]
                vrow = 4 * heads + h * nv
                if m < 0:
                    for j in range(nv):
                        sums[g, j] += scratch[vrow + j]
                        chosen[h * nv + j] = sums[g, j] / n
                    continue
                vb = head_vbase[g]
                for j in range(nv):
                    values[t, vb + j] = scratch[vrow + j]
                kx, ky = scratch[2 * heads + 2 * h], scratch[2 * heads + 2 * h + 1]
                qx, qy = scratch[2 * h], scratch[2 * h + 1]
                if lookup == 1:
                    keys[t, 2 * m], keys[t, 2 * m + 1] = kx, ky
                    best = keys[0, 2 * m] * qx + keys[0, 2 * m + 1] * qy
                    pos = 0
                    for s in range(1, n):
                        score = keys[s, 2 * m] * qx + keys[s, 2 * m + 1] * qy
                        if score > best:
                            best, pos = score, s
                    counts[0] += n
                else:
                    if not K.key_in_range(kx, ky):
                        return OUT_OF_RANGE
                    K.head_insert(xs, ys, sq, lens, ext, m, t, kx, ky)
                    pos = K.head_query(xs, ys, sq, lens, ext, m, qx, qy, counts)
                    if pos < 0:
                        return OUT_OF_RANGE
                for j in range(nv):
                    chosen[h * nv + j] = values[pos, vb + j]
            r0, r1 = stage_rows[k + 1], stage_rows[k + 2]
            _rows_times(indptr, indices, data, r0, r1, chosen, act)
            for r in range(r0, r1):
                x[row_target[r]] += act[r - r0]
        head_base += heads
        # ReGLU: relu(gate) * value; a unit whose gate is shut adds exactly nothing, so
        # its value row and its outputs are skipped (most units are idle on most tokens)
        g0, units = stage_rows[k + 2], stage_rows[k + 3] - stage_rows[k + 2]
        v0, o0 = stage_rows[k + 3], stage_rows[k + 4]
        active = 0
        for u in range(units):
            acc = 0.0
            for j in range(indptr[g0 + u], indptr[g0 + u + 1]):
                acc += data[j] * x[indices[j]]
            if acc > 0.0:
                val = 0.0
                for j in range(indptr[v0 + u], indptr[v0 + u + 1]):
                    val += data[j] * x[indices[j]]
                a = acc * val
                if a != 0.0:
                    act[active] = a
                    live[active] = u
                    active += 1
        for i in range(active):
            a, u = act[i], live[i]
            for j in range(indptr[o0 + u], indptr[o0 + u + 1]):
                x[indices[j]] += data[j] * a
    return OK


@njit(cache=True)
def _feed(tokens: np.ndarray, t: int, lookup: int, weights: tuple, state: tuple,
          counts: np.ndarray) -> tuple:
    """Feed ``tokens`` from position ``t``: (status, next position, state)."""
    for i in range(tokens.shape[0]):
        state = _room(t, lookup, state)
        status = _forward(tokens[i], t, lookup, weights, state, counts)
        if status != OK:
            return status, t, state
        t += 1
    return OK, t, state


@njit(cache=True)
def _emit(max_new: int, t: int, lookup: int, weights: tuple, unembedding: tuple, state: tuple,
          counts: np.ndarray, end_lo: int, end_hi: int) -> tuple:
    """Greedy emission after the fed prefix: the argmax of the logits (first maximum), fed back
    until a token in [end_lo, end_hi) or ``max_new`` tokens: (tokens, count, status, state)."""
    u_ptr, u_idx, u_val, u_bias = unembedding
    out = np.zeros(max_new, dtype=np.int64)
    n_out = 0
    while n_out < max_new:
        x = state[0]
        best_logit = -np.inf
        token = 0
        for v in range(u_bias.shape[0]):
            acc = 0.0
            for j in range(u_ptr[v], u_ptr[v + 1]):
                acc += u_val[j] * x[u_idx[j]]
            acc += u_bias[v]
            if acc > best_logit:
                best_logit, token = acc, v
        out[n_out] = token
        n_out += 1
        if end_lo <= token < end_hi:
            return out, n_out, OK, state
        state = _room(t, lookup, state)
        status = _forward(token, t, lookup, weights, state, counts)
        if status != OK:
            return out, n_out, status, state
        t += 1
    return out, n_out, NO_HALT, state


def _state(cm: CompiledModel, lookup: int) -> tuple:
    n_hm = max(cm.n_hardmax, 1)
    room = 1024
    xs = np.zeros((2 * n_hm, room), dtype=np.int64)
    widest = int(np.max(np.diff(cm.stage_rows), initial=1))
    return (np.zeros(cm.embedding.shape[1]), np.zeros((room, max(cm.n_values, 1))),
            np.zeros((room if lookup == 1 else 1, 2 * n_hm)), xs, np.zeros_like(xs),
            np.zeros_like(xs), np.zeros(2 * n_hm, dtype=np.int64),
            np.full((n_hm, 5), -1, dtype=np.int64),
            np.zeros((len(cm.head_hardmax), max(int(np.max(cm.layer_nv, initial=1)), 1))),
            np.zeros(widest), np.zeros(max(int(np.max(cm.layer_heads * cm.layer_nv,
                                                          initial=1)), 1)),
            np.zeros(widest), np.zeros(widest, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class CompiledRun:
    tokens: list[int]
    status: int  # OK, OUT_OF_RANGE or NO_HALT
    dot_products: int  # score evaluations of the hard-max lookups
    prefill_seconds: float
    decode_seconds: float


def run(cm: CompiledModel, prompt: np.ndarray | Sequence[int], max_new: int,
        lookup: str = "hull") -> CompiledRun:
    """Feed ``prompt`` and emit greedily (at most ``max_new`` tokens) in the compiled loop."""
    code = LOOKUPS[lookup]
    weights = (cm.embedding, cm.indptr, cm.indices, cm.data, cm.stage_rows, cm.row_target,
               cm.layer_heads, cm.layer_nv, cm.head_hardmax, cm.head_vbase)
    counts = np.zeros(1, dtype=np.int64)
    started = time.perf_counter()
    status, t, state = _feed(np.asarray(prompt, dtype=np.int64), 0, code, weights,
                             _state(cm, code), counts)
    fed = time.perf_counter()
    if status != OK:
        return CompiledRun([], int(status), int(counts[0]), fed - started, 0.0)
    unembedding = (cm.unembedding_indptr, cm.unembedding_indices, cm.unembedding_data,
                   cm.unembedding_bias)
    out, n, status, _ = _emit(max_new, t, code, weights, unembedding, state, counts, tr.HALT_ID,
                              tr.OP_BASE)
    return CompiledRun(out[:n].tolist(), int(status), int(counts[0]), fed - started,
                       time.perf_counter() - fed)


_COMPILED: dict[int, tuple[Model, CompiledModel]] = {}


def compiled_model(model: Model) -> CompiledModel:
    """``CompiledModel.of(model)``, built once per model object."""
    hit = _COMPILED.get(id(model))
    if hit is None or hit[0] is not model:
        _COMPILED.clear()  # one model at a time: the weights file
        hit = _COMPILED[id(model)] = (model, CompiledModel.of(model))
    return hit[1]


def generate_compiled(model: Model, prompt: Sequence[int], max_tokens: int,
                      lookup: str = "hull") -> Generation:
    """``decode.generate`` in the compiled loop."""
    done = run(compiled_model(model), prompt, max_tokens, lookup)
    if done.status == OUT_OF_RANGE:  # a value past the int64 hull's range: the exact Python hulls
        return generate(model, prompt, max_tokens, MODES["hull"])
    if done.status == NO_HALT:
        raise UnsupportedOperation(f"the executor emitted {max_tokens} tokens without halting")
    return Generation(done.tokens, done.prefill_seconds, done.decode_seconds)


def decode_compiled(program: LoadedProgram, entry: str | None, args: Sequence[int],
                    inputs: Sequence[int], limits: Any, lookup: str = "hull",
                    model: Model | None = None) -> ExecutorOutcome:
    """``decode_linear`` with the compiled loop and ``lookup`` (``hull`` or ``linear``)."""
    if lookup not in LOOKUPS:
        raise InvalidInput(f"unknown lookup {lookup!r}; known: {sorted(LOOKUPS)}")
    return decode_linear(program, entry, args, inputs, limits, model,
                         generator=partial(generate_compiled, lookup=lookup))
