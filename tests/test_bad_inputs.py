"""A run over a tree full of bad inputs finishes, reads what is readable, and reports every skip."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from visent.data.ontology import write_vso_ontology


@pytest.fixture(scope="module")
def messy_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy") / "vso"
    rng = np.random.default_rng(0)

    def photo(path, mode="RGB", size=(64, 48)):
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        img = (
            Image.fromarray(pixels).convert(mode)
            if mode != "I;16"
            else Image.fromarray((pixels[..., 0].astype(np.uint16) * 257))
        )
        img.save(path)

    for i in range(4):
        photo(root / "beautiful_flower" / f"ok{i}.jpg")
        photo(root / "sad_face" / f"ok{i}.jpg")
    photo(root / "beautiful_flower" / "gray.png", "L")
    photo(root / "beautiful_flower" / "cmyk.jpg", "CMYK")
    photo(root / "beautiful_flower" / "rgba.png", "RGBA")
    photo(root / "beautiful_flower" / "deep.png", "I;16")
    photo(root / "beautiful_flower" / "tiny.jpg", size=(20, 16))
    (root / "sad_face" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    (root / "sad_face" / "empty.jpg").write_bytes(b"")
    (root / "sad_face" / "notes.txt").write_text("not an image")
    (root / "sad_rain").mkdir()
    photo(root / "happy_dog" / "a.jpg")  # ANP missing from the ontology
    photo(root / "zorblaxian_cat" / "a.jpg")  # adjective missing from GloVe
    photo(root / "zorblaxian_cat" / "b.jpg")
    anps = {
        "beautiful_flower": ("beautiful", "flower", 1.5),
        "sad_face": ("sad", "face", -1.2),
        "sad_rain": ("sad", "rain", -1.0),
        "zorblaxian_cat": ("zorblaxian", "cat", 0.8),
    }
    write_vso_ontology(root.parent / "ontology.txt", anps, {"beautiful": 1.0, "sad": -1.1, "zorblaxian": 0.5})
    return root


def visent(*args, cwd):
    return subprocess.run([sys.executable, "-m", "visent", *args], capture_output=True, text=True, cwd=cwd, timeout=900)


def run_flags(tree, tmp):
    return [
        "--dataset",
        "vso",
        "--data-root",
        str(tree),
        "--ontology",
        str(tree.parent / "ontology.txt"),
        "--weights",
        "random",
        "--variant",
        "attention-truth",
        "--preset",
        "cpu",
        "--iterations-per-epoch",
        "3",
        "--max-epochs",
        "1",
        "--batch-size",
        "4",
        "--cache-dir",
        str(tmp / "cache"),
        "--results-dir",
        str(tmp / "results"),
        "--checkpoint-dir",
        str(tmp / "ckpt"),
        "--quiet",
    ]


def test_adjective_missing_from_glove_stops_with_the_word_and_the_fix(messy_tree, tmp_path):
    done = visent("train", *run_flags(messy_tree, tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "zorblaxian" in done.stderr and "--oov skip" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_run_over_bad_inputs_reads_the_readable_and_reports_every_skip(messy_tree, tmp_path):
    done = visent("train", *run_flags(messy_tree, tmp_path), "--oov", "skip", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(next((tmp_path / "results").glob("*.json")).read_text())
    report = result["dataset"]["report"]
    text = json.dumps(report)
    for name in ("corrupt.jpg", "empty.jpg", "notes.txt", "sad_rain", "happy_dog", "zorblaxian"):
        assert name in text, f"{name} is not in the report"
    ds = result["dataset"]
    used = ds["n_train"] + ds["n_val"] + ds["n_test"]
    # 8 plain photos + gray, CMYK, RGBA, 16-bit and tiny images are all readable and used.
    assert used == 13
    assert report["n_problems"] >= 6
