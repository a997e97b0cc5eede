"""The training loop: the paper's schedule, determinism, resume, early stopping, divergence."""

import numpy as np
import pytest
import torch

from visent.config import RunConfig
from visent.model import build_model
from visent.training.train import Checkpoint, TrainData, TrainingDiverged, epoch_batches, fit, load_checkpoint, predict


class ArrayCache:
    """The read side of a FeatureCache over an in-memory array."""

    def __init__(self, feats: np.ndarray) -> None:
        self.feats = feats

    @property
    def shape(self):
        return self.feats.shape[1:]

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
    base = dict(
        variant="attention-learned",
        preset="cpu",
        iterations_per_epoch=20,
        max_epochs=4,
        patience=10,
        batch_size=16,
        lr=0.05,
        momentum=0.9,
        hidden_dim=16,
        device="cpu",
    )
    return RunConfig.from_dict(base | kw)


def train(model, data, cfg, checkpoint=None):
    """``fit`` on the CPU with ``cfg``'s training section, saving to ``checkpoint`` when given."""
    return fit(
        model, data, cfg.training, torch.device("cpu"), checkpoint and Checkpoint(checkpoint, cfg), progress=False
    )


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
    out = train(model, data, config(variant=variant))
    model.load_state_dict(out.best_state)
    probs, _ = predict(model, data, data.rows["test"], torch.device("cpu"))
    assert (probs.argmax(1) == data.labels[data.rows["test"]]).mean() >= 0.9
    assert out.history[-1]["train_loss"] < out.history[0]["train_loss"]


def test_same_config_gives_identical_history():
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = build_model("attention-learned", region_dim=16, word_dim=4, hidden_dim=16)
        runs.append(train(model, toy_data(), config(max_epochs=2)).history)
    assert runs[0] == runs[1]


def test_resume_from_checkpoint_continues_exactly(tmp_path):
    def fresh():
        torch.manual_seed(1)
        return build_model("attention-learned", region_dim=16, word_dim=4, hidden_dim=16)

    straight = train(fresh(), toy_data(), config(max_epochs=3))
    ckpt = tmp_path / "run.pt"
    train(fresh(), toy_data(), config(max_epochs=3), ckpt)
    state = load_checkpoint(ckpt)  # weights_only=True
    assert state["epoch"] == 2 and len(state["history"]) == 3
    # Simulate an interruption after epoch 2 by rewinding the checkpoint one epoch.
    partial = train(fresh(), toy_data(), config(max_epochs=2), tmp_path / "p.pt")
    assert partial.epochs == 2
    p = load_checkpoint(tmp_path / "p.pt")
    p["config"] = config(max_epochs=3).to_dict()
    torch.save(p, tmp_path / "p.pt")
    resumed = train(fresh(), toy_data(), config(max_epochs=3), tmp_path / "p.pt")
    assert resumed.history == straight.history


def test_a_checkpoint_saved_before_a_config_key_existed_resumes_with_its_default(tmp_path):
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    train(model, toy_data(), config(variant="gap", max_epochs=2), tmp_path / "c.pt")
    state = load_checkpoint(tmp_path / "c.pt")
    del state["config"]["index_cache"]  # as written by a version without the index cache
    torch.save(state, tmp_path / "c.pt")
    out = train(model, toy_data(), config(variant="gap", max_epochs=2), tmp_path / "c.pt")
    assert out.seconds == state["seconds"]  # nothing retrained: both epochs came from the checkpoint


def test_a_checkpoint_with_a_key_this_version_does_not_know_is_not_resumed(tmp_path):
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    train(model, toy_data(), config(variant="gap", max_epochs=2), tmp_path / "c.pt")
    state = load_checkpoint(tmp_path / "c.pt")
    state["config"]["from_the_future"] = 1
    torch.save(state, tmp_path / "c.pt")
    out = train(model, toy_data(), config(variant="gap", max_epochs=2), tmp_path / "c.pt")
    assert out.seconds != state["seconds"]


def test_early_stopping_stops_after_patience_epochs_without_val_improvement():
    data = toy_data()
    rng = np.random.default_rng(0)
    data.labels[data.rows["val"]] = rng.integers(0, 2, len(data.rows["val"]))  # val is noise
    torch.manual_seed(0)
    model = build_model("attention-learned", region_dim=16, word_dim=4, hidden_dim=16)
    out = train(model, data, config(max_epochs=30, patience=2, lr=0.2))
    assert out.stopped == "early-stopping"
    assert out.epochs == out.best_epoch + 2


def test_nan_loss_stops_with_a_message_naming_the_lr():
    data = toy_data()
    data.cache.feats[:] = np.float16("nan")
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, iteration 1 \(lr=0.05\)"):
        train(model, data, config(variant="gap"))


def test_a_checkpoint_of_other_data_is_not_resumed(tmp_path):
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    train(model, toy_data(seed=0), config(variant="gap", max_epochs=2), tmp_path / "c.pt")
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    other = toy_data(n=200, seed=1)  # other rows and labels: another identity
    out = train(model, other, config(variant="gap", max_epochs=2), tmp_path / "c.pt")
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    fresh = train(model, toy_data(n=200, seed=1), config(variant="gap", max_epochs=2))
    assert out.history == fresh.history


def test_a_checkpoint_resumes_when_only_output_folders_and_workers_change(tmp_path):
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    first = train(model, toy_data(), config(variant="gap", max_epochs=2), tmp_path / "c.pt")
    moved = config(
        variant="gap",
        max_epochs=2,
        results_dir=str(tmp_path / "elsewhere"),
        num_workers=3,
        cache_dir=str(tmp_path / "cache"),
        checkpoint_dir=str(tmp_path / "ckpt"),
    )
    out = train(model, toy_data(), moved, tmp_path / "c.pt")
    assert out.seconds == first.seconds  # both epochs came from the checkpoint: nothing retrained


def test_a_checkpoint_of_another_learning_rate_is_not_resumed(tmp_path):
    torch.manual_seed(0)
    model = build_model("gap", region_dim=16, word_dim=4, hidden_dim=16)
    first = train(model, toy_data(), config(variant="gap", max_epochs=2), tmp_path / "c.pt")
    out = train(model, toy_data(), config(variant="gap", max_epochs=2, lr=0.01), tmp_path / "c.pt")
    assert out.seconds != first.seconds and out.history != first.history


def _overwrite_a_tensor(path):
    """The bytes of the checkpoint's largest tensor overwritten in place, the file size unchanged:
    the file still loads, with other weights."""
    state = torch.load(path, weights_only=True)
    tensor = max(state["best_state"].values(), key=torch.Tensor.numel)
    data, old = path.read_bytes(), tensor.numpy().tobytes()
    assert data.count(old) >= 1
    path.write_bytes(data.replace(old, bytes(len(old))))


CHECKPOINT_DAMAGE = {
    "cut in half": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "a tensor overwritten": _overwrite_a_tensor,
}


@pytest.mark.parametrize("damage", CHECKPOINT_DAMAGE)
def test_a_damaged_checkpoint_is_moved_aside_and_the_run_starts_afresh_saying_why(tmp_path, damage):
    from visent.training.train import CheckpointWarning

    cfg = config(variant="gap", max_epochs=2)
    torch.manual_seed(0)
    train(
        build_model("gap", region_dim=16, hidden_dim=16),
        toy_data(),
        config(variant="gap", max_epochs=1),
        tmp_path / "c.pt",
    )
    CHECKPOINT_DAMAGE[damage](tmp_path / "c.pt")
    with pytest.warns(
        CheckpointWarning, match=f"{tmp_path / 'c.pt'}.*moved it to {tmp_path / 'c.pt.damaged'}, training"
    ):
        out = train(build_model("gap", region_dim=16, hidden_dim=16), toy_data(), cfg, tmp_path / "c.pt")
    assert out.epochs == 2 and out.resumed_seconds == 0.0  # both epochs trained here
    assert (tmp_path / "c.pt.damaged").is_file() and load_checkpoint(tmp_path / "c.pt")["epoch"] == 1


def test_load_checkpoint_checks_the_recorded_crc32(tmp_path):
    from visent.training.train import CheckpointError

    torch.manual_seed(0)
    train(
        build_model("gap", region_dim=16, hidden_dim=16),
        toy_data(),
        config(variant="gap", max_epochs=1),
        tmp_path / "c.pt",
    )
    assert torch.load(tmp_path / "c.pt", weights_only=True)["crc32"] > 0
    _overwrite_a_tensor(tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="do not match the crc32 recorded when it was written"):
        load_checkpoint(tmp_path / "c.pt")
