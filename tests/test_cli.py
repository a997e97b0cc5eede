"""The command line end to end on a tiny synthetic set (random backbone weights: fast, flagged)."""

import json
import subprocess
import sys

import pytest


def visent(*args, cwd):
    done = subprocess.run([sys.executable, "-m", "visent", *args], capture_output=True, text=True, cwd=cwd, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cli")
    visent("synth", "data/synthetic", "--n-images", "32", "--quiet", cwd=cwd)
    return cwd


FLAGS = [
    "--weights",
    "random",
    "--preset",
    "cpu",
    "--iterations-per-epoch",
    "3",
    "--max-epochs",
    "2",
    "--batch-size",
    "8",
    "--quiet",
]


def test_extract_reports_the_cache_and_is_a_no_op_the_second_time(work):
    out = visent("extract", "--weights", "random", "--quiet", cwd=work)
    assert "feature cache:" in out and "(32 rows, 0 unreadable images)" in out
    folder = next((work / "cache" / "features").iterdir())
    before = (folder / "manifest.json").stat().st_mtime_ns
    visent("extract", "--weights", "random", "--quiet", cwd=work)
    assert (folder / "manifest.json").stat().st_mtime_ns == before


def help_text(command):
    return subprocess.run([sys.executable, "-m", "visent", command, "--help"], capture_output=True, text=True).stdout


def test_extract_shows_only_the_settings_it_reads_in_half_the_help_of_run():
    extract, run = help_text("extract"), help_text("run")
    for flag in ("--data-root", "--weights", "--image-size", "--finetune", "--device", "--amp", "--cache-dir"):
        assert flag in extract
    for flag in ("--variant", "--lr", "--patience", "--momentum", "--split", "--results-dir", "--checkpoint-dir"):
        assert flag not in extract and flag in run
    assert len(extract) <= len(run) / 2


def test_extract_refuses_a_training_flag_instead_of_ignoring_it(work):
    done = subprocess.run(
        [sys.executable, "-m", "visent", "extract", "--lr", "0.1"], capture_output=True, text=True, cwd=work
    )
    assert done.returncode == 2 and "unrecognized arguments: --lr 0.1" in done.stderr


def test_run_trains_a_grid_writes_results_and_skips_existing_ones(work):
    out = visent("run", *FLAGS, "--variants", "gap", "adjective-only", "--seeds", "0", "1", cwd=work)
    names = sorted(p.name for p in (work / "results").glob("*.json"))
    assert names == [f"synthetic-random-{v}-s{s}.json" for v in ("adjective-only", "gap") for s in (0, 1)]
    assert "RANDOM: not a result" in out
    again = visent("run", *FLAGS, "--variants", "gap", "--seeds", "0", cwd=work)
    assert "result exists for this configuration, reused" in again
    result = json.loads((work / "results" / "synthetic-random-gap-s0.json").read_text())
    for key in ("run_id", "variant", "config", "dataset", "backbone", "metrics", "timing", "env"):
        assert key in result
    assert result["backbone"]["weights"]["is_random"] is True
    assert result["config"]["preset"] == "cpu" and result["config"]["iterations_per_epoch"] == 3


def test_evaluate_recomputes_the_metrics_of_a_checkpoint(work):
    visent("train", *FLAGS, "--variant", "attention-learned", cwd=work)
    result = json.loads((work / "results" / "synthetic-random-attention-learned-s0.json").read_text())
    metrics = json.loads(
        visent("evaluate", "checkpoints/synthetic-random-attention-learned-s0.pt", "--quiet", cwd=work)
    )
    assert metrics["accuracy"] == result["metrics"]["test_accuracy"]
    assert set(metrics) >= {"confusion", "balanced_accuracy", "per_attribute", "attention_in_region", "pointing_game"}


def test_tables_are_built_from_the_result_files(work):
    visent("run", *FLAGS, "--variants", "gap", "--seeds", "0", cwd=work)
    assert "RANDOM: not a result" in visent("table", cwd=work)
    out = visent("table1", cwd=work)
    assert "Table 1" in out and "| `gap`" in out


def test_bad_flag_value_fails_at_once_naming_the_key(work):
    done = subprocess.run(
        [sys.executable, "-m", "visent", "train", "--lr", "-3"], capture_output=True, text=True, cwd=work
    )
    assert done.returncode == 2 and "lr must be a number" in done.stderr and "Traceback" not in done.stderr


def test_weights_lists_the_registry():
    out = subprocess.run([sys.executable, "-m", "visent", "weights"], capture_output=True, text=True).stdout
    assert "oxford-imagenet" in out and "random" in out
