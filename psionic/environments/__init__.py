"""Environment packages: tasks, rubrics that score answers, tools a model may call, deterministic sessions.

A package is a directory holding ``package.json`` (name, version, kind,
rubric, sampling defaults, tools, the digest of every file) and
``tasks.jsonl`` (one task per line). ``load_package`` checks every field and
every digest and raises ``MalformedPackage`` naming the first problem.
Rubrics and tools are registries: Python code adds new ones with
``register_rubric`` / ``register_tool`` and packages name them.
"""
