"""Typed errors of environment packages."""

from __future__ import annotations

from psionic.core.errors import InvalidInput


class MalformedPackage(InvalidInput):
    """A package directory, its metadata or one of its tasks is not what the ABI requires."""

    code = "malformed_package"


class PackageNotFound(InvalidInput):
    code = "package_not_found"
    http_status = 404


class PackageDigestMismatch(MalformedPackage):
    """A file's bytes, or the package as a whole, do not match the digest the package declares."""

    code = "package_digest_mismatch"


class ToolFailed(InvalidInput):
    """A tool the model called could not answer (unknown tool, arguments outside its schema)."""

    code = "tool_failed"
