"""The GPU benchmarks in one command, sized for about 5 minutes on one H200 (every section time-bounded,
all of them within 7.5 minutes):

    python -m benchmarks.gpu --out results/bench/gpu-h200.json
    python -m benchmarks.gpu --smoke --device cpu --out /tmp/gpu-smoke.json   # checks the script runs

Needs only this repository, a CUDA build of PyTorch with torchvision, and the product's own core
packages (numpy, Pillow, pandas, tqdm): no notebooks, no plotting. Each measurement sits beside a
naive reference:

backbone
    images/s of VGG-16 to conv5_3 from decoded uint8 tensors on the device: naive (fp32, NCHW,
    batch 16, no inference_mode) against bf16 autocast + channels_last, eager and ``torch.compile``.
end_to_end
    images/s of the product, ``visent.features.extract_features`` (what ``visent extract`` runs), from
    JPEG files of a ``folders`` dataset to a finished feature cache: its tensor decoder (batched
    ``decode_jpeg`` on the GPU; DataLoader workers read the files), eager and compiled, and its PIL
    decoder in DataLoader workers; naive: PIL + torchvision transforms per image. The files were just
    written, so they are read from the page cache. The rate is over the extraction loop, which
    includes the workers' start and, compiled, the compilation.
training
    images/s of the attention-truth head at batch 32: ``visent.training.train.fit`` as it is (features
    gathered on the host, a loss sync per step: the naive reference), then with the features
    resident on the device, an eager step without syncs, and the step captured in a CUDA graph.
many_heads
    ``visent.training.multi.HeadStack``: S heads per step (one variant's seeds, and every run of the
    replication at once), eager and captured, the kernels' ceiling; plus the stacked validation forward.
stacked_run
    images/s summed over the stack of the product, ``visent.training.multi.train_many`` (what ``visent
    run`` and ``visent cv`` train with on CUDA, through ``pipeline.run_many``): S seeds of a variant as
    one stack, one epoch; naive: the same S runs one after another with ``fit`` (``--sequential``).
paper_scale
    the full replication (extraction of every image at the product's best end-to-end rate, every
    variant x seeds at the paper's schedule at the product's stacked rate) extrapolated from the
    rates above, marked ``extrapolated``.

The JSON is rewritten after every section, so a run cut short keeps what it measured; a section
that fails records its error, the others still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.io import encode_jpeg

from benchmarks.common import (
    REPO,
    BenchmarkError,
    machine_load,
    measure,
    memoized,
    provenance,
    rate,
    ratio,
    synchronize,
    target,
    write_json,
)
from benchmarks.naive import naive_regions, naive_transform, naive_trunk
from benchmarks.report import markdown_report
from visent.backbone import Weights, device_trunk, get_weights, to_regions
from visent.config import PRESETS, ModelConfig, RunConfig, TrainingConfig
from visent.data.decode import FALLBACK
from visent.data.layouts import load_dataset
from visent.features import backbone_regions, extract_features
from visent.model import VARIANTS, build_model
from visent.training.multi import HeadStack, train_many
from visent.training.train import TrainData, fit

VARIANT = "attention-truth"
WORD_DIM = 50
BACKBONE_TARGET = 14_000
END_TO_END_TARGET = 10_000
TRAINING_TARGET = 50_000
PAPER_SCALE_TARGET_S = 300
#: Seconds each section may run, and all of them together: `make bench-gpu` must end within 8 minutes.
SECTION_LIMITS_S = {
    "backbone": 120,
    "end_to_end": 180,
    "training": 100,
    "many_heads": 90,
    "stacked_run": 60,
    "paper_scale": 10,
}
TOTAL_LIMIT_S = 470
#: The end_to_end entries that are runs of the product (the others are references).
PRODUCT_RUNS = ("tensor_decode", "tensor_decode_compiled", "pil_workers")

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "image_size": 224,
        "backbone_batch": 256,
        "naive_batch": 16,
        "naive_images": 256,
        "min_seconds": 2.0,
        "compile": True,
        "jpeg_files": 16384,  # seconds of extraction, so worker start-up is a small part
        "jpeg_unique": 256,
        "jpeg_size": (375, 500),  # (height, width): a typical Flickr photo of VSO
        "loader_workers": 14,
        "feature_rows": 16384,
        "host_rows": 4096,
        "fit_iterations": 200,
        "train_iterations": 300,
        "product_iterations": 200,
        "stack_sizes": (3, 18),
        "val_batch": 256,
    },
    "smoke": {
        "image_size": 32,
        "backbone_batch": 4,
        "naive_batch": 2,
        "naive_images": 4,
        "min_seconds": 0.0,
        "compile": False,
        "jpeg_files": 8,
        "jpeg_unique": 4,
        "jpeg_size": (48, 64),
        "loader_workers": 0,
        "feature_rows": 96,
        "host_rows": 96,
        "fit_iterations": 3,
        "train_iterations": 3,
        "product_iterations": 3,
        "stack_sizes": (2,),
        "val_batch": 16,
    },
}


def _amp(device: torch.device) -> bool:
    # bf16 autocast where it is fast (CUDA); on a CPU smoke run it would only be slow.
    return device.type == "cuda"


def backbone(weights: Weights, device: torch.device, p: dict[str, Any]) -> dict[str, Any]:
    """Images/s from decoded uint8 tensors already on the device, through the product's trunk and forward."""
    batch, preprocess = p["backbone_batch"], weights.transform
    size = preprocess.size
    images = torch.randint(0, 256, (batch, 3, *size), dtype=torch.uint8, device=device)
    out: dict[str, Any] = {"batch_size": batch, "image_size": list(size), "bf16": _amp(device)}

    naive = naive_trunk(weights).to(device)
    few = images[: p["naive_batch"]]
    timing = measure(
        lambda: to_regions(naive(preprocess.normalize(few))),  # noqa: F821  (the name is deleted below, after use)
        warmup=2,
        iterations=3,
        device=device,
        min_seconds=p["min_seconds"],
    )
    out["naive"] = {
        "batch_size": len(few),
        "fp32": True,
        **timing,
        "images_per_s": rate(len(few) * timing["iterations"], timing["seconds"]),
    }
    del naive  # frees the naive trunk's memory before the fast one loads

    variants = {"eager": device_trunk(weights, device)}
    if p["compile"] and device.type == "cuda":
        variants["compiled"] = device_trunk(weights, device, compile=True)
    for name, model in variants.items():

        @torch.inference_mode()
        def extract(images: Tensor, model: torch.nn.Module = model) -> Tensor:
            return backbone_regions(model, preprocess, images, "auto", device)

        started = time.perf_counter()
        extract(images)  # the first call compiles, for the compiled variant
        synchronize(device)
        first_call_s = time.perf_counter() - started
        timing = measure(lambda: extract(images), warmup=2, iterations=3, device=device, min_seconds=p["min_seconds"])
        out[name] = {
            **timing,
            "first_call_seconds": first_call_s,
            "images_per_s": rate(batch * timing["iterations"], timing["seconds"]),
        }
    out["best"] = max(out[name]["images_per_s"] for name in variants)
    out["speedup"] = ratio(out["best"], out["naive"]["images_per_s"])
    if "compiled" in out:  # images after which compiling has paid for itself
        saved_per_image = 1 / out["eager"]["images_per_s"] - 1 / out["compiled"]["images_per_s"]
        cost = out["compiled"]["first_call_seconds"] - out["eager"]["first_call_seconds"]
        out["compile_break_even_images"] = cost / saved_per_image if saved_per_image > 0 else None
    return out


def write_jpegs(folder: Path, count: int, unique: int, size: tuple[int, int]) -> Path:
    """``count`` JPEG files of smooth synthetic scenes (``unique`` distinct ones, repeated), in the
    ``positive`` and ``negative`` folders of a ``folders`` dataset at ``folder``."""
    generator = torch.Generator().manual_seed(0)
    encoded = []
    for _ in range(unique):
        coarse = torch.rand(1, 3, 6, 8, generator=generator)
        smooth = F.interpolate(coarse, size=size, mode="bicubic", align_corners=False)[0]  # (3, H, W)
        noisy = smooth * 200 + torch.rand(3, *size, generator=generator) * 40
        encoded.append(encode_jpeg(noisy.clamp(0, 255).to(torch.uint8), quality=90).numpy().tobytes())
    paths = [folder / ("positive" if k % 2 else "negative") / f"{k:05d}.jpg" for k in range(count)]
    for k, path in enumerate(paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encoded[k % unique])
    return folder


def end_to_end(root: Path, weights: Weights, device: torch.device, p: dict[str, Any]) -> dict[str, Any]:
    """Images/s of ``extract_features`` from the JPEG files of the ``folders`` dataset at ``root`` to a
    finished feature cache, per decoder; the naive reference on the first files."""
    dataset = load_dataset("folders", root, cache=False)
    images, batch, workers = len(dataset.samples), p["backbone_batch"], p["loader_workers"]
    out: dict[str, Any] = {"files": images, "file_size": list(p["jpeg_size"]), "batch_size": batch}

    def product(decoder: str, compile: str) -> dict[str, Any]:
        reported = len(dataset.report.problems)
        with tempfile.TemporaryDirectory(prefix="visent-gpu-cache-") as cache:
            extract_features(
                dataset,
                weights,
                cache,
                batch_size=batch,
                num_workers=workers,
                device=device,
                amp="auto",
                decoder=decoder,
                compile=compile,
                progress=False,
            )
        seconds = dataset.meta["timing"]["extract_s"]
        fallbacks = sum(problem.reason == FALLBACK for problem in dataset.report.problems[reported:])
        return {
            "decoder": dataset.meta["timing"]["extract_decoder"],
            "compiled": dataset.meta["timing"]["extract_compiled"],
            "num_workers": workers,
            "seconds": seconds,
            "images_per_s": rate(images, seconds),
            "pil_fallbacks": fallbacks,
        }

    first = product("tensor", "off")  # also starts nvJPEG and the page cache: the run after it is measured
    out["tensor_decode"] = product("tensor", "off") | {"first_run_seconds": first["seconds"]}
    if p["compile"] and device.type == "cuda":
        out["tensor_decode_compiled"] = product("tensor", "on")
    out["pil_workers"] = product("pil", "off")

    paths = sorted(root.glob("*/*.jpg"))
    transform, trunk = naive_transform(weights.transform), naive_trunk(weights).to(device)
    chunks = itertools.cycle(
        [list(paths[i : i + p["naive_batch"]]) for i in range(0, p["naive_images"], p["naive_batch"])]
    )
    timing = measure(
        lambda: naive_regions(next(chunks), trunk, transform, device).cpu(),
        warmup=1,
        iterations=max(1, p["naive_images"] // p["naive_batch"]),
        device=device,
        min_seconds=p["min_seconds"],
    )
    out["naive"] = {
        "batch_size": p["naive_batch"],
        **timing,
        "images_per_s": rate(p["naive_batch"] * timing["iterations"], timing["seconds"]),
    }
    out["best"] = max(out[name]["images_per_s"] for name in PRODUCT_RUNS if name in out)
    out["speedup"] = ratio(out["best"], out["naive"]["images_per_s"])
    return out


class ArrayFeatures:
    """A FeatureCache stand-in over one tensor ``(N, 196, 512)`` fp16, on the host or on the device."""

    def __init__(self, features: Tensor) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.features.shape[1:])

    def regions(self, rows: np.ndarray) -> Tensor:
        return self.features[torch.as_tensor(np.asarray(rows), device=self.features.device)]


def random_features(rows: int, device: torch.device, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Random regions ``(N, 196, 512)`` fp16, adjective vectors ``(N, 50)`` and labels ``(N,)`` on ``device``."""
    generator = torch.Generator(device=device).manual_seed(seed)
    regions = torch.rand((rows, 196, 512), generator=generator, device=device, dtype=torch.float16)
    queries = torch.randn((rows, WORD_DIM), generator=generator, device=device)
    labels = torch.randint(0, 2, (rows,), generator=generator, device=device)
    return regions, queries, labels


def _head(features: Tensor, queries: Tensor) -> torch.nn.Module:
    """The variant's head sized by the features ``(N, regions, channels)`` and queries ``(N, word_dim)``."""
    return build_model(
        VARIANT, region_dim=features.shape[-1], word_dim=queries.shape[-1], hidden_dim=ModelConfig().hidden_dim
    )


def _array_data(features: Tensor, queries: Tensor, labels: Tensor) -> TrainData:
    rows = np.arange(len(features))
    return TrainData(
        ArrayFeatures(features),
        labels.cpu().numpy(),
        {"train": rows[32:], "val": rows[:32], "test": rows[:0]},
        queries.cpu().numpy(),
    )


def _fit_rate(
    features: Tensor, queries: Tensor, labels: Tensor, device: torch.device, iterations: int
) -> dict[str, Any]:
    """``visent.training.train.fit`` unchanged, one epoch of ``iterations`` at batch 32 (validation not timed)."""
    data = _array_data(features, queries, labels)
    config = TrainingConfig(
        preset="paper", iterations_per_epoch=iterations, max_epochs=1, patience=1, device=device.type, amp="auto"
    )
    torch.manual_seed(0)
    outcome = fit(_head(features, queries), data, config, device, progress=False)
    return {
        "iterations": iterations,
        "seconds": outcome.seconds,
        "images_per_s": outcome.images_per_s,
        "features_on": features.device.type,
    }


def capture(step: Callable[[], Any], device: torch.device) -> Callable[[], Any]:
    """``step`` captured in a CUDA graph after three warm-up calls on a side stream (PyTorch's recipe);
    returns the replay. The step must read its inputs from static tensors and never sync."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream(device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def eager_and_graphed(
    step: Callable[[], Any], order: Tensor, index: Tensor, device: torch.device, p: dict[str, Any], images_per_step: int
) -> dict[str, Any]:
    """Times ``step`` eagerly and, on CUDA, replayed from a captured CUDA graph."""
    modes = {"eager": step}
    if device.type == "cuda":
        modes["cuda_graph"] = capture(step, device)
    out = {}
    for name, run in modes.items():
        timing = measure(
            fed_by(order, index, run), warmup=3, iterations=len(order), device=device, min_seconds=p["min_seconds"]
        )
        out[name] = {**timing, "images_per_s": rate(images_per_step * timing["iterations"], timing["seconds"])}
    return out


def fed_by(order: Tensor, index: Tensor, run: Callable[[], Any]) -> Callable[[], None]:
    """``run`` preceded by copying the next batch's rows from ``order`` ``(T, ...)`` into the static
    ``index`` that the step (or its CUDA graph) reads."""
    counter = itertools.count()

    def step() -> None:
        index.copy_(order[next(counter) % len(order)])
        run()

    return step


def training(device: torch.device, p: dict[str, Any]) -> dict[str, Any]:
    """Images/s of the head at batch 32: fit as it is, then an eager sync-free step and a CUDA graph."""
    batch, iterations = TrainingConfig().batch_size, p["train_iterations"]
    features, queries, labels = random_features(p["feature_rows"], device)
    out: dict[str, Any] = {"batch_size": batch, "feature_rows": p["feature_rows"], "bf16": _amp(device)}
    host_rows = p["host_rows"]
    out["fit_host"] = _fit_rate(
        features[:host_rows].cpu(), queries[:host_rows], labels[:host_rows], device, p["fit_iterations"]
    )
    out["fit_device"] = _fit_rate(features, queries, labels, device, p["fit_iterations"])

    torch.manual_seed(0)
    model = _head(features, queries).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=TrainingConfig().lr)
    order = torch.randint(0, len(features), (iterations, batch), device=device)
    index = order[0].clone()  # static: a CUDA graph reads its input from this one tensor

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=_amp(device), cache_enabled=False):
            logits = model(features[index], queries[index])  # (32, 196, 512) gathered on the device
        F.cross_entropy(logits.float(), labels[index]).backward()
        optimizer.step()

    out |= eager_and_graphed(step, order, index, device, p, images_per_step=batch)
    out["best"] = max(out[name]["images_per_s"] for name in ("eager", "cuda_graph") if name in out)
    out["speedup"] = ratio(out["best"], out["fit_host"]["images_per_s"])
    return out


def many_heads(device: torch.device, p: dict[str, Any]) -> dict[str, Any]:
    """``HeadStack`` steps of S heads at once (S per-model batches of 32), and its shared validation forward."""
    batch, iterations = TrainingConfig().batch_size, p["train_iterations"]
    features, queries, labels = random_features(p["feature_rows"], device)
    config = TrainingConfig()
    out: dict[str, Any] = {"batch_size": batch, "bf16": _amp(device), "stacks": {}}
    for S in p["stack_sizes"]:
        models = []
        for seed in range(S):
            torch.manual_seed(seed)
            models.append(_head(features, queries))
        stack = HeadStack(models, config.lr, config.momentum, "auto", device)
        order = torch.randint(0, len(features), (iterations, S, batch), device=device)
        index = order[0].clone()

        def step(stack: HeadStack = stack, index: Tensor = index) -> None:
            stack.step(features[index], queries[index], labels[index])  # V (S, 32, 196, 512), a (S, 32, 50), y (S, 32)

        entry = eager_and_graphed(step, order, index, device, p, images_per_step=S * batch)
        entry["best"] = max(v["images_per_s"] for v in entry.values())
        val_rows = torch.arange(p["val_batch"], device=device)
        timing = measure(
            lambda: stack.probabilities(features[val_rows], queries[val_rows]),
            warmup=2,
            iterations=5,
            device=device,
            min_seconds=p["min_seconds"] / 2,
        )
        entry["validation"] = {
            "batch_size": p["val_batch"],
            **timing,
            "val_images_per_s": rate(p["val_batch"] * timing["iterations"], timing["seconds"]),
        }
        out["stacks"][str(S)] = entry
    return out


def stacked_run(device: torch.device, p: dict[str, Any], seeds: int) -> dict[str, Any]:
    """``train_many`` of ``seeds`` seeds (the product's stacked path) beside ``seeds`` sequential
    ``fit`` runs, one epoch each, features resident on the device; images/s summed over the runs."""
    features, queries, labels = random_features(p["feature_rows"], device)
    data = _array_data(features, queries, labels)
    config = RunConfig(
        variant=VARIANT,
        preset="paper",
        iterations_per_epoch=p["product_iterations"],
        max_epochs=1,
        patience=1,
        device=device.type,
    )
    pairs = [(VARIANT, seed) for seed in range(seeds)]
    train_many(pairs[:1], data, config.replace(iterations_per_epoch=2), device)  # warm-up: kernels, cuDNN
    started = time.perf_counter()
    stacked = train_many(pairs, data, config, device)
    stacked_s = time.perf_counter() - started
    started = time.perf_counter()
    for _, seed in pairs:
        torch.manual_seed(seed)
        fit(_head(features, queries), data, config.replace(seed=seed).training, device, progress=False)
    sequential_s = time.perf_counter() - started
    images = seeds * p["product_iterations"] * config.batch_size
    return {
        "variant": VARIANT,
        "seeds": seeds,
        "iterations": p["product_iterations"],
        "batch_size": config.batch_size,
        "stacked": {
            "seconds": stacked_s,
            "train_seconds": max(o.seconds for o in stacked.values()),
            "images_per_s": rate(images, stacked_s),
        },
        "sequential": {"seconds": sequential_s, "images_per_s": rate(images, sequential_s)},
        "speedup": ratio(sequential_s, stacked_s),
        "note": "wall time of the calls, one validation pass per run included; features on the device",
    }


def paper_scale(results: dict[str, Any], paper_images: int, seeds: int) -> dict[str, Any]:
    """The full replication's time from the measured rates (an extrapolation, not a measurement).

    Extraction of every image at the product's best end-to-end rate (``extract_features``); then every
    variant x seeds at the paper's schedule run to ``max_epochs`` (the upper bound: early stopping ends
    sooner), each variant's seeds as one stack at the product's stacked rate (``train_many``), with a
    validation pass over 10% of the images per epoch at the stack's validation rate. Every variant is
    costed as attention-truth (the largest). Reading the features from disk is not included: see
    ``feature_bytes`` and ``bytes_read_per_epoch``.
    """
    for needed in ("end_to_end", "many_heads", "stacked_run"):
        if "error" in results.get(needed, {"error": "not run"}):
            raise BenchmarkError(f"paper_scale extrapolates from the {needed} section, which did not succeed")
    schedule = PRESETS["paper"]
    batch = TrainingConfig().batch_size
    stack = results["many_heads"]["stacks"].get(str(seeds))
    if stack is None:
        raise BenchmarkError(
            f"paper_scale needs the many_heads stack of {seeds} seeds; "
            f"measured: {list(results['many_heads']['stacks'])}"
        )
    variants, n_val = len(VARIANTS), int(paper_images * 0.1)
    extraction_s = paper_images / results["end_to_end"]["best"]  # the product's rate: extract_features
    train_per_epoch_s = (
        variants * seeds * schedule["iterations_per_epoch"] * batch / results["stacked_run"]["stacked"]["images_per_s"]
    )
    val_per_epoch_s = variants * n_val / stack["validation"]["val_images_per_s"]
    epochs = schedule["max_epochs"]
    total = extraction_s + epochs * (train_per_epoch_s + val_per_epoch_s)
    region_bytes = 196 * 512 * 2
    return {
        "extrapolated": True,
        "paper_images": paper_images,
        "variants": sorted(VARIANTS),
        "seeds": seeds,
        "epochs": epochs,
        "epochs_note": "max_epochs of the paper preset: an upper bound, early stopping ends sooner",
        "extraction_seconds": extraction_s,
        "train_seconds_per_epoch": train_per_epoch_s,
        "validation_seconds_per_epoch": val_per_epoch_s,
        "total_seconds": total,
        "feature_bytes": paper_images * region_bytes,
        "bytes_read_per_epoch": variants * (seeds * schedule["iterations_per_epoch"] * batch + n_val) * region_bytes,
        "not_included": "reading features from disk (they exceed GPU memory at this scale), Python start-up",
    }


def _targets(results: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    checks = (
        (
            "backbone",
            lambda r: r["backbone"]["best"],
            f">= {BACKBONE_TARGET:,} images/s from decoded tensors",
            BACKBONE_TARGET,
            True,
        ),
        (
            "end_to_end",
            lambda r: r["end_to_end"]["best"],
            f">= {END_TO_END_TARGET:,} images/s end to end from JPEG",
            END_TO_END_TARGET,
            True,
        ),
        (
            "training",
            lambda r: r["training"]["best"],
            f">= {TRAINING_TARGET:,} images/s training at batch 32",
            TRAINING_TARGET,
            True,
        ),
        (
            "stacked_run",
            lambda r: r["stacked_run"]["stacked"]["images_per_s"],
            f">= {TRAINING_TARGET:,} images/s training, summed over the stack (train_many, as visent run)",
            TRAINING_TARGET,
            True,
        ),
        (
            "paper_scale",
            lambda r: r["paper_scale"]["total_seconds"],
            f"paper-scale replication < {PAPER_SCALE_TARGET_S} s (extrapolated)",
            PAPER_SCALE_TARGET_S,
            False,
        ),
    )
    for name, value, text, threshold, higher in checks:
        if "error" not in results.get(name, {"error": "not run"}):
            measured = value(results)
            found[name] = target(text, measured, measured >= threshold if higher else measured < threshold)
    return found


def _rows(results: dict[str, Any], targets: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    if "best" in results.get("backbone", {}):
        b = results["backbone"]
        rows.append(
            {
                "measurement": "backbone from decoded tensors, images/s",
                "ours": b["best"],
                "naive": b["naive"]["images_per_s"],
                "ratio": b["speedup"],
                "target": targets.get("backbone"),
            }
        )
    if "best" in results.get("end_to_end", {}):
        e = results["end_to_end"]
        rows.append(
            {
                "measurement": "end to end from JPEG files (extract_features), images/s",
                "ours": e["best"],
                "naive": e["naive"]["images_per_s"],
                "ratio": e["speedup"],
                "target": targets.get("end_to_end"),
            }
        )
    if "best" in results.get("training", {}):
        t = results["training"]
        rows.append(
            {
                "measurement": "training at batch 32, images/s (naive: fit with host features)",
                "ours": t["best"],
                "naive": t["fit_host"]["images_per_s"],
                "ratio": t["speedup"],
                "target": targets.get("training"),
            }
        )
    for S, entry in results.get("many_heads", {}).get("stacks", {}).items():
        single = results.get("training", {}).get("best")
        rows.append(
            {
                "measurement": f"{S} heads at once (HeadStack), images/s (naive: one head)",
                "ours": entry["best"],
                "naive": single,
                "ratio": entry["best"] / single if single else None,
            }
        )
    if "stacked" in results.get("stacked_run", {}):
        r = results["stacked_run"]
        rows.append(
            {
                "measurement": f"visent run's stacked training, {r['seeds']} seeds (train_many), images/s summed"
                " (naive: the same runs one after another, --sequential)",
                "ours": r["stacked"]["images_per_s"],
                "naive": r["sequential"]["images_per_s"],
                "ratio": r["speedup"],
                "target": targets.get("stacked_run"),
            }
        )
    if "total_seconds" in results.get("paper_scale", {}):
        rows.append(
            {
                "measurement": "paper-scale replication, s (extrapolated)",
                "ours": results["paper_scale"]["total_seconds"],
                "target": targets.get("paper_scale"),
            }
        )
    return rows


def _run_section(results: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]], limit_s: float) -> None:
    """Run one section for at most ``limit_s`` seconds; a failure or overrun is recorded, not raised."""

    def overrun(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the {name} section ran past its {limit_s:.0f} s limit")

    started = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, overrun)
    try:
        if limit_s <= 0:
            raise TimeoutError(f"not run: the benchmark's {TOTAL_LIMIT_S} s are spent")
        signal.setitimer(signal.ITIMER_REAL, limit_s)
        results[name] = fn()
    except Exception as exc:  # a one-shot device run keeps the other sections; the error is recorded
        results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    results[name]["section_seconds"] = time.perf_counter() - started
    status = results[name].get("error", "ok")
    print(f"[gpu bench] {name}: {status} ({results[name]['section_seconds']:.1f} s)", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "results" / "bench" / "gpu.json", help="result JSON (a .md beside it)"
    )
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --smoke, to check the script)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that the script runs")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile of the backbone")
    parser.add_argument("--weights", default="random", help="backbone weights spec (speed does not depend on it)")
    parser.add_argument("--paper-images", type=int, default=1_100_000, help="images of the paper-scale extrapolation")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per variant in the paper-scale extrapolation")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BenchmarkError(
            "no CUDA device is visible to torch; run on a GPU, or check the script with --smoke --device cpu"
        )
    name = "smoke" if args.smoke else "full"
    profile = PROFILES[name] | ({"compile": False} if args.no_compile else {})
    # Fixed shapes throughout: let cuDNN time its algorithms once (the naive reference gets it too).
    torch.backends.cudnn.benchmark = profile["cudnn_benchmark"] = device.type == "cuda"
    seeds = args.seeds if not args.smoke else profile["stack_sizes"][0]
    if str(seeds) not in map(str, profile["stack_sizes"]):
        profile["stack_sizes"] = (*profile["stack_sizes"], seeds)
    weights = memoized(get_weights(args.weights)).resized(profile["image_size"])
    document: dict[str, Any] = {
        "benchmark": f"gpu ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "gpu script on cpu",
        "profile": name,
        "smoke": args.smoke,
        "config": profile | {"paper_images": args.paper_images, "seeds": seeds},
        "weights": weights.describe() | {"note": "throughput does not depend on the weights' values"},
        **provenance(str(device)),
        "load": {"before": machine_load()},
    }
    results: dict[str, Any] = {}
    md_path = args.out.with_suffix(".md")

    def save() -> None:
        targets = _targets(results)
        document.update(results, targets=targets, rows=_rows(results, targets))
        document["load"]["after"] = machine_load()
        write_json(args.out, document)
        md_path.write_text(markdown_report(document))

    with tempfile.TemporaryDirectory(prefix="visent-gpu-bench-") as tmp:
        sections: dict[str, Callable[[], dict[str, Any]]] = {
            "backbone": lambda: backbone(weights, device, profile),
            "end_to_end": lambda: end_to_end(
                write_jpegs(Path(tmp) / "jpeg", profile["jpeg_files"], profile["jpeg_unique"], profile["jpeg_size"]),
                weights,
                device,
                profile,
            ),
            "training": lambda: training(device, profile),
            "many_heads": lambda: many_heads(device, profile),
            "stacked_run": lambda: stacked_run(device, profile, seeds),
            "paper_scale": lambda: paper_scale(results, args.paper_images, seeds),
        }
        deadline = time.perf_counter() + TOTAL_LIMIT_S
        for section, fn in sections.items():
            _run_section(results, section, fn, min(SECTION_LIMITS_S[section], deadline - time.perf_counter()))
            save()
    print(md_path.read_text())
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
