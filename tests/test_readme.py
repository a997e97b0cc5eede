"""The README's numbers are the committed result files' numbers."""

from pathlib import Path

from visent.report import README_BEGIN, README_END, load_run_results, readme_snippet

ROOT = Path(__file__).resolve().parents[1]


def test_readme_results_block_matches_the_result_files():
    text = (ROOT / "README.md").read_text()
    block = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    expected = readme_snippet(load_run_results(ROOT / "results")).strip()
    assert block == expected, "README is stale: run `python -m visent.report --readme README.md`"
