"""One run end to end: dataset -> splits -> feature cache -> attention queries -> training -> result.

Every stage is a library call that the notebooks also make one at a time; ``run`` chains them for
the CLI and papermill sweeps and writes the result file.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from visent import distributed
from visent.backbone import Weights, get_weights
from visent.config import RunConfig
from visent.data.layouts import load_dataset, twitter_all
from visent.data.augment import expand_to_min_per_attribute
from visent.data.folds import (
    UNASSIGNED,
    VAL_FRACTION,
    PublishedFolds,
    carve_validation,
    folds_folder,
    published_split,
    read_folds,
    stratified_folds,
)
from visent.data.splits import assign_splits, balance, find_duplicates
from visent.data.table import Dataset
from visent.detector import AttributeDetector, fit_detector, pooled_features, topk_accuracy
from visent.embeddings import OOVError, WordVectors, load_glove
from visent.evaluate import classification_metrics, localisation_metrics
from visent.features import ConcatCache, FeatureCache, RowView, extract_features
from visent.model import VARIANTS, build_model
from visent.probe import fit_probe
from visent.results import env_info, write_result
from visent.train import TrainData, TrainOutcome, fit, predict

SPLIT_NAMES = ("train", "val", "test")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; under torchrun each process takes its local GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device='cuda' was asked for but torch sees no CUDA device; use --device cpu or auto")
        return torch.device("cuda", distributed.current().local_rank)
    return torch.device(name)


def load_data(config: RunConfig) -> Dataset:
    """The dataset of ``config`` with a ``split`` column (a manifest's own split column wins)."""
    options: dict = {}
    if config.dataset == "vso":
        if not config.ontology:
            raise ValueError("the vso layout needs --ontology PATH (VSO 3244ANPs.txt or MVSO csv)")
        options["ontology"] = config.ontology
    if config.regions:  # RunConfig allows it only for the layouts that read it
        options["regions"] = config.regions
    if config.dataset == "twitter":
        options["subset"] = config.twitter_subset
    dataset = load_dataset(config.dataset, config.data_root, cache=config.index_cache, **options)
    samples = dataset.samples
    if samples.empty:
        raise ValueError(
            f"{config.data_root}: no usable image for the {config.dataset!r} layout ({dataset.report.summary()}); "
            + "; ".join(f"{p.path}: {p.reason}" + (f" ({p.detail})" if p.detail else "") for p in dataset.report.problems[:3])
        )
    if config.folds or config.cv_folds:
        samples["split"] = fold_split(config, dataset)
    elif "split" not in samples or samples["split"].isna().any():
        duplicates = find_duplicates(dataset)
        dataset.meta["duplicates"] = {
            "groups": len(duplicates), "files": sum(len(p) for p in duplicates.values()),
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
        raise ValueError(f"{where}: no image is in the test split; give some rows split=test, or leave the split "
                         "column blank and visent assigns 80/10/10")
    for label, name in ((0, "negative"), (1, "positive")):
        if not ((split == "train") & (labels == label)).any():
            raise ValueError(f"{where}: the train split has no {name} image, so no classifier can be trained; "
                             "move some into it or let visent assign the splits")
    if not (split == "val").any():
        samples["split"] = carve_validation(split, labels, config.split_seed)
        dataset.meta["val"] = f"no val rows were given: a stratified {VAL_FRACTION:.0%} of the train rows"


def published_folds(config: RunConfig) -> PublishedFolds:
    """The published folds named by ``config.folds`` (the Twitter subset's, in a per-subset folder)."""
    subset = config.twitter_subset if config.dataset == "twitter" else None
    return read_folds(folds_folder(config.folds, subset))


def fold_split(config: RunConfig, dataset: Dataset) -> np.ndarray:
    """Fold ``config.cv_fold`` as test, the rest of the fold's images as train, and a stratified
    ``VAL_FRACTION`` of those as val: published folds when ``config.folds`` is set, else visent's
    stratified k-fold. The fold's provenance goes to ``dataset.meta["folds"]``."""
    labels = dataset.samples["label"].to_numpy()
    if config.folds:
        folds = published_folds(config)
        if config.cv_folds and config.cv_folds != len(folds):
            raise ValueError(f"--cv-folds {config.cv_folds} but {folds.root} holds {len(folds)} folds; drop --cv-folds")
        if config.cv_fold >= len(folds):
            raise ValueError(f"--cv-fold {config.cv_fold}: {folds.root} holds folds 0 .. {len(folds) - 1}")
        split = published_split(dataset, folds, config.cv_fold)
        dataset.meta["folds"] = folds.describe() | {"fold": config.cv_fold, "unassigned": int((split == UNASSIGNED).sum())}
    else:
        split = stratified_folds(labels, config.cv_folds, config.cv_fold, config.split_seed)
        dataset.meta["folds"] = {"path": None, "k": config.cv_folds, "fold": config.cv_fold, "scheme": "stratified"}
    dataset.meta["folds"]["val"] = f"stratified {VAL_FRACTION:.0%} of the fold's training images"
    return carve_validation(split, labels, config.split_seed)


def run_or_reuse(config: RunConfig, force: bool = False, progress: bool = True, log=print) -> dict:
    """The result of ``config``: its result file when that was written with the same outcome
    fields (and not ``force``), else a new run that replaces the file."""
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
        what = "it is not a result of this version" if changes is None else "the configuration changed: " + ", ".join(
            f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items()
        )
        log(f"{config.run_id}: {path} is stale ({what}); training again, the file will be replaced")
    return run(config, progress)


def run_cv(config: RunConfig, seeds: list[int] | None = None, progress: bool = True, force: bool = False,
           log=print) -> tuple[list[dict], dict]:
    """Every fold of ``config`` (``config.folds``'s published folds, else ``config.cv_folds``) for
    each of ``seeds`` (default: ``config.seed``), one result file each; returns them and their
    :func:`cv_summary`, also written."""
    k = len(published_folds(config)) if config.folds else config.cv_folds
    if k < 2:
        raise ValueError("cross-validation needs --folds PATH or --cv-folds K (K >= 2)")
    configs = [
        RunConfig.from_dict(config.to_dict() | {"cv_folds": k, "cv_fold": fold, "seed": seed, "run_id": None})
        for seed in (seeds or [config.seed]) for fold in range(k)
    ]
    runs = []
    for n, fold_config in enumerate(configs, start=1):
        log(f"== [{n}/{len(configs)}] {fold_config.run_id}")
        runs.append(run_or_reuse(fold_config, force, progress, log))
    summary = cv_summary(runs)
    if distributed.current().is_main:
        summary["path"] = str(write_result(summary, config.results_dir))
    return runs, summary


CV_METRICS = ("test_accuracy", "test_balanced_accuracy", "val_accuracy")


def cv_summary(runs: list[dict]) -> dict:
    """One variant over folds and seeds: each fold's metric is the mean over its seeds, the summary
    the mean and sample sd over the folds. Its ``kind`` is ``"cv-summary"``: tables of runs skip it."""
    first = runs[0]
    config = RunConfig.from_dict(first["config"])
    by_fold: dict[int, list[dict]] = {}
    for r in runs:
        by_fold.setdefault(int(r["config"]["cv_fold"]), []).append(r)
    per_fold = {
        fold: {k: float(np.mean([r["metrics"][k] for r in rs if r["metrics"].get(k) is not None] or [np.nan]))
               for k in CV_METRICS}
        for fold, rs in sorted(by_fold.items())
    }
    metrics: dict = {}
    for k in CV_METRICS:
        values = np.array([m[k] for m in per_fold.values()])
        metrics[k] = float(np.mean(values))
        metrics[f"{k}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    metrics["folds"] = [{"fold": fold, **m} for fold, m in per_fold.items()]
    metrics["runs"] = [{"run_id": r["run_id"], "fold": r["config"]["cv_fold"], "seed": r["config"]["seed"],
                        **{k: r["metrics"].get(k) for k in CV_METRICS}} for r in runs]
    run_id = f"{config.run_prefix('summary')}-{config.variant}"
    seeds = sorted({r["config"]["seed"] for r in runs})
    return {
        "run_id": run_id,
        "kind": "cv-summary",
        "variant": config.variant,
        "config": first["config"] | {"cv_fold": None, "seed": None, "run_id": run_id},
        "seeds": seeds,
        "dataset": {k: v for k, v in first["dataset"].items() if k not in ("report", "class_balance")},
        "backbone": first["backbone"],
        "metrics": metrics,
        "timing": {"total_s": sum(r["timing"].get("total_s", 0.0) for r in runs)},
        "env": env_info(first["env"].get("device")),
    }


def split_rows(dataset: Dataset, cache) -> dict[str, np.ndarray]:
    """Dataset rows per split, leaving out unreadable images."""
    usable = np.ones(len(dataset.samples), dtype=bool)
    usable[list(cache.failed)] = False
    split = dataset.samples["split"].to_numpy()
    return {name: np.nonzero(usable & (split == name))[0] for name in SPLIT_NAMES}


def construct(config: RunConfig, dataset: Dataset, cache: FeatureCache, rows: dict[str, np.ndarray],
              weights: Weights, device: torch.device, progress: bool):
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
        added = expanded.iloc[len(train):].reset_index(drop=True)
        dataset.meta["augmentation"] = counts
        if len(added):
            augmented = Dataset(f"{dataset.name}-augmented", dataset.root, added, dataset.report, {})
            extra = extract_features(
                augmented, weights, config.cache_dir, batch_size=config.extract_batch_size,
                num_workers=config.num_workers, device=device, amp=device.type == "cuda" and config.amp != "off",
                shard_size=config.shard_size, progress=progress, augment_seed=config.split_seed,
            )
            n = len(dataset.samples)
            dataset.samples = pd.concat([dataset.samples, added], ignore_index=True)
            ok = np.ones(len(added), dtype=bool)
            ok[list(extra.failed)] = False
            rows["train"] = np.concatenate([rows["train"], n + np.nonzero(ok)[0]])
            cache = ConcatCache([cache, extra])
    return cache, rows


def attribute_queries(
    dataset: Dataset, variant: str, vectors: WordVectors, oov: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``a`` of eq. (2) for every row, and a mask of rows that have one.

    ``truth`` and ``adjective-only`` use the row's own adjective; ``shuffled`` gives every image a
    uniformly random *other* adjective of the dataset, fixed for the run. (A per-adjective
    permutation would keep the adjective's identity, and so the leak, intact.)
    """
    attrs = dataset.samples["attribute"].to_numpy(dtype=object)
    if any(a is None or (isinstance(a, float) and np.isnan(a)) for a in attrs):
        raise ValueError(f"variant {variant!r} needs an adjective for every image; {dataset.root} has images without one")
    vocab = sorted(set(attrs.tolist()))
    missing = [w for w in vocab if w not in vectors]
    if missing and oov == "error":
        raise OOVError(
            ", ".join(missing), vectors.source,
            f" ({len(missing)} adjective(s) of {dataset.root}); pass --oov skip to leave their images out "
            "(they are reported), or other vectors with --glove",
        )
    for word in missing:
        n = int((attrs == word).sum())
        dataset.report.add(word, "adjective not in GloVe", f"{n} images skipped ({vectors.source})")
    known = [w for w in vocab if w in vectors]
    table = {w: vectors[w] for w in known}
    keep = np.array([a in table for a in attrs])
    if VARIANTS[variant].attribute_source == "shuffled":
        if len(known) < 2:
            raise ValueError("attention-shuffled needs at least two adjectives")
        rng = np.random.default_rng([seed, 17])
        index = {w: i for i, w in enumerate(known)}
        own = np.array([index.get(a, 0) for a in attrs])
        other = (own + rng.integers(1, len(known), size=len(attrs))) % len(known)  # never the own one
        chosen = [known[i] for i in other]
    else:
        chosen = attrs
    dim = vectors.dim
    queries = np.stack([table[w] if k else np.zeros(dim, np.float32) for w, k in zip(chosen, keep)]).astype(np.float32)
    return queries, keep


@dataclass
class Prepared:
    dataset: Dataset
    weights: Weights
    cache: FeatureCache
    data: TrainData
    vectors: WordVectors | None


def features_for(config: RunConfig, dataset: Dataset, weights: Weights, device: torch.device, progress: bool = True):
    """The feature cache of ``dataset`` as ``config`` extracts it. A Twitter subset reads the cache
    of all Twitter images (:func:`visent.data.layouts.twitter_all`), so the three subsets share one."""
    source = twitter_all(dataset.root, cache=config.index_cache) if config.dataset == "twitter" else dataset
    cache = extract_features(
        source, weights, config.cache_dir,
        batch_size=config.extract_batch_size, num_workers=config.num_workers,
        device=device, amp=device.type == "cuda" and config.amp != "off", shard_size=config.shard_size,
        progress=progress,
    )
    if source is dataset:
        return cache
    dataset.meta.setdefault("timing", {}).update(source.meta.get("timing", {}))
    row_of = {path: i for i, path in enumerate(source.samples["path"])}
    return RowView(cache, np.array([row_of[p] for p in dataset.samples["path"]], dtype=np.int64))


def prepare(config: RunConfig, device: torch.device, progress: bool = True) -> Prepared:
    """Dataset, splits, feature cache and queries for ``config``, with stage timings in the dataset's meta."""
    t0 = time.perf_counter()
    dataset = load_data(config)
    settle_splits(config, dataset)
    dataset.meta.setdefault("timing", {})["index_s"] = time.perf_counter() - t0
    weights = get_weights(config.weights)
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
    data = TrainData(cache, labels, rows, queries)
    if spec.attribute_source == "predicted":
        vectors = load_glove(config.glove)
        data.queries = predicted_queries(config, dataset, data, vectors)
    return Prepared(dataset, weights, cache, data, vectors)


def predicted_queries(config: RunConfig, dataset: Dataset, data: TrainData, vectors: WordVectors) -> np.ndarray:
    """Eq. (2) inputs from the attribute detector, fitted on the training split only (or loaded)."""
    n = len(dataset.samples)
    all_rows = np.arange(n)
    pooled = pooled_features(data.cache, all_rows)  # (N, 512)
    attrs = dataset.samples["attribute"].to_numpy(dtype=object)
    if config.detector:
        detector = AttributeDetector.load(config.detector)
    elif dataset.samples["attribute"].notna().all():
        train = data.rows["train"]
        detector = fit_detector(pooled[train], attrs[train], seed=config.seed)
        path = Path(config.checkpoint_dir) / f"{config.run_id}-detector.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        detector.save(path)
        dataset.meta["detector_path"] = str(path)
    else:
        raise ValueError(
            f"attention-predicted on {dataset.root} needs --detector PATH: the dataset has no adjectives to "
            "train one; a run of attention-predicted on vso or synthetic data saves one in --checkpoint-dir"
        )
    missing = [w for w in detector.vocabulary if w not in vectors]
    if missing:
        raise OOVError(", ".join(missing), vectors.source, " (adjectives of the attribute detector)")
    if dataset.samples["attribute"].notna().all():
        probs = detector.probabilities(pooled)
        dataset.meta["detector"] = {
            "n_adjectives": len(detector.vocabulary),
            "query": config.detector_query,
            **{
                f"{split}_top{k}": topk_accuracy(probs[data.rows[split]], detector.vocabulary, attrs[data.rows[split]], k)
                for split in ("train", "test") for k in (1, 5)
            },
        }
    return detector.queries(pooled, vectors, soft=config.detector_query == "soft")


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
    metrics |= localisation_metrics(o, samples[["x0", "y0", "x1", "y1"]].to_numpy(dtype=np.float64))
    return Evaluation(metrics, probs, o)


def run(config: RunConfig, progress: bool = True, write: bool = True) -> dict:
    """Train and evaluate one variant; write and return its result dict."""
    t_start = time.perf_counter()
    device = resolve_device(config.device)
    prepared = prepare(config, device, progress)
    torch.manual_seed(config.seed)
    word_dim = prepared.vectors.dim if prepared.vectors else 50
    model = build_model(config.variant, word_dim=word_dim, hidden_dim=config.hidden_dim)
    ckpt = Path(config.checkpoint_dir) / f"{config.run_id}.pt"
    if VARIANTS[config.variant].trainer == "probe":
        outcome: TrainOutcome = fit_probe(model, prepared.data)
    else:
        outcome = fit(model, prepared.data, config, device, ckpt, progress)
    model.load_state_dict(outcome.best_state)
    test = evaluate_split(model, prepared, "test", device, config.amp)
    val = evaluate_split(model, prepared, "val", device, config.amp).metrics if len(prepared.data.rows["val"]) else {}
    result = build_result(config, prepared, outcome, test.metrics, val, device, time.perf_counter() - t_start)
    result["env"]["world_size"] = distributed.current().world_size
    if test.o is not None:
        result["examples"] = attention_examples(prepared, test)
    if write and distributed.current().is_main:
        result["path"] = str(write_result(result, config.results_dir))
    return result


#: Test images whose attention a result file keeps, per outcome (for the figures of the book).
N_EXAMPLES = 4


def attention_examples(prepared: Prepared, test: Evaluation) -> list[dict]:
    """The first ``N_EXAMPLES`` correct and wrong test predictions with their attention ``o``."""
    rows, probs, o = prepared.data.rows["test"], test.probs, test.o
    labels = prepared.data.labels[rows]
    correct = probs.argmax(1) == labels
    picked = [*np.nonzero(correct)[0][:N_EXAMPLES], *np.nonzero(~correct)[0][:N_EXAMPLES]]
    return [
        {
            "path": prepared.dataset.samples["path"].iat[rows[i]],
            "label": int(labels[i]),
            "p_positive": round(float(probs[i, 1]), 4),
            "correct": bool(correct[i]),
            "o": [round(float(w), 5) for w in o[i]],
        }
        for i in picked
    ]


def build_result(config, prepared: Prepared, outcome: TrainOutcome, test: dict, val: dict, device, total_s: float) -> dict:
    ds = prepared.dataset
    labels = prepared.data.labels
    timing = dict(ds.meta.get("timing", {}))
    # total_s counts the epochs trained before a resume too, so that it is never below train_s.
    timing |= {"train_s": outcome.seconds, "train_images_per_s": outcome.images_per_s,
               "total_s": total_s + outcome.resumed_seconds, "resumed_train_s": outcome.resumed_seconds}
    if timing.get("extract_s"):
        timing["extract_images_per_s"] = timing["extract_images"] / timing["extract_s"]
    metrics = {
        "test_accuracy": test["accuracy"],
        "test_balanced_accuracy": test["balanced_accuracy"],
        "val_accuracy": val.get("accuracy"),
        "val_balanced_accuracy": val.get("balanced_accuracy"),
        "test": test,
        "attention_in_region": test.get("attention_in_region"),
        "pointing_game": test.get("pointing_game"),
        "region_share": test.get("region_share"),
    }
    if "detector" in ds.meta:
        metrics["detector"] = ds.meta["detector"]
    return {
        "run_id": config.run_id,
        "variant": config.variant,
        "purpose": VARIANTS[config.variant].purpose,
        "config": config.to_dict(),
        "config_fingerprint": config.fingerprint(),
        "dataset": {
            "name": ds.name,
            "root": str(ds.root),
            "fingerprint": ds.fingerprint(),
            **{f"n_{s}": int(len(prepared.data.rows[s])) for s in SPLIT_NAMES},
            "class_balance": {
                s: {"negative": int((labels[r] == 0).sum()), "positive": int((labels[r] == 1).sum())}
                for s, r in prepared.data.rows.items()
            },
            "n_attributes": int(ds.samples["attribute"].nunique()),
            "report": ds.report.to_dict(),
            "meta": {k: v for k, v in ds.meta.items() if k not in ("timing", "detector")},
        },
        "backbone": {"weights": prepared.weights.describe(), "transform": prepared.weights.transform.describe(),
                     "cache": str(prepared.cache.root)},
        "embeddings": prepared.vectors.describe() if prepared.vectors else None,
        "training": {
            "epochs": outcome.epochs, "best_epoch": outcome.best_epoch, "stopped": outcome.stopped,
            "history": outcome.history,
        },
        "metrics": metrics,
        "timing": timing,
        "env": env_info(str(device)),
    }


def evaluate_checkpoint(path: str | Path, split: str = "test", progress: bool = True) -> dict:
    """Metrics of the best state in a checkpoint written by ``fit``, on the config's own data."""
    from visent.train import load_checkpoint

    state = load_checkpoint(path)
    config = RunConfig.from_dict(state["config"])
    device = resolve_device(config.device)
    prepared = prepare(config, device, progress)
    word_dim = prepared.vectors.dim if prepared.vectors else 50
    model = build_model(config.variant, word_dim=word_dim, hidden_dim=config.hidden_dim)
    model.load_state_dict(state["best_state"])
    model.to(device)
    metrics = evaluate_split(model, prepared, split, device, config.amp).metrics
    return {"run_id": config.run_id, "split": split, "best_epoch": state["best_epoch"], **metrics}
