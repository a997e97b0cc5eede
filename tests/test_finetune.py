"""Fine-tuning VGG-16's block 5 with the head, from a pool4 cache: the same maps as the frozen
trunk at the start, its own learning rate, saved with the checkpoint, deterministic and resumable."""

import json

import numpy as np
import pytest
import torch

from tests.conftest import fast_run_flags
from tests.test_train import ArrayCache
from visent.backbone import finetune_block, get_weights, output_shape
from visent.cli import main
from visent.config import ConfigError, RunConfig
from visent.data.layouts import load_dataset
from visent.features import extract_features
from visent.model import build_model
from visent.model.finetune import FineTuned
from visent.pipeline import evaluate_checkpoint
from visent.training.train import Checkpoint, TrainData, fit, load_checkpoint, param_groups

CPU = torch.device("cpu")
SIDE = 64  # a 4 x 4 grid: block 5 stays cheap on two cores


def pool4_data(n=40, seed=0):
    """Pool4-sized maps (16 regions x 512) whose label is a bright channel."""
    rng = np.random.default_rng(seed)
    feats = rng.random((n, 16, 512), dtype=np.float32)
    labels = np.arange(n) % 2
    feats[np.arange(n), :, labels] += 3.0
    split = np.array(["train"] * (n - 16) + ["val"] * 8 + ["test"] * 8)
    rows = {s: np.nonzero(split == s)[0] for s in ("train", "val", "test")}
    return TrainData(ArrayCache(feats.astype(np.float16)), labels.astype(np.int64), rows, None)


def config(**kw):
    base = dict(variant="gap", finetune="conv5", preset="cpu", iterations_per_epoch=3, max_epochs=2, patience=5)
    return RunConfig.from_dict(base | dict(batch_size=4, lr=0.01, hidden_dim=8, device="cpu") | kw)


def fresh(seed=0):
    torch.manual_seed(seed)
    return FineTuned(finetune_block("random", "conv5"), build_model("gap", region_dim=512, hidden_dim=8))


def train(model, cfg, checkpoint=None):
    return fit(model, pool4_data(), cfg.training, CPU, checkpoint and Checkpoint(checkpoint, cfg), progress=False)


def test_block5_on_the_pool4_cache_gives_the_conv5_3_cache(make_tree, tmp_path):
    root = make_tree(tmp_path / "tree", {"positive": ["a.jpg", "b.jpg"], "negative": ["c.png"]})
    dataset = load_dataset("folders", root, cache=False)
    weights = get_weights("random").resized(SIDE)
    conv53 = extract_features(dataset, weights, tmp_path / "c", progress=False)
    pool4 = extract_features(dataset, weights, tmp_path / "c", progress=False, layer="pool4")

    assert pool4.root.name.endswith("-pool4") and pool4.root != conv53.root
    assert pool4.layer == "pool4" and conv53.layer == "conv5_3"
    assert pool4.shape == output_shape((SIDE, SIDE), "pool4")[:2] == (16, 512)
    rows = np.arange(3)
    with torch.no_grad():
        rebuilt = FineTuned(finetune_block(weights, "conv5"), torch.nn.Identity()).regions(pool4.regions(rows))
    expected = conv53.regions(rows).float()
    # both caches are float16: the block sees pool4 rounded to 11 bits, conv5_3 is rounded again
    assert torch.allclose(rebuilt, expected, rtol=2e-2, atol=2e-2 * expected.abs().max().item())


def test_the_block_learns_at_lr_times_backbone_lr_scale():
    cfg = config(lr=0.01, backbone_lr_scale=0.25)
    model = fresh()
    head, block = param_groups(model, cfg.training)
    assert head["lr"] == 0.01 and block["lr"] == 0.0025
    assert sum(p.numel() for p in block["params"]) == sum(p.numel() for p in model.block.parameters())
    assert sum(p.numel() for p in head["params"]) == sum(p.numel() for p in model.head.parameters() if p.requires_grad)


def test_training_updates_block5_and_the_best_state_holds_it():
    model = fresh()
    before = {k: v.clone() for k, v in model.block.state_dict().items()}
    outcome = train(model, config())
    saved = {k.removeprefix("block."): v for k, v in outcome.best_state.items() if k.startswith("block.")}
    assert saved.keys() == before.keys()
    moved = [k for k in before if not torch.equal(saved[k], before[k])]
    assert sorted(moved) == sorted(before)  # every conv5 weight and bias trained


def test_a_finetuned_fit_is_deterministic_and_resumes_exactly(tmp_path):
    straight = train(fresh(), config(max_epochs=3))
    again = train(fresh(), config(max_epochs=3))
    assert straight.history == again.history

    train(fresh(), config(max_epochs=2), tmp_path / "p.pt")
    partial = load_checkpoint(tmp_path / "p.pt")
    partial["config"] = config(max_epochs=3).to_dict()  # as if stopped after epoch 2 of 3
    torch.save(partial, tmp_path / "p.pt")
    resumed = train(fresh(), config(max_epochs=3), tmp_path / "p.pt")
    assert resumed.history == straight.history
    for key, value in straight.best_state.items():
        assert torch.equal(resumed.best_state[key], value), key


@pytest.mark.parametrize("variant", ["linear-probe", "adjective-only", "attention-predicted"])
def test_finetune_is_refused_for_a_variant_without_an_sgd_image_head(variant):
    with pytest.raises(
        ConfigError, match="Fine-tune one of gap, attention-truth, attention-shuffled, attention-learned"
    ):
        RunConfig(variant=variant, finetune="conv5")


def test_a_finetuned_run_is_named_apart_from_the_frozen_one():
    assert RunConfig(variant="gap", finetune="conv5").run_id == "synthetic-random-gap-ft-conv5-s0"
    assert RunConfig(variant="gap").run_id == "synthetic-random-gap-s0"


def test_evaluation_and_attention_maps_use_the_finetuned_block_from_the_checkpoint(tmp_path, capsys):
    data = tmp_path / "synthetic"
    assert main(["synth", str(data), "--n-images", "24", "--quiet"]) == 0
    flags = fast_run_flags(tmp_path, max_epochs=2) + ["--image-size", str(SIDE), "--lr", "0.01"]
    run = ["train", "--data-root", str(data), "--variant", "attention-learned", "--finetune", "conv5", *flags]
    assert main(run) == 0
    result = json.loads((tmp_path / "r" / "synthetic-random-attention-learned-ft-conv5-s0.json").read_text())
    assert result["backbone"]["cached_layer"] == "pool4" and result["backbone"]["trained_block"] == "conv5"
    assert result["config"]["backbone_lr_scale"] == 0.1
    assert {len(example["o"]) for example in result["examples"]} == {16}

    checkpoint = tmp_path / "k" / "synthetic-random-attention-learned-ft-conv5-s0.pt"
    state = load_checkpoint(checkpoint)
    initial = finetune_block(get_weights("random").resized(SIDE), "conv5").state_dict()
    assert not torch.equal(state["best_state"]["block.24.weight"], initial["24.weight"])
    evaluated = evaluate_checkpoint(checkpoint, progress=False)
    assert evaluated["accuracy"] == result["metrics"]["test_accuracy"]
    assert evaluated["attention_in_region"] == pytest.approx(result["metrics"]["attention_in_region"], abs=1e-9)
