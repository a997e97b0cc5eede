"""The README's numbers are the committed result files' numbers."""

import json
from pathlib import Path

from visent.reporting.report import (
    README_BEGIN,
    README_END,
    TWITTER2_BEGIN,
    TWITTER2_END,
    TWITTER_BEGIN,
    TWITTER_END,
    readme_snippet,
    twitter2_readme_snippet,
    twitter_readme_snippet,
)
from visent.reporting.results import load_results

ROOT = Path(__file__).resolve().parents[1]


def test_readme_results_block_matches_the_result_files():
    text = (ROOT / "README.md").read_text()
    block = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    expected = readme_snippet(load_results(ROOT / "results")).strip()
    assert block == expected, "README is stale: run `python -m visent.reporting.report --readme README.md`"


def test_readme_make_run_time_and_claim_are_the_benchmarks():
    text = " ".join((ROOT / "README.md").read_text().split())
    bench = json.loads((ROOT / "results" / "bench" / "make-run.json").read_text())
    minutes, seconds = divmod(round(bench["wall_seconds"]), 60)
    assert f"`make run` took {minutes} min {seconds} s" in text, "README: copy the time from make-run.md"
    assert ("metric for metric" in text) == bench["targets"]["reproduced"]["met"]


def test_readme_twitter2_block_matches_the_result_files():
    text = (ROOT / "README.md").read_text()
    block = text.split(TWITTER2_BEGIN, 1)[1].split(TWITTER2_END, 1)[0].strip()
    assert block == twitter2_readme_snippet(load_results(ROOT / "results")).strip(), (
        "README is stale: run `python -m visent.reporting.report --readme README.md`"
    )


def test_readme_twitter_block_matches_the_result_files():
    text = (ROOT / "README.md").read_text()
    block = text.split(TWITTER_BEGIN, 1)[1].split(TWITTER_END, 1)[0].strip()
    assert block == twitter_readme_snippet(load_results(ROOT / "results")).strip(), (
        "README is stale: run `python -m visent.reporting.report --readme README.md`"
    )
