"""Evaluation: run environment packages against a model, score every sample, report and compare.

``psionic eval run PACKAGE --model M`` plays a package's tasks against a local
model (psionic's engine, in process), an OpenAI-compatible endpoint, or a
Tassadar decode mode; every sample is appended to ``samples.jsonl`` with its
receipts as it finishes, and the report folder holds ``report.json``,
``report.md`` and ``scores.png``. ``psionic eval compare`` pairs two reports
sample by sample.
"""
