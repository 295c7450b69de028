"""``psionic adapter``: inspect a LoRA adapter, merge it into a GGUF model, or take it out again.

``inspect DIR --model M`` prints the adapter's config and digest (JSON);
``merge --model M --adapter DIR --out FILE [--dtype f32|f16]`` writes the model
with the adapter merged in; ``unmerge --model MERGED --adapter DIR --out FILE``
writes it with the adapter taken out. See docs/LORA.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapter", help="inspect, merge or unmerge a LoRA adapter (PEFT layout)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    inspect = actions.add_parser("inspect", help="the adapter's config, layers and digest as JSON")
    inspect.add_argument("directory", type=Path)
    inspect.add_argument("-m", "--model", default="smollm2-135m-instruct", help="the base model it applies to")
    inspect.set_defaults(func=run_inspect)
    for name, what in (("merge", "write the model with the adapter merged in"),
                       ("unmerge", "write a merged model with the adapter taken out")):
        a = actions.add_parser(name, help=what)
        a.add_argument("-m", "--model", required=True, help="catalog name or .gguf path")
        a.add_argument("--adapter", type=Path, required=True, help="the adapter directory")
        a.add_argument("--out", type=Path, required=True, help="the GGUF file to write")
        if name == "merge":
            a.add_argument("--dtype", choices=["f32", "f16"], default="f32", help="type of the merged projections")
        a.set_defaults(func=run_merge, action=name)


def run_inspect(args: argparse.Namespace) -> int:
    from psionic.models.loader import load_model
    from psionic.models.lora_peft import load_peft

    loaded = load_model(args.model)
    adapter = load_peft(args.directory, loaded.config)
    adapter.check_fits(loaded.model, loaded.model_digest)
    print(json.dumps({
        "directory": str(args.directory), "digest": adapter.digest, "config": adapter.config.to_record(),
        "layers": adapter.layers, "projections": len(adapter.weights), "model": loaded.name,
    }, indent=2))
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from psionic.core.digest import digest_file
    from psionic.models.loader import load_model
    from psionic.models.lora_merge import merge_adapter, unmerge_adapter
    from psionic.models.lora_peft import load_peft

    loaded = load_model(args.model)
    adapter = load_peft(args.adapter, loaded.config)
    if args.action == "merge":
        out = merge_adapter(loaded.path, adapter, args.out, dtype=args.dtype)
    else:
        out = unmerge_adapter(loaded.path, adapter, args.out)
    print(json.dumps({"out": str(out), "digest": digest_file(out), "adapter_digest": adapter.digest}, indent=2))
    return 0
