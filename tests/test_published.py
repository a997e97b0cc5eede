"""The other works' published figures come from one file, each with its work, protocol and source."""

import re
from pathlib import Path

import pandas as pd
import pytest

from visent.reporting import cv_report
from visent.reporting.published import PUBLISHED, Published, load_published, published_frame
from visent.reporting.report import published_snippet
from visent.reporting.results import ResultsError

REPO = Path(__file__).resolve().parents[1]
BIB_KEYS = set(re.findall(r"^@\w+\{([^,]+),", (REPO / "book" / "references.bib").read_text(), re.MULTILINE))


def test_every_committed_figure_cites_a_work_of_the_bibliography_and_says_where_it_was_read():
    published = load_published(REPO / PUBLISHED)

    assert set(published) == {"twitter", "twitter2"}
    entries = [e for group in published.values() for e in group]
    assert {e.work for e in entries} <= BIB_KEYS
    assert all(e.protocol and e.read_in and e.model for e in entries)
    serra = [e for e in published["twitter"] if e.model.startswith("ViT-L/16")]
    assert [e.accuracy for e in serra] == [{"five": 87.8, "four": 84.8, "three": 81.9}]


def test_the_table_has_a_column_per_subset_given_and_shows_each_figure_as_published():
    entries = [
        Published("a", "m1", "p1", "r1", {"five": 82.0, "three": 75.5}),
        Published("b", "m2", "p2", "r2", {"unstated": 82.56}),
    ]
    frame = published_frame(entries)

    assert list(frame.columns) == [
        "work", "model", "5-agree (%)", "3-agree (%)", "subset not stated (%)", "protocol", "read in",
    ]  # fmt: skip
    assert frame.iloc[0].tolist() == ["{cite:t}`a`", "m1", "82.0", "75.5", "–", "p1", "r1"]
    assert frame.iloc[1]["subset not stated (%)"] == "82.56"


def test_ours_follow_the_published_rows_as_the_mean_over_folds_with_our_protocol():
    folds = pd.DataFrame({"subset": "five", "variant": "gap", "fold": [0, 1], "accuracy": [0.80, 0.85], "seeds": 3})
    published = published_frame([Published("a", "m", "p", "r", {"five": 82.0, "four": 78.0})])

    table = cv_report.beside_published(folds, published)

    ours = table.iloc[-1]
    assert ours["work"] == "this book" and ours["model"] == "`gap`"
    assert ours["5-agree (%)"] == "82.5" and ours["4-agree (%)"] == "–"
    assert "5 published folds" in ours["protocol"] and "frozen" in ours["protocol"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("twitter: [{work: a}]", r"twitter\[0\]: unknown keys \[\], missing keys \['model'"),
        (
            "twitter: [{work: a, model: m, protocol: p, read_in: r, accuracy: {five: 120}}]",
            r"accuracy five must be a percentage in \(0, 100\], got 120",
        ),
        (
            "twitter: [{work: a, model: m, protocol: p, read_in: r, accuracy: {all: 80}}]",
            "accuracy must map some of five, four, three, unstated",
        ),
        ("twitter: {work: a}", "twitter must be a list of entries"),
        ("[1, 2]", "not a mapping of dataset -> entries"),
        ("twitter: [", "not readable as YAML"),
    ],
)
def test_a_malformed_entry_is_refused_naming_the_file_and_the_entry(tmp_path, text, message):
    path = tmp_path / "published.yml"
    path.write_text(text)

    with pytest.raises(ResultsError, match=message) as err:
        load_published(path)
    assert str(path) in str(err.value)


def test_the_snippet_names_each_protocol_by_a_letter_and_spells_it_out_once_below():
    entries = [Published("a", "m1", "p1", "r1", {"five": 82.0}), Published("b", "m2", "p1", "r1", {"five": 80.0})]

    text = published_snippet(entries)

    assert text.count("| (a) ") == 2 and "(b)" not in text
    assert "- (a) p1; read in r1." in text
