"""torchrun with 2 CPU processes (gloo): the sharded cache equals the single-process one, and
DistributedDataParallel training follows the single-process run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from visent.features import FeatureCache

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533", "-m", "visent"]
SINGLE = [sys.executable, "-m", "visent"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("ddp") / "ds"
    rng = np.random.default_rng(0)
    for label in ("positive", "negative"):
        (root / label).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
            pixels[..., 0 if label == "positive" else 2] = 255  # a colour cue the head can learn
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def flags(tree, out, variant="gap"):
    return [
        "--dataset",
        "folders",
        "--data-root",
        str(tree),
        "--weights",
        "random",
        "--variant",
        variant,
        "--cache-dir",
        str(out / "cache"),
        "--results-dir",
        str(out / "results"),
        "--checkpoint-dir",
        str(out / "ckpt"),
        "--shard-size",
        "4",
        "--extract-batch-size",
        "2",
        "--preset",
        "cpu",
        "--iterations-per-epoch",
        "6",
        "--max-epochs",
        "2",
        "--batch-size",
        "4",
        "--lr",
        "0.01",
        "--device",
        "cpu",
        "--amp",
        "off",  # fp32 on every CPU: DDP matches one process to 1e-4 before any bf16 rounding
        "--quiet",
    ]


def run(cmd, tmp):
    env = os.environ | {
        "OMP_NUM_THREADS": "1",
        "VISENT_CACHE": os.environ.get("VISENT_CACHE", str(Path.home() / ".cache" / "visent")),
    }
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def caches(out):
    folders = list((out / "cache").iterdir())
    assert len(folders) == 1
    return FeatureCache.open(folders[0])


# fine-tuned: block 5 trains under DDP from a pool4 cache (at 64 px, so it stays cheap)
@pytest.mark.parametrize("extra", [[], ["--finetune", "conv5", "--image-size", "64"]], ids=["frozen", "finetuned"])
def test_sharded_extraction_and_ddp_training_match_one_process(tree, tmp_path, extra):
    one, two = tmp_path / "one", tmp_path / "two"
    run(SINGLE + ["train"] + flags(tree, one) + extra, tmp_path)
    run(TORCHRUN + ["train"] + flags(tree, two) + extra, tmp_path)

    a, b = caches(one), caches(two)
    assert a.manifest["shards"] == b.manifest["shards"] and len(a.manifest["shards"]) == 5
    rows = np.arange(len(a))
    assert np.array_equal(a.regions(rows).numpy(), b.regions(rows).numpy())

    ra = json.loads(next((one / "results").glob("*.json")).read_text())
    rb = json.loads(next((two / "results").glob("*.json")).read_text())
    assert rb["env"]["world_size"] == 2 and ra["env"]["world_size"] == 1
    assert ra["metrics"]["test_accuracy"] == rb["metrics"]["test_accuracy"]
    for ha, hb in zip(ra["training"]["history"], rb["training"]["history"], strict=True):
        assert ha["val_loss"] == pytest.approx(hb["val_loss"], rel=1e-4)
        assert ha["train_loss"] == pytest.approx(hb["train_loss"], rel=1e-4)
