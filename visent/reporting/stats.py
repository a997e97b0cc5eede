"""Paired contrasts with 95% intervals: every "beats" / "does not differ" sentence in the book.

Two runs are paired when they share a fold and a seed. Cross-validation folds overlap in their
training data, so the per-fold differences are not independent and a plain paired t-test is too
confident; the corrected resampled t-test (Nadeau & Bengio, 2003; for repeated k-fold, Bouckaert &
Frank, 2004) inflates the variance by ``n_test / n_train`` for that. Where the result files keep
their per-image test predictions a paired bootstrap over the pooled test images is given beside it.
A single accuracy gets a Wilson interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

#: The confidence of every interval in the book.
CONFIDENCE = 0.95
CORRECTED_T = "corrected resampled t (Nadeau & Bengio 2003)"
BOOTSTRAP = "paired bootstrap over test images"


@dataclass(frozen=True)
class Contrast:
    """Accuracy of ``a`` minus accuracy of ``b`` (fractions), paired over ``n`` (fold, seed) runs."""

    a: str
    b: str
    mean: float
    low: float
    high: float
    p: float
    n: int
    method: str

    def verdict(self) -> str:
        """What the interval allows one to say: a difference only where it excludes 0."""
        if self.low > 0:
            return "beats"
        if self.high < 0:
            return "is beaten by"
        return "does not differ from"

    def points(self) -> str:
        """The difference and its interval in accuracy points, e.g. ``+1.2 [-0.8, +3.1]``."""
        return f"{100 * self.mean:+.1f} [{100 * self.low:+.1f}, {100 * self.high:+.1f}]"


def corrected_resampled_t(
    diffs: Sequence[float], n_train: float, n_test: float, alpha: float = 1 - CONFIDENCE
) -> tuple[float, float, float, float]:
    """Mean, interval and two-sided p of paired differences from J resamples (folds x seeds).

    The variance of the mean is ``s^2 (1/J + n_test/n_train)`` instead of ``s^2 / J``, with J - 1
    degrees of freedom.
    """
    d = np.asarray(diffs, dtype=float)
    if d.size < 2:
        raise ValueError(f"a paired interval needs at least 2 paired runs, got {d.size}")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    mean = float(d.mean())
    se = float(np.sqrt(d.var(ddof=1) * (1 / d.size + n_test / n_train)))
    dof = d.size - 1
    if se == 0:
        return mean, mean, mean, 1.0 if mean == 0 else 0.0
    half = float(scipy_stats.t.ppf(1 - alpha / 2, dof)) * se
    p = float(2 * scipy_stats.t.sf(abs(mean) / se, dof))
    return mean, mean - half, mean + half, p


def paired_bootstrap(
    correct_a: Sequence[float],
    correct_b: Sequence[float],
    n_boot: int = 10_000,
    seed: int = 0,
    alpha: float = 1 - CONFIDENCE,
) -> tuple[float, float, float, float]:
    """Mean difference of per-image correctness, percentile interval and two-sided p.

    The images are resampled with replacement, each keeping its pair of outcomes.
    """
    a = np.asarray(correct_a, dtype=float)
    b = np.asarray(correct_b, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired outcomes must have the same non-zero length, got {a.size} and {b.size}")
    d = a - b
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    p = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return float(d.mean()), float(low), float(high), p


def wilson(k: int, n: int, alpha: float = 1 - CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = float(scipy_stats.norm.ppf(1 - alpha / 2))
    phat = k / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def pair_key(result: dict[str, Any]) -> tuple[Any, int]:
    """What makes two runs a pair: the same test fold (or split) and the same seed."""
    config = result["config"]
    return config.get("cv_fold"), int(config["seed"])


def _by_pair(results: Sequence[dict[str, Any]], name: str) -> dict[tuple[Any, int], dict[str, Any]]:
    keyed: dict[tuple[Any, int], dict[str, Any]] = {}
    for result in results:
        key = pair_key(result)
        if key in keyed:
            raise ValueError(f"{name}: two runs for fold {key[0]} seed {key[1]} ({result['run_id']})")
        keyed[key] = result
    return keyed


def correct_of(result: dict[str, Any]) -> dict[str, float]:
    """Per test image: 1 where the run's prediction (p_positive >= 0.5) is the label, else 0."""
    predictions = result["predictions"]
    return {
        path: float((p >= 0.5) == bool(label))
        for path, label, p in zip(predictions["path"], predictions["label"], predictions["p_positive"], strict=True)
    }


def contrast(
    results_a: Sequence[dict[str, Any]],
    results_b: Sequence[dict[str, Any]],
    metric: str = "test_accuracy",
    method: str = CORRECTED_T,
    a: str | None = None,
    b: str | None = None,
) -> Contrast:
    """A minus B over the (fold, seed) pairs both have; a run without its twin is an error."""
    keyed_a, keyed_b = _by_pair(results_a, "A"), _by_pair(results_b, "B")
    name_a = a or results_a[0]["variant"]
    name_b = b or results_b[0]["variant"]
    if set(keyed_a) != set(keyed_b):
        unpaired = sorted(set(keyed_a) ^ set(keyed_b), key=str)
        raise ValueError(f"{name_a} vs {name_b}: runs without a twin (fold, seed): {unpaired}")
    keys = sorted(keyed_a, key=str)
    if method == CORRECTED_T:
        diffs = [keyed_a[k]["metrics"][metric] - keyed_b[k]["metrics"][metric] for k in keys]
        n_test = float(np.mean([keyed_a[k]["dataset"]["n_test"] for k in keys]))
        n_train = _training_size(keyed_a[keys[0]], n_test)
        mean, low, high, p = corrected_resampled_t(diffs, n_train, n_test)
    elif method == BOOTSTRAP:
        pooled_a: list[float] = []
        pooled_b: list[float] = []
        for k in keys:
            ca, cb = correct_of(keyed_a[k]), correct_of(keyed_b[k])
            if ca.keys() != cb.keys():
                raise ValueError(f"{name_a} vs {name_b}: fold {k[0]} seed {k[1]} tested different images")
            pooled_a += [ca[path] for path in sorted(ca)]
            pooled_b += [cb[path] for path in sorted(ca)]
        mean, low, high, p = paired_bootstrap(pooled_a, pooled_b)
    else:
        raise ValueError(f"unknown method {method!r}; valid: {CORRECTED_T!r}, {BOOTSTRAP!r}")
    return Contrast(name_a, name_b, mean, low, high, p, len(keys), method)


def mean_interval(results: Sequence[dict[str, Any]], metric: str = "test_accuracy") -> tuple[float, float, float]:
    """One model's mean ``metric`` over its runs and the interval of that mean, corrected for the
    overlap of the folds' training data as :func:`contrast` is."""
    if not results:
        raise ValueError(f"no runs to average {metric} over")
    values = [r["metrics"][metric] for r in results]
    n_test = float(np.mean([r["dataset"]["n_test"] for r in results]))
    mean, low, high, _ = corrected_resampled_t(values, _training_size(results[0], n_test), n_test)
    return mean, low, high


def _training_size(result: dict[str, Any], n_test: float) -> float:
    """Images a fold trains on, for the correction's ``n_test / n_train``.

    Under k-fold cross-validation the rest of the data is (k - 1) test folds' worth, counted once
    whatever oversampling or a validation carve-out does to it; otherwise the recorded training
    split (train and validation).
    """
    config, dataset = result["config"], result["dataset"]
    folds = config.get("cv_folds")
    if folds and folds > 1:
        return n_test * (folds - 1)
    return float(dataset["n_train"] + dataset.get("n_val", 0))
