"""A llama.cpp worker for side-by-side benchmarks, run under the peer's own python.

It imports only llama_cpp and the standard library (the peer venv has nothing
else). Commands arrive one JSON object per line on stdin; each answer is one
JSON line on stdout:
  {"op": "load", "path": ..., "threads": N, "n_ctx": N}
  {"op": "prefill", "tokens": [...]}            -> {"seconds": s}
  {"op": "decode", "tokens": [...], "n": N}     -> {"seconds": s, "tokens": [...]}
  {"op": "tokenize", "text": ..., "special": b} -> {"tokens": [...]}
"""

import json
import sys
import time

import llama_cpp


def main() -> None:
    llm = None
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "load":
            llm = llama_cpp.Llama(
                model_path=cmd["path"], n_threads=cmd["threads"], n_threads_batch=cmd["threads"],
                n_ctx=cmd["n_ctx"], n_batch=512, n_ubatch=512, verbose=False, logits_all=False,
            )
            reply = {"ok": True, "version": llama_cpp.__version__}
        elif op == "tokenize":
            reply = {"tokens": llm.tokenize(cmd["text"].encode(), add_bos=cmd.get("special", True), special=True)}
        elif op == "prefill":
            llm.reset()
            llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
            t0 = time.perf_counter()
            llm.eval(cmd["tokens"])
            reply = {"seconds": time.perf_counter() - t0}
        elif op == "decode":
            llm.reset()
            llm.eval(cmd["tokens"])
            out = []
            t0 = time.perf_counter()
            for _ in range(cmd["n"]):
                scores = llm.scores[llm.n_tokens - 1]
                token = int(scores.argmax())
                out.append(token)
                llm.eval([token])
            reply = {"seconds": time.perf_counter() - t0, "tokens": out}
        else:
            reply = {"error": f"unknown op {op!r}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
