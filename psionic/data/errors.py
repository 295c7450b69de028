"""Typed errors of the data layer (registered with the shared code registry on import)."""

from __future__ import annotations

from psionic.core.errors import DigestMismatch, InvalidInput, MalformedFile


class MalformedDataset(MalformedFile):
    """A dataset file or record is not what it should be; ``details`` name the file and line."""

    code = "malformed_dataset"


class MalformedManifest(MalformedFile):
    code = "malformed_dataset_manifest"


class DatasetDigestMismatch(DigestMismatch):
    """A file's bytes no longer match the digest its manifest records; ``details['file']`` names it."""

    code = "dataset_digest_mismatch"


class ExampleTooLong(InvalidInput):
    """A tokenized example does not fit in one packed row."""

    code = "example_too_long"
