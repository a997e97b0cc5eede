"""The attribute detector: predicts an image's adjective from its pixels, as in You, Jin & Luo (2017).

The paper feeds eq. (2) the ground-truth adjective, which is not available for a new image and,
on VSO, nearly fixes the label. The ``attention-predicted`` variant replaces it with the adjective
this detector predicts: a softmax classifier over the training adjectives on the mean-pooled
conv5_3 features, fitted on the training split only. The query is either the GloVe vector of the
top-1 adjective or (``soft=True``) the probability-weighted mean of all adjectives' vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from visent.atomic import atomic_write


def pooled_features(cache, rows: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Mean over the regions, ``(len(rows), C)`` float32, streamed from the cache."""
    out = [cache.regions(rows[s : s + chunk]).float().mean(dim=1).numpy() for s in range(0, len(rows), chunk)]
    return np.concatenate(out) if out else np.zeros((0, cache.shape[1]), np.float32)


@dataclass
class AttributeDetector:
    """A fitted linear softmax classifier over ``vocabulary`` on standardised pooled features."""

    vocabulary: list[str]
    weight: torch.Tensor  # (K, 512)
    bias: torch.Tensor  # (K,)
    mean: torch.Tensor  # (512,)
    std: torch.Tensor  # (512,)

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        x = (torch.from_numpy(pooled) - self.mean) / self.std
        return F.softmax(x @ self.weight.T + self.bias, dim=-1).numpy()

    def save(self, path) -> None:
        """A plain dict of tensors and strings, loadable with ``weights_only=True``; written aside
        and renamed, so a crash never leaves half a detector."""
        state = {
            "vocabulary": self.vocabulary,
            "weight": self.weight,
            "bias": self.bias,
            "mean": self.mean,
            "std": self.std,
        }
        atomic_write(Path(path), lambda fh: torch.save(state, fh))

    @classmethod
    def load(cls, path) -> AttributeDetector:
        hint = "train attention-predicted on a dataset with adjectives (vso, synthetic) first, it saves one"
        if not Path(path).is_file():
            raise FileNotFoundError(f"attribute detector {path} does not exist; {hint}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            return cls(**state)
        except Exception as err:  # a foreign or damaged file fails in many ways (pickle, zip, keys)
            raise ValueError(
                f"{path} is not an attribute detector saved by visent ({type(err).__name__}); {hint}"
            ) from None

    def queries(self, pooled: np.ndarray, vectors, soft: bool = False) -> np.ndarray:
        """The eq. (2) input for each image: top-1 adjective's vector, or the expected vector."""
        table = np.stack([vectors[w] for w in self.vocabulary]).astype(np.float32)  # (K, word_dim)
        p = self.probabilities(pooled)
        return (p @ table if soft else table[p.argmax(1)]).astype(np.float32)


def fit_detector(
    pooled: np.ndarray, attributes: np.ndarray, seed: int = 0, epochs: int = 200, weight_decay: float = 1e-4
) -> AttributeDetector:
    """Full-batch Adam on the multinomial logistic loss (a convex problem), seeded."""
    vocabulary = sorted(set(attributes.tolist()))
    index = {w: i for i, w in enumerate(vocabulary)}
    y = torch.tensor([index[a] for a in attributes])
    x = torch.from_numpy(pooled.astype(np.float32))
    mean, std = x.mean(0), x.std(0).clamp_min(1e-3)
    x = (x - mean) / std
    gen = torch.Generator().manual_seed(seed)
    weight = (torch.randn(len(vocabulary), x.shape[1], generator=gen) * 0.01).requires_grad_()
    bias = torch.zeros(len(vocabulary), requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=0.01, weight_decay=weight_decay)
    for _ in range(epochs):
        opt.zero_grad()
        F.cross_entropy(x @ weight.T + bias, y).backward()
        opt.step()
    return AttributeDetector(vocabulary, weight.detach(), bias.detach(), mean, std)


def topk_accuracy(probs: np.ndarray, vocabulary: list[str], truth: np.ndarray, k: int) -> float:
    """Share of images whose true adjective is among the ``k`` most probable ones (0 if unseen)."""
    top = np.argsort(-probs, axis=1)[:, :k]
    index = {w: i for i, w in enumerate(vocabulary)}
    true_idx = np.array([index.get(t, -1) for t in truth])
    return float((top == true_idx[:, None]).any(axis=1).mean()) if len(truth) else float("nan")
