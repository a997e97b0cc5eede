"""Cross-validation: a run per fold and seed, and the summary over folds (each fold's split:
:mod:`visent.cv_split`)."""

from __future__ import annotations

import numpy as np

from visent import distributed, pipeline
from visent.config import RunConfig
from visent.cv_split import published_folds
from visent.data.layouts import LAYOUTS
from visent.reporting.results import env_info, write_result

#: Folds of visent's own stratified cross-validation when none are given (the Twitter protocol).
DEFAULT_FOLDS = 5


def fold_count(config: RunConfig) -> int:
    """How many folds ``config``'s cross-validation has: the published folds' or the layout's partitions',
    else ``cv_folds`` (``DEFAULT_FOLDS`` when that is 0)."""
    if config.folds:
        return len(published_folds(config))
    if LAYOUTS[config.dataset].fold_column:
        return int(pipeline.index_dataset(config).samples[LAYOUTS[config.dataset].fold_column].nunique())
    return config.cv_folds or DEFAULT_FOLDS


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
