"""A llama.cpp worker for side-by-side benchmarks, run under the peer's own python.

It imports only llama_cpp and the standard library (the peer venv has nothing
else). Commands arrive one JSON object per line on stdin; each answer is one
JSON line on stdout:
  {"op": "load", "path": ..., "threads": N, "n_ctx": N, "repack": false}
  {"op": "prefill", "tokens": [...]}            -> {"seconds": s}
  {"op": "decode", "tokens": [...], "n": N}     -> {"seconds": s, "tokens": [...]}
  {"op": "tokenize", "text": ..., "special": b} -> {"tokens": [...]}
"""

import json
import sys
import time
from typing import Any

import llama_cpp


def _disable_weight_repacking() -> None:
    """Load weights into plain CPU buffers, as llama-server's --no-repack does.

    Some virtual machines advertise AMX but trap its instructions; llama.cpp's
    repacked (AMX) buffers then die with SIGILL on the first matmul.
    """
    bindings = llama_cpp.llama_cpp  # the module the Llama class reads its defaults from
    default = bindings.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    bindings.llama_model_default_params = params


def _last_logits(llm: Any) -> Any:
    """The logits after the last evaluated token, read from the context itself."""
    import numpy as np

    pointer = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),))


def main() -> None:
    llm: Any = None
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "load":
            if not cmd.get("repack", False):
                _disable_weight_repacking()
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
                token = int(_last_logits(llm).argmax())
                out.append(token)
                llm.eval([token])
            reply = {"seconds": time.perf_counter() - t0, "tokens": out}
        else:
            reply = {"error": f"unknown op {op!r}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
