"""Specification of visent.data.splits: leak-free train/val/test splits, duplicates, balancing."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from visent.data.splits import SplitError, SplitWarning, assign_splits, balance, find_duplicates
from visent.data.table import Dataset, make_samples


def vso_table(adjectives: dict[str, int], nouns: tuple[str, ...] = ("dog", "sky"), per_anp: int = 10) -> pd.DataFrame:
    """``per_anp`` images for each adjective x noun; ``adjectives`` maps adjective -> label."""
    return make_samples(
        {"path": f"{a}_{n}/{i}.jpg", "label": label, "attribute": a, "noun": n, "anp": f"{a}_{n}"}
        for a, label in adjectives.items()
        for n in nouns
        for i in range(per_anp)
    )


def polar_adjectives(n_per_class: int) -> dict[str, int]:
    return {**{f"good{i}": 1 for i in range(n_per_class)}, **{f"bad{i}": 0 for i in range(n_per_class)}}


def test_random_split_is_deterministic_for_a_seed_and_varies_across_seeds():
    samples = vso_table(polar_adjectives(4))

    first = assign_splits(samples, seed=3)

    assert np.array_equal(first, assign_splits(samples, seed=3))
    assert not np.array_equal(first, assign_splits(samples, seed=4))
    assert set(first) == {"train", "val", "test"}


def test_random_split_gives_every_anp_80_10_10():
    samples = vso_table(polar_adjectives(3), per_anp=20)

    splits = assign_splits(samples, seed=0)

    per_anp = pd.crosstab(samples["anp"], splits)
    assert (per_anp["train"] == 16).all()
    assert (per_anp["val"] == 2).all()
    assert (per_anp["test"] == 2).all()


def test_groups_too_small_for_a_val_or_test_image_take_turns():
    samples = make_samples({"path": f"g{i}/0.jpg", "label": i % 2, "anp": f"a_n{i}"} for i in range(20))

    splits = assign_splits(samples, seed=1)

    assert Counter(splits) == {"train": 16, "val": 2, "test": 2}


def test_groups_of_uneven_size_stay_within_one_image_of_their_share():
    samples = make_samples(
        {"path": f"{g}/{i}.jpg", "label": g % 2, "anp": f"anp{g}"}
        for g, size in enumerate([7, 13, 25, 31, 4])
        for i in range(size)
    )

    splits = assign_splits(samples, seed=5)

    for anp, size in zip([f"anp{g}" for g in range(5)], [7, 13, 25, 31, 4], strict=True):
        got = Counter(splits[samples["anp"] == anp])
        for name, share in zip(("train", "val", "test"), (0.8, 0.1, 0.1), strict=True):
            assert abs(got[name] - size * share) <= 1, (anp, got)


def test_augmented_rows_stay_with_their_original_image():
    base = vso_table(polar_adjectives(2), per_anp=5)
    augmented = base.assign(augment=np.int16(1))
    samples = pd.concat([base, augmented], ignore_index=True)

    splits = assign_splits(samples, seed=2)

    assert np.array_equal(splits[: len(base)], splits[len(base) :])


def test_heldout_adjectives_never_appear_in_train_and_test_has_both_classes():
    samples = vso_table(polar_adjectives(20), per_anp=3)

    splits = assign_splits(samples, scheme="heldout-adjectives", seed=0)

    by_split = {name: set(samples.loc[splits == name, "attribute"]) for name in ("train", "val", "test")}
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["val"]
    assert not by_split["val"] & by_split["test"]
    assert [len(by_split[s]) for s in ("train", "val", "test")] == [32, 4, 4]
    assert set(samples.loc[splits == "test", "label"]) == {0, 1}


def test_heldout_gives_each_class_of_three_or_more_adjectives_a_val_and_test_adjective():
    samples = vso_table(polar_adjectives(3))

    splits = assign_splits(samples, scheme="heldout-adjectives", seed=9)

    for label in (0, 1):
        adjectives = samples[samples["label"] == label].assign(split=splits[samples["label"] == label])
        assert adjectives.groupby("split")["attribute"].nunique().to_dict() == {"test": 1, "train": 1, "val": 1}


def test_heldout_warns_when_a_class_has_a_single_adjective():
    samples = vso_table({"good": 1, "bad0": 0, "bad1": 0, "bad2": 0})

    with pytest.warns(SplitWarning, match="only 1 positive adjective"):
        splits = assign_splits(samples, scheme="heldout-adjectives")

    assert set(splits[samples["label"] == 1]) == {"train"}


def test_heldout_without_attributes_says_which_scheme_to_use():
    samples = make_samples([{"path": "a.jpg", "label": 1}, {"path": "b.jpg", "label": 0}])

    with pytest.raises(SplitError, match=r"2 rows have none \(e.g. 'a.jpg'\); use scheme='random'"):
        assign_splits(samples, scheme="heldout-adjectives")


@pytest.mark.parametrize("fractions", [(0.8, 0.1), (0.8, 0.3, 0.1), (0.9, -0.1, 0.2), (0.0, 0.5, 0.5)])
def test_bad_fractions_are_rejected(fractions):
    with pytest.raises(SplitError, match="fractions must be three non-negative numbers"):
        assign_splits(vso_table({"good": 1}), fractions=fractions)


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid schemes: random, heldout-adjectives"):
        assign_splits(vso_table({"good": 1}), scheme="kfold")


@pytest.fixture
def dataset_with_copies(tmp_path, make_tree) -> Dataset:
    """Ten ANP folders of two photos; three files are byte copies of ``a_n0/0.jpg``."""
    make_tree(tmp_path, {f"a_n{g}": ["0.jpg", "1.jpg"] for g in range(10)})
    for target in ("a_n3/1.jpg", "a_n6/1.jpg", "a_n9/0.jpg"):
        shutil.copyfile(tmp_path / "a_n0" / "0.jpg", tmp_path / target)
    (tmp_path / "a_n5" / "1.jpg").write_bytes(b"x" * (tmp_path / "a_n5" / "0.jpg").stat().st_size)
    samples = make_samples(
        {"path": f"a_n{g}/{i}.jpg", "label": g % 2, "attribute": f"a{g}", "anp": f"a_n{g}"}
        for g in range(10)
        for i in range(2)
    )
    return Dataset("copies", tmp_path, samples)


def test_find_duplicates_groups_identical_bytes_only(dataset_with_copies):
    groups = find_duplicates(dataset_with_copies)

    assert list(groups.values()) == [["a_n0/0.jpg", "a_n3/1.jpg", "a_n6/1.jpg", "a_n9/0.jpg"]]
    assert all(len(digest) == 40 for digest in groups)


@pytest.mark.parametrize("scheme", ["random", "heldout-adjectives"])
def test_duplicates_never_straddle_splits(dataset_with_copies, scheme):
    samples = dataset_with_copies.samples
    copies = samples["path"].isin(["a_n0/0.jpg", "a_n3/1.jpg", "a_n6/1.jpg", "a_n9/0.jpg"]).to_numpy()
    groups = find_duplicates(dataset_with_copies)
    straddled_without = 0
    for seed in range(12):
        assert len(set(assign_splits(samples, scheme, seed=seed, duplicate_groups=groups)[copies])) == 1
        straddled_without += len(set(assign_splits(samples, scheme, seed=seed)[copies])) > 1
    assert straddled_without > 0  # without the groups, copies do land in different splits


def test_undersampling_keeps_a_seeded_subset_of_the_larger_class():
    samples = make_samples({"path": f"{i}.jpg", "label": int(i < 6)} for i in range(9))

    balanced, counts = balance(samples, seed=0)

    assert counts == {
        "method": "undersample",
        "before": {"positive": 6, "negative": 3},
        "after": {"positive": 3, "negative": 3},
    }
    assert set(balanced["path"]) >= {"6.jpg", "7.jpg", "8.jpg"}
    assert balanced["path"].is_unique
    assert balanced.equals(balance(samples, seed=0)[0])
    assert not balanced.equals(balance(samples, seed=1)[0])


def test_oversampling_repeats_rows_of_the_smaller_class_after_all_originals():
    samples = make_samples({"path": f"{i}.jpg", "label": int(i < 6)} for i in range(9))

    balanced, counts = balance(samples, seed=0, method="oversample")

    assert counts["after"] == {"positive": 6, "negative": 6}
    assert balanced["path"].iloc[:9].tolist() == samples["path"].tolist()
    assert set(balanced["path"].iloc[9:]) <= {"6.jpg", "7.jpg", "8.jpg"}


def test_balancing_a_single_class_table_is_an_error():
    samples = make_samples({"path": f"{i}.jpg", "label": 1} for i in range(3))

    with pytest.raises(SplitError, match="cannot balance a table without negative rows"):
        balance(samples)
    with pytest.raises(ValueError, match="valid methods: undersample, oversample"):
        balance(samples, method="smote")
