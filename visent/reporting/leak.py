"""The adjective leak: how well an ANP's polarity is predicted without looking at any image.

Each rule predicts every ANP's polarity from the ontology alone and is scored against the ANP's
score sign; the tie and abstention decisions that reproduce the published table are in the
book's architecture chapter (section "The leak rules").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from visent.data.ontology import Ontology

__all__ = ["LeakError", "RuleResult", "evaluate_rules", "ontology_rules", "rules_table"]

# A rule maps an ANP name to a predicted polarity, or None when it abstains.
Rule = Callable[[str], int | None]


class LeakError(ValueError):
    """An ontology the leak rules cannot score as asked."""


@dataclass(frozen=True)
class RuleResult:
    """One rule's accuracy and how many ANPs it predicted (``scored``) or abstained on."""

    rule: str
    accuracy: float
    scored: int
    abstained: int
    description: str


def _majority(votes: list[int]) -> int | None:
    positive = sum(votes)
    negative = len(votes) - positive
    if positive == negative:
        return None
    return int(positive > negative)


def _sign(score: float) -> int | None:
    return None if score == 0 else int(score > 0)


def _accuracy(rule: Rule, truth: dict[str, int], weights: dict[str, int] | None = None) -> tuple[float, int]:
    """Accuracy of ``rule`` over the ANPs it predicts, optionally weighted, and how many it predicts."""
    correct = total = 0.0
    scored = 0
    for anp, polarity in truth.items():
        predicted = rule(anp)
        if predicted is None:
            continue
        weight = 1.0 if weights is None else weights[anp]
        correct += weight * (predicted == polarity)
        total += weight
        scored += 1
    return (correct / total if total else math.nan), scored


def evaluate_rules(ontology: Ontology) -> list[RuleResult]:
    """Score every adjective-leak rule on ``ontology`` (see the module docstring for the rules)."""
    truth = {anp: int(score > 0) for anp, (_, _, score) in ontology.anps.items() if score != 0}
    by_adjective: dict[str, list[str]] = defaultdict(list)
    by_noun: dict[str, list[str]] = defaultdict(list)
    for anp in truth:
        adjective, noun, _ = ontology.anps[anp]
        by_adjective[adjective].append(anp)
        by_noun[noun].append(anp)

    def adjective_of(anp: str) -> str:
        return ontology.anps[anp][0]

    def adjective_majority(anp: str) -> int | None:
        majority = _majority([truth[other] for other in by_adjective[adjective_of(anp)]])
        return _sign(ontology.adjectives[adjective_of(anp)]) if majority is None else majority

    def leave_one_out(groups: dict[str, list[str]], key: int) -> Rule:
        def rule(anp: str) -> int | None:
            return _majority([truth[other] for other in groups[str(ontology.anps[anp][key])] if other != anp])

        return rule

    has_counts = bool(ontology.anp_images)
    uncounted = [anp for anp in truth if anp not in ontology.anp_images]
    if has_counts and uncounted:
        raise LeakError(
            f"{ontology.source}: {len(uncounted)} ANPs have no Flickr image count (e.g. {uncounted[0]!r}); "
            "the weighted rule needs a count for every ANP or for none"
        )
    no_counts = "" if has_counts else f" (NaN: {ontology.source} has no image counts)"
    rules: list[tuple[str, Rule, bool, str]] = [
        (
            "adjective_majority",
            adjective_majority,
            False,
            "majority polarity of the ANPs sharing the adjective (ties: the adjective's own score sign)",
        ),
        (
            "adjective_majority_weighted",
            adjective_majority,
            True,
            "adjective_majority, each ANP weighted by its Flickr image count" + no_counts,
        ),
        (
            "adjective_majority_loo",
            leave_one_out(by_adjective, 0),
            False,
            "majority polarity of the other ANPs sharing the adjective; abstains on ties and lone ANPs",
        ),
        (
            "adjective_sign",
            lambda anp: _sign(ontology.adjectives[adjective_of(anp)]),
            False,
            "sign of the adjective's own score",
        ),
        (
            "noun_majority_loo",
            leave_one_out(by_noun, 1),
            False,
            "majority polarity of the other ANPs sharing the noun; abstains on ties and lone ANPs",
        ),
        ("always_positive", lambda anp: 1, False, "predict positive for every ANP"),
    ]
    results = []
    for name, rule, weighted, description in rules:
        if weighted and not has_counts:
            results.append(RuleResult(name, math.nan, 0, len(truth), description))
            continue
        accuracy, scored = _accuracy(rule, truth, ontology.anp_images if weighted else None)
        results.append(RuleResult(name, accuracy, scored, len(truth) - scored, description))
    return results


def ontology_rules(ontology: Ontology) -> dict[str, float]:
    """Accuracy of each adjective-leak rule, keyed by rule name."""
    return {result.rule: result.accuracy for result in evaluate_rules(ontology)}


def rules_table(ontology: Ontology) -> pd.DataFrame:
    """The rules as a table: rule, accuracy, description, and the scored / abstained ANP counts."""
    results = evaluate_rules(ontology)
    return pd.DataFrame(
        {
            "rule": [r.rule for r in results],
            "accuracy": [r.accuracy for r in results],
            "description": [r.description for r in results],
            "scored": [r.scored for r in results],
            "abstained": [r.abstained for r in results],
        }
    )
