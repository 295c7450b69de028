"""The compiled loop's plan (unit groups, shared hulls, value tables, the logits' hull) computes
what the dense model computes, on the executor and on random circuits it was never shaped for."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.tassadar import hull_kernels as K
from psionic.tassadar.executor import compiled as C
from psionic.tassadar.executor.circuit import LayerWeights
from psionic.tassadar.executor.compiled_plan import CompiledModel, LogitHull
from psionic.tassadar.executor.decode import default_model
from psionic.tassadar.executor.model import Model, Session, _LayerPlan

VOCAB = 40


def _random_model(seed: int, width: int = 12, layers: int = 3) -> Model:
    """Integer weights: every score and value exact, so dense and compiled must agree exactly.
    Feature 0 is 1 on every token, 1 and 2 are the positional ones, 0 .. 4 are never written
    (unit values read only those, so products stay small); no uniform head before the last
    layer (their means are not integers, and keys must be)."""
    rng = np.random.default_rng(seed)
    emb = rng.integers(0, 3, size=(VOCAB, width)).astype(np.float64)
    emb[:, 0] = 1.0
    emb[:, 1:3] = 0.0
    out = []
    for li in range(layers):
        h, nv = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        sparse = lambda *shape, p=0.3: (rng.integers(-2, 3, size=shape)  # noqa: E731
                                        * (rng.random(shape) < p)).astype(np.float64)
        wq, wk = sparse(h, 2, width), sparse(h, 2, width)
        wk[:, :, 2] = 0.0  # keys stay below 2^53 whatever the position
        if h > 1:
            wk[1] = wk[0]  # two heads share a hull
        wv = sparse(h, nv, width)
        wo = sparse(h, width, nv, p=0.5)
        wo[:, :5] = 0.0
        uniform = np.zeros(h)
        if li == layers - 1:
            uniform[-1] = 1.0
        units = int(rng.integers(5, 40))
        w_gate = sparse(units, width)
        w_gate[:, 0] = rng.integers(-6, 6, size=units)
        w_gate[: units // 2, 1:] = w_gate[0, 1:]  # a group: same gate, biases differ
        w_value = sparse(units, width)
        w_value[:, 5:] = 0.0
        w_value[:, 2] = 0.0
        w_value[: units // 2] = w_value[0]
        w_out = sparse(width, units, p=0.4)
        w_out[:5] = 0.0
        out.append(LayerWeights(wq, wk, wv, wo, uniform, w_gate, w_value, w_out))
    unemb = np.zeros((8, width))
    unemb[:, width - 1] = 2.0 * np.arange(8)
    return Model(tuple(f"f{i}" for i in range(width)), emb, tuple(out), unemb,
                 -np.arange(8, dtype=np.float64) ** 2)


def _compiled_residuals(model: Model, tokens: list[int], lookup: str) -> list[np.ndarray]:
    cm = CompiledModel.of(model)
    code = C.LOOKUPS[lookup]
    weights = cm.kernel_weights()
    state = C._state(cm, code)
    counts = np.zeros(1, dtype=np.int64)
    out = []
    for t, token in enumerate(tokens):
        status, _, state = C._feed(np.array([token]), t, code, weights, cm.units.arrays(), state,
                                   counts)
        assert status == C.OK
        out.append(state[0].copy())
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_circuits_compiled_equals_the_dense_forward_pass(seed: int) -> None:
    model = _random_model(seed)
    rng = np.random.default_rng(100 + seed)
    tokens = rng.integers(0, VOCAB, size=40).tolist()
    session = Session(model, len(tokens))
    dense = [session.feed(t) for t in tokens]
    for lookup in ("hull", "linear"):
        got = _compiled_residuals(model, tokens, lookup)
        for t, (a, b) in enumerate(zip(dense, got, strict=True)):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-9, err_msg=f"{lookup} t={t}")


def test_unit_groups_equal_the_dense_relu_block_on_the_executor() -> None:
    model = default_model()
    cm = CompiledModel.of(model)
    assert cm.n_groups * 9 < model.n_units  # the grouping is what makes it fast
    rng = np.random.default_rng(7)
    checked = drawn = 0
    for layer, lw in enumerate(model.layers):
        p = _LayerPlan.of(lw)
        for _ in range(30):
            # small integers: the residual's values are bytes, counts and 0/1 indicators
            x = rng.integers(-20, 20, size=model.width).astype(np.float64)
            x[0] = 1.0
            gv = p.w_gv @ x[p.ffn_cols]
            units = gv.shape[0] // 2
            acts = np.maximum(gv[:units], 0.0) * gv[units:]
            drawn += 1
            # a random residual can push a gate's large constants past 2^53, where the dense
            # block is not exact either: compare where it is
            if units and (np.max(np.abs(gv)) >= 2.0 ** 50 or np.max(np.abs(acts))
                          * np.max(np.abs(p.w_out), initial=0.0) * units >= 2.0 ** 50):
                continue
            checked += 1
            want = x.copy()
            want[p.out_rows] += p.w_out @ acts
            got = x.copy()
            gate_sums = np.zeros(cm.n_groups)
            C._units(layer, got, np.zeros_like(x), gate_sums, *cm.units.arrays())
            np.testing.assert_array_equal(got, want)
            assert not np.any(gate_sums)  # left zero for the next layer
    assert checked >= drawn // 2


def test_columns_give_the_rows_floats_on_the_executor() -> None:
    """q, k and v read by column, skipping zero features, are the row-major dot products to
    the last bit (each row adds its terms in the same order)."""
    cm = CompiledModel.of(default_model())
    rng = np.random.default_rng(11)
    width = cm.embedding.shape[1]
    for layer in range(len(cm.layer_heads)):
        r0, r1 = cm.stage_rows[2 * layer], cm.stage_rows[2 * layer + 1]
        for _ in range(20):
            # mostly zeros, some values with bits past the last place of a sum's result
            x = rng.normal(size=width) * 10.0 ** rng.integers(-3, 12, size=width)
            x[rng.random(width) < 0.7] = 0.0
            want, got = np.zeros(max(r1 - r0, 1)), np.full(max(r1 - r0, 1), np.nan)
            C._rows_times(cm.indptr, cm.indices, cm.data, r0, r1, x, want)
            C._columns_times(layer, *cm.qkv.arrays(), r1 - r0, x, got)
            np.testing.assert_array_equal(got[: r1 - r0], want[: r1 - r0])


def test_the_logits_hull_gives_the_first_maximum() -> None:
    model = default_model()
    lh = LogitHull.of(model.unembedding, model.unembedding_bias)
    assert lh.feature >= 0
    u_ptr, u_idx, u_val = CompiledModel.of(model).unembedding
    bias = model.unembedding_bias
    x = np.zeros(model.width)
    for value in (-3.0, 0.0, 0.5, 1.0, 41.5, 41.25, 255.0, 6778.0, 6778.6, 1e9, 2.0 ** 70):
        x[lh.feature] = value
        want = int(np.argmax(model.unembedding @ x + bias))
        assert C._argmax_logits(x, u_ptr, u_idx, u_val, bias, lh.feature, lh.xs, lh.ys, lh.seqs,
                                lh.n, np.zeros(1, dtype=np.int64)) == want, value


def test_pools_grow_per_chain_and_keep_every_answer() -> None:
    rng = np.random.default_rng(3)
    chains = 6
    px, py, ps, start, cap, lens, used = K.pool_new(2 * chains)
    ext = np.full((chains, 5), -1, dtype=np.int64)
    keys: list[list[tuple[int, int, int]]] = [[] for _ in range(chains)]  # (x, y, position)
    for t in range(3000):
        h = int(rng.integers(1, chains)) if t % 3 else 0  # chain 0 grows far past the others
        kx, ky = (2 * t, -t * t) if h == 0 else (int(rng.integers(-20, 20)),
                                                   int(rng.integers(-50, 50)))
        if K.pool_full(cap, lens):
            px, py, ps = K.pool_room(px, py, ps, start, cap, lens, used)
        K.pool_insert(px, py, ps, start, lens, ext, h, t, float(kx), float(ky))
        keys[h].append((kx, ky, t))
        if t % 97 == 0:
            for g in range(chains):
                if not keys[g]:
                    continue
                qx, qy = float(rng.integers(-9, 9)), float(rng.integers(-3, 4))
                best = max(x * qx + y * qy for x, y, _ in keys[g])
                want = min(pos for x, y, pos in keys[g] if x * qx + y * qy == best)
                assert K.pool_query(px, py, ps, start, lens, ext, g, qx, qy,
                                    np.zeros(1, dtype=np.int64)) == want
    # memory follows the points held: the pool stays within a small factor of the live chains
    assert px.shape[0] <= 8 * (int(np.sum(lens)) + 2 * chains * K.POOL_INITIAL)
    assert int(np.max(lens)) > 900 and int(np.sort(lens)[-2]) < 100
