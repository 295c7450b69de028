"""The executor's weights as tensors: safetensors file, digest, and the numpy forward pass.

``Model`` holds plain arrays (embedding, per-layer attention and ReGLU
matrices, unembedding). ``Session`` runs it one token at a time with
a hard-max lookup per layer (``attention.py``; by default the brute-force
O(n) reference decode): every hard-max head takes the argmax of ``q . k``
over all earlier positions and itself, every uniform head the mean of its values, and the next token is
the argmax of the logits. All arithmetic is float64; the scores and values
that the construction produces are integers below 2**53 (see layout.py for
the bounds), so argmax decisions are exact.

>>> m = Model.load()
>>> m.n_layers, m.n_heads, m.width == len(m.features)
(9, 92, True)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from psionic.core.digest import digest_bytes
from psionic.core.errors import DigestMismatch, InvalidInput
from psionic.tassadar.executor import layout as L
from psionic.tassadar.executor.attention import AttentionFactory, HeadId, LinearAttention
from psionic.tassadar.executor.circuit import LayerWeights
from psionic.tassadar.executor.compiler import ExecutorWeights, build
from psionic.tassadar.executor.sparse_rows import SparseRows

WEIGHTS_PATH = Path(__file__).parent / "tassadar_executor.safetensors"
# sha256 of the committed weights file; a test rebuilds the file and compares
WEIGHTS_DIGEST = "sha256:c5c26d90208791dc922ebd041123d3e9455f93aee76bc38015c0a866651ea854"
FORMAT = "psionic.tassadar.executor.v2"


def _narrow(arr: np.ndarray) -> np.ndarray:
    for dtype in (np.int16, np.float32):
        with np.errstate(invalid="ignore", over="ignore"):
            narrow = arr.astype(dtype)
        if np.array_equal(narrow.astype(np.float64), arr):
            return narrow
    return arr
_LAYER_KEYS = ("wq", "wk", "wv", "wo", "uniform", "w_gate", "w_value", "w_out")


@dataclass(frozen=True, slots=True)
class Model:
    features: tuple[str, ...]
    embedding: np.ndarray  # (IN_VOCAB, D)
    layers: tuple[LayerWeights, ...]
    unembedding: np.ndarray  # (OUT_VOCAB, D)
    unembedding_bias: np.ndarray  # (OUT_VOCAB,)

    @property
    def width(self) -> int:
        return len(self.features)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_heads(self) -> int:
        return sum(lw.wq.shape[0] for lw in self.layers)

    @property
    def n_units(self) -> int:
        return sum(lw.w_gate.shape[0] for lw in self.layers)

    @classmethod
    def from_weights(cls, w: ExecutorWeights) -> Model:
        return cls(w.compiled.features, w.embedding, w.compiled.layers, w.unembedding,
                   w.unembedding_bias)

    @classmethod
    def compile(cls) -> Model:
        return cls.from_weights(build())

    def tensors(self) -> dict[str, np.ndarray]:
        out = {"embedding": self.embedding, "unembedding.weight": self.unembedding,
               "unembedding.bias": self.unembedding_bias}
        for i, lw in enumerate(self.layers):
            for key in _LAYER_KEYS:
                out[f"layers.{i}.{key}"] = getattr(lw, key)
        return out

    def to_bytes(self) -> bytes:
        """safetensors bytes, sparse: each tensor ``name`` is stored as its nonzero entries
        (``name``, in the narrowest of int16, float32, float64 that holds them exactly), their
        flat indices (``name.index``) and its shape (``name.shape``)."""
        from safetensors.numpy import save

        stored: dict[str, np.ndarray] = {}
        for name, arr in self.tensors().items():
            flat = arr.reshape(-1)
            index = np.flatnonzero(flat)
            stored[name] = _narrow(flat[index])
            stored[f"{name}.index"] = index.astype(np.int32)
            stored[f"{name}.shape"] = np.asarray(arr.shape, dtype=np.int64)
        # one metadata key: safetensors writes a map's keys in no fixed order
        card = {"format": FORMAT, "features": list(self.features)}
        return save(stored, metadata={"psionic": json.dumps(card, sort_keys=True)})

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        from safetensors.numpy import load

        try:
            raw = load(data)
            header_len = int.from_bytes(data[:8], "little")
            meta = json.loads(json.loads(data[8 : 8 + header_len]).get("__metadata__", {})
                              .get("psionic", "{}"))
        except Exception as exc:  # safetensors raises its own error types
            raise InvalidInput(f"not a safetensors file: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise InvalidInput(f"not a Tassadar executor weights file (format {meta.get('format')!r})")
        tensors = {name: _dense(name, values, raw) for name, values in raw.items()
                   if not name.endswith((".index", ".shape"))}
        n_layers = len({k.split(".")[1] for k in tensors if k.startswith("layers.")})
        try:
            layers = tuple(LayerWeights(*(tensors[f"layers.{i}.{k}"] for k in _LAYER_KEYS))
                           for i in range(n_layers))
            return cls(tuple(meta["features"]), tensors["embedding"], layers,
                       tensors["unembedding.weight"], tensors["unembedding.bias"])
        except KeyError as exc:
            raise InvalidInput(f"executor weights file lacks {exc.args[0]!r}") from exc

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH, digest: str | None = WEIGHTS_DIGEST) -> Model:
        """Load the weights file, refusing bytes whose sha256 differs from ``digest``."""
        data = Path(path).read_bytes()
        actual = digest_bytes(data)
        if digest is not None and actual != digest:
            raise DigestMismatch(f"executor weights {path} have digest {actual}, expected {digest}")
        return cls.from_bytes(data)


def _dense(name: str, values: np.ndarray, raw: dict[str, np.ndarray]) -> np.ndarray:
    """Tensor ``name`` from its nonzero ``values``, ``name.index`` and ``name.shape``."""
    index, shape = raw.get(f"{name}.index"), raw.get(f"{name}.shape")
    if index is None or shape is None:
        raise InvalidInput(f"executor weights tensor {name!r} lacks its index or shape")
    size = int(np.prod(shape)) if shape.ndim == 1 and np.all(shape >= 0) else -1
    if (size < 0 or values.ndim != 1 or index.shape != values.shape
            or (index.size and (index.min() < 0 or index.max() >= size))):
        raise InvalidInput(f"executor weights tensor {name!r}: {index.size} indices for "
                           f"{values.size} values do not fit its shape {shape.tolist()}")
    full = np.zeros(size)
    full[index.astype(np.int64)] = values.astype(np.float64)
    return full.reshape(tuple(int(n) for n in shape))


def file_digest(path: Path = WEIGHTS_PATH) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _support(matrix: np.ndarray) -> np.ndarray:
    """Indices of the feature columns that ``matrix`` (rows, D) reads."""
    return np.flatnonzero(np.any(matrix != 0, axis=0))


@dataclass(frozen=True, slots=True)
class _LayerPlan:
    """One layer's arrays restricted to the features they read and write (same arithmetic)."""

    heads: int
    nv: int
    qkv_cols: np.ndarray
    w_qkv: np.ndarray  # (4H + H*V, |qkv_cols|): q, k and v at once
    o_rows: np.ndarray
    w_o: np.ndarray  # (|o_rows|, H*V)
    uniform: np.ndarray
    hardmax: np.ndarray
    ffn_cols: np.ndarray
    w_gv: np.ndarray  # (2N, |ffn_cols|): gate rows then value rows
    out_rows: np.ndarray
    w_out: np.ndarray  # (|out_rows|, N)

    @classmethod
    def of(cls, lw: LayerWeights) -> _LayerPlan:
        h, nv, d = lw.wv.shape
        qkv = np.concatenate([lw.wq.reshape(2 * h, d), lw.wk.reshape(2 * h, d),
                              lw.wv.reshape(h * nv, d)])
        w_o = lw.wo.transpose(1, 0, 2).reshape(d, h * nv)
        gv = np.concatenate([lw.w_gate, lw.w_value])
        qkv_cols, o_rows = _support(qkv), _support(w_o.T)
        ffn_cols, out_rows = _support(gv), _support(lw.w_out.T)
        return cls(h, nv, qkv_cols, qkv[:, qkv_cols], o_rows, w_o[o_rows],
                   np.flatnonzero(lw.uniform), np.flatnonzero(lw.uniform == 0), ffn_cols, gv[:, ffn_cols], out_rows,
                   lw.w_out[out_rows])


@dataclass(frozen=True, slots=True)
class _SparseLayer:
    """A layer plan's four matrices as their nonzero entries (the session's products)."""

    w_qkv: SparseRows
    w_o: SparseRows
    w_gv: SparseRows
    w_out: SparseRows

    @classmethod
    def of(cls, p: _LayerPlan) -> _SparseLayer:
        return cls(SparseRows.of(p.w_qkv), SparseRows.of(p.w_o), SparseRows.of(p.w_gv),
                   SparseRows.of(p.w_out))


_INITIAL = 1 << 12  # positions allocated at first; arrays double as the history grows


def _grown(arr: np.ndarray, need: int) -> np.ndarray:
    """``arr`` with its first axis at least doubled and at least ``need``."""
    out = np.zeros((max(need, 2 * arr.shape[0]), *arr.shape[1:]))
    out[: arr.shape[0]] = arr
    return out


class Session:
    """One decode: per-layer hard-max lookups and values over the history. Mutable: it grows
    per token. ``attention`` picks the hard-max lookup (``attention.MODES``); the default is
    the brute-force ``LinearAttention``."""

    def __init__(self, model: Model, capacity: int,
                 attention: AttentionFactory = LinearAttention) -> None:
        if capacity > L.MAX_POSITION:
            raise InvalidInput(f"{capacity} positions exceed the executor's {L.MAX_POSITION}")
        self.m = model
        self.n = 0
        self.capacity = capacity
        self.plan = [_LayerPlan.of(lw) for lw in model.layers]
        self.sparse = [_SparseLayer.of(p) for p in self.plan]
        self.lookups = [attention(tuple(HeadId(li, int(h), f"layer{li}.head{h}")
                                        for h in p.hardmax), capacity) for li, p in enumerate(self.plan)]
        self.values = [np.zeros((_INITIAL, p.heads, p.nv)) for p in self.plan]  # (n, H, V), grown
        self.sums = [np.zeros((p.heads, p.nv)) for p in self.plan]  # running sums, uniform heads
        self.t_row = model.unembedding[:, _support(model.unembedding)]
        self.t_cols = _support(model.unembedding)

    def feed(self, token: int) -> np.ndarray:
        """Append ``token`` at the next position; return its final residual vector."""
        t = self.n
        if t >= self.capacity:
            raise InvalidInput(f"position {t} is past the session's {self.capacity}")
        if t >= self.values[0].shape[0]:
            self.values = [_grown(v, t + 1) for v in self.values]
        x = self.m.embedding[token].copy()
        x[1], x[2] = t, float(t) * t  # positional encoding: pos, pos^2
        n = t + 1
        for li, (p, sp) in enumerate(zip(self.plan, self.sparse, strict=True)):
            h = p.heads
            if h:
                qkv = sp.w_qkv.times(x[p.qkv_cols])
                q = qkv[: 2 * h].reshape(h, 2)
                keys = qkv[2 * h : 4 * h].reshape(h, 2)
                values = self.values[li]
                values[t] = qkv[4 * h :].reshape(h, p.nv)
                chosen = np.empty((h, p.nv))
                if p.hardmax.size:
                    lookup = self.lookups[li]
                    lookup.insert(t, keys[p.hardmax])
                    chosen[p.hardmax] = values[lookup.query(q[p.hardmax]), p.hardmax]
                if p.uniform.size:
                    self.sums[li][p.uniform] += values[t, p.uniform]
                    chosen[p.uniform] = self.sums[li][p.uniform] / n  # the prefix mean
                x[p.o_rows] += sp.w_o.times(chosen.ravel())
            gv = sp.w_gv.times(x[p.ffn_cols])
            units = gv.shape[0] // 2
            x[p.out_rows] += sp.w_out.times(np.maximum(gv[:units], 0.0) * gv[units:])
        self.n = n
        return x

    def next_token(self, x: np.ndarray) -> int:
        """Greedy decoding: the argmax of the logits."""
        return int(np.argmax(self.t_row @ x[self.t_cols] + self.m.unembedding_bias))


def freeze(path: Path = WEIGHTS_PATH) -> str:
    """Compile the weights, write them to ``path`` and return their digest (for WEIGHTS_DIGEST)."""
    data = Model.compile().to_bytes()
    Path(path).write_bytes(data)
    return digest_bytes(data)


if __name__ == "__main__":
    print(freeze())
