"""OpenAI's error object for every failure the HTTP edge reports."""

from __future__ import annotations

from typing import Any

from psionic.core.errors import PsionicError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}


def error_body(status: int, message: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "server_error"),
            "param": param,
            "code": code,
        }
    }


def from_psionic(err: PsionicError) -> tuple[int, dict[str, Any]]:
    param = err.details.get("param")
    return err.http_status, error_body(err.http_status, err.message, err.code, param)
