"""Indexing a large tree (``make bench-index``): cold and cached wall time, peak memory per sample.

    python -m benchmarks.indexing            # 10,000 and 100,000 files; a few minutes on 2 cores
    python -m benchmarks.indexing --smoke    # tiny sizes, seconds: checks that everything runs

The tree is the vso layout: ANP folders of zero-byte placeholder ``.jpg`` files, with the
ontology the script writes beside it. Placeholders cost no disk space, and an indexer that
opened them would fail on them: the layouts list paths only.

Each indexing runs in a fresh process (this script with ``--child``) that imports the library,
resets its peak-RSS counter (``/proc/self/clear_refs``), indexes, and reports its peak RSS above
the RSS it had before: the memory of the indexing alone. "cold" is the first index of a tree
(listing it and writing the index cache), "cached" a second process served from that cache.
Timings are the fastest of ``repeats`` runs (other jobs on the same cores only slow a run down);
memory is the largest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.procmem import peak_rss_bytes, status_bytes

#: Real VSO adjectives, positive then negative; their ANPs (adjective x noun) name the folders.
ADJECTIVES: dict[str, float] = {
    "beautiful": 1.6,
    "happy": 1.8,
    "sunny": 1.2,
    "amazing": 1.7,
    "peaceful": 1.4,
    "dark": -0.9,
    "sad": -1.7,
    "angry": -1.6,
    "lonely": -1.3,
    "dirty": -1.2,
}
NOUNS: tuple[str, ...] = ("sky", "dog", "flowers", "beach", "car", "face", "city", "street", "house", "tree")
HOUR_S = 3600

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"sizes": (10_000, 100_000), "folders": 100, "repeats": 3},
    "smoke": {"sizes": (200, 1_000), "folders": 10, "repeats": 1},
}

#: What each extra sample may add to the peak memory of indexing: "small per sample".
SMALL_PER_SAMPLE_BYTES = 2048

NOTES = [
    "cold: a fresh process lists the tree (no image is opened) and writes the index cache;"
    " cached: a fresh process is served from that cache (the folders are stat'ed, not listed).",
    "memory: peak RSS of the indexing process above its RSS after importing the library. It includes a"
    " fixed part (first-use imports and allocations), so the cost of a sample is the slope between the two"
    " sizes: (memory at the large size - memory at the small size) / (the difference in files).",
    "speedup of the cached index: cold seconds / cached seconds. Cold means without the index cache, not"
    " a cold disk: the tree was just written, so its folders sit in the kernel's cache; on a cold disk"
    " both listing (cold) and stat'ing (cached) are slower.",
    "the tree's folders are dated an hour back: a tree written moments ago is never cached (the"
    " index cache's racy-entry rule), and a real collection has been at rest for longer.",
]


# --------------------------------------------------------------------------- the tree


def write_tree(folder: Path, n_files: int, n_folders: int) -> tuple[Path, Path]:
    """``folder/images/<anp>/<k>.jpg`` (zero bytes) spread over ``n_folders`` ANPs, and
    ``folder/ontology.txt``; every folder dated an hour back. Returns (root, ontology)."""
    from visent.data.ontology import write_vso_ontology

    anps = [(adjective, noun) for adjective in ADJECTIVES for noun in NOUNS][:n_folders]
    root = folder / "images"
    for index, (adjective, noun) in enumerate(anps):
        anp_folder = root / f"{adjective}_{noun}"
        anp_folder.mkdir(parents=True)
        for k in range(index, n_files, len(anps)):
            (anp_folder / f"{k:07d}.jpg").touch()
    ontology = folder / "ontology.txt"
    write_vso_ontology(ontology, {f"{a}_{n}": (a, n, ADJECTIVES[a]) for a, n in anps}, ADJECTIVES)
    past = time.time() - HOUR_S
    for path in (ontology, root, *root.iterdir()):
        os.utime(path, (past, past))
    return root, ontology


# --------------------------------------------------------------------------- one indexing, measured


def child(root: Path, ontology: Path) -> dict[str, Any]:
    """Index ``root`` in this process and report time and memory (run by ``--child``)."""
    import pyarrow.parquet  # noqa: F401  imported before the baseline: the cache reads and writes with it

    from visent.data.index_cache import index_cache_dir
    from visent.data.layouts import load_dataset

    def entries() -> dict[str, int]:
        folder = index_cache_dir()
        return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.parquet")} if folder.is_dir() else {}

    before = entries()
    peak_reset = _reset_peak_rss()
    baseline = status_bytes("VmRSS")
    start = time.perf_counter()
    dataset = load_dataset("vso", root, ontology=ontology)
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    after = entries()
    return {
        "seconds": seconds,
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak,
        "indexing_rss_bytes": peak - baseline if peak_reset and baseline is not None else None,
        "samples": len(dataset),
        "problems": dataset.report.counts(),
        "wrote_cache": after != before,
        "cache_bytes": sum((index_cache_dir() / name).stat().st_size for name in after),
    }


def _reset_peak_rss() -> bool:
    """Set VmHWM to the current RSS (Linux >= 4.0), so the peak that follows is the indexing's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure_child(root: Path, ontology: Path, cache: Path) -> dict[str, Any]:
    """``child`` in a fresh process whose user cache is ``cache``."""
    env = os.environ | {"VISENT_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.indexing", "--child", str(root), str(ontology)],
        cwd=Path(__file__).resolve().parents[1],  # where `benchmarks` is a package
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"indexing child failed on {root}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def measure_size(folder: Path, n_files: int, n_folders: int, repeats: int) -> dict[str, Any]:
    """Cold and cached indexing of a fresh tree of ``n_files`` placeholders, ``repeats`` times each."""
    start = time.perf_counter()
    root, ontology = write_tree(folder, n_files, n_folders)
    written_s = time.perf_counter() - start
    cache = folder / "cache"
    cold, cached = [], []
    for _ in range(repeats):
        shutil.rmtree(cache, ignore_errors=True)
        cold.append(measure_child(root, ontology, cache))
        cached.append(measure_child(root, ontology, cache))
    memory = [run["indexing_rss_bytes"] for run in cold + cached]
    return {
        "files": n_files,
        "folders": n_folders,
        "tree_write_seconds": written_s,
        "cold": cold,
        "cached": cached,
        "cold_seconds": min(run["seconds"] for run in cold),
        "cached_seconds": min(run["seconds"] for run in cached),
        "cold_indexing_rss_bytes": _largest(memory[:repeats]),
        "cached_indexing_rss_bytes": _largest(memory[repeats:]),
        "cache_bytes": cached[0]["cache_bytes"],
    }


def _largest(values: list[int | None]) -> int | None:
    return None if None in values else max(values)


# --------------------------------------------------------------------------- the document


def run(profile: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Every measurement at the sizes of ``profile``; returns the result document's body."""
    from benchmarks.common import machine_load, ratio, target

    load_before = machine_load()
    small, large = profile["sizes"]
    by_size = {}
    for n in (small, large):
        folder = tmp / f"tree-{n}"
        by_size[n] = measure_size(folder, n, profile["folders"], profile["repeats"])
        shutil.rmtree(folder)
    checks = {
        "cold_wrote_the_cache": all(run["wrote_cache"] for m in by_size.values() for run in m["cold"]),
        "cached_was_served": not any(run["wrote_cache"] for m in by_size.values() for run in m["cached"]),
        "cached_equals_cold": all(
            (c["samples"], c["problems"]) == (w["samples"], w["problems"])
            for m in by_size.values()
            for c, w in zip(m["cold"], m["cached"])
        ),
    }
    memory: dict[str, dict[str, float]] = {}
    for kind in ("cold", "cached"):
        low, high = (by_size[n][f"{kind}_indexing_rss_bytes"] for n in (small, large))
        if low is not None:  # None where the kernel cannot reset the peak counter
            memory[kind] = {"ratio": ratio(high, low), "bytes_per_sample": (high - low) / (large - small)}
    result: dict[str, Any] = {
        "benchmark": "indexing",
        "layout": "vso",
        "sizes": [small, large],
        "runs": {str(n): m for n, m in by_size.items()},
        "checks": checks,
        "memory": memory,
        "cached_speedup": ratio(by_size[large]["cold_seconds"], by_size[large]["cached_seconds"]),
        "targets": {},
        "load": {"before": load_before, "after": machine_load()},
    }
    if "cold" in memory:
        growth, per_sample = memory["cold"]["ratio"], memory["cold"]["bytes_per_sample"]
        result["targets"] = {
            "memory_linear": target(
                f"cold indexing memory at {large:,} files <= {large // small}x that at {small:,}"
                " (grows at most linearly)",
                growth,
                growth <= large / small,
            ),
            "memory_small_per_sample": target(
                f"each extra sample adds <= {SMALL_PER_SAMPLE_BYTES} bytes to the cold indexing's peak memory",
                per_sample,
                per_sample <= SMALL_PER_SAMPLE_BYTES,
            ),
        }
    result["rows"] = _rows(result)
    result["notes"] = NOTES
    return result


def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The table: cold beside cached, per size."""
    small, large = result["sizes"]
    runs = {n: result["runs"][str(n)] for n in (small, large)}
    targets = result["targets"]
    rows = []
    for n in (small, large):
        m = runs[n]
        rows.append(
            {
                "measurement": f"index {n:,} files, s (ours: cached; naive: cold)",
                "ours": m["cached_seconds"],
                "naive": m["cold_seconds"],
                "ratio": m["cold_seconds"] / m["cached_seconds"],
            }
        )
    for n in (small, large):
        m = runs[n]
        rows.append(
            {
                "measurement": f"peak indexing memory, {n:,} files, MB (ours: cached; naive: cold)",
                "ours": _mb(m["cached_indexing_rss_bytes"]),
                "naive": _mb(m["cold_indexing_rss_bytes"]),
            }
        )
    memory = result["memory"]
    for key, text, goal in (
        ("ratio", f"growth of peak indexing memory, {large:,} / {small:,} files", "memory_linear"),
        ("bytes_per_sample", "memory per extra sample (slope), bytes", "memory_small_per_sample"),
    ):
        rows.append(
            {
                "measurement": f"{text} (ours: cached; naive: cold)",
                "ours": memory.get("cached", {}).get(key),
                "naive": memory.get("cold", {}).get(key),
                "target": targets.get(goal),
            }
        )
    rows.append({"measurement": f"index cache file, {large:,} files, MB", "ours": runs[large]["cache_bytes"] / 1e6})
    return rows


def _mb(value: int | None) -> float | None:
    return None if value is None else value / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that everything runs (seconds)")
    parser.add_argument("--out-dir", type=Path, default=None, help="where indexing.json and indexing.md go")
    parser.add_argument("--child", nargs=2, type=Path, metavar=("ROOT", "ONTOLOGY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    from benchmarks.common import REPO, provenance, write_json
    from benchmarks.report import markdown_report

    name = "smoke" if args.smoke else "full"
    profile = PROFILES[name]
    started = provenance("cpu")  # the code and time at the start: the tree may change while it runs
    with tempfile.TemporaryDirectory(prefix="visent-bench-index-") as tmp:
        result = run(profile, Path(tmp))
    document = {"profile": name, "smoke": args.smoke, "config": profile, **started, **result}
    out_dir = args.out_dir or REPO / "results" / "bench"
    stem = "indexing-smoke" if args.smoke else "indexing"
    write_json(out_dir / f"{stem}.json", document)
    (out_dir / f"{stem}.md").write_text(markdown_report(document))
    print(markdown_report(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
