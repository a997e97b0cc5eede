"""`visent reproduce` reruns each committed result from its saved configuration and compares it."""

import json

import numpy as np
from PIL import Image

from visent.cli import main


def _twitter(root, n=20):
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        pixels[..., 0] = 255 * (i % 2)
        Image.fromarray(pixels).save(root / "images" / f"{i}.jpg")
        lines.append(f"{i}.jpg {i % 2}")
    (root / "twitter_five_agrees.txt").write_text("\n".join(lines) + "\n")
    return root


def test_reproduce_reruns_each_result_and_names_every_differing_metric(tmp_path, capsys):
    root = _twitter(tmp_path / "tw")
    flags = [
        "--dataset",
        "twitter",
        "--data-root",
        str(root),
        "--variant",
        "gap",
        "--weights",
        "random",
        "--preset",
        "cpu",
        "--iterations-per-epoch",
        "2",
        "--max-epochs",
        "2",
        "--batch-size",
        "4",
        "--cache-dir",
        str(tmp_path / "c"),
        "--results-dir",
        str(tmp_path / "r"),
        "--checkpoint-dir",
        str(tmp_path / "k"),
        "--quiet",
        "--no-index-cache",
    ]
    assert main(["train", *flags, "--cv-folds", "2"]) == 0
    assert main(["train", *flags, "--cv-folds", "2", "--cv-fold", "1"]) == 0
    doctored = tmp_path / "r" / "tw-five-cv2-f1-gap-s0.json"
    result = json.loads(doctored.read_text())
    result["metrics"]["test_accuracy"] += 0.25
    doctored.write_text(json.dumps(result))
    capsys.readouterr()
    code = main(["reproduce", "--results-dir", str(tmp_path / "r"), "--scratch", str(tmp_path / "s"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:4]]
        for line in out.splitlines()
        if line.startswith("| tw-")
    }
    assert rows == {
        "tw-five-cv2-f0-gap-s0": ["identical", "–"],
        "tw-five-cv2-f1-gap-s0": ["differing", "test_accuracy"],
    }
    assert "2 runs: 1 identical, 1 differing, 0 skipped" in out
    assert sorted(p.name for p in (tmp_path / "s" / "results").glob("*.json")) == [
        "tw-five-cv2-f0-gap-s0.json",
        "tw-five-cv2-f1-gap-s0.json",
    ]
    assert (tmp_path / "s" / "reproduce.md").read_text().count("identical") >= 1


def test_reproduce_skips_runs_whose_data_is_absent_and_says_where(tmp_path, capsys):
    root = _twitter(tmp_path / "tw")
    assert (
        main(
            [
                "train",
                "--dataset",
                "twitter",
                "--data-root",
                str(root),
                "--variant",
                "linear-probe",
                "--weights",
                "random",
                "--cv-folds",
                "2",
                "--cache-dir",
                str(tmp_path / "c"),
                "--results-dir",
                str(tmp_path / "r"),
                "--checkpoint-dir",
                str(tmp_path / "k"),
                "--quiet",
                "--no-index-cache",
            ]
        )
        == 0
    )
    (root / "images").rename(tmp_path / "elsewhere")
    root.rename(tmp_path / "gone")
    capsys.readouterr()
    assert main(["reproduce", "--results-dir", str(tmp_path / "r"), "--scratch", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| tw-five-cv2-f0-linear-probe-s0"))
    assert "| skipped " in row and f"data not found at {root}" in row
    assert "1 runs: 0 identical, 0 differing, 1 skipped" in out
