"""Train/val/test splits, duplicate detection and class balancing of a samples table.

Splits are assigned to *units* rather than rows, so that nothing leaks between splits:

- rows sharing a file (an image and its augmentations) are one unit;
- files with identical bytes (``duplicate_groups``, from :func:`find_duplicates`) are one unit;
- under ``heldout-adjectives`` every row of an adjective is one unit.

Balance the *training* rows only, after splitting: balancing before splitting would let
oversampled copies of one image land in both train and test.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from visent.data.table import CLASS_NAMES, NEGATIVE, POSITIVE, SPLIT_NAMES, Dataset, DatasetError

SCHEMES: tuple[str, ...] = ("random", "heldout-adjectives")
#: The split a dataset brings (a manifest's ``split`` column), named so in run ids, tables and result
#: files; blank cells are drawn as ``random`` draws them.
GIVEN = "given"
BALANCE_METHODS: tuple[str, ...] = ("undersample", "oversample")

TRAIN, VAL, TEST = 0, 1, 2


class SplitError(ValueError):
    """A split cannot be made as asked (bad fractions, missing attributes, ...)."""


class SplitWarning(UserWarning):
    """A split was made, but it lacks something the scheme aims for."""


def assign_splits(
    samples: pd.DataFrame,
    scheme: str = "random",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    duplicate_groups: Mapping[str, Iterable[str]] | Iterable[Iterable[str]] | None = None,
) -> np.ndarray:
    """``"train"``/``"val"``/``"test"`` for each row of ``samples``; deterministic for a seed.

    ``random``: stratified by ``group`` (the ANP in VSO). Groups are visited in a seeded
    random order, their units shuffled, and the whole sequence is dealt out so that every
    prefix holds the fractions as closely as possible. A group of ``n`` units thus gets
    ``n * fraction`` units of each split, give or take one; groups too small for a val or
    test unit of their own take turns providing one, so ten groups of one image give 8/1/1.

    ``heldout-adjectives``: whole adjectives (the ``attribute`` column) go to val and test,
    about ``fraction`` of the adjectives each, stratified by the adjective's majority
    polarity. Each polarity with at least three adjectives gets at least one val and one
    test adjective, so both classes appear in test; a test adjective never occurs in train.

    Args:
        samples: a table with the columns of :data:`visent.data.table.COLUMNS`.
        scheme: one of :data:`SCHEMES`.
        fractions: train, val and test shares, non-negative, summing to 1.
        seed: the only source of randomness.
        duplicate_groups: groups of paths with identical content (e.g. the values of
            :func:`find_duplicates`); each group is kept within one split. Paths absent
            from ``samples`` are ignored, so groups found on a full dataset apply to any subset.
    """
    shares = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    if scheme == "random":
        units = _units(samples["path"], samples["path"], duplicate_groups)
        unit_split = _split_random(units, samples["group"].to_numpy(), shares, rng)
    elif scheme == "heldout-adjectives":
        missing = samples["attribute"].isna()
        if missing.any():
            raise SplitError(
                f"scheme 'heldout-adjectives' needs the attribute of every row; {int(missing.sum())} rows have none "
                f"(e.g. {samples.loc[missing, 'path'].iloc[0]!r}); use scheme='random' for this dataset"
            )
        units = _units(samples["attribute"], samples["path"], duplicate_groups)
        unit_split = _split_heldout(units, samples["label"].to_numpy(), shares, rng)
    else:
        raise ValueError(f"unknown split scheme {scheme!r}; valid schemes: {', '.join(SCHEMES)}")
    return np.asarray(SPLIT_NAMES)[unit_split[units]]


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    """The fractions as an array, after checking there are three summing to 1."""
    shares = np.asarray(fractions, dtype=np.float64)
    if shares.shape != (3,) or (shares < 0).any() or not np.isclose(shares.sum(), 1.0) or shares[TRAIN] == 0:
        raise SplitError(
            f"fractions must be three non-negative numbers (train, val, test) summing to 1 with train > 0, "
            f"got {tuple(fractions)}"
        )
    return shares


def _units(
    keys: pd.Series,
    paths: pd.Series,
    duplicate_groups: Mapping[str, Iterable[str]] | Iterable[Iterable[str]] | None,
) -> np.ndarray:
    """Unit id per row: rows are joined when they share a key, a path, or duplicate content.

    Ids number the units in order of first appearance.
    """
    key_codes, key_names = pd.factorize(keys)
    parent = np.arange(len(key_names))

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def union(nodes: Iterable[int]) -> None:
        roots = {find(n) for n in nodes}
        if len(roots) > 1:
            target = min(roots)
            for r in roots:
                parent[r] = target

    keys_of_path: dict[str, set[int]] = defaultdict(set)
    for path, code in zip(paths, key_codes, strict=True):
        keys_of_path[path].add(int(code))
    for codes in keys_of_path.values():
        union(codes)
    groups = duplicate_groups.values() if isinstance(duplicate_groups, Mapping) else duplicate_groups or ()
    for group in groups:
        union(code for path in group for code in keys_of_path.get(path, ()))
    roots = np.array([find(c) for c in range(len(key_names))], dtype=np.int64)
    _, unit_ids = np.unique(roots[key_codes], return_inverse=True)
    # Renumber by first appearance so that ids do not depend on key spelling.
    _, first_rows = np.unique(unit_ids, return_index=True)
    order = np.argsort(np.argsort(first_rows))
    return order[unit_ids]


def _deal(n: int, shares: np.ndarray) -> np.ndarray:
    """Split index for each of ``n`` positions, interleaved so every prefix tracks ``shares``.

    The m-th member of split k ideally sits at position (m - 1/2) / share_k (Webster's
    apportionment); sorting these ideal positions gives the sequence.
    """
    positions, splits = [], []
    for k, share in enumerate(shares):
        if share > 0:
            members = np.arange(1, int(np.ceil(n * share)) + 2)
            positions.append((members - 0.5) / share)
            splits.append(np.full(len(members), k))
    order = np.lexsort((np.concatenate(splits), np.concatenate(positions)))
    return np.concatenate(splits)[order][:n]


def _split_random(units: np.ndarray, groups: np.ndarray, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split per unit for the stratified ``random`` scheme (see :func:`assign_splits`).

    A unit's stratum is the group of its first row.
    """
    n_units = int(units.max()) + 1 if len(units) else 0
    _, first_rows = np.unique(units, return_index=True)
    unit_group = groups[first_rows]
    group_names = np.array(sorted(set(unit_group)), dtype=object)
    group_rank = {g: r for r, g in enumerate(group_names[rng.permutation(len(group_names))])}
    sequence = np.lexsort((rng.permutation(n_units), np.array([group_rank[g] for g in unit_group])))
    unit_split = np.empty(n_units, dtype=np.int64)
    unit_split[sequence] = _deal(n_units, shares)
    return unit_split


def _split_heldout(units: np.ndarray, labels: np.ndarray, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split per unit (adjective) for ``heldout-adjectives`` (see :func:`assign_splits`)."""
    n_units = int(units.max()) + 1 if len(units) else 0
    positive_share = np.bincount(units, weights=labels, minlength=n_units) / np.bincount(units, minlength=n_units)
    unit_polarity = (positive_share >= 0.5).astype(np.int64)
    unit_split = np.empty(n_units, dtype=np.int64)
    for polarity in (NEGATIVE, POSITIVE):
        members = rng.permutation(np.flatnonzero(unit_polarity == polarity))
        counts = np.bincount(_deal(len(members), shares), minlength=3)
        for k in (TEST, VAL):
            if shares[k] > 0 and counts[k] == 0 and counts[TRAIN] > 1:
                counts[TRAIN] -= 1
                counts[k] += 1
        if len(members) and shares[TEST] > 0 and counts[TEST] == 0:
            warnings.warn(
                f"heldout-adjectives: only {len(members)} {CLASS_NAMES[polarity]} adjective(s), none can be held out; "
                f"the test split has no {CLASS_NAMES[polarity]} adjective",
                SplitWarning,
                stacklevel=3,
            )
        unit_split[members] = np.repeat([TRAIN, VAL, TEST], counts)
    return unit_split


def find_duplicates(dataset: Dataset) -> dict[str, list[str]]:
    """Files of ``dataset`` with identical bytes: sha1 hex digest -> sorted paths (2 or more).

    Only files whose size occurs more than once are read, so a collection without
    duplicates costs one ``stat`` per file.
    """
    by_size: dict[int, list[str]] = defaultdict(list)
    for path in sorted(set(dataset.samples["path"])):
        try:
            by_size[(dataset.root / path).stat().st_size].append(path)
        except FileNotFoundError:
            raise DatasetError(
                f"{dataset.root / path} no longer exists; index dataset {dataset.name!r} again"
            ) from None
    by_hash: dict[str, list[str]] = defaultdict(list)
    for same_size in by_size.values():
        if len(same_size) > 1:
            for path in same_size:
                by_hash[hashlib.sha1((dataset.root / path).read_bytes()).hexdigest()].append(path)
    return {digest: paths for digest, paths in sorted(by_hash.items()) if len(paths) > 1}


def balance(samples: pd.DataFrame, seed: int = 0, method: str = "undersample") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Equalise the number of positive and negative rows.

    ``undersample`` keeps a seeded random subset of the larger class (the paper samples
    its training images so that the classes match); ``oversample`` repeats seeded random
    rows of the smaller class. Kept rows stay in their original order, repeats follow.

    Returns:
        The balanced table (fresh index) and ``{"method", "before", "after"}`` where the
        last two map ``"positive"``/``"negative"`` to row counts.
    """
    if method not in BALANCE_METHODS:
        raise ValueError(f"unknown balance method {method!r}; valid methods: {', '.join(BALANCE_METHODS)}")
    labels = samples["label"].to_numpy()
    members = {c: np.flatnonzero(labels == c) for c in (POSITIVE, NEGATIVE)}
    empty = [CLASS_NAMES[c] for c, rows in members.items() if len(rows) == 0]
    if empty:
        raise SplitError(f"cannot balance a table without {' or '.join(empty)} rows ({len(samples)} rows in all)")
    rng = np.random.default_rng(seed)
    small, large = sorted(members.values(), key=len)
    if method == "undersample":
        keep = np.sort(np.concatenate([small, rng.choice(large, size=len(small), replace=False)]))
    else:
        keep = np.concatenate([np.arange(len(samples)), rng.choice(small, size=len(large) - len(small), replace=True)])
    balanced = samples.iloc[keep].reset_index(drop=True)
    return balanced, {"method": method, "before": _class_counts(samples), "after": _class_counts(balanced)}


def _class_counts(samples: pd.DataFrame) -> dict[str, int]:
    """``{"positive": n, "negative": n}`` rows."""
    return {CLASS_NAMES[c]: int((samples["label"] == c).sum()) for c in (POSITIVE, NEGATIVE)}
