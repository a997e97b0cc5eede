# visent: `make book` (the main job) and `make test` (all tests) work from a fresh clone, offline
# but for PyPI. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VISENT := $(VENV)/bin/visent
STAMP := $(VENV)/.installed

# The embedded default: the synthetic VSO-style scene set, sized for a 2-core CPU.
DATA := data/synthetic
N_IMAGES ?= 1200
RUN_FLAGS ?= --preset cpu --dataset synthetic --data-root $(DATA)

.PHONY: install data features run book test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test,book]"
	touch $@

install: $(STAMP)

data: $(STAMP)
	$(VISENT) synth $(DATA) --n-images $(N_IMAGES)

features: data
	$(VISENT) extract $(RUN_FLAGS)

run: features
	$(VISENT) run $(RUN_FLAGS)

book: run notebooks book-html
	@echo "the book: _build/html/index.html"

test: $(STAMP) mathjax chromium
	$(PY) -m pytest
	$(PY) -m pytest $(NBVAL_FLAGS)

clean:
	rm -rf _build cache checkpoints

include mk/book.mk
include mk/notebooks.mk
include mk/bench.mk
include mk/twitter.mk
