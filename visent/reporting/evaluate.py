"""Metrics: accuracy, balanced accuracy, confusion, per-adjective accuracy, and localisation.

Localisation compares the attention weights ``o`` on the conv5_3 grid (14 x 14 at 224 px) with a
known emotional-region box ``(x0, y0, x1, y1)`` given relative to the image (the backbone resizes
the whole image to a square without cropping, so relative coordinates map linearly onto the grid):

- ``attention_in_region``: the attention mass on the grid cells whose centre lies in the box (the
  cell holding the box centre when the box is smaller than a cell). Uniform attention scores the
  box's share of cells: the chance level, reported beside it.
- ``pointing_game``: a hit when the cell of maximal attention overlaps the box (Zhang et al. 2016,
  at the resolution of the grid). Undefined for uniform attention, so reported as ``None`` there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visent.data.table import CLASS_NAMES


@dataclass
class Evaluation:
    """Metrics of one split, with the class probabilities ``(n, C)`` and attention ``(n, N)`` behind them."""

    metrics: dict
    probs: np.ndarray
    o: np.ndarray | None


def grid_side(n_regions: int) -> int:
    """The side of the square grid of ``n_regions`` cells (196 -> 14, 784 -> 28); images are
    resized to a square, so their conv5_3 grids are square."""
    side = round(n_regions**0.5)
    if side * side != n_regions:
        raise ValueError(f"{n_regions} regions do not form a square grid; expected side x side cells (196 = 14 x 14)")
    return side


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 2) -> np.ndarray:
    """``C[t, p]`` = number of samples of true class ``t`` predicted as ``p``."""
    C = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(C, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return C


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 2) -> float:
    """Mean per-class recall over the classes present in ``y_true``."""
    C = confusion(y_true, y_pred, num_classes)
    support = C.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(C)[present] / support[present]))


def per_group_accuracy(groups: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, dict]:
    """Accuracy and count per group (e.g. per adjective), sorted by group name."""
    groups = np.asarray(groups, dtype=object)
    hits = np.asarray(y_true) == np.asarray(y_pred)
    return {
        str(g): {"accuracy": float(hits[groups == g].mean()), "n": int((groups == g).sum())}
        for g in sorted(set(groups.tolist()), key=str)
    }


def _cell_masks(boxes: np.ndarray, n_regions: int) -> np.ndarray:
    """``(N, n_regions)`` bool: cells whose centre lies in each box, or the centre cell of tiny boxes."""
    side = grid_side(n_regions)
    centres = (np.arange(side) + 0.5) / side
    cy, cx = np.meshgrid(centres, centres, indexing="ij")  # row-major, region i = (i // side, i % side)
    cx, cy = cx.ravel()[None], cy.ravel()[None]  # (1, n_regions)
    x0, y0, x1, y1 = (boxes[:, k : k + 1] for k in range(4))
    mask = (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1)
    empty = ~mask.any(axis=1)
    if empty.any():
        mid_r = np.clip(((y0 + y1) / 2 * side).astype(int), 0, side - 1)[:, 0]
        mid_c = np.clip(((x0 + x1) / 2 * side).astype(int), 0, side - 1)[:, 0]
        mask[np.nonzero(empty)[0], (mid_r * side + mid_c)[empty]] = True
    return mask


def attention_in_region(o: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Per image, the share of attention ``o`` ``(N, n_regions)`` that falls inside its box ``(N, 4)``."""
    o = np.asarray(o)
    return (o * _cell_masks(np.asarray(boxes), o.shape[1])).sum(axis=1)


def region_share(boxes: np.ndarray, n_regions: int) -> np.ndarray:
    """Per image, the share of the grid's cells inside its box: what uniform attention scores."""
    return _cell_masks(np.asarray(boxes), n_regions).mean(axis=1)


def pointing_hits(o: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Per image, whether the cell of maximal attention overlaps its box."""
    o, boxes = np.asarray(o), np.asarray(boxes)
    side = grid_side(o.shape[1])
    best = o.argmax(axis=1)
    r, c = best // side, best % side
    x0, y0, x1, y1 = boxes.T
    return (c / side < x1) & ((c + 1) / side > x0) & (r / side < y1) & ((r + 1) / side > y0)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, attributes: np.ndarray | None = None) -> dict:
    """The classification block of a result file's ``metrics``."""
    C = confusion(y_true, y_pred, len(CLASS_NAMES))
    support = C.sum(axis=1)
    out = {
        "accuracy": accuracy(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred, len(CLASS_NAMES)),
        "confusion": C.tolist(),
        "per_class_recall": {
            name: (float(C[k, k] / support[k]) if support[k] else None) for k, name in sorted(CLASS_NAMES.items())
        },
        "n": int(len(y_true)),
    }
    if attributes is not None:
        out["per_attribute"] = per_group_accuracy(attributes, y_true, y_pred)
    return out


def localisation_metrics(o: np.ndarray | None, boxes: np.ndarray, n_regions: int) -> dict:
    """``attention_in_region`` and ``pointing_game`` over images with a known box (NaN rows
    skipped), on a grid of ``n_regions`` cells (the attention's width when there is attention)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    known = ~np.isnan(boxes).any(axis=1)
    if not known.any():
        return {}
    out: dict[str, float | None] = {
        "n_with_region": int(known.sum()),
        "region_share": float(region_share(boxes[known], n_regions).mean()),
    }
    if o is None:
        out |= {"attention_in_region": None, "pointing_game": None}
        return out
    o = np.asarray(o)[known]
    uniform = np.allclose(o, 1.0 / o.shape[1])
    out["attention_in_region"] = float(attention_in_region(o, boxes[known]).mean())
    out["pointing_game"] = None if uniform else float(pointing_hits(o, boxes[known]).mean())
    return out
