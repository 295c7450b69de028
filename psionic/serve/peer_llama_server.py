"""llama.cpp's native ``llama-server``, the serving peer: find the binary, build its command line.

llama-server splits its context evenly between ``--parallel`` slots, so the
context asked for is ``parallel`` times what one request needs.

>>> llama_server_context(prompt_tokens=64, max_tokens=32, parallel=16)
8192
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

from psionic.core.errors import ToolMissing

BINARY = "llama-server"
BUILD_SCRIPT = Path(__file__).resolve().parents[3] / "shared" / "peers" / "llama-server.sh"
HOW_TO_BUILD = (
    f"build it once with {BUILD_SCRIPT} (it prints the binary's path) and pass --llama-server PATH, "
    f"or pass --build-peer to run that script now, or put {BINARY} on PATH"
)

# Chat templates wrap a prompt in role markers and a system turn; leave room for them.
TEMPLATE_ALLOWANCE = 64
SLOT_QUANTUM = 256
MIN_SLOT_CONTEXT = 512


def llama_server_context(prompt_tokens: int, max_tokens: int, parallel: int) -> int:
    """Total context for ``parallel`` slots, each fitting prompt (with slack), template and output."""
    need = int(prompt_tokens * 1.5) + TEMPLATE_ALLOWANCE + max_tokens
    slot = max(MIN_SLOT_CONTEXT, math.ceil(need / SLOT_QUANTUM) * SLOT_QUANTUM)
    return parallel * slot


def build_llama_server(script: Path = BUILD_SCRIPT) -> Path:
    """Run the peer build script (minutes the first time, instant afterwards) and return its binary."""
    if not script.is_file():
        raise ToolMissing(f"the llama-server build script {script} does not exist", script=str(script))
    done = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ToolMissing(f"{script} failed with code {done.returncode}", script=str(script))
    return _executable(Path(lines[-1]))


def _executable(path: Path) -> Path:
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ToolMissing(f"llama-server {path} is not an executable file; {HOW_TO_BUILD}", path=str(path))
    return path


def find_llama_server(explicit: str | None = None, build: bool = False) -> Path:
    """The binary: ``explicit`` if given, else built by the script when ``build``, else from PATH."""
    if explicit:
        return _executable(Path(explicit))
    if build:
        return build_llama_server()
    found = shutil.which(BINARY)
    if found is None:
        raise ToolMissing(f"{BINARY} was not found; {HOW_TO_BUILD}")
    return Path(found)


def llama_server_version(binary: Path) -> str | None:
    """What ``llama-server --version`` says (it writes to stderr), or None."""
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stderr + done.stdout).strip().splitlines()
    version = [line for line in text if line.startswith("version:")] or text
    return version[0] if version else None


def server_command_llama(
    binary: Path,
    gguf: Path,
    port: int,
    threads: int,
    ctx: int,
    parallel: int = 16,
    host: str = "127.0.0.1",
    repack: bool = False,
) -> list[str]:
    """llama-server on one GGUF file with continuous batching over ``parallel`` slots.

    Weight repacking stays off unless asked for: on CPUs that advertise AMX
    but trap its instructions (some VMs), a native build that repacks Q4_1
    for AMX dies with SIGILL while warming up.
    """
    return [
        str(binary), "-m", str(gguf), "--host", host, "--port", str(port),
        "--parallel", str(parallel), "-t", str(threads), "-tb", str(threads), "-c", str(ctx),
        *([] if repack else ["--no-repack"]),
    ]
