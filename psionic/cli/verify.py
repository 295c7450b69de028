"""``psionic verify FILE``: check a receipt or proof bundle.

Checks, in order: the file is JSON; it is a receipt or a proof bundle by its
``schema``; every field has the right type; the digest matches the content;
the signature (if any) matches, under a trusted key; a bundle's manifest,
request and output bind to its receipt; and, where a replayer is registered
for the receipt's kind, the work is re-executed and compared.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify a receipt or proof bundle (structure, digests, signature, replay)")
    p.add_argument("file", type=Path, help="a receipt or proof bundle (JSON)")
    p.add_argument(
        "--trust", action="append", default=[], metavar="PUBKEY_HEX",
        help="also trust this public key (repeatable)",
    )
    p.add_argument("--require-signature", action="store_true", help="fail an unsigned receipt")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


# Modules that register a replayer for their receipt kinds (imported on demand).
REPLAYER_MODULES = ("psionic.models.generate", "psionic.serve.receipts", "psionic.tassadar.bundle")


def unwrap(data: Any) -> Any:
    """A server response carries its bundle in ``psionic.bundle``; verify that."""
    if isinstance(data, dict) and isinstance(data.get("psionic"), dict):
        inner = data["psionic"]
        if "bundle" in inner:
            return inner["bundle"]
        if "receipt" in inner:
            return inner["receipt"]
    return data


def verify_document(data: Any, trust: list[str], require_signature: bool) -> dict[str, Any]:
    """Verify a parsed receipt or bundle; raise a ``ReceiptError`` naming the first problem."""
    import importlib

    from psionic.core.errors import MalformedReceipt
    from psionic.core.receipts import (
        BUNDLE_SCHEMA,
        RECEIPT_SCHEMA,
        ExecutionReceipt,
        ProofBundle,
        replayer_for,
    )
    from psionic.core.signing import require_trusted, trusted_keys

    schema = data.get("schema") if isinstance(data, dict) else None
    bundle = None
    if schema == RECEIPT_SCHEMA:
        receipt = ExecutionReceipt.from_dict(data)
    elif schema == BUNDLE_SCHEMA:
        bundle = ProofBundle.from_dict(data)
        receipt = bundle.receipt
    else:
        raise MalformedReceipt(
            f"not a psionic receipt or proof bundle (schema {schema!r}; expected "
            f"{RECEIPT_SCHEMA!r} or {BUNDLE_SCHEMA!r})"
        )
    result: dict[str, Any] = {
        "verified": True,
        "type": "proof_bundle" if bundle else "receipt",
        "kind": receipt.kind,
        "digest": receipt.digest,
        "signed_by": None,
        "replay": None,
    }
    if receipt.signature is not None:
        receipt.verify_signature()
        require_trusted(receipt.signature, trusted_keys(extra=trust))
        result["signed_by"] = receipt.signature.public_key
    elif require_signature:
        raise MalformedReceipt("receipt is not signed and --require-signature was given")
    if bundle is not None:
        for module in REPLAYER_MODULES:
            importlib.import_module(module)
        replayer = replayer_for(receipt.kind)
        result["replay"] = (
            replayer(bundle) if replayer else f"no replayer for kind {receipt.kind!r} in this version"
        )
    return result


def run(args: argparse.Namespace) -> int:
    from psionic.core.errors import InvalidInput
    from psionic.core.receipts import parse_json

    try:
        raw = args.file.read_bytes()
    except OSError as e:
        raise InvalidInput(f"cannot read {args.file}: {e.strerror}") from None
    document = unwrap(parse_json(raw, str(args.file)))
    result = verify_document(document, args.trust, args.require_signature)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    checks = ["structure", "digest"]
    if result["signed_by"]:
        checks.append(f"signature by {result['signed_by'][:16]}...")
    print(f"verified {result['type']} {result['digest']} ({', '.join(checks)})")
    if result["replay"]:
        print(f"replay: {result['replay']}")
    return 0
