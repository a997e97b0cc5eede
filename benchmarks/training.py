"""(b) Training images/s from the feature cache, (c) the time of one paper epoch, and (e) a
fine-tuning step of VGG-16's block 5, ours and naive.

Ours is ``visent.training.train.fit`` itself on a memory-mapped ``FeatureCache`` (the attention-truth model,
the paper's SGD), timed by ``fit`` over its training iterations (validation excluded). The naive
pipeline has no cache: every iteration opens its batch's images with PIL and recomputes the fp32
backbone before the head's step. A paper epoch (1000 iterations of 32) is extrapolated from a few
measured iterations of each, and marked so.

(e) Ours is ``fit`` of ``--finetune conv5``: block 5 and the ``gap`` head trained from a pool4-sized
cache. The naive fine-tuning step opens its images and runs all of VGG-16 from pixels every step,
block 5 trainable, so the backward pass is the same and only the frozen forward is repeated.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.backbone import sized
from benchmarks.common import measure, rate, ratio
from benchmarks.fixtures import CHANNELS
from benchmarks.naive import naive_regions, naive_transform, naive_trunk
from visent import precision
from visent.backbone import Trunk, Weights, finetune_block, get_backbone
from visent.config import PRESETS, RunConfig
from visent.model import build_model
from visent.model.finetune import FineTuned
from visent.training.train import TrainData, TrainOutcome, fit, param_groups

VARIANT = "attention-truth"
FINETUNE_VARIANT = "gap"
PAPER_ITERATIONS = PRESETS["paper"]["iterations_per_epoch"]
PAPER_BATCH = RunConfig().batch_size  # 32
WORD_DIM = 50  # GloVe 6B 50d, the default vectors
CPU = torch.device("cpu")


def _config(batch_size: int, iterations: int, amp: str = "off", **more: Any) -> RunConfig:
    # One epoch and no early stopping: a timing run with the paper's lr.
    values = dict(
        variant=VARIANT,
        preset="paper",
        iterations_per_epoch=iterations,
        max_epochs=1,
        patience=1,
        batch_size=batch_size,
        device="cpu",
        amp=amp,
    )
    return RunConfig.from_dict(values | more)


def _fit_timing(outcome: TrainOutcome, batch_size: int, iterations: int) -> dict[str, Any]:
    """A timed ``fit``'s rate: its own training seconds (validation excluded) over its iterations."""
    return {
        "batch_size": batch_size,
        "iterations": iterations,
        "seconds": outcome.seconds,
        "seconds_per_iteration": outcome.seconds / iterations,
        "images_per_s": outcome.images_per_s,
    }


def _cycling(paths: Sequence[Path], batch_size: int) -> Iterator[list[Path]]:
    """Batches of ``batch_size`` files, cycling through ``paths``: the naive loops' data."""
    for start in itertools.count(0, batch_size):
        yield [paths[(start + i) % len(paths)] for i in range(batch_size)]


def training_ours(
    data: TrainData, batch_size: int, iterations: int, warmup_iterations: int, amp: str = "off"
) -> dict[str, Any]:
    """Images/s of ``fit`` at ``batch_size`` (``amp="off"``: fp32; ``"bf16"``:
    autocast), after an untimed warm-up ``fit`` of its own."""
    device = torch.device("cpu")
    for n in (warmup_iterations, iterations):
        torch.manual_seed(0)
        config = _config(batch_size, n, amp)
        model = build_model(
            VARIANT, region_dim=data.cache.shape[1], word_dim=data.queries.shape[1], hidden_dim=config.hidden_dim
        )
        outcome = fit(model, data, config.training, device, progress=False)
    return _fit_timing(outcome, batch_size, iterations) | {"amp": amp}


def training_naive(
    paths: Sequence[Path], weights: Weights, image_size: int, batch_size: int, iterations: int
) -> dict[str, Any]:
    """Images/s of the cacheless loop: PIL + transforms + fp32 backbone + head step, per iteration.
    Not warmed up: one iteration costs ``batch_size`` backbone passes, which dwarf any warm-up."""
    transform, trunk = naive_transform(sized(weights, image_size)), naive_trunk(weights)
    torch.manual_seed(0)
    head = build_model(VARIANT, region_dim=CHANNELS, word_dim=WORD_DIM, hidden_dim=_config(batch_size, 1).hidden_dim)
    optimizer = torch.optim.SGD(head.parameters(), lr=_config(batch_size, 1).lr)
    rng = np.random.default_rng(0)
    batches = _cycling(paths, batch_size)

    def step() -> None:
        V = naive_regions(next(batches), trunk, transform)  # (B, 196, 512) fp32, recomputed every iteration
        a = torch.from_numpy(rng.standard_normal((batch_size, WORD_DIM)).astype(np.float32))
        y = torch.from_numpy(rng.integers(0, 2, batch_size))
        loss = F.cross_entropy(head(V, a), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    timing = measure(step, warmup=0, iterations=iterations)
    return {
        "batch_size": batch_size,
        **timing,
        "images_per_s": rate(iterations * batch_size, timing["seconds"]),
    }


def _extrapolate(measured: dict[str, Any]) -> dict[str, Any]:
    if measured["batch_size"] != PAPER_BATCH:
        raise ValueError(f"a paper epoch is extrapolated from batch {PAPER_BATCH}, got batch {measured['batch_size']}")
    return {
        "seconds": PAPER_ITERATIONS * measured["seconds_per_iteration"],
        "measured_iterations": measured["iterations"],
        "extrapolated": True,
    }


def paper_epoch(ours: dict[str, Any], ours_bf16: dict[str, Any], naive: dict[str, Any]) -> dict[str, Any]:
    """(c): seconds per paper epoch, extrapolated from the measured seconds per iteration at batch 32:
    ours in fp32 (``--amp off``) and with bf16 autocast (``--amp bf16``), and naive."""
    mine, mine_bf16, theirs = _extrapolate(ours), _extrapolate(ours_bf16), _extrapolate(naive)
    return {
        "iterations": PAPER_ITERATIONS,
        "batch_size": PAPER_BATCH,
        "ours": mine,
        "ours_bf16": mine_bf16,
        "naive": theirs,
        "speedup": ratio(theirs["seconds"], mine["seconds"]),
        "speedup_bf16": ratio(theirs["seconds"], mine_bf16["seconds"]),
    }


def _finetune_config(batch_size: int, iterations: int, amp: str = "off") -> RunConfig:
    return _config(batch_size, iterations, amp, variant=FINETUNE_VARIANT, finetune="conv5")


def finetune_ours(
    data: TrainData, weights: Weights, batch_size: int, iterations: int, amp: str = "off"
) -> dict[str, Any]:
    """Images/s of ``fit`` fine-tuning block 5 with the ``gap`` head from the cache ``data`` (pool4
    maps) at ``amp``, after an untimed one-iteration warm-up ``fit``."""
    for n in (1, iterations):
        config = _finetune_config(batch_size, n, amp)
        torch.manual_seed(0)
        head = build_model(FINETUNE_VARIANT, region_dim=data.cache.shape[1], hidden_dim=config.hidden_dim)
        model = FineTuned(finetune_block(weights, config.finetune), head)
        outcome = fit(model, data, config.training, torch.device("cpu"), progress=False)
    return _fit_timing(outcome, batch_size, iterations) | {"amp": amp, "precision": precision.name(amp, CPU)}


def finetune_naive(
    paths: Sequence[Path], weights: Weights, image_size: int, batch_size: int, iterations: int
) -> dict[str, Any]:
    """Images/s of fine-tuning block 5 without a cache: each step opens its images and runs the whole
    trunk from pixels (block 5 trainable, the rest frozen), then the ``gap`` head."""
    config = _finetune_config(batch_size, iterations)
    transform = naive_transform(sized(weights, image_size))
    trunk = Trunk(weights)
    arch = get_backbone(weights.backbone)
    block = arch.cut(trunk.features, arch.finetune[config.finetune], None).requires_grad_(True)  # shares modules
    torch.manual_seed(0)
    head = build_model(FINETUNE_VARIANT, region_dim=CHANNELS, hidden_dim=config.hidden_dim)
    model = nn.ModuleDict({"block": block, "head": head})
    optimizer = torch.optim.SGD(param_groups(model, config.training), lr=config.lr, momentum=config.momentum)
    rng = np.random.default_rng(0)
    batches = _cycling(paths, batch_size)

    def step() -> None:
        V = naive_regions(next(batches), trunk, transform)  # (B, 196, 512): all 13 convs from pixels, every step
        y = torch.from_numpy(rng.integers(0, 2, batch_size))
        loss = F.cross_entropy(head(V), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    timing = measure(step, warmup=0, iterations=iterations)
    return {"batch_size": batch_size, **timing, "images_per_s": rate(iterations * batch_size, timing["seconds"])}
