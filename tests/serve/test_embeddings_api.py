"""/v1/embeddings on the shipped all-MiniLM-L6-v2, against sentence-transformers' outputs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from psionic.serve.server import ServerConfig

from .conftest import RunningServer, start_server

FIXTURE = next(
    (p for p in (Path(__file__).resolve().parents[i] / "shared/fixtures/embeddings/public_all-minilm-l6-v2.json"
                 for i in range(2, 5)) if p.exists()),
    None,
)
openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def embed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    config = ServerConfig(models=(), embeddings=("all-minilm-l6-v2",), warmup=False,
                          store_path=tmp_path_factory.mktemp("e") / "r.sqlite3")
    running = start_server(config)
    yield running
    running.stop()


@pytest.mark.skipif(FIXTURE is None, reason="the shared embeddings fixture is not beside this checkout")
def test_batched_float_and_base64_match_the_fixture(embed_server: RunningServer) -> None:
    cases = json.loads(FIXTURE.read_text())["cases"]  # type: ignore[union-attr]
    texts = [c["text"] for c in cases]
    expected = np.array([c["embedding"] for c in cases], dtype=np.float64)
    client = openai.OpenAI(base_url=embed_server.base_url + "/v1", api_key="x", max_retries=0)
    floats = client.embeddings.create(model="all-minilm-l6-v2", input=texts)
    got = np.array([d.embedding for d in floats.data])
    cos = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert cos.min() >= 0.999
    assert floats.usage.prompt_tokens > len(texts)
    raw = client.embeddings.with_raw_response.create(model="all-minilm-l6-v2", input=texts[:2], encoding_format="base64")
    body = raw.http_response.json()
    vec = np.frombuffer(base64.b64decode(body["data"][1]["embedding"]), dtype="<f4")
    assert np.allclose(vec, got[1], atol=1e-6)
    assert raw.http_response.headers["x-psionic-receipt-digest"].startswith("sha256:")


def test_embeddings_errors(embed_server: RunningServer) -> None:
    client = openai.OpenAI(base_url=embed_server.base_url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="dimensions"):
        client.embeddings.create(model="all-minilm-l6-v2", input="x", dimensions=12)
    with pytest.raises(openai.BadRequestError, match="token-id input"):
        client.embeddings.create(model="all-minilm-l6-v2", input=[[1, 2, 3]])
    models = client.models.list().data
    assert models[0].model_extra["psionic"]["capabilities"] == ["embeddings"]
