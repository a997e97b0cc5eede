# Benchmarks, each of ours beside a naive reference. Included from the top-level Makefile, which
# defines PY and STAMP.
#   make bench       CPU, about 4 minutes on 2 idle cores (7-12 under load) -> results/bench/cpu.json and cpu.md
#   make bench-gpu   GPU, about 5 minutes on one H200 (7.5 at most) -> results/bench/gpu-$(GPU_NAME).json and .md
#   make bench-index indexing 10,000 and 100,000 placeholder files, cold and cached, a few minutes
#                    -> results/bench/indexing.json and .md
#   make bench-bf16  bf16 against fp32 features of 16 Twitter I photos (TWITTER=...), a minute
#                    -> results/bench/bf16-features.json
#   make bench-make-run  `make run` in a fresh clone of HEAD (clean tree), timed against 20 minutes,
#                    its results compared with the committed ones, about 10 minutes
#                    -> results/bench/make-run.json and .md
# The GPU script needs only the repository, a CUDA PyTorch with torchvision and the product's core
# packages (numpy, Pillow, pandas, tqdm), so it runs with the machine's own Python (GPU_PY) rather
# than the project venv.

BENCH_DIR := results/bench
GPU_PY ?= python3
GPU_NAME ?= h200

.PHONY: bench bench-gpu bench-index bench-bf16 bench-make-run

bench: $(STAMP)
	$(PY) -m benchmarks.run --out-dir $(BENCH_DIR)

bench-gpu:
	$(GPU_PY) -m benchmarks.gpu --out $(BENCH_DIR)/gpu-$(GPU_NAME).json

bench-index: $(STAMP)
	$(PY) -m benchmarks.indexing --out-dir $(BENCH_DIR)

bench-bf16: $(STAMP)
	$(PY) -m benchmarks.bf16_features --images $(TWITTER)/images --out $(BENCH_DIR)/bf16-features.json

bench-make-run: $(STAMP)
	$(PY) -m benchmarks.make_run --venv $(VENV) --out-dir $(BENCH_DIR)
