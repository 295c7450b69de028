from __future__ import annotations

import pytest

from psionic.core.errors import MalformedReceipt
from psionic.core.manifest import RuntimeManifest


def test_manifest_names_what_decides_numerics() -> None:
    m = RuntimeManifest.current(backend="cpu")
    for lib in ("python", "numpy", "numba", "ml_dtypes", "psionic"):
        assert lib in m.versions
    assert m.threads["available_cpus"] >= 1
    assert m.determinism["posture"] == "deterministic"


def test_digest_round_trips_and_moves_with_every_field() -> None:
    m = RuntimeManifest.current()
    again = RuntimeManifest.from_dict(m.to_dict())
    assert again.digest == m.digest
    data = m.to_dict()
    data["versions"] = {**data["versions"], "numpy": "0.0.0"}
    assert RuntimeManifest.from_dict(data).digest != m.digest
    assert RuntimeManifest.current(backend="torch").digest != m.digest


def test_thread_environment_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    assert RuntimeManifest.current().threads["numba_num_threads"] == 1


def test_malformed_manifest_is_named() -> None:
    data = RuntimeManifest.current().to_dict()
    data["threads"] = "many"
    with pytest.raises(MalformedReceipt, match="threads"):
        RuntimeManifest.from_dict(data)
