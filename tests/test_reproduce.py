"""`visent reproduce` reruns each committed result from its saved configuration and compares it."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from visent import precision
from visent.cli import main
from visent.reproduce import rerun_config


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


def _out_flags(tmp_path) -> list[str]:
    """The feature cache, results and checkpoints of a test's runs, each in the test's own folder."""
    folders = {"cache": "c", "results": "r", "checkpoint": "k"}
    return [arg for name, sub in folders.items() for arg in (f"--{name}-dir", str(tmp_path / sub))]


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
        *_out_flags(tmp_path),
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
                *_out_flags(tmp_path),
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


def _committed(recorded=None, device="cpu", amp="auto"):
    """A result file's fields that decide its rerun's precision."""
    training = {} if recorded is None else {"precision": recorded}
    return {"config": {"variant": "gap", "amp": amp}, "training": training, "env": {"device": device}}


@pytest.mark.parametrize(
    "committed, amp",
    [
        (_committed("fp32"), "off"),
        (_committed("bf16"), "bf16"),
        (_committed(None, "cpu"), "off"),  # written before the precision was recorded: auto was fp32 on CPUs
        (_committed(None, "cuda:0"), "bf16"),
        (_committed(None, "cuda:0", amp="off"), "off"),
    ],
)
def test_a_rerun_computes_in_the_precision_its_file_records_whatever_this_cpu_has(
    tmp_path, monkeypatch, committed, amp
):
    for cpu in ((), ("AMX",)):
        monkeypatch.setattr(precision, "native_bf16", lambda cpu=cpu: cpu)
        assert rerun_config(committed, tmp_path, fresh_cache=False).amp == amp


def test_an_fp32_result_of_an_avx2_cpu_reproduces_identically_on_a_native_bf16_cpu(tmp_path, monkeypatch, capsys):
    root = _twitter(tmp_path / "tw")
    monkeypatch.setattr(precision, "native_bf16", lambda: ())  # trained where auto is fp32
    flags = ["--dataset", "twitter", "--data-root", str(root), "--variant", "linear-probe", "--weights", "random"]
    flags += ["--image-size", "64", "--cv-folds", "2", "--quiet", "--no-index-cache"]
    flags += _out_flags(tmp_path)
    assert main(["train", *flags]) == 0
    monkeypatch.setattr(precision, "native_bf16", lambda: ("AMX",))  # reproduced where auto is bf16
    assert precision.name("auto", torch.device("cpu")) == "bf16"
    capsys.readouterr()
    scratch = tmp_path / "s"
    argv = ["reproduce", "--results-dir", str(tmp_path / "r"), "--scratch", str(scratch), "--fresh-cache", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "tw-five-cv2-f0-linear-probe-s0 (fp32, as its file records)" in out
    assert "1 runs: 1 identical, 0 differing, 0 skipped" in out
    rerun = json.loads((scratch / "results" / "tw-five-cv2-f0-linear-probe-s0.json").read_text())
    assert rerun["training"]["precision"] == "fp32"
    assert [p.name.endswith("-bf16") for p in (scratch / "cache").iterdir()] == [False]
