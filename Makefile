# Two commands do everything on a fresh machine:
#   make run   - install, ingest sample_docs/ and serve the app on http://127.0.0.1:7860
#   make test  - install with test extras (and Chromium for the browser tests), run the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= .rag_index
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-test run test chromium lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned to the CPU build, so no later requirement can pull a CUDA wheel
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/rag ingest sample_docs --index $(INDEX)
	$(BIN)/rag serve --index $(INDEX)

# Debian's Chromium drives the browser tests (playwright must not download a browser here)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install chromium; browser tests will be skipped"; }

test: install-test chromium
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/pip install --quiet ruff
	$(BIN)/ruff check rag ingest ui tests

clean:
	rm -rf $(INDEX) .pytest_cache
