"""The attention query ``a`` of eq. (2) for every image, by source: :data:`QUERY_SOURCES`.

A source turns a dataset into one query vector per row (and a mask of the rows that have one):
the image's own adjective, a shuffled one, the one an attribute detector predicts from the image,
the image's text, another image's text, or the VSO adjectives found in the text. Variants name
their source (``Variant.attribute_source``); a source receives plain values (:class:`QueryInputs`),
never the run's whole configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visent.data.table import Dataset
from visent.model.detector import AttributeDetector, fit_detector, pooled_features, topk_accuracy
from visent.model.embeddings import OOVError, WordVectors
from visent.model.text import mean_vectors, text_vectors

Queries = tuple[np.ndarray, np.ndarray]  # (N, word_dim) float32 vectors, (N,) bool: rows that have one


@dataclass(frozen=True)
class QueryInputs:
    """What a source reads: the dataset, its split rows, the word vectors and the settings of the run
    that concern queries (``oov``, the detector's, the text weighting)."""

    dataset: Dataset
    rows: dict[str, np.ndarray]
    vectors: WordVectors
    seed: int
    oov: str = "error"
    cache: Any = None  # a RegionCache: the detector reads the pooled regions
    detector: str | None = None  # a saved detector to load instead of fitting one
    detector_query: str = "top1"
    detector_out: Path | None = None  # where a fitted detector is saved
    text_weighting: str = "idf"

    def training_rows(self) -> np.ndarray:
        """The rows of the training images (train and val): what a source may fit anything on."""
        return np.sort(np.concatenate([self.rows.get("train", []), self.rows.get("val", [])]).astype(np.int64))


@dataclass(frozen=True)
class QuerySource:
    """One kind of query: ``needs`` the layout's per-image input (``"attribute"``, ``"text"``) and the
    config keys in ``options``; reads the config keys in ``settings`` (a run id names those set away from
    their default); ``seeded`` when it draws with the run's seed; ``reads_features`` when it is
    computed from the frozen conv5_3 features (so a fine-tuned block could not change it)."""

    name: str
    compute: Callable[[QueryInputs], Queries]
    needs: str | None = None
    options: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    seeded: bool = False
    reads_features: bool = False


QUERY_SOURCES: dict[str, QuerySource] = {}


def query_source(name: str, **about: Any) -> Callable[[Callable[[QueryInputs], Queries]], Callable]:
    """Decorator: register ``compute`` as the query source ``name``."""

    def add(compute: Callable[[QueryInputs], Queries]) -> Callable[[QueryInputs], Queries]:
        if name in QUERY_SOURCES:
            raise ValueError(f"query source {name!r} is registered twice")
        QUERY_SOURCES[name] = QuerySource(name, compute, **about)
        return compute

    return add


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random cyclic permutation of ``range(n)`` (Sattolo): no index maps to itself."""
    perm = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i))
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def _adjectives(inputs: QueryInputs, what: str) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
    """Every row's adjective, the adjectives that have a vector, and their vectors; OOV per ``oov``."""
    dataset, vectors = inputs.dataset, inputs.vectors
    attrs = dataset.samples["attribute"].to_numpy(dtype=object)
    if any(a is None or (isinstance(a, float) and np.isnan(a)) for a in attrs):
        raise ValueError(f"{what} needs an adjective for every image; {dataset.root} has images without one")
    vocab = sorted(set(attrs.tolist()))
    missing = [w for w in vocab if w not in vectors]
    if missing and inputs.oov == "error":
        raise OOVError(
            ", ".join(missing),
            vectors.source,
            f" ({len(missing)} adjective(s) of {dataset.root}); pass --oov skip to leave their images out "
            "(they are reported), or other vectors with --glove",
        )
    for word in missing:
        n = int((attrs == word).sum())
        dataset.report.add(word, "adjective not in GloVe", f"{n} images skipped ({vectors.source})")
    known = [w for w in vocab if w in vectors]
    return attrs, known, {w: vectors[w] for w in known}


def _stack(chosen, keep: np.ndarray, table: dict[str, np.ndarray], dim: int) -> np.ndarray:
    return np.stack([table[w] if k else np.zeros(dim, np.float32) for w, k in zip(chosen, keep)]).astype(np.float32)


@query_source("truth", needs="attribute")
def own_adjective(inputs: QueryInputs) -> Queries:
    """The row's own adjective; rows whose adjective has no vector are masked out (``--oov skip``)."""
    attrs, _, table = _adjectives(inputs, "this variant")
    keep = np.array([a in table for a in attrs])
    return _stack(attrs, keep, table, inputs.vectors.dim), keep


@query_source("shuffled", needs="attribute", seeded=True)
def shuffled_adjective(inputs: QueryInputs) -> Queries:
    """A uniformly random *other* adjective of the dataset for every image, fixed for the run. (A
    per-adjective permutation would keep the adjective's identity, and so the leak, intact.)"""
    attrs, known, table = _adjectives(inputs, "attention-shuffled")
    if len(known) < 2:
        raise ValueError("attention-shuffled needs at least two adjectives")
    keep = np.array([a in table for a in attrs])
    rng = np.random.default_rng([inputs.seed, 17])
    index = {w: i for i, w in enumerate(known)}
    own = np.array([index.get(a, 0) for a in attrs])
    other = (own + rng.integers(1, len(known), size=len(attrs))) % len(known)  # never the own one
    return _stack([known[i] for i in other], keep, table, inputs.vectors.dim), keep


@query_source("predicted", settings=("detector_query",), seeded=True, reads_features=True)
def predicted_adjective(inputs: QueryInputs) -> Queries:
    """Eq. (2) inputs from the attribute detector, fitted on the training split only (or loaded from
    ``inputs.detector``); a fitted one is saved to ``inputs.detector_out``."""
    dataset, vectors = inputs.dataset, inputs.vectors
    n = len(dataset.samples)
    pooled = pooled_features(inputs.cache, np.arange(n))  # (N, C)
    attrs = dataset.samples["attribute"].to_numpy(dtype=object)
    labelled = bool(dataset.samples["attribute"].notna().all())
    if inputs.detector:
        detector = AttributeDetector.load(inputs.detector)
    elif labelled:
        train = inputs.rows["train"]
        detector = fit_detector(pooled[train], attrs[train], seed=inputs.seed)
        if inputs.detector_out is not None:
            inputs.detector_out.parent.mkdir(parents=True, exist_ok=True)
            detector.save(inputs.detector_out)
            dataset.meta["detector_path"] = str(inputs.detector_out)
    else:
        raise ValueError(
            f"attention-predicted on {dataset.root} needs --detector PATH: the dataset has no adjectives to "
            "train one; a run of attention-predicted on vso or synthetic data saves one in --checkpoint-dir"
        )
    missing = [w for w in detector.vocabulary if w not in vectors]
    if missing:
        raise OOVError(", ".join(missing), vectors.source, " (adjectives of the attribute detector)")
    if labelled:
        probs = detector.probabilities(pooled)
        dataset.meta["detector"] = {
            "n_adjectives": len(detector.vocabulary),
            "query": inputs.detector_query,
            **{
                f"{split}_top{k}": topk_accuracy(
                    probs[inputs.rows[split]], detector.vocabulary, attrs[inputs.rows[split]], k
                )
                for split in ("train", "test")
                for k in (1, 5)
            },
        }
    queries = detector.queries(pooled, vectors, soft=inputs.detector_query == "soft")
    return queries, np.ones(n, dtype=bool)


def _coverage(inputs: QueryInputs, source: str, n_words: np.ndarray, **extra: Any) -> None:
    """How many images have a non-zero query, in the dataset's meta (and so in the result file)."""
    inputs.dataset.meta.setdefault("queries", {})[source] = {
        "images": len(n_words),
        "with_words": int((n_words > 0).sum()),
        "without_words": int((n_words == 0).sum()),
        "median_words": float(np.median(n_words)) if len(n_words) else 0.0,
        **extra,
    }


def _texts(inputs: QueryInputs) -> np.ndarray:
    samples = inputs.dataset.samples
    if "text" not in samples:
        raise ValueError(f"{inputs.dataset.root}: this variant reads each image's text; the dataset has no text column")
    return samples["text"].to_numpy(dtype=object)


def _text_vectors(inputs: QueryInputs) -> tuple[np.ndarray, np.ndarray]:
    texts = _texts(inputs)
    fit = texts[inputs.training_rows()] if inputs.text_weighting == "idf" else []
    return text_vectors(list(texts), inputs.vectors, inputs.text_weighting, list(fit))


@query_source("text", needs="text", settings=("text_weighting",))
def own_text(inputs: QueryInputs) -> Queries:
    """The image's own text (``visent.model.text``); a text without a known word gets zeros."""
    queries, n_words = _text_vectors(inputs)
    _coverage(inputs, "text", n_words, weighting=inputs.text_weighting)
    return queries, np.ones(len(queries), dtype=bool)


@query_source("text-shuffled", needs="text", settings=("text_weighting",), seeded=True)
def shuffled_text(inputs: QueryInputs) -> Queries:
    """Another image's text for every image: a random cyclic permutation of the rows, fixed for the run."""
    queries, n_words = _text_vectors(inputs)
    perm = derangement(len(queries), np.random.default_rng([inputs.seed, 19]))
    _coverage(inputs, "text-shuffled", n_words[perm], weighting=inputs.text_weighting)
    return queries[perm], np.ones(len(queries), dtype=bool)


@query_source("vso-adjective", needs="text", options=("ontology",))
def vso_adjectives(inputs: QueryInputs) -> Queries:
    """The mean vector of the VSO adjectives found in the image's text (the layout's ``vso_adjectives``
    column, read with ``--ontology``); an image whose text has none gets zeros."""
    samples = inputs.dataset.samples
    if "vso_adjectives" not in samples:
        raise ValueError(
            f"{inputs.dataset.root}: this variant reads the VSO adjectives of each text; give the ontology that "
            "names them with --ontology (VSO's 3244ANPs.txt)"
        )
    words = [str(cell).split() if isinstance(cell, str) else [] for cell in samples["vso_adjectives"]]
    queries, n_words = mean_vectors(words, inputs.vectors)
    _coverage(inputs, "vso-adjective", n_words, with_several=int((n_words > 1).sum()))
    return queries, np.ones(len(queries), dtype=bool)


__all__ = ["QUERY_SOURCES", "QueryInputs", "QuerySource", "derangement", "query_source"]
