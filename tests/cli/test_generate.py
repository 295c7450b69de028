"""`psionic generate` end to end on SmolLM2, its receipt, and replay through `psionic verify`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from psionic.cli.main import main
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt, ProofBundle, output_digest


def run_json(capsys, *args: str) -> dict:  # type: ignore[no-untyped-def]
    assert main(["generate", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_raw_prompt_greedy_json_and_replay(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bundle = tmp_path / "bundle.json"
    out = run_json(capsys, "--prompt", "The capital of France is", "--raw", "--max-tokens", "4",
                   "--bundle", str(bundle), "--sign")
    assert out["prompt_tokens"] == [504, 3575, 282, 4649, 314]  # llama.cpp's tokenization
    assert out["tokens"][:3] == [7042, 30, 198]  # llama.cpp's greedy continuation
    assert out["text"].startswith(" Paris.")
    assert out["finish_reason"] == "length"
    receipt = out["receipt"]
    assert receipt["kind"] == "generation" and receipt["signature"]["algorithm"] == "ed25519"
    assert set(receipt["artifacts"]) == {"model", "tokenizer"}
    assert receipt["seed"] is not None
    assert main(["verify", str(bundle)]) == 0
    verdict = capsys.readouterr().out
    assert "replayed 4 tokens" in verdict and "identical" in verdict

    # A bundle whose recorded output was altered (and re-sealed) names the first differing token.
    data = json.loads(bundle.read_text())
    data["replay"]["output"]["tokens"][1] += 1
    receipt_obj = ExecutionReceipt.from_dict(data["receipt"])
    forged = replace(receipt_obj, output_digest=output_digest(data["replay"]["output"]), signature=None)
    bundle.write_text(ProofBundle(forged, RuntimeManifest.from_dict(data["manifest"]), data["replay"]).to_json())
    assert main(["verify", str(bundle)]) == 2
    assert "differs at generated token 1" in capsys.readouterr().err


def test_chat_seeded_sampling_is_reproducible(capsys) -> None:  # type: ignore[no-untyped-def]
    args = ("--prompt", "Name a colour.", "--max-tokens", "6", "--temperature", "0.9", "--seed", "3")
    a = run_json(capsys, *args)
    b = run_json(capsys, *args)
    assert a["tokens"] == b["tokens"] and a["receipt"]["seed"] == 3
    # The chat template wrapped the prompt: it starts with <|im_start|>.
    assert a["prompt_tokens"][0] == 1


def test_streaming_text_output(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["generate", "--prompt", "The capital of France is", "--raw", "--max-tokens", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(" Paris.")
    assert "tokens, length" in captured.err and "receipt sha256:" in captured.err


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--prompt", "x", "-m", "no-such-model"], "model_not_found"),
        (["--prompt", "x", "-m", "/nonexistent/file.gguf"], "model_not_found"),
        (["--messages", "not json"], "malformed_json"),
        (["--messages", "[]"], "non-empty JSON list"),
        (["--prompt", "x", "--temperature", "-1"], "temperature"),
        (["--prompt", "x", "-m", "gemma3-270m"], "chat_template_missing"),
    ],
)
def test_bad_input(args: list[str], needle: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["generate", *args]) == 2
    last = capsys.readouterr().err.splitlines()[-1]  # loading progress may come first
    assert last.startswith("psionic: error: ") and needle in last


def test_llamacpp_numerics_recorded_and_replayed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """--numerics llamacpp: the bundle's model reference and manifest name it, and replay honours it."""
    bundle = tmp_path / "bundle.json"
    out = run_json(capsys, "--prompt", "The capital of France is", "--raw", "--max-tokens", "3",
                   "--numerics", "llamacpp", "--bundle", str(bundle))
    assert out["tokens"] == [7042, 30, 198]  # llama.cpp's greedy continuation
    data = json.loads(bundle.read_text())
    assert data["replay"]["request"]["model"]["numerics"] == "llamacpp"
    assert data["manifest"]["determinism"]["numerics"] == "llamacpp"
    assert data["manifest"]["determinism"]["batch_invariant"] is False
    assert main(["verify", str(bundle)]) == 0
    assert "identical" in capsys.readouterr().out
