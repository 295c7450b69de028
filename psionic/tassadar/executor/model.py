"""The executor's weights as tensors: safetensors file, digest, and the numpy forward pass.

``Model`` holds plain arrays (embedding, per-layer attention and ReGLU
matrices, unembedding). ``Session`` runs it one token at a time with
brute-force attention over the whole history (the O(n) reference decode):
every hard-max head takes the argmax of ``q . k`` over all earlier positions
and itself, every uniform head the mean of its values, and the next token is
the argmax of the logits. All arithmetic is float64; the scores and values
that the construction produces are integers below 2**53 (see layout.py for
the bounds), so argmax decisions are exact.

>>> m = Model.load()
>>> m.width, m.n_layers, m.n_heads
(33, 3, 14)
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
from psionic.tassadar.executor.circuit import LayerWeights
from psionic.tassadar.executor.compiler import ExecutorWeights, build

WEIGHTS_PATH = Path(__file__).parent / "tassadar_executor.safetensors"
# sha256 of the committed weights file; a test rebuilds the file and compares
WEIGHTS_DIGEST = "sha256:8033e33cb9341a94f71609d0480deb992e6d3700dff57e08355bd018f8befd0c"
FORMAT = "psionic.tassadar.executor.v1"
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
        """safetensors bytes; each tensor in the narrowest of int16, float32, float64 that is exact."""
        from safetensors.numpy import save

        stored = {}
        tensors = self.tensors()
        # the embedding writes only the leading input features: store those columns
        used = np.flatnonzero(np.any(self.embedding != 0, axis=0))
        tensors["embedding"] = self.embedding[:, : int(used.max()) + 1]
        for name, arr in tensors.items():
            stored[name] = arr
            for dtype in (np.int16, np.float32):
                with np.errstate(invalid="ignore", over="ignore"):
                    narrow = arr.astype(dtype)
                if np.array_equal(narrow.astype(np.float64), arr):
                    stored[name] = narrow
                    break
        # one metadata key: safetensors writes a map's keys in no fixed order
        card = {"format": FORMAT, "features": list(self.features)}
        return save(stored, metadata={"psionic": json.dumps(card, sort_keys=True)})

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        from safetensors.numpy import load

        tensors = {k: v.astype(np.float64) for k, v in load(data).items()}
        header_len = int.from_bytes(data[:8], "little")
        meta = json.loads(json.loads(data[8 : 8 + header_len]).get("__metadata__", {})
                          .get("psionic", "{}"))
        if meta.get("format") != FORMAT:
            raise InvalidInput(f"not a Tassadar executor weights file (format {meta.get('format')!r})")
        n_layers = len({k.split(".")[1] for k in tensors if k.startswith("layers.")})
        layers = tuple(LayerWeights(*(tensors[f"layers.{i}.{k}"] for k in _LAYER_KEYS))
                       for i in range(n_layers))
        features = tuple(meta["features"])
        embedding = np.zeros((tensors["embedding"].shape[0], len(features)))
        embedding[:, : tensors["embedding"].shape[1]] = tensors["embedding"]
        return cls(features, embedding, layers,
                   tensors["unembedding.weight"], tensors["unembedding.bias"])

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH, digest: str | None = WEIGHTS_DIGEST) -> Model:
        """Load the weights file, refusing bytes whose sha256 differs from ``digest``."""
        data = Path(path).read_bytes()
        actual = digest_bytes(data)
        if digest is not None and actual != digest:
            raise DigestMismatch(f"executor weights {path} have digest {actual}, expected {digest}")
        return cls.from_bytes(data)


def file_digest(path: Path = WEIGHTS_PATH) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Session:
    """One decode: per-layer key/value caches over the history. Mutable: it grows per token."""

    def __init__(self, model: Model, capacity: int) -> None:
        if capacity > L.MAX_POSITION:
            raise InvalidInput(f"{capacity} positions exceed the executor's {L.MAX_POSITION}")
        self.m = model
        self.n = 0
        self.plan = []
        for lw in model.layers:
            h, nv, d = lw.wv.shape
            self.plan.append((
                h, nv,
                np.concatenate([lw.wq.reshape(2 * h, d), lw.wk.reshape(2 * h, d),
                                lw.wv.reshape(h * nv, d)]),  # (4H + H*V, D): q, k, v at once
                lw.wo.transpose(1, 0, 2).reshape(d, h * nv),  # (D, H*V)
                np.flatnonzero(lw.uniform), lw.w_gate, lw.w_value, lw.w_out,
            ))
        self.keys = [np.zeros((2, p[0], capacity)) for p in self.plan]  # (2, H, n)
        self.values = [np.zeros((capacity, p[0], p[1])) for p in self.plan]  # (n, H, V)
        self.sums = [np.zeros((p[0], p[1])) for p in self.plan]  # running sums of uniform heads

    def feed(self, token: int) -> np.ndarray:
        """Append ``token`` at the next position; return its final residual vector."""
        t = self.n
        x = self.m.embedding[token].copy()
        x[1], x[2] = t, float(t) * t  # positional encoding: pos, pos^2
        n = t + 1
        for li, (h, nv, w_qkv, w_o, uni, w_gate, w_value, w_out) in enumerate(self.plan):
            if h == 0:  # a feed-forward-only layer
                x = x + w_out @ (np.maximum(w_gate @ x, 0.0) * (w_value @ x))
                continue
            qkv = w_qkv @ x
            q = qkv[: 2 * h].reshape(h, 2)
            keys, values = self.keys[li], self.values[li]
            keys[:, :, t] = qkv[2 * h : 4 * h].reshape(h, 2).T
            values[t] = qkv[4 * h :].reshape(h, nv)
            # brute-force hard-max over the whole history: (H, n) scores, argmax per head
            scores = keys[0, :, :n] * q[:, :1] + keys[1, :, :n] * q[:, 1:]
            chosen = values[np.argmax(scores, axis=1), np.arange(h)]  # (H, V)
            if uni.size:
                self.sums[li][uni] += values[t, uni]
                chosen[uni] = self.sums[li][uni] / n  # uniform attention: the prefix mean
            x = x + w_o @ chosen.ravel()
            x = x + w_out @ (np.maximum(w_gate @ x, 0.0) * (w_value @ x))
        self.n = n
        return x

    def next_token(self, x: np.ndarray) -> int:
        """Greedy decoding: the argmax of the logits."""
        return int(np.argmax(self.m.unembedding @ x + self.m.unembedding_bias))
