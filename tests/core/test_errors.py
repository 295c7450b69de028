from __future__ import annotations

import pytest

from psionic.core import errors
from psionic.core.errors import PsionicError, error_class, error_codes


def test_codes_are_stable_and_unique() -> None:
    codes = error_codes()
    assert len(codes) == len(set(codes))
    for code in ("malformed_gguf", "unsupported_quant_type", "context_overflow", "unsupported_opcode"):
        assert code in codes
        assert error_class(code).code == code


def test_error_carries_code_message_and_details() -> None:
    err = errors.ContextOverflow("prompt of 9000 tokens exceeds the window of 8192", tokens=9000)
    assert isinstance(err, PsionicError)
    assert err.to_dict() == {
        "code": "context_overflow",
        "message": "prompt of 9000 tokens exceeds the window of 8192",
        "details": {"tokens": 9000},
    }
    assert str(err).startswith("context_overflow: ")
    assert err.http_status == 400


def test_a_duplicate_code_is_refused() -> None:
    with pytest.raises(TypeError, match="already taken"):

        class Again(PsionicError):
            code = "malformed_gguf"


def test_a_subclass_must_name_its_code() -> None:
    with pytest.raises(TypeError, match="must declare"):

        class Nameless(PsionicError):
            pass
