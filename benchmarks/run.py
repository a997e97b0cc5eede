"""The CPU benchmarks (``make bench``): each of ours beside the naive reference, in one run.

    python -m benchmarks.run              # about 4 minutes on 2 idle cores (7-12 under load)
                                          #   -> results/bench/cpu.{json,md}
    python -m benchmarks.run --smoke      # tiny sizes, seconds: checks that everything runs

(a) backbone images/s, and extraction through ``extract_features`` at ``--amp off`` and ``--amp auto``
(bf16 on a CPU with native bf16), (b) training images/s from the feature cache, (c) time per paper
epoch, (d) peak memory at two dataset sizes, (e) a fine-tuning step of block 5 (``--finetune conv5``),
at both precisions too, (f) ``visent predict`` beside ``visent extract`` on the same photos. The CPU
(model, torch's capability, native bf16) and the machine's load before and after are recorded,
because other jobs on the same cores slow every number.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.backbone import backbone_benchmark
from benchmarks.bf16 import BF16_SPEEDUP, auto_row, cpu_description, extraction_benchmark, folders_dataset
from benchmarks.common import REPO, machine_load, memoized, provenance, ratio, target, write_json
from benchmarks.fixtures import random_cache, random_train_data, write_photos
from benchmarks.memory import memory_benchmark
from benchmarks.predict import predict_benchmark, predict_row
from benchmarks.report import markdown_report
from benchmarks.training import (
    PAPER_BATCH,
    finetune_naive,
    finetune_ours,
    paper_epoch,
    training_naive,
    training_ours,
)
from visent.backbone import get_weights

PAPER_EPOCH_SPEEDUP = 100.0
MEMORY_GROWTH = 1.2

NOTES = [
    "speedup: ours / naive for rates, naive / ours for times; in the rows of --amp auto, its rate / the"
    " --amp off (fp32) rate of the row above, measured in the same run.",
    "(a) extraction: `extract_features`, what `visent extract` runs, on the same photos into a fresh cache"
    " each time; --amp off and --amp auto alternate (rounds in cpu.json), the fastest of each is shown.",
    "(b) naive: the cacheless pipeline of (c) (PIL + transforms + fp32 backbone + head step per iteration).",
    "(c) both epochs are extrapolated from the measured seconds per iteration (see measured_iterations in"
    " cpu.json); training iterations only, validation excluded from both.",
    "(e) ours: `fit` with --finetune conv5 (block 5 + the gap head) from a pool4-sized cache; naive: the same"
    " step with all of VGG-16 run from the JPEG files every step. Random weights: speed does not depend on them.",
    "(f) speedup: predict's rate over (a)'s extraction rate at --amp off, same photos, batch size and workers;"
    " predict runs extraction's decode and backbone, then the head, and writes no cache: about 1x is expected.",
    "(d) each peak is one process training for a fixed number of iterations. RSS (VmHWM) also counts the"
    " pages of the memory-mapped cache the process touched: clean, reclaimable page cache, but resident."
    " RssAnon is memory the process allocated itself. The memory goal is judged on RSS.",
]

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "image_size": 224,
        "photos": 64,
        "backbone_batch": 16,
        "num_workers": 1,
        "naive_backbone_images": 9,
        "precision_rounds": 2,
        "train_samples": 1024,
        "train_iterations": 100,
        "large_batch": 256,
        "large_iterations": 10,
        "naive_train_iterations": 2,
        "memory_sizes": (1000, 10000),
        "memory_iterations": 60,
        "finetune_iterations": 6,
        "naive_finetune_iterations": 1,
        "finetune_memory_iterations": 4,
    },
    "smoke": {
        "image_size": 32,
        "photos": 8,
        "backbone_batch": 4,
        "num_workers": 0,
        "naive_backbone_images": 2,
        "precision_rounds": 1,
        "train_samples": 96,
        "train_iterations": 3,
        "large_batch": 64,
        "large_iterations": 2,
        "naive_train_iterations": 1,
        "memory_sizes": (64, 192),
        "memory_iterations": 2,
        "finetune_iterations": 1,
        "naive_finetune_iterations": 1,
        "finetune_memory_iterations": 1,
    },
}


def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The table of the book: one row per measurement, ours beside naive."""
    a, b, c, d, e = (result[k] for k in ("backbone", "training", "paper_epoch", "memory", "finetune"))
    x, cpu = result["extraction"], result["cpu"]
    small, large = (str(n) for n in d["sizes"])
    metric = d["target_metric"]
    rows = [
        {
            "measurement": "(a) backbone, images/s",
            "ours": a["ours"]["images_per_s"],
            "naive": a["naive"]["images_per_s"],
            "ratio": a["speedup"],
        },
        {
            "measurement": f"(a) extraction (`extract_features`), batch {x['off']['batch_size']}, --amp off = fp32,"
            " images/s",
            "ours": x["off"]["images_per_s"],
        },
        auto_row("(a) extraction", cpu, x.get("auto"), x["speedup"], result["targets"].get("extraction_bf16_speedup")),
        {
            "measurement": f"(b) training from the cache, batch {PAPER_BATCH}, images/s",
            "ours": b["ours"]["images_per_s"],
            "naive": b["naive"]["images_per_s"],
            "ratio": b["speedup"],
        },
        {
            "measurement": f"(b) training from the cache, batch {PAPER_BATCH}, bf16 autocast, images/s",
            "ours": b["ours_bf16"]["images_per_s"],
            "naive": b["naive"]["images_per_s"],
            "ratio": b["speedup_bf16"],
        },
        {
            "measurement": f"(b) training from the cache, batch {b['ours_large']['batch_size']}, images/s",
            "ours": b["ours_large"]["images_per_s"],
            "naive": b["naive"]["images_per_s"],
            "ratio": b["speedup_large"],
        },
        {
            "measurement": "(c) one paper epoch (1000 x 32), s, extrapolated",
            "ours": c["ours"]["seconds"],
            "naive": c["naive"]["seconds"],
            "ratio": c["speedup"],
            "target": result["targets"]["paper_epoch_speedup"],
        },
        {
            "measurement": "(c) one paper epoch, bf16 autocast, s, extrapolated",
            "ours": c["ours_bf16"]["seconds"],
            "naive": c["naive"]["seconds"],
            "ratio": c["speedup_bf16"],
            "target": result["targets"]["paper_epoch_speedup_bf16"],
        },
    ]
    for key, label in (("peak_rss_bytes", "RSS"), ("peak_anon_bytes", "allocated (RssAnon)")):
        if d["growth"]["cache"].get(key) is None:
            continue
        for n in (small, large):
            rows.append(
                {
                    "measurement": f"(d) peak memory {label}, {n} samples, MB",
                    "ours": d["runs"]["cache"][n][key] / 1e6,
                    "naive": d["runs"]["ram"][n][key] / 1e6,
                }
            )
        rows.append(
            {
                "measurement": f"(d) growth of peak memory {label}, {large} / {small} samples",
                "ours": d["growth"]["cache"][key],
                "naive": d["growth"]["ram"][key],
                "target": result["targets"]["memory_growth"] if key == metric else None,
            }
        )
        rows.append(
            {
                "measurement": f"(d) growth of peak memory {label} when fine-tuning, {large} / {small} samples",
                "ours": d["growth"]["finetune"][key],
                "target": result["targets"]["finetune_memory_growth"] if key == metric else None,
            }
        )
    rows.append(
        {
            "measurement": f"(e) fine-tuning block 5 + head from the pool4 cache, batch {PAPER_BATCH}, --amp off ="
            " fp32, images/s",
            "ours": e["ours"]["images_per_s"],
            "naive": e["naive"]["images_per_s"],
            "ratio": e["speedup"],
        }
    )
    rows.append(auto_row("(e) fine-tuning block 5 + head", cpu, e["auto"], e["speedup_auto"]))
    return rows


def _bf16_target(extraction: dict[str, Any]) -> dict[str, Any]:
    """The extraction target, judged only where --amp auto is bf16."""
    if extraction["speedup"] is None:
        return {}
    text = f"--amp auto extraction >= {BF16_SPEEDUP:g}x the --amp off rate (a CPU with native bf16)"
    return {"extraction_bf16_speedup": target(text, extraction["speedup"], extraction["speedup"] >= BF16_SPEEDUP)}


def _cpu_note(cpu: dict[str, Any]) -> str:
    native = ", ".join(cpu["native_bf16"]) or "none (no AVX-512 BF16 or AMX)"
    return f"CPU: {cpu['model'] or 'unknown model'}; torch capability {cpu['capability']}; native bf16: {native}."


def run(profile: dict[str, Any], weights_spec: str, tmp: Path) -> dict[str, Any]:
    """Every CPU benchmark at the sizes of ``profile``; returns the result document."""
    weights = memoized(get_weights(weights_spec))
    cpu = cpu_description()
    load_before = machine_load()
    clock = {"start": time.perf_counter()}
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        now = time.perf_counter()
        phases[name] = now - clock["start"]
        clock["start"] = now

    photos = write_photos(tmp / "photos", profile["photos"])
    backbone = backbone_benchmark(
        photos,
        weights,
        profile["image_size"],
        profile["backbone_batch"],
        profile["num_workers"],
        profile["naive_backbone_images"],
    )
    lap("backbone")
    extraction = extraction_benchmark(
        folders_dataset(photos, tmp / "folders"),
        weights.resized(profile["image_size"]),
        profile["backbone_batch"],
        profile["num_workers"],
        profile["precision_rounds"],
    )
    lap("extraction")
    cache = random_cache(tmp / "train-cache", profile["train_samples"])
    data = random_train_data(cache, n_val=min(64, profile["train_samples"] // 10))
    ours = training_ours(data, PAPER_BATCH, profile["train_iterations"], warmup_iterations=3)
    ours_bf16 = training_ours(data, PAPER_BATCH, profile["train_iterations"], warmup_iterations=3, amp="bf16")
    ours_large = training_ours(data, profile["large_batch"], profile["large_iterations"], warmup_iterations=1)
    lap("training_ours")
    naive = training_naive(photos, weights, profile["image_size"], PAPER_BATCH, profile["naive_train_iterations"])
    epoch = paper_epoch(ours, ours_bf16, naive)
    lap("training_naive")
    finetune = {
        "ours": finetune_ours(data, weights, PAPER_BATCH, profile["finetune_iterations"]),
        "naive": finetune_naive(
            photos, weights, profile["image_size"], PAPER_BATCH, profile["naive_finetune_iterations"]
        ),
    }
    finetune["speedup"] = ratio(finetune["ours"]["images_per_s"], finetune["naive"]["images_per_s"])
    finetune["auto"], finetune["speedup_auto"] = None, None  # auto is fp32 without native bf16: nothing to compare
    if extraction["speedup"] is not None:
        finetune["auto"] = finetune_ours(data, weights, PAPER_BATCH, profile["finetune_iterations"], amp="auto")
        finetune["speedup_auto"] = ratio(finetune["auto"]["images_per_s"], finetune["ours"]["images_per_s"])
    lap("finetune")
    predict = predict_benchmark(
        photos,
        weights_spec,
        profile["image_size"],
        profile["backbone_batch"],
        profile["num_workers"],
        profile["precision_rounds"],
        extraction,
        tmp,
    )
    lap("predict")
    iterations = {"cache": profile["memory_iterations"], "ram": profile["memory_iterations"]}
    iterations["finetune"] = profile["finetune_memory_iterations"]
    memory = memory_benchmark(profile["memory_sizes"], iterations, PAPER_BATCH, tmp)
    lap("memory")
    growth = memory["growth"]["cache"][memory["target_metric"]]
    finetune_growth = memory["growth"]["finetune"][memory["target_metric"]]
    result = {
        "benchmark": "cpu",
        "weights": weights.describe() | {"note": "throughput and memory do not depend on the weights' values"},
        "cpu": cpu,
        "backbone": backbone,
        "extraction": extraction,
        "training": {
            "variant": "attention-truth",
            "ours": ours,
            "ours_bf16": ours_bf16,
            "ours_large": ours_large,
            "naive": naive,
            "speedup": ratio(ours["images_per_s"], naive["images_per_s"]),
            "speedup_bf16": ratio(ours_bf16["images_per_s"], naive["images_per_s"]),
            "speedup_large": ratio(ours_large["images_per_s"], naive["images_per_s"]),
        },
        "paper_epoch": epoch,
        "memory": memory,
        "finetune": finetune,
        "predict": predict,
        "targets": {
            **_bf16_target(extraction),
            "paper_epoch_speedup": target(
                f"one paper epoch >= {PAPER_EPOCH_SPEEDUP:g}x faster than the naive pipeline (fp32, --amp off)",
                epoch["speedup"],
                epoch["speedup"] >= PAPER_EPOCH_SPEEDUP,
            ),
            "paper_epoch_speedup_bf16": target(
                f"one paper epoch >= {PAPER_EPOCH_SPEEDUP:g}x faster than the naive pipeline"
                " (bf16 autocast, --amp bf16)",
                epoch["speedup_bf16"],
                epoch["speedup_bf16"] >= PAPER_EPOCH_SPEEDUP,
            ),
            "memory_growth": target(
                f"peak RSS at {memory['sizes'][1]} samples <= {MEMORY_GROWTH}x the peak at {memory['sizes'][0]}",
                growth,
                growth <= MEMORY_GROWTH,
            ),
            "finetune_memory_growth": target(
                f"fine-tuning: peak RSS at {memory['sizes'][1]} samples <= {MEMORY_GROWTH}x the peak at"
                f" {memory['sizes'][0]}",
                finetune_growth,
                finetune_growth <= MEMORY_GROWTH,
            ),
        },
        "load": {"before": load_before, "after": machine_load()},
        "phase_seconds": phases,
    }
    result["rows"] = [*_rows(result), predict_row(result)]
    result["notes"] = [*NOTES, _cpu_note(cpu)]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that everything runs (seconds)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "results" / "bench", help="where cpu.json and cpu.md go")
    parser.add_argument("--weights", default="random", help="backbone weights spec (speed does not depend on it)")
    args = parser.parse_args(argv)
    name = "smoke" if args.smoke else "full"
    profile = PROFILES[name]
    started = provenance("cpu")  # the code and time at the start: the tree may change while it runs
    with tempfile.TemporaryDirectory(prefix="visent-bench-") as tmp:
        result = run(profile, args.weights, Path(tmp))
    document = {"profile": name, "smoke": args.smoke, "config": profile, **started, **result}
    stem = "cpu-smoke" if args.smoke else "cpu"
    write_json(args.out_dir / f"{stem}.json", document)
    (args.out_dir / f"{stem}.md").write_text(markdown_report(document))
    print(markdown_report(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
