"""The paper's data augmentation, made deterministic so augmented rows need no files.

The paper lists six operations: horizontal flip, vertical flip, Gaussian noise, intensity
change, random crop and random scale (:data:`AUGMENTATIONS`). A table row with
``augment = k > 0`` stands for "the file, augmented the k-th way": :func:`plan` turns
``(k, seed)`` into concrete operations, so the image can be re-created at extraction time
and nothing is written to disk.

- ``k = 1 .. 6`` apply the six operations singly, in the order above;
- ``k > 6`` apply operation ``(k - 1) mod 6`` followed by a second, different one drawn
  from the seeded generator, so later rounds are not copies of the first.

Parameters depend on ``(k, seed)`` only: every image's k-th augmentation uses the same
operations, as when a fixed augmentation list is applied to a whole collection.

Region boxes (fractions of the image side) follow the geometric operations: flips
mirror them, crop and scale move and clip them to the new frame. A box cropped away
entirely becomes NaN (unknown).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageEnhance, ImageOps

AUGMENTATIONS: tuple[str, ...] = (
    "horizontal_flip",
    "vertical_flip",
    "gaussian_noise",
    "intensity_change",
    "random_crop",
    "random_scale",
)

#: Ranges of the random parameters. Each is bounded away from the identity, so that every
#: augmentation changes the image.
NOISE_SIGMA = (5.0, 20.0)  # grey levels of 0..255
INTENSITY_CHANGE = (0.1, 0.3)  # |brightness factor - 1|
CROP_SIDE = (0.7, 0.9)  # kept fraction of each side
SCALE_CHANGE = (1.1, 1.25)  # zoom factor, in or out


@dataclass(frozen=True)
class Operation:
    """One augmentation step: a name from :data:`AUGMENTATIONS` and its drawn parameters."""

    name: str
    params: dict[str, float] = field(default_factory=dict)


def plan(k: int, seed: int) -> tuple[Operation, ...]:
    """The operations of the k-th augmentation (none for ``k = 0``, the original)."""
    if k < 0:
        raise ValueError(f"augment index must be >= 0 (0 = the original file), got {k}")
    if k == 0:
        return ()
    rng = np.random.default_rng([seed, k])
    primary = AUGMENTATIONS[(k - 1) % len(AUGMENTATIONS)]
    names = [primary]
    if k > len(AUGMENTATIONS):
        names.append(str(rng.choice([n for n in AUGMENTATIONS if n != primary])))
    return tuple(Operation(name, _draw(name, rng)) for name in names)


def _draw(name: str, rng: np.random.Generator) -> dict[str, float]:
    """Random parameters for operation ``name``."""
    if name == "gaussian_noise":
        return {"sigma": rng.uniform(*NOISE_SIGMA), "noise_seed": float(rng.integers(2**31))}
    if name == "intensity_change":
        return {"factor": 1.0 + float(rng.choice([-1.0, 1.0])) * rng.uniform(*INTENSITY_CHANGE)}
    if name == "random_crop":
        side = rng.uniform(*CROP_SIDE)
        left, top = (float(v) for v in rng.uniform(0.0, 1.0 - side, size=2))
        return {"left": left, "top": top, "right": left + side, "bottom": top + side}
    if name == "random_scale":
        zoom = rng.uniform(*SCALE_CHANGE)
        return {"factor": zoom if rng.random() < 0.5 else 1.0 / zoom}
    return {}


def augment_image(img: Image.Image, k: int, seed: int) -> Image.Image:
    """The k-th augmentation of ``img`` (an RGB image); ``k = 0`` returns a copy."""
    result = img.copy()
    for op in plan(k, seed):
        result = _apply(result, op)
    return result


def _apply(img: Image.Image, op: Operation) -> Image.Image:
    """Apply one operation to an RGB image."""
    p = op.params
    width, height = img.size
    if op.name == "horizontal_flip":
        return ImageOps.mirror(img)
    if op.name == "vertical_flip":
        return ImageOps.flip(img)
    if op.name == "gaussian_noise":
        pixels = np.asarray(img, dtype=np.float64)
        noise = np.random.default_rng(int(p["noise_seed"])).normal(0.0, p["sigma"], pixels.shape)
        return Image.fromarray(np.clip(np.round(pixels + noise), 0, 255).astype(np.uint8))
    if op.name == "intensity_change":
        return ImageEnhance.Brightness(img).enhance(p["factor"])
    if op.name == "random_crop":
        return img.crop(
            (round(p["left"] * width), round(p["top"] * height), round(p["right"] * width), round(p["bottom"] * height))
        )
    if op.name == "random_scale":
        # Zoom about the centre on a fixed canvas: a plain resize would be undone by the
        # backbone's resize to 224 x 224. Zooming out exposes a border, filled with the
        # image's mean colour rather than black so it adds no strong edge.
        inverse = 1.0 / p["factor"]
        centre_x, centre_y = width / 2.0, height / 2.0
        affine = (inverse, 0.0, centre_x * (1 - inverse), 0.0, inverse, centre_y * (1 - inverse))
        fill = tuple(int(v) for v in np.asarray(img).reshape(-1, 3).mean(axis=0).round())
        return img.transform(img.size, Image.Transform.AFFINE, affine, Image.Resampling.BILINEAR, fillcolor=fill)
    raise ValueError(f"unknown augmentation {op.name!r}; valid: {', '.join(AUGMENTATIONS)}")


def transform_boxes(boxes: np.ndarray, ops: tuple[Operation, ...]) -> np.ndarray:
    """Map region boxes ``(n, 4)`` of ``x0, y0, x1, y1`` fractions through ``ops``.

    NaN boxes stay NaN; a box left empty by a crop or zoom becomes NaN.
    """
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)  # (n, 4)
    for op in ops:
        x0, y0, x1, y1 = boxes.T
        p = op.params
        if op.name == "horizontal_flip":
            boxes = np.stack([1 - x1, y0, 1 - x0, y1], axis=1)
        elif op.name == "vertical_flip":
            boxes = np.stack([x0, 1 - y1, x1, 1 - y0], axis=1)
        elif op.name == "random_crop":
            span_x, span_y = p["right"] - p["left"], p["bottom"] - p["top"]
            boxes = np.stack(
                [
                    (x0 - p["left"]) / span_x,
                    (y0 - p["top"]) / span_y,
                    (x1 - p["left"]) / span_x,
                    (y1 - p["top"]) / span_y,
                ],
                axis=1,
            )
        elif op.name == "random_scale":
            boxes = (boxes - 0.5) * p["factor"] + 0.5
        boxes = np.clip(boxes, 0.0, 1.0)
        empty = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
        boxes[empty] = np.nan
    return boxes


def augment_box(box: tuple[float, float, float, float], k: int, seed: int) -> tuple[float, float, float, float]:
    """The region box of the k-th augmentation, matching :func:`augment_image`."""
    x0, y0, x1, y1 = transform_boxes(np.asarray([box]), plan(k, seed))[0]
    return float(x0), float(y0), float(x1), float(y1)


def expand_to_min_per_attribute(
    samples: pd.DataFrame, min_per_attribute: int = 700, seed: int = 0
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Add augmented rows until every attribute has at least ``min_per_attribute`` rows.

    For an attribute short of the minimum, its original rows (``augment == 0``) are
    visited in a seeded random order, round after round, each visit adding a copy with the
    image's next unused augment index and the box transformed accordingly. Rows without an
    attribute are left alone. Apply this to training rows only. No file is written.

    Returns:
        The table (all original rows, then the added ones; fresh index) and
        ``{"min_per_attribute", "seed", "added", "before", "after"}`` where ``before`` and
        ``after`` map each attribute to its row count.
    """
    if min_per_attribute < 1:
        raise ValueError(f"min_per_attribute must be >= 1, got {min_per_attribute}")
    rng = np.random.default_rng(seed)
    before = samples["attribute"].dropna().value_counts().sort_index()
    next_k = (samples.groupby("path")["augment"].max() + 1).to_dict()
    sources, ks = [], []
    for attribute, count in before.items():
        shortfall = min_per_attribute - int(count)
        originals = np.flatnonzero(
            (samples["attribute"] == attribute).to_numpy() & (samples["augment"] == 0).to_numpy()
        )
        if shortfall <= 0 or len(originals) == 0:
            continue
        order = rng.permutation(originals)
        for j in range(shortfall):
            position = int(order[j % len(order)])
            path = samples["path"].iat[position]
            sources.append(position)
            ks.append(next_k[path])
            next_k[path] += 1
    added = samples.iloc[sources].copy()
    added["augment"] = np.asarray(ks, dtype=np.int16)
    _move_boxes(added, seed)
    table = pd.concat([samples, added], ignore_index=True).astype(samples.dtypes.to_dict())
    after = table["attribute"].dropna().value_counts().sort_index()
    counts = {
        "min_per_attribute": min_per_attribute,
        "seed": seed,
        "added": len(added),
        "before": {str(a): int(n) for a, n in before.items()},
        "after": {str(a): int(n) for a, n in after.items()},
    }
    return table, counts


def _move_boxes(rows: pd.DataFrame, seed: int) -> None:
    """Transform the known boxes of augmented ``rows`` in place, one plan per augment index."""
    columns = ["x0", "y0", "x1", "y1"]
    boxes = rows[columns].to_numpy(dtype=np.float64, copy=True)  # (n, 4)
    positions_of_k: dict[int, list[int]] = defaultdict(list)
    for position, k in enumerate(rows["augment"]):
        positions_of_k[int(k)].append(position)
    for k, positions in positions_of_k.items():
        boxes[positions] = transform_boxes(boxes[positions], plan(k, seed))
    for j, column in enumerate(columns):
        rows[column] = boxes[:, j].astype(np.float32)
