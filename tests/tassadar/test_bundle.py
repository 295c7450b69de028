"""Proof bundles of Tassadar runs: re-decoded with the other attention mode by `psionic verify`."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from psionic.cli.main import main
from psionic.cli.verify import verify_document
from psionic.core.errors import ReplayMismatch
from psionic.core.receipts import ProofBundle
from psionic.tassadar import bundle as bundle_mod
from psionic.tassadar import run as run_mod
from psionic.tassadar.bundle import REPLAY_MODE, replay_run, run_bundle
from psionic.tassadar.ingress import load_wat
from psionic.tassadar.outcome import Outcome

WAT = ('(module (func (export "run") (param i32 i32) (result i32) local.get 0 local.get 1 '
       'i32.add local.get 0 i32.mul))')


@pytest.mark.parametrize("decode", ["hull", "linear", "reference"])
def test_bundles_verify_by_replay_with_the_other_mode(decode: str) -> None:
    bundle = run_bundle(load_wat(WAT), "run", [5, 9], [], decode)
    data = json.loads(bundle.to_json())
    result = verify_document(data, [], False)
    assert result["verified"] and result["type"] == "proof_bundle"
    assert f"re-decoded with {REPLAY_MODE[decode]}" in result["replay"]
    if decode != "reference":
        assert "executor_weights" in bundle.receipt.artifacts
    assert bundle.replay["output"]["trace_digest"].startswith("sha256:")


def test_a_wrong_trace_is_caught_by_the_replay(monkeypatch) -> None:
    good = run_mod.DECODERS["hull"]

    def broken(*a):  # emits one token wrong, as a faulty attention would
        out = good(*a)
        tokens = list(out.tokens)
        tokens[3] ^= 1
        return replace(out, tokens=type(out.tokens)("H", tokens)) if isinstance(out, Outcome) else out

    monkeypatch.setitem(run_mod.DECODERS, "broken", broken)
    monkeypatch.setitem(REPLAY_MODE, "broken", "linear-compiled")
    bundle = run_bundle(load_wat(WAT), "run", [5, 9], [], "broken")
    with pytest.raises(ReplayMismatch, match="trace"):
        replay_run(bundle)


def _rebundle(bundle: ProofBundle, **changes) -> ProofBundle:
    return ProofBundle(changes.pop("receipt", bundle.receipt), bundle.manifest,
                       {**bundle.replay, **changes})


def test_a_swapped_program_is_caught() -> None:
    bundle = run_bundle(load_wat(WAT), "run", [5, 9], [], "hull")
    other = load_wat('(module (func (export "run") (param i32 i32) (result i32) local.get 0))')
    forged = _rebundle(bundle, program_wasm_base64=base64.b64encode(other.wasm).decode())
    with pytest.raises(ReplayMismatch, match="program"):
        replay_run(forged)


def test_other_weights_or_a_relabelled_mode_are_caught() -> None:
    bundle = run_bundle(load_wat(WAT), "run", [5, 9], [], "hull")
    receipt = replace(bundle.receipt, artifacts={**bundle.receipt.artifacts,
                                                 "executor_weights": "sha256:" + "0" * 64})
    with pytest.raises(ReplayMismatch, match="weights"):
        replay_run(_rebundle(bundle, receipt=receipt))
    with pytest.raises(ReplayMismatch, match="decode"):
        replay_run(_rebundle(bundle, decode="linear"))


def test_cli_writes_a_bundle_and_verify_replays_it(tmp_path, capsys) -> None:
    wat = tmp_path / "p.wat"
    wat.write_text(WAT)
    path = tmp_path / "bundle.json"
    assert main(["tassadar", "run", str(wat), "--args", "5", "9", "--decode", "hull",
                 "--bundle", str(path)]) == 0
    capsys.readouterr()
    assert main(["verify", str(path)]) == 0
    assert "re-decoded with linear-compiled" in capsys.readouterr().out
    data = json.loads(path.read_text())
    data["replay"]["output"]["steps"] += 1  # no longer bound to the receipt
    path.write_text(json.dumps(data))
    assert main(["verify", str(path)]) == 2


def test_replayer_is_registered_for_run_receipts() -> None:
    from psionic.core.receipts import replayer_for

    assert replayer_for(bundle_mod.RECEIPT_KIND) is not None
