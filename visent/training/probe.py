"""The linear probe: L2-regularised logistic regression on one vector per image, the frozen,
mean-pooled conv5_3 features (``linear-probe``) or the query vector alone (``text-only``).

The regularisation strength is chosen on the validation rows from ``L2_GRID``; each fit is a
convex problem solved to convergence with full-batch L-BFGS from zero, so the probe has no seed.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from visent.model import LinearProbe
from visent.model.detector import pooled_features
from visent.training.train import TrainData, TrainOutcome

#: Candidate L2 weights (on the mean cross-entropy), weakest first.
L2_GRID = (1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0, 10.0)


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    weight = torch.zeros(classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=500,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, y) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach(), bias.detach()


def probe_inputs(model: LinearProbe, data: TrainData, rows: np.ndarray) -> np.ndarray:
    """The vector ``model`` reads for each of ``rows``: the regions' mean, or the query ``a``."""
    if model.reads == "regions":
        return pooled_features(data.cache, rows)
    if data.queries is None:
        raise ValueError("this probe reads the query vectors, and the data has none")
    return data.queries[rows]


def fit_probe(model: LinearProbe, data: TrainData, l2_grid: tuple[float, ...] = L2_GRID) -> TrainOutcome:
    """Fit ``model`` on ``data.rows['train']`` for each L2 weight; keep the one of lowest val loss."""
    t0 = time.perf_counter()
    train, val = data.rows["train"], data.rows["val"]
    if len(val) == 0:
        raise ValueError("the linear probe chooses its regularisation on validation rows, and this split has none")
    if not l2_grid:
        raise ValueError("the linear probe needs at least one L2 weight to try")
    pooled = {
        name: torch.from_numpy(probe_inputs(model, data, rows)).double()
        for name, rows in (("train", train), ("val", val))
    }
    mean, std = pooled["train"].mean(0), pooled["train"].std(0).clamp_min(1e-6)
    x = {name: (p - mean) / std for name, p in pooled.items()}
    y = {name: torch.from_numpy(data.labels[rows]) for name, rows in (("train", train), ("val", val))}
    classes = model.classifier.out_features
    history: list[dict[str, float]] = []
    best: tuple[float, int, Tensor, Tensor] | None = None
    for step, l2 in enumerate(l2_grid, start=1):
        weight, bias = _fit_logistic(x["train"], y["train"], classes, l2)
        logits = {name: x[name] @ weight.T + bias for name in x}
        val_loss = float(F.cross_entropy(logits["val"], y["val"]))
        history.append(
            {
                "epoch": step,
                "l2": l2,
                "train_loss": float(F.cross_entropy(logits["train"], y["train"])),
                "val_loss": val_loss,
                "val_accuracy": float((logits["val"].argmax(1) == y["val"]).double().mean()),
            }
        )
        if best is None or val_loss < best[0]:
            best = (val_loss, step, weight, bias)
    assert best is not None  # l2_grid is not empty
    _, best_step, weight, bias = best
    model.mean.copy_(mean.float())
    model.std.copy_(std.float())
    with torch.no_grad():
        model.classifier.weight.copy_(weight.float())
        model.classifier.bias.copy_(bias.float())
    seconds = time.perf_counter() - t0
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return TrainOutcome(
        state,
        best_step,
        len(history),
        "l2-grid",
        history,
        seconds,
        len(train) * len(l2_grid) / seconds if seconds else 0.0,
    )
