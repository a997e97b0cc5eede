"""(a) Backbone throughput: visent's extraction path against the naive per-image loop, same images.

Ours is what ``visent.features.extract_features`` does per batch: ``Preprocess.to_uint8`` in
DataLoader workers (compact uint8 batches), ``normalize`` on the batch, ``Trunk`` under
``inference_mode``. The naive loop opens, transforms and runs one small batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from benchmarks.common import BenchmarkError, measure, rate, ratio
from benchmarks.naive import naive_regions, naive_transform, naive_trunk
from visent.backbone import Preprocess, Trunk, Weights, to_regions
from visent.data.images import load_image


class _Photos(Dataset):
    """Files -> uint8 ``(3, H, W)`` tensors, as the extraction's DataLoader yields them."""

    def __init__(self, paths: Sequence[Path], preprocess: Preprocess) -> None:
        self.paths, self.preprocess = list(paths), preprocess

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.preprocess.to_uint8(load_image(self.paths[i]))


def sized(weights: Weights, image_size: int) -> Preprocess:
    """The weights' preprocessing at ``image_size`` (224 for the paper; smaller for smoke runs)."""
    return replace(weights.transform, size=(image_size, image_size))


def backbone_ours(
    paths: Sequence[Path], weights: Weights, image_size: int, batch_size: int, num_workers: int
) -> dict[str, Any]:
    """Images/s of visent's extraction path; the first batch is an untimed warm-up."""
    batches = len(paths) // batch_size
    if batches < 2:
        raise BenchmarkError(f"backbone_ours needs at least 2 batches of {batch_size} images, got {len(paths)} images")
    preprocess = sized(weights, image_size)
    trunk = Trunk(weights)
    loader = iter(DataLoader(_Photos(paths, preprocess), batch_size=batch_size, num_workers=num_workers))
    first: list[torch.Tensor] = []

    @torch.inference_mode()
    def step() -> None:
        regions = to_regions(trunk(preprocess.normalize(next(loader))))  # (B, 196, 512)
        if not first:
            first.append(regions[0].clone())

    timing = measure(step, warmup=1, iterations=batches - 1)
    return {
        "images": timing["iterations"] * batch_size,
        "batch_size": batch_size,
        "num_workers": num_workers,
        **timing,
        "images_per_s": rate(timing["iterations"] * batch_size, timing["seconds"]),
        "first_image_regions": first[0],
    }


def backbone_naive(paths: Sequence[Path], weights: Weights, image_size: int, batch_size: int) -> dict[str, Any]:
    """Images/s of the naive loop on the same files; the first batch is an untimed warm-up."""
    batches = len(paths) // batch_size
    if batches < 2:
        raise BenchmarkError(f"backbone_naive needs at least 2 batches of {batch_size} images, got {len(paths)} images")
    transform, trunk = naive_transform(sized(weights, image_size)), naive_trunk(weights)
    chunks = iter([paths[i * batch_size : (i + 1) * batch_size] for i in range(batches)])
    first: list[torch.Tensor] = []

    def step() -> None:
        regions = naive_regions(next(chunks), trunk, transform)
        if not first:
            first.append(regions[0].detach().clone())

    timing = measure(step, warmup=1, iterations=batches - 1)
    return {
        "images": timing["iterations"] * batch_size,
        "batch_size": batch_size,
        **timing,
        "images_per_s": rate(timing["iterations"] * batch_size, timing["seconds"]),
        "first_image_regions": first[0],
    }


def backbone_benchmark(
    paths: Sequence[Path], weights: Weights, image_size: int, batch_size: int, num_workers: int, naive_images: int
) -> dict[str, Any]:
    """(a): both paths on the same photos, and how far their features of the first photo differ."""
    ours = backbone_ours(paths, weights, image_size, batch_size, num_workers)
    naive = backbone_naive(paths[:naive_images], weights, image_size, batch_size=1)
    a, b = ours.pop("first_image_regions"), naive.pop("first_image_regions")
    return {
        "ours": ours,
        "naive": naive,
        "speedup": ratio(ours["images_per_s"], naive["images_per_s"]),
        "features_max_abs_diff": float((a - b).abs().max()),
        "features_max_abs": float(b.abs().max()),
    }
