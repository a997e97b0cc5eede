"""The statistics behind every "beats" / "does not differ" sentence, against hand-computed values."""

import pytest

from visent.reporting import stats


def _result(variant, fold, seed, accuracy, n_test=100, correct=None):
    result = {
        "run_id": f"{variant}-f{fold}-s{seed}",
        "variant": variant,
        "config": {"cv_fold": fold, "cv_folds": 5, "seed": seed},
        "dataset": {"n_train": 300, "n_val": 100, "n_test": n_test},
        "metrics": {"test_accuracy": accuracy},
    }
    if correct is not None:
        paths = [f"img{i}.jpg" for i in range(len(correct))]
        result["predictions"] = {
            "path": paths,
            "label": [1] * len(correct),
            "p_positive": [0.9 if c else 0.1 for c in correct],
        }
    return result


def test_corrected_t_matches_the_hand_computed_example():
    # d = (.02, -.01, .03, 0, .01): mean .01, s^2 = .00025; J = 5 and n_test/n_train = 1/4 give
    # var = .00025 * (1/5 + 1/4) = .0001125, se = .0106066; t(.975, 4) = 2.776445, half = .0294489;
    # t = .01 / .0106066 = .94281 -> two-sided p = .3992 with 4 dof.
    mean, low, high, p = stats.corrected_resampled_t([0.02, -0.01, 0.03, 0.0, 0.01], n_train=4, n_test=1)
    assert mean == pytest.approx(0.01)
    assert low == pytest.approx(0.01 - 0.0294489, abs=1e-6)
    assert high == pytest.approx(0.01 + 0.0294489, abs=1e-6)
    assert p == pytest.approx(0.3992, abs=1e-3)


def test_the_correction_widens_the_plain_paired_interval():
    diffs = [0.02, -0.01, 0.03, 0.0, 0.01]
    _, low_plain, high_plain, _ = stats.corrected_resampled_t(diffs, n_train=1e12, n_test=1)
    _, low, high, _ = stats.corrected_resampled_t(diffs, n_train=4, n_test=1)
    assert (high - low) / (high_plain - low_plain) == pytest.approx((0.45 / 0.2) ** 0.5)


def test_wilson_interval_of_eight_in_ten():
    low, high = stats.wilson(8, 10)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)


def test_bootstrap_of_identical_outcomes_is_zero_width():
    mean, low, high, p = stats.paired_bootstrap([1, 0, 1, 1], [1, 0, 1, 1])
    assert (mean, low, high, p) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_finds_a_consistent_winner():
    a = [1] * 90 + [0] * 10
    b = [1] * 60 + [0] * 40
    mean, low, high, p = stats.paired_bootstrap(a, b, n_boot=2000)
    assert mean == pytest.approx(0.30)
    assert 0.15 < low < 0.30 < high < 0.45
    assert p < 0.001


def test_contrast_pairs_runs_by_fold_and_seed_and_reads_the_folds_for_the_correction():
    a = [_result("attention", f, s, 0.70 + 0.01 * f) for f in range(5) for s in (0, 1)]
    b = [_result("gap", f, s, 0.70 - 0.01 * s) for f in reversed(range(5)) for s in (1, 0)]
    c = stats.contrast(a, b)
    assert (c.a, c.b, c.n) == ("attention", "gap", 10)
    diffs = [0.01 * f + 0.01 * s for f in range(5) for s in (0, 1)]
    expected = stats.corrected_resampled_t(diffs, n_train=400, n_test=100)
    assert (c.mean, c.low, c.high, c.p) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [(0.01, 0.05, "beats"), (-0.05, -0.01, "is beaten by"), (-0.01, 0.05, "does not differ from")],
)
def test_the_verdict_follows_the_interval(low, high, verdict):
    c = stats.Contrast("a", "b", (low + high) / 2, low, high, 0.5, 5, stats.CORRECTED_T)
    assert c.verdict() == verdict


def test_points_read_in_accuracy_points():
    c = stats.Contrast("a", "b", 0.012, -0.008, 0.031, 0.2, 15, stats.CORRECTED_T)
    assert c.points() == "+1.2 [-0.8, +3.1]"


def test_a_run_without_its_twin_is_named():
    a = [_result("attention", f, 0, 0.7) for f in range(5)]
    b = [_result("gap", f, 0, 0.7) for f in range(4)]
    with pytest.raises(ValueError, match=r"runs without a twin \(fold, seed\): \[\(4, 0\)\]"):
        stats.contrast(a, b)


def test_bootstrap_contrast_pools_the_test_images_of_every_pair():
    a = [_result("attention", f, 0, 0.9, correct=[1] * 9 + [0]) for f in range(5)]
    b = [_result("gap", f, 0, 0.5, correct=[1] * 5 + [0] * 5) for f in range(5)]
    c = stats.contrast(a, b, method=stats.BOOTSTRAP)
    assert c.mean == pytest.approx(0.4)
    assert c.verdict() == "beats"
    assert c.method == stats.BOOTSTRAP


def test_mean_interval_is_the_one_sample_corrected_interval():
    runs = [_result("gap", f, 0, acc) for f, acc in enumerate([0.60, 0.62, 0.64, 0.58, 0.61])]
    mean, low, high = stats.mean_interval(runs)
    expected = stats.corrected_resampled_t([0.60, 0.62, 0.64, 0.58, 0.61], n_train=400, n_test=100)
    assert (mean, low, high) == pytest.approx(expected[:3])
    assert low < 0.61 < high
