"""The executor's weights as flat arrays for the compiled decode loop, shaped by what they read.

Everything here is derived from the weights alone (no feature is named), so
new heads, units and layers are planned without edits:

- **Input features** are those no stage ever writes (the embedding's features
  and the positional ones): at every layer they equal the token's embedding,
  so they are a function of (token, position).
- **Key groups.** Hard-max heads whose key rows are equal share one hull:
  within a layer always, across layers when the keys read input features
  only. The first such head in forward order inserts the key.
- **Value columns.** A value that reads input features only is not stored per
  position: it is a table over tokens plus multiples of the position and its
  square, looked up through the stored token id. Other values are stored,
  once per distinct row of a layer.
- **Unit groups.** A ReGLU unit is ``relu(g . x + b) * (v . x) * out`` with
  ``b`` the coefficient of the always-one input feature. Units of a layer with
  the same ``g`` (bias aside) and the same ``v`` form a group; sorted by
  ``b`` descending, the open units for ``s = g . x`` are a prefix (``b > -s``),
  found by bisection, and their sum is ``v (s' P1[k] + P2[k])`` with
  ``s' = s + b_0`` (the most open unit's gate), ``P1[k] = sum out_u`` and
  ``P2[k] = sum (b_u - b_0) out_u`` over the first ``k``. Centring on
  ``b_0`` keeps the terms as small as the dense ``(s + b_u) v`` keeps them:
  a gate's large constants cancel in ``s'`` before anything is multiplied.
  A group whose gate is shut costs one comparison besides its gate.
- **By column.** A layer's gates and its q/k/v rows are also kept by
  column (``LayerColumns``) and summed over the features that are
  non-zero on the token: most are zero (indicators), and each row still
  adds its terms in ascending feature order, the row-major order.
- **Unembedding.** When the logits read one feature ``T`` they are lines
  ``w_i T + b_i``, and their argmax (first maximum) is the upper hull of the
  points ``(w_i, b_i)`` queried with ``(T, 1)``: a bisection instead of a scan.

>>> from psionic.tassadar.executor.model import Model
>>> cm = CompiledModel.of(Model.load())
>>> cm.n_units == Model.load().n_units and cm.n_groups * 9 < cm.n_units
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psionic.tassadar import hull_kernels as K
from psionic.tassadar.executor.model import Model, _LayerPlan

NO_VALUE = -(1 << 40)  # a value column that is zero (padding of a narrower head)
POS, POS2 = 1, 2  # the positional features: position and its square (the model's encoding)


def _csr(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    dense = np.zeros((len(rows), max(len(row) for row in rows)))  # rows may differ in width
    for i, row in enumerate(rows):
        dense[i, : len(row)] = row
    r, c = np.nonzero(dense)  # row-major: each row's features ascending
    indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=len(dense)))])
    return indptr.astype(np.int64), c.astype(np.int64), dense[r, c]


def _columns(rows: np.ndarray, row_ids: np.ndarray) -> tuple[list[int], list[int], list[int],
                                                            list[float]]:
    """The non-zeros of ``rows`` (R, D) by column: (features read, per-feature entry counts,
    the row id of each entry, its coefficient), features ascending and, within a feature, rows
    in order. Summed feature by feature, a row gets its terms in the order a row-major dot
    product adds them, so the result is the same float."""
    features, counts, ids, coefs = [], [], [], []
    for f in np.flatnonzero(np.any(rows != 0, axis=0)):
        nz = np.flatnonzero(rows[:, f])
        features.append(int(f))
        counts.append(len(nz))
        ids += row_ids[nz].tolist()
        coefs += rows[nz, f].tolist()
    return features, counts, ids, coefs


@dataclass(frozen=True, slots=True)
class LayerColumns:
    """Per layer, a block of rows over the residual stored by column, to be read only where the
    residual is non-zero: layer ``l`` reads features ``feature[layer_ptr[l] .. layer_ptr[l + 1]]``,
    and feature column ``c`` adds ``coef[j] * x[feature[c]]`` into row ``row[j]`` for ``j`` in
    ``col_ptr[c] .. col_ptr[c + 1]``. Most features are zero on most tokens (indicators of one
    opcode or phase), so their whole column is skipped at the cost of one comparison."""

    layer_ptr: np.ndarray
    feature: np.ndarray
    col_ptr: np.ndarray
    row: np.ndarray
    coef: np.ndarray

    @classmethod
    def of(cls, blocks: list[tuple[np.ndarray, np.ndarray]]) -> LayerColumns:
        """``blocks``: per layer, its rows (R, D) and each row's id."""
        layer_ptr, features, col_ptr, ids, coefs = [0], [], [0], [], []
        for rows, row_ids in blocks:
            f, n, i, c = _columns(rows, row_ids) if len(rows) else ([], [], [], [])
            features += f
            for k in n:
                col_ptr.append(col_ptr[-1] + k)
            ids += i
            coefs += c
            layer_ptr.append(len(features))
        i64 = np.int64
        return cls(np.array(layer_ptr, i64), np.array(features, i64), np.array(col_ptr, i64),
                   np.array(ids, i64), np.array(coefs, np.float64))

    def arrays(self) -> tuple:
        return self.layer_ptr, self.feature, self.col_ptr, self.row, self.coef


def input_features(model: Model) -> np.ndarray:
    """0/1 per feature: never written by any stage (a function of token and position)."""
    written = np.zeros(model.width, dtype=bool)
    for lw in model.layers:
        p = _LayerPlan.of(lw)
        written[p.o_rows] = True
        written[p.out_rows] = True
    return ~written


def bias_feature(model: Model, inputs: np.ndarray) -> int:
    """An input feature that is 1 on every token (-1 when there is none)."""
    for f in np.flatnonzero(inputs):
        if f not in (POS, POS2) and np.all(model.embedding[:, f] == 1.0):
            return int(f)
    return -1


def _same_rows(a: np.ndarray, b: np.ndarray, units: np.ndarray) -> list[list[int]]:
    """``units`` grouped by equal (``a`` row, ``b`` row), bit for bit; groups in the order of
    their first unit, members ascending."""
    groups: dict[tuple[bytes, bytes], list[int]] = {}
    for u in units.tolist():
        groups.setdefault((a[u].tobytes(), b[u].tobytes()), []).append(u)
    return list(groups.values())


@dataclass(frozen=True, slots=True)
class UnitGroups:
    """A layer-ordered list of unit groups as flat arrays (see the module docstring)."""

    layer_ptr: np.ndarray  # (L + 1,): groups of layer l are layer_ptr[l] .. layer_ptr[l + 1]
    gate: LayerColumns  # g (bias dropped) of every group of a layer, by column: rows are groups
    first_bias: np.ndarray  # per group, its most open unit's bias (bias[unit_ptr[i]])
    value: tuple[np.ndarray, np.ndarray, np.ndarray]  # CSR: v per group
    unit_ptr: np.ndarray  # units of group i: unit_ptr[i] .. unit_ptr[i + 1]
    bias: np.ndarray  # per unit, descending within a group
    out_ptr: np.ndarray  # features group i adds into: out_idx[out_ptr[i] .. out_ptr[i + 1]]
    out_idx: np.ndarray
    prefix_ptr: np.ndarray  # P1/P2 of group i, k open: prefix[prefix_ptr[i] + k * n_out + j]
    # (P2 centred on the group's first bias)
    prefix1: np.ndarray
    prefix2: np.ndarray
    layer_out_ptr: np.ndarray  # features any group of layer l adds into
    layer_out_idx: np.ndarray

    @classmethod
    def of(cls, model: Model, bias_f: int) -> UnitGroups:
        layer_ptr, gates, values, unit_ptr, bias = [0], [], [], [0], []
        gate_blocks: list[tuple[np.ndarray, np.ndarray]] = []
        out_ptr, out_idx, prefix_ptr, p1, p2 = [0], [], [0], [], []
        layer_out_ptr, layer_out_idx = [0], []
        for lw in model.layers:
            shape = lw.w_gate.copy()
            if bias_f >= 0:
                shape[:, bias_f] = 0.0
            touched: set[int] = set()
            for members in _same_rows(shape, lw.w_value, np.flatnonzero(
                    np.any(lw.w_out != 0, axis=0) & np.any(lw.w_value != 0, axis=1))):
                b = lw.w_gate[members, bias_f] if bias_f >= 0 else np.zeros(len(members))
                order = np.argsort(-b, kind="stable")
                members_sorted = [members[i] for i in order]
                gates.append(shape[members_sorted[0]])
                values.append(lw.w_value[members_sorted[0]])
                bias += b[order].tolist()
                unit_ptr.append(len(bias))
                outs = np.flatnonzero(np.any(lw.w_out[:, members_sorted] != 0, axis=1))
                out_idx += outs.tolist()
                out_ptr.append(len(out_idx))
                touched.update(outs.tolist())
                o = lw.w_out[np.ix_(outs, members_sorted)].T  # (units, outs)
                zero = np.zeros((1, len(outs)))
                # running sums from a zero row, one addition per unit (cumsum adds in order)
                p1 += np.cumsum(np.vstack([zero, o]), axis=0).ravel().tolist()
                centred = (b[order] - b[order][0])[:, None] * o
                p2 += np.cumsum(np.vstack([zero, centred]), axis=0).ravel().tolist()
                prefix_ptr.append(len(p1))
            layer_gates = np.array(gates[layer_ptr[-1]:]).reshape(-1, model.width)
            gate_blocks.append((layer_gates, np.arange(layer_ptr[-1], len(gates))))
            layer_ptr.append(len(gates))
            layer_out_idx += sorted(touched)
            layer_out_ptr.append(len(layer_out_idx))
        i64 = np.int64
        first = np.array([bias[u] for u in unit_ptr[:-1]], np.float64)
        return cls(np.array(layer_ptr, i64), LayerColumns.of(gate_blocks), first, _csr(values),
                   np.array(unit_ptr, i64),
                   np.array(bias, np.float64), np.array(out_ptr, i64), np.array(out_idx, i64),
                   np.array(prefix_ptr[:-1], i64), np.array(p1, np.float64),
                   np.array(p2, np.float64), np.array(layer_out_ptr, i64),
                   np.array(layer_out_idx, i64))

    def arrays(self) -> tuple:
        return (self.layer_ptr, *self.gate.arrays(), self.first_bias, *self.value, self.unit_ptr,
                self.bias, self.out_ptr,
                self.out_idx, self.prefix_ptr, self.prefix1, self.prefix2, self.layer_out_ptr,
                self.layer_out_idx)


@dataclass(frozen=True, slots=True)
class LogitHull:
    """Logits ``w_i x[feature] + b_i`` as the upper chain of the points ``(w_i, b_i)``."""

    feature: int  # -1: the logits read several features (or non-integer ones): scan them
    xs: np.ndarray
    ys: np.ndarray
    seqs: np.ndarray
    n: int

    @classmethod
    def of(cls, unembedding: np.ndarray, bias: np.ndarray) -> LogitHull:
        support = np.flatnonzero(np.any(unembedding != 0, axis=0))
        empty = np.zeros(1, dtype=np.int64)
        if len(support) != 1:
            return cls(-1, empty, empty, empty, 0)
        w = unembedding[:, support[0]]
        ok = all(K.key_in_range(float(a), float(b)) for a, b in zip(w, bias, strict=True))
        if not ok:
            return cls(-1, empty, empty, empty, 0)
        xs, ys, sq = (np.zeros(len(w) + 1, dtype=np.int64) for _ in range(3))
        n = 0
        for i, (a, b) in enumerate(zip(w, bias, strict=True)):
            n = K.chain_insert(xs, ys, sq, n, i, int(a), int(b))
        return cls(int(support[0]), xs, ys, sq, n)


@dataclass(frozen=True, slots=True)
class CompiledModel:
    """A ``Model`` as flat arrays for the compiled loop (built once per model)."""

    embedding: np.ndarray  # (IN_VOCAB, D)
    # attention, CSR over rows: layer l's q, k, v rows (over the residual) are rows
    # stage_rows[2 l] .. [2 l + 1], its o rows (over the chosen values) [2 l + 1] .. [2 l + 2]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    stage_rows: np.ndarray
    row_target: np.ndarray  # feature each o row adds into (-1 for the other rows)
    qkv: LayerColumns  # the q, k, v rows again, by column (rows numbered from 0 per layer)
    layer_heads: np.ndarray  # (L,) heads per layer
    layer_nv: np.ndarray  # (L,) values per head (padded to the layer's widest)
    head_hardmax: np.ndarray  # (G,) index among hard-max heads, -1 for uniform heads
    head_group: np.ndarray  # (G,) key group (shared hull), -1 for uniform heads
    head_inserts: np.ndarray  # (G,) 1: this head inserts its group's key
    head_value: np.ndarray  # (G, V): stored column >= 0, token table -1 - i, or NO_VALUE
    head_writes: np.ndarray  # (G, V) 1: this head writes its stored column
    n_groups_keys: int
    n_stored: int
    value_table: np.ndarray  # (tables, IN_VOCAB): a value's embedding part per token
    value_pos: np.ndarray  # (tables, 2): its coefficients on position and position^2
    units: UnitGroups
    n_units: int
    logits: LogitHull
    unembedding: tuple[np.ndarray, np.ndarray, np.ndarray]  # CSR, for the scan
    unembedding_bias: np.ndarray

    def kernel_weights(self) -> tuple:
        """The attention part of the plan as the compiled loop's ``weights`` argument."""
        return (self.embedding, self.indptr, self.indices, self.data, self.stage_rows,
                self.row_target, *self.qkv.arrays(), self.layer_heads, self.layer_nv,
                self.head_hardmax, self.head_group, self.head_inserts, self.head_value,
                self.head_writes, self.value_table, self.value_pos)

    @property
    def n_hardmax(self) -> int:
        return int(np.sum(self.head_hardmax >= 0))

    @property
    def n_uniform(self) -> int:
        return int(np.sum(self.head_hardmax < 0))

    @property
    def n_groups(self) -> int:
        return int(self.units.layer_ptr[-1])

    @classmethod
    def of(cls, model: Model) -> CompiledModel:
        inputs = input_features(model)
        bias_f = bias_feature(model, inputs)
        d = model.width
        rows: list[np.ndarray] = []
        targets: list[int] = []
        stage_rows = [0]
        layer_heads, layer_nv, head_hm = [], [], []
        head_group, head_inserts, head_value, head_writes = [], [], [], []
        key_groups: dict[tuple, int] = {}
        tables: dict[bytes, int] = {}
        table_rows: list[np.ndarray] = []
        stored: dict[tuple, int] = {}
        n_hm = 0
        widest = max([lw.wv.shape[1] for lw in model.layers] + [1])
        qkv_blocks: list[tuple[np.ndarray, np.ndarray]] = []
        for li, lw in enumerate(model.layers):
            p = _LayerPlan.of(lw)
            block = np.zeros((p.w_qkv.shape[0], d))
            block[:, p.qkv_cols] = p.w_qkv
            qkv_blocks.append((block, np.arange(len(block))))
            for row in block:
                rows.append(row)
                targets.append(-1)
            stage_rows.append(len(rows))
            for r in range(p.w_o.shape[0]):  # columns: the chosen values, head-major
                rows.append(p.w_o[r])
                targets.append(int(p.o_rows[r]))
            stage_rows.append(len(rows))
            layer_heads.append(p.heads)
            layer_nv.append(p.nv)
            uniform = set(p.uniform.tolist())
            for h in range(p.heads):
                vcols = [NO_VALUE] * widest
                writes = [0] * widest
                if h in uniform:
                    head_hm.append(-1)
                    head_group.append(-1)
                    head_inserts.append(0)
                    head_value.append(vcols)
                    head_writes.append(writes)
                    continue
                head_hm.append(n_hm)
                n_hm += 1
                wk = lw.wk[h]
                reads_inputs = not np.any(wk[:, ~inputs])
                gkey = ("inputs", wk.tobytes()) if reads_inputs else (li, wk.tobytes())
                head_inserts.append(int(gkey not in key_groups))
                head_group.append(key_groups.setdefault(gkey, len(key_groups)))
                for j in range(p.nv):
                    wv = lw.wv[h, j]
                    if not np.any(wv):
                        continue
                    if not np.any(wv[~inputs]):
                        if wv.tobytes() not in tables:
                            tables[wv.tobytes()] = len(table_rows)
                            table_rows.append(wv)
                        vcols[j] = -1 - tables[wv.tobytes()]
                    else:
                        skey = (li, wv.tobytes())
                        writes[j] = int(skey not in stored)
                        vcols[j] = stored.setdefault(skey, len(stored))
                head_value.append(vcols)
                head_writes.append(writes)
        indptr, indices, data = _csr(rows)
        value_table = np.zeros((max(len(table_rows), 1), model.embedding.shape[0]))
        value_pos = np.zeros((max(len(table_rows), 1), 2))
        for i, wv in enumerate(table_rows):
            plain = wv.copy()
            plain[[POS, POS2]] = 0.0
            value_table[i] = model.embedding @ plain
            value_pos[i] = wv[POS], wv[POS2]
        i64 = np.int64
        return cls(np.ascontiguousarray(model.embedding), indptr, indices, data,
                   np.array(stage_rows, i64), np.array(targets, i64), LayerColumns.of(qkv_blocks),
                   np.array(layer_heads, i64),
                   np.array(layer_nv, i64), np.array(head_hm, i64), np.array(head_group, i64),
                   np.array(head_inserts, i64), np.array(head_value, i64).reshape(-1, widest),
                   np.array(head_writes, i64).reshape(-1, widest), len(key_groups), len(stored),
                   value_table, value_pos, UnitGroups.of(model, bias_f), model.n_units,
                   LogitHull.of(model.unembedding, model.unembedding_bias),
                   _csr(list(model.unembedding)),
                   np.ascontiguousarray(model.unembedding_bias, dtype=np.float64))
