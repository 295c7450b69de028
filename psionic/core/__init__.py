"""psionic.core: dtypes, errors, digests, runtime manifests, receipts and signing.

The ground floor: imports only the standard library, numpy and small libraries.
"""

from psionic.core.digest import digest_bytes, digest_file, digest_json
from psionic.core.dtypes import DType
from psionic.core.errors import PsionicError
from psionic.core.manifest import RuntimeManifest
from psionic.core.receipts import ExecutionReceipt, ProofBundle

__all__ = [
    "DType",
    "ExecutionReceipt",
    "ProofBundle",
    "PsionicError",
    "RuntimeManifest",
    "digest_bytes",
    "digest_file",
    "digest_json",
]
