"""Training: a fixed-budget trainer with per-step receipts, atomic checkpoints that resume
bit-exactly, and LoRA fine-tuning of the GGUF decoder families."""
