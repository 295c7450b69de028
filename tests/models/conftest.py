"""Shared fixtures for model-file tests: the two real GGUF files and their tokenizers.

Loading is cached per test session; the real files come from the installed
catalog packages (``make install``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from psionic.models.catalog import CatalogEntry
from psionic.models.gguf_file import GGUFModelFile
from psionic.models.tokenizer import Tokenizer

# Test helpers in this folder (gguf_bytes) import by plain name, whether or not
# the test folders are packages.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def smollm_path() -> Path:
    return CatalogEntry.get("smollm2-135m-instruct").path()


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    return CatalogEntry.get("gemma3-270m").path()


@pytest.fixture(scope="session")
def smollm_gguf(smollm_path: Path) -> GGUFModelFile:
    return GGUFModelFile.open(smollm_path)


@pytest.fixture(scope="session")
def gemma_gguf(gemma_path: Path) -> GGUFModelFile:
    return GGUFModelFile.open(gemma_path)


@pytest.fixture(scope="session")
def smollm_tokenizer(smollm_gguf: GGUFModelFile) -> Tokenizer:
    return Tokenizer.from_gguf(smollm_gguf)


@pytest.fixture(scope="session")
def gemma_tokenizer(gemma_gguf: GGUFModelFile) -> Tokenizer:
    return Tokenizer.from_gguf(gemma_gguf)
