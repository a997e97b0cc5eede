"""The words chapter (Twitter II): what the texts hold, the text weighting chosen on validation, the
accuracies and paired contrasts with their intervals (:mod:`visent.reporting.stats`), the attention
maps of the same photographs under each query, and the verdict read from the intervals."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from visent.backbone import finetune_choices
from visent.config import default_of, run_label
from visent.model import VARIANTS
from visent.model.queries import QUERY_SOURCES
from visent.model.text import TEXT_WEIGHTINGS
from visent.reporting import cv_report, stats
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
#: The paired contrasts the chapter reads, as (model, reference) variants: the two questions first
#: (does word-steered attention beat pooling; does it beat the words alone, i.e. the classifier of
#: the whole text, the stronger of the two word-only controls), then the controls.
CONTRASTS = (
    ("attention-text", "gap"),
    ("attention-vso-adjective", "gap"),
    ("attention-text", "text-only"),
    ("attention-vso-adjective", "text-only"),
    ("attention-vso-adjective", "vso-adjective-only"),
    ("attention-text", "attention-text-shuffled"),
    ("attention-learned", "gap"),
    ("linear-probe", "gap"),
)
#: Which contrasts answer which of the chapter's two questions.
QUESTIONS = {"beats pooling": CONTRASTS[:2], "beats the words alone": CONTRASTS[2:4]}
#: The two accuracies every Twitter II number is given in: the test partitions are 78% positive, so
#: accuracy rewards predicting the majority class and balanced accuracy (the mean per-class recall)
#: measures what the model tells apart.
METRICS = {"test_accuracy": "accuracy", "test_balanced_accuracy": "balanced accuracy"}
#: The metric the verdict is read on: the main protocol trains on balanced classes, so on the
#: imbalanced test partitions accuracy mostly measures how often a model says "positive".
VERDICT_METRIC = "test_balanced_accuracy"
#: The models whose attention the maps figure shows, on the same photographs: the words' query, the
#: adjective's, and the learned query's that they are compared with (``gap``'s weights are uniform).
MAP_MODELS = ("attention-text", "attention-vso-adjective", "attention-learned")
#: Photographs per row of the maps figure.
MAP_PHOTOS = 5


def _reads_weighting(variant: str) -> bool:
    source = VARIANTS[variant].attribute_source
    return source is not None and "text_weighting" in QUERY_SOURCES[source].settings


def _cell(interval: tuple[float, float, float], unit: str = "") -> str:
    """``62.2 [54.2, 70.2]`` in a table whose header says %, ``62.2% [54.2, 70.2]`` in prose."""
    mean, low, high = interval
    return f"{100 * mean:.1f}{unit} [{100 * low:.1f}, {100 * high:.1f}]"


def distance(o: Any, other: Any) -> float:
    """Total-variation distance of two attention maps: 0 identical, 1 on disjoint regions."""
    p, q = (np.clip(np.asarray(x, dtype=float), 0, None) for x in (o, other))
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def effective_regions(o: Any) -> float:
    """exp of the entropy of an attention map: 196 for uniform weights over 196 regions, 1 for one."""
    p = np.clip(np.asarray(o, dtype=float), 0, None)
    p = p / p.sum()
    nonzero = p[p > 0]
    return float(np.exp(-(nonzero * np.log(nonzero)).sum()))


class WordsChapter:
    """The chapter's runs, read once: the weighting the rule chose, each protocol's models, the
    paired contrasts with their intervals and the verdict they allow."""

    def __init__(self, runs: list[dict[str, Any]]):
        self.runs = runs
        chosen, _ = weighting_choice(runs)
        #: The text weighting of every text query in the chapter's tables (the default until chosen).
        self.weighting = chosen or str(default_of("text_weighting"))
        self.protocols = by_protocol(runs)
        self.main = self.protocols[BALANCED]

    def label(self, variant: str, finetune: str = "none") -> str:
        """The model name of ``variant`` here: text queries carry the chosen weighting."""
        return run_label(variant, finetune, {"text_weighting": self.weighting})

    def models(self, protocol: str = BALANCED) -> dict[str, list[dict[str, Any]]]:
        """The runs of each model (``attention-text-mean``, ``gap-ft-conv5``) in table order; of the
        models that read the weighting, only those with the chosen one (the others are the comparison
        of :func:`weighting_text`)."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for run in self.protocols[protocol]:
            if _reads_weighting(run["variant"]) and _weighting_of(run) != self.weighting:
                continue
            grouped.setdefault(cv_report.label(run), []).append(run)
        order = {name: k for k, name in enumerate(n for v in VARIANTS for n in (v, *cv_report.fine_tuned_of(v)))}
        return dict(sorted(grouped.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))

    def best_word_steered(self) -> str | None:
        """The word-steered variant with the higher mean validation accuracy over its frozen
        main-protocol runs: the one that is fine-tuned. None before both have run."""
        means = self._validation_means()
        return max(means, key=lambda v: means[v]) if len(means) == len(WORD_STEERED) else None

    def _validation_means(self) -> dict[str, float]:
        models = self.models()
        runs = {v: models.get(self.label(v), []) for v in WORD_STEERED}
        return {v: float(np.mean([r["metrics"]["val_accuracy"] for r in rs])) for v, rs in runs.items() if rs}

    def finetune_choice_text(self) -> str:
        """Which word-steered variant the fine-tuned rows use, and the validation means that chose it."""
        best = self.best_word_steered()
        if best is None:
            return ""
        means = self._validation_means()
        other = next(v for v in WORD_STEERED if v != best)
        return (
            f"The fine-tuned rows (`-ft-conv5`) are `gap` and the word-steered variant with the higher mean "
            f"validation accuracy over its frozen runs, `{self.label(best)}` ({100 * means[best]:.1f}% against "
            f"{100 * means[other]:.1f}% for `{self.label(other)}`).\n"
        )

    @functools.cache  # noqa: B019 - one chapter per build; the contrasts are read by every snippet
    def contrasts(self) -> list[dict[str, Any]]:
        """Each contrast of :data:`CONTRASTS` whose two models ran in the main protocol, then each
        fine-tuned model against its frozen twin (on the seeds both ran): a :class:`stats.Contrast`
        per metric of :data:`METRICS`, and the accuracy's bootstrap over the pooled test images."""
        models = self.models()
        pairs = [(self.label(a), self.label(b)) for a, b in CONTRASTS]
        pairs += [
            (self.label(v, block), self.label(v))
            for v in VARIANTS
            for block in finetune_choices()
            if block != "none" and self.label(v, block) in models
        ]
        out = []
        for a, b in pairs:
            if a not in models or b not in models:
                continue
            keys = {stats.pair_key(r) for r in models[a]} & {stats.pair_key(r) for r in models[b]}
            runs_a = [r for r in models[a] if stats.pair_key(r) in keys]
            runs_b = [r for r in models[b] if stats.pair_key(r) in keys]
            if len(keys) < 2:
                continue
            found: dict[str, Any] = {"a": a, "b": b}
            for metric in METRICS:
                found[metric] = stats.contrast(runs_a, runs_b, metric, a=a, b=b)
            found["bootstrap"] = stats.contrast(runs_a, runs_b, method=stats.BOOTSTRAP, a=a, b=b)
            out.append(found)
        return out

    def answers(self) -> dict[str, bool | None]:
        """Each of :data:`QUESTIONS`, answered from the main protocol's intervals on the verdict
        metric: True when a word-steered model beats the reference; None before all have run."""
        found = {(c["a"], c["b"]): c for c in self.contrasts()}
        answers: dict[str, bool | None] = {}
        for question, pairs in QUESTIONS.items():
            labelled = [(self.label(a), self.label(b)) for a, b in pairs]
            if not all(p in found for p in labelled):
                answers[question] = None
                continue
            answers[question] = any(found[p][VERDICT_METRIC].verdict() == "beats" for p in labelled)
        return answers

    def majority_rate(self) -> float:
        """The accuracy of always answering positive, over the test partitions."""
        return float(np.mean([y for r in _one_per_fold(self.runs) for y in r["predictions"]["label"]]))

    def accuracy_frame(self, protocol: str = BALANCED) -> pd.DataFrame:
        """Each model's accuracy and balanced accuracy (%) with their 95% intervals, and the majority
        class beside them; empty before the protocol has run."""
        rows = [
            {
                "model": f"`{model}`",
                **{f"{title} (%)": _cell(stats.mean_interval(members, m)) for m, title in METRICS.items()},
                "folds × seeds": f"{len({stats.pair_key(r)[0] for r in members})} × "
                f"{len({stats.pair_key(r)[1] for r in members})}",
            }
            for model, members in self.models(protocol).items()
        ]
        if rows:
            rows.append(
                {
                    "model": "always positive (the majority class)",
                    "accuracy (%)": f"{100 * self.majority_rate():.1f}",
                    "balanced accuracy (%)": "50.0",
                    "folds × seeds": "–",
                }
            )
        return pd.DataFrame(rows)

    def accuracy_text(self) -> str:
        """:meth:`accuracy_frame` of each protocol, the main one first."""
        sections = []
        for name in self.protocols:
            frame = self.accuracy_frame(name)
            body = markdown_table(frame) if len(frame) else "not yet measured."
            sections.append(f"**{name}**\n\n{body}\n")
        return (
            "Test accuracy in %, the mean over partitions × seeds with its 95% interval (see *How the "
            "intervals are computed* above), on the release's test partitions:\n\n" + "\n".join(sections)
        )

    def contrasts_frame(self) -> pd.DataFrame:
        """The main protocol's contrasts: each metric's paired difference with its interval and p,
        the accuracy's bootstrap over images, and the number of pairs."""
        rows = []
        for c in self.contrasts():
            row: dict[str, Any] = {"comparison": f"`{c['a']}` − `{c['b']}`"}
            for metric, title in METRICS.items():
                row[f"{title} (points)"] = c[metric].points()
                row[f"{title} p"] = f"{c[metric].p:.2f}"
            row["accuracy, bootstrap over images"] = c["bootstrap"].points()
            row["pairs"] = c["test_accuracy"].n
            rows.append(row)
        return pd.DataFrame(rows)

    def contrasts_figure(self, path: str | Path) -> Path | None:
        """The main protocol's paired differences with their intervals, one panel per metric; green
        where the interval is above 0, red below, grey across. None before any contrast."""
        from matplotlib.figure import Figure

        found = self.contrasts()
        if not found:
            return None
        fig = Figure(figsize=(10, 0.42 * len(found) + 1.3), layout="constrained")
        axes = fig.subplots(1, len(METRICS), sharey=True, squeeze=False)[0]
        y = np.arange(len(found))[::-1]
        for ax, (metric, title) in zip(axes, METRICS.items(), strict=True):
            for k, c in zip(y, found, strict=True):
                d = c[metric]
                colour = "tab:green" if d.low > 0 else "tab:red" if d.high < 0 else "tab:gray"
                ax.plot([100 * d.low, 100 * d.high], [k, k], color=colour, linewidth=2)
                ax.plot(100 * d.mean, k, "o", color=colour)
            ax.axvline(0, color="black", linewidth=0.8)
            ax.set_xlabel(f"{title} (points)")
            ax.grid(axis="x", alpha=0.3)
        axes[0].set_yticks(y, [f"{c['a']} − {c['b']}" for c in found], fontsize=8)
        fig.suptitle("paired difference with its 95% interval", fontsize=10)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
        return path

    def map_panels(self) -> list[tuple[str, dict[str, Any]]]:
        """For each model of :data:`MAP_MODELS` that ran: its main-protocol run of the first fold and
        lowest seed, whose ``attention_panel`` holds the same test photographs for every model."""
        models = self.models()
        out = []
        for variant in MAP_MODELS:
            members = [r for r in models.get(self.label(variant), []) if r.get("attention_panel")]
            if members:
                out.append((self.label(variant), min(members, key=stats.pair_key)))
        return out

    def maps_figure(self, data_root: str | Path | None, path: str | Path) -> tuple[Path, bool] | None:
        """One row per model, the same photographs in the columns, each with the model's attention;
        over the photographs when ``data_root`` holds them. None before any attention run."""
        from PIL import Image

        from visent.data.images import ImageError, load_image
        from visent.data.table import CLASS_NAMES
        from visent.reporting.viz import overlay_grid

        panels = self.map_panels()
        if not panels:
            return None
        photos = [e["path"] for e in panels[0][1]["attention_panel"][:MAP_PHOTOS]]
        try:
            images = [load_image(Path(data_root) / p) for p in photos] if data_root else []
        except (ImageError, OSError):
            images = []
        grid, titles, shown = [], [], []
        for model, run in panels:
            by_path = {e["path"]: e for e in run["attention_panel"]}
            for k, photo in enumerate(photos):
                e = by_path[photo]
                side = int(round(np.sqrt(len(e["o"]))))
                grid.append(e["o"])
                titles.append(f"{model}\n{CLASS_NAMES[e['label']]}, p(pos) {e['p_positive']:.2f}")
                shown.append(images[k] if images else Image.new("RGB", (side * 16, side * 16), (128, 128, 128)))
        overlay_grid(shown, np.array(grid), titles, ncols=len(photos), path=path)
        return Path(path), bool(images)

    def maps_text(self, figure: tuple[Path, bool] | None) -> str:
        """The maps figure's include, and how widely each model's attention spreads over the panel."""
        if figure is None:
            return "**Not yet measured**: no attention run with an attention panel.\n"
        png, with_photos = figure
        panels = self.map_panels()
        spread = "; ".join(
            f"`{model}` {np.mean([effective_regions(e['o']) for e in run['attention_panel']]):.0f}"
            for model, run in panels
        )
        first = panels[0][1]
        reference = dict(panels).get(self.label("attention-learned"))
        apart = "; ".join(
            f"`{model}` {self._mean_distance(run, reference):.2f}"
            for model, run in panels
            if reference not in (None, run)
        )
        shown = (
            "over the photographs" if with_photos else "alone (the photographs were not found: rebuild with the data)"
        )
        return (
            f"```{{figure}} _generated/{png.name}\n:name: fig-twitter2-maps\n:width: 100%\n\n"
            f"Attention $o$ of eq. (5) on the same test photographs of partition {first['config']['cv_fold'] + 1} "
            f"(seed {first['config']['seed']}, balanced training), one row per model, {shown}; each title gives "
            "the label and the model's p(positive). `gap`, not shown, weighs every region alike. Each panel has "
            "its own colour scale.\n```\n\n"
            "How many regions the attention spreads over (the exponential of the entropy of $o$: 196 is "
            f"uniform, 1 a single region), mean over the {len(first['attention_panel'])} test photographs of "
            f"the panel: {spread}."
            + (
                " How far each word-steered map lies from the learned query's on the same photograph "
                f"(total-variation distance, 0 identical, 1 disjoint), mean over the panel: {apart}.\n"
                if apart
                else "\n"
            )
        )

    @staticmethod
    def _mean_distance(run: dict[str, Any], reference: dict[str, Any]) -> float:
        pairs = zip(run["attention_panel"], reference["attention_panel"], strict=True)
        return float(np.mean([distance(e["o"], r["o"]) for e, r in pairs]))

    def _reads(self, c: dict[str, Any]) -> str:
        main, other = c[VERDICT_METRIC], c["test_accuracy"]
        return (
            f"`{c['a']}` {main.verdict()} `{c['b']}` on balanced accuracy ({main.points()} points, "
            f"p = {main.p:.2f}; accuracy {other.points()})"
        )

    def verdict_text(self) -> str:
        """The answer in words: each contrast read from its interval, what the words alone carry,
        the released protocol, and the two questions' answers."""
        answers = self.answers()
        if None in answers.values():
            return "**Not yet measured**: the word-steered models and their references have not all run.\n"
        lines = [f"- {self._reads(c)}." for c in self.contrasts()]
        text_only = self.label("text-only")
        mean, low, high = stats.mean_interval(self.models()[text_only], VERDICT_METRIC)
        carry = "above" if low > 0.5 else "below" if high < 0.5 else "not distinguishable from"
        released = self.models(AS_RELEASED)
        above = [m for m, members in released.items() if stats.mean_interval(members, VERDICT_METRIC)[1] > 0.5]
        released_line = (
            f"Trained on the partitions as released (78% positive), {len(released) - len(above)} of the "
            f"{len(released)} models have a balanced accuracy whose interval includes 50%"
            + (f" (not: {', '.join(f'`{m}`' for m in above)})" if above else "")
            + f", and their accuracy sits near the majority rate of {100 * self.majority_rate():.1f}%: they "
            "learn how often a tweet is positive rather than which one is.\n\n"
            if released
            else ""
        )

        def does(yes: bool | None) -> str:
            return "does" if yes else "does not"

        return (
            "Each paired difference (model minus reference, on the same partitions and seeds) is read as a "
            "difference only where its 95% interval excludes 0, on balanced accuracy (the test partitions are "
            "78% positive):\n\n"
            + "\n".join(lines)
            + f"\n\nThe words alone (`{text_only}`, no image) reach {_cell((mean, low, high), '%')} balanced "
            f"accuracy, {carry} chance (50%).\n\n"
            + released_line
            + "**The answer.** On real photographs with the words people wrote, attention steered by those words "
            f"{does(answers['beats pooling'])} beat pooling the regions (`gap`), and it "
            f"{does(answers['beats the words alone'])} beat the words alone.\n"
        )

    def findings_text(self) -> str:
        """The front page's Twitter II finding: word-steered attention against pooling and the words alone."""
        answers = self.answers()
        if None in answers.values():
            return "- **Twitter II** (real photographs with their tweets' words): not yet measured.\n"
        models = self.models()
        cells = {
            v: _cell(stats.mean_interval(models[self.label(v)], VERDICT_METRIC), "%")
            for v in ("attention-text", "gap", "text-only")
        }
        return (
            "- **Twitter II** (603 tweeted photographs with the words of their tweets, 5 official partitions, "
            f"3 seeds; balanced accuracy, 95% intervals): attention steered by the tweet's words "
            f"{cells['attention-text']}, pooling the regions (`gap`) {cells['gap']}, the words alone "
            f"{cells['text-only']}. Word-steered attention {'beats' if answers['beats pooling'] else 'does not beat'} "
            f"pooling and {'beats' if answers['beats the words alone'] else 'does not beat'} the words alone "
            "({doc}`twitter2`).\n"
        )
