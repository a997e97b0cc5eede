"""Cross-validation: fold splits (published folds, or visent's stratified k-fold), a run per fold
and seed, and the summary over folds."""

from __future__ import annotations

import numpy as np

from visent import distributed
from visent.config import RunConfig
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
from visent.data.layouts import LAYOUTS
from visent.data.table import Dataset
from visent.reporting.results import env_info, write_result


def published_folds(config: RunConfig) -> PublishedFolds:
    """The published folds named by ``config.folds`` (the Twitter subset's, in a per-subset folder)."""
    key = LAYOUTS[config.dataset].run_name_key  # a layout of subsets (Twitter) has folds per subset
    subset = getattr(config, key) if key else None
    return read_folds(folds_folder(config.folds, subset))


def layout_partitions(config: RunConfig, dataset: Dataset) -> np.ndarray:
    """``"train"``/``"test"`` per row from the layout's own published partitions (its ``fold_column``,
    numbered 1..K): partition ``cv_fold + 1`` is the test set."""
    column = LAYOUTS[config.dataset].fold_column
    partition = dataset.samples[column].to_numpy()
    k = len(np.unique(partition))
    if config.cv_folds != k:
        raise ValueError(
            f"{dataset.root} holds {k} published partitions, and cross-validation on the {config.dataset} layout "
            f"uses them: drop --cv-folds {config.cv_folds} (or give --cv-folds {k})"
        )
    dataset.meta["folds"] = {
        "path": str(dataset.root),
        "k": k,
        "fold": config.cv_fold,
        "scheme": f"published partitions ({column} 1..{k})",
    }
    return np.where(partition == config.cv_fold + 1, "test", "train").astype(object)


#: Folds of visent's own stratified cross-validation when none are given (the Twitter protocol).
DEFAULT_FOLDS = 5


def fold_count(config: RunConfig) -> int:
    """How many folds ``config``'s cross-validation has: the published folds' or the layout's partitions',
    else ``cv_folds`` (``DEFAULT_FOLDS`` when that is 0)."""
    if config.folds:
        return len(published_folds(config))
    if LAYOUTS[config.dataset].fold_column:
        from visent.pipeline import index_dataset  # the partitions are read from the dataset itself

        return int(index_dataset(config).samples[LAYOUTS[config.dataset].fold_column].nunique())
    return config.cv_folds or DEFAULT_FOLDS


def fold_split(config: RunConfig, dataset: Dataset) -> np.ndarray:
    """Fold ``config.cv_fold`` as test, the rest of the fold's images as train, and a stratified
    ``VAL_FRACTION`` of those as val: published folds when ``config.folds`` is set, the layout's own
    partitions where it has them (Twitter II), else visent's stratified k-fold. The fold's provenance
    goes to ``dataset.meta["folds"]``."""
    labels = dataset.samples["label"].to_numpy()
    if not config.folds and LAYOUTS[config.dataset].fold_column:
        split = layout_partitions(config, dataset)
    elif config.folds:
        folds = published_folds(config)
        if config.cv_folds and config.cv_folds != len(folds):
            raise ValueError(f"--cv-folds {config.cv_folds} but {folds.root} holds {len(folds)} folds; drop --cv-folds")
        if config.cv_fold >= len(folds):
            raise ValueError(f"--cv-fold {config.cv_fold}: {folds.root} holds folds 0 .. {len(folds) - 1}")
        split = published_split(dataset, folds, config.cv_fold)
        dataset.meta["folds"] = folds.describe() | {
            "fold": config.cv_fold,
            "unassigned": int((split == UNASSIGNED).sum()),
        }
    else:
        split = stratified_folds(labels, config.cv_folds, config.cv_fold, config.split_seed)
        dataset.meta["folds"] = {"path": None, "k": config.cv_folds, "fold": config.cv_fold, "scheme": "stratified"}
    dataset.meta["folds"]["val"] = f"stratified {VAL_FRACTION:.0%} of the fold's training images"
    return carve_validation(split, labels, config.split_seed)


def run_cv(
    config: RunConfig,
    seeds: list[int] | None = None,
    progress: bool = True,
    force: bool = False,
    log=print,
    sequential: bool | None = None,
) -> tuple[list[dict], dict]:
    """Every fold of ``config`` (``config.folds``'s published folds, else ``config.cv_folds``) for
    each of ``seeds`` (default: ``config.seed``), one result file each, trained by ``run_many``
    (a fold's seeds in one stack where that pays); returns them and their :func:`cv_summary`, also written."""
    from visent import pipeline  # the pipeline splits by fold with this module

    k = fold_count(config)
    if k < 2:
        raise ValueError("cross-validation needs --folds PATH or --cv-folds K (K >= 2)")
    configs = [
        config.replace(cv_folds=k, cv_fold=fold, seed=seed, run_id=None)
        for seed in (seeds or [config.seed])
        for fold in range(k)
    ]
    runs = pipeline.run_many(configs, force, progress, log, sequential)
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
        fold: {
            k: float(np.mean([r["metrics"][k] for r in rs if r["metrics"].get(k) is not None] or [np.nan]))
            for k in CV_METRICS
        }
        for fold, rs in sorted(by_fold.items())
    }
    metrics: dict = {}
    for k in CV_METRICS:
        values = np.array([m[k] for m in per_fold.values()])
        metrics[k] = float(np.mean(values))
        metrics[f"{k}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    metrics["folds"] = [{"fold": fold, **m} for fold, m in per_fold.items()]
    metrics["runs"] = [
        {
            "run_id": r["run_id"],
            "fold": r["config"]["cv_fold"],
            "seed": r["config"]["seed"],
            **{k: r["metrics"].get(k) for k in CV_METRICS},
        }
        for r in runs
    ]
    run_id = f"{config.run_prefix('summary')}-{config.run_label()}"
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
