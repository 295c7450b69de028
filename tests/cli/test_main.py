from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from psionic import __version__
from psionic.cli.main import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"psionic {__version__}"


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "psionic"
    assert script.exists(), "make install puts the CLI at .venv/bin/psionic"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"psionic {__version__}"


def test_doctor_reports_manifest_models_and_peers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["manifest"]["digest"].startswith("sha256:")
    names = {m["name"] for m in data["models"]}
    assert {"smollm2-135m-instruct", "gemma3-270m", "all-minilm-l6-v2"} <= names
    smol = next(m for m in data["models"] if m["name"] == "smollm2-135m-instruct")
    assert smol["installed"] and smol["path"].endswith(".gguf")
    assert "torch" in data["optional_python"]
    assert main(["doctor"]) == 0
    assert "runtime manifest sha256:" in capsys.readouterr().out


def test_keys_show_and_trust(capsys: pytest.CaptureFixture[str], psionic_home: Path) -> None:
    assert main(["keys"]) == 0
    assert "provider public key" in capsys.readouterr().out
    assert main(["keys", "--trust", "ab" * 32]) == 0
    assert ("ab" * 32) in (psionic_home / "trusted_keys").read_text()
    assert main(["keys", "--trust", "zz"]) == 2
