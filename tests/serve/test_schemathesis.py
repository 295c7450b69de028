"""Property-based requests from the server's own OpenAPI schema: never a 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from psionic.serve.server import build  # noqa: E402

from .conftest import tiny_config  # noqa: E402

EXAMPLES_PER_OPERATION = 25


def test_no_server_errors(tiny_model_path: Path, tmp_path: Path) -> None:
    app, registry = build(tiny_config(tiny_model_path, tmp_path / "r.sqlite3"))
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 9
        failures: list[str] = []
        statuses: list[int] = []
        model = next(iter(registry.generators))
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), database=None)
            def check(case) -> None:  # type: ignore[no-untyped-def]
                if isinstance(case.body, dict) and "model" in case.body:
                    # Random model names only reach the 404; aim most cases at the served model.
                    case.body["model"] = model
                response = case.call()
                statuses.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.path} {case.body!r:.200}: {response.status_code} {response.text[:200]}")

            check()
        assert not failures, "\n".join(failures[:10])
        assert statuses.count(200) >= 10, "the generated requests should reach the model, not only errors"
    finally:
        registry.stop()
