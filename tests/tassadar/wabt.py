"""wabt's ``wasm-interp --trace`` as a second opinion on the executed opcode sequence."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

WASM_INTERP = shutil.which("wasm-interp")

# Control flow is lowered differently by each engine (wabt rewrites br_if into br_unless + br,
# inserts drop_keep and alloca, and does not trace block/loop/end), so the comparison is the
# sequence of executed instructions that both engines keep one-to-one.
_CONTROL = {
    "unreachable", "nop", "if", "if.then", "if.else", "else", "end", "br", "br_if",
    "br_if.taken", "br_if.fallthrough", "br_unless", "br_table", "return", "drop",
    "drop_keep", "alloca", "catch_drop", "interp_call_import", "data.drop", "elem.drop",
}
_HOST = {"host.input_i32": "call_import", "host.output_i32": "call_import"}
_LINE = re.compile(r"^#\d+\.\s+\d+: V:\d+\s*\| (\S+)")


def project(names: list[str]) -> list[str]:
    return [_HOST.get(n, n) for n in names if n not in _CONTROL]


def wabt_opcodes(wasm: bytes, export: str = "run") -> list[str]:
    """Opcode names wasm-interp traces while running ``export`` (imports return zero)."""
    assert WASM_INTERP is not None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.wasm"
        path.write_bytes(wasm)
        proc = subprocess.run(
            [WASM_INTERP, "--trace", "--dummy-import-func", "--run-all-exports", str(path)],
            capture_output=True, text=True, timeout=120, check=False,
        )
    names: list[str] = []
    current = None
    for line in proc.stdout.splitlines():
        if line.startswith(">>> running export "):
            current = line.split('"')[1]
            continue
        m = _LINE.match(line)
        if m and current == export:
            names.append(m.group(1))
    return names
