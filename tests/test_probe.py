"""The linear probe: logistic regression on mean-pooled regions, its L2 weight chosen on val."""

import numpy as np
import torch

from visent.model import LinearProbe, build_model
from visent.training.probe import L2_GRID, fit_probe
from visent.training.train import TrainData


class ArrayCache:
    """A feature cache held in memory: ``regions(rows)`` of an ``(N, R, D)`` array."""

    def __init__(self, regions: np.ndarray) -> None:
        self.array = regions.astype(np.float16)
        self.failed: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.array)

    @property
    def shape(self):
        return self.feats.shape[1:]

    def regions(self, rows):
        return torch.from_numpy(self.array[np.asarray(rows)])


def _toy(n=120, separable=True, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    V = rng.normal(size=(n, 9, 6))
    # One channel's mean over the regions carries the class.
    V[:, :, 2] += np.where(labels == 1, 2.0, -2.0)[:, None] if separable else 0.0
    rows = {"train": np.arange(0, 80), "val": np.arange(80, 100), "test": np.arange(100, n)}
    return TrainData(ArrayCache(V), labels.astype(np.int64), rows)


def test_the_probe_separates_a_linearly_separable_toy_problem():
    data = _toy()
    model = build_model("linear-probe", region_dim=6, hidden_dim=8)
    outcome = fit_probe(model, data)
    model.load_state_dict(outcome.best_state)
    logits = model(data.cache.regions(data.rows["test"]))
    assert (logits.argmax(1).numpy() == data.labels[data.rows["test"]]).all()
    assert [h["l2"] for h in outcome.history] == list(L2_GRID)
    chosen = outcome.history[outcome.best_epoch - 1]
    assert chosen["val_loss"] == min(h["val_loss"] for h in outcome.history)
    assert outcome.stopped == "l2-grid"


def test_the_probe_standardises_with_the_training_rows_statistics():
    data = _toy()
    model = LinearProbe(6)
    fit_probe(model, data)
    pooled = data.cache.regions(data.rows["train"]).double().mean(1)
    assert torch.allclose(model.mean, pooled.mean(0).float(), atol=1e-5)
    assert torch.allclose(model.std, pooled.std(0).float(), atol=1e-5)


def test_the_probe_is_deterministic_whatever_the_seed():
    data = _toy(separable=False)
    torch.manual_seed(0)
    a = fit_probe(build_model("linear-probe", region_dim=6, hidden_dim=8), data).best_state
    torch.manual_seed(1)
    b = fit_probe(build_model("linear-probe", region_dim=6, hidden_dim=8), data).best_state
    assert all(torch.equal(a[k], b[k]) for k in a)
