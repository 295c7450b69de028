"""``psionic data manifest`` / ``verify``: write, verify, and a changed file named in one line
with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psionic.cli.main import main

CHAT = {"messages": [{"role": "user", "content": "Capital of Peru?"},
                     {"role": "assistant", "content": "Lima."}]}


def test_manifest_verify_and_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "chat.jsonl"
    data.write_text(json.dumps(CHAT) + "\n")
    out = tmp_path / "m" / "manifest.json"
    out.parent.mkdir()
    assert main(["data", "manifest", str(data), "-o", str(out), "--model", "smollm2-135m-instruct"]) == 0
    manifest = json.loads(out.read_text())
    assert manifest["files"][0]["path"] == "../chat.jsonl"
    tok = manifest["tokenization"]
    assert tok["tokenizer"].startswith("sha256:") and tok["chat_template"].startswith("sha256:")
    split_tokens = sum(s["tokens"] for s in manifest["splits"].values())
    assert split_tokens > sum(s["loss_tokens"] for s in manifest["splits"].values()) > 0
    capsys.readouterr()
    assert main(["data", "verify", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "verified": True, "digest": manifest["digest"], "files": ["../chat.jsonl"]}
    data.write_text(json.dumps(CHAT).replace("Lima", "Cusco") + "\n")
    assert main(["data", "verify", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dataset_digest_mismatch" in err[0] and "../chat.jsonl" in err[0]


def test_manifest_to_stdout_and_a_bad_record(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text('{"prompt": "a", "completion": "b"}\n')
    assert main(["data", "manifest", "d.jsonl"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["path"] == "d.jsonl"
    (tmp_path / "d.jsonl").write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a"}\n')
    assert main(["data", "manifest", "d.jsonl"]) == 2
    assert "malformed_dataset: d.jsonl:2:" in capsys.readouterr().err
