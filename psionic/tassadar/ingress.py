"""Program ingress: ``.wasm`` binaries, ``.wat`` text and ``.c`` sources, to a validated ``Program``.

``.wat`` goes through ``wasmtime.wat2wasm``; ``.c`` through clang-16 and
wasm-ld (lld-16) for wasm32 with ``C_FLAGS``, cached under
``$PSIONIC_CACHE/tassadar/c`` by the digest of the source, the flags and the
compiler's version. C programs are linked into one page of memory (a 16 KiB
stack first, then the data): the executor's memory keys order ``2^22``
positions with one page against ``2^20`` with two (``executor/memory_layout.py``),
and with the stack first an overflowing stack traps out of bounds instead of
overwriting the data. Whatever the source, the bytes are decoded and validated
by psionic's own decoder for the profile before anything runs.

>>> p = load_wat('(module (func (export "run") (result i32) i32.const 7))')
>>> p.source, p.digest.startswith("sha256:")
('wat', True)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from psionic.core.atomic import atomic_write_bytes
from psionic.core.digest import digest_bytes, digest_json
from psionic.core.errors import InvalidInput, MalformedWasm, ToolMissing
from psionic.core.home import psionic_cache
from psionic.tassadar.decoder import decode
from psionic.tassadar.program import Program
from psionic.tassadar.validate import validate

CLANG = "clang-16"
LINKER = "wasm-ld-16"
C_FLAGS = (
    "--target=wasm32", "-O2", "-nostdlib", "-Wl,--no-entry", "-Wl,--allow-undefined",
    "-Wl,--export-all", "-Wl,--initial-memory=65536", "-Wl,--max-memory=65536",
    "-Wl,-z,stack-size=16384", "-Wl,--stack-first",
)
INSTALL_HINT = "install clang-16 and lld-16 (apt-get install clang-16 lld-16)"


@dataclass(frozen=True, slots=True)
class LoadedProgram:
    """A validated program and where it came from; ``digest`` is sha256 of the Wasm bytes."""

    wasm: bytes
    program: Program
    digest: str
    source: str  # "wasm", "wat" or "c"
    path: str | None = None


def from_wasm(wasm: bytes, source: str = "wasm", path: str | None = None) -> LoadedProgram:
    """Decode and validate ``wasm`` (refusing anything outside the profile)."""
    program = validate(decode(wasm))
    return LoadedProgram(bytes(wasm), program, digest_bytes(wasm), source, path)


def wat_to_wasm(text: str) -> bytes:
    import wasmtime

    try:
        return bytes(wasmtime.wat2wasm(text))
    except wasmtime.WasmtimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unparseable"
        raise MalformedWasm(f"the WAT text does not assemble: {first}") from None


def load_wat(text: str, path: str | None = None) -> LoadedProgram:
    return from_wasm(wat_to_wasm(text), "wat", path)


def find_tool(name: str) -> str | None:
    """The path of an external tool, or None (a seam tests use to play a bare machine)."""
    return shutil.which(name)


def c_toolchain() -> str:
    """The clang to use for ``.c`` input; raises ``ToolMissing`` saying what to install."""
    clang = find_tool(CLANG)
    linker = find_tool(LINKER)
    if clang is None or linker is None:
        missing = [n for n, p in ((CLANG, clang), (LINKER, linker)) if p is None]
        raise ToolMissing(
            f".c input needs {' and '.join(missing)}, which this machine lacks: {INSTALL_HINT}; "
            ".wat and .wasm input work without them",
            missing=missing,
        )
    return clang


def _clang_version(clang: str) -> str:
    out = subprocess.run([clang, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def compile_c(source: str | bytes, name: str = "program.c") -> bytes:
    """Compile C ``source`` to wasm32 with ``C_FLAGS`` (cached); raises on a missing toolchain."""
    clang = c_toolchain()
    src = source.encode() if isinstance(source, str) else bytes(source)
    key = digest_json("tassadar_c_build", {
        "source": digest_bytes(src), "flags": list(C_FLAGS), "clang": _clang_version(clang),
    }).split(":")[1]
    cache = psionic_cache() / "tassadar" / "c"
    cached = cache / f"{key}.wasm"
    if cached.exists():
        return cached.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        c_path = Path(tmp) / Path(name).name
        c_path.write_bytes(src)
        out_path = Path(tmp) / "out.wasm"
        proc = subprocess.run(
            [clang, *C_FLAGS, "-o", str(out_path), str(c_path)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise InvalidInput(
                f"clang could not compile {name}: {proc.stderr.strip()[:2000]}", name=name
            )
        wasm = out_path.read_bytes()
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(cached, wasm)
    return wasm


def _load_wasm_file(path: Path) -> LoadedProgram:
    return from_wasm(path.read_bytes(), "wasm", str(path))


def _load_wat_file(path: Path) -> LoadedProgram:
    return load_wat(path.read_text(), str(path))


def _load_c_file(path: Path) -> LoadedProgram:
    return from_wasm(compile_c(path.read_bytes(), path.name), "c", str(path))


LOADERS: dict[str, Callable[[Path], LoadedProgram]] = {
    ".wasm": _load_wasm_file,
    ".wat": _load_wat_file,
    ".c": _load_c_file,
}


def load(path: str | os.PathLike[str]) -> LoadedProgram:
    """Load a program file by its suffix: ``.wasm``, ``.wat`` or ``.c``."""
    p = Path(path)
    loader = LOADERS.get(p.suffix.lower())
    if loader is None:
        raise InvalidInput(
            f"{p.name}: unknown program type {p.suffix!r}; expected one of {sorted(LOADERS)}"
        )
    if not p.is_file():
        raise InvalidInput(f"{p}: no such file")
    return loader(p)
