"""Twitter II: the layout (partitions, labels, the tweet's text), the text queries of eq. (2), and a
cross-validation on the published partitions end to end. Small copies of the release in
``../shared/data/twitter_II`` (never committed), random backbone weights."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import fast_run_flags
from visent import pipeline
from visent.config import ConfigError, RunConfig
from visent.data.layouts import load_dataset
from visent.data.layouts.twitter2 import tweet_text
from visent.data.table import SPLIT_NAMES
from visent.model.embeddings import WordVectors
from visent.model.queries import derangement
from visent.model.text import text_vectors

INSTAGRAM = """Metadata
<meta property="twitter:title" content="Cute daddy &amp; daughter #obama http://t.co/x1" />
<meta property="og:site_name" content="Instagram" />
<meta property="og:description" content="someone's photo on Instagram">
    Comment by:
someone
Comment:
Cute daddy &amp; daughter #obama http://t.co/x1
Comment Time:
datetime="2012-11-27T21:31:43+00:00">1w</time>
Comment by:
friend
Comment:
So adorable <a href="/someone">@someone</a> &lt;3
Comment Time:
datetime="2012-12-02T05:29:26+00:00">4d</time>
"""

TWITPIC = """Metadata
<meta property="og:title" content="The first kiss. #MemoriesIWontForget - via @quote_friends"/>
<meta property="og:site_name" content="TwitPic"/>
<meta name="twitter:title" value="" />
<meta name="twitter:description" value="The first kiss. #MemoriesIWontForget " />
<meta name="twitter:url" value="https://twitpic.com/bhv1lx" />
"""

#: Per partition, the images copied: a positive and a negative JPEG each; partition1 also has 10.jpg,
#: 9.jpg (a PNG) and 40.jpg (a GIF).
IMAGES = {1: ["1", "104", "10", "9", "40"], 2: ["148", "166"], 3: ["304", "303"], 4: ["460", "461"], 5: ["635", "642"]}


@pytest.fixture
def release(tmp_path: Path, shared_data: Path) -> Path:
    """A copy of part of Twitter II: its whole label file (so most rows name no image here), the
    images of ``IMAGES`` with their texts, 148.jpg without its text, and 999.jpg without a label row."""
    source = shared_data / "twitter_II"
    root = tmp_path / "twitter_II"
    root.mkdir()
    shutil.copy(source / "groundTruthLabel.txt", root)
    for k, ids in IMAGES.items():
        (root / f"partition{k}").mkdir()
        for image in ids:
            shutil.copy(source / f"partition{k}" / f"{image}.jpg", root / f"partition{k}")
            if image != "148":
                for text in (source / f"partition{k}").glob(f"{image}_*.txt"):
                    shutil.copy(text, root / f"partition{k}")
    shutil.copy(source / "partition1" / "1.jpg", root / "partition1" / "999.jpg")
    return root


def test_tweet_text_keeps_the_tweet_and_its_comments_without_html_urls_or_copies():
    assert tweet_text(INSTAGRAM) == "Cute daddy & daughter #obama\nSo adorable @someone <3"


def test_a_twitpic_page_gives_its_description():
    assert tweet_text(TWITPIC) == "The first kiss. #MemoriesIWontForget"


def test_the_layout_reads_each_partition_with_its_labels_and_texts(release):
    dataset = load_dataset("twitter2", release, cache=False)
    samples = dataset.samples.set_index("path")
    assert len(samples) == sum(map(len, IMAGES.values())) == 13
    assert samples.loc["partition3/303.jpg", "partition"] == 3
    assert samples.loc["partition1/1.jpg", "label"] == 1  # "1.jpg\tpositive" in groundTruthLabel.txt
    assert samples.loc["partition1/104.jpg", "label"] == 0
    assert samples.loc["partition1/10.jpg", "hashtag"] == "obama"
    assert samples.loc["partition1/10.jpg", "text"] == "Cute daddy daughter #president #obama"


def test_label_rows_without_an_image_are_one_problem_that_counts_and_names_them(release):
    problems = load_dataset("twitter2", release, cache=False).report.problems
    rows = [p for p in problems if p.reason == "label rows without an image"]
    assert len(rows) == 1
    assert rows[0].path == "groundTruthLabel.txt"
    assert rows[0].detail.startswith("797 of 810 rows name an image that no partition holds (2.jpg, 3.jpg,")


def test_an_image_without_a_label_row_is_reported_and_skipped(release):
    dataset = load_dataset("twitter2", release, cache=False)
    assert "partition1/999.jpg" not in set(dataset.samples["path"])
    [problem] = [p for p in dataset.report.problems if p.path == "partition1/999.jpg"]
    assert problem.reason == "image without a label"


def test_an_image_without_its_text_is_reported_and_kept_with_an_empty_text(release):
    dataset = load_dataset("twitter2", release, cache=False)
    row = dataset.samples.set_index("path").loc["partition2/148.jpg"]
    assert row["text"] == "" and row["hashtag"] is None
    [problem] = [p for p in dataset.report.problems if p.path == "partition2/148.jpg"]
    assert problem.reason == "missing text" and "kept" in problem.detail


def test_with_the_ontology_each_row_lists_the_vso_adjectives_of_its_text(release, vso_ontology):
    dataset = load_dataset("twitter2", release, cache=False, ontology=vso_ontology)
    adjectives = dataset.samples.set_index("path")["vso_adjectives"]
    assert adjectives["partition1/10.jpg"] == "cute"
    assert adjectives["partition2/148.jpg"] == ""


def vectors(**words: list[float]) -> WordVectors:
    return WordVectors(list(words), np.array(list(words.values()), np.float32), "test", "test")


def test_a_text_vector_is_the_idf_weighted_mean_of_its_known_words():
    glove = vectors(happy=[1.0, 0.0], dog=[0.0, 1.0], the=[1.0, 1.0])
    fit = ["the happy dog", "the dog", "the cat"]  # n = 3; df: the 3, dog 2, happy 1
    [vector], [n] = text_vectors(["The happy happy dog, zzz!"], glove, "idf", fit)
    w_happy, w_dog, w_the = np.log(4 / 2) + 1, np.log(4 / 3) + 1, np.log(4 / 4) + 1  # log((1 + n) / (1 + df)) + 1
    total = w_the * np.array([1, 1]) + 2 * w_happy * np.array([1, 0]) + w_dog * np.array([0, 1])
    assert np.allclose(vector, total / (w_the + 2 * w_happy + w_dog))
    assert n == 4  # "zzz" is no word of the vectors


def test_a_text_without_a_known_word_gets_the_zero_query():
    queries, n_words = text_vectors(["zzz qqq", "", None], vectors(happy=[1.0, 2.0]), "mean")
    assert not queries.any() and n_words.tolist() == [0, 0, 0]


def test_shuffled_texts_never_give_an_image_its_own():
    perm = derangement(603, np.random.default_rng(0))
    assert sorted(perm) == list(range(603)) and not (perm == np.arange(603)).any()


def test_variants_that_read_words_are_refused_where_there_are_none():
    with pytest.raises(ConfigError, match="needs a text for each image, which the twitter layout does not have"):
        RunConfig(dataset="twitter", data_root="x", variant="attention-text")
    with pytest.raises(ConfigError, match="needs --ontology"):
        RunConfig(dataset="twitter2", data_root="x", variant="attention-vso-adjective")


def test_cross_validation_tests_on_each_published_partition_end_to_end(release, vso_ontology, tmp_path):
    """``visent cv`` on twitter2 takes the partitions as the folds (test = partition k + 1), decodes
    the PNG and GIF named .jpg by their content, and steers attention with the texts."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "visent", "cv", "--dataset", "twitter2", "--data-root", str(release)),
            *("--ontology", str(vso_ontology), "--variants", "attention-text", "text-only"),
            *fast_run_flags(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for k in range(5):
        result = json.loads((tmp_path / "r" / f"twitter_II-pub-f{k}-attention-text-s0.json").read_text())
        assert {path.split("/")[0] for path in result["predictions"]["path"]} == {f"partition{k + 1}"}
        assert result["dataset"]["n_train"] + result["dataset"]["n_val"] + result["dataset"]["n_test"] == 13
        assert "unreadable image" not in result["dataset"]["report"]["by_reason"]
        assert result["dataset"]["meta"]["queries"]["text"]["images"] == 13
    summary = json.loads((tmp_path / "r" / "twitter_II-pub-summary-text-only.json").read_text())
    assert len(summary["metrics"]["folds"]) == 5


def test_balancing_train_and_val_leaves_the_test_partition_as_published(release):
    """``--balance oversample --balance-splits train val``: the classes are equalised where the model
    learns and stops, and the test partition is the release's, so accuracies stay comparable."""
    config = RunConfig(
        dataset="twitter2",
        data_root=str(release),
        variant="gap",
        cv_folds=5,
        cv_fold=1,
        balance="oversample",
        balance_splits=["train", "val"],
    )
    dataset = pipeline.load_data(config)
    rows = {name: np.flatnonzero(dataset.samples["split"] == name) for name in SPLIT_NAMES}
    _, balanced = pipeline.construct(config, dataset, None, dict(rows), None, torch.device("cpu"), False)
    labels = dataset.samples["label"].to_numpy()
    assert np.array_equal(balanced["test"], rows["test"])
    assert np.bincount(labels[rows["train"]]).tolist() == [3, 6]
    assert np.bincount(labels[balanced["train"]]).tolist() == [6, 6]
    assert config.run_id == "twitter_II-oversample-train-val-pub-f1-gap-s0"
