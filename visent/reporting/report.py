"""Markdown snippets for the book, generated from result files, so the chapters type no measured number.

Each chapter ``{include}``s a file of ``book/_generated``; :func:`write_includes` rewrites all of
them. Where a result is missing a snippet says "not yet measured" instead of showing a number.

Where the numbers come from:

* run results (one JSON per run, see ``visent.reporting.results``): every ``*.json`` directly in
  ``results_dir`` and in its subfolders (``results/table1/`` ...), except ``bench/``;
* benchmarks: ``results_dir/bench/*.json``, one JSON object per benchmark; its scalar fields (nested
  objects flattened as ``a.b``) become the columns, and an optional ``env`` object its provenance;
* the adjective leak: ``visent.reporting.leak.rules_table`` on an ontology file (``--ontology`` or the
  ``VISENT_ONTOLOGY`` environment variable).

Every table ends with a provenance line (runs, dates, commit, device, preset); runs made with
random backbone weights are marked "RANDOM: not a result".

Usage: ``python -m visent.reporting.report --results-dir results --out-dir book/_generated --ontology FILE``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from visent.backbone import DEFAULT_BACKBONE, get_backbone
from visent.config import PRESETS, default_of
from visent.data.layouts import LAYOUTS
from visent.data.ontology import load_ontology
from visent.data.splits import SCHEMES
from visent.model import VARIANTS, missing_inputs
from visent.reporting import cv_report, findings, words
from visent.reporting.leak import rules_table
from visent.reporting.published import PUBLISHED, Published, load_published, published_frame
from visent.reporting.results import (
    BENCH_FOLDER,
    ResultsError,
    json_object,
    load_results,
    markdown_table,
    results_frame,
)

__all__ = [
    "CONTRASTS",
    "PAPER_TABLE1",
    "ResultsError",
    "bench_snippet",
    "contrasts_snippet",
    "extended_snippet",
    "headline_snippet",
    "leak_snippet",
    "load_results",
    "main",
    "presets_snippet",
    "provenance",
    "published_snippet",
    "replication_runs",
    "run_list",
    "summary_frame",
    "table1_snippet",
    "variants_snippet",
    "with_downloads",
    "write_includes",
]

ONTOLOGY_ENV = "VISENT_ONTOLOGY"
NOT_MEASURED = "not yet measured"
NOT_APPLICABLE = "–"
# Every metric is shown in percent with one decimal; tabulate re-parses numeric strings, so the
# format must be given to it rather than applied before.
PERCENT = ".1f"

#: The paper's Table 1 (binary accuracy on VSO, in %) and the variant that reproduces each row.
PAPER_TABLE1: tuple[tuple[str, str, float], ...] = (
    ("Whole image: the sentiment detector of its ref. [10]", "gap", 70.0),
    ("Attention guided by the true attribute (eqs. 1-6)", "attention-truth", 99.0),
)

#: The comparisons the reproduction report reads: (question, variant minus variant, on a split).
CONTRASTS: tuple[tuple[str, str, str, str], ...] = (
    ("What the paper credits to attention", "attention-truth", "gap", "random"),
    ("What the image adds to the adjective", "attention-truth", "adjective-only", "random"),
    ("Does the true adjective matter?", "attention-truth", "attention-shuffled", "random"),
    ("Attention without any adjective", "attention-learned", "gap", "random"),
    ("Attention with a predicted adjective (no leak)", "attention-predicted", "gap", "random"),
    ("The paper's model on adjectives never seen in training", "attention-truth", "gap", "heldout-adjectives"),
)

# Display names of the metric columns, all shown in percent.
_METRICS: dict[str, str] = {
    "test_accuracy": "test accuracy (%)",
    "test_balanced_accuracy": "balanced accuracy (%)",
    "attention_in_region": "attention in region (%)",
    "region_share": "chance: region share (%)",
    "pointing_game": "pointing game (%)",
}


def replication_runs(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of the replication's tables: split runs, without cross-validation runs and summaries
    (those have the real-photographs chapter, :mod:`visent.reporting.cv_report`)."""
    return [r for r in results if r.get("kind") != "cv-summary" and not r["config"].get("cv_folds")]


def _percent(values: pd.Series) -> str:
    """Mean in percent, with the sample standard deviation over runs when there are several."""
    values = values.dropna().astype(float)
    if values.empty:
        return NOT_APPLICABLE
    if len(values) == 1:
        return f"{100 * values.iloc[0]:.1f}"
    return f"{100 * values.mean():.1f} ± {100 * values.std(ddof=1):.1f}"


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the paper's order: dataset, then split (random first), then variant as in VARIANTS."""
    return (
        frame.assign(
            _split=frame["split"].map({s: k for k, s in enumerate(SCHEMES)}),
            _variant=frame["variant"].map({v: k for k, v in enumerate(VARIANTS)}),
        )
        .sort_values(["dataset", "_split", "_variant"])
        .drop(columns=["_split", "_variant"])
    )


def summary_frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (dataset, split, variant): metrics as "mean ± sd" in percent over the runs (seeds)."""
    columns = ["dataset", "split", "variant", *_METRICS.values(), "epochs", "runs", "weights", "random_weights"]
    if not results:
        return pd.DataFrame(columns=columns)
    runs = results_frame(results)
    runs["region_share"] = [r["metrics"].get("region_share") for r in results]
    rows = []
    for (dataset, split, variant), group in runs.groupby(["dataset", "split", "variant"], sort=False):
        row = {"dataset": dataset, "split": split, "variant": variant}
        row |= {label: _percent(group[key]) for key, label in _METRICS.items()}
        epochs = group["epochs"].dropna()
        row["epochs"] = ", ".join(str(int(e)) for e in sorted(set(epochs))) or NOT_APPLICABLE
        row["runs"] = len(group)
        row["weights"] = ", ".join(sorted(set(group["weights"])))
        row["random_weights"] = bool(group["random_weights"].any())
        rows.append(row)
    return _order(pd.DataFrame(rows, columns=columns)).reset_index(drop=True)


def _dates(dates: Iterable[str | None]) -> str:
    days = sorted({d[:10] for d in dates if d})
    if not days:
        return "unknown dates"
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


def _commits(envs: list[dict[str, Any]]) -> str:
    labels = set()
    for env in envs:
        commit = env.get("commit")
        label = f"`{commit[:7]}`" if commit else "unknown"
        labels.add(label + (" with uncommitted changes" if env.get("dirty") else ""))
    return ("commit " if len(labels) == 1 else "commits ") + ", ".join(sorted(labels))


def provenance(results: list[dict[str, Any]]) -> str:
    """Which runs a table comes from, when, from which commit, on which device and preset.

    One line, then the run ids in a collapsed block (a table may rest on dozens of runs).
    """
    if not results:
        return "*Provenance*: no runs."
    envs = [r["env"] for r in results]
    devices = sorted({str(e.get("device")) for e in envs})
    presets = sorted({str(r["config"].get("preset")) for r in results})
    folders = sorted({f"`{Path(r['_path']).parent / '*.json'}`" for r in results if "_path" in r})
    line = (
        f"*Provenance*: {len(results)} run{'s' if len(results) > 1 else ''}"
        + (f" from {', '.join(folders)}" if folders else "")
        + f"; measured {_dates(e.get('date') for e in envs)}; {_commits(envs)};"
        f" device {', '.join(devices)}; preset {', '.join(presets)}."
    )
    random = sorted(r["run_id"] for r in results if r["backbone"]["weights"].get("is_random"))
    if random:
        line += f" **RANDOM: not a result**: {', '.join(f'`{r}`' for r in random)} ran on random backbone weights."
    run_ids = ", ".join(f"`{r}`" for r in sorted(r["run_id"] for r in results))
    return f"{line}\n\n:::{{dropdown}} Run ids\n{run_ids}\n:::"


def _not_measured(reason: str) -> str:
    return f"**Not yet measured**: {reason}\n"


def _missing(what: str, results_dir: str | Path) -> str:
    return _not_measured(
        f"no {what} in `{results_dir}`. `make run` writes them (see the chapter on using your own data)."
    )


def runnable_variants(layout: str) -> list[str]:
    """The variants whose queries the ``layout``'s datasets can feed without further flags, in table order."""
    provides = LAYOUTS[layout].provides
    return [name for name in VARIANTS if not missing_inputs(name, provides, ())]


def headline_snippet(results: list[dict[str, Any]], results_dir: str | Path = "results") -> str:
    """Every variant that can run on the dataset (``runnable_variants``) on the random 80/10/10 split,
    per dataset; unmeasured ones say so."""
    frame = summary_frame(results)
    frame = frame[frame["split"] == "random"]
    measured = {(row["dataset"], row["variant"]): row for row in frame.to_dict("records")}
    shown = [_METRICS["test_accuracy"], _METRICS["test_balanced_accuracy"]]
    layouts = {r["dataset"]["name"]: r["config"].get("dataset", default_of("dataset")) for r in results}
    rows = []
    for dataset in sorted(set(frame["dataset"])) or [NOT_APPLICABLE]:
        for variant in runnable_variants(layouts.get(dataset, default_of("dataset"))):
            row = measured.get((dataset, variant))
            rows.append(
                {"dataset": dataset, "variant": variant}
                | {key: row[key] if row else NOT_MEASURED for key in shown}
                | {
                    "runs": row["runs"] if row else 0,
                    "weights": row["weights"] if row else NOT_APPLICABLE,
                    "random_weights": row["random_weights"] if row else False,
                }
            )
    table = markdown_table(pd.DataFrame(rows), PERCENT)
    used = [r for r in results if r["config"]["split"] == "random"]
    if not used:
        return f"{table}\n\n{_missing('run results on the random split', results_dir)}"
    return f"{table}\n\n{provenance(used)}\n"


def table1_snippet(results: list[dict[str, Any]], results_dir: str | Path = "results") -> str:
    """The paper's Table 1 beside ours: one column per dataset measured on the random split."""
    frame = summary_frame(results)
    frame = frame[frame["split"] == "random"]
    columns = {f"ours, {d} (%)": d for d in sorted(set(frame["dataset"]))} or {"ours (%)": None}
    accuracy = dict(zip(zip(frame["dataset"], frame["variant"]), frame[_METRICS["test_accuracy"]]))
    rows = []
    for label, variant, paper in PAPER_TABLE1:
        row = {"model (paper)": label, "ours": f"`{variant}`", "paper, VSO (%)": f"{paper:.0f}"}
        row |= {column: accuracy.get((d, variant), NOT_MEASURED) for column, d in columns.items()}
        rows.append(row)
    table = markdown_table(pd.DataFrame(rows), PERCENT)
    variants = {variant for _, variant, _ in PAPER_TABLE1}
    used = [r for r in results if r["config"]["split"] == "random" and r["variant"] in variants]
    if not used:
        return f"{table}\n\n{_missing('run results of these variants on the random split', results_dir)}"
    return f"{table}\n\n{provenance(used)}\n"


def extended_snippet(results: list[dict[str, Any]], results_dir: str | Path = "results") -> str:
    """Every variant, split and dataset: one table of accuracies, one of localisation beside its chance level.

    Two tables rather than one: together they have a dozen columns, more than a page is wide.
    """
    if not results:
        return _missing("run results", results_dir)
    frame = summary_frame(results)
    keys = ["dataset", "split", "variant"]
    accuracy = keys + [_METRICS[m] for m in ("test_accuracy", "test_balanced_accuracy")]
    accuracy += ["epochs", "runs", "weights", "random_weights"]
    localisation = keys + [_METRICS[m] for m in ("attention_in_region", "region_share", "pointing_game")]
    return (
        f"{markdown_table(frame[accuracy], PERCENT)}\n\n"
        f"{markdown_table(frame[localisation], PERCENT)}\n\n{provenance(results)}\n"
    )


def _contrast(results: list[dict[str, Any]], dataset: str, a: str, b: str, split: str) -> str:
    """``a`` − ``b`` on ``split`` in words with its 95% interval (:func:`cv_report.paired_contrast`,
    runs with the same split and seed are pairs); with one pair only, the difference of the means."""
    runs_a, runs_b = (
        [r for r in results if (r["dataset"]["name"], r["variant"], r["config"]["split"]) == (dataset, v, split)]
        for v in (a, b)
    )
    if not runs_a or not runs_b:
        return NOT_MEASURED
    c = cv_report.paired_contrast(runs_a, runs_b, a, b)
    if c is None:
        mean = np.mean([r["metrics"]["test_accuracy"] for r in runs_a])
        mean -= np.mean([r["metrics"]["test_accuracy"] for r in runs_b])
        return f"{100 * mean:+.1f} points (no two paired seeds: no interval)"
    return cv_report.sentence(c)


def contrasts_snippet(results: list[dict[str, Any]], results_dir: str | Path = "results") -> str:
    """Each question of ``CONTRASTS`` per dataset: the paired difference of test accuracies in points
    with its 95% interval, and what the interval allows one to say (see ``_contrast``)."""
    datasets = sorted({r["dataset"]["name"] for r in results})
    rows = []
    for question, a_variant, b_variant, split in CONTRASTS:
        row = {"question": question, "split": split}
        for dataset in datasets or ["difference"]:
            row[dataset] = _contrast(results, dataset, a_variant, b_variant, split) if results else NOT_MEASURED
        rows.append(row)
    table = markdown_table(pd.DataFrame(rows))
    if not results:
        return f"{table}\n\n{_missing('run results', results_dir)}"
    note = (
        "A minus B in accuracy points over the seeds both ran on the same split, with its 95% interval "
        "({ref}`how the intervals are computed <intervals>`); a difference is read as one only where its "
        "interval excludes 0."
    )
    return f"{table}\n\n{note}\n\n{provenance(results)}\n"


def leak_snippet(ontology: str | Path | None) -> str:
    """The adjective-leak rules of ``visent.reporting.leak`` on an ontology file, or why they are missing."""
    if ontology is None:
        return _not_measured(
            "no ontology file was given. Pass `--ontology path/to/3244ANPs.txt` to "
            f"`python -m visent.reporting.report`, or set `{ONTOLOGY_ENV}`."
        )
    path = Path(ontology)
    if not path.is_file():
        return _not_measured(
            f"the ontology file `{path.name}` was not found at `{path}`. "
            f"Point `--ontology` or `{ONTOLOGY_ENV}` at VSO's `3244ANPs.txt`."
        )
    table = rules_table(load_ontology(path))
    table["accuracy"] *= 100  # NaN stays NaN: the rule's description says why
    table = table.rename(columns={"accuracy": "accuracy (%)", "scored": "ANPs scored", "abstained": "ANPs abstained"})
    # The descriptions are sentences: a list below the table reads better than a narrow column.
    rules = "\n".join(f"- `{rule}`: {text}." for rule, text in zip(table["rule"], table["description"]))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return (
        f"{markdown_table(table[['rule', 'accuracy (%)', 'ANPs scored', 'ANPs abstained']], PERCENT)}\n\n{rules}\n\n"
        f"*Provenance*: computed by `visent.reporting.leak.rules_table` from `{path.name}` (sha256 `{digest}…`); "
        "no image is involved.\n"
    )


def presets_snippet() -> str:
    """The training schedules of ``visent.config.PRESETS`` and the optimiser settings they share."""
    shared = {key: default_of(key) for key in ("batch_size", "lr", "momentum")}
    rows = [{"preset": name, **schedule, **shared} for name, schedule in PRESETS.items()]
    # Headers with spaces wrap; the field names (iterations_per_epoch ...) would widen the table.
    frame = pd.DataFrame(rows).rename(columns=lambda name: name.replace("_", " "))
    return (
        f"{markdown_table(frame, 'g')}\n\n"
        "*Source*: `visent.config.PRESETS` and the defaults of `visent.config.RunConfig`.\n"
    )


def variants_snippet() -> str:
    """The model variants of ``visent.model.VARIANTS``: what feeds the attention, and why each exists."""
    rows = [
        {
            "variant": f"`{v.name}`",
            "attention query": v.attends,
            "sees the image": "yes" if v.uses_image else "no",
            "purpose": v.purpose,
        }
        for v in VARIANTS.values()
    ]
    return f"{markdown_table(pd.DataFrame(rows))}\n\n*Source*: `visent.model.VARIANTS`.\n"


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        elif value is None or isinstance(value, (str, int, float, bool)):
            flat[f"{prefix}{key}"] = value
    return flat


def _cell(value: Any) -> str:
    """A benchmark field as shown; a command line as code, whose ``--flags`` prose would print with
    an en dash that fails when copied."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"`{value}`" if isinstance(value, str) and " --" in value else str(value)


def bench_snippet(bench_dir: str | Path) -> str:
    """One section per benchmark file of ``bench_dir``.

    A benchmark that wrote its own report beside its JSON (``cpu.json`` and ``cpu.md``) is shown
    by that report, its headings one level down. Otherwise the JSON's scalar fields are listed as
    field/value rows, with a provenance line from its ``env``. Where no file was measured on a GPU,
    a last section says that the GPU figures are open.
    """
    files = sorted(Path(bench_dir).glob("*.json")) if Path(bench_dir).is_dir() else []
    if not files:
        return _not_measured(f"no benchmark files in `{bench_dir}`. The benchmarks write them there.")
    sections, on_gpu = [], False
    for path in files:
        data = json_object(path)
        recorded = data["env"] if isinstance(data.get("env"), dict) else {}
        on_gpu = on_gpu or bool(recorded.get("gpu")) or str(recorded.get("device", "")).startswith("cuda")
        report = path.with_suffix(".md")
        if report.is_file():
            sections.append(re.sub(r"^#", "##", report.read_text().strip(), flags=re.MULTILINE))
            continue
        env = data.pop("env", None)
        env = env if isinstance(env, dict) else {}
        name = data.pop("name", path.stem)
        rows = [{"field": key, "value": _cell(value)} for key, value in _flatten(data).items()]
        device = env.get("device") or env.get("gpu") or "unknown device"
        line = f"*Provenance*: `{path.name}`; measured {_dates([env.get('date')])}; {_commits([env])}; device {device}."
        table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)  # values as written
        sections.append(f"## Benchmark `{name}`\n\n{table}\n\n{line}")
    if not on_gpu:
        sections.append(
            "## GPU\n\n"
            + _not_measured(
                f"no benchmark in `{bench_dir}` ran on a GPU, so the GPU figures (backbone and end-to-end"
                " images/s, training steps/s, the paper-scale extrapolation) are open. `make bench-gpu` measures"
                " them in about 5 minutes on one GPU and writes `gpu-<name>.json` and `.md` there; this page"
                " then shows them."
            ).strip()
        )
    return "\n\n".join(sections) + "\n"


def published_snippet(
    entries: list[Published], frame: pd.DataFrame | None = None, source: str | Path = PUBLISHED
) -> str:
    """The published accuracies of one dataset, with ours below them when ``frame`` (a
    :func:`visent.reporting.cv_report.fold_frame`) has runs."""
    table = published_frame(entries)
    if frame is not None and len(frame):
        table = cv_report.beside_published(frame, table)
    # Protocols are sentences: the table names each by a letter, the list below spells it out.
    protocols = list(dict.fromkeys(zip(table["protocol"], table["read in"])))
    letters = {protocol: f"({chr(ord('a') + k)})" for k, protocol in enumerate(protocols)}
    table = table.drop(columns=["read in"]).assign(
        protocol=[letters[key] for key in zip(table["protocol"], table["read in"])]
    )
    listed = "\n".join(f"- {letters[key]} {key[0]}; read in {key[1]}." for key in protocols)
    note = (
        f"*Source*: `{Path(source).name}`, as each work reports its figures: only figures read in a source "
        "are listed, with the protocol that produced them. A figure measured on another protocol (no training "
        "on the dataset, other folds, a subset not stated) places ours; it does not compete with it."
    )
    return f"{table.to_markdown(index=False, disable_numparse=True)}\n\n{listed}\n\n{note}\n"  # as published


def twitter_snippets(
    results: list[dict[str, Any]],
    results_dir: str | Path,
    out: Path,
    twitter_root: str | Path | None = None,
    published: list[Published] | None = None,
) -> dict[str, str]:
    """The real-photographs chapter's snippets, and its attention figure drawn into ``out``
    (over the photographs when ``twitter_root``, else the runs' recorded data root, holds them);
    ``published``: the other works' figures on Twitter I, shown beside ours."""
    runs = cv_report.cv_runs(results)
    if not runs:
        missing = _not_measured(
            f"no Twitter I cross-validation results in `{results_dir}`. With the data, "
            "`make twitter TWITTER=/path/to/twitter_I` writes them."
        )
        return {
            name: missing
            for name in (
                "twitter_table.md",
                "twitter_contrasts.md",
                "twitter_maps.md",
                "twitter_schedule.md",
                "twitter_verdict.md",
                "twitter_finetune.md",
            )
        } | {"twitter_published.md": published_snippet(published or [])}
    frame = cv_report.fold_frame(runs)
    folds_png = cv_report.folds_figure(frame, out / "twitter-folds.png")
    table = markdown_table(cv_report.accuracy_table(frame)) + (
        f"\n\n```{{figure}} _generated/{folds_png.name}\n:name: fig-twitter-folds\n:width: 100%\n\n"
        "Test accuracy of each fold (mean over seeds), one line per fold across the variants; black: the mean. "
        "A line that rises from one variant to the next is a fold that the second variant wins.\n```"
    )
    contrasts = markdown_table(cv_report.contrasts_table(runs))
    figures = []
    for model in ("attention-learned", *cv_report.fine_tuned_of("attention-learned")):
        example = cv_report.examples_run(runs, model)
        if example is None:
            continue
        root = twitter_root or example["dataset"]["root"]
        suffix = model.removeprefix("attention-learned")
        png, photos = cv_report.examples_figure(example, root, out / f"twitter-maps{suffix}.png")
        shown = (
            "over the photographs"
            if photos
            else "alone: the photographs were not found, so only the grids are drawn (rebuild with the data)"
        )
        figures.append(
            # Relative to the chapter that includes the snippet (book/twitter.md includes _generated/*.md).
            f"```{{figure}} _generated/{png.name}\n:name: fig-twitter-maps{suffix}\n:width: 100%\n\n"
            f"Attention $o$ of eq. (5) of `{example['run_id']}` on test photographs of its fold, {shown}. "
            "Top row: the first four test images it classified right; bottom row: the first four it got wrong. "
            "Each panel has its own colour scale.\n```\n"
        )
    maps = "\n".join(figures) or _not_measured("no `attention-learned` run with attention examples.")
    return {
        "twitter_table.md": f"{table}\n\n{provenance(runs)}\n",
        "twitter_contrasts.md": f"{contrasts}\n\n{provenance(runs)}\n",
        "twitter_maps.md": maps,
        "twitter_schedule.md": cv_report.schedule_text(runs),
        "twitter_verdict.md": cv_report.verdict_text(runs),
        "twitter_finetune.md": cv_report.finetune_text(runs),
        "twitter_published.md": published_snippet(published or [], frame),
    }


def twitter2_snippets(
    results: list[dict[str, Any]], results_dir: str | Path, out: Path, twitter2_root: str | Path | None = None
) -> dict[str, str]:
    """The words chapter's snippets (Twitter II), its two figures drawn into ``out`` (the maps over
    the photographs when ``twitter2_root``, else the runs' recorded data root, holds them), and the
    front page's Twitter II finding."""
    runs = cv_report.cv_runs(results, layout=words.LAYOUT)
    names = ("data", "weighting", "schedule", "table", "contrasts", "maps", "verdict")
    if not runs:
        missing = _not_measured(
            f"no Twitter II results in `{results_dir}`. With the data, "
            "`make twitter2 TWITTER2=/path/to/twitter_II` writes them."
        )
        return {f"twitter2_{name}.md": missing for name in names} | {
            "findings_twitter2.md": words.WordsChapter([]).findings_text()
        }
    chapter = words.WordsChapter(runs)
    figure = chapter.contrasts_figure(out / "twitter2-contrasts.png")
    contrasts = markdown_table(chapter.contrasts_frame())
    if figure is not None:
        contrasts += (
            f"\n\n```{{figure}} _generated/{figure.name}\n:name: fig-twitter2-contrasts\n:width: 100%\n\n"
            "The paired differences of the table with their 95% intervals (corrected resampled t): green above 0, "
            "red below, grey across it.\n```"
        )
    root = twitter2_root or runs[0]["dataset"]["root"]
    maps = chapter.maps_figure(root, out / "twitter2-maps.png")
    line = provenance(runs)
    return {
        "twitter2_data.md": words.data_text(runs),
        "twitter2_weighting.md": words.weighting_text(runs),
        "twitter2_schedule.md": cv_report.schedule_text(runs),
        "twitter2_table.md": f"{chapter.accuracy_text()}\n{chapter.finetune_choice_text()}\n{line}\n",
        "twitter2_contrasts.md": f"{contrasts}\n\n{line}\n",
        "twitter2_maps.md": chapter.maps_text(maps),
        "twitter2_verdict.md": chapter.verdict_text(),
        "findings_twitter2.md": chapter.findings_text(),
    }


def findings_snippets(
    results: list[dict[str, Any]], everything: list[dict[str, Any]], ontology: str | Path | None, out: Path
) -> dict[str, str]:
    """The front page's findings (:mod:`visent.reporting.findings`), and their summary figure drawn
    into ``out``; the Twitter II finding (``findings_twitter2.md``) goes between the two."""
    paper = {variant: value for _, variant, value in PAPER_TABLE1}
    path = Path(ontology) if ontology else None
    rules = rules_table(load_ontology(path)) if path and path.is_file() else None
    runs = cv_report.cv_runs(everything)
    twitter2 = cv_report.cv_runs(everything, layout=words.LAYOUT)
    png = findings.summary_figure(findings.settings_frame(results, runs, paper, twitter2), out / "findings.png")
    return {
        "findings.md": findings.claim_text(paper)
        + findings.leak_text(rules, path.name if path else "3244ANPs.txt")
        + findings.synthetic_text(results)
        + findings.twitter_text(runs),
        "findings_figure.md": f"```{{figure}} _generated/{png.name}\n:name: fig-findings\n:width: 100%\n\n"
        "Test accuracy per setting: the paper's two numbers (hollow: no interval given) beside ours, each the mean "
        "over seeds (and folds) with its 95% interval ({ref}`how the intervals are computed <intervals>`).\n```\n",
    }


def write_includes(
    results_dir: str | Path = "results",
    out_dir: str | Path = "book/_generated",
    ontology: str | Path | None = None,
    twitter_root: str | Path | None = None,
    twitter2_root: str | Path | None = None,
    published: str | Path = PUBLISHED,
) -> list[Path]:
    """Write every snippet the chapters include into ``out_dir``; return their paths.

    ``ontology`` defaults to the ``VISENT_ONTOLOGY`` environment variable (unset: the leak snippet
    says the file was not given); ``published``: the other works' figures (``book/published.yml``).
    """
    if ontology is None:
        ontology = os.environ.get(ONTOLOGY_ENV) or None
    everything = load_results(results_dir)
    results = replication_runs(everything)
    literature = load_published(published)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    snippets = {
        "headline.md": headline_snippet(results, results_dir),
        "table1.md": table1_snippet(results, results_dir),
        "extended.md": extended_snippet(results, results_dir),
        "contrasts.md": contrasts_snippet(results, results_dir),
        "leak.md": leak_snippet(ontology),
        "bench.md": bench_snippet(Path(results_dir) / BENCH_FOLDER),
        "presets.md": presets_snippet(),
        "variants.md": variants_snippet(),
        **findings_snippets(results, everything, ontology, out),
        "glossary.md": findings.glossary_text(),
        **twitter_snippets(everything, results_dir, out, twitter_root, literature.get("twitter", [])),
        **twitter2_snippets(everything, results_dir, out, twitter2_root),
        "published_twitter2.md": published_snippet(literature.get("twitter2", []), source=published),
    }
    (out / RUN_LIST).write_text(json.dumps(run_list(everything), indent=1) + "\n")
    paths = []
    for name, text in snippets.items():
        path = out / name
        path.write_text(with_downloads(text, out / Path(name).stem))
        paths.append(path)
    return paths


#: Every run the book reads, one object per run, beside the snippets.
RUN_LIST = "runs.json"


def run_list(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What identifies each run and where its file is: the JSON download of the book's run list."""
    return [
        {
            "run_id": r["run_id"],
            "variant": r["variant"],
            "dataset": r["dataset"]["name"],
            "split": r["config"].get("split"),
            "subset": r["config"].get("twitter_subset"),
            "fold": r["config"].get("cv_fold") if r["config"].get("cv_folds") else None,
            "seed": r["config"].get("seed"),
            "finetune": r["config"].get("finetune", "none"),
            "test_accuracy": r["metrics"].get("test_accuracy"),
            "file": r.get("_path"),
            "date": r["env"].get("date"),
            "commit": r["env"].get("commit"),
            "device": r["env"].get("device"),
        }
        for r in results
    ]


def _table_rows(block: list[str]) -> list[list[str]]:
    """A markdown pipe table's header and body rows as cells, code marks removed (the separator dropped)."""
    rows = [[cell.strip().replace("`", "") for cell in line.strip().strip("|").split("|")] for line in block]
    return [rows[0], *rows[2:]]


def with_downloads(text: str, stem: Path) -> str:
    """``text`` with each markdown table also written as ``<stem>.csv`` (``<stem>-2.csv`` ... for the
    next ones) and linked below it, and a link to the run list after each provenance line."""
    out: list[str] = []
    block: list[str] = []
    count = 0

    def flush() -> None:
        nonlocal count
        if len(block) < 2 or not set(block[1]) <= set("|:- "):
            out.extend(block)
        else:
            count += 1
            path = stem.with_name(f"{stem.name}{'' if count == 1 else f'-{count}'}.csv")
            with path.open("w", newline="") as fh:
                csv.writer(fh).writerows(_table_rows(block))
            out.extend([*block, "", f"{{download}}`This table as CSV <_generated/{path.name}>`"])
        block.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            block.append(line)
            continue
        flush()
        out.append(line)
        if line.startswith("*Provenance*") and "run" in line:
            out.extend(["", f"{{download}}`Every run of the book as JSON <_generated/{RUN_LIST}>`"])
    flush()
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


README_BEGIN = (
    "<!-- results-table: generated from results/*.json by `python -m visent.reporting.report --readme README.md` -->"
)
README_END = "<!-- /results-table -->"


def readme_snippet(results: list[dict[str, Any]]) -> str:
    """The README's results table: the default synthetic data, random split, every variant, with
    how long the runs took and on what."""
    runs = [r for r in results if r["dataset"]["name"] == "synthetic" and r["config"]["split"] == "random"]
    if not runs:
        return _not_measured("no results of `make run` in results/")
    frame = summary_frame(runs)
    keys = [
        "variant",
        *(
            _METRICS[k]
            for k in ("test_accuracy", "test_balanced_accuracy", "attention_in_region", "region_share", "pointing_game")
        ),
        "runs",
    ]
    table = markdown_table(frame[keys + ["weights", "random_weights"]], PERCENT)
    seconds = sum(r["timing"].get("total_s", 0.0) for r in runs)
    extract = sum(r["timing"].get("extract_s", 0.0) for r in runs)
    first = runs[0]
    n = sum(first["dataset"][f"n_{s}"] for s in ("train", "val", "test"))
    envs = [r["env"] for r in runs]
    return (
        f"{table}\n\n{n} synthetic images, `{first['config']['preset']}` preset, "
        f"{first['backbone']['weights']['id']} weights; the {len(runs)} runs took {seconds / 60:.1f} min "
        + (
            f"(of which feature extraction {extract / 60:.1f} min) "
            if extract
            else "(training and evaluation; the features were extracted beforehand by `visent extract`) "
        )
        + f"on {first['env']['cpu_count']} CPU cores, device "
        f"{first['env']['device']}, {_dates(e.get('date') for e in envs)}, {_commits(envs)}."
    )


TWITTER_BEGIN = (
    "<!-- twitter-table: generated from results/twitter/*.json by "
    "`python -m visent.reporting.report --readme README.md` -->"
)
TWITTER_END = "<!-- /twitter-table -->"


def backbones_phrase(runs: list[dict[str, Any]]) -> str:
    """The backbones of ``runs`` as the results record them: ``VGG-16 conv5_3 (oxford-imagenet)``."""
    used = sorted({(r["config"].get("backbone", DEFAULT_BACKBONE), r["backbone"]["weights"]["id"]) for r in runs})
    return ", ".join(f"{get_backbone(b).title} {get_backbone(b).region_layer} ({w})" for b, w in used)


def twitter_readme_snippet(results: list[dict[str, Any]]) -> str:
    """The README's Twitter I table: accuracy per variant and subset, mean ± sd over the folds."""
    runs = cv_report.cv_runs(results)
    if not runs:
        return _not_measured("no Twitter I results in results/twitter; `make twitter TWITTER=path` writes them")
    envs = [r["env"] for r in runs]
    table = markdown_table(cv_report.accuracy_table(cv_report.fold_frame(runs)))
    tuned = any(r["config"].get("finetune", "none") != "none" for r in runs)
    backbone = backbones_phrase(runs) + ", frozen" + (", or block 5 fine-tuned in the `-ft-` rows" if tuned else "")
    return (
        f"{table}\n\nTest accuracy, mean ± sd over the 5 published folds of Campos et al. (2017), each fold the mean "
        f"over its seeds; {backbone}, `{runs[0]['config']['preset']}` preset with "
        f"{runs[0]['config']['iterations_per_epoch']} iterations per epoch; {len(runs)} runs on device "
        f"{runs[0]['env']['device']}, {_dates(e.get('date') for e in envs)}, {_commits(envs)}."
    )


TWITTER2_BEGIN = (
    "<!-- twitter2-table: generated from results/twitter2/*.json by "
    "`python -m visent.reporting.report --readme README.md` -->"
)
TWITTER2_END = "<!-- /twitter2-table -->"


def twitter2_readme_snippet(results: list[dict[str, Any]]) -> str:
    """The README's Twitter II table (balanced training) and the answer read from its intervals."""
    runs = cv_report.cv_runs(results, layout=words.LAYOUT)
    if not runs:
        return _not_measured("no Twitter II results in results/twitter2; `make twitter2 TWITTER2=path` writes them")
    chapter = words.WordsChapter(runs)
    envs = [r["env"] for r in runs]
    return (
        f"{markdown_table(chapter.accuracy_frame())}\n\n"
        "Mean over the 5 official partitions × seeds with its 95% interval (corrected resampled t), classes "
        f"balanced in training, test partitions as released; {len(runs)} runs of both protocols on device "
        f"{runs[0]['env']['device']}, {_dates(e.get('date') for e in envs)}, {_commits(envs)}.\n\n"
        + chapter.findings_text().removeprefix("- ").replace(" ({doc}`twitter2`)", "")
    ).strip()


def _replace_block(text: str, begin: str, end: str, body: str, path: Path) -> str:
    if begin not in text or end not in text:
        raise ResultsError(f"{path} has no generated block ({begin} ... {end})")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def sync_readme(readme: str | Path, results_dir: str | Path = "results") -> bool:
    """Rewrite the README's generated blocks from the result files; True when one changed."""
    path = Path(readme)
    text = path.read_text()
    results = load_results(results_dir)
    new = _replace_block(text, README_BEGIN, README_END, readme_snippet(results), path)
    new = _replace_block(new, TWITTER_BEGIN, TWITTER_END, twitter_readme_snippet(results), path)
    new = _replace_block(new, TWITTER2_BEGIN, TWITTER2_END, twitter2_readme_snippet(results), path)
    path.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    """``python -m visent.reporting.report``: write the book's snippets, print their paths."""
    parser = argparse.ArgumentParser(prog="python -m visent.reporting.report", description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--out-dir", default="book/_generated")
    parser.add_argument(
        "--ontology", default=None, help=f"VSO 3244ANPs.txt for the leak table (default: ${ONTOLOGY_ENV})"
    )
    parser.add_argument("--readme", default=None, help="also rewrite this README's results block")
    parser.add_argument(
        "--published", default=str(PUBLISHED), help=f"the other works' published figures (default: {PUBLISHED})"
    )
    parser.add_argument(
        "--twitter",
        default=None,
        help="Twitter I folder for the attention figure's photographs (default: the runs' data root)",
    )
    parser.add_argument(
        "--twitter2",
        default=None,
        help="Twitter II folder for the attention figure's photographs (default: the runs' data root)",
    )
    args = parser.parse_args(argv)
    try:
        if args.readme:
            sync_readme(args.readme, args.results_dir)
        paths = write_includes(
            args.results_dir, args.out_dir, args.ontology, args.twitter, args.twitter2, args.published
        )
    except ValueError as err:  # ResultsError, and a malformed ontology file: both name the file
        print(f"visent.reporting.report: error: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
