"""k-fold cross-validation, the Twitter protocol: `visent cv` on a Twitter-layout fixture."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from tests.conftest import fast_run_flags


def test_visent_cv_runs_every_fold_of_a_twitter_layout_and_summarises(tmp_path):
    root = tmp_path / "twitter"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(20):
        label = i % 2
        pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        pixels[..., 0] = 255 * label
        Image.fromarray(pixels).save(root / "images" / f"{i}.jpg")
        lines.append(f"{i}.jpg {label}")
    for subset in ("five", "four", "three"):
        (root / f"twitter_{subset}_agrees.txt").write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "visent",
            "cv",
            "--dataset",
            "twitter",
            "--data-root",
            str(root),
            "--cv-folds",
            "3",
            "--variant",
            "gap",
            *fast_run_flags(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (tmp_path / "r").glob("*.json"))
    assert files == [f"twitter-five-cv3-f{k}-gap-s0.json" for k in range(3)] + ["twitter-five-cv3-summary-gap.json"]
    summary = json.loads((tmp_path / "r" / "twitter-five-cv3-summary-gap.json").read_text())
    accs = [f["test_accuracy"] for f in summary["metrics"]["folds"]]
    assert summary["metrics"]["test_accuracy"] == np.mean(accs)
    assert summary["metrics"]["test_accuracy_std"] == np.std(accs, ddof=1)
    assert "3-fold mean test accuracy" in done.stdout
    # one feature cache serves every fold
    assert len(list((tmp_path / "c").iterdir())) == 1


def test_variants_that_need_the_true_adjective_refuse_twitter(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "visent", "cv", "--dataset", "twitter", "--variant", "attention-truth"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "ground-truth adjective" in done.stderr
