"""The front page's findings, from the result files: the paper's claim, the adjective leak, the
synthetic scenes and Twitter I, each with its number and 95% interval
(:mod:`visent.reporting.stats`); one figure of the paper beside us per setting; the glossary of
the variant names.

A finding whose runs are missing says "not yet measured". Twitter II has its own finding,
written by :mod:`visent.reporting.words` into ``findings_twitter2.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from visent.model import VARIANTS
from visent.reporting import cv_report, stats, words

#: The rule of the leak finding: the honest one, each ANP predicted from the *other* ANPs of its adjective.
LEAK_RULE = "adjective_majority_loo"
#: The Twitter I subset the finding reads; the chapter has the other two.
TWITTER_SUBSET = "five"
#: The models of the figure, each with its marker, colour and legend entry.
MODELS = {
    "gap": ("o", "0.35", "whole image: `gap`"),
    "attention-truth": ("D", "C3", "attention, true adjective: `attention-truth`"),
    "attention-learned": ("s", "C0", "attention, image only: `attention-learned`"),
    "adjective-only": ("^", "C2", "adjective alone, no image: `adjective-only`"),
    "attention-text": ("v", "C1", "attention, the tweet's words: `attention-text`"),
}
#: The Twitter II row's label: its chapter reads balanced accuracy (the partitions are 78% positive).
TWITTER2_SETTING = "Twitter II\n(balanced accuracy)"
NOT_MEASURED = "not yet measured"


def percent(interval: tuple[float, float, float]) -> str:
    """A mean and its interval in percent: ``84.7% [82.9, 86.5]``."""
    mean, low, high = interval
    return f"{100 * mean:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def claim_text(paper: Mapping[str, float]) -> str:
    """The paper's Table 1, as printed: ``paper`` maps our variant of each row to its accuracy in %."""
    return (
        f"- **The paper's claim** (its Table 1, VSO photographs): {paper['gap']:.0f}% for the whole image, "
        f"{paper['attention-truth']:.0f}% for attention guided by the image's ground-truth adjective, without an "
        "interval.\n"
    )


def leak_text(rules: pd.DataFrame | None, ontology_name: str = "3244ANPs.txt") -> str:
    """The leak: how often an ANP's adjective alone gives its polarity, with a Wilson interval over
    the ANPs scored (``rules``: :func:`visent.reporting.leak.rules_table`, None without the ontology)."""
    if rules is None:
        return "- **What explains it, the adjective leak**: not yet measured (no VSO ontology file was given).\n"
    row = rules.set_index("rule").loc[LEAK_RULE]
    n = int(row["scored"])
    k = int(round(row["accuracy"] * n))
    low, high = stats.wilson(k, n)
    return (
        f"- **What explains it, the adjective leak**: in VSO ({ontology_name}) the polarities of the other ANPs "
        f"that share an ANP's adjective predict its own for {percent((k / n, low, high))} of the {n:,} ANPs "
        "scored, before any image is seen ({ref}`leak`). The label is the ANP's polarity, so a model told the "
        "adjective needs no image.\n"
    )


def _synthetic(results: list[dict[str, Any]], variant: str, split: str) -> list[dict[str, Any]]:
    return [
        r
        for r in results
        if r["dataset"]["name"] == "synthetic" and r["variant"] == variant and r["config"]["split"] == split
    ]


def synthetic_text(results: list[dict[str, Any]]) -> str:
    """The synthetic scenes: the paper's model, the whole image and the adjective alone on the random
    split, and the paper's model against each (``results``: the replication's runs)."""
    runs = {v: _synthetic(results, v, "random") for v in ("attention-truth", "gap", "adjective-only")}
    if any(len(r) < 2 for r in runs.values()):
        return "- **Synthetic scenes**: not yet measured (`make run` writes the runs).\n"
    cells = {v: percent(stats.mean_interval(r)) for v, r in runs.items()}
    versus = [
        cv_report.paired_contrast(runs["attention-truth"], runs[b], "attention-truth", b)
        for b in ("gap", "adjective-only")
    ]
    first = runs["gap"][0]
    return (
        f"- **Synthetic scenes** (generated VSO-style scenes whose adjective fixes the label as in VSO; "
        f"{first['dataset']['n_test']} test images, {len(runs['gap'])} seeds): the paper's model (`attention-truth`) "
        f"{cells['attention-truth']}, the whole image (`gap`) {cells['gap']}, the adjective alone "
        f"(`adjective-only`) {cells['adjective-only']}; "
        + "; ".join(cv_report.sentence(c, short=True) for c in versus if c)
        + " ({doc}`report`).\n"
    )


def twitter_text(runs: list[dict[str, Any]]) -> str:
    """Twitter I: image-only attention, the whole image and the linear probe on the most agreed subset
    (``runs``: :func:`visent.reporting.cv_report.cv_runs`)."""
    models = {m: cv_report.model_runs(runs, TWITTER_SUBSET, m) for m in ("attention-learned", "gap", "linear-probe")}
    c = cv_report.contrast(runs, TWITTER_SUBSET, "attention-learned", "gap")
    if c is None or not all(models.values()):
        return "- **Twitter I**: not yet measured (`make twitter` writes the runs).\n"
    folds = len({stats.pair_key(r)[0] for r in models["gap"]})
    seeds = len({stats.pair_key(r)[1] for r in models["gap"]})
    subset = cv_report.SUBSETS[TWITTER_SUBSET]
    return (
        f"- **Twitter I** (real tweeted photographs, {subset} subset, {folds} published folds × {seeds} seeds; "
        "no adjectives, so only image-only attention can run): "
        f"`attention-learned` {percent(stats.mean_interval(models['attention-learned']))}, "
        f"`gap` {percent(stats.mean_interval(models['gap']))}, the frozen-feature linear probe "
        f"{percent(stats.mean_interval(models['linear-probe']))}; {cv_report.sentence(c, short=True)} "
        "({doc}`twitter`, with the other subsets and the published figures).\n"
    )


def settings_frame(
    results: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    paper: Mapping[str, float],
    twitter2: list[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """One row per (setting, model) the figure draws: accuracy and interval in %, None for the paper's;
    ``twitter2``: the Twitter II runs, whose row reads their chapter's balanced accuracy.
    The synthetic held-out-adjective split moves in whole adjectives (a sign, not a measurement), so
    it stays in its chapter."""
    rows = [
        {"setting": "VSO photographs\n(the paper)", "model": v, "mean": value, "low": None, "high": None}
        for v, value in paper.items()
    ]
    measured = [
        ("synthetic scenes", v, _synthetic(results, v, "random")) for v in ("gap", "attention-truth", "adjective-only")
    ]
    measured += [
        (f"Twitter I, {name}", v, cv_report.model_runs(runs, subset, v))
        for subset, name in cv_report.SUBSETS.items()
        for v in ("gap", "attention-learned")
    ]
    metric = {setting: "test_accuracy" for setting, _, _ in measured}
    if twitter2:
        chapter = words.WordsChapter(twitter2)
        models = chapter.models()
        measured += [(TWITTER2_SETTING, v, models.get(chapter.label(v), [])) for v in ("gap", "attention-text")]
        metric[TWITTER2_SETTING] = words.VERDICT_METRIC
    for setting, model, found in measured:
        if len(found) >= 2:
            mean, low, high = stats.mean_interval(found, metric[setting])
            rows.append({"setting": setting, "model": model, "mean": 100 * mean, "low": 100 * low, "high": 100 * high})
    return pd.DataFrame(rows, columns=["setting", "model", "mean", "low", "high"])


def summary_plot(frame: pd.DataFrame) -> Figure:
    """The paper beside us: accuracy per setting (one row each, top to bottom) and model (marker),
    with its 95% interval where runs measured it."""
    settings = list(dict.fromkeys(frame["setting"]))
    fig = Figure(figsize=(9, 0.36 * len(settings) + 0.9), layout="constrained")
    ax = fig.add_subplot()
    offsets = dict(zip(MODELS, np.linspace(-0.24, 0.24, len(MODELS))))
    for model, (marker, colour, name) in MODELS.items():
        pick = frame[frame["model"] == model]
        if pick.empty:
            continue
        y = np.array([settings.index(s) for s in pick["setting"]]) + offsets[model]
        measured = pick["low"].notna().to_numpy()
        err = np.vstack([pick["mean"] - pick["low"], pick["high"] - pick["mean"]])[:, measured]
        ax.errorbar(pick["mean"][measured], y[measured], xerr=err, fmt=marker, color=colour, capsize=2, label=name)
        if (~measured).any():  # the paper's numbers: no interval, hollow
            ax.plot(pick["mean"][~measured], y[~measured], marker, color=colour, markerfacecolor="white", markersize=8)
    ax.set_yticks(range(len(settings)), settings, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(45, 101)  # chance (50%) to the top: where every setting's accuracies lie
    ax.set_xlabel(
        "test accuracy (%), 95% interval" + ("; Twitter II: balanced" if TWITTER2_SETTING in settings else "")
    )
    ax.axvline(50, color="0.8", linewidth=1, zorder=0)
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(
        handles,
        [label.replace("`", "") for label in labels],
        loc="outside upper center",
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    return fig


def summary_figure(frame: pd.DataFrame, path: str | Path) -> Path:
    """:func:`summary_plot` saved as a PNG at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    summary_plot(frame).savefig(path, format="png", dpi=110)
    return path


def glossary_text() -> str:
    """The variant names used in the book, one line each, from the registry's purposes."""
    return "\n".join(f"- `{v.name}`: {v.purpose}; attention query: {v.attends}." for v in VARIANTS.values()) + "\n"
