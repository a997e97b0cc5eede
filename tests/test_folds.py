"""Published folds (Campos et al. 2017 for Twitter I): reading them, matching them to a dataset,
reporting what they leave out, and keeping every test image out of training and early stopping."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import fast_run_flags
from visent.config import RunConfig
from visent.data.folds import (
    UNASSIGNED,
    FoldsError,
    carve_validation,
    folds_folder,
    published_split,
    read_folds,
    stratified_folds,
)
from visent.data.layouts import load_dataset
from visent.distributed import resolve_device
from visent.pipeline import load_data, prepare


@pytest.fixture(scope="session")
def twitter_folds(shared_data: Path) -> Path:
    return shared_data / "twitter_I" / "folds"


def test_the_published_twitter_folds_read_as_five_folds_that_partition_the_subset(twitter_folds):
    folds = read_folds(folds_folder(twitter_folds, "five"))
    assert len(folds) == 5 and folds.root.name == "five_agrees"
    assert [len(t) for t in folds.test] == [176] * 5 and [len(t) for t in folds.train] == [704] * 5
    tested = [name for test in folds.test for name in test]
    assert len(tested) == len(set(tested)) == 880  # every listed image is tested exactly once
    assert folds.describe() == {"path": str(folds.root), "k": 5, "sha256": folds.sha256}
    assert read_folds(folds.root).sha256 == folds.sha256


def _twitter_subset(root: Path, shared: Path, names: list[str], labels: dict[str, int]) -> Path:
    """A Twitter-layout folder linking a few of the shared photos (never copied)."""
    (root / "images").mkdir(parents=True)
    for name in names:
        (root / "images" / name).symlink_to(shared / "twitter_I" / "images" / name)
    for subset in ("five", "four", "three"):
        (root / f"twitter_{subset}_agrees.txt").write_text("".join(f"{n} {labels[n]}\n" for n in names))
    return root


def _write_folds(root: Path, folds: list[tuple[list[str], list[str]]], labels: dict[str, int]) -> Path:
    for k, (train, test) in enumerate(folds, start=1):
        folder = root / f"test{k}"
        folder.mkdir(parents=True)
        (folder / "train.txt").write_text("".join(f"{n} {labels[n]}\n" for n in train))
        (folder / "test.txt").write_text("".join(f"{n} {labels[n]}\n" for n in test))
    return root


@pytest.fixture
def small_twitter(tmp_path, shared_data):
    """14 shared photos in the Twitter layout; two published folds over the first 12 of them."""
    listed = (shared_data / "twitter_I" / "twitter_five_agrees.txt").read_text().split("\n")
    pairs = [line.split() for line in listed if line.strip()]
    negatives = [p for p in pairs if p[1] == "0"][:7]
    positives = [p for p in pairs if p[1] == "1"][:7]
    labels = {n: int(v) for n, v in negatives + positives}
    names = [n for pair in zip(negatives, positives) for n, _ in [pair[0], pair[1]]]
    root = _twitter_subset(tmp_path / "twitter", shared_data, names, labels)
    covered = names[:12]
    folds = _write_folds(tmp_path / "folds", [(covered[6:], covered[:6]), (covered[:6], covered[6:])], labels)
    return root, folds, names, labels


def test_images_in_no_published_fold_are_reported_and_take_no_part(small_twitter):
    root, folds_dir, names, _ = small_twitter
    dataset = load_dataset("twitter", root, cache=False, subset="five")
    split = published_split(dataset, read_folds(folds_dir), 0)
    left_out = {dataset.samples["path"].iat[i] for i in np.nonzero(split == UNASSIGNED)[0]}
    assert left_out == {f"images/{n}" for n in names[12:]}
    reported = [p for p in dataset.report.problems if p.reason == "in no published fold"]
    assert sorted(p.path for p in reported) == sorted(left_out)
    assert (split == "test").sum() == 6 and (split == "train").sum() == 6


def test_a_fold_entry_without_an_image_and_a_disagreeing_label_are_reported(tmp_path, small_twitter):
    root, folds_dir, names, labels = small_twitter
    bad = dict(labels) | {names[0]: 1 - labels[names[0]], "ghost.jpg": 1}
    folds_dir = _write_folds(tmp_path / "bad", [(names[6:12] + ["ghost.jpg"], names[:6])] * 2, bad)
    dataset = load_dataset("twitter", root, cache=False, subset="five")
    split = published_split(dataset, read_folds(folds_dir), 0)
    reasons = {p.reason: p for p in dataset.report.problems}
    assert reasons["fold entry not in the dataset"].detail.startswith("ghost.jpg")
    assert reasons["fold label differs"].path == f"images/{names[0]}"
    assert split[dataset.samples["path"].tolist().index(f"images/{names[0]}")] == UNASSIGNED


def test_validation_comes_from_the_training_part_of_the_fold_only():
    labels = np.array([0, 1] * 20)
    split = np.array(["train"] * 30 + ["test"] * 10, dtype=object)
    carved = carve_validation(split, labels, seed=3)
    assert (carved[30:] == "test").all()
    assert (carved == "val").sum() == 4 and set(labels[carved == "val"]) == {0, 1}
    assert ((carved == "val") | (carved == "train")).sum() == 30


def test_no_test_image_of_a_published_fold_reaches_training_or_early_stopping(tmp_path, small_twitter):
    root, folds_dir, _, _ = small_twitter
    for fold in (0, 1):
        config = RunConfig.from_dict(
            {
                "dataset": "twitter",
                "data_root": str(root),
                "folds": str(folds_dir),
                "cv_fold": fold,
                "variant": "gap",
                "weights": "random",
                "cache_dir": str(tmp_path / "cache"),
                "index_cache": False,
            }
        )
        prepared = prepare(config, resolve_device("cpu"), progress=False)
        paths = prepared.dataset.samples["path"].to_numpy()
        test = set(paths[prepared.data.rows["test"]])
        seen = set(paths[prepared.data.rows["train"]]) | set(paths[prepared.data.rows["val"]])
        expected = {f"images/{n}" for n in read_folds(folds_dir).test[fold]}
        assert test == expected and not (test & seen) and len(prepared.data.rows["val"]) >= 1
        assert prepared.dataset.meta["folds"]["sha256"] == read_folds(folds_dir).sha256


def test_a_malformed_fold_line_stops_with_the_file_and_line(tmp_path):
    for k in (1, 2):
        (tmp_path / f"test{k}").mkdir()
        (tmp_path / f"test{k}" / "train.txt").write_text("a.jpg 1\n")
        (tmp_path / f"test{k}" / "test.txt").write_text("b.jpg 0\n")
    (tmp_path / "test2" / "test.txt").write_text("b.jpg 0\nc.jpg maybe\n")
    with pytest.raises(FoldsError, match=r"test2/test.txt:2: 'c.jpg maybe'"):
        read_folds(tmp_path)


def test_fold_folders_must_be_numbered_without_gaps(tmp_path):
    for k in (1, 3):
        (tmp_path / f"test{k}").mkdir()
    with pytest.raises(FoldsError, match=r"numbered \[1, 3\]"):
        read_folds(tmp_path)


def test_a_missing_folds_folder_is_named():
    with pytest.raises(FoldsError, match="folds folder /no/such does not exist"):
        folds_folder("/no/such")


def test_visents_own_stratified_folds_partition_the_data():
    labels = np.array([1] * 30 + [0] * 20)
    tests = [np.nonzero(stratified_folds(labels, 5, k, seed=0) == "test")[0] for k in range(5)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(50))
    assert all((labels[t] == 1).sum() == 6 and (labels[t] == 0).sum() == 4 for t in tests)


def test_the_three_twitter_subsets_read_one_feature_cache(tmp_path, small_twitter):
    root, folds_dir, names, labels = small_twitter
    (root / "twitter_five_agrees.txt").write_text("".join(f"{n} {labels[n]}\n" for n in names[:8]))
    caches = set()
    for subset in ("five", "three"):
        config = RunConfig.from_dict(
            {
                "dataset": "twitter",
                "data_root": str(root),
                "twitter_subset": subset,
                "variant": "gap",
                "weights": "random",
                "cache_dir": str(tmp_path / "cache"),
                "index_cache": False,
                "cv_folds": 2,
            }
        )
        prepared = prepare(config, resolve_device("cpu"), progress=False)
        caches.add(prepared.cache.root)
        assert len(prepared.cache) == len(prepared.dataset.samples) == (8 if subset == "five" else 14)
    assert len(caches) == 1 and len(list((tmp_path / "cache").iterdir())) == 1
    five = load_data(
        RunConfig.from_dict(
            {"dataset": "twitter", "data_root": str(root), "variant": "gap", "cv_folds": 2, "index_cache": False}
        )
    )
    assert len(five.samples) == 8


def test_visent_cv_with_published_folds_runs_variants_and_seeds_and_summarises(tmp_path, small_twitter):
    root, folds_dir, _, _ = small_twitter
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "visent",
            "cv",
            "--dataset",
            "twitter",
            "--data-root",
            str(root),
            "--folds",
            str(folds_dir),
            "--variants",
            "linear-probe",
            "gap",
            "--seeds",
            "0",
            "1",
            *fast_run_flags(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "r").glob("*.json"))
    runs = [f"twitter-five-pub-f{k}-{v}-s{s}.json" for v in ("gap", "linear-probe") for k in (0, 1) for s in (0, 1)]
    assert names == sorted(runs + ["twitter-five-pub-summary-gap.json", "twitter-five-pub-summary-linear-probe.json"])
    summary = json.loads((tmp_path / "r" / "twitter-five-pub-summary-gap.json").read_text())
    per_fold = [
        np.mean(
            [
                json.loads((tmp_path / "r" / f"twitter-five-pub-f{k}-gap-s{s}.json").read_text())["metrics"][
                    "test_accuracy"
                ]
                for s in (0, 1)
            ]
        )
        for k in (0, 1)
    ]
    assert summary["kind"] == "cv-summary" and summary["seeds"] == [0, 1]
    assert summary["metrics"]["test_accuracy"] == pytest.approx(np.mean(per_fold))
    run = json.loads((tmp_path / "r" / "twitter-five-pub-f0-gap-s0.json").read_text())
    assert run["dataset"]["meta"]["folds"]["sha256"] == read_folds(folds_dir).sha256
    assert run["dataset"]["report"]["by_reason"] == {"in no published fold": 2}
    assert "2-fold mean test accuracy" in done.stdout
    again = subprocess.run(done.args, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert again.returncode == 0 and again.stdout.count("reused") == 8


def test_folds_of_another_dataset_say_that_no_fold_entry_is_in_the_data(tmp_path, small_twitter, capsys):
    from visent.cli import main

    root, *_ = small_twitter
    other = {f"other{i}.jpg": i % 2 for i in range(8)}
    folds_dir = _write_folds(tmp_path / "other", [(list(other)[:4], list(other)[4:])] * 2, other)
    code = main(["cv", "--dataset", "twitter", "--data-root", str(root), "--folds", str(folds_dir), "--variant", "gap"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"{folds_dir / 'test1'}/train.txt lists 4 images and none of them is in {root}" in err
    assert "it lists e.g. other0.jpg, other1.jpg; the dataset holds e.g. images/" in err
