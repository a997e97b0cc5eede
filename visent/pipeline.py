"""One run end to end: dataset -> splits -> feature cache -> attention queries -> training -> result.

Each stage is a call into the module that owns it; this module only composes them, for the CLI,
the notebooks (which make the same calls one at a time) and papermill sweeps. ``run`` is one run;
``run_many`` a grid of them, the runs of one dataset and schedule as one stack of heads
(``visent.training.multi``) where that pays.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from visent import distributed, precision
from visent.backbone import Weights, finetune_block, get_backbone, get_weights, output_shape
from visent.config import OUTCOME_SECTIONS, SECTIONS, RunConfig, absolute_paths, default_of, locate_paths, run_folder_of
from visent.cv_split import fold_split
from visent.data.augment import expand_to_min_per_attribute
from visent.data.folds import VAL_FRACTION, carve_validation
from visent.data.layouts import LAYOUTS, load_dataset
from visent.data.splits import GIVEN, assign_splits, balance, find_duplicates
from visent.data.table import CLASS_NAMES, SPLIT_NAMES, Dataset
from visent.features import ConcatCache, FeatureCache, RegionCache, RowView, extract_features
from visent.model import VARIANTS, LinearProbe
from visent.model.embeddings import WordVectors, load_glove
from visent.model.finetune import FineTuned
from visent.model.queries import QUERY_SOURCES, QueryInputs
from visent.reporting.evaluate import Evaluation, classification_metrics, localisation_metrics
from visent.reporting.record import attention_examples, attention_panel, build_result, per_image_predictions
from visent.reporting.results import write_result
from visent.training.multi import stacking_pays, train_many
from visent.training.probe import fit_probe
from visent.training.train import (
    Checkpoint,
    Prepared,
    TrainData,
    TrainOutcome,
    build_head,
    fit,
    load_checkpoint,
    predict,
    save_best,
)


def index_dataset(config: RunConfig) -> Dataset:
    """The dataset of ``config`` as its layout indexes it (the layout's options from the config)."""
    layout = LAYOUTS[config.dataset]
    options = {
        opt: getattr(config, key) for opt, key in layout.config_options.items() if getattr(config, key) is not None
    }
    for opt, param in layout.options.items():
        if param.default is param.empty and opt not in options:
            key = layout.config_options.get(opt, opt)
            raise ValueError(f"the {layout.name} layout needs --{key.replace('_', '-')} ({layout.structure})")
    return load_dataset(config.dataset, config.data_root, cache=config.index_cache, **options)


def usable_dataset(config: RunConfig) -> Dataset:
    """``index_dataset``'s dataset (no split yet); one with no usable image stops here."""
    dataset = index_dataset(config)
    samples = dataset.samples
    if samples.empty:
        raise ValueError(
            f"{config.data_root}: no usable image for the {config.dataset!r} layout ({dataset.report.summary()}); "
            + "; ".join(
                f"{p.path}: {p.reason}" + (f" ({p.detail})" if p.detail else "") for p in dataset.report.problems[:3]
            )
        )
    return dataset


def load_data(config: RunConfig) -> Dataset:
    """The dataset of ``config`` with a ``split`` column: the folds', the dataset's own (``--split
    given``, blank cells drawn at random and counted) or visent's."""
    dataset = usable_dataset(config)
    samples = dataset.samples
    given_rows = int(samples["split"].notna().sum()) if "split" in samples else 0
    source = dataset.meta.get("manifest", config.data_root)
    if config.folds or config.cv_folds:
        if given_rows:
            dataset.report.add(source, "split column ignored", f"{given_rows} rows: the cross-validation folds decide")
        samples["split"] = fold_split(config, dataset)
        return dataset
    if config.split == GIVEN and not given_rows:
        raise ValueError(f"--split given reads the split column of {source}, which has none filled; use --split random")
    if config.split != GIVEN and given_rows:
        raise ValueError(
            f"{source} has a split column ({given_rows} of {len(samples)} rows filled): pass --split given to"
            f" use it, or empty the column to let visent draw the {config.split} split"
        )
    if given_rows == len(samples):
        return dataset
    if config.split == GIVEN:
        blank = len(samples) - given_rows
        dataset.meta["split"] = f"{given_rows} rows' split given, {blank} blank ones assigned by visent (random)"
        dataset.report.add(source, "split assigned by visent", f"{blank} of {len(samples)} rows had a blank split cell")
    duplicates = find_duplicates(dataset)
    dataset.meta["duplicates"] = {
        "groups": len(duplicates),
        "files": sum(len(p) for p in duplicates.values()),
        "rule": "files with identical bytes always share a split",
    }
    for group in duplicates.values():
        for path in group[1:]:
            dataset.report.add(path, "duplicate file", f"same bytes as {group[0]}; both kept, always in one split")
    scheme = "random" if config.split == GIVEN else config.split
    assigned = assign_splits(samples, scheme=scheme, seed=config.split_seed, duplicate_groups=duplicates)
    given = samples["split"] if "split" in samples else pd.Series([None] * len(samples), index=samples.index)
    samples["split"] = np.where(given.isna(), assigned, given).astype(object)  # the given cells stay
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
    return get_weights(config.weights, config.backbone).resized(config.image_size)


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
        layer=get_backbone(config.backbone).finetune[config.finetune],
        decoder=config.decoder,
        compile=config.compile,
        max_pixels=config.max_pixels,
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
    indexed = len(source.report)
    cache = extract(config, source, weights, device, progress)
    # what extraction noted (a damaged shard re-extracted, a file decoded by PIL) belongs to this run's report
    dataset.report.problems.extend(source.report.problems[indexed:])
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
    of one reaches training: classes balanced within each split (of ``balance_splits``), then training adjectives
    augmented up to ``min_per_attribute`` images. Counts before and after go to ``meta``."""
    if config.balance != "none":
        counts = {}
        for name, r in rows.items():
            if len(r) and (config.balance_splits is None or name in config.balance_splits):
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


def _check_nonempty(dataset: Dataset, rows: dict[str, np.ndarray]) -> None:
    for name in ("train", "test"):
        if len(rows[name]) == 0:
            raise ValueError(f"the {name} split of {dataset.root} is empty after removing unreadable or skipped images")


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
    _check_nonempty(dataset, rows)
    source = VARIANTS[config.variant].attribute_source
    vectors, queries = None, None
    if source is not None:
        vectors = load_glove(config.glove)
        queries, keep = QUERY_SOURCES[source].compute(query_inputs(config, dataset, rows, vectors, cache))
        rows = {name: r[keep[r]] for name, r in rows.items()}
        _check_nonempty(dataset, rows)
    labels = dataset.samples["label"].to_numpy().astype(np.int64)
    return Prepared(dataset, weights, cache, TrainData(cache, labels, rows, queries), vectors)


def query_inputs(
    config: RunConfig, dataset: Dataset, rows: dict[str, np.ndarray], vectors: WordVectors, cache: RegionCache
) -> QueryInputs:
    """What every query source reads for this run (a notebook computes other sources' queries of
    the same images with it)."""
    return QueryInputs(
        dataset,
        rows,
        vectors,
        config.seed,
        oov=config.oov,
        cache=cache,
        detector=config.detector,
        detector_query=config.detector_query,
        detector_out=Path(config.checkpoint_dir) / f"{config.run_id}-detector.pt",
        text_weighting=config.text_weighting,
    )


def model_for(config: RunConfig, prepared: Prepared) -> torch.nn.Module:
    """The variant's model, sized by the data: the cache's channels (with ``--finetune``, those of
    the block's output) and the query vectors' size; the block starts from the run's weights."""
    fine_tuned = config.finetune != "none"
    region_dim = (
        output_shape(prepared.weights.transform.size, backbone=config.backbone)[1]
        if fine_tuned
        else prepared.cache.shape[1]
    )
    return model_of(
        config,
        prepared.weights,
        region_dim,
        None if prepared.data.queries is None else int(prepared.data.queries.shape[1]),
    )


def model_of(config: RunConfig, weights: Weights, region_dim: int, word_dim: int | None) -> torch.nn.Module:
    """The variant's model for ``region_dim`` channels per region and queries of ``word_dim`` (None:
    no queries); with ``--finetune`` the block, from ``weights``, before the head."""
    head = build_head(config.variant, region_dim, word_dim, config.hidden_dim)
    return FineTuned(finetune_block(weights, config.finetune), head) if config.finetune != "none" else head


def checkpoint_for(config: RunConfig) -> Checkpoint:
    return Checkpoint(Path(config.checkpoint_dir) / f"{config.run_id}.pt", config)


def evaluate_split(model, prepared: Prepared, split: str, device: torch.device, amp: str) -> Evaluation:
    rows = prepared.data.rows[split]
    probs, o = predict(model, prepared.data, rows, device, amp)
    samples = prepared.dataset.samples.iloc[rows]
    attrs = samples["attribute"].to_numpy(dtype=object) if samples["attribute"].notna().all() else None
    metrics = classification_metrics(prepared.data.labels[rows], probs.argmax(1), attrs)
    boxes = samples[["x0", "y0", "x1", "y1"]].to_numpy(dtype=np.float64)
    metrics |= localisation_metrics(o, boxes, prepared.cache.shape[0])
    return Evaluation(metrics, probs, o)


def record(
    config: RunConfig,
    prepared: Prepared,
    model: torch.nn.Module,
    outcome: TrainOutcome,
    device: torch.device,
    seconds: float,
    stacked: bool,
    write: bool = True,
) -> dict[str, Any]:
    """Evaluate a trained ``model`` (its best state loaded) and write and return its result dict;
    ``seconds`` is the time the run took before evaluation, ``stacked`` whether it trained in a stack."""
    t0 = time.perf_counter()
    test = evaluate_split(model, prepared, "test", device, config.amp)
    val = evaluate_split(model, prepared, "val", device, config.amp).metrics if len(prepared.data.rows["val"]) else {}
    total_s = seconds + time.perf_counter() - t0
    result = build_result(config, prepared, outcome, test.metrics, val, str(device), total_s)
    result["training"]["stacked"] = stacked
    result["env"]["world_size"] = distributed.current().world_size
    result["paths"] = absolute_paths(config)  # beside the paths as given in config: see config.locate_paths
    result["predictions"] = per_image_predictions(prepared, test)
    if test.o is not None:
        result["examples"] = attention_examples(prepared, test)
        result["attention_panel"] = attention_panel(prepared, test)
    if write and distributed.current().is_main:
        result["path"] = str(write_result(result, config.results_dir))
    return result


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
    return record(config, prepared, model, outcome, device, time.perf_counter() - t_start, False, write)


def reusable(config: RunConfig, force: bool = False, log=print) -> dict[str, Any] | None:
    """``config``'s result file when it was written with the same outcome sections (and not
    ``force``); else None, and a stale file is named in the log."""
    path = Path(config.results_dir) / f"{config.run_id}.json"
    if not path.exists() or force:
        return None
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
        else "the configuration changed: " + ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items())
    )
    log(f"{config.run_id}: {path} is stale ({what}); training again, the file will be replaced")
    return None


#: The outcome keys that only ``fit`` handles: those of a backbone block trained with the head (a
#: stack holds heads alone).
FIT_ONLY_KEYS = frozenset({"finetune", "backbone_lr_scale"})
#: The outcome keys whose effect a stack of heads reproduces: data and model keys through the same
#: ``prepare``, the schedule through the same ``train_epochs`` (tests/test_multi.py and
#: tests/test_stacked_runs.py compare it with ``fit``).
STACKED_KEYS = frozenset(f.name for name in OUTCOME_SECTIONS for f in fields(SECTIONS[name])) - FIT_ONLY_KEYS


def stack_refusal(config: RunConfig) -> str | None:
    """Why ``config`` cannot train in a stack of heads (``visent.training.multi``), or None."""
    spec = VARIANTS[config.variant]
    if spec.trainer != "sgd":
        return f"{config.variant} is not trained by SGD (its trainer: {spec.trainer})"
    if spec.attribute_source is not None and QUERY_SOURCES[spec.attribute_source].seeded:
        return f"{config.variant} draws its queries with the seed, so every seed has data of its own"
    unknown = [f"{k}={v!r}" for k, v in config.outcome_fields().items() if k not in STACKED_KEYS and v != default_of(k)]
    if unknown:
        return f"a stack of heads does not handle {', '.join(unknown)}"
    return None


def _stack_key(config: RunConfig) -> str:
    """Configs with equal keys share the prepared data and the schedule: all but variant and seed."""
    return json.dumps(
        {k: v for k, v in config.to_dict().items() if k not in ("variant", "seed", "run_id")}, default=str
    )


def plan_stacks(configs: list[RunConfig], sequential: bool | None = None, log=print) -> list[list[int]]:
    """Positions of ``configs`` in training order: a group of several trains as one stack, a group
    of one alone. ``sequential`` True trains every run alone, False stacks wherever a stack can
    train the runs (on the CPU too), None where it can and pays (``stacking_pays``). A run that
    cannot join a stack is logged with the reason, and so is a device where stacks do not pay."""
    if sequential or len(configs) < 2:
        return [[i] for i in range(len(configs))]
    if distributed.current().enabled:
        log("torchrun: every run trains alone, with DistributedDataParallel (a stack of heads is one process's)")
        return [[i] for i in range(len(configs))]
    groups: dict[str, list[int]] = {}
    slow: set[str] = set()
    for i, config in enumerate(configs):
        device = distributed.resolve_device(config.device)
        reason = None
        if sequential is None and not stacking_pays(device):
            slow.add(device.type)
        else:
            reason = stack_refusal(config)
            if reason:
                log(f"{config.run_id}: trains alone: {reason}")
        stackable = reason is None and device.type not in slow
        groups.setdefault(_stack_key(config) if stackable else f"alone {i}", []).append(i)
    for device_type in sorted(slow):
        log(f"on {device_type} the runs train one after another: a stack of heads does not pay there")
    return list(groups.values())


def run_stack(configs: list[RunConfig], progress: bool = True, write: bool = True) -> list[dict[str, Any]]:
    """Train ``configs`` (one dataset and schedule, see ``plan_stacks``) as one stack of heads and
    write and return each one's result dict, as ``run`` would (``training.stacked`` is true).

    The data is prepared once per attention query source. Members share the preparation and
    training time in ``timing``. Nothing is checkpointed during training: every result file is
    written when the whole stack has finished, so an interrupted stack leaves no file, and the next
    ``run_many`` trains its members again while it reuses the files of runs that finished. A
    best-state checkpoint per member is written for ``visent evaluate``; ``fit`` never resumes it.
    """
    t_start = time.perf_counter()
    device = distributed.resolve_device(configs[0].device)
    by_source: dict[str | None, Prepared] = {}
    prepared: dict[str, Prepared] = {}
    for config in configs:
        source = VARIANTS[config.variant].attribute_source
        if source not in by_source:
            by_source[source] = prepare(config, device, progress)
        prepared[config.variant] = by_source[source]
    pairs = [(config.variant, config.seed) for config in configs]
    data = {variant: p.data for variant, p in prepared.items()}
    outcomes = train_many(pairs, data, configs[0], device, progress=progress)
    seconds = time.perf_counter() - t_start
    results = []
    for config in configs:
        outcome = outcomes[(config.variant, config.seed)]
        if write:
            save_best(checkpoint_for(config), outcome)
        model = model_for(config, prepared[config.variant])
        model.load_state_dict(outcome.best_state)
        results.append(record(config, prepared[config.variant], model, outcome, device, seconds, True, write))
    return results


def run_many(
    configs: list[RunConfig], force: bool = False, progress: bool = True, log=print, sequential: bool | None = None
) -> list[dict[str, Any]]:
    """The results of ``configs``, in their order: each one's result file where it is ``reusable``,
    the other runs trained in the groups of ``plan_stacks`` (``sequential`` as there)."""
    results: list[dict[str, Any] | None] = [reusable(config, force, log) for config in configs]
    todo = [i for i, saved in enumerate(results) if saved is None]
    done = len(configs) - len(todo)
    for group in plan_stacks([configs[i] for i in todo], sequential, log):
        members = [configs[todo[j]] for j in group]
        ids = ", ".join(config.run_id for config in members)
        first, done = done + 1, done + len(members)
        where = f"{first}/{len(configs)}" if len(members) == 1 else f"{first}-{done}/{len(configs)}, one stack"
        log(f"== [{where}] {ids}")
        trained = [run(members[0], progress)] if len(members) == 1 else run_stack(members, progress)
        for j, result in zip(group, trained, strict=True):
            results[todo[j]] = result
    return [result for result in results if result is not None]


def checkpoint_config(path: str | Path, state: dict, command: str) -> RunConfig:
    """The config saved in checkpoint ``path`` (its ``state``), read as ``command`` reads it, with its
    paths found again from the current folder (``locate_paths``) and checked."""
    config = RunConfig.from_dict(state["config"], command)
    run_folder = run_folder_of(Path(path), config.checkpoint_dir)
    config = locate_paths(config, state.get("paths", {}), run_folder)
    config.check_paths()
    return config


def evaluate_checkpoint(path: str | Path, split: str = "test", progress: bool = True) -> dict[str, Any]:
    """Metrics of the best state in a checkpoint written by ``fit``, on the config's own data (and
    feature cache, found from any folder)."""
    state = load_checkpoint(path)
    config = checkpoint_config(path, state, "evaluate")
    device = distributed.resolve_device(config.device)
    prepared = prepare(config, device, progress)
    model = model_for(config, prepared)
    model.load_state_dict(state["best_state"])
    model.to(device)
    metrics = evaluate_split(model, prepared, split, device, config.amp).metrics
    evaluated = {"run_id": config.run_id, "split": split, "best_epoch": state["best_epoch"]}
    return evaluated | {"precision": precision.name(config.amp, device), **metrics}
