"""Specification of visent.data.augment: the paper's six augmentations, deterministic per (k, seed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from visent.data.augment import (
    AUGMENTATIONS,
    augment_box,
    augment_image,
    expand_to_min_per_attribute,
    plan,
    transform_boxes,
)
from visent.data.table import make_samples


@pytest.fixture
def photo(photos) -> Image.Image:
    return Image.fromarray(photos["astronaut"]).resize((96, 64))


def test_the_augmentation_list_is_the_papers_six_operations():
    assert AUGMENTATIONS == (
        "horizontal_flip",
        "vertical_flip",
        "gaussian_noise",
        "intensity_change",
        "random_crop",
        "random_scale",
    )


def test_indices_one_to_six_apply_each_operation_once_and_later_ones_compose_two():
    assert [[op.name for op in plan(k, seed=0)] for k in range(1, 7)] == [[name] for name in AUGMENTATIONS]
    later = [op.name for op in plan(8, seed=0)]
    assert len(later) == 2 and later[0] == "vertical_flip" and later[1] != "vertical_flip"
    assert plan(0, seed=0) == ()


@pytest.mark.parametrize("k", range(1, 7), ids=AUGMENTATIONS)
def test_each_operation_changes_the_image(photo, k):
    augmented = augment_image(photo, k, seed=0)

    same_size = augmented.size == photo.size
    assert not same_size or not np.array_equal(np.asarray(augmented), np.asarray(photo))
    assert augmented.mode == "RGB"


def test_flips_mirror_the_pixels_exactly(photo):
    pixels = np.asarray(photo)

    assert np.array_equal(np.asarray(augment_image(photo, 1, seed=0)), pixels[:, ::-1])
    assert np.array_equal(np.asarray(augment_image(photo, 2, seed=0)), pixels[::-1])


def test_augmentation_is_deterministic_for_k_and_seed_and_varies_with_the_seed(photo):
    for k in (3, 4, 5, 6, 9):
        same = np.asarray(augment_image(photo, k, seed=11))
        assert np.array_equal(same, np.asarray(augment_image(photo, k, seed=11)))
        other = np.asarray(augment_image(photo, k, seed=12))
        assert same.shape != other.shape or not np.array_equal(same, other)


def test_index_zero_returns_an_unchanged_copy_and_negative_indices_are_rejected(photo):
    copy = augment_image(photo, 0, seed=0)

    assert copy is not photo and np.array_equal(np.asarray(copy), np.asarray(photo))
    with pytest.raises(ValueError, match="augment index must be >= 0"):
        augment_image(photo, -1, seed=0)


def test_boxes_follow_flips():
    box = (0.1, 0.2, 0.4, 0.5)

    assert augment_box(box, 1, seed=0) == pytest.approx((0.6, 0.2, 0.9, 0.5))
    assert augment_box(box, 2, seed=0) == pytest.approx((0.1, 0.5, 0.4, 0.8))
    assert augment_box(box, 3, seed=0) == pytest.approx(box)


def test_box_follows_the_crop_onto_the_cropped_image(photo):
    (crop,) = plan(5, seed=4)
    p = crop.params
    inside = (p["left"] + 0.1 * (p["right"] - p["left"]), p["top"], p["right"], p["bottom"])

    assert augment_box(inside, 5, seed=4) == pytest.approx((0.1, 0.0, 1.0, 1.0))
    cropped = augment_image(photo, 5, seed=4)
    assert cropped.size == (
        round(p["right"] * 96) - round(p["left"] * 96),
        round(p["bottom"] * 64) - round(p["top"] * 64),
    )


def test_box_follows_the_zoom_about_the_centre():
    (scale,) = plan(6, seed=0)
    factor = scale.params["factor"]

    x0, y0, x1, y1 = augment_box((0.4, 0.4, 0.6, 0.6), 6, seed=0)

    assert x1 - x0 == pytest.approx(0.2 * factor)
    assert (x0 + x1) / 2 == pytest.approx(0.5)


def test_box_cropped_away_becomes_unknown_and_unknown_boxes_stay_unknown():
    crop = plan(5, seed=4)
    left = crop[0].params["left"]
    assert left > 0.01  # seed chosen so a sliver left of the crop exists

    moved = transform_boxes(np.array([[0.0, 0.0, left / 2, 1.0], [np.nan] * 4]), crop)

    assert np.isnan(moved).all()


def _table(counts: dict[str, int]):
    return make_samples(
        {"path": f"{a}/{i}.jpg", "label": 1, "attribute": a, "x0": 0.1, "y0": 0.2, "x1": 0.4, "y1": 0.5}
        for a, n in counts.items()
        for i in range(n)
    )


def test_expansion_adds_augmented_rows_until_each_attribute_reaches_the_minimum():
    samples = _table({"sunny": 3, "gloomy": 12})

    expanded, counts = expand_to_min_per_attribute(samples, min_per_attribute=10, seed=0)

    assert counts["before"] == {"gloomy": 12, "sunny": 3}
    assert counts["after"] == {"gloomy": 12, "sunny": 10}
    assert counts["added"] == 7
    added = expanded.iloc[len(samples) :]
    assert set(added["attribute"]) == {"sunny"}
    assert sorted(added.groupby("path")["augment"].max().tolist()) == [2, 2, 3]
    assert expanded.iloc[: len(samples)].equals(samples)
    assert expanded.dtypes.equals(samples.dtypes)


def test_expanded_rows_carry_the_box_of_their_augmentation():
    expanded, _ = expand_to_min_per_attribute(_table({"sunny": 1}), min_per_attribute=3, seed=5)

    for _, row in expanded.iloc[1:].iterrows():
        expected = augment_box((0.1, 0.2, 0.4, 0.5), int(row["augment"]), seed=5)
        assert row[["x0", "y0", "x1", "y1"]].tolist() == pytest.approx(expected, nan_ok=True)


def test_expansion_is_deterministic_and_continues_after_existing_augmentations():
    samples = _table({"sunny": 2})
    once, _ = expand_to_min_per_attribute(samples, min_per_attribute=4, seed=1)

    again, _ = expand_to_min_per_attribute(once, min_per_attribute=6, seed=1)

    assert once.equals(expand_to_min_per_attribute(samples, min_per_attribute=4, seed=1)[0])
    assert sorted(again["augment"].tolist()) == [0, 0, 1, 1, 2, 2]


def test_rows_without_attribute_are_left_alone():
    samples = make_samples([{"path": "a.jpg", "label": 0}])

    expanded, counts = expand_to_min_per_attribute(samples, min_per_attribute=5)

    assert len(expanded) == 1 and counts["added"] == 0
    assert math.isnan(expanded["x0"].iloc[0])
