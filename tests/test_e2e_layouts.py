"""Each layout end to end: index, extract features, train, and a result file that counts every sample
and every problem. Trees of the CC0 scikit-image photos; random backbone weights and a two-step
schedule keep a run to seconds (twitter: tests/test_cv.py; vso with a VSO-format ontology:
tests/test_bad_inputs.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from visent.reporting.record import N_PANEL

FAST = [
    "--weights",
    "random",
    "--preset",
    "cpu",
    "--iterations-per-epoch",
    "2",
    "--max-epochs",
    "1",
    "--batch-size",
    "4",
    "--extract-batch-size",
    "8",
    "--quiet",
]


def train(tmp: Path, *flags: str) -> dict:
    """``visent train`` with ``flags`` in ``tmp``; returns the one result file it wrote."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "visent",
            "train",
            *flags,
            *FAST,
            "--cache-dir",
            str(tmp / "cache"),
            "--results-dir",
            str(tmp / "results"),
            "--checkpoint-dir",
            str(tmp / "ckpt"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [result] = (tmp / "results").glob("*.json")
    return json.loads(result.read_text())


def used(result: dict) -> int:
    dataset = result["dataset"]
    return dataset["n_train"] + dataset["n_val"] + dataset["n_test"]


def test_folders_layout_runs_end_to_end_on_emotion_folders(tmp_path, make_tree):
    names = [f"{k}.jpg" for k in range(5)]
    root = make_tree(tmp_path / "fi", {"amusement": names, "fear": names, "misc": ["x.jpg"]})
    (root / "LICENSE.txt").write_text("CC0")

    result = train(tmp_path, "--dataset", "folders", "--data-root", str(root), "--variant", "gap")

    assert used(result) == 10
    assert result["dataset"]["class_balance"]["train"]["positive"] > 0
    assert result["dataset"]["report"]["by_reason"] == {
        "unknown class folder": 1,
        "image of an unknown class folder": 1,
        "stray file": 1,
    }
    assert result["dataset"]["meta"]["layout"] == "folders"
    assert 0 <= result["metrics"]["test_accuracy"] <= 1


def test_manifest_layout_runs_end_to_end_with_its_own_splits_and_adjectives(tmp_path, make_tree):
    make_tree(tmp_path / "mine", {"pics": [f"{k}.jpg" for k in range(10)]})
    splits = ["train"] * 6 + ["val"] * 2 + ["test"] * 2
    rows = [f"pics/{k}.jpg,{k % 2},{'sunny' if k % 2 else 'gloomy'},{split}" for k, split in enumerate(splits)]
    rows += ["pics/missing.jpg,1,sunny,train", "pics/0.jpg,maybe,sunny,train"]
    manifest = tmp_path / "mine" / "manifest.csv"
    manifest.write_text("path,label,attribute,split\n" + "\n".join(rows) + "\n")

    result = train(
        tmp_path,
        "--dataset",
        "manifest",
        "--data-root",
        str(manifest),
        "--variant",
        "attention-truth",
        "--split",
        "given",
    )

    dataset = result["dataset"]
    assert result["run_id"] == "manifest-given-attention-truth-s0" and result["config"]["split"] == "given"
    assert (dataset["n_train"], dataset["n_val"], dataset["n_test"]) == (6, 2, 2)
    assert dataset["n_attributes"] == 2
    assert dataset["report"]["by_reason"] == {"listed image missing": 1, "malformed row": 1}
    assert [p["path"] for p in dataset["report"]["problems"]] == ["manifest.csv:12", "manifest.csv:13"]


def test_vso_layout_runs_end_to_end_with_the_mvso_csv_ontology(tmp_path, make_tree, mvso_ontology):
    names = [f"{k}.jpg" for k in range(5)]
    root = make_tree(tmp_path / "mvso", {"happy_dog": names, "sad_face": names, "purple_unicorn": ["1.jpg"]})

    result = train(
        tmp_path,
        "--dataset",
        "vso",
        "--data-root",
        str(root),
        "--ontology",
        str(mvso_ontology),
        "--variant",
        "attention-truth",
    )

    dataset = result["dataset"]
    assert used(result) == 10
    assert dataset["n_attributes"] == 2
    assert dataset["report"]["by_reason"] == {"ANP not in ontology": 1, "image of an ANP not in ontology": 1}
    assert dataset["meta"]["ontology_source"] == str(mvso_ontology)
    assert result["metrics"]["attention_in_region"] is None  # no region boxes in this tree


def test_a_448_pixel_run_attends_over_784_regions_end_to_end(tmp_path):
    """The shapes come from the backbone: 448 px gives a 28 x 28 grid, through the cache, the model,
    the localisation metrics and the attention examples of the result file."""
    data = tmp_path / "synthetic"
    done = subprocess.run(
        [sys.executable, "-m", "visent", "synth", str(data), "--n-images", "24", "--image-size", "448", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    result = train(
        tmp_path,
        "--dataset",
        "synthetic",
        "--data-root",
        str(data),
        "--variant",
        "attention-learned",
        "--image-size",
        "448",
    )

    manifest = json.loads((Path(result["backbone"]["cache"]) / "manifest.json").read_text())
    assert manifest["shape"] == [784, 512]
    assert result["backbone"]["weights"]["id"] == "random@448px"
    assert result["backbone"]["transform"]["size"] == [448, 448]
    assert {len(example["o"]) for example in result["examples"]} == {784}
    assert 0 < result["metrics"]["region_share"] < 1
    assert 0 <= result["metrics"]["attention_in_region"] <= 1


def test_a_result_file_keeps_every_test_image_with_its_probability(tmp_path):
    """The per-image test predictions (for paired tests over images) agree with the file's accuracy."""
    data = tmp_path / "synthetic"
    done = subprocess.run(
        [sys.executable, "-m", "visent", "synth", str(data), "--n-images", "24", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    result = train(tmp_path, "--dataset", "synthetic", "--data-root", str(data), "--variant", "gap")

    predictions = result["predictions"]
    assert len(predictions["path"]) == result["dataset"]["n_test"] == len(set(predictions["path"]))
    correct = [(p > 0.5) == bool(y) for p, y in zip(predictions["p_positive"], predictions["label"])]
    assert sum(correct) / len(correct) == pytest.approx(result["metrics"]["test_accuracy"])
    # The attention panel: the first test images in path order, whatever the outcome.
    assert [e["path"] for e in result["attention_panel"]] == sorted(predictions["path"])[:N_PANEL]
