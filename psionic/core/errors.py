"""One typed error hierarchy for every layer.

Each error class carries a stable, machine-readable ``code`` (snake_case) that
clients, receipts and HTTP responses can rely on, a human message, and an
optional ``details`` mapping. Codes are registered once; a duplicate is a bug.

>>> err = MalformedGGUF("bad magic b'GGUX' at offset 0", path="m.gguf")
>>> err.code, err.http_status
('malformed_gguf', 400)
>>> error_class("malformed_gguf") is MalformedGGUF
True
"""

from __future__ import annotations

from typing import Any, ClassVar

_REGISTRY: dict[str, type[PsionicError]] = {}


class PsionicError(Exception):
    """Base of every error Psionic raises on purpose."""

    code: ClassVar[str] = "psionic_error"
    # A hint for the HTTP edge; the core knows no server, only the number.
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("code")
        if code is None:
            raise TypeError(f"{cls.__name__} must declare a `code`")
        if code in _REGISTRY:
            raise TypeError(f"error code {code!r} is already taken by {_REGISTRY[code].__name__}")
        _REGISTRY[code] = cls

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable form: ``{"code", "message", "details"}``."""
        return {"code": self.code, "message": self.message, "details": dict(self.details)}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


_REGISTRY[PsionicError.code] = PsionicError


def error_class(code: str) -> type[PsionicError]:
    """The error class registered under ``code``."""
    return _REGISTRY[code]


def error_codes() -> list[str]:
    """Every registered code, sorted."""
    return sorted(_REGISTRY)


# --- input: files and formats -------------------------------------------------


class InvalidInput(PsionicError):
    """A request or argument is malformed."""

    code = "invalid_input"
    http_status = 400


class MalformedFile(InvalidInput):
    """A file is not what it claims to be."""

    code = "malformed_file"


class MalformedJSON(MalformedFile):
    code = "malformed_json"


class MalformedGGUF(MalformedFile):
    code = "malformed_gguf"


class TruncatedFile(MalformedFile):
    code = "truncated_file"


class UnsupportedVersion(MalformedFile):
    code = "unsupported_version"


class MissingTensor(MalformedFile):
    code = "missing_tensor"


class TensorShapeMismatch(MalformedFile):
    code = "tensor_shape_mismatch"


class UnsupportedQuantType(InvalidInput):
    code = "unsupported_quant_type"


class UnknownArchitecture(InvalidInput):
    code = "unknown_architecture"


class UnknownDType(InvalidInput):
    code = "unknown_dtype"


class ModelNotFound(InvalidInput):
    code = "model_not_found"
    http_status = 404


class ModelNotInstalled(PsionicError):
    code = "model_not_installed"
    http_status = 503


class ContextOverflow(InvalidInput):
    code = "context_overflow"


class ChatTemplateMissing(InvalidInput):
    code = "chat_template_missing"


class UnsupportedParameter(InvalidInput):
    code = "unsupported_parameter"


# --- execution truth ----------------------------------------------------------


class ReceiptError(InvalidInput):
    """A receipt or proof bundle fails verification."""

    code = "receipt_invalid"


class MalformedReceipt(ReceiptError):
    code = "malformed_receipt"


class DigestMismatch(ReceiptError):
    code = "digest_mismatch"


class SignatureInvalid(ReceiptError):
    code = "signature_invalid"


class UntrustedSigner(ReceiptError):
    code = "untrusted_signer"


class ReplayMismatch(ReceiptError):
    code = "replay_mismatch"


# --- backends and runtime -----------------------------------------------------


class Refusal(PsionicError):
    """A backend or executor declines work it cannot do faithfully."""

    code = "refused"
    http_status = 400


class UnsupportedOperation(Refusal):
    code = "unsupported_operation"


class BackendUnavailable(Refusal):
    code = "backend_unavailable"
    http_status = 503


# --- WebAssembly / Tassadar ---------------------------------------------------


class UnsupportedOpcode(Refusal):
    code = "unsupported_opcode"


class UnsupportedImport(Refusal):
    code = "unsupported_import"


class MalformedWasm(MalformedFile):
    code = "malformed_wasm"


class WasmTrap(PsionicError):
    """A program trapped; ``details['trap']`` names the trap kind."""

    code = "wasm_trap"
    http_status = 422


class UnsupportedWasmFeature(Refusal):
    """A value type, section or form outside the executor's Wasm profile."""

    code = "unsupported_wasm_feature"


class ToolMissing(PsionicError):
    """An external tool a path needs (a compiler, a linker) is not installed."""

    code = "tool_missing"
    http_status = 503


# --- serving ------------------------------------------------------------------


class QueueFull(PsionicError):
    code = "queue_full"
    http_status = 429


class NotFound(PsionicError):
    code = "not_found"
    http_status = 404


class Unauthorized(PsionicError):
    code = "unauthorized"
    http_status = 401


# --- tokenizers and chat templates ----------------------------------------------


class UnsupportedTokenizer(InvalidInput):
    """A tokenizer model or pre-tokenizer that psionic cannot reproduce faithfully."""

    code = "unsupported_tokenizer"


class ChatTemplateError(InvalidInput):
    """A chat template that does not compile, raises, or fails while rendering.

    ``details['reason']`` is ``syntax``, ``raised`` (the template called
    ``raise_exception``), ``security`` (the sandbox refused), ``budget`` (it
    tried to do far more work than a prompt needs) or ``render``.
    """

    code = "chat_template_error"
