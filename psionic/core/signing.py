"""Ed25519 signing for receipts, with a provider key made on first use.

The provider key lives at ``$PSIONIC_HOME/keys/provider.ed25519.pem`` (mode
0600). Verification checks the signature against the public key it names and
then asks whether that key is trusted: the local provider key, keys listed one
per line (hex) in ``$PSIONIC_HOME/trusted_keys``, or keys passed explicitly.

>>> import tempfile, os
>>> os.environ["PSIONIC_HOME"] = tempfile.mkdtemp()
>>> key = provider_key()
>>> sig = sign_message(key, b"hello")
>>> verify_signature(sig, b"hello")
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from psionic.core.errors import MalformedReceipt, SignatureInvalid, UntrustedSigner
from psionic.core.home import psionic_home

ALGORITHM = "ed25519"
KEY_FILE = "provider.ed25519.pem"


@dataclass(frozen=True, slots=True)
class Signature:
    """An ed25519 signature (hex) and the public key (hex, raw 32 bytes) that made it."""

    algorithm: str
    public_key: str
    value: str

    def to_dict(self) -> dict[str, str]:
        return {"algorithm": self.algorithm, "public_key": self.public_key, "value": self.value}

    @classmethod
    def from_dict(cls, data: Any) -> Signature:
        if not isinstance(data, dict):
            raise MalformedReceipt("signature must be a JSON object", field="signature")
        for name in ("algorithm", "public_key", "value"):
            if not isinstance(data.get(name), str):
                raise MalformedReceipt(f"signature field {name!r} must be a string", field=name)
        if data["algorithm"] != ALGORITHM:
            raise MalformedReceipt(
                f"unsupported signature algorithm {data['algorithm']!r}", field="algorithm"
            )
        return cls(data["algorithm"], data["public_key"], data["value"])


def key_path(home: Path | None = None) -> Path:
    return (home or psionic_home()) / "keys" / KEY_FILE


def provider_key(home: Path | None = None) -> Ed25519PrivateKey:
    """The provider's signing key, created (mode 0600) on first use."""
    path = key_path(home)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; read theirs
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise MalformedReceipt(f"{path} does not hold an ed25519 private key")
    return key


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def sign_message(key: Ed25519PrivateKey, message: bytes) -> Signature:
    return Signature(ALGORITHM, public_key_hex(key), key.sign(message).hex())


def verify_signature(signature: Signature, message: bytes) -> None:
    """Raise ``SignatureInvalid`` unless ``signature`` signs ``message`` under its key."""
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(signature.public_key))
        public.verify(bytes.fromhex(signature.value), message)
    except (ValueError, InvalidSignature):
        raise SignatureInvalid(
            "signature does not match the signed content under its public key",
            public_key=signature.public_key,
        ) from None


def trusted_keys(home: Path | None = None, extra: Iterable[str] = ()) -> set[str]:
    """Public keys (hex) trusted here: the provider's own, the trust file's, and ``extra``."""
    home = home or psionic_home()
    keys = {k.strip().lower() for k in extra if k.strip()}
    if key_path(home).exists():
        keys.add(public_key_hex(provider_key(home)))
    trust_file = home / "trusted_keys"
    if trust_file.exists():
        for line in trust_file.read_text().splitlines():
            line = line.split("#", 1)[0].strip().lower()
            if line:
                keys.add(line)
    return keys


def require_trusted(signature: Signature, trusted: set[str]) -> None:
    if signature.public_key.lower() not in trusted:
        raise UntrustedSigner(
            f"signed by key {signature.public_key[:16]}..., which is not trusted here "
            "(add it to $PSIONIC_HOME/trusted_keys or pass --trust)",
            public_key=signature.public_key,
        )
