# The book (Jupyter Book v1): snippets from the result files, MathJax served from the build,
# then a warning-free build. Included from the top-level Makefile, which defines PY, VENV, STAMP.

JUPYTER_BOOK := $(VENV)/bin/jupyter-book
# VSO's ontology for the leak table; a missing file makes the table say so instead of failing.
ONTOLOGY ?= ../shared/data/vso/3244ANPs.txt
MATHJAX_VERSION := 3.2.2
MATHJAX_NPM := node_modules/mathjax/es5
# Served from the HTML root by `html_extra_path: [_build/mathjax]` in _config.yml.
MATHJAX_SITE := _build/mathjax/mathjax
CHROMIUM := /usr/bin/chromium

.PHONY: book-includes book-html book-predict mathjax chromium

book-includes: $(STAMP)
	$(PY) -m visent.reporting.report --results-dir results --out-dir book/_generated --ontology $(ONTOLOGY) --twitter $(TWITTER) --twitter2 $(TWITTER2)

$(MATHJAX_NPM)/tex-chtml.js:
	@command -v npm >/dev/null || { echo "make mathjax: npm is needed to install MathJax (apt-get install npm)" >&2; exit 1; }
	npm install --no-save --no-audit --no-fund --prefix . mathjax@$(MATHJAX_VERSION)

# Only the TeX-to-CHTML bundle and its fonts: the rest of the package (SVG output, speech,
# MathML input) is never loaded by the book.
$(MATHJAX_SITE)/tex-chtml.js: $(MATHJAX_NPM)/tex-chtml.js
	rm -rf $(MATHJAX_SITE)
	mkdir -p $(MATHJAX_SITE)/output/chtml/fonts
	cp -r $(MATHJAX_NPM)/output/chtml/fonts/woff-v2 $(MATHJAX_SITE)/output/chtml/fonts/
	cp $< $@

mathjax: $(MATHJAX_SITE)/tex-chtml.js

book-html: book-includes mathjax
	$(JUPYTER_BOOK) build . -W -n --keep-going

# The book test screenshots the built pages with headless Chromium (Debian package).
chromium:
	test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)

# The data chapter's `visent predict` example, written into book/_static/predict/ and committed (the
# book build trains nothing): attention-learned trained on Twitter II (TWITTER2, mk/twitter.mk) under
# that chapter's schedule and balancing, then applied to the CC0 photographs the tests use.
PREDICT_DIR := runs/predict
PREDICT_RUN := twitter_II-oversample-train-val-random-attention-learned-s0
PREDICT_PHOTOS := chelsea coffee astronaut rocket camera

book-predict: $(STAMP)
	$(VISENT) train --dataset twitter2 --data-root $(TWITTER2) --variant attention-learned $(TWITTER_SCHEDULE) \
		--balance oversample --balance-splits train val --results-dir $(PREDICT_DIR) --checkpoint-dir $(PREDICT_DIR)
	$(PY) -c 'import sys, pathlib, skimage.data as d, PIL.Image as I; out = pathlib.Path(sys.argv[1]); \
		out.mkdir(parents=True, exist_ok=True); [I.fromarray(getattr(d, n)()).save(out / f"{n}.jpg") for n in sys.argv[2:]]' \
		$(PREDICT_DIR)/photos $(PREDICT_PHOTOS)
	$(VISENT) predict --checkpoint $(PREDICT_DIR)/$(PREDICT_RUN).pt $(PREDICT_DIR)/photos --maps $(PREDICT_DIR)/maps \
		--out book/_static/predict/predictions.csv --html $(PREDICT_DIR)/gallery.html
	cp $(PREDICT_DIR)/maps/chelsea.png $(PREDICT_DIR)/$(PREDICT_RUN).json book/_static/predict/
