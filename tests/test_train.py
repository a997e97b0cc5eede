"""The training loop: the paper's schedule, determinism, resume, early stopping, divergence."""

import numpy as np
import pytest
import torch

from visent.config import RunConfig
from visent.model import build_model
from visent.train import TrainData, TrainingDiverged, epoch_batches, fit, load_checkpoint, predict


class ArrayCache:
    """The read side of a FeatureCache over an in-memory array."""

    def __init__(self, feats: np.ndarray) -> None:
        self.feats = feats

    def regions(self, rows):
        return torch.from_numpy(self.feats[np.asarray(rows)])


def toy_data(n=240, dim=16, seed=0, local=True):
    """Positive images light up channel 0, negative ones channel 1, in one region (``local``) or in
    all of them; the rest is noise."""
    rng = np.random.default_rng(seed)
    feats = rng.random((n, 196, dim), dtype=np.float32) * 0.5
    labels = np.arange(n) % 2
    if local:
        feats[np.arange(n), rng.integers(0, 196, n), labels] += 6.0
    else:
        feats[np.arange(n), :, labels] += 1.0
    split = np.array(["train"] * (n * 8 // 10) + ["val"] * (n // 10) + ["test"] * (n // 10))
    rows = {s: np.nonzero(split == s)[0] for s in ("train", "val", "test")}
    return TrainData(ArrayCache(feats.astype(np.float16)), labels.astype(np.int64), rows, None)


def config(**kw):
    base = dict(variant="attention-learned", preset="cpu", iterations_per_epoch=20, max_epochs=4, patience=10,
                batch_size=16, lr=0.05, momentum=0.9, hidden_dim=16, device="cpu")
    return RunConfig.from_dict(base | kw)


def test_epoch_batches_draw_each_train_row_once_per_pass():
    rows = np.arange(100, 140)
    b = epoch_batches(rows, seed=0, epoch=0, iterations=5, batch_size=8)
    assert b.shape == (5, 8) and sorted(b.ravel().tolist()) == rows.tolist()
    assert not np.array_equal(b, epoch_batches(rows, seed=0, epoch=1, iterations=5, batch_size=8))
    assert np.array_equal(b, epoch_batches(rows, seed=0, epoch=0, iterations=5, batch_size=8))


@pytest.mark.parametrize("variant, local", [("gap", False), ("attention-learned", True)])
def test_fit_learns_a_pattern_well_above_chance(variant, local):
    data = toy_data(local=local)
    torch.manual_seed(0)
    model = build_model(variant, region_dim=16, word_dim=4, hidden_dim=16)
    out = fit(model, data, config(variant=variant), torch.device("cpu"), progress=False)
    model.load_state_dict(out.best_state)
    probs, _ = predict(model, data, data.rows["test"], torch.device("cpu"))
    assert (probs.argmax(1) == data.labels[data.rows["test"]]).mean() >= 0.9
    assert out.history[-1]["train_loss"] < out.history[0]["train_loss"]


def test_same_config_gives_identical_history():
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = build_model("attention-learned", region_dim=16, word_dim=4, hidden_dim=16)
        runs.append(fit(model, toy_data(), config(max_epochs=2), torch.device("cpu"), progress=False).history)
    assert runs[0] == runs[1]


def test_resume_from_checkpoint_continues_exactly(tmp_path):
    def fresh():
        torch.manual_seed(1)
        return build_model("attention-learned", region_dim=16, word_dim=4, hidden_dim=16)

    straight = fit(fresh(), toy_data(), config(max_epochs=3), torch.device("cpu"), progress=False)
    ckpt = tmp_path / "run.pt"
    fit(fresh(), toy_data(), config(max_epochs=3), torch.device("cpu"), ckpt, progress=False)
    state = load_checkpoint(ckpt)  # weights_only=True
    assert state["epoch"] == 2 and len(state["history"]) == 3
    # Simulate an interruption after epoch 2 by rewinding the checkpoint one epoch.
    partial = fit(fresh(), toy_data(), config(max_epochs=2), torch.device("cpu"), tmp_path / "p.pt", progress=False)
    assert partial.epochs == 2
    p = load_checkpoint(tmp_path / "p.pt")
    p["config"] = config(max_epochs=3).to_dict()
    torch.save(p, tmp_path / "p.pt")
    resumed = fit(fresh(), toy_data(), config(max_epochs=3), torch.device("cpu"), tmp_path / "p.pt", progress=False)
    assert resumed.history == straight.history


def test_a_checkpoint_saved_before_a_config_key_existed_resumes_with_its_default(tmp_path):
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    fit(model, toy_data(), config(variant="gap", max_epochs=2), torch.device("cpu"), tmp_path / "c.pt", progress=False)
    state = load_checkpoint(tmp_path / "c.pt")
    del state["config"]["index_cache"]  # as written by a version without the index cache
    torch.save(state, tmp_path / "c.pt")
    out = fit(model, toy_data(), config(variant="gap", max_epochs=2), torch.device("cpu"), tmp_path / "c.pt", progress=False)
    assert out.seconds == state["seconds"]  # nothing retrained: both epochs came from the checkpoint


def test_a_checkpoint_with_a_key_this_version_does_not_know_is_not_resumed(tmp_path):
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    fit(model, toy_data(), config(variant="gap", max_epochs=2), torch.device("cpu"), tmp_path / "c.pt", progress=False)
    state = load_checkpoint(tmp_path / "c.pt")
    state["config"]["from_the_future"] = 1
    torch.save(state, tmp_path / "c.pt")
    out = fit(model, toy_data(), config(variant="gap", max_epochs=2), torch.device("cpu"), tmp_path / "c.pt", progress=False)
    assert out.seconds != state["seconds"]


def test_early_stopping_stops_after_patience_epochs_without_val_improvement():
    data = toy_data()
    rng = np.random.default_rng(0)
    data.labels[data.rows["val"]] = rng.integers(0, 2, len(data.rows["val"]))  # val is noise
    torch.manual_seed(0)
    model = build_model("attention-learned", region_dim=16, word_dim=4, hidden_dim=16)
    out = fit(model, data, config(max_epochs=30, patience=2, lr=0.2), torch.device("cpu"), progress=False)
    assert out.stopped == "early-stopping"
    assert out.epochs == out.best_epoch + 2


def test_nan_loss_stops_with_a_message_naming_the_lr():
    data = toy_data()
    data.cache.feats[:] = np.float16("nan")
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, iteration 1 \(lr=0.05\)"):
        fit(model, data, config(variant="gap"), torch.device("cpu"), progress=False)


def test_a_checkpoint_of_other_data_is_not_resumed(tmp_path):
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    fit(model, toy_data(seed=0), config(variant="gap", max_epochs=2), torch.device("cpu"), tmp_path / "c.pt", progress=False)
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    other = toy_data(n=200, seed=1)  # other rows and labels: another identity
    out = fit(model, other, config(variant="gap", max_epochs=2), torch.device("cpu"), tmp_path / "c.pt", progress=False)
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    fresh = fit(model, toy_data(n=200, seed=1), config(variant="gap", max_epochs=2), torch.device("cpu"), progress=False)
    assert out.history == fresh.history
