"""Shared fixtures for model-file tests: the two real GGUF files.

Loading is cached per test session; the real files come from the installed
catalog packages (``make install``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from psionic.models.catalog import CatalogEntry
from psionic.models.gguf_file import GGUFModelFile

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
