"""``psionic bench``: benchmark programs that print JSON (never tests)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks that print JSON")
    kinds = p.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    for kind, default_tokens, what in (
        ("decode", 128, "single-stream greedy decode tok/s"),
        ("prefill", 512, "prompt processing tok/s"),
    ):
        b = kinds.add_parser(kind, help=what)
        b.add_argument("-m", "--model", default="smollm2-135m-instruct")
        b.add_argument("--tokens", type=int, default=default_tokens)
        b.add_argument("--runs", type=int, default=5)
        b.add_argument("--threads", type=int, default=int(os.environ.get("PSIONIC_NUM_THREADS", 2)))
        b.add_argument("--vs", choices=["llama.cpp"], help="also run this peer, alternating")
        b.add_argument("--peer-python", help="python of the peer's venv (shared/peers/llamacpp.sh prints it)")
        b.set_defaults(func=run, kind=kind)
    _register_parity(kinds)
    _register_serve(kinds)
    from psionic.cli.bench_train import register_train

    register_train(kinds)
    from psionic.cli.bench_lora import register_lora

    register_lora(kinds)


def run(args: argparse.Namespace) -> int:
    from psionic.core.errors import InvalidInput

    if args.vs and not args.peer_python:
        raise InvalidInput("--vs llama.cpp needs --peer-python PATH (the peer venv's python)")
    # Thread counts are fixed before numba starts its pool.
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    os.environ["PSIONIC_NUM_THREADS"] = str(args.threads)
    from psionic.models.benchmark import run_benchmark
    from psionic.models.loader import load_model

    loaded = load_model(args.model)
    report = run_benchmark(
        args.kind, loaded, args.threads, args.runs, args.tokens, args.peer_python if args.vs else None
    )
    print(json.dumps(report, indent=2))
    return 0


def _register_parity(kinds: argparse._SubParsersAction) -> None:
    b = kinds.add_parser(
        "parity", help="agreement with llama.cpp's recorded outputs (and llama.cpp's own, by path)"
    )
    b.add_argument("-m", "--model", default="smollm2-135m-instruct")
    b.add_argument("--fixture", required=True, type=Path,
                   help="llama.cpp reference outputs (shared/fixtures/llamacpp/public_<model>.json)")
    b.add_argument("--threads", type=int, default=int(os.environ.get("PSIONIC_NUM_THREADS", 2)))
    b.add_argument("--vs", choices=["llama.cpp"], help="also score llama.cpp itself along each of its paths")
    b.add_argument("--peer-python", help="python of the peer's venv (shared/peers/llamacpp.sh prints it)")
    b.add_argument("--numerics", choices=["f32", "llamacpp"], default="f32",
                   help="psionic's numerics: f32 (its own kernels) or llamacpp (llama.cpp's, bit for bit)")
    b.set_defaults(func=run_parity)


def run_parity(args: argparse.Namespace) -> int:
    from psionic.core.errors import InvalidInput

    if args.vs and not args.peer_python:
        raise InvalidInput("--vs llama.cpp needs --peer-python PATH (the peer venv's python)")
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    os.environ["PSIONIC_NUM_THREADS"] = str(args.threads)
    from psionic.models.loader import load_model
    from psionic.models.parity import load_fixture
    from psionic.models.parity import run_parity as parity_report

    load_fixture(args.fixture)  # a broken fixture is refused before the model loads
    loaded = load_model(args.model, numerics=args.numerics)
    report = parity_report(loaded, args.fixture, args.threads, args.peer_python if args.vs else None)
    print(json.dumps(report, indent=2))
    return 0


def _register_serve(kinds: argparse._SubParsersAction) -> None:
    b = kinds.add_parser("serve", help="serving load test: aggregate tok/s, TTFT and ITL per concurrency")
    b.add_argument("-m", "--model", default="smollm2-135m-instruct", help="catalog model to serve")
    b.add_argument("--base-url", help="an OpenAI-compatible server to load (default: start psionic serve)")
    b.add_argument("--model-name", help="model field of requests (default: first id of GET /v1/models)")
    b.add_argument("--label", help="name of the target in the report (default: psionic, or target with --base-url)")
    b.add_argument("--endpoint", choices=["chat", "completions"], default="chat")
    b.add_argument("--requests", type=int, default=64, help="requests per concurrency level")
    b.add_argument("--concurrency", default="1,4,16,32", help="comma-separated ladder")
    b.add_argument("--prompt-tokens", type=int, default=64, help="approximate prompt length (sized in words)")
    b.add_argument("--max-tokens", type=int, default=32)
    b.add_argument("--ignore-eos", action="store_true", help='send "ignore_eos": true (llama-server, psionic)')
    b.add_argument("--response-format", metavar="JSON|@FILE",
                   help="send this response_format with every request (e.g. a json_schema constraint)")
    b.add_argument("--threads", type=int, default=int(os.environ.get("PSIONIC_NUM_THREADS", 2)))
    b.add_argument("--warmup", type=int, default=1, help="untimed requests per target before the ladder")
    b.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    b.add_argument("--startup-timeout", type=float, default=180.0, help="seconds for a started server to be healthy")
    b.add_argument("--vs", choices=["llama.cpp"], help="also load llama-server on the same GGUF, alternating")
    b.add_argument("--llama-server", help="the llama-server binary (default: PATH)")
    b.add_argument("--build-peer", action="store_true", help="build llama-server with shared/peers/llama-server.sh")
    b.add_argument("--parallel", type=int, default=16, help="llama-server slots (--parallel)")
    b.add_argument("--peer-repack", action="store_true", help="let llama-server repack weights (off: AMX traps on some VMs)")
    b.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from psionic.core.errors import InvalidInput
    from psionic.serve.loadgen import LoadSpec
    from psionic.serve.loadgen_bench import ServeBenchOptions, run_serve_benchmark
    from psionic.serve.loadgen_stats import LevelStats

    try:
        levels = tuple(int(c) for c in args.concurrency.split(","))
    except ValueError:
        raise InvalidInput(f"--concurrency takes comma-separated integers, not {args.concurrency!r}") from None
    peer = gguf = None
    if args.vs:
        from psionic.models.catalog import CatalogEntry
        from psionic.serve.peer_llama_server import find_llama_server

        peer = find_llama_server(args.llama_server, build=args.build_peer)
        gguf = CatalogEntry.get(args.model).path()
    spec = LoadSpec(
        model="", requests=args.requests, prompt_tokens=args.prompt_tokens, max_tokens=args.max_tokens,
        endpoint=args.endpoint, ignore_eos=args.ignore_eos, timeout_s=args.timeout,
        response_format=_response_format(args.response_format),
    )
    options = ServeBenchOptions(
        spec=spec, levels=levels, threads=args.threads, warmup=args.warmup,
        startup_timeout_s=args.startup_timeout, model=args.model, base_url=args.base_url,
        model_name=args.model_name, label=args.label, llama_server=Path(peer) if peer else None,
        gguf=gguf, parallel=args.parallel, peer_repack=args.peer_repack,
    )

    def progress(label: str, stats: LevelStats) -> None:
        print(
            f"serve: {label} c={stats.concurrency}: {stats.output_tok_s:.1f} tok/s, "
            f"TTFT p50 {stats.ttft_ms['p50']} ms, errors {stats.errors}", file=sys.stderr,
        )

    print(json.dumps(run_serve_benchmark(options, progress), indent=2))
    return 0


def _response_format(value: str | None) -> dict | None:
    """``--response-format``: inline JSON or ``@FILE``, checked to be a JSON object."""
    from pathlib import Path

    from psionic.core.errors import InvalidInput
    from psionic.core.receipts import parse_json

    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as e:
            raise InvalidInput(f"cannot read {value[1:]}: {e.strerror}") from None
    parsed = parse_json(text, "--response-format")
    if not isinstance(parsed, dict):
        raise InvalidInput("--response-format must be a JSON object such as {\"type\": \"json_object\"}")
    return parsed
