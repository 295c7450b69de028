"""``psionic models``: the catalog with install status, paths and digests."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the model catalog")
    p.add_argument("--verify", action="store_true", help="hash each installed file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from psionic.models.catalog import CatalogEntry

    rows: list[dict[str, Any]] = []
    for entry in CatalogEntry.all():
        row: dict[str, Any] = {
            "name": entry.name,
            "family": entry.family,
            "format": entry.format,
            "capabilities": list(entry.capabilities),
            "installed": entry.installed,
            "path": None,
            "digest": entry.expected_digest,
            "verified": None,
        }
        if entry.installed and args.verify:
            row["path"] = str(entry.path())
            entry.verify()
            row["verified"] = True
        elif entry.installed:
            path = entry.existing_path()
            row["path"] = str(path) if path else None
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        where = row["path"] or ("not installed" if not row["installed"] else "assembled on first use")
        check = " verified" if row["verified"] else ""
        print(f"{row['name']:<24} {row['family']:<7} {','.join(row['capabilities']):<18} {where}")
        print(f"{'':<24} {row['digest']}{check}")
    return 0
