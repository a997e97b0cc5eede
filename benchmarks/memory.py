"""(d) Peak memory of training at two dataset sizes: from the cache, and with all features in RAM.

Every measurement runs in its own process (peak memory is per process), forked from a forkserver
that has imported torch and visent once: each starts from the same baseline in milliseconds instead
of seconds. It opens a random cache, trains the attention-truth head with ``fit`` for a fixed number
of iterations, and reports two peaks.

``peak_rss_bytes``
    ``VmHWM`` (``ru_maxrss`` where ``/proc`` is missing): everything resident, including the pages
    of the memory-mapped cache that the process has read. The memory goal (peak at the large size
    <= 1.2x the peak at the small one) is judged on this number.
``peak_anon_bytes``
    The peak of ``RssAnon`` (``/proc/self/status``, sampled every 5 ms; None off Linux): memory
    the process allocated itself, what loading a dataset into RAM grows. The difference between
    the two is clean, reclaimable page cache mapped by the memory maps: on kernels that map large
    page-cache folios a few random rows map most of a file, so it grows with the cache's size.
"""

from __future__ import annotations

import multiprocessing
import queue
import shutil
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import BenchmarkError, ratio
from benchmarks.fixtures import random_cache, random_train_data
from benchmarks.procmem import peak_rss_bytes, rss_anon_bytes
from benchmarks.training import finetune_ours, training_ours
from visent.backbone import get_weights
from visent.features import FeatureCache

MODES = {
    "cache": "ours: regions gathered per batch from the memory-mapped fp16 cache",
    "ram": "naive: every feature loaded into RAM as fp32 before training",
    "finetune": "ours, --finetune conv5: pool4 maps gathered per batch from the cache, block 5 trained with the head",
}
SAMPLE_S = 0.005


class InMemoryFeatures:
    """The naive reference: all regions of a cache read into one fp32 array ``(N, 196, 512)``."""

    def __init__(self, cache: FeatureCache) -> None:
        self.features = np.empty((len(cache), *cache.shape), dtype=np.float32)
        for shard in cache.manifest["shards"]:
            self.features[shard["start"] : shard["stop"]] = np.load(cache.root / shard["file"])

    def __len__(self) -> int:
        return len(self.features)

    @property
    def shape(self) -> tuple[int, int]:
        return self.features.shape[1:]

    def regions(self, rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.features[np.asarray(rows)])  # (n, 196, 512) fp32


class PeakSampler(threading.Thread):
    """Samples ``rss_anon_bytes`` in the background and keeps the peak (torch ops release the GIL)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_anon_bytes()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while self.peak is not None and not self._stop_event.wait(SAMPLE_S):
            self.peak = max(self.peak, rss_anon_bytes())

    def stop(self) -> int | None:
        """The peak, including one last sample taken now: on a busy machine, or in a run of a few
        milliseconds, the thread may not have been scheduled while the data was held."""
        self._stop_event.set()
        self.join()
        if self.peak is not None:
            self.peak = max(self.peak, rss_anon_bytes())
        return self.peak


def child(cache_dir: Path, mode: str, iterations: int, batch_size: int) -> dict[str, Any]:
    """Train from ``cache_dir`` in ``mode`` and report this process's memory (run in its own process)."""
    sampler = PeakSampler()
    sampler.start()
    baseline = rss_anon_bytes()
    cache = FeatureCache.open(cache_dir)
    features = InMemoryFeatures(cache) if mode == "ram" else cache
    data = random_train_data(features, n_val=min(64, len(cache) // 10))
    if mode == "finetune":  # the block's weights do not change its memory or speed
        timing = finetune_ours(data, get_weights("random"), batch_size, iterations)
    else:
        timing = training_ours(data, batch_size, iterations, warmup_iterations=1)
    return {
        "mode": mode,
        "samples": len(cache),
        "cache_bytes": sum((cache.root / s["file"]).stat().st_size for s in cache.manifest["shards"]),
        "iterations": iterations,
        "batch_size": batch_size,
        "baseline_anon_bytes": baseline,
        "peak_anon_bytes": sampler.stop(),
        "peak_rss_bytes": peak_rss_bytes(),
        "images_per_s": timing["images_per_s"],
    }


def _child_entry(results: multiprocessing.Queue, *args: Any) -> None:
    try:
        results.put(child(*args))
    except Exception:  # reported to the parent, which raises it with the child's traceback
        results.put({"error": traceback.format_exc()})


def peak_memory(cache_dir: Path, mode: str, iterations: int, batch_size: int) -> dict[str, Any]:
    """Run ``child`` in its own process, forked from the forkserver, and return its report."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # takes effect when the forkserver starts (first call)
    results = context.Queue()
    process = context.Process(target=_child_entry, args=(results, cache_dir, mode, iterations, batch_size))
    process.start()
    while True:
        try:
            report = results.get(timeout=1.0)
            break
        except queue.Empty:
            if not process.is_alive():
                raise BenchmarkError(
                    f"memory child ({mode}, {cache_dir}) died with exit code {process.exitcode}"
                    " (killed for memory? lower the memory sizes)"
                ) from None
    process.join()
    if "error" in report:
        raise BenchmarkError(f"memory child ({mode}, {cache_dir}) failed:\n{report['error']}")
    return report


def memory_benchmark(sizes: tuple[int, int], iterations: dict[str, int], batch_size: int, tmp: Path) -> dict[str, Any]:
    """(d): peaks of every mode at the small and the large size, each mode for its number of
    ``iterations``; each cache is deleted after use."""
    small, large = sizes
    if not 0 < small < large:
        raise BenchmarkError(f"memory sizes must be (small, large) with 0 < small < large, got {sizes}")
    runs: dict[str, dict[int, dict[str, Any]]] = {mode: {} for mode in MODES}
    for n in sizes:
        folder = Path(tempfile.mkdtemp(prefix=f"cache-{n}-", dir=tmp))
        try:
            random_cache(folder, n)
            for mode in MODES:
                runs[mode][n] = peak_memory(folder, mode, iterations[mode], batch_size)
        finally:
            shutil.rmtree(folder)
    growth = {
        mode: {
            key: ratio(runs[mode][large][key], runs[mode][small][key])
            for key in ("peak_anon_bytes", "peak_rss_bytes")
            if runs[mode][small][key] is not None
        }
        for mode in MODES
    }
    return {
        "sizes": list(sizes),
        "modes": MODES,
        "runs": {mode: {str(n): run for n, run in by_size.items()} for mode, by_size in runs.items()},
        "growth": growth,
        "target_metric": "peak_rss_bytes",
    }
