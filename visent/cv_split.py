"""Which images a cross-validation run trains, validates and tests on: the published folds of
``--folds``, a layout's own partitions (Twitter II), or visent's stratified k-fold. Below the
pipeline, which splits by fold with it; :mod:`visent.cv` runs the folds."""

from __future__ import annotations

import numpy as np

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
