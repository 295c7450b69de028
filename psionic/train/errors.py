"""Typed errors of the train layer (registered with the shared code registry on import)."""

from __future__ import annotations

from psionic.core.errors import InvalidInput, MalformedFile, UnsupportedOperation


class CheckpointCorrupt(MalformedFile):
    """A checkpoint fails its digests or cannot be read; ``details['checkpoint']`` names it."""

    code = "checkpoint_corrupt"


class CheckpointMismatch(InvalidInput):
    """A checkpoint belongs to another run (other parameters, data or configuration)."""

    code = "checkpoint_mismatch"


class UnsupportedPrecision(UnsupportedOperation):
    """A backend cannot train in the precision asked for; ``details`` name both."""

    code = "unsupported_precision"
