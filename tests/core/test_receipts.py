from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from psionic.core.errors import (
    DigestMismatch,
    MalformedJSON,
    MalformedReceipt,
    SignatureInvalid,
    UntrustedSigner,
)
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt, ProofBundle, parse_json
from psionic.core.signing import (
    key_path,
    provider_key,
    public_key_hex,
    require_trusted,
    trusted_keys,
)


def make_receipt(**overrides: object) -> ExecutionReceipt:
    manifest = RuntimeManifest.current()
    fields = dict(
        kind="generation",
        request={"prompt": "Hello", "max_tokens": 4},
        output={"tokens": [1, 2, 3], "text": "abc"},
        manifest_digest=manifest.digest,
        artifacts={"model": "sha256:" + "ab" * 32},
        sampling={"temperature": 0.0},
        seed=7,
        timings={"total_s": 0.25},
        facts={"batch_sizes": [1, 2]},
    )
    fields.update(overrides)
    return ExecutionReceipt.create(**fields)  # type: ignore[arg-type]


def test_receipt_round_trips_through_json() -> None:
    r = make_receipt()
    again = ExecutionReceipt.from_json(r.to_json())
    assert again == r and again.digest == r.digest


@pytest.mark.parametrize(
    "field, value",
    [("seed", 8), ("kind", "other"), ("sampling", {"temperature": 0.5}), ("timings", {"total_s": 9.0})],
)
def test_any_changed_field_breaks_the_digest(field: str, value: object) -> None:
    data = make_receipt().to_dict()
    data[field] = value
    with pytest.raises(DigestMismatch):
        ExecutionReceipt.from_dict(data)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("output_digest"), "missing field 'output_digest'"),
        (lambda d: d.update(seed="7"), "'seed' must be int or null"),
        (lambda d: d.update(seed=True), "'seed' must be int or null"),
        (lambda d: d.update(request_digest="sha256:nothex"), "not a sha256 digest"),
        (lambda d: d.update(artifacts={"model": "abc"}), "artifact 'model'"),
        (lambda d: d.update(schema="psionic.receipt.v0"), "schema"),
        (lambda d: d.update(extra=1), "unknown fields"),
        (lambda d: d.update(timings={"t": float("nan")}), "non-finite"),
    ],
)
def test_malformed_receipts_are_named(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = make_receipt().to_dict()
    mutate(data)
    with pytest.raises(MalformedReceipt, match=message):
        ExecutionReceipt.from_dict(data)


def test_parse_json_errors_are_typed() -> None:
    with pytest.raises(MalformedJSON, match="not JSON"):
        parse_json(b"{nope", "receipt")
    with pytest.raises(MalformedJSON, match="not UTF-8"):
        parse_json(b"\xff\xfe", "receipt")


def test_signing_and_verification(psionic_home: Path) -> None:
    key = provider_key()
    signed = make_receipt().sign(key)
    again = ExecutionReceipt.from_json(signed.to_json())
    again.verify_signature()
    require_trusted(again.signature, trusted_keys())  # type: ignore[arg-type]

    # A signature by another key, presented under our public key, does not verify.
    forged = json.loads(signed.to_json())
    other = make_receipt().sign(Ed25519PrivateKey.generate())
    forged["signature"]["value"] = other.signature.value  # type: ignore[union-attr]
    with pytest.raises(SignatureInvalid):
        ExecutionReceipt.from_dict(forged).verify_signature()

    # A valid signature by a key nobody trusts is refused as untrusted.
    stranger = make_receipt().sign(Ed25519PrivateKey.generate())
    stranger.verify_signature()
    with pytest.raises(UntrustedSigner):
        require_trusted(stranger.signature, trusted_keys())  # type: ignore[arg-type]
    pub = stranger.signature.public_key  # type: ignore[union-attr]
    require_trusted(stranger.signature, trusted_keys(extra=[pub]))  # type: ignore[arg-type]


def test_provider_key_is_made_once_with_mode_0600(psionic_home: Path) -> None:
    first = public_key_hex(provider_key())
    path = key_path()
    assert path.parent.parent == psionic_home
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert public_key_hex(provider_key()) == first


def test_bundle_binds_manifest_request_and_output() -> None:
    manifest = RuntimeManifest.current()
    request = {"prompt": "Hello"}
    output = {"tokens": [5]}
    receipt = ExecutionReceipt.create(
        kind="generation", request=request, output=output, manifest_digest=manifest.digest
    )
    bundle = ProofBundle(receipt, manifest, {"request": request, "output": output})
    again = ProofBundle.from_json(bundle.to_json())
    assert again.digest == bundle.digest

    # Change the replay output and re-seal the bundle digest: the binding to the receipt fails.
    tampered = ProofBundle(receipt, manifest, {"request": request, "output": {"tokens": [6]}})
    with pytest.raises(DigestMismatch, match="replay.output"):
        ProofBundle.from_json(tampered.to_json())
    other_manifest = RuntimeManifest.current(backend="torch")
    with pytest.raises(DigestMismatch, match="manifest"):
        ProofBundle.from_json(ProofBundle(receipt, other_manifest, bundle.replay).to_json())
    unsealed = bundle.to_dict()
    unsealed["replay"]["note"] = "added"
    with pytest.raises(DigestMismatch, match="proof bundle digest"):
        ProofBundle.from_dict(unsealed)
