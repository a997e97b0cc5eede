"""Specification of visent.reporting.leak: how much of an ANP's polarity its adjective gives away."""

import math
from pathlib import Path

import pytest

from visent.data.ontology import Ontology, load_ontology
from visent.reporting.leak import LeakError, ontology_rules, rules_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

RULES = [
    "adjective_majority",
    "adjective_majority_weighted",
    "adjective_majority_loo",
    "adjective_sign",
    "noun_majority_loo",
    "always_positive",
]


def _ontology(anps: dict[str, float], adjectives: dict[str, float], images: dict[str, int] | None = None) -> Ontology:
    table = {name: (*name.split("_", 1), score) for name, score in anps.items()}
    return Ontology(adjectives=adjectives, anps=table, anp_images=images or {}, source="test")


@pytest.fixture(scope="module")
def vso_table():
    return rules_table(load_ontology(DATA / "vso" / "3244ANPs.txt")).set_index("rule")


def test_vso_reproduces_the_published_leak_table(vso_table):
    percent = (vso_table["accuracy"] * 100).round(1).to_dict()
    assert percent == {
        "adjective_majority": 98.4,
        "adjective_majority_weighted": 99.1,
        "adjective_majority_loo": 98.1,
        "adjective_sign": 97.9,
        "noun_majority_loo": 75.8,
        # 1789 / 3244 = 55.148 %: the 55.2 % in notes/science.md rounds 55.15 a second time.
        "always_positive": 55.1,
    }
    assert vso_table.loc["always_positive", "accuracy"] == 1789 / 3244


def test_vso_leave_one_out_rules_abstain_on_lone_and_tied_anps(vso_table):
    assert vso_table.loc["adjective_majority_loo", ["scored", "abstained"]].tolist() == [3223, 21]
    assert vso_table.loc["noun_majority_loo", ["scored", "abstained"]].tolist() == [3027, 217]
    assert vso_table.loc["adjective_majority", "abstained"] == 0


def test_rules_table_lists_every_rule_with_a_description(vso_table):
    assert vso_table.index.tolist() == RULES
    assert list(vso_table.columns) == ["accuracy", "description", "scored", "abstained"]
    assert vso_table["description"].str.len().min() > 20


def test_ontology_rules_returns_the_same_accuracies_as_the_table(vso_table):
    rules = ontology_rules(load_ontology(DATA / "vso" / "3244ANPs.txt"))
    assert rules == vso_table["accuracy"].to_dict()


def test_adjective_majority_breaks_ties_by_the_adjective_sign():
    anps = {"odd_cat": 1.0, "odd_dog": -1.0}
    images = {"odd_cat": 10, "odd_dog": 30}
    # Only the weighted accuracy tells the tie-break apart: 30 / 40 right when it says negative.
    assert ontology_rules(_ontology(anps, {"odd": -0.3}, images))["adjective_majority_weighted"] == 0.75
    assert ontology_rules(_ontology(anps, {"odd": 0.3}, images))["adjective_majority_weighted"] == 0.25


def test_leave_one_out_uses_only_the_other_anps_and_abstains_without_a_majority():
    ontology = _ontology(
        {"warm_sun": 1.0, "warm_tea": 1.0, "warm_ice": -1.0, "lone_tea": -1.0},
        {"warm": 1.0, "lone": -1.0},
    )
    table = rules_table(ontology).set_index("rule")
    # warm_sun and warm_tea see a 1:1 tie and abstain; warm_ice sees two positives (wrong);
    # lone_tea has no other ANP.
    assert table.loc["adjective_majority_loo", ["accuracy", "scored", "abstained"]].tolist() == [0.0, 1, 3]
    # Nouns: warm_tea sees lone_tea (negative: wrong), lone_tea sees warm_tea (positive: wrong).
    assert table.loc["noun_majority_loo", ["accuracy", "scored", "abstained"]].tolist() == [0.0, 2, 2]


def test_weighted_rule_weights_each_anp_by_its_image_count():
    ontology = _ontology(
        {"big_sky": 1.0, "big_sea": 1.0, "big_mess": -1.0},
        {"big": 1.0},
        {"big_sky": 10, "big_sea": 20, "big_mess": 70},
    )
    rules = ontology_rules(ontology)
    assert rules["adjective_majority"] == pytest.approx(2 / 3)
    assert rules["adjective_majority_weighted"] == pytest.approx(0.3)


def test_zero_score_anps_are_neither_scored_nor_votes():
    ontology = _ontology({"grey_wall": 0.0, "grey_sky": -1.0, "grey_day": -0.5}, {"grey": -1.0})
    table = rules_table(ontology).set_index("rule")
    assert table.loc["always_positive", ["accuracy", "scored", "abstained"]].tolist() == [0.0, 2, 0]
    assert table.loc["adjective_majority_loo", "accuracy"] == 1.0


def test_weighted_rule_is_nan_and_says_why_without_image_counts():
    mvso = load_ontology(DATA / "mvso" / "mvso_sentiment_english.csv")
    table = rules_table(mvso).set_index("rule")
    assert math.isnan(table.loc["adjective_majority_weighted", "accuracy"])
    assert "has no image counts" in table.loc["adjective_majority_weighted", "description"]
    # In MVSO English every ANP shares its adjective's polarity: the adjective alone is a perfect rule.
    assert table.loc["adjective_majority", "accuracy"] == 1.0
    assert round(table.loc["always_positive", "accuracy"] * 100, 1) == 54.7


def test_partial_image_counts_raise_naming_an_uncounted_anp():
    ontology = _ontology({"big_sky": 1.0, "big_sea": 1.0}, {"big": 1.0}, {"big_sky": 10})
    with pytest.raises(LeakError, match="1 ANPs have no Flickr image count \\(e.g. 'big_sea'\\)"):
        ontology_rules(ontology)
