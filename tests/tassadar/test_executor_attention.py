"""The hard-max lookup interface: argmax of q . k over the inserted keys, ties to the lowest position."""

from __future__ import annotations

import numpy as np
import pytest

from psionic.core.errors import InvalidInput
from psionic.tassadar.executor.attention import MODES, HardMaxHeads, HeadId, LinearAttention
from psionic.tassadar.executor.decode import decode_linear
from psionic.tassadar.ingress import load_wat


def _brute(keys: np.ndarray, q: np.ndarray) -> int:
    return int(np.argmax(keys @ q))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_matches_brute_force_argmax(mode: str) -> None:
    rng = np.random.default_rng(7)
    heads = tuple(HeadId(0, h, f"h{h}") for h in range(3))
    lookup = MODES[mode](heads, 64)
    keys = rng.integers(-6, 7, size=(64, 3, 2)).astype(float)  # small values: many exact ties
    for t in range(64):
        lookup.insert(t, keys[t])
        q = rng.integers(-5, 6, size=(3, 2)).astype(float)
        got = lookup.query(q)
        assert got.tolist() == [_brute(keys[: t + 1, h], q[h]) for h in range(3)]


@pytest.mark.parametrize("mode", sorted(MODES))
def test_latest_write_keys_return_the_newest_write(mode: str) -> None:
    # key (2a, -a^2 + tau) with an increasing tau: the newest write to address a wins
    lookup = MODES[mode]((HeadId(0, 0, "latest"),), 16)
    writes = [3, 5, 3, 7, 5, 3]
    for t, a in enumerate(writes):
        lookup.insert(t, np.array([[2.0 * a * 1024, -a * a * 1024 + t]]))
    for a in (3, 5, 7):
        newest = max(t for t, w in enumerate(writes) if w == a)
        assert lookup.query(np.array([[float(a), 1.0]])).tolist() == [newest]


def test_decode_refuses_unknown_attention_mode() -> None:
    p = load_wat('(module (func (export "run") (result i32) i32.const 1))')
    with pytest.raises(InvalidInput):
        decode_linear(p, "run", [], [], None, attention="nope")


class _Stale(LinearAttention):
    """A wrong lookup that misses the newest key: decoding must notice."""

    def query(self, queries: np.ndarray) -> np.ndarray:
        n = max(self.n - 1, 1)
        scores = self.keys[0, :, :n] * queries[:, :1] + self.keys[1, :, :n] * queries[:, 1:]
        return np.argmax(scores, axis=1)


def test_decode_uses_the_chosen_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    wat = ('(module (func (export "run") (param i32) (result i32) local.get 0 i32.const 3 '
           'i32.add i32.const 2 i32.sub))')
    p = load_wat(wat)
    good = decode_linear(p, "run", [5], [], None)
    assert good.result == (6,)
    monkeypatch.setitem(MODES, "stale", _Stale)
    with pytest.raises(Exception) as caught:  # a wrong trace, or a refusal on garbage tokens
        bad = decode_linear(p, "run", [5], [], None, attention="stale")
        assert list(bad.tokens) != list(good.tokens)
        raise ValueError("diverged")
    assert not isinstance(caught.value, AssertionError)


def test_modes_implement_the_interface() -> None:
    for factory in MODES.values():
        assert isinstance(factory((HeadId(0, 0, "h"),), 1), HardMaxHeads)
