"""Metrics on hand-computed cases."""

import numpy as np
import pytest

from visent.reporting.evaluate import (
    attention_in_region,
    balanced_accuracy,
    classification_metrics,
    confusion,
    grid_side,
    localisation_metrics,
    pointing_hits,
    region_share,
)


def test_balanced_accuracy_averages_per_class_recall():
    y = np.array([0, 0, 0, 0, 1, 1])
    p = np.array([0, 0, 0, 0, 0, 1])
    assert confusion(y, p).tolist() == [[4, 0], [1, 1]]
    assert balanced_accuracy(y, p) == (1.0 + 0.5) / 2


def test_classification_metrics_report_per_attribute_accuracy():
    m = classification_metrics(np.array([1, 1, 0]), np.array([1, 0, 0]), np.array(["happy", "happy", "sad"]))
    assert m["accuracy"] == 2 / 3
    assert m["per_attribute"] == {"happy": {"accuracy": 0.5, "n": 2}, "sad": {"accuracy": 1.0, "n": 1}}


def test_attention_in_region_counts_mass_on_cells_whose_centre_is_in_the_box():
    o = np.zeros((1, 196))
    o[0, 0] = 0.6  # cell (0, 0), centre (0.036, 0.036)
    o[0, 195] = 0.4  # cell (13, 13)
    box = np.array([[0.0, 0.0, 0.5, 0.5]])
    assert attention_in_region(o, box)[0] == 0.6
    assert region_share(box, 196)[0] == 49 / 196


def test_a_box_smaller_than_a_cell_still_owns_its_centre_cell():
    o = np.zeros((1, 196))
    o[0, 14 * 7 + 7] = 1.0
    box = np.array([[0.51, 0.51, 0.52, 0.52]])  # inside cell (7, 7), no cell centre inside
    assert attention_in_region(o, box)[0] == 1.0


def test_pointing_game_hits_when_the_peak_cell_overlaps_the_box():
    o = np.full((2, 196), 0.001)
    o[0, 3] = 1.0  # row 0, col 3: x in [3/14, 4/14]
    o[1, 13] = 1.0  # row 0, col 13
    boxes = np.array([[0.25, 0.0, 0.5, 0.2], [0.25, 0.0, 0.5, 0.2]])
    assert pointing_hits(o, boxes).tolist() == [True, False]


def test_uniform_attention_scores_chance_and_has_no_pointing_game():
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [np.nan] * 4])
    m = localisation_metrics(np.full((2, 196), 1 / 196), boxes, 196)
    assert m["n_with_region"] == 1
    assert abs(m["attention_in_region"] - 49 / 196) < 1e-9
    assert m["pointing_game"] is None


def test_the_grid_follows_the_number_of_regions_at_448_px():
    o = np.zeros((1, 784))  # 28 x 28
    o[0, 28 * 27 + 27] = 1.0  # the bottom-right cell
    box = np.array([[0.5, 0.5, 1.0, 1.0]])
    assert grid_side(784) == 28
    assert attention_in_region(o, box)[0] == 1.0
    assert pointing_hits(o, box).tolist() == [True]
    assert region_share(box, 784)[0] == 14 * 14 / 784


def test_a_region_count_that_is_no_square_grid_is_refused():
    with pytest.raises(ValueError, match="195 regions do not form a square grid"):
        grid_side(195)
