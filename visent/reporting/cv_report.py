"""The "On real photographs" chapter from cross-validation result files: tables, paired
differences and the attention-map figure.

Each fold's accuracy is the mean over the seeds that ran it; a table cell is the mean ± sample sd
over the folds. A paired difference compares two variants fold by fold (same fold, same training
images), so the fold-to-fold spread of difficulty cancels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from visent.backbone import finetune_choices
from visent.config import run_label
from visent.model import VARIANTS
from visent.reporting import stats
from visent.reporting.stats import Contrast

#: The chapter's order of subsets and their display names.
SUBSETS = {"five": "5-agree", "four": "4-agree", "three": "3-agree"}
#: The references each variant is compared with, fold by fold.
BASELINES = ("gap", "linear-probe")
NOT_MEASURED = "not yet measured"


def cv_runs(results: list[dict[str, Any]], layout: str = "twitter") -> list[dict[str, Any]]:
    """The per-fold run results of ``layout`` (no summaries)."""
    return [
        r
        for r in results
        if r.get("kind") != "cv-summary" and r["config"].get("dataset") == layout and r["config"].get("cv_folds")
    ]


def label(run: dict[str, Any]) -> str:
    """The run's row in the tables: its variant, fine-tuned or not (``gap``, ``gap-ft-conv5``)."""
    return run_label(run["variant"], run["config"].get("finetune", "none"), run["config"])


def fold_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (subset, model, fold): test accuracy averaged over seeds, and the seed count.
    The ``variant`` column is the model's :func:`label`, so fine-tuned runs are rows of their own."""
    rows = [
        {
            "subset": r["config"]["twitter_subset"],
            "variant": label(r),
            "fold": int(r["config"]["cv_fold"]),
            "seed": r["config"]["seed"],
            "accuracy": r["metrics"]["test_accuracy"],
        }
        for r in runs
    ]
    frame = pd.DataFrame(rows, columns=["subset", "variant", "fold", "seed", "accuracy"])
    return frame.groupby(["subset", "variant", "fold"], as_index=False).agg(
        accuracy=("accuracy", "mean"), seeds=("seed", "nunique")
    )


def fine_tuned_of(variant: str) -> list[str]:
    """The labels of ``variant`` with each trainable block."""
    return [run_label(variant, block) for block in finetune_choices() if block != "none"]


def _ordered_variants(frame: pd.DataFrame) -> list[str]:
    present = set(frame["variant"])
    return [name for v in VARIANTS for name in (v, *fine_tuned_of(v)) if name in present]


def _mean_sd(values: np.ndarray, scale: float = 100.0, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if len(values) == 1:
        return f"{scale * values[0]:{sign}.1f}"
    return f"{scale * values.mean():{sign}.1f} ± {scale * values.std(ddof=1):.1f}"


def accuracy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Variants x subsets: mean ± sd over folds of the test accuracy in %, with folds x seeds."""
    rows = []
    for variant in _ordered_variants(frame):
        row: dict[str, Any] = {"variant": f"`{variant}`"}
        for subset, name in SUBSETS.items():
            cell = frame[(frame["variant"] == variant) & (frame["subset"] == subset)]
            row[f"{name} (%)"] = _mean_sd(cell["accuracy"].to_numpy()) if len(cell) else NOT_MEASURED
            row[f"{name} folds x seeds"] = f"{len(cell)} x {int(cell['seeds'].max())}" if len(cell) else "–"
        rows.append(row)
    return pd.DataFrame(rows)


#: How this book's Twitter I rows were trained and tested, beside the published protocols.
PROTOCOL = "trained and tested on each of the 5 published folds of Campos et al. (2017); mean over folds; VGG-16 {}"


def beside_published(frame: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``published`` (:func:`visent.reporting.published.published_frame`), then one row
    per model of ours with its mean accuracy over the folds per subset, in the same columns."""
    rows = []
    for variant in _ordered_variants(frame):
        row: dict[str, Any] = {"work": "this book", "model": f"`{variant}`"}
        for subset, name in SUBSETS.items():
            cell = frame[(frame["variant"] == variant) & (frame["subset"] == subset)]
            row[f"{name} (%)"] = f"{100 * cell['accuracy'].mean():.1f}" if len(cell) else "–"
        backbone = "block 5 fine-tuned" if variant in fine_tuned_of(variant.split("-ft-")[0]) else "frozen"
        rows.append(row | {"protocol": PROTOCOL.format(backbone), "read in": "this book's result files"})
    return pd.concat([published, pd.DataFrame(rows)], ignore_index=True).fillna("–")


def paired(frame: pd.DataFrame, subset: str, variant: str, baseline: str) -> np.ndarray:
    """Per-fold differences ``variant - baseline`` on the folds both ran, in fold order."""
    pick = frame[frame["subset"] == subset].pivot(index="fold", columns="variant", values="accuracy")
    if variant not in pick or baseline not in pick:
        return np.zeros(0)
    return (pick[variant] - pick[baseline]).dropna().to_numpy()


def model_runs(runs: list[dict[str, Any]], subset: str, model: str) -> list[dict[str, Any]]:
    """The runs of ``model`` (a :func:`label`) on ``subset``."""
    return [r for r in runs if r["config"]["twitter_subset"] == subset and label(r) == model]


def contrast(runs: list[dict[str, Any]], subset: str, a: str, b: str) -> Contrast | None:
    """``a`` minus ``b`` on ``subset`` with its 95% interval (corrected resampled t), over the
    (fold, seed) pairs both ran; None under two pairs."""
    return paired_contrast(model_runs(runs, subset, a), model_runs(runs, subset, b), a, b)


def paired_contrast(runs_a: list[dict[str, Any]], runs_b: list[dict[str, Any]], a: str, b: str) -> Contrast | None:
    """:func:`visent.reporting.stats.contrast` over the (fold, seed) pairs both lists have (a
    fine-tuned model with one seed pairs with its frozen twin's seed 0); None under two pairs."""
    both = {stats.pair_key(r) for r in runs_a} & {stats.pair_key(r) for r in runs_b}
    if len(both) < 2:
        return None
    return stats.contrast(
        [r for r in runs_a if stats.pair_key(r) in both], [r for r in runs_b if stats.pair_key(r) in both], a=a, b=b
    )


def contrasts_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Each variant against each baseline, then each fine-tuned model against its frozen variant,
    per subset: the paired difference in points with its 95% interval, and the folds it wins."""
    frame = fold_frame(runs)
    models = _ordered_variants(frame)
    pairs = [
        (variant, baseline)
        for baseline in BASELINES
        for variant in models
        if variant != baseline and variant not in BASELINES[: BASELINES.index(baseline)]
    ]
    pairs += [(tuned, variant) for variant in VARIANTS for tuned in fine_tuned_of(variant) if tuned in models]
    rows = []
    for variant, baseline in dict.fromkeys(pairs):  # gap-ft - gap is both a baseline and a frozen pair
        row: dict[str, Any] = {"comparison": f"`{variant}` − `{baseline}`"}
        for subset, name in SUBSETS.items():
            c = contrast(runs, subset, variant, baseline)
            diff = paired(frame, subset, variant, baseline)
            row[f"{name} (points, 95% interval)"] = c.points() if c else NOT_MEASURED
            row[f"{name} wins"] = f"{int((diff > 0).sum())}/{len(diff)}" if len(diff) else "–"
        rows.append(row)
    return pd.DataFrame(rows)


def schedule_text(runs: list[dict[str, Any]]) -> str:
    """How the SGD runs ended, frozen and fine-tuned apart: epochs trained, how many early stopping
    ended before the cap, and their training time."""
    sgd = [r for r in runs if VARIANTS[r["variant"]].trainer == "sgd" and r.get("training")]
    if not sgd:
        return "No SGD run yet.\n"
    lines = []
    for kind, group in (
        ("frozen", [r for r in sgd if r["config"].get("finetune", "none") == "none"]),
        ("fine-tuned", [r for r in sgd if r["config"].get("finetune", "none") != "none"]),
    ):
        if not group:
            continue
        epochs = [r["training"]["epochs"] for r in group]
        best = [r["training"]["best_epoch"] for r in group]
        early = sum(r["training"]["stopped"] == "early-stopping" for r in group)
        cap = max(r["config"]["max_epochs"] for r in group)
        lines.append(
            f"Of the {len(group)} {kind} SGD runs, early stopping ended {early} before the cap of {cap} epochs; "
            f"they trained {min(epochs)} to {max(epochs)} epochs (median {int(np.median(epochs))}), their best "
            f"validation loss at epoch {min(best)} to {max(best)}, in "
            f"{sum(r['timing'].get('total_s', 0.0) for r in group) / 60:.0f} min together."
        )
    return (
        " ".join(lines)
        + f" All {len(runs)} runs took {sum(r['timing'].get('total_s', 0.0) for r in runs) / 60:.0f} min together "
        f"(`timing.total_s`, on {runs[0]['env'].get('cpu_count')} CPU cores; feature extraction not included).\n"
    )


def sentence(c: Contrast, short: bool = False) -> str:
    """A contrast in words, its verb read from its interval: ``a`` beats ``b`` only where the interval
    lies above 0; ``short`` leaves out the p-value and the number of pairs (the front page)."""
    detail = "" if short else f", p = {c.p:.2f}, {c.n} paired runs"
    return f"`{c.a}` {c.verdict()} `{c.b}` ({c.points()} points{detail})"


#: How the chapter reads a paired difference, said once above each list of verdicts.
READING = (
    "A paired difference is read as a difference only where its 95% interval excludes 0 (corrected resampled "
    "t over the (fold, seed) pairs, {ref}`how the intervals are computed <intervals>`):"
)


def finetune_text(runs: list[dict[str, Any]]) -> str:
    """Each fine-tuned model against its frozen twin, per subset where both ran, in words."""
    frame = fold_frame(runs)
    lines = []
    for variant in VARIANTS:
        for tuned in fine_tuned_of(variant):
            for subset, name in SUBSETS.items():
                c = contrast(runs, subset, tuned, variant)
                if c is None:
                    continue
                cell = frame[(frame["variant"] == tuned) & (frame["subset"] == subset)]
                seeds = int(cell["seeds"].max())
                lines.append(
                    f"- {name}: {sentence(c)}; `{tuned}` {_mean_sd(cell['accuracy'].to_numpy())}% over the folds, "
                    f"{seeds} seed{'s' if seeds > 1 else ''} per fold."
                )
    if not lines:
        return "**Not yet measured**: no fine-tuned runs beside frozen ones. `make twitter-finetune` runs them.\n"
    return READING + "\n\n" + "\n".join(lines) + "\n"


def verdict_text(runs: list[dict[str, Any]], variant: str = "attention-learned") -> str:
    """Per subset, in words: does ``variant`` beat each baseline, pair by pair?"""
    frame = fold_frame(runs)
    lines = []
    for subset, name in SUBSETS.items():
        found = [c for baseline in BASELINES if (c := contrast(runs, subset, variant, baseline))]
        if found:
            lines.append(f"- {name}: " + "; ".join(sentence(c) for c in found) + ".")
    if not lines:
        return f"**Not yet measured**: no paired runs of `{variant}`.\n"
    largest = max(
        abs(100 * paired(frame, subset, a, b).mean())
        for subset in SUBSETS
        for a in _ordered_variants(frame)
        for b in _ordered_variants(frame)
        if a != b and len(paired(frame, subset, a, b))
    )
    return (
        READING
        + "\n\n"
        + "\n".join(lines)
        + f"\n\nThe largest mean paired difference between any two variants on any subset is {largest:.1f} points; "
        "the paper's Table 1 puts 29 points between its attention model and the whole image.\n"
    )


def examples_run(runs: list[dict[str, Any]], model: str = "attention-learned") -> dict[str, Any] | None:
    """The run whose attention examples the figure shows: ``model`` (a :func:`label`) on the most
    agreed subset, its first fold and lowest seed."""
    order = list(SUBSETS)
    candidates = [r for r in runs if label(r) == model and r.get("examples")]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda r: (
            order.index(r["config"]["twitter_subset"]) if r["config"]["twitter_subset"] in order else 9,
            r["config"]["cv_fold"],
            r["config"]["seed"],
        ),
    )


def examples_figure(run: dict[str, Any], data_root: str | Path | None, path: str | Path) -> tuple[Path, bool]:
    """Draw the run's correct and wrong test examples; over the photographs when ``data_root``
    holds them, else the attention grids alone. Returns the PNG's path and whether photos were used."""
    from PIL import Image

    from visent.data.images import ImageError, load_image
    from visent.data.table import CLASS_NAMES
    from visent.reporting.viz import overlay_grid

    examples = run["examples"]
    root = Path(data_root) if data_root else None
    images, with_photos = [], True
    for e in examples:
        try:
            if root is None:
                raise ImageError(e["path"], "no data root")
            images.append(load_image(root / e["path"]))
        except (ImageError, OSError):
            with_photos = False
            break
    side = int(round(np.sqrt(len(examples[0]["o"]))))
    if not with_photos:
        images = [Image.new("RGB", (side * 16, side * 16), (128, 128, 128)) for _ in examples]
    titles = [
        f"{'right' if e['correct'] else 'WRONG'}: {CLASS_NAMES[e['label']]}, p(pos) {e['p_positive']:.2f}"
        for e in examples
    ]
    overlay_grid(images, np.array([e["o"] for e in examples]), titles, ncols=4, path=path)
    return Path(path), with_photos


def folds_figure(frame: pd.DataFrame, path: str | Path) -> Path:
    """:func:`folds_plot` saved as a PNG at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folds_plot(frame).savefig(path, format="png", dpi=100)
    return path


def folds_plot(frame: pd.DataFrame) -> Figure:
    """Each fold's accuracy per variant (one line per fold across the variants), one panel per
    subset: paired differences are the slopes."""

    variants = _ordered_variants(frame)
    subsets = [s for s in SUBSETS if s in set(frame["subset"])]
    fig = Figure(figsize=(3.6 * len(subsets), 3.4), layout="constrained")
    axes = fig.subplots(1, len(subsets), squeeze=False, sharey=True)[0]
    for ax, subset in zip(axes, subsets):
        pick = frame[frame["subset"] == subset].pivot(index="fold", columns="variant", values="accuracy")
        pick = pick[[v for v in variants if v in pick]]
        x = np.arange(len(pick.columns))
        for fold, row in pick.iterrows():
            ax.plot(x, 100 * row.to_numpy(), marker="o", alpha=0.7, label=f"fold {fold + 1}")
        ax.plot(x, 100 * pick.mean().to_numpy(), color="black", linewidth=2.5, marker="s", label="mean")
        # Slanted and anchored at their end, the long variant names do not run into each other.
        ax.set_xticks(x, list(pick.columns), rotation=35, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_title(SUBSETS[subset])
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    # Beside the panels, not over the lines.
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, frameon=False)
    return fig
