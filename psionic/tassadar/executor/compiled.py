"""The executor's decode loop as one compiled kernel: sparse weights, hull or brute-force lookups.

``Session`` runs the forward pass in numpy, one small array operation after
another; per token that is hundreds of Python-level calls over mostly-zero
dense matrices. ``CompiledModel`` (``compiled_plan.py``) holds the same
weights as flat arrays shaped by what they read, and ``run`` feeds the prompt
and emits greedily inside numba functions. Per token: the embedding row; per
layer the q/k/v rows (by column, over the non-zero features), per hard-max
head one hull insertion (heads with equal keys share one hull) and one
bisection (``hull_kernels``), or, with ``lookup="linear"``, a scan of every
earlier key (the O(n) peer, same engine); uniform heads keep running sums;
then the ReGLU block by unit groups (all gates by column, then a bisection
per open group, not per unit); and the logits' argmax by a bisection on
their hull.

Memory grows with what is stored: each hull chain has its own region in a
shared pool and doubles on its own; per position only the token id and the
values that are not a function of it (a handful of columns) are kept.

The arithmetic is the model's: float64 throughout, every construction value
an integer; only the order of additions differs from the dense product,
which the construction's margins absorb (the tests compare every token with
the reference trace and with ``Session``).

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
from psionic.tassadar.executor.compiled_plan import NO_VALUE, CompiledModel
from psionic.tassadar.executor.decode import ExecutorOutcome, Generation, decode_linear, generate
from psionic.tassadar.executor.model import Model
from psionic.tassadar.ingress import LoadedProgram

LOOKUPS = {"hull": 0, "linear": 1}
# The per-token kernels allocate nothing, so they run without numba's reference counting
# (``_nrt=False``): with it, every array passed to a call paid two atomic updates, the larger
# part of a token's time.
OK, OUT_OF_RANGE, NO_HALT = 0, 1, 2


@njit(cache=True)
def _grow_rows(a: np.ndarray, need: int) -> np.ndarray:
    """``a`` with at least ``need`` rows: the row count doubled until it fits."""
    rows = max(a.shape[0], 1)
    while rows < need:
        rows *= 2
    if rows == a.shape[0]:
        return a
    out = np.zeros((rows,) + a.shape[1:], dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@K.refcount_free
def _rows_times(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, r0: int, r1: int,
                src: np.ndarray, dst: np.ndarray) -> None:
    for r in range(r0, r1):
        acc = 0.0
        for j in range(indptr[r], indptr[r + 1]):
            acc += data[j] * src[indices[j]]
        dst[r - r0] = acc


@K.refcount_free
def _columns_times(layer: int, layer_ptr: np.ndarray, feature: np.ndarray, col_ptr: np.ndarray,
                   row: np.ndarray, coef: np.ndarray, n_rows: int, src: np.ndarray,
                   dst: np.ndarray) -> None:
    """``dst[:n_rows]``: layer ``layer``'s rows (``compiled_plan.LayerColumns``) times ``src``,
    skipping the columns of the features that are zero (the same floats as ``_rows_times``)."""
    for r in range(n_rows):
        dst[r] = 0.0
    for c in range(layer_ptr[layer], layer_ptr[layer + 1]):
        v = src[feature[c]]
        if v != 0.0:
            for j in range(col_ptr[c], col_ptr[c + 1]):
                dst[row[j]] += coef[j] * v


@K.refcount_free
def _value(p: int, col: int, values: np.ndarray, toks: np.ndarray, table: np.ndarray,
           table_pos: np.ndarray) -> float:
    """Value column ``col`` (``head_value`` code) of position ``p``."""
    if col >= 0:
        return values[p, col]
    i = -1 - col
    return table[i, toks[p]] + table_pos[i, 0] * p + table_pos[i, 1] * (float(p) * p)


@K.refcount_free
def _units(layer: int, x: np.ndarray, dx: np.ndarray, gate_sums: np.ndarray,
           layer_ptr: np.ndarray, gc_layer_ptr: np.ndarray, gc_feature: np.ndarray,
           gc_col_ptr: np.ndarray, gc_group: np.ndarray, gc_coef: np.ndarray,
           first_bias: np.ndarray, v_ptr: np.ndarray, v_idx: np.ndarray, v_val: np.ndarray,
           unit_ptr: np.ndarray, bias: np.ndarray, out_ptr: np.ndarray, out_idx: np.ndarray,
           prefix_ptr: np.ndarray, prefix1: np.ndarray, prefix2: np.ndarray,
           layer_out_ptr: np.ndarray, layer_out_idx: np.ndarray) -> None:
    """The layer's ReGLU block on ``x``: every group's gate at once, by column over the non-zero
    features (``gate_sums``, all zero on entry and on exit); per group whose most open unit is
    open, a bisection over its sorted biases for the open units, then their summed outputs
    (prefix sums centred on the group's first unit, ``compiled_plan.UnitGroups``)."""
    for c in range(gc_layer_ptr[layer], gc_layer_ptr[layer + 1]):
        xf = x[gc_feature[c]]
        if xf != 0.0:
            for j in range(gc_col_ptr[c], gc_col_ptr[c + 1]):
                gate_sums[gc_group[j]] += gc_coef[j] * xf
    for gi in range(layer_ptr[layer], layer_ptr[layer + 1]):
        s = gate_sums[gi]
        gate_sums[gi] = 0.0
        s0 = s + first_bias[gi]  # the most open unit's gate
        if not s0 > 0.0:
            continue  # the most open unit is shut: so are all
        u0, u1 = unit_ptr[gi], unit_ptr[gi + 1]
        lo, hi = u0 + 1, u1
        while lo < hi:
            mid = (lo + hi) >> 1
            if s + bias[mid] > 0.0:
                lo = mid + 1
            else:
                hi = mid
        v = 0.0
        for j in range(v_ptr[gi], v_ptr[gi + 1]):
            v += v_val[j] * x[v_idx[j]]
        if v == 0.0:
            continue
        o0 = out_ptr[gi]
        nf = out_ptr[gi + 1] - o0
        base = prefix_ptr[gi] + (lo - u0) * nf
        for i in range(nf):
            dx[out_idx[o0 + i]] += v * (s0 * prefix1[base + i] + prefix2[base + i])
    for i in range(layer_out_ptr[layer], layer_out_ptr[layer + 1]):
        f = layer_out_idx[i]
        x[f] += dx[f]
        dx[f] = 0.0


@K.refcount_free
def _forward(token: int, t: int, lookup: int, weights: tuple, groups: tuple, state: tuple,
             counts: np.ndarray) -> int:
    """The forward pass of ``token`` at position ``t``: updates the residual ``x`` and the
    caches in ``state`` (which has room: ``_room``); ``OK`` or ``OUT_OF_RANGE``."""
    emb, indptr, indices, data, stage_rows, row_target, qc_layer_ptr, qc_feature, qc_col_ptr, \
        qc_row, qc_coef, layer_heads, layer_nv, head_hm, head_group, head_inserts, head_value, \
        head_writes, table, table_pos = weights
    x, dx, values, toks, keys, px, py, ps, start, cap, lens, used, ext, sums, scratch, \
        chosen, hints, gate_sums = state
    for i in range(x.shape[0]):
        x[i] = emb[token, i]
    x[1] = t
    x[2] = float(t) * t
    toks[t] = token
    n = t + 1
    head_base = 0
    for layer in range(layer_heads.shape[0]):
        heads, nv = layer_heads[layer], layer_nv[layer]
        if heads > 0:
            _columns_times(layer, qc_layer_ptr, qc_feature, qc_col_ptr, qc_row, qc_coef,
                           stage_rows[2 * layer + 1] - stage_rows[2 * layer], x, scratch)
            for h in range(heads):
                g = head_base + h
                vrow = 4 * heads + h * nv
                if head_hm[g] < 0:
                    for j in range(nv):
                        sums[g, j] += scratch[vrow + j]
                        chosen[h * nv + j] = sums[g, j] / n
                    continue
                for j in range(nv):
                    if head_writes[g, j]:
                        values[t, head_value[g, j]] = scratch[vrow + j]
                kg = head_group[g]
                kx, ky = scratch[2 * heads + 2 * h], scratch[2 * heads + 2 * h + 1]
                qx, qy = scratch[2 * h], scratch[2 * h + 1]
                if lookup == 1:
                    if head_inserts[g]:
                        keys[t, 2 * kg], keys[t, 2 * kg + 1] = kx, ky
                    best = keys[0, 2 * kg] * qx + keys[0, 2 * kg + 1] * qy
                    pos = 0
                    for s in range(1, n):
                        score = keys[s, 2 * kg] * qx + keys[s, 2 * kg + 1] * qy
                        if score > best:
                            best, pos = score, s
                    counts[0] += n
                else:
                    if head_inserts[g]:
                        if not K.key_in_range(kx, ky):
                            return OUT_OF_RANGE
                        K.pool_insert(px, py, ps, start, lens, ext, kg, t, kx, ky)
                    pos = K.pool_query_near(px, py, ps, start, lens, ext, kg, qx, qy,
                                            hints[head_hm[g]], counts)
                    if pos < 0:
                        return OUT_OF_RANGE
                for j in range(nv):
                    col = head_value[g, j]
                    chosen[h * nv + j] = 0.0 if col == NO_VALUE else \
                        _value(pos, col, values, toks, table, table_pos)
            r0, r1 = stage_rows[2 * layer + 1], stage_rows[2 * layer + 2]
            _rows_times(indptr, indices, data, r0, r1, chosen, scratch)
            for r in range(r0, r1):
                x[row_target[r]] += scratch[r - r0]
        head_base += heads
        _units(layer, x, dx, gate_sums, *groups)
    return OK


@njit(cache=True)
def _room(t: int, lookup: int, state: tuple) -> tuple:
    """``state`` with room for position ``t``: stored values, token ids, linear keys, and one
    more point in every hull chain (new arrays only when one had to grow)."""
    x, dx, values, toks, keys, px, py, ps, start, cap, lens, used, ext, sums, scratch, \
        chosen, hints, gate_sums = state
    if t >= toks.shape[0]:
        values = _grow_rows(values, t + 1)
        toks = _grow_rows(toks, t + 1)
        if lookup == 1:
            keys = _grow_rows(keys, t + 1)
    if lookup == 0 and K.pool_full(cap, lens):
        px, py, ps = K.pool_room(px, py, ps, start, cap, lens, used)
    return (x, dx, values, toks, keys, px, py, ps, start, cap, lens, used, ext, sums, scratch,
            chosen, hints, gate_sums)


@njit(cache=True)
def _needs_room(t: int, lookup: int, state: tuple) -> bool:
    return t >= state[3].shape[0] or (lookup == 0 and K.pool_full(state[9], state[10]))


@njit(cache=True)
def _feed(tokens: np.ndarray, t: int, lookup: int, weights: tuple, groups: tuple, state: tuple,
          counts: np.ndarray) -> tuple:
    """Feed ``tokens`` from position ``t``: (status, next position, state)."""
    for i in range(tokens.shape[0]):
        if _needs_room(t, lookup, state):
            state = _room(t, lookup, state)
        status = _forward(tokens[i], t, lookup, weights, groups, state, counts)
        if status != OK:
            return status, t, state
        t += 1
    return OK, t, state


@njit(cache=True)
def _argmax_logits(x: np.ndarray, u_ptr: np.ndarray, u_idx: np.ndarray, u_val: np.ndarray,
                   u_bias: np.ndarray, feature: int, hx: np.ndarray, hy: np.ndarray,
                   hs: np.ndarray, hn: int, scratch_counts: np.ndarray) -> int:
    """The first maximum of the logits: a bisection on their hull when they read one feature,
    else a scan of every row."""
    if feature >= 0:
        ok, ix, iy = K.scaled_query(x[feature], 1.0)
        if ok:
            return K.chain_query_at(hx, hy, hs, 0, hn, ix, iy, scratch_counts)
    best_logit = -np.inf
    token = 0
    for v in range(u_bias.shape[0]):
        acc = 0.0
        for j in range(u_ptr[v], u_ptr[v + 1]):
            acc += u_val[j] * x[u_idx[j]]
        acc += u_bias[v]
        if acc > best_logit:
            best_logit, token = acc, v
    return token


@njit(cache=True)
def _emit(max_new: int, t: int, lookup: int, weights: tuple, groups: tuple, unembedding: tuple,
          state: tuple, counts: np.ndarray, end_lo: int, end_hi: int) -> tuple:
    """Greedy emission after the fed prefix: the argmax of the logits (first maximum), fed back
    until a token in [end_lo, end_hi) or ``max_new`` tokens: (tokens, count, status, state)."""
    u_ptr, u_idx, u_val, u_bias, feature, hx, hy, hs, hn, scratch_counts = unembedding
    out = np.zeros(min(max_new, 1 << 12), dtype=np.int64)
    n_out = 0
    x = state[0]
    while n_out < max_new:
        token = _argmax_logits(x, u_ptr, u_idx, u_val, u_bias, feature, hx, hy, hs, hn,
                               scratch_counts)
        if n_out >= out.shape[0]:
            out = _grow_rows(out, n_out + 1)
        out[n_out] = token
        n_out += 1
        if end_lo <= token < end_hi:
            return out, n_out, OK, state
        if _needs_room(t, lookup, state):
            state = _room(t, lookup, state)
        status = _forward(token, t, lookup, weights, groups, state, counts)
        if status != OK:
            return out, n_out, status, state
        t += 1
    return out, n_out, NO_HALT, state


def _state(cm: CompiledModel, lookup: int) -> tuple:
    room = 1 << 10
    groups = max(cm.n_groups_keys, 1)
    widest = int(np.max(np.diff(cm.stage_rows), initial=1))
    d = cm.embedding.shape[1]
    return (np.zeros(d), np.zeros(d), np.zeros((room, max(cm.n_stored, 1))),
            np.zeros(room, dtype=np.int32),
            np.zeros((room if lookup == 1 else 1, 2 * groups)), *K.pool_new(2 * groups),
            np.full((groups, 5), -1, dtype=np.int64),
            np.zeros((len(cm.head_hardmax), max(int(np.max(cm.layer_nv, initial=1)), 1))),
            np.zeros(max(widest, 1)),
            np.zeros(max(int(np.max(cm.layer_heads * cm.layer_nv, initial=1)), 1)),
            np.zeros((max(cm.n_hardmax, 1), 2), dtype=np.int64),  # each head's last answers
            np.zeros(max(cm.n_groups, 1)))  # the unit groups' gates, by column (_units)


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
    weights = cm.kernel_weights()
    groups = cm.units.arrays()
    counts = np.zeros(1, dtype=np.int64)
    started = time.perf_counter()
    status, t, state = _feed(np.asarray(prompt, dtype=np.int64), 0, code, weights, groups,
                             _state(cm, code), counts)
    fed = time.perf_counter()
    if status != OK:
        return CompiledRun([], int(status), int(counts[0]), fed - started, 0.0)
    lh = cm.logits
    unembedding = (*cm.unembedding, cm.unembedding_bias, lh.feature, lh.xs, lh.ys, lh.seqs,
                   lh.n, np.zeros(1, dtype=np.int64))
    out, n, status, _ = _emit(max_new, t, code, weights, groups, unembedding, state, counts,
                              tr.HALT_ID, tr.OP_BASE)
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
