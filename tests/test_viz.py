"""Figures: what each one draws, checked on the figure objects (Agg backend, nothing shown)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.patches import Rectangle

from visent.reporting.viz import (
    VizError,
    attention_figure,
    attention_overlay,
    count_plots,
    example_images,
    glove_pca,
    grid_maps,
    results_bars,
    training_curves,
    upsample_attention,
)


def one_hot(region: int) -> np.ndarray:
    o = np.zeros(196)
    o[region] = 1.0
    return o


def boxes_of(ax) -> list[tuple[float, float, float, float]]:
    return [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in ax.patches if isinstance(p, Rectangle)]


IMAGE = np.full((100, 80, 3), 128, dtype=np.uint8)  # height 100, width 80


# --------------------------------------------------------------------------- upsampling


def test_upsample_keeps_a_constant_map_constant():
    up = upsample_attention(np.full(196, 1 / 196), (100, 80))
    assert up.shape == (100, 80)
    np.testing.assert_allclose(up, 1 / 196, rtol=1e-6)


def test_upsample_puts_a_single_region_over_its_own_pixel_block():
    # Region 16 is row 1, column 2 of the 14 x 14 grid: pixels 10-19 down, 20-29 across at 140 x 140.
    up = upsample_attention(one_hot(16), (140, 140))
    row, col = np.unravel_index(up.argmax(), up.shape)
    assert 10 <= row < 20 and 20 <= col < 30
    assert up[:5].max() == 0 and up[:, 40:].max() == 0  # bilinear spreads one cell at most


def test_upsample_reads_a_14x14_grid_like_the_flat_vector():
    o = np.random.default_rng(0).random(196)
    np.testing.assert_array_equal(upsample_attention(o, (28, 28)), upsample_attention(o.reshape(14, 14), (28, 28)))


def test_upsample_rejects_a_weight_count_that_is_not_a_square():
    with pytest.raises(VizError, match="195 weights.*196"):
        upsample_attention(np.ones(195), (10, 10))


def test_upsample_rejects_nan_weights():
    o = np.full(196, 1 / 196)
    o[3] = np.nan
    with pytest.raises(VizError, match="NaN"):
        upsample_attention(o, (10, 10))


# --------------------------------------------------------------------------- overlays


def test_attention_overlay_lays_the_upsampled_map_over_the_whole_image_with_its_box():
    o = np.random.default_rng(1).random(196)
    fig = attention_overlay(IMAGE, o, box=(0.25, 0.1, 0.75, 0.5), title="happy_dog")
    (ax,) = fig.axes
    picture, heat = ax.images
    assert picture.get_extent() == heat.get_extent() == [0, 80, 100, 0]
    np.testing.assert_allclose(heat.get_array(), upsample_attention(o, (100, 80)))
    assert boxes_of(ax) == [(20.0, 10.0, 40.0, 40.0)]
    assert ax.get_title() == "happy_dog"


def test_attention_overlay_draws_no_box_when_the_region_is_unknown():
    fig = attention_overlay(IMAGE, one_hot(0), box=(np.nan,) * 4)
    assert boxes_of(fig.axes[0]) == []


def test_a_box_outside_the_unit_square_is_rejected():
    with pytest.raises(VizError, match=r"box \[0.5, 0.1, 1.5, 0.5\]"):
        attention_overlay(IMAGE, one_hot(0), box=(0.5, 0.1, 1.5, 0.5))


def test_attention_figure_has_a_row_per_image_and_the_image_then_a_column_per_query():
    maps = {name: np.stack([one_hot(0), one_hot(195)]) for name in ("true", "shuffled", "predicted")}
    fig = attention_figure(
        [IMAGE, IMAGE],
        maps,
        boxes=np.array([[0.1, 0.1, 0.5, 0.5], [np.nan] * 4]),
        labels={"true": ["happy", "sad"]},
        row_titles=["positive", "negative"],
    )
    assert len(fig.axes) == 2 * 4
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "positive",
        "true: happy",
        "shuffled",
        "predicted",
        "negative",
        "true: sad",
        "shuffled",
        "predicted",
    ]
    assert [len(boxes_of(ax)) for ax in fig.axes] == [1, 1, 1, 1, 0, 0, 0, 0]


def test_attention_figure_shares_the_colour_scale_along_a_row():
    flat, peaked = np.full((1, 196), 1 / 196), one_hot(5)[None]
    fig = attention_figure([IMAGE], {"flat": flat, "peaked": peaked})
    heat_flat, heat_peaked = fig.axes[1].images[1], fig.axes[2].images[1]
    assert heat_flat.get_clim() == heat_peaked.get_clim()
    assert heat_flat.get_clim() == (0.0, 1.0)  # the largest weight of the row


def test_signed_attention_figure_centres_a_diverging_scale_on_zero_along_a_row():
    evidence = np.zeros((1, 196))
    evidence[0, 3], evidence[0, 190] = 0.5, -2.0
    fig = attention_figure([IMAGE], {"evidence": evidence, "half": evidence / 2}, signed=True)
    heat, half = fig.axes[1].images[1], fig.axes[2].images[1]
    assert heat.get_clim() == half.get_clim() == (-2.0, 2.0)  # the largest |value| of the row
    assert heat.get_cmap().name == "RdBu_r"


def test_attention_figure_saves_a_png_into_new_folders(tmp_path):
    path = tmp_path / "figures" / "fig1.png"
    attention_figure([IMAGE], {"true": one_hot(3)[None]}, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_attention_figure_names_the_map_that_has_the_wrong_number_of_rows():
    with pytest.raises(VizError, match=r"maps\['shuffled'\] has 1 rows for 2 images"):
        attention_figure([IMAGE, IMAGE], {"true": np.stack([one_hot(0)] * 2), "shuffled": one_hot(0)[None]})


def test_attention_figure_rejects_labels_for_a_query_it_does_not_draw():
    with pytest.raises(VizError, match="predicted"):
        attention_figure([IMAGE], {"true": one_hot(0)[None]}, labels={"predicted": ["x"]})


def test_grid_maps_draws_maps_at_grid_resolution_with_the_box_scaled_to_the_grid():
    fig = grid_maps({"s": np.arange(196.0), "o": one_hot(7)}, image=IMAGE, box=(0.5, 0.0, 1.0, 0.5))
    image_ax, s_ax, o_ax = fig.axes[:3]
    assert len(fig.axes) == 3 + 2  # one colour bar per map
    assert s_ax.images[0].get_extent() == [0, 14, 14, 0]
    np.testing.assert_array_equal(s_ax.images[0].get_array(), np.arange(196.0).reshape(14, 14))
    assert boxes_of(s_ax) == [(7.0, 0.0, 7.0, 7.0)]
    assert boxes_of(image_ax) == [(40.0, 0.0, 40.0, 50.0)]
    assert [s_ax.get_title(), o_ax.get_title()] == ["s", "o"]


def test_example_images_removes_the_unused_panels_of_the_last_row():
    fig = example_images([IMAGE] * 5, titles=list("abcde"), ncols=4)
    assert [ax.get_title() for ax in fig.axes] == list("abcde")


# --------------------------------------------------------------------------- the data


SAMPLES = pd.DataFrame(
    {
        "label": np.array([1, 1, 1, 0, 0, 0], dtype=np.int8),
        "attribute": ["happy", "happy", "cute", "sad", "sad", "dark"],
        "noun": ["dog", "dog", "cat", "dog", "cat", "cat"],
        "split": ["train", "train", "test", "train", "val", "test"],
    }
)


def test_count_plots_counts_samples_per_adjective_and_noun_positive_adjectives_first():
    fig = count_plots(SAMPLES)
    anp_ax = fig.axes[0]
    (mesh,) = [c for c in anp_ax.collections if isinstance(c, QuadMesh)]
    # rows: cute, happy (positive, alphabetical), then dark, sad; columns: cat, dog
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(4, 2), [[1, 0], [0, 2], [1, 0], [1, 1]])
    assert [t.get_text() for t in anp_ax.get_yticklabels()] == ["cute", "happy", "dark", "sad"]
    assert anp_ax.get_title() == "samples per ANP (5 ANPs)"


def test_count_plots_shows_the_class_balance_of_each_split():
    balance_ax = count_plots(SAMPLES).axes[1]
    positive, negative = balance_ax.containers
    assert [b.get_height() for b in positive] == [2, 0, 1]  # train, val, test
    assert [b.get_height() for b in negative] == [1, 1, 1]


def test_count_plots_without_adjectives_shows_only_the_class_balance():
    fig = count_plots(SAMPLES.assign(attribute=None, noun=None))
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "class balance"


def test_glove_pca_puts_words_on_a_line_onto_the_first_component():
    t = np.array([-2.0, -1.0, 1.0, 2.0])
    direction = np.zeros(50)
    direction[3] = 1.0
    fig = glove_pca(["a", "b", "c", "d"], 5 + t[:, None] * direction, [1, 1, 0, 0])
    ax = fig.axes[0]
    points = np.concatenate([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])
    np.testing.assert_allclose(points[:, 0] * np.sign(points[0, 0]), [2, 1, -1, -2], atol=1e-9)
    np.testing.assert_allclose(points[:, 1], 0, atol=1e-9)
    assert ax.get_xlabel() == "PC1 (100% of variance)"
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c", "d"]


def test_glove_pca_needs_matching_words_and_vectors():
    with pytest.raises(VizError, match="n words"):
        glove_pca(["a", "b", "c"], np.zeros((4, 50)), [1, 0, 1])


# --------------------------------------------------------------------------- training, results


HISTORY = [
    {"epoch": 1, "train_loss": 0.7, "val_loss": 0.6, "val_accuracy": 0.6},
    {"epoch": 2, "train_loss": 0.5, "val_loss": 0.4, "val_accuracy": 0.8},
    {"epoch": 3, "train_loss": 0.4, "val_loss": 0.45, "val_accuracy": 0.7},
]


def test_training_curves_plot_both_losses_and_the_val_accuracy_per_epoch():
    loss_ax, acc_ax = training_curves(HISTORY).axes
    train, val = loss_ax.lines
    assert list(train.get_xdata()) == [1, 2, 3]
    assert list(val.get_ydata()) == [0.6, 0.4, 0.45]
    assert list(acc_ax.lines[0].get_ydata()) == [0.6, 0.8, 0.7]


def test_training_curves_mark_the_best_epoch_and_the_early_stop():
    fig = training_curves(HISTORY, best_epoch=2, stopped="early-stopping")
    for ax in fig.axes:
        verticals = {line.get_label(): line.get_xdata()[0] for line in ax.lines[-2:]}
        assert verticals == {"best (epoch 2)": 2, "early stop": 3}
    assert fig._suptitle.get_text() == "3 epochs, stopped by early-stopping"


def test_training_curves_name_the_missing_key():
    with pytest.raises(VizError, match=r"history\[0\] lacks \['val_loss'\]"):
        training_curves([{"epoch": 1, "train_loss": 0.7, "val_accuracy": 0.5}])


RUNS = pd.DataFrame(
    {
        "variant": ["gap", "gap", "attention-truth"],
        "dataset": ["synthetic"] * 3,
        "split": ["random"] * 3,
        "test_accuracy": [0.6, 0.8, 0.9],
    }
)


def test_results_bars_show_the_mean_over_seeds_in_percent_beside_the_paper():
    ax = results_bars(RUNS, paper={"gap": 70.0, "attention-truth": 99.0}).axes[0]
    (bars,) = ax.containers
    assert [b.get_height() for b in bars] == pytest.approx([70.0, 90.0])
    (paper,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(paper.get_offsets(), [[0, 70], [1, 99]])


def test_results_bars_keep_a_slot_for_a_paper_row_not_yet_measured():
    ax = results_bars(RUNS[RUNS.variant == "gap"], paper={"gap": 70.0, "attention-truth": 99.0}).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["gap", "attention-truth"]


def test_results_bars_say_so_when_there_are_no_results():
    ax = results_bars(RUNS.iloc[:0]).axes[0]
    assert [t.get_text() for t in ax.texts] == ["no result files yet"]


def test_results_bars_put_their_legend_above_the_axes_where_it_covers_no_bar():
    fig = results_bars(RUNS, paper={"gap": 70.0, "attention-truth": 99.0})
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (ax,) = fig.axes
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)

    assert ax.get_legend() is None
    assert [t.get_text() for t in legend.get_texts()] == ["synthetic / random", "paper (Table 1)"]
    assert box.y0 >= ax.get_window_extent(renderer).y1
