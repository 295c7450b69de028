"""``psionic generate``: stream a completion from a GGUF model, with a receipt.

Text streams to stdout token by token; ``--json-schema FILE``, ``--regex R``
or ``--choice A,B,C`` constrain it token by token (the receipt records the
constraint and replay applies it); ``--json`` prints one object instead,
with the tokens, text, finish reason, timings and an ExecutionReceipt;
``--bundle FILE`` also writes a ProofBundle that ``psionic verify`` replays.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate text with a GGUF model")
    p.add_argument("-m", "--model", default="smollm2-135m-instruct", help="catalog name or .gguf path")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help="the prompt text (a user message unless --raw)")
    src.add_argument("--messages", help="chat messages as a JSON list, or @FILE")
    p.add_argument("--adapter", metavar="DIR", help="generate with this LoRA adapter (PEFT layout)")
    p.add_argument("--numerics", choices=["f32", "llamacpp"], default="f32",
                   help="f32: psionic's batch-invariant kernels; llamacpp: llama.cpp's CPU numerics, bit for bit")
    p.add_argument("--raw", action="store_true", help="use the prompt as is, without the chat template")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--min-p", type=float, default=0.0)
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--presence-penalty", type=float, default=0.0)
    p.add_argument("--frequency-penalty", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stop", action="append", default=[], help="a stop string (repeatable)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json-schema", type=Path, metavar="FILE", help="constrain the output to this JSON schema")
    fmt.add_argument("--regex", metavar="R", help="constrain the output to match this regular expression")
    fmt.add_argument("--choice", metavar="A,B,C", help="constrain the output to one of these strings")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--bundle", type=Path, help="also write a proof bundle here")
    p.add_argument("--sign", action="store_true", help="sign the receipt with the provider key")
    p.set_defaults(func=run)


def _messages(args: argparse.Namespace) -> list[dict]:
    from psionic.core.errors import InvalidInput
    from psionic.core.receipts import parse_json

    text = args.messages
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as e:
            raise InvalidInput(f"cannot read {text[1:]}: {e.strerror}") from None
    messages = parse_json(text, "--messages")
    if not isinstance(messages, list) or not messages or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
    ):
        raise InvalidInput("--messages must be a non-empty JSON list of {role, content} objects")
    return messages


def _constraint(args: argparse.Namespace) -> Any:
    """The output constraint the flags ask for (compiled now: an unenforceable one is refused)."""
    from psionic.core.errors import InvalidInput
    from psionic.core.receipts import parse_json
    from psionic.models.constraints import Constraint, grammar_for

    if args.json_schema is not None:
        try:
            text = args.json_schema.read_text()
        except OSError as e:
            raise InvalidInput(f"cannot read {args.json_schema}: {e.strerror}") from None
        constraint = Constraint("json_schema", {"schema": parse_json(text, "--json-schema"), "strict": True})
    elif args.regex is not None:
        constraint = Constraint("regex", {"pattern": args.regex})
    elif args.choice is not None:
        constraint = Constraint("choice", {"choices": args.choice.split(",")})
    else:
        return None
    grammar_for(constraint)
    return constraint


def run(args: argparse.Namespace) -> int:
    from psionic.core.manifest import RuntimeManifest
    from psionic.core.resources import peak_rss_mib
    from psionic.core.signing import provider_key
    from psionic.models.generate import Generation, bundle_for, receipt_for
    from psionic.models.loader import load_model
    from psionic.models.numerics import numerics_for
    from psionic.models.sampling import SamplingParams

    params = SamplingParams(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        min_p=args.min_p,
        repetition_penalty=args.repetition_penalty,
        presence_penalty=args.presence_penalty,
        frequency_penalty=args.frequency_penalty,
        seed=args.seed,
        max_tokens=args.max_tokens,
        stop=tuple(args.stop),
        constraint=_constraint(args),
    )
    messages = _messages(args) if args.messages is not None else None
    loaded = load_model(args.model, progress=not args.json, numerics=args.numerics)
    if messages is not None:
        prompt = loaded.render_chat(messages)
    elif args.raw:
        prompt = args.prompt
    else:
        prompt = loaded.render_chat([{"role": "user", "content": args.prompt}])
    # A rendered template already carries its special tokens; BOS follows the file's rule.
    prompt_tokens = loaded.tokenizer.encode(prompt, add_special=True)
    adapter = None
    if args.adapter:
        from psionic.models.lora_bank import install_adapter

        adapter = install_adapter(loaded, args.adapter)
    gen = Generation(loaded, prompt_tokens, params, adapter=adapter)
    for event in gen:
        if not args.json:
            sys.stdout.write(event.text)
            sys.stdout.flush()
    result = gen.result
    manifest = RuntimeManifest.current(determinism=numerics_for(loaded.numerics).determinism())
    receipt = receipt_for(loaded, result, manifest)
    if args.sign:
        receipt = receipt.sign(provider_key())
    if args.bundle:
        args.bundle.write_text(bundle_for(loaded, result, receipt, manifest).to_json(indent=2))
    if args.json:
        out = {
            "model": loaded.name,
            "adapter": adapter.to_dict() if adapter else None,
            "prompt_tokens": result.prompt_tokens,
            "tokens": result.tokens,
            "text": result.text,
            "finish_reason": result.finish_reason,
            "timings": result.timings,
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "receipt": receipt.to_dict(),
        }
        if params.constraint is not None:
            out["structured_value"] = structured(params.constraint, result.text, result.finish_reason)
        print(json.dumps(out, indent=2))
    else:
        t = result.timings
        print(
            f"\n[{len(result.tokens)} tokens, {result.finish_reason}; prefill "
            f"{t['prefill_tok_s']:.1f} tok/s, decode {t['decode_tok_s']:.1f} tok/s; "
            f"receipt {receipt.digest[:23]}...]",
            file=sys.stderr,
        )
    return 0


def structured(constraint: Any, text: str, finish_reason: str | None) -> Any:
    """The parsed output: JSON for a schema, the text for a regex or choice; None if cut short."""
    if finish_reason != "stop":
        return None
    return json.loads(text) if constraint.kind == "json_schema" else text
