"""Load a GGUF model by catalog name or path: file, tokenizer, template, family, weights.

Weights stay in the memory-mapped file: 2-D tensors become ``QuantMatrix``
views that the backend's kernels read in place (float or block-quantized),
1-D tensors (norms, biases) become small f32 arrays.

>>> loaded = load_model("smollm2-135m-instruct")  # doctest: +SKIP
>>> loaded.tokenizer.encode("Hello")  # doctest: +SKIP
[19556]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from psionic.backends.cpu.compiler_pages import release_compiler_pages
from psionic.backends.cpu.warmup import warm_up
from psionic.backends.quant_matrix import QuantMatrix
from psionic.core.digest_cache import cached_file_digest
from psionic.core.errors import ChatTemplateMissing, ModelNotFound, TensorShapeMismatch
from psionic.models.catalog import CatalogEntry
from psionic.models.chat_template import ChatTemplate
from psionic.models.decoder import DecoderConfig, DecoderModel
from psionic.models.families import family_for
from psionic.models.gguf_file import GGUFModelFile
from psionic.models.numerics import numerics_for
from psionic.models.tokenizer import Tokenizer


@dataclass(slots=True)
class LoadedModel:
    """Everything needed to run and describe one model (mutable only by reloading)."""

    name: str
    path: Path
    file: GGUFModelFile
    tokenizer: Tokenizer
    template: ChatTemplate | None
    config: DecoderConfig
    model: Any  # DecoderModel, or a GGMLDecoder over its weights (numerics "llamacpp")
    model_digest: str
    numerics: str = "f32"

    @property
    def architecture(self) -> str:
        return self.file.architecture

    @property
    def tokenizer_digest(self) -> str:
        return self.tokenizer.digest

    def render_chat(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
        if self.template is None:
            raise ChatTemplateMissing(
                f"model {self.name!r} has no chat template (tokenizer.chat_template); "
                "use a completion (raw prompt) instead",
                model=self.name,
            )
        return self.template.render(messages, add_generation_prompt=True, **kwargs)

    def artifacts(self) -> dict[str, str]:
        return {"model": self.model_digest, "tokenizer": self.tokenizer_digest}


def resolve(ref: str) -> tuple[str, Path]:
    """A catalog name or a path to a .gguf file -> (display name, path)."""
    path = Path(ref).expanduser()
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelNotFound(f"no model file at {path}", path=str(path))
        return path.stem, path
    entry = CatalogEntry.get(ref)
    return entry.name, entry.path()


def make_getter(file: GGUFModelFile) -> Any:
    def get(name: str, shape: tuple[int, ...], optional: bool = False) -> Any:
        if optional and not file.has_tensor(name):
            return None
        info = file.tensor(name, expected_shape=shape)
        if len(shape) == 1:
            if info.dtype.is_quantized:
                raise TensorShapeMismatch(f"1-D tensor {name!r} is quantized ({info.dtype.name})")
            return np.asarray(info.data, dtype=np.float32).reshape(shape)
        return QuantMatrix.from_array(info.dtype, info.data)

    return get


def bind_kernels(model: DecoderModel) -> float:
    """Load the kernels this model's steps call, then release the compiler's resident
    pages before any weight is read, so the two never add up; MiB released."""
    matrices = [p.data for p in model.parameters() if isinstance(p.data, QuantMatrix)]
    warm_up(matrices, head_dims=(model.config.head_dim,))
    return release_compiler_pages()


def load_model(ref: str, progress: bool = False, numerics: str = "f32") -> LoadedModel:
    """Open, validate and bind a model; ``progress`` prints loading steps to stderr.

    ``numerics`` (see ``numerics.py``): "f32", psionic's own kernels, or "llamacpp",
    llama.cpp's CPU numerics over the same weights.
    """
    numerics_for(numerics)  # an unknown name is refused before anything loads
    name, path = resolve(ref)

    def step(message: str) -> None:
        if progress:
            print(f"[load] {message}", file=sys.stderr, flush=True)

    step(f"{name}: mapping {path}")
    file = GGUFModelFile.open(path)
    step(f"{file.architecture}: {len(file.tensors)} tensors, GGUF v{file.version}")
    config = family_for(file.architecture).config_from_gguf(file)
    tokenizer = Tokenizer.from_gguf(file)
    template = ChatTemplate.from_gguf(file, tokenizer) if file.meta("tokenizer.chat_template") else None
    step(f"tokenizer: {tokenizer.vocab_size} tokens; chat template: {'yes' if template else 'no'}")
    model = DecoderModel(config, make_getter(file))
    step("loading kernels")
    bind_kernels(model)
    step("hashing the model file (cached after the first time)")
    digest = cached_file_digest(path)
    step(f"ready: {config.n_layers} layers, d_model {config.d_model}, digest {digest[:19]}...")
    runner: Any = model
    if numerics == "llamacpp":
        from psionic.models.ggml_forward import GGMLDecoder

        runner = GGMLDecoder(model, file.architecture)
        step("numerics: llama.cpp's CPU kernels")
    return LoadedModel(name, path, file, tokenizer, template, config, runner, digest, numerics)
