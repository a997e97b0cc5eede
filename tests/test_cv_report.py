"""The real-photographs chapter's tables are computed from cross-validation result files."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from visent.reporting import cv_report, stats


def _run(subset, variant, fold, seed, accuracy):
    return {
        "run_id": f"t-{subset}-pub-f{fold}-{variant}-s{seed}",
        "variant": variant,
        "config": {"dataset": "twitter", "twitter_subset": subset, "cv_folds": 3, "cv_fold": fold, "seed": seed},
        "metrics": {"test_accuracy": accuracy},
        "dataset": {"n_train": 160, "n_test": 40},
    }


@pytest.fixture
def runs():
    acc = {"linear-probe": [0.80, 0.82, 0.78], "gap": [0.81, 0.80, 0.79], "attention-learned": [0.84, 0.83, 0.80]}
    out = [_run("five", v, k, s, a + 0.01 * s) for v, accs in acc.items() for k, a in enumerate(accs) for s in (0, 1)]
    return out + [{"kind": "cv-summary", "variant": "gap", "config": {"dataset": "twitter"}, "metrics": {}}]


def test_each_fold_is_the_mean_over_its_seeds_and_a_cell_the_mean_and_sd_over_folds(runs):
    frame = cv_report.fold_frame(cv_report.cv_runs(runs))
    gap = frame[frame["variant"] == "gap"]
    assert gap["accuracy"].tolist() == pytest.approx([0.815, 0.805, 0.795]) and set(gap["seeds"]) == {2}
    table = cv_report.accuracy_table(frame).set_index("variant")
    folds = np.array([0.815, 0.805, 0.795])
    assert table.loc["`gap`", "5-agree (%)"] == f"{100 * folds.mean():.1f} ± {100 * folds.std(ddof=1):.1f}"
    assert table.loc["`gap`", "5-agree folds x seeds"] == "3 x 2"
    assert table.loc["`gap`", "4-agree (%)"] == cv_report.NOT_MEASURED
    assert list(table.index) == ["`gap`", "`attention-learned`", "`linear-probe`"]


def test_paired_differences_have_their_interval_and_count_the_folds_each_variant_wins(runs):
    frame = cv_report.fold_frame(cv_report.cv_runs(runs))
    diff = cv_report.paired(frame, "five", "attention-learned", "linear-probe")
    assert diff == pytest.approx([0.04, 0.01, 0.02])
    table = cv_report.contrasts_table(cv_report.cv_runs(runs)).set_index("comparison")
    row = table.loc["`attention-learned` − `linear-probe`"]
    pairs = [0.04, 0.04, 0.01, 0.01, 0.02, 0.02]  # per (fold, seed): both seeds move both models alike
    expected = stats.corrected_resampled_t(pairs, n_train=2 * 40, n_test=40)  # 3 folds: 2 test folds train
    assert row["5-agree (points, 95% interval)"] == (
        f"{100 * expected[0]:+.1f} [{100 * expected[1]:+.1f}, {100 * expected[2]:+.1f}]"
    )
    assert row["5-agree wins"] == "3/3"
    assert table.loc["`attention-learned` − `gap`", "5-agree wins"] == "3/3"


def test_fine_tuned_runs_are_rows_of_their_own_and_are_paired_with_their_frozen_variant(runs):
    tuned = [
        _run("five", "attention-learned", k, 0, a)
        | {"config": _run("five", "x", k, 0, a)["config"] | {"finetune": "conv5"}}
        for k, a in enumerate([0.86, 0.82, 0.84])
    ]
    frame = cv_report.fold_frame(cv_report.cv_runs(runs + tuned))
    table = cv_report.accuracy_table(frame).set_index("variant")
    assert list(table.index) == ["`gap`", "`attention-learned`", "`attention-learned-ft-conv5`", "`linear-probe`"]
    assert table.loc["`attention-learned-ft-conv5`", "5-agree folds x seeds"] == "3 x 1"
    contrasts = cv_report.contrasts_table(cv_report.cv_runs(runs + tuned)).set_index("comparison")
    row = contrasts.loc["`attention-learned-ft-conv5` − `attention-learned`"]
    # Paired on the runs both have: seed 0 of each fold.
    c = cv_report.contrast(cv_report.cv_runs(runs + tuned), "five", "attention-learned-ft-conv5", "attention-learned")
    assert c.n == 3 and c.mean == pytest.approx(np.mean([0.86 - 0.84, 0.82 - 0.83, 0.84 - 0.80]))
    assert row["5-agree (points, 95% interval)"] == c.points()
    assert row["5-agree wins"] == "2/3"  # fold means: seed 1 of the frozen twin counts there
    assert contrasts.index.is_unique


def test_each_verdict_follows_from_its_interval(runs):
    text = cv_report.verdict_text(cv_report.cv_runs(runs))
    c = cv_report.contrast(cv_report.cv_runs(runs), "five", "attention-learned", "gap")  # +3, +3, +1 points

    assert c.low > 0 and f"`attention-learned` beats `gap` ({c.points()} points, p = {c.p:.2f}, 6 paired runs)" in text
    assert "4-agree" not in text
    # attention-learned 2 points lower: +1, +1, -1 points, an interval across 0.
    shifted = runs[:12] + [
        r | {"metrics": {"test_accuracy": r["metrics"]["test_accuracy"] - 0.02}} for r in runs[12:18]
    ]
    close = cv_report.contrast(shifted, "five", "attention-learned", "gap")
    assert close.low < 0 < close.high
    assert f"`attention-learned` does not differ from `gap` ({close.points()} points" in cv_report.verdict_text(shifted)


def test_the_schedule_line_counts_runs_that_stopped_early():
    runs = [
        {
            "variant": "gap",
            "config": {"max_epochs": 30},
            "timing": {"total_s": 60.0},
            "env": {"cpu_count": 2},
            "training": {"epochs": e, "best_epoch": e - 5, "stopped": s},
        }
        for e, s in ((12, "early-stopping"), (30, "max-epochs"), (20, "early-stopping"))
    ]
    text = cv_report.schedule_text(runs)
    assert "Of the 3 frozen SGD runs, early stopping ended 2 before the cap of 30 epochs" in text
    assert "12 to 30 epochs (median 20)" in text and "All 3 runs took 3 min together" in text
    tuned = runs[0] | {"config": {"max_epochs": 30, "finetune": "conv5"}, "timing": {"total_s": 600.0}}
    text = cv_report.schedule_text(runs + [tuned])
    assert "Of the 1 fine-tuned SGD runs, early stopping ended 1 before the cap of 30 epochs" in text
    assert "in 10 min together" in text and "All 4 runs took 13 min together" in text


def test_the_chapters_reading_of_the_committed_twitter_results_holds():
    """book/twitter.md says: attention does not beat the whole-image average on any subset, and no
    two variants differ by more than a couple of points. The committed result files must agree."""
    from pathlib import Path

    from visent.reporting.results import load_results

    runs = cv_report.cv_runs(load_results(Path(__file__).resolve().parents[1] / "results"))
    if not runs:
        pytest.skip("no committed Twitter I results")
    frame = cv_report.fold_frame(runs)
    for subset in cv_report.SUBSETS:
        c = cv_report.contrast(runs, subset, "attention-learned", "gap")
        assert c is not None and c.n == 15 and c.verdict() != "beats", subset
        for a in ("gap", "attention-learned", "linear-probe"):
            for b in ("gap", "attention-learned", "linear-probe"):
                if a != b:
                    assert abs(cv_report.paired(frame, subset, a, b).mean()) < 0.025


def test_the_folds_figure_keeps_its_legend_beside_the_panels_and_its_variant_names_apart(runs, tmp_path):
    fig = cv_report.folds_plot(cv_report.fold_frame(cv_report.cv_runs(runs)))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (legend,) = fig.legends
    labels = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels()]

    assert legend.get_window_extent(renderer).x0 >= max(ax.get_window_extent(renderer).x1 for ax in fig.axes)
    assert len(labels) == 3 and not any(a.overlaps(b) for a, b in zip(labels, labels[1:]))
