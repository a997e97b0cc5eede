# Notebooks: stored executed with their default (CPU-sized) parameters; nbval re-executes them and
# compares the outputs; `visent sweep` reruns 04_training over a grid of parameters.
# Included from the top-level Makefile, which defines PY, VISENT and STAMP.

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
NOTEBOOK_TMP := runs/notebooks
NBVAL_FLAGS := --nbval notebooks/ --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider
SWEEP ?= sweeps/example.yaml

.PHONY: notebooks sweep nbval

# In order: later notebooks reuse the feature cache of 02 and the checkpoint of 04. Each runs into
# a temporary copy first, so a failing notebook never replaces the stored one.
notebooks: $(STAMP)
	@mkdir -p $(NOTEBOOK_TMP)
	@set -e; for nb in $(NOTEBOOKS); do \
		echo "papermill $$nb"; \
		$(PY) -m papermill --no-progress-bar --kernel python3 $$nb $(NOTEBOOK_TMP)/$$(basename $$nb); \
		mv $(NOTEBOOK_TMP)/$$(basename $$nb) $$nb; \
	done

sweep: $(STAMP)
	$(VISENT) sweep $(SWEEP)

nbval: $(STAMP)
	$(PY) -m pytest $(NBVAL_FLAGS)
