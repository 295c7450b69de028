from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def psionic_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own $PSIONIC_HOME, so keys and stores never leak between tests."""
    home = tmp_path_factory.mktemp("psionic_home")
    monkeypatch.setenv("PSIONIC_HOME", str(home))
    return home
