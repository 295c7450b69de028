"""Servers that a load test starts itself: a subprocess, a health check, a clean stop.

The child's output goes to a log file (a pipe nobody reads would stall it);
when the server does not come up, the error quotes the end of that log.

>>> server_command_psionic("smollm2-135m-instruct", 8081, threads=2)[-6:]
['--host', '127.0.0.1', '--port', '8081', '--threads', '2']
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from psionic.core.errors import BackendUnavailable

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command_psionic(model: str, port: int, threads: int, host: str = HOST) -> list[str]:
    """``psionic serve`` under this interpreter, so the server runs the same installation."""
    return [
        sys.executable, "-m", "psionic.cli.main", "serve", "-m", model,
        "--host", host, "--port", str(port), "--threads", str(threads),
    ]


class ManagedServer:
    """One server subprocess on ``127.0.0.1:port``; use as a context manager so it always stops."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        port: int,
        env: Mapping[str, str] | None = None,
        host: str = HOST,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.port = port
        self.base_url = f"http://{host}:{port}"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def start(self, startup_timeout_s: float) -> ManagedServer:
        """Start the process and wait until ``GET /health`` answers 200."""
        with tempfile.NamedTemporaryFile(prefix=f"psionic-{self.name}-", suffix=".log", delete=False) as log:
            self.log_path = Path(log.name)
            try:
                self.proc = subprocess.Popen(
                    self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=self.env, start_new_session=True,
                )
            except OSError as exc:
                raise BackendUnavailable(f"{self.name}: cannot start {self.command[0]}: {exc}") from None
        try:
            self._wait_healthy(startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        url = self.base_url + "/health"
        while True:
            code = self.proc.poll() if self.proc else None
            if code is not None:
                raise BackendUnavailable(
                    f"{self.name} exited with code {code} before it was healthy; log {self.log_path}:\n"
                    f"{self.log_tail()}",
                    command=self.command,
                )
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                raise BackendUnavailable(
                    f"{self.name} did not answer 200 on {url} within {timeout_s:g} s; "
                    f"log {self.log_path}:\n{self.log_tail()}",
                    command=self.command,
                )
            time.sleep(0.2)

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace_s``; the exit code, or None if it never started."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=grace_s)
        return self.proc.returncode

    def __enter__(self) -> ManagedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
