"""The ``psionic`` entry point: a registry of verb groups, one module each.

Each module named in ``VERB_MODULES`` exposes ``register(subparsers)``, which
adds its parser and sets ``func`` to a callable taking the parsed arguments and
returning an exit code. Verb modules import their heavy dependencies inside
``func`` so that ``psionic --help`` stays quick.

Any ``PsionicError`` that escapes a verb becomes one line on stderr, naming its
code, and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from psionic import __version__
from psionic.core.errors import PsionicError

VERB_MODULES = (
    "doctor", "verify", "keys", "models", "generate", "bench", "serve", "tassadar", "data", "train",
    "adapter", "eval",
)

EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="psionic",
        description="Psionic: a Python-native ML stack with machine-legible execution truth.",
    )
    parser.add_argument("--version", action="version", version=f"psionic {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    seen: set[str] = set()
    for name in VERB_MODULES:
        module = importlib.import_module(f"psionic.cli.{name}")
        before = set(sub.choices)
        module.register(sub)
        added = set(sub.choices) - before
        if added & seen:
            raise RuntimeError(f"verb {sorted(added & seen)} registered twice")
        seen |= added
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args.func(args) or 0)
    except PsionicError as err:
        print(f"psionic: error: {err.code}: {err.message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("psionic: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
