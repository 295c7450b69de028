"""A llama.cpp worker for side-by-side benchmarks, run under the peer's own python.

It imports only llama_cpp and the standard library (the peer venv has nothing
else). Commands arrive one JSON object per line on stdin; each answer is one
JSON line on stdout:
  {"op": "load", "path": ..., "threads": N, "n_ctx": N, "repack": false,
   "flash_attn": false, "logits_all": false}
  {"op": "prefill", "tokens": [...]}            -> {"seconds": s}
  {"op": "decode", "tokens": [...], "n": N, "batch": true}
                                                -> {"seconds": s, "tokens": [...]}
  {"op": "logits_at", "tokens": [...], "ids": [[...] per position], "batch": true}
                                                -> {"argmax": [...], "logits": [[...]...]}
  {"op": "tokenize", "text": ..., "special": b} -> {"tokens": [...]}
"batch": false evaluates the given tokens one at a time instead of in one batch;
"logits_at" (teacher forcing: the argmax and the logits at the given ids after each
prefix of the tokens) with "batch": true needs a model loaded with "logits_all": true.
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


def _eval(llm: Any, tokens: list, batch: bool) -> None:
    if batch:
        llm.eval(tokens)
    else:
        for token in tokens:
            llm.eval([token])


def _logits_at(llm: Any, tokens: list, ids: list, batch: bool) -> dict:
    """After each prefix of ``tokens``: the argmax and the logits at that position's ``ids``."""
    import numpy as np

    llm.reset()
    if batch:
        llm.eval(tokens)
        rows = np.asarray(llm.scores[: len(tokens)])
    else:
        steps = []
        for token in tokens:
            llm.eval([token])
            steps.append(_last_logits(llm).copy())
        rows = np.asarray(steps)
    return {
        "argmax": [int(r.argmax()) for r in rows],
        "logits": [[float(r[i]) for i in want] for r, want in zip(rows, ids, strict=True)],
    }


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
                n_ctx=cmd["n_ctx"], n_batch=512, n_ubatch=512, verbose=False,
                logits_all=cmd.get("logits_all", False), flash_attn=cmd.get("flash_attn", False),
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
            _eval(llm, cmd["tokens"], cmd.get("batch", True))
            out = []
            t0 = time.perf_counter()
            for _ in range(cmd["n"]):
                token = int(_last_logits(llm).argmax())
                out.append(token)
                llm.eval([token])
            reply = {"seconds": time.perf_counter() - t0, "tokens": out}
        elif op == "logits_at":
            reply = _logits_at(llm, cmd["tokens"], cmd["ids"], cmd.get("batch", True))
        else:
            reply = {"error": f"unknown op {op!r}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
