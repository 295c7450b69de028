"""The BERT encoder family and the sentence-embedding model built on it.

``BertModel`` is written with ``psionic.nn`` and its module tree mirrors the
checkpoint's tensor names (``encoder.layer.0.attention.self.query.weight``),
so ``state_dict()`` names are the file's names. Weights stay in the
memory-mapped safetensors file as float32 views; every Linear takes the numpy
reference path.

``EmbeddingModel`` reads a sentence-transformers directory: ``modules.json``
(Transformer, Pooling, optionally Normalize), ``sentence_bert_config.json``
(the token limit), ``1_Pooling/config.json``, ``config.json``,
``model.safetensors`` and ``tokenizer.json``. Texts are batched by length and
padded; padded keys are masked out of attention and pooling, so a text's
embedding does not depend on its batch beyond float rounding.

>>> model = EmbeddingModel.load("all-minilm-l6-v2")  # doctest: +SKIP
>>> model.embed(["The cat sits on the mat."]).shape  # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import tokenizers

from psionic.core.digest import digest_file
from psionic.core.errors import (
    InvalidInput,
    MalformedFile,
    MalformedJSON,
    ModelNotInstalled,
    TensorShapeMismatch,
    UnknownArchitecture,
    UnsupportedOperation,
)
from psionic.models.catalog import CatalogEntry
from psionic.models.safetensors_file import SafetensorsFile
from psionic.nn import functional as F
from psionic.nn.layers import Embedding, LayerNorm, Linear
from psionic.nn.module import Module, ModuleList

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": F.gelu,
    "gelu_new": F.gelu_tanh,
    "gelu_pytorch_tanh": F.gelu_tanh,
}


@dataclass(frozen=True, slots=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    hidden_act: str = "gelu"
    position_embedding_type: str = "absolute"

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config.json") -> BertConfig:
        """Read a Hugging Face BERT ``config.json``; unknown keys are ignored."""
        if raw.get("model_type") != "bert":
            raise UnknownArchitecture(
                f"{source}: model_type {raw.get('model_type')!r} is not 'bert'", path=source
            )
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in raw:
                if f.default is not MISSING:
                    continue
                raise MalformedFile(f"{source}: missing {f.name!r}", path=source)
            values[f.name] = raw[f.name]
        cfg = cls(**values)
        cfg._check(source)
        return cfg

    def _check(self, source: str) -> None:
        sizes = (self.vocab_size, self.hidden_size, self.num_hidden_layers, self.num_attention_heads,
                 self.intermediate_size, self.max_position_embeddings, self.type_vocab_size)
        if not all(isinstance(n, int) and n > 0 for n in sizes) or self.hidden_size % self.num_attention_heads:
            raise MalformedFile(f"{source}: sizes must be positive and heads must divide hidden_size", path=source)
        eps = self.layer_norm_eps
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < 1:
            raise MalformedFile(f"{source}: layer_norm_eps {eps!r} is not a small positive number", path=source)
        if self.hidden_act not in ACTIVATIONS:
            raise UnsupportedOperation(f"{source}: hidden_act {self.hidden_act!r} is not supported", path=source)
        if self.position_embedding_type != "absolute":
            raise UnsupportedOperation(
                f"{source}: position_embedding_type {self.position_embedding_type!r} is not supported",
                path=source,
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class TensorGetter:
    """Float32 views of a checkpoint's tensors, checked against the shapes the config implies."""

    def __init__(self, file: SafetensorsFile, prefix: str = "") -> None:
        self.file = file
        self.prefix = prefix

    def __call__(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        array = self.file.array(self.prefix + name)
        if array.shape != shape:
            raise TensorShapeMismatch(
                f"{self.file.path}: {self.prefix + name}: expected shape {shape}, got {array.shape}",
                path=str(self.file.path),
                name=self.prefix + name,
            )
        return array.astype(np.float32, copy=False)  # a view when the file holds F32


def _linear(get: TensorGetter, prefix: str, out_dim: int, in_dim: int) -> Linear:
    return Linear(get(f"{prefix}.weight", (out_dim, in_dim)), get(f"{prefix}.bias", (out_dim,)))


def _layer_norm(get: TensorGetter, prefix: str, cfg: BertConfig) -> LayerNorm:
    d = (cfg.hidden_size,)
    return LayerNorm(get(f"{prefix}.weight", d), get(f"{prefix}.bias", d), cfg.layer_norm_eps)


class BertEmbeddings(Module):
    def __init__(self, cfg: BertConfig, get: TensorGetter) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.word_embeddings = Embedding(get("embeddings.word_embeddings.weight", (cfg.vocab_size, d)))
        self.position_embeddings = Embedding(
            get("embeddings.position_embeddings.weight", (cfg.max_position_embeddings, d))
        )
        self.token_type_embeddings = Embedding(
            get("embeddings.token_type_embeddings.weight", (cfg.type_vocab_size, d))
        )
        self.LayerNorm = _layer_norm(get, "embeddings.LayerNorm", cfg)

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, T) -> (B * T, d), rows in batch order; every token is segment 0 (single texts)."""
        b, t = ids.shape
        positions = np.tile(np.arange(t), b)
        x = self.word_embeddings(ids.reshape(-1)) + self.position_embeddings(positions)
        x += self.token_type_embeddings(np.zeros(1, dtype=np.int64))
        return self.LayerNorm(x)


class BertSelfAttention(Module):
    def __init__(self, cfg: BertConfig, get: TensorGetter, prefix: str) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.cfg = cfg
        self.query = _linear(get, f"{prefix}.query", d, d)
        self.key = _linear(get, f"{prefix}.key", d, d)
        self.value = _linear(get, f"{prefix}.value", d, d)

    def forward(self, x: np.ndarray, key_bias: np.ndarray) -> np.ndarray:
        """x (B * T, d) -> (B * T, d); key_bias (B, T) is 0 for real keys and -inf for padding.

        Rows stay flat (2-D) outside attention: one BLAS call per Linear.
        """
        b, t = key_bias.shape
        h, dh = self.cfg.num_attention_heads, self.cfg.head_dim

        def heads(y: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
            # Contiguous operands keep numpy's stacked matmul on its BLAS path.
            return np.ascontiguousarray(y.reshape(b, t, h, dh).transpose(axes))

        q = heads(self.query(x), (0, 2, 1, 3))  # (B, H, T, Dh)
        k_t = heads(self.key(x), (0, 2, 3, 1))  # (B, H, Dh, T)
        v = heads(self.value(x), (0, 2, 1, 3))
        scores = q @ k_t  # (B, H, T, T)
        scores *= np.float32(1.0 / math.sqrt(dh))
        scores += key_bias[:, None, None, :]
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        return (scores @ v).transpose(0, 2, 1, 3).reshape(b * t, h * dh)


class BertAddNorm(Module):
    """LayerNorm(dense(x) + residual): the output of both sublayers."""

    def __init__(self, cfg: BertConfig, get: TensorGetter, prefix: str, in_dim: int) -> None:
        super().__init__()
        self.dense = _linear(get, f"{prefix}.dense", cfg.hidden_size, in_dim)
        self.LayerNorm = _layer_norm(get, f"{prefix}.LayerNorm", cfg)

    def forward(self, x: np.ndarray, residual: np.ndarray) -> np.ndarray:
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(Module):
    def __init__(self, cfg: BertConfig, get: TensorGetter, prefix: str) -> None:
        super().__init__()
        self.self = BertSelfAttention(cfg, get, f"{prefix}.self")
        self.output = BertAddNorm(cfg, get, f"{prefix}.output", cfg.hidden_size)

    def forward(self, x: np.ndarray, key_bias: np.ndarray) -> np.ndarray:
        return self.output(self.self(x, key_bias), x)


class BertIntermediate(Module):
    def __init__(self, cfg: BertConfig, get: TensorGetter, prefix: str) -> None:
        super().__init__()
        self.dense = _linear(get, f"{prefix}.dense", cfg.intermediate_size, cfg.hidden_size)
        self.act = ACTIVATIONS[cfg.hidden_act]

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.act(self.dense(x))


class BertLayer(Module):
    def __init__(self, cfg: BertConfig, get: TensorGetter, layer: int) -> None:
        super().__init__()
        prefix = f"encoder.layer.{layer}"
        self.attention = BertAttention(cfg, get, f"{prefix}.attention")
        self.intermediate = BertIntermediate(cfg, get, f"{prefix}.intermediate")
        self.output = BertAddNorm(cfg, get, f"{prefix}.output", cfg.intermediate_size)

    def forward(self, x: np.ndarray, key_bias: np.ndarray) -> np.ndarray:
        x = self.attention(x, key_bias)
        return self.output(self.intermediate(x), x)


class BertEncoder(Module):
    def __init__(self, cfg: BertConfig, get: TensorGetter) -> None:
        super().__init__()
        self.layer = ModuleList([BertLayer(cfg, get, i) for i in range(cfg.num_hidden_layers)])

    def forward(self, x: np.ndarray, key_bias: np.ndarray) -> np.ndarray:
        for block in self.layer:
            x = block(x, key_bias)
        return x


class BertModel(Module):
    """Token ids and an attention mask in, one hidden state per token out (no pooler)."""

    def __init__(self, cfg: BertConfig, get: TensorGetter) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg, get)
        self.encoder = BertEncoder(cfg, get)

    @classmethod
    def from_safetensors(cls, cfg: BertConfig, file: SafetensorsFile) -> BertModel:
        """Build from a checkpoint whose names may carry a ``bert.`` prefix."""
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in file else ""
        return cls(cfg, TensorGetter(file, prefix))

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask (B, T) -> hidden states (B, T, d); mask is 1 for real tokens, 0 for padding."""
        ids = np.asarray(ids, dtype=np.int64)
        b, t = ids.shape
        if t > self.config.max_position_embeddings:
            raise InvalidInput(f"{t} tokens exceed the {self.config.max_position_embeddings} positions")
        key_bias = np.where(np.asarray(mask, dtype=bool), np.float32(0.0), np.float32(-np.inf))
        return self.encoder(self.embeddings(ids), key_bias).reshape(b, t, -1)


# --- sentence embeddings ----------------------------------------------------------


def _pool_cls(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return hidden[:, 0]


def _pool_max(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[:, :, None] > 0, hidden, np.float32(-1e9)).max(axis=1)


def _pool_mean(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    counts = np.maximum(mask.sum(axis=1, keepdims=True), 1e-9).astype(np.float32)
    return (hidden * mask[:, :, None]).sum(axis=1) / counts


def _pool_mean_sqrt_len(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    counts = np.maximum(mask.sum(axis=1, keepdims=True), 1e-9).astype(np.float32)
    return (hidden * mask[:, :, None]).sum(axis=1) / np.sqrt(counts)


# In the order sentence-transformers concatenates them when several are on.
POOLING_MODES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cls_token": _pool_cls,
    "max_tokens": _pool_max,
    "mean_tokens": _pool_mean,
    "mean_sqrt_len_tokens": _pool_mean_sqrt_len,
}


@dataclass(frozen=True, slots=True)
class EncodedText:
    """A text's token ids as the model sees them, and whether the limit cut it."""

    ids: tuple[int, ...]
    truncated: bool


@dataclass(frozen=True, slots=True)
class EmbeddingBatch:
    """Embeddings (n, dimensions) with, per text, the tokens used and whether it was truncated."""

    embeddings: np.ndarray
    token_counts: tuple[int, ...]
    truncated: tuple[bool, ...]


@dataclass(frozen=True, slots=True)
class SentencePipeline:
    """What a sentence-transformers directory declares around the encoder."""

    transformer_dir: Path
    pooling_modes: tuple[str, ...]
    normalize: bool
    max_seq_length: int | None
    lowercase: bool


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise ModelNotInstalled(f"{path} is missing", path=str(path))
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedJSON(f"{path}: not valid JSON ({exc})", path=str(path)) from None


def read_pipeline(directory: Path) -> SentencePipeline:
    """Parse ``modules.json`` and the configs it points to; refuse modules we do not run."""
    modules_path = directory / "modules.json"
    modules = read_json(modules_path)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise MalformedFile(f"{modules_path}: expected a list of module objects", path=str(modules_path))
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise UnsupportedOperation(
            f"{modules_path}: modules {kinds} are not Transformer, Pooling[, Normalize]",
            path=str(modules_path),
        )
    transformer_dir = directory / str(modules[0].get("path", ""))
    pooling_path = directory / str(modules[1].get("path", "")) / "config.json"
    pooling = read_json(pooling_path)
    if not isinstance(pooling, dict):
        raise MalformedFile(f"{pooling_path}: expected an object", path=str(pooling_path))
    on = [key for key, value in pooling.items() if key.startswith("pooling_mode_") and value is True]
    unknown = [key for key in on if key.removeprefix("pooling_mode_") not in POOLING_MODES]
    if unknown or not on:
        raise UnsupportedOperation(
            f"{pooling_path}: pooling modes {unknown or 'none'} are not supported", path=str(pooling_path)
        )
    modes = tuple(m for m in POOLING_MODES if f"pooling_mode_{m}" in on)
    st_path = transformer_dir / "sentence_bert_config.json"
    st_config = read_json(st_path) if st_path.is_file() else {}
    max_len = st_config.get("max_seq_length") if isinstance(st_config, dict) else None
    if max_len is not None and not (isinstance(max_len, int) and max_len > 2):
        raise MalformedFile(f"{st_path}: max_seq_length {max_len!r} is not a usable limit", path=str(st_path))
    return SentencePipeline(
        transformer_dir=transformer_dir,
        pooling_modes=modes,
        normalize=len(kinds) == 3,
        max_seq_length=max_len,
        lowercase=bool(st_config.get("do_lower_case", False)) if isinstance(st_config, dict) else False,
    )


def load_tokenizer(path: Path, max_tokens: int) -> tokenizers.Tokenizer:
    """The ``tokenizers`` pipeline of ``tokenizer.json``, unpadded, truncating at ``max_tokens``."""
    if not path.is_file():
        raise ModelNotInstalled(f"{path} is missing", path=str(path))
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(path))
    except Exception as exc:  # the library raises a bare Exception for any parse failure
        raise MalformedFile(f"{path}: not a tokenizers file ({exc})", path=str(path)) from None
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)  # counts the [CLS]/[SEP] it adds
    return tokenizer


def resolve_model_dir(name_or_dir: str | Path) -> tuple[str, Path]:
    """A catalog name (preferred) or a directory -> (name, directory)."""
    name = str(name_or_dir)
    path = Path(name_or_dir)
    if name not in {entry.name for entry in CatalogEntry.all()} and path.is_dir():
        return path.name, path
    entry = CatalogEntry.get(name)  # ModelNotFound lists the catalog
    if "embeddings" not in entry.capabilities:
        raise InvalidInput(f"model {name!r} is not an embeddings model", model=name)
    return entry.name, entry.path().parent  # ModelNotInstalled names the package


def plan_batches(lengths: Sequence[int], batch_size: int, slack: int = 16) -> list[list[int]]:
    """Group text indices by length so that padding at most doubles a batch's work.

    Indices are taken shortest first; a batch closes at ``batch_size`` texts or
    before a text longer than twice its shortest plus ``slack`` tokens.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else None
        if current and len(current) < batch_size and lengths[i] <= 2 * lengths[current[0]] + slack:
            current.append(i)
        else:
            batches.append([i])
    return batches


class EmbeddingModel:
    """A sentence-embedding model: tokenizer, BERT encoder, pooling and normalisation.

    Texts are grouped by length (``plan_batches``), at most ``batch_size`` at a
    time; each batch pads to its longest text only.
    """

    def __init__(
        self,
        name: str,
        directory: Path,
        pipeline: SentencePipeline,
        config: BertConfig,
        model: BertModel,
        tokenizer: tokenizers.Tokenizer,
        max_tokens: int,
        batch_size: int = 32,
    ) -> None:
        self.name = name
        self.directory = directory
        self.pipeline = pipeline
        self.config = config
        self.model = model
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.weights_path = pipeline.transformer_dir / "model.safetensors"
        self.tokenizer_path = pipeline.transformer_dir / "tokenizer.json"

    @classmethod
    def load(cls, name_or_dir: str | Path = "all-minilm-l6-v2", batch_size: int = 32) -> EmbeddingModel:
        """Load by catalog name or from a sentence-transformers directory."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInput(f"batch_size must be a positive integer, got {batch_size!r}")
        name, directory = resolve_model_dir(name_or_dir)
        pipeline = read_pipeline(directory)
        config_path = pipeline.transformer_dir / "config.json"
        raw = read_json(config_path)
        if not isinstance(raw, dict):
            raise MalformedFile(f"{config_path}: expected an object", path=str(config_path))
        config = BertConfig.from_dict(raw, source=str(config_path))
        limit = pipeline.max_seq_length or config.max_position_embeddings
        max_tokens = min(limit, config.max_position_embeddings)
        tokenizer = load_tokenizer(pipeline.transformer_dir / "tokenizer.json", max_tokens)
        weights = pipeline.transformer_dir / "model.safetensors"
        if not weights.is_file():
            raise ModelNotInstalled(f"{weights} is missing", path=str(weights))
        model = BertModel.from_safetensors(config, SafetensorsFile.open(weights))
        return cls(name, directory, pipeline, config, model, tokenizer, max_tokens, batch_size)

    @property
    def dimensions(self) -> int:
        return self.config.hidden_size * len(self.pipeline.pooling_modes)

    @cached_property
    def model_digest(self) -> str:
        """``sha256:`` of model.safetensors (hashed on first use)."""
        return digest_file(self.weights_path)

    @cached_property
    def tokenizer_digest(self) -> str:
        """``sha256:`` of tokenizer.json (hashed on first use)."""
        return digest_file(self.tokenizer_path)

    def encode(self, texts: Sequence[str]) -> list[EncodedText]:
        """Token ids with [CLS]/[SEP], cut at ``max_tokens``; raises InvalidInput on non-strings."""
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise InvalidInput(f"texts must be a list of strings, got {type(texts).__name__}")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInput(f"texts[{i}] is a {type(text).__name__}, not a string", index=i)
        if self.pipeline.lowercase:
            texts = [text.lower() for text in texts]
        encodings = self.tokenizer.encode_batch(list(texts)) if texts else []
        return [EncodedText(tuple(e.ids), bool(e.overflowing)) for e in encodings]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text costs the model (after truncation, [CLS]/[SEP] included)."""
        return [len(e.ids) for e in self.encode(texts)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (n, dimensions), float32, in the order of ``texts``."""
        return self.embed_batch(texts).embeddings

    def embed_batch(self, texts: Sequence[str]) -> EmbeddingBatch:
        """Embeddings with per-text token counts and truncation flags."""
        encoded = self.encode(texts)
        out = np.empty((len(encoded), self.dimensions), dtype=np.float32)
        for chunk in plan_batches([len(e.ids) for e in encoded], self.batch_size):
            out[chunk] = self._embed_ids([encoded[i].ids for i in chunk])
        return EmbeddingBatch(
            embeddings=out,
            token_counts=tuple(len(e.ids) for e in encoded),
            truncated=tuple(e.truncated for e in encoded),
        )

    def _embed_ids(self, rows: list[tuple[int, ...]]) -> np.ndarray:
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.float32)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1.0
        hidden = self.model(ids, mask)
        pooled = np.concatenate([POOLING_MODES[m](hidden, mask) for m in self.pipeline.pooling_modes], axis=1)
        if self.pipeline.normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled.astype(np.float32, copy=False)
