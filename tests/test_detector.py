"""The attribute detector behind attention-predicted."""

import numpy as np
import pytest
import torch

from visent.model.detector import AttributeDetector, fit_detector, topk_accuracy


def clustered(n_per=30, seed=0):
    rng = np.random.default_rng(seed)
    centres = {"happy": 0, "sad": 1, "stormy": 2}
    x, y = [], []
    for word, k in centres.items():
        pts = rng.normal(0, 0.3, (n_per, 512)).astype(np.float32)
        pts[:, k] += 3.0
        x.append(pts)
        y += [word] * n_per
    return np.concatenate(x), np.array(y, dtype=object)


def test_detector_recovers_separable_adjectives():
    x, y = clustered()
    det = fit_detector(x, y, seed=0)
    assert det.vocabulary == ["happy", "sad", "stormy"]
    probs = det.probabilities(x)
    assert topk_accuracy(probs, det.vocabulary, y, 1) == 1.0
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)


def test_topk_counts_unseen_adjectives_as_misses():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    vocab = ["a", "b", "c"]
    assert topk_accuracy(probs, vocab, np.array(["b", "c"]), 1) == 0.5
    assert topk_accuracy(probs, vocab, np.array(["b", "zzz"]), 2) == 0.5


def test_queries_are_top1_vectors_or_probability_weighted_means():
    vectors = {"a": np.array([1.0, 0.0], np.float32), "b": np.array([0.0, 1.0], np.float32)}
    det = AttributeDetector(["a", "b"], torch.zeros(2, 512), torch.zeros(2), torch.zeros(512), torch.ones(512))
    pooled = np.zeros((1, 512), np.float32)  # uniform probabilities 0.5 / 0.5
    assert np.allclose(det.queries(pooled, vectors, soft=True), [[0.5, 0.5]])
    assert np.allclose(det.queries(pooled, vectors, soft=False), [[1.0, 0.0]])


def test_saved_detector_loads_back_with_weights_only(tmp_path):
    x, y = clustered(n_per=5)
    det = fit_detector(x, y, epochs=5)
    det.save(tmp_path / "d.pt")
    back = AttributeDetector.load(tmp_path / "d.pt")
    assert back.vocabulary == det.vocabulary
    assert np.allclose(back.probabilities(x), det.probabilities(x))


def test_missing_detector_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="attention-predicted on a dataset with adjectives"):
        AttributeDetector.load(tmp_path / "none.pt")
