"""ExecutionReceipt and ProofBundle: what ran, on what, with what result.

A receipt binds the request, the artifacts (model, tokenizer, adapter, Wasm
program, executor weights — each by digest), the runtime manifest, sampling
parameters and seed, and the output, plus timings and cache/scheduler facts.
Its ``digest`` covers all of that; the optional ed25519 ``signature`` signs the
digest. A ProofBundle adds what a verifier needs to replay the work: the full
manifest and the replay inputs and expected outputs.

>>> r = ExecutionReceipt.create(kind="example", request={"prompt": "hi"}, output={"text": "yo"},
...                             manifest_digest=digest_json("runtime_manifest", {}))
>>> ExecutionReceipt.from_json(r.to_json()) == r
True
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from psionic.core.digest import digest_json, is_digest
from psionic.core.errors import DigestMismatch, MalformedJSON, MalformedReceipt
from psionic.core.manifest import RuntimeManifest
from psionic.core.signing import Signature, sign_message, verify_signature

RECEIPT_SCHEMA = "psionic.receipt.v1"
BUNDLE_SCHEMA = "psionic.proof_bundle.v1"

# field -> (accepted JSON types, required); the table is the receipt's schema.
_RECEIPT_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "kind": ((str,), True),
    "request_digest": ((str,), True),
    "artifacts": ((dict,), True),
    "manifest_digest": ((str,), True),
    "sampling": ((dict,), True),
    "seed": ((int, type(None)), True),
    "output_digest": ((str,), True),
    "timings": ((dict,), True),
    "facts": ((dict,), True),
    "created_at": ((int, float), True),
}


def request_digest(request: Any) -> str:
    return digest_json("request", request)


def output_digest(output: Any) -> str:
    return digest_json("output", output)


def _check_fields(data: dict[str, Any]) -> None:
    for name, (kinds, required) in _RECEIPT_FIELDS.items():
        if name not in data:
            if required:
                raise MalformedReceipt(f"receipt is missing field {name!r}", field=name)
            continue
        value = data[name]
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise MalformedReceipt(f"receipt field {name!r} must be {names}", field=name)
    for name in ("request_digest", "manifest_digest", "output_digest"):
        if not is_digest(data[name]):
            raise MalformedReceipt(f"receipt field {name!r} is not a sha256 digest", field=name)
    for name, value in data["artifacts"].items():
        if not is_digest(value):
            raise MalformedReceipt(f"artifact {name!r} is not a sha256 digest", field="artifacts")
    unknown = set(data) - set(_RECEIPT_FIELDS) - {"schema", "digest", "signature"}
    if unknown:
        raise MalformedReceipt(f"receipt has unknown fields {sorted(unknown)}", field="schema")


def _finite(obj: Any, where: str) -> None:
    """Canonical JSON has no NaN or infinity; catch them with a name, not deep in rfc8785."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise MalformedReceipt(f"non-finite number in {where}", field=where)
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for v in obj:
            _finite(v, where)


@dataclass(frozen=True, slots=True)
class ExecutionReceipt:
    kind: str
    request_digest: str
    artifacts: dict[str, str]
    manifest_digest: str
    sampling: dict[str, Any]
    seed: int | None
    output_digest: str
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    signature: Signature | None = None

    @classmethod
    def create(
        cls,
        *,
        kind: str,
        request: Any,
        output: Any,
        manifest_digest: str,
        artifacts: dict[str, str] | None = None,
        sampling: dict[str, Any] | None = None,
        seed: int | None = None,
        timings: dict[str, float] | None = None,
        facts: dict[str, Any] | None = None,
    ) -> ExecutionReceipt:
        """A receipt for ``request`` -> ``output``, digesting both."""
        receipt = cls(
            kind=kind,
            request_digest=request_digest(request),
            artifacts=dict(artifacts or {}),
            manifest_digest=manifest_digest,
            sampling=dict(sampling or {}),
            seed=seed,
            output_digest=output_digest(output),
            timings=dict(timings or {}),
            facts=dict(facts or {}),
            created_at=round(time.time(), 3),
        )
        _finite(receipt.body(), "receipt")
        return receipt

    def body(self) -> dict[str, Any]:
        """Everything the digest covers (all but the signature)."""
        return {
            "schema": RECEIPT_SCHEMA,
            "kind": self.kind,
            "request_digest": self.request_digest,
            "artifacts": dict(self.artifacts),
            "manifest_digest": self.manifest_digest,
            "sampling": dict(self.sampling),
            "seed": self.seed,
            "output_digest": self.output_digest,
            "timings": dict(self.timings),
            "facts": dict(self.facts),
            "created_at": self.created_at,
        }

    @property
    def digest(self) -> str:
        return digest_json("receipt", self.body())

    def sign(self, key: Ed25519PrivateKey) -> ExecutionReceipt:
        """A copy signed with ``key`` (the signature covers ``digest``)."""
        return replace(self, signature=sign_message(key, self.digest.encode()))

    def verify_signature(self) -> None:
        """Raise unless signed and the signature matches; trust is the caller's question."""
        if self.signature is None:
            raise MalformedReceipt("receipt is not signed", field="signature")
        verify_signature(self.signature, self.digest.encode())

    def to_dict(self) -> dict[str, Any]:
        out = {**self.body(), "digest": self.digest}
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        return out

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> ExecutionReceipt:
        """Parse a receipt and check its structure and digest."""
        if not isinstance(data, dict):
            raise MalformedReceipt("receipt must be a JSON object")
        if data.get("schema") != RECEIPT_SCHEMA:
            raise MalformedReceipt(
                f"receipt schema must be {RECEIPT_SCHEMA!r}, got {data.get('schema')!r}",
                field="schema",
            )
        _check_fields(data)
        _finite(data, "receipt")
        signature = Signature.from_dict(data["signature"]) if "signature" in data else None
        receipt = cls(
            kind=data["kind"],
            request_digest=data["request_digest"],
            artifacts=dict(data["artifacts"]),
            manifest_digest=data["manifest_digest"],
            sampling=dict(data["sampling"]),
            seed=data["seed"],
            output_digest=data["output_digest"],
            timings=dict(data["timings"]),
            facts=dict(data["facts"]),
            created_at=data["created_at"],
            signature=signature,
        )
        claimed = data.get("digest")
        if not isinstance(claimed, str):
            raise MalformedReceipt("receipt is missing field 'digest'", field="digest")
        if claimed != receipt.digest:
            raise DigestMismatch(
                f"receipt digest {claimed} does not match its content ({receipt.digest}); "
                "a field was changed after it was issued",
                claimed=claimed,
                computed=receipt.digest,
            )
        return receipt

    @classmethod
    def from_json(cls, text: str | bytes) -> ExecutionReceipt:
        return cls.from_dict(parse_json(text, "receipt"))


@dataclass(frozen=True, slots=True)
class ProofBundle:
    """A receipt, its full runtime manifest, and the replay record.

    ``replay`` holds at least ``request`` (whose digest must equal the receipt's
    ``request_digest``) and ``output`` (likewise ``output_digest``); a replayer
    registered for the receipt's ``kind`` re-executes ``request`` and compares.
    """

    receipt: ExecutionReceipt
    manifest: RuntimeManifest
    replay: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {
            "schema": BUNDLE_SCHEMA,
            "receipt": self.receipt.to_dict(),
            "manifest": self.manifest.to_dict(),
            "replay": self.replay,
        }

    @property
    def digest(self) -> str:
        return digest_json("proof_bundle", self.body())

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "digest": self.digest}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    def check_bindings(self) -> None:
        """Raise ``DigestMismatch`` unless manifest, request and output bind to the receipt."""
        checks = (
            ("manifest", self.manifest.digest, self.receipt.manifest_digest),
            ("replay.request", request_digest(self.replay["request"]), self.receipt.request_digest),
            ("replay.output", output_digest(self.replay["output"]), self.receipt.output_digest),
        )
        for name, computed, bound in checks:
            if computed != bound:
                raise DigestMismatch(
                    f"bundle {name} digest {computed} does not match the receipt's {bound}",
                    field=name,
                )

    @classmethod
    def from_dict(cls, data: Any) -> ProofBundle:
        if not isinstance(data, dict):
            raise MalformedReceipt("proof bundle must be a JSON object")
        if data.get("schema") != BUNDLE_SCHEMA:
            raise MalformedReceipt(f"proof bundle schema must be {BUNDLE_SCHEMA!r}")
        replay = data.get("replay")
        if not isinstance(replay, dict) or "request" not in replay or "output" not in replay:
            raise MalformedReceipt(
                "proof bundle 'replay' must be an object with 'request' and 'output'",
                field="replay",
            )
        bundle = cls(
            receipt=ExecutionReceipt.from_dict(data.get("receipt")),
            manifest=RuntimeManifest.from_dict(data.get("manifest")),
            replay=replay,
        )
        if data.get("digest") != bundle.digest:
            raise DigestMismatch(
                f"proof bundle digest {data.get('digest')} does not match its content "
                f"({bundle.digest})",
                field="digest",
            )
        bundle.check_bindings()
        return bundle

    @classmethod
    def from_json(cls, text: str | bytes) -> ProofBundle:
        return cls.from_dict(parse_json(text, "proof bundle"))


def parse_json(text: str | bytes, what: str) -> Any:
    """``json.loads`` with a typed, one-line error for bad bytes or syntax."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text)
    except UnicodeDecodeError as e:
        raise MalformedJSON(f"{what} is not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise MalformedJSON(f"{what} is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None


# --- replay -------------------------------------------------------------------

Replayer = Callable[[ProofBundle], str]
_REPLAYERS: dict[str, Replayer] = {}


def register_replayer(kind: str, replayer: Replayer) -> Replayer:
    """Register how to re-execute bundles whose receipt has ``kind``.

    A replayer returns a short human summary on success and raises a
    ``ReceiptError`` subclass (``ReplayMismatch``) naming the first difference.
    """
    if kind in _REPLAYERS:
        raise ValueError(f"a replayer for {kind!r} is already registered")
    _REPLAYERS[kind] = replayer
    return replayer


def replayer_for(kind: str) -> Replayer | None:
    """The replayer for ``kind``, guarded: a replay record without the fields the
    replayer reads is reported as a malformed bundle, not a crash."""
    replayer = _REPLAYERS.get(kind)
    if replayer is None:
        return None

    def guarded(bundle: ProofBundle) -> str:
        try:
            return replayer(bundle)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise MalformedReceipt(
                f"the replay record of this {kind!r} bundle is incomplete or malformed: "
                f"{type(exc).__name__}: {exc}",
                field="replay",
            ) from None

    return guarded
