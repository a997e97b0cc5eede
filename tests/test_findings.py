"""The front page's findings are computed from result files, and every verdict in the book follows
from its interval."""

import re
from pathlib import Path

import pandas as pd
import pytest

from visent.model import VARIANTS
from visent.reporting import findings, stats
from visent.reporting.published import PUBLISHED
from visent.reporting.report import write_includes

REPO = Path(__file__).resolve().parents[1]
ONTOLOGY = REPO.parent / "shared" / "data" / "vso" / "3244ANPs.txt"
#: A verdict as the book writes it: `A` verb `B` ... (mean [low, high] points ...
VERDICT = re.compile(
    r"`([\w-]+)` (beats|is beaten by|does not differ from) `([\w-]+)`[^(\n]*"
    r"\(([+-]\d+\.\d) \[([+-]\d+\.\d), ([+-]\d+\.\d)\] points"
)


def _run(variant, seed, accuracy, split="random"):
    return {
        "run_id": f"synthetic-{split}-{variant}-s{seed}",
        "variant": variant,
        "config": {"split": split, "seed": seed},
        "dataset": {"name": "synthetic", "n_train": 90, "n_val": 10, "n_test": 20},
        "metrics": {"test_accuracy": accuracy},
    }


def test_the_claim_is_the_papers_table_as_printed():
    text = findings.claim_text({"gap": 70.0, "attention-truth": 99.0})

    assert "70% for the whole image, 99% for attention guided by the image's ground-truth adjective" in text


def test_the_leak_is_the_leave_one_out_rule_with_a_wilson_interval_over_the_anps_scored():
    rules = pd.DataFrame({"rule": [findings.LEAK_RULE], "accuracy": [0.9], "scored": [200], "abstained": [0]})
    low, high = stats.wilson(180, 200)

    text = findings.leak_text(rules)

    assert f"90.0% [{100 * low:.1f}, {100 * high:.1f}] of the 200 ANPs scored" in text
    assert "not yet measured" in findings.leak_text(None)


def test_the_synthetic_finding_gives_each_model_its_interval_and_reads_the_contrasts_from_theirs():
    runs = [_run("attention-truth", s, a) for s, a in enumerate((0.90, 0.86, 0.93))]
    runs += [_run("gap", s, a) for s, a in enumerate((0.70, 0.70, 0.72))]
    runs += [_run("adjective-only", s, a) for s, a in enumerate((0.95, 0.80, 1.0))]

    text = findings.synthetic_text(runs)

    truth = stats.mean_interval(runs[:3])
    assert f"(`attention-truth`) {findings.percent(truth)}" in text and "20 test images, 3 seeds" in text
    gap = stats.contrast(runs[:3], runs[3:6])
    assert gap.verdict() == "beats" and f"`attention-truth` beats `gap` ({gap.points()} points" in text
    assert "`attention-truth` does not differ from `adjective-only`" in text


def test_a_finding_without_its_runs_says_not_yet_measured():
    assert "not yet measured" in findings.synthetic_text([_run("gap", 0, 0.7)])
    assert "not yet measured" in findings.twitter_text([])


def test_the_glossary_names_every_variant_with_its_purpose():
    lines = findings.glossary_text().splitlines()

    assert [line.split("`")[1] for line in lines] == list(VARIANTS)
    assert lines[0].startswith(f"- `gap`: {VARIANTS['gap'].purpose}")


def test_the_summary_figure_puts_the_papers_numbers_without_an_interval_beside_ours():
    runs = [_run(v, s, 0.8 + 0.01 * s) for v in ("gap", "attention-truth") for s in range(3)]

    frame = findings.settings_frame(runs, [], {"gap": 70.0, "attention-truth": 99.0})

    paper = frame[frame["setting"].str.contains("the paper")]
    assert paper["mean"].tolist() == [70.0, 99.0] and paper["low"].isna().all()
    ours = frame[frame["setting"] == "synthetic scenes"].set_index("model")
    assert ours.loc["gap", "mean"] == pytest.approx(81.0) and ours.loc["gap", "low"] < 81.0
    assert len(findings.summary_plot(frame).axes[0].get_yticklabels()) == 2


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    write_includes(REPO / "results", out, ONTOLOGY if ONTOLOGY.is_file() else None, published=REPO / PUBLISHED)
    return {path.name: path.read_text() for path in out.glob("*.md")}


def test_every_verdict_of_the_book_follows_from_its_interval(generated):
    verdicts = [(name, m.groups()) for name, text in generated.items() for m in VERDICT.finditer(text)]

    wrong = []
    for name, (a, verb, b, mean, low, high) in verdicts:
        low_, high_ = float(low), float(high)
        expected = {"beats" if low_ > 0 else "is beaten by" if high_ < 0 else "does not differ from"}
        if 0.0 in (abs(low_), abs(high_)):  # a bound that rounds to 0.0 may lie on either side of it
            expected |= {"beats" if low_ == 0 else "is beaten by", "does not differ from"}
        if verb not in expected or not low_ <= float(mean) <= high_:
            wrong.append(f"{name}: `{a}` {verb} `{b}` ({mean} [{low}, {high}])")

    assert len(verdicts) >= 10, "the committed results give fewer verdicts than the chapters read"
    assert not wrong, "\n".join(wrong)


def test_the_front_page_finds_each_setting_with_its_number_and_interval(generated):
    text = generated["findings.md"]

    for setting in ("The paper's claim", "the adjective leak", "Synthetic scenes", "Twitter I"):
        assert setting in text
    if ONTOLOGY.is_file():
        assert "not yet measured" not in text
    assert len(re.findall(r"\d+\.\d% \[\d+\.\d, \d+\.\d\]", text)) >= 7
    assert "findings.png" in generated["findings_figure.md"]
