"""Drive llama.cpp (llama-cpp-python, in its own venv) from a benchmark."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from psionic.core.errors import BackendUnavailable

WORKER = Path(__file__).with_name("llamacpp_worker.py")


class LlamaCppPeer:
    """A llama.cpp worker process holding one model; each call is one request/answer."""

    def __init__(
        self, python: str, model_path: Path, threads: int, n_ctx: int = 2048, **load_options: Any
    ) -> None:
        """``load_options``: further fields of the worker's load command (``flash_attn``,
        ``logits_all``; see llamacpp_worker.py)."""
        if not Path(python).exists():
            raise BackendUnavailable(
                f"peer python {python} does not exist (build it with shared/peers/llamacpp.sh)"
            )
        self.proc = subprocess.Popen(
            [python, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.version = self.call(
            op="load", path=str(model_path), threads=threads, n_ctx=n_ctx, **load_options
        )["version"]

    def call(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BackendUnavailable(f"llama.cpp worker exited (code {self.proc.poll()})")
        reply = json.loads(line)
        if "error" in reply:
            raise BackendUnavailable(f"llama.cpp worker: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=30)

    def __enter__(self) -> LlamaCppPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
