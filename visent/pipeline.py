"""One run end to end: dataset -> splits -> feature cache -> attention queries -> training -> result.

Each stage is a call into the module that owns it; this module only composes them, for the CLI,
the notebooks (which make the same calls one at a time) and papermill sweeps.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from visent import cv, distributed
from visent.backbone import Weights, get_weights
from visent.config import RunConfig
from visent.data.augment import expand_to_min_per_attribute
from visent.data.folds import VAL_FRACTION, carve_validation
from visent.data.layouts import LAYOUTS, load_dataset
from visent.data.splits import assign_splits, balance, find_duplicates
from visent.data.table import CLASS_NAMES, SPLIT_NAMES, Dataset
from visent.features import ConcatCache, FeatureCache, RegionCache, RowView, extract_features
from visent.model import VARIANTS, LinearProbe, build_model
from visent.model.embeddings import WordVectors, load_glove
from visent.model.queries import attribute_queries, predicted_queries
from visent.reporting.evaluate import classification_metrics, localisation_metrics
from visent.reporting.record import attention_examples, build_result
from visent.reporting.results import write_result
from visent.training.probe import fit_probe
from visent.training.train import (
    Checkpoint,
    TrainData,
    TrainOutcome,
    fit,
    load_checkpoint,
    predict,
)


def load_data(config: RunConfig) -> Dataset:
    """The dataset of ``config`` with a ``split`` column (a manifest's own split column wins)."""
    layout = LAYOUTS[config.dataset]
    options = {
        opt: getattr(config, key) for opt, key in layout.config_options.items() if getattr(config, key) is not None
    }
    for opt, param in layout.options.items():
        if param.default is param.empty and opt not in options:
            key = layout.config_options.get(opt, opt)
            raise ValueError(f"the {layout.name} layout needs --{key.replace('_', '-')} ({layout.structure})")
    dataset = load_dataset(config.dataset, config.data_root, cache=config.index_cache, **options)
    samples = dataset.samples
    if samples.empty:
        raise ValueError(
            f"{config.data_root}: no usable image for the {config.dataset!r} layout ({dataset.report.summary()}); "
            + "; ".join(
                f"{p.path}: {p.reason}" + (f" ({p.detail})" if p.detail else "") for p in dataset.report.problems[:3]
            )
        )
    if config.folds or config.cv_folds:
        samples["split"] = cv.fold_split(config, dataset)
    elif "split" not in samples or samples["split"].isna().any():
        duplicates = find_duplicates(dataset)
        dataset.meta["duplicates"] = {
            "groups": len(duplicates),
            "files": sum(len(p) for p in duplicates.values()),
            "rule": "files with identical bytes always share a split",
        }
        for group in duplicates.values():
            for path in group[1:]:
                dataset.report.add(path, "duplicate file", f"same bytes as {group[0]}; both kept, always in one split")
        assigned = assign_splits(samples, scheme=config.split, seed=config.split_seed, duplicate_groups=duplicates)
        given = samples["split"] if "split" in samples else pd.Series([None] * len(samples), index=samples.index)
        samples["split"] = np.where(given.isna(), assigned, given).astype(object)  # a manifest's own cells win
    return dataset


def settle_splits(config: RunConfig, dataset: Dataset) -> None:
    """Check the splits before any work: test rows and both classes in train are required; no val
    rows means a stratified share of train becomes val, and ``meta["val"]`` says so."""
    samples = dataset.samples
    split, labels = samples["split"].to_numpy(), samples["label"].to_numpy()
    where = f"{config.data_root} ({config.dataset} layout)"
    if not (split == "test").any():
        raise ValueError(
            f"{where}: no image is in the test split; give some rows split=test, or leave the split "
            "column blank and visent assigns 80/10/10"
        )
    for label, name in sorted(CLASS_NAMES.items()):
        if not ((split == "train") & (labels == label)).any():
            raise ValueError(
                f"{where}: the train split has no {name} image, so no classifier can be trained; "
                "move some into it or let visent assign the splits"
            )
    if not (split == "val").any():
        samples["split"] = carve_validation(split, labels, config.split_seed)
        dataset.meta["val"] = f"no val rows were given: a stratified {VAL_FRACTION:.0%} of the train rows"


def weights_for(config: RunConfig) -> Weights:
    """The backbone weights of ``config`` at its image size."""
    return get_weights(config.weights).resized(config.image_size)


def extract(
    config: RunConfig,
    dataset: Dataset,
    weights: Weights,
    device: torch.device,
    progress: bool = True,
    augment_seed: int = 0,
) -> FeatureCache:
    """``extract_features`` with the settings of ``config``: the one extraction call of the product."""
    return extract_features(
        dataset,
        weights,
        config.cache_dir,
        batch_size=config.extract_batch_size,
        num_workers=config.num_workers,
        device=device,
        amp=config.amp,
        shard_size=config.shard_size,
        progress=progress,
        augment_seed=augment_seed,
        decoder=config.decoder,
        compile=config.compile,
    )


def features_for(
    config: RunConfig, dataset: Dataset, weights: Weights, device: torch.device, progress: bool = True
) -> RegionCache:
    """The feature cache of ``dataset``; where the layout names a larger source dataset (each Twitter
    subset: all Twitter images), that one's cache, so the subsets share one extraction."""
    layout = LAYOUTS[config.dataset]
    if layout.feature_source is None:
        return extract(config, dataset, weights, device, progress)
    source = layout.feature_source(Path(dataset.root), config.index_cache)
    cache = extract(config, source, weights, device, progress)
    dataset.meta.setdefault("timing", {}).update(source.meta.get("timing", {}))
    row_of = {path: i for i, path in enumerate(source.samples["path"])}
    return RowView(cache, np.array([row_of[p] for p in dataset.samples["path"]], dtype=np.int64))


def split_rows(dataset: Dataset, cache: RegionCache) -> dict[str, np.ndarray]:
    """Dataset rows per split, leaving out unreadable images."""
    usable = np.ones(len(dataset.samples), dtype=bool)
    usable[list(cache.failed)] = False
    split = dataset.samples["split"].to_numpy()
    return {name: np.nonzero(usable & (split == name))[0] for name in SPLIT_NAMES}


def construct(
    config: RunConfig,
    dataset: Dataset,
    cache: RegionCache,
    rows: dict[str, np.ndarray],
    weights: Weights,
    device: torch.device,
    progress: bool,
) -> tuple[RegionCache, dict[str, np.ndarray]]:
    """The paper's dataset construction, after the split so that no test image or augmented copy
    of one reaches training: classes balanced within each split, then training adjectives
    augmented up to ``min_per_attribute`` images. Counts before and after go to ``meta``."""
    if config.balance != "none":
        counts = {}
        for name, r in rows.items():
            if len(r):
                table = dataset.samples.iloc[r].assign(_row=r)
                balanced, counts[name] = balance(table, seed=config.split_seed, method=config.balance)
                rows[name] = balanced["_row"].to_numpy()
        dataset.meta["balance"] = counts
    if config.min_per_attribute:
        train = dataset.samples.iloc[rows["train"]].reset_index(drop=True)
        expanded, counts = expand_to_min_per_attribute(train, config.min_per_attribute, seed=config.split_seed)
        added = expanded.iloc[len(train) :].reset_index(drop=True)
        dataset.meta["augmentation"] = counts
        if len(added):
            augmented = Dataset(f"{dataset.name}-augmented", dataset.root, added, dataset.report, {})
            extra = extract(config, augmented, weights, device, progress, augment_seed=config.split_seed)
            n = len(dataset.samples)
            dataset.samples = pd.concat([dataset.samples, added], ignore_index=True)
            ok = np.ones(len(added), dtype=bool)
            ok[list(extra.failed)] = False
            rows["train"] = np.concatenate([rows["train"], n + np.nonzero(ok)[0]])
            cache = ConcatCache([cache, extra])
    return cache, rows


@dataclass
class Prepared:
    dataset: Dataset
    weights: Weights
    cache: RegionCache
    data: TrainData
    vectors: WordVectors | None


def prepare(config: RunConfig, device: torch.device, progress: bool = True) -> Prepared:
    """Dataset, splits, feature cache and queries for ``config``, with stage timings in the dataset's meta."""
    t0 = time.perf_counter()
    dataset = load_data(config)
    settle_splits(config, dataset)
    dataset.meta.setdefault("timing", {})["index_s"] = time.perf_counter() - t0
    weights = weights_for(config)
    cache = features_for(config, dataset, weights, device, progress)
    for row, reason in sorted(cache.failed.items()):
        dataset.report.add(dataset.samples["path"].iat[row], "unreadable image", reason)
    cache, rows = construct(config, dataset, cache, split_rows(dataset, cache), weights, device, progress)
    spec = VARIANTS[config.variant]
    vectors, queries = None, None
    if spec.attribute_source in ("truth", "shuffled"):
        vectors = load_glove(config.glove)
        queries, keep = attribute_queries(dataset, config.variant, vectors, config.oov, config.seed)
        rows = {name: r[keep[r]] for name, r in rows.items()}
    for name in ("train", "test"):
        if len(rows[name]) == 0:
            raise ValueError(f"the {name} split of {dataset.root} is empty after removing unreadable or skipped images")
    labels = dataset.samples["label"].to_numpy().astype(np.int64)
    if spec.attribute_source == "predicted":
        vectors = load_glove(config.glove)
        queries = predicted_queries(config, dataset, cache, rows, vectors)
    return Prepared(dataset, weights, cache, TrainData(cache, labels, rows, queries), vectors)


def model_for(config: RunConfig, prepared: Prepared) -> torch.nn.Module:
    """The variant's model, sized by the data: the cache's channels and the query vectors' size."""
    queries = prepared.data.queries
    return build_model(
        config.variant,
        region_dim=prepared.cache.shape[1],
        hidden_dim=config.hidden_dim,
        word_dim=None if queries is None else int(queries.shape[1]),
        num_classes=len(CLASS_NAMES),
    )


def checkpoint_for(config: RunConfig) -> Checkpoint:
    return Checkpoint(Path(config.checkpoint_dir) / f"{config.run_id}.pt", config)


@dataclass
class Evaluation:
    """Metrics of one split, with the class probabilities ``(n, C)`` and attention ``(n, N)`` behind them."""

    metrics: dict
    probs: np.ndarray
    o: np.ndarray | None


def evaluate_split(model, prepared: Prepared, split: str, device: torch.device, amp: str) -> Evaluation:
    rows = prepared.data.rows[split]
    probs, o = predict(model, prepared.data, rows, device, amp)
    samples = prepared.dataset.samples.iloc[rows]
    attrs = samples["attribute"].to_numpy(dtype=object) if samples["attribute"].notna().all() else None
    metrics = classification_metrics(prepared.data.labels[rows], probs.argmax(1), attrs)
    boxes = samples[["x0", "y0", "x1", "y1"]].to_numpy(dtype=np.float64)
    metrics |= localisation_metrics(o, boxes, prepared.cache.shape[0])
    return Evaluation(metrics, probs, o)


def run(config: RunConfig, progress: bool = True, write: bool = True) -> dict[str, Any]:
    """Train and evaluate one variant; write and return its result dict."""
    t_start = time.perf_counter()
    device = distributed.resolve_device(config.device)
    prepared = prepare(config, device, progress)
    torch.manual_seed(config.seed)
    model = model_for(config, prepared)
    if isinstance(model, LinearProbe):
        outcome: TrainOutcome = fit_probe(model, prepared.data)
    else:
        outcome = fit(model, prepared.data, config.training, device, checkpoint_for(config), progress)
    model.load_state_dict(outcome.best_state)
    test = evaluate_split(model, prepared, "test", device, config.amp)
    val = evaluate_split(model, prepared, "val", device, config.amp).metrics if len(prepared.data.rows["val"]) else {}
    result = build_result(config, prepared, outcome, test.metrics, val, str(device), time.perf_counter() - t_start)
    result["env"]["world_size"] = distributed.current().world_size
    if test.o is not None:
        result["examples"] = attention_examples(prepared, test)
    if write and distributed.current().is_main:
        result["path"] = str(write_result(result, config.results_dir))
    return result


def run_or_reuse(config: RunConfig, force: bool = False, progress: bool = True, log=print) -> dict[str, Any]:
    """The result of ``config``: its result file when that was written with the same outcome
    sections (and not ``force``), else a new run that replaces the file."""
    path = Path(config.results_dir) / f"{config.run_id}.json"
    if path.exists() and not force:
        try:
            saved = json.loads(path.read_text())
            changes = config.changes_from(saved["config"])
        except (OSError, ValueError, KeyError, TypeError):
            saved, changes = None, None
        if changes == {}:
            log(f"{config.run_id}: result exists for this configuration, reused (--force reruns)")
            return saved
        what = (
            "it is not a result of this version"
            if changes is None
            else "the configuration changed: "
            + ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items())
        )
        log(f"{config.run_id}: {path} is stale ({what}); training again, the file will be replaced")
    return run(config, progress)


def evaluate_checkpoint(path: str | Path, split: str = "test", progress: bool = True) -> dict[str, Any]:
    """Metrics of the best state in a checkpoint written by ``fit``, on the config's own data."""
    state = load_checkpoint(path)
    config = RunConfig.from_dict(state["config"])
    device = distributed.resolve_device(config.device)
    prepared = prepare(config, device, progress)
    model = model_for(config, prepared)
    model.load_state_dict(state["best_state"])
    model.to(device)
    metrics = evaluate_split(model, prepared, split, device, config.amp).metrics
    return {"run_id": config.run_id, "split": split, "best_epoch": state["best_epoch"], **metrics}
