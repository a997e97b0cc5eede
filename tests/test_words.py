"""The words chapter's snippets (Twitter II), read from small hand-made result records."""

from __future__ import annotations

import pytest

from visent.reporting.words import WordsChapter, weighting_choice, weighting_text


def run(weighting: str, fold: int, val: float) -> dict:
    return {
        "variant": "text-only",
        "config": {
            "text_weighting": weighting,
            "cv_fold": fold,
            "finetune": "none",
            "balance": "oversample",
            "balance_splits": ["train", "val"],
        },
        "metrics": {"val_accuracy": val},
    }


def test_idf_is_kept_unless_the_mean_weighting_is_more_accurate_on_validation():
    tie = [run(w, k, 0.8) for w in ("idf", "mean") for k in range(5)]
    assert weighting_choice(tie)[0] == "idf"
    better = [run("idf", k, 0.8) for k in range(5)] + [run("mean", k, 0.81) for k in range(5)]
    assert weighting_choice(better)[0] == "mean"
    assert "mean ties with it (80.0% against 80.0%): idf stays" in weighting_text(tie)
    assert "mean is higher (81.0% against 80.0%) and replaces idf" in weighting_text(better)


def test_the_weighting_is_chosen_in_the_balanced_protocol_only():
    unbalanced = [
        run("mean", k, 0.95) | {"config": run("mean", k, 0.95)["config"] | {"balance": "none"}} for k in range(5)
    ]
    tie = [run(w, k, 0.8) for w in ("idf", "mean") for k in range(5)]
    assert weighting_choice(tie + unbalanced)[0] == "idf"


def test_the_weighting_is_not_chosen_before_every_fold_has_run():
    partial = [run("idf", k, 0.8) for k in range(5)] + [run("mean", 0, 0.9)]
    assert weighting_choice(partial)[0] is None
    assert weighting_text(partial).startswith("**Not yet measured**")


def test_the_fine_tuned_word_steered_variant_is_the_one_better_on_validation():
    def frozen(variant: str, val: float) -> dict:
        record = run("idf", 0, val)
        return record | {"variant": variant}

    assert WordsChapter([frozen("attention-text", 0.6)]).best_word_steered() is None
    both = [frozen("attention-text", 0.6), frozen("attention-vso-adjective", 0.7)]
    assert WordsChapter(both).best_word_steered() == "attention-vso-adjective"


def cv_run(variant: str, fold: int, seed: int, balanced: float, accuracy: float = 0.7, balance: str = "oversample"):
    """A main-protocol run record with what the chapter reads: metrics, sizes and predictions."""
    return {
        "run_id": f"{variant}-f{fold}-s{seed}",
        "variant": variant,
        "config": {"cv_fold": fold, "cv_folds": 5, "seed": seed, "finetune": "none", "balance": balance},
        "dataset": {"n_train": 400, "n_val": 50, "n_test": 4},
        "metrics": {"test_accuracy": accuracy, "test_balanced_accuracy": balanced, "val_accuracy": 0.6},
        "predictions": {"path": [f"p{fold}/{k}.jpg" for k in range(4)], "label": [1, 1, 1, 0], "p_positive": [0.9] * 4},
    }


def grid(gains: dict[str, float]) -> list[dict]:
    """Every model the verdict reads, 5 folds x 3 seeds; ``gains`` adds to a model's balanced
    accuracy, with a fold-to-fold wobble shared by all models so that pairs differ by the gain."""
    models = ("gap", "attention-text", "attention-vso-adjective", "text-only", "vso-adjective-only")
    return [
        cv_run(m, f, s, 0.55 + 0.02 * f + 0.001 * s + gains.get(m, 0.0) + 0.004 * ((f + s + k) % 3))
        for k, m in enumerate(models)
        for f in range(5)
        for s in range(3)
    ]


def test_word_steered_attention_that_does_not_differ_from_gap_is_said_not_to_beat_it():
    chapter = WordsChapter(grid({}))
    assert chapter.answers() == {"beats pooling": False, "beats the words alone": False}
    text = chapter.verdict_text()
    assert "`attention-text` does not differ from `gap` on balanced accuracy" in text
    assert "attention steered by those words does not beat pooling the regions (`gap`)" in text


def test_a_word_steered_model_whose_interval_is_above_gap_beats_pooling():
    chapter = WordsChapter(grid({"attention-text": 0.08}))
    by_pair = {(c["a"], c["b"]): c for c in chapter.contrasts()}
    gain = by_pair[("attention-text", "gap")]["test_balanced_accuracy"]
    assert gain.mean == pytest.approx(0.08, abs=0.01) and gain.low > 0
    assert chapter.answers()["beats pooling"] is True
    assert "attention steered by those words does beat pooling" in chapter.verdict_text()
    assert "Word-steered attention beats pooling" in chapter.findings_text()


def test_the_verdict_waits_for_every_model_it_reads():
    runs = [r for r in grid({}) if r["variant"] != "text-only"]
    chapter = WordsChapter(runs)
    assert chapter.answers()["beats the words alone"] is None
    assert chapter.verdict_text().startswith("**Not yet measured**")


def test_the_committed_verdict_follows_the_intervals_of_the_committed_results():
    from pathlib import Path

    from visent.reporting import cv_report, stats
    from visent.reporting.results import load_results

    folder = Path(__file__).resolve().parents[1] / "results" / "twitter2"
    runs = cv_report.cv_runs(load_results(folder), layout="twitter2")
    if not runs:
        pytest.skip("no committed Twitter II results")
    chapter = WordsChapter(runs)
    models = chapter.models()
    for a, b in (("attention-text", "gap"), ("attention-vso-adjective", "gap"), ("attention-text", "text-only")):
        a, b = chapter.label(a), chapter.label(b)
        c = stats.contrast(models[a], models[b], "test_balanced_accuracy")
        assert f"`{a}` {c.verdict()} `{b}` on balanced accuracy ({c.points()} points" in chapter.verdict_text()
    beats = chapter.answers()["beats pooling"]
    assert ("does beat pooling" if beats else "does not beat pooling") in chapter.verdict_text()


def test_make_twitter2_finetune_tunes_gap_and_the_word_steered_variant_the_committed_runs_choose():
    import re
    from pathlib import Path

    from visent.reporting import cv_report
    from visent.reporting.results import load_results

    root = Path(__file__).resolve().parents[1]
    runs = cv_report.cv_runs(load_results(root / "results" / "twitter2"), layout="twitter2")
    if not runs:
        pytest.skip("no committed Twitter II results")
    chosen = re.search(r"^TWITTER2_FT_VARIANTS \?= (.*)$", (root / "mk" / "twitter.mk").read_text(), re.M)
    assert chosen and chosen.group(1).split() == ["gap", WordsChapter(runs).best_word_steered()]
