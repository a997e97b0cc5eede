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
# auto: bf16 on CUDA and on CPUs with native bf16, fp32 elsewhere; AMP=off pins fp32 (the committed results).
AMP ?= auto
DATA_FLAGS ?= --dataset synthetic --data-root $(DATA) --amp $(AMP)
RUN_FLAGS ?= --preset cpu $(DATA_FLAGS)

.PHONY: install data features run book reproduce test clean

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
	$(VISENT) extract $(DATA_FLAGS)

run: features
	$(VISENT) run $(RUN_FLAGS)

# The book renders what is committed: the result files under results/ and the executed notebooks.
# Nothing is trained; `make reproduce` retrains every committed run and compares it with its file.
book: book-html
	@echo "the book: _build/html/index.html, rendered from the committed result files in results/ and the stored notebooks; nothing was trained (make reproduce reruns every committed run and compares it metric for metric)"

# Every committed run again, from its saved configuration, into runs/reproduce/; a table of
# identical / differing / skipped (runs whose data folder is absent, e.g. Twitter I without TWITTER).
reproduce: data
	$(VISENT) reproduce --results-dir results --scratch runs/reproduce

test: $(STAMP) mathjax chromium
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest
	$(PY) -m pytest $(NBVAL_FLAGS)

clean:
	rm -rf _build cache checkpoints

include mk/book.mk
include mk/notebooks.mk
include mk/bench.mk
include mk/twitter.mk
