"""The words chapter's own snippets (Twitter II): what the texts hold, and the text weighting chosen
on validation. Its tables of accuracy and paired differences are those of every cross-validated
dataset (:mod:`visent.reporting.cv_report`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from visent.config import default_of
from visent.model.text import TEXT_WEIGHTINGS
from visent.reporting.results import markdown_table

#: The layout of the chapter's runs.
LAYOUT = "twitter2"
#: The model on which the text weighting is chosen: the cheapest one that reads the text vector.
WEIGHTING_JUDGE = "text-only"
#: The chapter's protocols, by their runs' class balancing: the main one equalises the classes where
#: the model learns and stops (the paper trains on balanced data); the other keeps the partitions as
#: released (78% positive). The test partitions are the release's in both.
BALANCED, AS_RELEASED = "balanced training", "as released"


def protocol(run: dict[str, Any]) -> str:
    """Which protocol a run followed: ``BALANCED`` when its training classes were equalised."""
    return BALANCED if run["config"].get("balance", "none") != "none" else AS_RELEASED


def by_protocol(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The runs of each protocol, the main one first."""
    return {name: [r for r in runs if protocol(r) == name] for name in (BALANCED, AS_RELEASED)}


def _one_per_fold(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One run per fold (the first seen), for facts that every run of a fold shares."""
    by_fold: dict[int, dict[str, Any]] = {}
    for run in runs:
        by_fold.setdefault(int(run["config"]["cv_fold"]), run)
    return [by_fold[k] for k in sorted(by_fold)]


def data_text(runs: list[dict[str, Any]]) -> str:
    """The dataset as the runs saw it: images per class and partition, what the texts hold (known
    words, VSO adjectives) and every problem of the data report, by reason."""
    if not runs:
        return "**Not yet measured**: no Twitter II result files. `make twitter2` writes them.\n"
    folds = _one_per_fold(runs)
    first = folds[0]["dataset"]
    balance = first["class_balance"]
    positive = sum(part["positive"] for part in balance.values())
    negative = sum(part["negative"] for part in balance.values())
    rows = [
        ("images", f"{positive + negative:,} ({positive} positive, {negative} negative)"),
        ("test partitions", ", ".join(str(f["dataset"]["n_test"]) for f in folds) + " images"),
    ]
    queries: dict[str, dict[str, Any]] = {}
    for run in runs:
        for source, counts in run["dataset"]["meta"].get("queries", {}).items():
            queries.setdefault(source, counts)
    if "text" in queries:
        text = queries["text"]
        rows.append(
            (
                "texts with a GloVe word",
                f"{text['with_words']} ({text['without_words']} without: their query is zero); "
                f"median {text['median_words']:.0f} words per text",
            )
        )
    if "vso-adjective" in queries:
        vso = queries["vso-adjective"]
        share = vso["with_words"] / vso["images"]
        rows.append(
            (
                "texts with a VSO adjective",
                f"{vso['with_words']} ({100 * share:.0f}%; {vso['with_several']} with several, their mean); "
                f"the other {vso['without_words']} get the zero query",
            )
        )
    for reason, count in first["report"]["by_reason"].items():
        details = [p["detail"] for p in first["report"]["problems"] if p["reason"] == reason]
        shown = details[0] if count == 1 else f"{count} files"
        rows.append((f"data report: {reason}", shown))
    table = markdown_table(pd.DataFrame(rows, columns=["", "Twitter II"]))
    source = "`dataset.class_balance`, `dataset.meta.queries` and `dataset.report`"
    return f"{table}\n\nFrom the result files of `results/twitter2/` ({source}).\n"


def _weighting_of(run: dict[str, Any]) -> str:
    return str(run["config"].get("text_weighting", default_of("text_weighting")))


def weighting_choice(runs: list[dict[str, Any]]) -> tuple[str | None, pd.DataFrame]:
    """The weighting the rule keeps, and the table behind it: ``text-only``'s validation accuracy per
    fold for each weighting, in the main protocol (``BALANCED``: there the validation accuracy is the
    balanced one). The default (idf) is kept unless another has a higher mean; None while a weighting
    lacks a fold."""
    judged = [
        r
        for r in by_protocol(runs)[BALANCED]
        if r["variant"] == WEIGHTING_JUDGE and r["config"].get("finetune", "none") == "none"
    ]
    frame = pd.DataFrame(
        [
            {"weighting": _weighting_of(r), "fold": int(r["config"]["cv_fold"]), "val": r["metrics"]["val_accuracy"]}
            for r in judged
        ],
        columns=["weighting", "fold", "val"],
    )
    table = frame.groupby(["weighting", "fold"])["val"].mean().unstack("fold")
    default = str(default_of("text_weighting"))
    complete = [w for w in TEXT_WEIGHTINGS if w in table.index and table.loc[w].notna().all()]
    if len(complete) < len(TEXT_WEIGHTINGS) or table.shape[1] < 2:
        return None, table
    means = table.mean(axis=1)
    best_other = max((w for w in complete if w != default), key=lambda w: means[w])
    return (best_other if means[best_other] > means[default] else default), table


def weighting_text(runs: list[dict[str, Any]]) -> str:
    """The weighting comparison as a table of validation accuracies, and the rule's decision."""
    chosen, table = weighting_choice(runs)
    if chosen is None:
        return (
            "**Not yet measured**: `text-only` has not run with every weighting on every fold. "
            "`make twitter2-weighting` runs them.\n"
        )
    shown = pd.DataFrame(
        {
            "weighting": table.index,
            **{f"partition {k + 1}": 100 * table[k].to_numpy() for k in table.columns},
            "mean": 100 * table.mean(axis=1).to_numpy(),
        }
    )
    default = str(default_of("text_weighting"))
    means = table.mean(axis=1)
    tied = np.isclose(means[chosen], means.drop(chosen).max())
    others = ", ".join(w for w in table.index if w != default)
    if chosen == default:
        verdict = "ties with it" if tied else "is not higher"
        best_other = 100 * means.drop(default).max()
        decision = f"{others} {verdict} ({best_other:.1f}% against {100 * means[default]:.1f}%): idf stays"
    else:
        decision = (
            f"{chosen} is higher ({100 * means[chosen]:.1f}% against {100 * means[default]:.1f}%) and replaces idf"
        )
    return (
        f"Validation accuracy (%, on class-balanced validation images) of `{WEIGHTING_JUDGE}` in each fold, "
        "named by its test partition:\n\n"
        f"{markdown_table(shown, '.1f')}\n\n"
        f"The rule keeps {default} unless another weighting has the higher mean: {decision}, so every text "
        f"query of this chapter uses the {'plain mean' if chosen == 'mean' else chosen}.\n"
    )


#: The variants whose attention the image's words steer, among which the fine-tuned runs take the best.
WORD_STEERED = ("attention-text", "attention-vso-adjective")


def best_word_steered(runs: list[dict[str, Any]]) -> str | None:
    """The word-steered variant with the higher mean validation accuracy over its frozen runs in the
    main protocol (the one that is fine-tuned); None before both have run."""
    frozen = [
        r
        for r in by_protocol(runs)[BALANCED]
        if r["variant"] in WORD_STEERED and r["config"].get("finetune", "none") == "none"
    ]
    means = {v: [r["metrics"]["val_accuracy"] for r in frozen if r["variant"] == v] for v in WORD_STEERED}
    if not all(means.values()):
        return None
    return max(WORD_STEERED, key=lambda v: float(np.mean(means[v])))
