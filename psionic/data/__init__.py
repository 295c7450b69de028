"""Datasets: digest-bound manifests, JSONL chat and completion records, tokenization with
the model's chat template and an assistant-only loss mask, packing, deterministic splits."""
