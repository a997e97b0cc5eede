"""The result record of one run: what a result file holds (``REQUIRED_KEYS`` and the rest)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from visent import precision
from visent.backbone import get_backbone
from visent.data.table import SPLIT_NAMES
from visent.model import VARIANTS
from visent.reporting.results import env_info

if TYPE_CHECKING:
    from visent.config import RunConfig
    from visent.reporting.evaluate import Evaluation
    from visent.training.train import Prepared, TrainOutcome

import numpy as np

#: Test images whose attention a result file keeps, per outcome (for the figures of the book).
N_EXAMPLES = 4
#: Test images, the first in path order, whose attention a result file keeps whatever the outcome:
#: the same photographs for every model of a fold, so that figures can set their attention side by side.
N_PANEL = 8


def attention_examples(prepared: Prepared, test: Evaluation) -> list[dict[str, Any]]:
    """The first ``N_EXAMPLES`` correct and wrong test predictions with their attention ``o``."""
    if test.o is None:
        return []
    labels = prepared.data.labels[prepared.data.rows["test"]]
    correct = test.probs.argmax(1) == labels
    return _attention_of(prepared, test, [*np.nonzero(correct)[0][:N_EXAMPLES], *np.nonzero(~correct)[0][:N_EXAMPLES]])


def attention_panel(prepared: Prepared, test: Evaluation) -> list[dict[str, Any]]:
    """The first ``N_PANEL`` test images in path order with their attention ``o``, right or wrong."""
    if test.o is None:
        return []
    paths = prepared.dataset.samples["path"].to_numpy()[prepared.data.rows["test"]]
    return _attention_of(prepared, test, list(np.argsort(paths, kind="stable")[:N_PANEL]))


def _attention_of(prepared: Prepared, test: Evaluation, picked: list[int]) -> list[dict[str, Any]]:
    """Test positions ``picked`` as records: path, label, p(positive), whether right, attention."""
    rows, probs, o = prepared.data.rows["test"], test.probs, test.o
    assert o is not None  # callers return early without attention
    labels = prepared.data.labels[rows]
    correct = probs.argmax(1) == labels
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


def per_image_predictions(prepared: Prepared, test: Evaluation) -> dict[str, list]:
    """Every test image's path, label and p(positive), in test-row order: what paired tests over
    images (McNemar, a paired bootstrap) and per-image reports read."""
    rows = prepared.data.rows["test"]
    return {
        "path": prepared.dataset.samples["path"].iloc[rows].tolist(),
        "label": [int(y) for y in prepared.data.labels[rows]],
        "p_positive": [round(float(p), 5) for p in test.probs[:, 1]],
    }


def build_result(
    config: RunConfig, prepared: Prepared, outcome: TrainOutcome, test: dict, val: dict, device: str, total_s: float
) -> dict[str, Any]:
    """The result file of one run (its keys: ``REQUIRED_KEYS`` and more; see the data chapter)."""
    ds = prepared.dataset
    labels = prepared.data.labels
    timing = dict(ds.meta.get("timing", {}))
    # total_s counts the epochs trained before a resume too, so that it is never below train_s.
    timing |= {
        "train_s": outcome.seconds,
        "train_images_per_s": outcome.images_per_s,
        "total_s": total_s + outcome.resumed_seconds,
        "resumed_train_s": outcome.resumed_seconds,
    }
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
        "backbone": {
            "weights": prepared.weights.describe(),
            "transform": prepared.weights.transform.describe(),
            "cache": str(prepared.cache.root),
            # frozen: the head reads the regions' layer (conv5_3); fine-tuned: the cache holds the layer
            # before the trained block (pool4, and VGG-16's block 5 trains)
            "cached_layer": get_backbone(config.backbone).finetune[config.finetune],
            "trained_block": None if config.finetune == "none" else config.finetune,
        },
        "embeddings": prepared.vectors.describe() if prepared.vectors else None,
        "training": {
            "precision": precision.name(config.amp, torch.device(device)),  # extraction's too: one decision
            "epochs": outcome.epochs,
            "best_epoch": outcome.best_epoch,
            "stopped": outcome.stopped,
            "history": outcome.history,
        },
        "metrics": metrics,
        "timing": timing,
        "env": env_info(str(device)),
    }
