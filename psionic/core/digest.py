"""Canonical digests: one function for records, one for bytes and files.

A record digest is ``sha256`` over ``b"psionic.<kind>.v1\\n"`` followed by the
RFC 8785 canonical JSON of the record, so two equal records digest the same
whatever their key order, and a receipt can never collide with a manifest.

>>> digest_json("example", {"b": 1, "a": [1, 2]}) == digest_json("example", {"a": [1, 2], "b": 1})
True
>>> digest_bytes(b"").startswith("sha256:e3b0c442")
True
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from typing import Any

import rfc8785

PREFIX = "sha256:"
_KIND = re.compile(r"^[a-z][a-z0-9_.]*$")
_CHUNK = 1 << 20


def domain_tag(kind: str, version: int = 1) -> bytes:
    """The domain separator for records of ``kind``: ``psionic.<kind>.v<version>``."""
    if not _KIND.match(kind):
        raise ValueError(f"digest kind must be lower snake/dotted, got {kind!r}")
    return f"psionic.{kind}.v{version}\n".encode()


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``obj`` (dict keys sorted, no whitespace)."""
    return rfc8785.dumps(obj)


def digest_json(kind: str, obj: Any, version: int = 1) -> str:
    """``sha256:<hex>`` over the domain tag and the canonical JSON of ``obj``."""
    h = hashlib.sha256(domain_tag(kind, version))
    h.update(canonical_json(obj))
    return PREFIX + h.hexdigest()


def digest_bytes(data: bytes | bytearray | memoryview) -> str:
    """``sha256:<hex>`` over raw bytes (artifacts carry no domain tag)."""
    return PREFIX + hashlib.sha256(data).hexdigest()


def digest_chunks(chunks: Iterable[bytes]) -> str:
    """``sha256:<hex>`` over a stream of byte chunks."""
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return PREFIX + h.hexdigest()


def digest_file(path: str | os.PathLike[str]) -> str:
    """``sha256:<hex>`` of a file's bytes, read in 1 MiB chunks."""
    with open(path, "rb") as f:
        return digest_chunks(iter(lambda: f.read(_CHUNK), b""))


def is_digest(value: object) -> bool:
    """Whether ``value`` looks like ``sha256:`` and 64 lowercase hex digits."""
    return (
        isinstance(value, str)
        and value.startswith(PREFIX)
        and len(value) == len(PREFIX) + 64
        and all(c in "0123456789abcdef" for c in value[len(PREFIX) :])
    )
