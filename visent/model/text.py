"""The query ``a`` of eq. (2) from a text: a weighted mean of its words' GloVe vectors.

A text's vector is ``sum_w c_w f_w v_w / sum_w c_w f_w`` over its in-vocabulary words ``w``, with
``c_w`` the word's count in the text, ``v_w`` its vector and ``f_w`` its weight: 1 for ``"mean"``,
its inverse document frequency for ``"idf"``, ``log((1 + n) / (1 + df_w)) + 1`` over the ``n``
texts of the training images only (a word no training text has gets the largest weight). A text
without an in-vocabulary word gets the zero vector, for which eq. (2) gives ``aE = ReLU(b_a)``:
one learned query, the same for every such image.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from visent.data.text import tokenize
from visent.model.embeddings import WordVectors

#: How a text's words are weighted in its vector (see the module docstring).
TEXT_WEIGHTINGS = ("idf", "mean")


def idf(texts: Sequence[str | None]) -> tuple[dict[str, float], float]:
    """Smoothed inverse document frequency of every word of ``texts``, and the weight of a word in none."""
    n = len(texts)
    df = Counter(word for text in texts for word in set(tokenize(text)))
    unseen = float(np.log(1 + n) + 1)
    return {word: float(np.log((1 + n) / (1 + count)) + 1) for word, count in df.items()}, unseen


def text_vectors(
    texts: Sequence[str | None], vectors: WordVectors, weighting: str, fit: Sequence[str | None] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """``(len(texts), dim)`` float32 vectors and the number of in-vocabulary words of each text;
    ``fit`` are the texts the idf is computed from (the training images' only)."""
    if weighting not in TEXT_WEIGHTINGS:
        raise ValueError(f"text weighting must be one of {TEXT_WEIGHTINGS}, got {weighting!r}")
    weights, unseen = idf(fit) if weighting == "idf" else ({}, 1.0)
    out = np.zeros((len(texts), vectors.dim), np.float32)
    n_words = np.zeros(len(texts), np.int64)
    for i, text in enumerate(texts):
        counts = Counter(word for word in tokenize(text) if word in vectors)
        if not counts:
            continue
        words = sorted(counts)
        f = np.array([counts[w] * (weights.get(w, unseen) if weighting == "idf" else 1.0) for w in words])
        out[i] = (f[:, None] * vectors.lookup(words)).sum(0) / f.sum()
        n_words[i] = sum(counts.values())
    return out, n_words


def mean_vectors(word_lists: Sequence[Sequence[str]], vectors: WordVectors) -> tuple[np.ndarray, np.ndarray]:
    """The plain mean vector of each list's in-vocabulary words (zero for none), and how many each had."""
    out = np.zeros((len(word_lists), vectors.dim), np.float32)
    n_words = np.zeros(len(word_lists), np.int64)
    for i, words in enumerate(word_lists):
        known = [w for w in words if w in vectors]
        if known:
            out[i] = vectors.lookup(known).mean(0)
            n_words[i] = len(known)
    return out, n_words
