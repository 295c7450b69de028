"""A running server on a tiny synthetic llama model (fast), for HTTP-level tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from psionic.models.gguf_writer import write_gguf
from psionic.serve.engine import EngineConfig
from psionic.serve.scheduler import SchedulerConfig
from psionic.serve.server import ServerConfig, build
from tests.models.synthetic import VOCAB, tokenizer_metadata

CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CONTEXT = 256


def write_tiny_llama(path: Path, seed: int = 0, context: int = CONTEXT, template: str = CHAT_TEMPLATE,
                     control_tokens: tuple[str, ...] = ()) -> Path:
    """A 2-layer llama with random weights, a byte-level vocabulary and a chat template.

    ``control_tokens`` are added after the vocabulary as control (special) tokens.
    """
    rng = np.random.default_rng(seed)
    vocab = VOCAB + len(control_tokens)
    d, ff, heads, kv, hd = 64, 128, 4, 2, 16

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    tensors = {"token_embd.weight": w(vocab, d), "output_norm.weight": np.ones(d, np.float32), "output.weight": w(vocab, d)}
    for i in range(2):
        p = f"blk.{i}"
        tensors.update({
            f"{p}.attn_norm.weight": np.ones(d, np.float32), f"{p}.ffn_norm.weight": np.ones(d, np.float32),
            f"{p}.attn_q.weight": w(heads * hd, d), f"{p}.attn_k.weight": w(kv * hd, d),
            f"{p}.attn_v.weight": w(kv * hd, d), f"{p}.attn_output.weight": w(d, heads * hd),
            f"{p}.ffn_gate.weight": w(ff, d), f"{p}.ffn_up.weight": w(ff, d), f"{p}.ffn_down.weight": w(d, ff),
        })
    meta = {
        "llama.block_count": 2, "llama.context_length": context, "llama.embedding_length": d,
        "llama.feed_forward_length": ff, "llama.attention.head_count": heads,
        "llama.attention.head_count_kv": kv, "llama.attention.layer_norm_rms_epsilon": 1e-5,
        "llama.rope.freq_base": 10000.0, **tokenizer_metadata(),
        "tokenizer.chat_template": template,
    }
    if control_tokens:
        meta["tokenizer.ggml.tokens"] = [*meta["tokenizer.ggml.tokens"], *control_tokens]
        meta["tokenizer.ggml.token_type"] = [*meta["tokenizer.ggml.token_type"], *[3] * len(control_tokens)]
    write_gguf(path, "llama", meta, tensors)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    base_url: str
    model: str
    registry: object
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.registry.stop()  # type: ignore[attr-defined]


def start_server(config: ServerConfig) -> RunningServer:
    app, registry = build(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    name = next(iter(registry.generators), "") if registry.generators else ""
    return RunningServer(f"http://127.0.0.1:{port}", name, registry, server, thread)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama.gguf")


def tiny_config(path: Path, store: Path, **engine: int) -> ServerConfig:
    sched = SchedulerConfig(
        max_num_seqs=engine.pop("max_num_seqs", 16),
        max_num_batched_tokens=engine.pop("max_num_batched_tokens", 256),
        max_queued=engine.pop("max_queued", 64),
    )
    return ServerConfig(
        models=(str(path),),
        embeddings=(),
        engine=EngineConfig(kv_tokens=engine.pop("kv_tokens", 8192), scheduler=sched),
        warmup=False,
        store_path=store,
    )


@pytest.fixture(scope="module")
def tiny_server(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    store = tmp_path_factory.mktemp("store") / "responses.sqlite3"
    running = start_server(tiny_config(tiny_model_path, store))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tiny_long_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The tiny model with a 4096-token window: room for tool definitions in a byte-level vocabulary."""
    root = tmp_path_factory.mktemp("tiny-long")
    path = write_tiny_llama(root / "tiny-llama-long.gguf", context=4096)
    running = start_server(tiny_config(path, root / "responses.sqlite3", kv_tokens=32768, max_num_batched_tokens=1024))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def smol_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The real SmolLM2 behind the API, with room for a batch of 24."""
    store = tmp_path_factory.mktemp("store") / "responses.sqlite3"
    config = ServerConfig(
        models=("smollm2-135m-instruct",), embeddings=(), warmup=False, store_path=store,
        engine=EngineConfig(kv_tokens=16384, scheduler=SchedulerConfig(max_num_seqs=24, max_num_batched_tokens=512)),
    )
    running = start_server(config)
    yield running
    running.stop()
