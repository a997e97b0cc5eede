"""The words chapter's snippets (Twitter II), read from small hand-made result records."""

from __future__ import annotations

from visent.reporting.words import best_word_steered, weighting_choice, weighting_text


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
        record = run("mean", 0, val)
        return record | {"variant": variant}

    assert best_word_steered([frozen("attention-text", 0.6)]) is None
    assert best_word_steered([frozen("attention-text", 0.6), frozen("attention-vso-adjective", 0.7)]) == (
        "attention-vso-adjective"
    )
