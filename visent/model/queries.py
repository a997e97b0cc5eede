"""The attention query ``a`` of eq. (2) for every image: its own adjective, a shuffled one, or the
one an attribute detector predicts from the image."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from visent.data.table import Dataset
from visent.model.detector import AttributeDetector, fit_detector, pooled_features, topk_accuracy
from visent.model.embeddings import OOVError, WordVectors
from visent.model.variants import VARIANTS

if TYPE_CHECKING:
    from visent.config import RunConfig


def attribute_queries(
    dataset: Dataset, variant: str, vectors: WordVectors, oov: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``a`` of eq. (2) for every row, and a mask of rows that have one.

    ``truth`` and ``adjective-only`` use the row's own adjective; ``shuffled`` gives every image a
    uniformly random *other* adjective of the dataset, fixed for the run. (A per-adjective
    permutation would keep the adjective's identity, and so the leak, intact.)
    """
    attrs = dataset.samples["attribute"].to_numpy(dtype=object)
    if any(a is None or (isinstance(a, float) and np.isnan(a)) for a in attrs):
        raise ValueError(
            f"variant {variant!r} needs an adjective for every image; {dataset.root} has images without one"
        )
    vocab = sorted(set(attrs.tolist()))
    missing = [w for w in vocab if w not in vectors]
    if missing and oov == "error":
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
    table = {w: vectors[w] for w in known}
    keep = np.array([a in table for a in attrs])
    if VARIANTS[variant].attribute_source == "shuffled":
        if len(known) < 2:
            raise ValueError("attention-shuffled needs at least two adjectives")
        rng = np.random.default_rng([seed, 17])
        index = {w: i for i, w in enumerate(known)}
        own = np.array([index.get(a, 0) for a in attrs])
        other = (own + rng.integers(1, len(known), size=len(attrs))) % len(known)  # never the own one
        chosen = [known[i] for i in other]
    else:
        chosen = attrs
    dim = vectors.dim
    queries = np.stack([table[w] if k else np.zeros(dim, np.float32) for w, k in zip(chosen, keep)]).astype(np.float32)
    return queries, keep


def predicted_queries(
    config: RunConfig, dataset: Dataset, cache, rows: dict[str, np.ndarray], vectors: WordVectors
) -> np.ndarray:
    """Eq. (2) inputs from the attribute detector, fitted on the training split only (or loaded
    from ``config.detector``); a fitted one is saved beside the run's checkpoint."""
    n = len(dataset.samples)
    all_rows = np.arange(n)
    pooled = pooled_features(cache, all_rows)  # (N, C)
    attrs = dataset.samples["attribute"].to_numpy(dtype=object)
    if config.detector:
        detector = AttributeDetector.load(config.detector)
    elif dataset.samples["attribute"].notna().all():
        train = rows["train"]
        detector = fit_detector(pooled[train], attrs[train], seed=config.seed)
        path = Path(config.checkpoint_dir) / f"{config.run_id}-detector.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        detector.save(path)
        dataset.meta["detector_path"] = str(path)
    else:
        raise ValueError(
            f"attention-predicted on {dataset.root} needs --detector PATH: the dataset has no adjectives to "
            "train one; a run of attention-predicted on vso or synthetic data saves one in --checkpoint-dir"
        )
    missing = [w for w in detector.vocabulary if w not in vectors]
    if missing:
        raise OOVError(", ".join(missing), vectors.source, " (adjectives of the attribute detector)")
    if dataset.samples["attribute"].notna().all():
        probs = detector.probabilities(pooled)
        dataset.meta["detector"] = {
            "n_adjectives": len(detector.vocabulary),
            "query": config.detector_query,
            **{
                f"{split}_top{k}": topk_accuracy(probs[rows[split]], detector.vocabulary, attrs[rows[split]], k)
                for split in ("train", "test")
                for k in (1, 5)
            },
        }
    return detector.queries(pooled, vectors, soft=config.detector_query == "soft")
