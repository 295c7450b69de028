"""``psionic data``: dataset manifests.

``psionic data manifest PATH [-o FILE]`` describes a JSONL file or a folder of
them (files and digests, split sizes; with ``--model`` also token counts and
the tokenizer and chat-template digests) and prints or writes the manifest.
``psionic data verify MANIFEST`` rehashes every file it lists: ``verified``
with the manifest digest, or one line naming the file that changed (exit 2).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="dataset manifests: describe and verify datasets")
    verbs = p.add_subparsers(dest="data_verb", metavar="VERB")

    m = verbs.add_parser("manifest", help="describe a JSONL dataset (file or folder) as a manifest")
    m.add_argument("path", type=Path, help="a .jsonl file or a folder of them")
    m.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write the manifest here (paths inside are relative to its folder)")
    m.add_argument("--model", metavar="M", help="also tokenize with this model (catalog name or .gguf)")
    m.add_argument("--eval-fraction", type=float, default=0.1, metavar="F",
                   help="share of records in the eval split, by content hash (default 0.1)")
    m.add_argument("--seed", type=int, default=0, help="seed of the split hash")
    m.add_argument("--name", help="dataset name (default: the file or folder name)")
    m.set_defaults(func=manifest)

    v = verbs.add_parser("verify", help="rehash the files a manifest lists")
    v.add_argument("manifest", type=Path)
    v.add_argument("--json", action="store_true", help="print one JSON object")
    v.set_defaults(func=verify)

    p.set_defaults(func=lambda args: p.print_help() or 2)


def manifest(args: argparse.Namespace) -> int:
    from psionic.data.manifest import build_manifest
    from psionic.data.splits import SplitRule
    from psionic.data.tokenize import Tokenization

    tokenization = None
    if args.model:
        from psionic.models.loader import load_model

        loaded = load_model(args.model)
        tokenization = Tokenization(loaded.tokenizer, loaded.template)
    root = args.output.resolve().parent if args.output else Path.cwd()
    built = build_manifest(args.path, root=root, rule=SplitRule(args.eval_fraction, args.seed),
                           tokenization=tokenization, model=args.model, name=args.name)
    if args.output:
        built.write(args.output)
        sizes = ", ".join(f"{k} {v.records}" for k, v in built.splits.items())
        print(f"{args.output}: {len(built.files)} file(s), {sizes} records, {built.digest}")
    else:
        print(built.to_json(), end="")
    return 0


def verify(args: argparse.Namespace) -> int:
    from psionic.data.manifest import DatasetManifest

    loaded = DatasetManifest.load(args.manifest)
    checked = loaded.verify(args.manifest.resolve().parent)
    if args.json:
        print(json.dumps({"verified": True, "digest": loaded.digest, "files": checked}))
    else:
        print(f"verified {args.manifest}: {len(checked)} file(s), {loaded.digest}")
    return 0
