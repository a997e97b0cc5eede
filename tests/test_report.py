"""Specification of visent.reporting.report: the book's tables, generated from result files, never typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from visent.config import PRESETS, RunConfig
from visent.model import VARIANTS
from visent.reporting.report import (
    ONTOLOGY_ENV,
    bench_snippet,
    contrasts_snippet,
    extended_snippet,
    headline_snippet,
    leak_snippet,
    main,
    presets_snippet,
    provenance,
    runnable_variants,
    table1_snippet,
    variants_snippet,
    with_downloads,
    write_includes,
)
from visent.reporting.results import ResultsError, git_commit, load_results, write_result
from visent.reporting.stats import corrected_resampled_t

SNIPPETS = [
    "headline.md",
    "table1.md",
    "extended.md",
    "contrasts.md",
    "leak.md",
    "bench.md",
    "presets.md",
    "variants.md",
    "findings.md",
    "findings_figure.md",
    "glossary.md",
    "twitter_table.md",
    "twitter_contrasts.md",
    "twitter_maps.md",
    "twitter_schedule.md",
    "twitter_verdict.md",
    "twitter_finetune.md",
    "twitter_published.md",
    "twitter2_data.md",
    "twitter2_weighting.md",
    "twitter2_schedule.md",
    "twitter2_table.md",
    "twitter2_contrasts.md",
    "twitter2_maps.md",
    "twitter2_verdict.md",
    "findings_twitter2.md",
    "published_twitter2.md",
]


def _result(
    variant: str,
    accuracy: float,
    *,
    split: str = "random",
    seed: int = 0,
    dataset: str = "synthetic",
    random_weights: bool = False,
    device: str = "cpu",
    date: str = "2025-11-30T10:00:00+00:00",
    **metrics: Any,
) -> dict[str, Any]:
    """The smallest result dict that ``write_result`` accepts and the report reads."""
    return {
        "run_id": f"{dataset}-{split}-{variant}-s{seed}",
        "variant": variant,
        "config": {"split": split, "seed": seed, "preset": "cpu"},
        "dataset": {"name": dataset, "n_train": 80, "n_val": 10, "n_test": 10},
        "backbone": {"weights": {"id": "random" if random_weights else "oxford-imagenet", "is_random": random_weights}},
        "metrics": {"test_accuracy": accuracy, "test_balanced_accuracy": accuracy, "val_accuracy": accuracy, **metrics},
        "training": {"epochs": 3},
        "timing": {},
        "env": {"device": device, "date": date, "commit": "0123456789abcdef", "dirty": False},
    }


def _rows(markdown: str) -> list[dict[str, str]]:
    """The rows of the first markdown table in ``markdown``, as header -> stripped cell."""
    block = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            block.append(line)
        elif block:
            break
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in block]
    return [dict(zip(cells[0], row)) for row in cells[2:]]


def _write(results_dir: Path, *results: dict[str, Any]) -> list[dict[str, Any]]:
    for result in results:
        write_result(result, results_dir)
    return load_results(results_dir)


def test_without_result_files_every_snippet_is_written_and_says_not_yet_measured(tmp_path):
    paths = write_includes(tmp_path / "results", tmp_path / "out", ontology=None)

    assert [p.name for p in paths] == SNIPPETS
    text = {p.name: p.read_text() for p in paths}
    for name in ("headline.md", "table1.md", "extended.md", "contrasts.md", "leak.md", "bench.md"):
        assert "Not yet measured" in text[name], name
    assert all("Not yet measured" in text[name] for name in SNIPPETS if name.startswith("twitter2_"))
    assert "not yet measured" in text["findings_twitter2.md"]
    headline = _rows(text["headline.md"])
    assert [row["variant"] for row in headline] == runnable_variants("synthetic")
    assert "attention-text" not in runnable_variants("synthetic")  # no texts in the synthetic scenes
    assert {row["test accuracy (%)"] for row in headline} == {"not yet measured"}
    assert {row["difference"] for row in _rows(text["contrasts.md"])} == {"not yet measured"}


def test_table1_shows_the_papers_numbers_even_before_any_run(tmp_path):
    rows = _rows(table1_snippet([], tmp_path))

    assert [(row["ours"], row["paper, VSO (%)"], row["ours (%)"]) for row in rows] == [
        ("`gap`", "70", "not yet measured"),
        ("`attention-truth`", "99", "not yet measured"),
    ]


def test_headline_gives_mean_and_sample_sd_over_seeds_in_percent(tmp_path):
    results = _write(tmp_path, _result("gap", 0.70, seed=0), _result("gap", 0.72, seed=1))

    row = _rows(headline_snippet(results))[0]

    assert row["variant"] == "gap"
    assert row["test accuracy (%)"] == "71.0 ± 1.4"
    assert row["runs"] == "2"


def test_a_single_run_is_shown_without_a_spread(tmp_path):
    results = _write(tmp_path, _result("attention-truth", 0.6))

    rows = {row["variant"]: row for row in _rows(headline_snippet(results))}

    assert rows["attention-truth"]["test accuracy (%)"] == "60.0"
    assert rows["gap"]["test accuracy (%)"] == "not yet measured"


def test_table1_has_one_column_per_dataset_and_marks_missing_cells(tmp_path):
    results = _write(
        tmp_path,
        _result("gap", 0.65, dataset="synthetic"),
        _result("attention-truth", 0.9, dataset="synthetic"),
        _result("gap", 0.8, dataset="vso"),
    )

    rows = _rows(table1_snippet(results))

    assert rows[0]["ours, synthetic (%)"] == "65.0"
    assert rows[0]["ours, vso (%)"] == "80.0"
    assert rows[1]["ours, vso (%)"] == "not yet measured"


def test_table1_ignores_runs_on_other_splits(tmp_path):
    results = _write(tmp_path, _result("gap", 0.5, split="heldout-adjectives"))

    text = table1_snippet(results)

    assert "ours, synthetic (%)" not in text
    assert "**Not yet measured**: no run results of these variants on the random split" in text


def test_runs_on_random_backbone_weights_are_marked_not_a_result(tmp_path):
    results = _write(tmp_path, _result("gap", 0.7, random_weights=True), _result("attention-truth", 0.9))

    text = extended_snippet(results)

    rows = {row["variant"]: row for row in _rows(text)}
    assert rows["gap"]["weights"] == "random (RANDOM: not a result)"
    assert rows["attention-truth"]["weights"] == "oxford-imagenet"
    assert "**RANDOM: not a result**: `synthetic-random-gap-s0` ran on random backbone weights" in text


def test_extended_tables_order_splits_and_variants_as_the_paper(tmp_path):
    results = _write(
        tmp_path,
        _result("attention-truth", 0.6, split="heldout-adjectives"),
        _result("adjective-only", 0.97),
        _result("gap", 0.7),
    )

    rows = _rows(extended_snippet(results))

    assert [(row["split"], row["variant"]) for row in rows] == [
        ("random", "gap"),
        ("random", "adjective-only"),
        ("heldout-adjectives", "attention-truth"),
    ]


def test_localisation_shows_a_dash_where_a_metric_does_not_apply(tmp_path):
    results = _write(
        tmp_path,
        _result("gap", 0.7, attention_in_region=0.1, region_share=0.1, pointing_game=None),
        _result("attention-truth", 0.9, attention_in_region=0.5, region_share=0.1, pointing_game=0.75),
    )

    text = extended_snippet(results)
    localisation = text.split("\n\n")[1]

    rows = {row["variant"]: row for row in _rows(localisation)}
    assert rows["gap"]["pointing game (%)"] == "–"
    assert rows["attention-truth"]["attention in region (%)"] == "50.0"
    assert rows["attention-truth"]["chance: region share (%)"] == "10.0"
    assert rows["attention-truth"]["pointing game (%)"] == "75.0"


def test_provenance_names_runs_dates_commit_device_and_preset(tmp_path):
    results = _write(
        tmp_path,
        _result("gap", 0.7, date="2025-11-30T10:00:00+00:00"),
        _result("attention-truth", 0.9, date="2025-12-02T08:00:00+00:00", device="cuda"),
    )

    line = provenance(results)

    assert line.startswith(f"*Provenance*: 2 runs from `{tmp_path / '*.json'}`;")
    assert "measured 2025-11-30 to 2025-12-02" in line
    assert "commit `0123456`" in line
    assert "device cpu, cuda; preset cpu." in line
    assert "`synthetic-random-attention-truth-s0`, `synthetic-random-gap-s0`" in line


def test_a_contrast_of_one_seed_is_the_difference_of_the_means_without_an_interval(tmp_path):
    results = _write(
        tmp_path,
        _result("attention-truth", 0.9),
        _result("gap", 0.7),
        _result("adjective-only", 0.95),
    )

    rows = {row["question"]: row for row in _rows(contrasts_snippet(results))}

    assert rows["What the paper credits to attention"]["synthetic"] == "+20.0 points (no two paired seeds: no interval)"
    assert rows["What the image adds to the adjective"]["synthetic"].startswith("-5.0 points")
    assert rows["Does the true adjective matter?"]["synthetic"] == "not yet measured"


def test_contrasts_over_seeds_are_read_from_their_interval(tmp_path):
    results = _write(
        tmp_path,
        *(_result("attention-truth", acc, seed=seed) for seed, acc in enumerate((0.90, 0.80, 0.85))),
        *(_result("gap", acc, seed=seed) for seed, acc in enumerate((0.70, 0.70, 0.70))),
        *(_result("adjective-only", acc, seed=seed) for seed, acc in enumerate((0.90, 0.70, 0.80))),
    )

    rows = {row["question"]: row for row in _rows(contrasts_snippet(results))}

    # Differences 20, 10, 15 points: mean 15, sd 5, corrected for the 10 test of 90 training images.
    mean, low, high, p = corrected_resampled_t([0.20, 0.10, 0.15], n_train=90, n_test=10)
    assert low > 0
    assert rows["What the paper credits to attention"]["synthetic"] == (
        f"`attention-truth` beats `gap` (+15.0 [{100 * low:+.1f}, {100 * high:+.1f}] points, p = {p:.2f}, "
        "3 paired runs)"
    )
    # Differences 0, 10, 5 points: the interval holds 0.
    assert rows["What the image adds to the adjective"]["synthetic"].startswith(
        "`attention-truth` does not differ from `adjective-only` (+5.0 ["
    )


def test_results_in_subfolders_are_read_but_benchmarks_are_not(tmp_path):
    write_result(_result("gap", 0.7), tmp_path)
    write_result(_result("attention-truth", 0.9), tmp_path / "table1")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "extract.json").write_text('{"name": "extract", "images_per_s": 10}')

    results = load_results(tmp_path)

    assert sorted(r["run_id"] for r in results) == ["synthetic-random-attention-truth-s0", "synthetic-random-gap-s0"]


def test_a_json_file_that_is_not_a_run_result_is_an_error_naming_it(tmp_path):
    (tmp_path / "summary.json").write_text('{"run_id": "x"}')

    with pytest.raises(ResultsError, match=r"summary\.json: not a run result, it lacks the keys \['variant'"):
        load_results(tmp_path)


def test_an_unreadable_result_file_is_an_error_naming_it(tmp_path):
    (tmp_path / "broken.json").write_text('{"run_id": ')

    with pytest.raises(ResultsError, match=r"broken\.json: not readable as JSON"):
        load_results(tmp_path)


def test_the_same_run_in_two_folders_is_an_error_naming_both(tmp_path):
    write_result(_result("gap", 0.7), tmp_path)
    write_result(_result("gap", 0.7), tmp_path / "table1")

    with pytest.raises(ResultsError, match=r"'synthetic-random-gap-s0' is in both .*table1"):
        load_results(tmp_path)


def test_leak_snippet_reproduces_the_vso_rules_from_the_ontology(vso_ontology):
    text = leak_snippet(vso_ontology)

    accuracy = {row["rule"]: row["accuracy (%)"] for row in _rows(text)}
    assert accuracy == {
        "adjective_majority": "98.4",
        "adjective_majority_weighted": "99.1",
        "adjective_majority_loo": "98.1",
        "adjective_sign": "97.9",
        "noun_majority_loo": "75.8",
        "always_positive": "55.1",
    }
    assert "from `3244ANPs.txt` (sha256 `" in text


def test_leak_snippet_says_when_the_ontology_file_is_absent(tmp_path):
    text = leak_snippet(tmp_path / "3244ANPs.txt")

    assert text.startswith("**Not yet measured**: the ontology file `3244ANPs.txt` was not found")
    assert "|" not in text


def test_write_includes_takes_the_ontology_from_the_environment(tmp_path, monkeypatch, vso_ontology):
    monkeypatch.setenv(ONTOLOGY_ENV, str(vso_ontology))

    write_includes(tmp_path / "results", tmp_path / "out")

    assert "| adjective_majority " in (tmp_path / "out" / "leak.md").read_text()


def test_bench_snippet_lists_a_json_without_report_as_field_value_rows_with_provenance(tmp_path):
    (tmp_path / "extract_cpu.json").write_text(
        json.dumps(
            {
                "name": "extract",
                "images_per_s": 12.3456,
                "memory": {"peak_mb": 1200},
                "sizes": [1, 2],
                "env": {"device": "cuda", "date": "2025-12-01T00:00:00", "commit": "abcdef0123"},
            }
        )
    )

    text = bench_snippet(tmp_path)

    assert text.startswith("## Benchmark `extract`\n")
    assert _rows(text) == [{"field": "images_per_s", "value": "12.35"}, {"field": "memory.peak_mb", "value": "1200"}]
    assert "*Provenance*: `extract_cpu.json`; measured 2025-12-01; commit `abcdef0`; device cuda." in text


def test_bench_snippet_shows_the_report_a_benchmark_wrote_beside_its_json_one_heading_level_down(tmp_path):
    (tmp_path / "cpu.json").write_text(json.dumps({"name": "cpu", "images_per_s": 3.4}))
    (tmp_path / "cpu.md").write_text("# Benchmark `cpu`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## Notes\n")
    (tmp_path / "make-run.json").write_text(json.dumps({"name": "make-run", "wall_seconds": 529.2}))

    text = bench_snippet(tmp_path)

    assert text.index("## Benchmark `cpu`\n") < text.index("### Notes") < text.index("## Benchmark `make-run`")
    assert "\n# " not in text and "images_per_s" not in text  # the JSON of a benchmark with a report is not listed
    assert _rows(text[text.index("## Benchmark `make-run`") :]) == [{"field": "wall_seconds", "value": "529.2"}]


def test_bench_snippet_says_the_gpu_figures_are_open_until_a_benchmark_ran_on_a_gpu(tmp_path):
    (tmp_path / "cpu.json").write_text(json.dumps({"name": "cpu", "env": {"device": "cpu"}}))
    assert "## GPU\n\n**Not yet measured**: no benchmark" in bench_snippet(tmp_path)

    (tmp_path / "gpu-h200.json").write_text(json.dumps({"name": "gpu", "env": {"device": "cuda", "gpu": "H200"}}))
    assert "## GPU\n" not in bench_snippet(tmp_path)


def test_a_benchmark_file_that_is_not_an_object_is_an_error_naming_it(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")

    with pytest.raises(ResultsError, match=r"list\.json: holds a JSON list, not an object"):
        bench_snippet(tmp_path)


def test_presets_snippet_lists_every_preset_from_the_config():
    rows = _rows(presets_snippet())

    assert [row["preset"] for row in rows] == list(PRESETS)
    assert rows[0]["iterations per epoch"] == str(PRESETS[rows[0]["preset"]]["iterations_per_epoch"])
    assert {row["momentum"] for row in rows} == {str(RunConfig().momentum)}


def test_variants_snippet_lists_every_variant_with_its_purpose():
    rows = _rows(variants_snippet())

    assert [row["variant"] for row in rows] == [f"`{v}`" for v in VARIANTS]
    assert {row["variant"]: row["sees the image"] for row in rows}["`adjective-only`"] == "no"
    assert rows[0]["purpose"] == VARIANTS["gap"].purpose


def test_main_writes_the_snippets_and_exits_2_on_a_bad_results_folder(tmp_path, capsys):
    assert main(["--results-dir", str(tmp_path / "none"), "--out-dir", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.md")) == sorted(SNIPPETS)

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.json").write_text("{}")
    assert main(["--results-dir", str(tmp_path / "bad"), "--out-dir", str(tmp_path / "out")]) == 2
    assert "x.json: not a run result" in capsys.readouterr().err


def test_main_exits_2_naming_a_malformed_ontology_file(tmp_path, capsys):
    ontology = tmp_path / "anps.txt"
    ontology.write_text("hello\nworld\n")
    args = ["--results-dir", str(tmp_path / "none"), "--out-dir", str(tmp_path / "out"), "--ontology", str(ontology)]

    assert main(args) == 2
    assert "anps.txt, line 1: unrecognised format" in capsys.readouterr().err


def test_git_commit_calls_code_changes_dirty_but_not_the_results_a_run_writes(git_repo):
    repo = git_repo(
        {name: "committed" for name in ("visent/model/variants.py", "results/run.json", "book/_generated/table1.md")}
    )
    (repo / "results" / "run.json").unlink()
    (repo / "book" / "_generated" / "table1.md").write_text("regenerated")
    assert git_commit(repo / "visent")["dirty"] is False
    (repo / "visent" / "model" / "variants.py").write_text("edited")
    assert git_commit(repo / "visent")["dirty"] is True


def test_every_generated_table_is_also_a_csv_linked_below_it(tmp_path):
    text = "Intro.\n\n| a | b |\n|:--|--:|\n| `gap` | 1.5 |\n\nBetween.\n\n| c |\n|---|\n| x |\n"

    linked = with_downloads(text, tmp_path / "snippet")

    assert (tmp_path / "snippet.csv").read_text().splitlines() == ["a,b", "gap,1.5"]
    assert (tmp_path / "snippet-2.csv").read_text().splitlines() == ["c", "x"]
    assert linked.count("{download}`This table as CSV <_generated/snippet.csv>`") == 1
    assert linked.index("| `gap` | 1.5 |") < linked.index("snippet.csv") < linked.index("Between.")
    assert linked.rstrip().endswith("{download}`This table as CSV <_generated/snippet-2.csv>`")


def test_the_run_list_is_written_beside_the_snippets_and_linked_from_each_provenance_line(tmp_path):
    _write(tmp_path / "results", _result("gap", 0.7), _result("gap", 0.8, seed=1))

    paths = write_includes(tmp_path / "results", tmp_path / "out", ontology=None)

    runs = json.loads((tmp_path / "out" / "runs.json").read_text())
    assert [(r["run_id"], r["seed"], r["test_accuracy"]) for r in runs] == [
        ("synthetic-random-gap-s0", 0, 0.7),
        ("synthetic-random-gap-s1", 1, 0.8),
    ]
    headline = next(p for p in paths if p.name == "headline.md").read_text()
    assert "{download}`Every run of the book as JSON <_generated/runs.json>`" in headline
    assert (tmp_path / "out" / "headline.csv").is_file()


def test_a_benchmark_command_line_is_shown_as_code_so_its_flags_copy(tmp_path):
    (tmp_path / "probe.json").write_text('{"command": "python probe.py --out x", "images": 16}')

    text = bench_snippet(tmp_path)

    assert "`python probe.py --out x`" in text
    assert "| images" in text and "`16`" not in text
