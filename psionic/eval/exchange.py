"""The receipt of one request/response exchange, whoever answered it.

A psionic server's receipt says what its engine ran; a foreign endpoint gives
none. The exchange receipt is the client's own account, made for every
request: the endpoint, the exact body sent and the exact body received (each
by digest), the status and the time taken, under the client's runtime
manifest. ``check_exchange`` recomputes the digests from the stored bodies.

>>> r = exchange_receipt("in-process", {"a": 1}, 200, {"b": 2}, 0.5, "sha256:" + "0" * 64)
>>> check_exchange(r, {"a": 1}, {"b": 2}) is None
True
"""

from __future__ import annotations

from typing import Any

from psionic.core.errors import DigestMismatch
from psionic.core.receipts import ExecutionReceipt, output_digest, request_digest

KIND = "eval_exchange"


def exchange_receipt(endpoint: str, sent: dict[str, Any], status: int, received: Any, seconds: float,
                     manifest_digest: str, model_digest: str | None = None,
                     served_receipt: str | None = None) -> dict[str, Any]:
    receipt = ExecutionReceipt.create(
        kind=KIND,
        request={"endpoint": endpoint, "body": sent},
        output={"status": status, "body": received},
        manifest_digest=manifest_digest,
        artifacts={"model": model_digest} if model_digest else {},
        sampling={k: sent[k] for k in ("temperature", "top_p", "max_tokens") if k in sent},
        seed=sent.get("seed"),
        timings={"seconds": round(seconds, 6)},
        facts={"endpoint": endpoint, "status": status, "served_receipt": served_receipt},
    )
    return receipt.to_dict()


def check_exchange(receipt: dict[str, Any], sent: dict[str, Any], received: Any) -> None:
    """Raise ``DigestMismatch`` unless the receipt is intact and binds these two bodies."""
    parsed = ExecutionReceipt.from_dict(receipt)
    endpoint = parsed.facts.get("endpoint")
    if parsed.request_digest != request_digest({"endpoint": endpoint, "body": sent}):
        raise DigestMismatch("the stored request is not the one the exchange receipt binds")
    status = parsed.facts.get("status")
    if parsed.output_digest != output_digest({"status": status, "body": received}):
        raise DigestMismatch("the stored response is not the one the exchange receipt binds")
