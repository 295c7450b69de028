"""``psionic keys``: the provider's public key, and which keys this machine trusts."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="show the provider signing key; trust other keys")
    p.add_argument("--trust", metavar="PUBKEY_HEX", help="add a public key to the trust file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from psionic.core.errors import InvalidInput
    from psionic.core.home import psionic_home
    from psionic.core.signing import key_path, provider_key, public_key_hex

    if args.trust:
        key = args.trust.strip().lower()
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise InvalidInput("a public key is 64 hex digits (raw ed25519)")
        with open(psionic_home() / "trusted_keys", "a") as f:
            f.write(key + "\n")
        print(f"trusted {key}")
        return 0
    print(f"provider public key {public_key_hex(provider_key())}")
    print(f"private key file    {key_path()}")
    return 0
