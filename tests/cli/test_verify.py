"""`psionic verify`: every bad input gets one line naming the problem and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from psionic.cli.main import main
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt, ProofBundle
from psionic.core.signing import provider_key


def receipt() -> ExecutionReceipt:
    return ExecutionReceipt.create(
        kind="generation",
        request={"prompt": "hi"},
        output={"tokens": [1]},
        manifest_digest=RuntimeManifest.current().digest,
        seed=3,
    )


def run_verify(tmp_path: Path, content: str | bytes, capsys, *extra: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    path = tmp_path / "doc.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    code = main(["verify", str(path), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_signed_receipt_verifies(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_verify(tmp_path, receipt().sign(provider_key()).to_json(), capsys)
    assert code == 0
    assert out.startswith("verified receipt sha256:") and "signature by" in out


def test_a_bundle_verifies(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    manifest = RuntimeManifest.current()
    r = ExecutionReceipt.create(
        kind="example", request={"p": 1}, output={"t": 2}, manifest_digest=manifest.digest
    )
    bundle = ProofBundle(r, manifest, {"request": {"p": 1}, "output": {"t": 2}})
    code, out, _ = run_verify(tmp_path, bundle.to_json(), capsys)
    assert code == 0 and "verified proof_bundle" in out
    assert "no replayer for kind 'example'" in out


def test_a_generation_bundle_without_its_replay_fields(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    manifest = RuntimeManifest.current()
    r = ExecutionReceipt.create(
        kind="generation", request={"p": 1}, output={"t": 2}, manifest_digest=manifest.digest
    )
    bundle = ProofBundle(r, manifest, {"request": {"p": 1}, "output": {"t": 2}})
    code, _, err = run_verify(tmp_path, bundle.to_json(), capsys)
    assert code == 2 and "malformed_receipt" in err and "replay record" in err and err.count("\n") == 1


def test_non_json_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_verify(tmp_path, "this is not json\n", capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "malformed_json" in err and "not JSON" in err


def test_non_utf8_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_verify(tmp_path, b"\x89PNG\xff\x00", capsys)
    assert code == 2 and "not UTF-8" in err and err.count("\n") == 1


def test_json_that_is_not_a_receipt(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_verify(tmp_path, json.dumps([1, 2]), capsys)
    assert code == 2 and "not a psionic receipt or proof bundle" in err


def test_one_changed_field(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    data = receipt().sign(provider_key()).to_dict()
    data["seed"] = 4
    code, _, err = run_verify(tmp_path, json.dumps(data), capsys)
    assert code == 2 and err.count("\n") == 1
    assert "digest_mismatch" in err and "a field was changed" in err


def test_signed_by_another_key(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    other = receipt().sign(Ed25519PrivateKey.generate())
    code, _, err = run_verify(tmp_path, other.to_json(), capsys)
    assert code == 2 and err.count("\n") == 1
    assert "untrusted_signer" in err
    # Trusting that key explicitly makes the same file verify.
    pub = other.signature.public_key  # type: ignore[union-attr]
    code, out, _ = run_verify(tmp_path, other.to_json(), capsys, "--trust", pub)
    assert code == 0


def test_signature_swapped_onto_our_key(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ours = receipt().sign(provider_key()).to_dict()
    theirs = receipt().sign(Ed25519PrivateKey.generate())
    ours["signature"]["value"] = theirs.signature.value  # type: ignore[union-attr]
    code, _, err = run_verify(tmp_path, json.dumps(ours), capsys)
    assert code == 2 and "signature_invalid" in err


def test_unsigned_receipt_with_require_signature(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_verify(tmp_path, receipt().to_json(), capsys, "--require-signature")
    assert code == 2 and "not signed" in err


def test_missing_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["verify", str(tmp_path / "absent.json")])
    assert code == 2 and "cannot read" in capsys.readouterr().err
