"""A user's mistake gets one line naming the path or value and the fix: no traceback, nothing written.
A result always belongs to its configuration. (One test per failure of issue 12.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import fast_run_flags
from visent import pipeline
from visent.cli import _print_result, main
from visent.config import ConfigError, RunConfig
from visent.data.table import DataReport
from visent.model import build_model


def _cli(capsys, *argv):
    """Run ``visent argv`` in process; return (exit code, stderr)."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


# 1. A result file is reused only for the configuration that wrote it.


def _saved(tmp_path: Path, config: RunConfig) -> Path:
    path = Path(config.results_dir) / f"{config.run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"run_id": config.run_id, "config": config.to_dict(), "metrics": {"test_accuracy": 0.5}})
    )
    return path


@pytest.fixture
def fake_run(monkeypatch):
    calls = []
    monkeypatch.setattr(pipeline, "run", lambda config, progress=True: calls.append(config) or {"retrained": True})
    return calls


def test_a_result_of_another_learning_rate_is_retrained_and_replaced(tmp_path, fake_run):
    old = RunConfig.from_dict({"results_dir": str(tmp_path / "r"), "lr": 0.001})
    _saved(tmp_path, old)
    lines = []
    [result] = pipeline.run_many([RunConfig.from_dict(old.to_dict() | {"lr": 0.01})], log=lines.append)
    assert result == {"retrained": True} and len(fake_run) == 1
    assert "lr 0.001 -> 0.01" in lines[0] and "replaced" in lines[0]


@pytest.mark.parametrize("field, value", [("hidden_dim", 64), ("max_epochs", 3), ("momentum", 0.5), ("seed", 1)])
def test_every_outcome_field_changes_the_fingerprint(field, value):
    config = RunConfig()
    changed = RunConfig.from_dict(config.to_dict() | {field: value, "run_id": config.run_id})
    assert changed.fingerprint() != config.fingerprint()


def test_output_folders_and_worker_counts_reuse_the_result(tmp_path, fake_run):
    old = RunConfig.from_dict({"results_dir": str(tmp_path / "r"), "num_workers": 0})
    _saved(tmp_path, old)
    lines = []
    same = RunConfig.from_dict(old.to_dict() | {"num_workers": 2, "cache_dir": "elsewhere", "checkpoint_dir": "x"})
    assert pipeline.run_many([same], log=lines.append)[0]["metrics"] == {"test_accuracy": 0.5}
    assert fake_run == [] and "reused" in lines[0]
    assert pipeline.run_many([same], force=True, log=lines.append) == [{"retrained": True}]


# 2. Paths that are the wrong kind of thing.


def test_a_data_root_that_is_a_file_is_named(tmp_path, capsys):
    (tmp_path / "data.txt").write_text("x")
    code, err = _cli(capsys, "train", "--data-root", str(tmp_path / "data.txt"), "--results-dir", str(tmp_path / "r"))
    assert code == 2 and f"data_root {tmp_path / 'data.txt'} is a file" in err and "reads a folder" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flag", ["--results-dir", "--checkpoint-dir", "--cache-dir"])
def test_an_output_folder_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, flag):
    (tmp_path / "data").mkdir()
    (tmp_path / "taken").write_text("x")
    code, err = _cli(capsys, "run", "--data-root", str(tmp_path / "data"), flag, str(tmp_path / "taken"))
    assert code == 2 and f"{tmp_path / 'taken'} is a file, not a folder" in err and f"give another {flag}" in err
    assert _files(tmp_path) == [tmp_path / "taken"]


def test_a_garbage_checkpoint_is_named_by_evaluate(tmp_path, capsys):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    code, err = _cli(capsys, "evaluate", str(tmp_path / "junk.pt"))
    assert code == 2 and f"{tmp_path / 'junk.pt'} is not a checkpoint written by visent" in err


def test_a_foreign_torch_file_is_not_taken_for_a_checkpoint(tmp_path, capsys):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    code, err = _cli(capsys, "evaluate", str(tmp_path / "other.pt"))
    assert code == 2 and "lacks ['config', 'best_state', 'best_epoch']" in err


def test_a_checkpoint_whose_keys_have_the_wrong_types_is_named(tmp_path, capsys):
    torch.save({"config": "x", "best_state": {}, "best_epoch": 1}, tmp_path / "odd.pt")
    code, err = _cli(capsys, "evaluate", str(tmp_path / "odd.pt"))
    assert code == 2 and f"{tmp_path / 'odd.pt'}: config is a str, not a dict" in err


def test_a_folder_given_as_checkpoint_is_named_with_one_of_its_files(tmp_path, capsys):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "run.pt").write_bytes(b"")
    code, err = _cli(capsys, "evaluate", str(tmp_path / "k"))
    assert (
        code == 2
        and f"checkpoint {tmp_path / 'k'} is a folder; give one of its .pt files, e.g. {tmp_path / 'k' / 'run.pt'}"
        in err
    )


def test_a_garbage_detector_is_named(tmp_path):
    from visent.model.detector import AttributeDetector

    (tmp_path / "det.pt").write_bytes(b"garbage, not a zip")
    with pytest.raises(ValueError, match="det.pt is not an attribute detector saved by visent"):
        AttributeDetector.load(tmp_path / "det.pt")


def test_a_missing_detector_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "twitter").mkdir()
    code, err = _cli(
        capsys,
        "train",
        "--dataset",
        "twitter",
        "--variant",
        "attention-predicted",
        "--data-root",
        str(tmp_path / "twitter"),
        "--detector",
        str(tmp_path / "nope.pt"),
    )
    assert code == 2 and f"detector {tmp_path / 'nope.pt'}: no such file" in err


# 3. A dataset with nothing usable left.


def test_a_manifest_whose_rows_are_all_bad_says_so(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("path,label\nmissing.jpg,1\nalso.jpg,maybe\n")
    code, err = _cli(
        capsys,
        "train",
        "--dataset",
        "manifest",
        "--data-root",
        str(tmp_path / "m.csv"),
        "--variant",
        "gap",
        "--results-dir",
        str(tmp_path / "r"),
        "--no-index-cache",
    )
    assert code == 2 and "no usable image for the 'manifest' layout" in err
    assert "listed image missing" in err and "malformed row" in err and not (tmp_path / "r").exists()


def test_a_folders_tree_without_polarity_folders_says_so(tmp_path, capsys, make_tree):
    make_tree(tmp_path / "tree", {"cats": ["a.jpg"], "dogs": ["b.jpg"]})
    code, err = _cli(
        capsys,
        "train",
        "--dataset",
        "folders",
        "--data-root",
        str(tmp_path / "tree"),
        "--variant",
        "gap",
        "--no-index-cache",
    )
    assert code == 2 and "no usable image for the 'folders' layout" in err and "unknown class folder" in err


# 4. visent run names skipped inputs, as visent train does.


def test_the_printed_result_says_how_many_inputs_were_skipped(capsys):
    report = DataReport()
    report.add("a.jpg", "unreadable image", "truncated")
    report.add("b.jpg", "unreadable image", "empty file")
    _print_result(
        {
            "run_id": "r",
            "metrics": {"test_accuracy": 0.5, "test_balanced_accuracy": 0.5},
            "dataset": {"report": report.to_dict()},
        }
    )
    assert "data report: 2 inputs skipped or noted (2 unreadable image)" in capsys.readouterr().out


# 5. Run ids stay inside their folders.


@pytest.mark.parametrize("run_id", ["../../x", "a/b", ".hidden", ""])
def test_a_run_id_that_is_not_a_plain_file_name_is_refused(run_id):
    with pytest.raises(ConfigError, match="is not a plain file name"):
        RunConfig.from_dict({"run_id": run_id})


# 6. --regions where no layout reads it.


@pytest.mark.parametrize("layout", ["twitter", "folders", "synthetic"])
def test_regions_for_a_layout_that_does_not_read_them_is_refused(layout):
    with pytest.raises(ConfigError, match=f"applies to the manifest and vso layouts, not '{layout}'"):
        RunConfig.from_dict({"dataset": layout, "variant": "gap", "regions": "/no/such.csv"})


def test_a_regions_file_that_does_not_exist_is_named(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("path,label\n")
    code, err = _cli(
        capsys,
        "train",
        "--dataset",
        "manifest",
        "--data-root",
        str(tmp_path / "m.csv"),
        "--regions",
        str(tmp_path / "boxes.csv"),
    )
    assert code == 2 and f"regions {tmp_path / 'boxes.csv'}: no such file" in err


# 7. Duplicates and images of unknown ANPs are named; reasons group.


def test_duplicate_files_and_images_of_an_unknown_anp_are_named_one_by_one(tmp_path, make_tree, vso_ontology):
    root = make_tree(
        tmp_path / "vso",
        {
            "beautiful_flower": [f"b{i}.jpg" for i in range(10)],
            "sad_face": [f"s{i}.jpg" for i in range(10)],
            "purple_unicorn": ["x.jpg", "y.jpg"],
        },
    )
    (root / "sad_face" / "copy.jpg").write_bytes((root / "beautiful_flower" / "b0.jpg").read_bytes())
    config = RunConfig.from_dict(
        {
            "dataset": "vso",
            "data_root": str(root),
            "ontology": str(vso_ontology),
            "index_cache": False,
            "variant": "gap",
        }
    )
    dataset = pipeline.load_data(config)
    problems = {(p.path, p.reason) for p in dataset.report.problems}
    assert ("sad_face/copy.jpg", "duplicate file") in problems
    assert {
        ("purple_unicorn/x.jpg", "image of an ANP not in ontology"),
        ("purple_unicorn/y.jpg", "image of an ANP not in ontology"),
    } <= problems
    assert dataset.report.counts()["image of an ANP not in ontology"] == 2


def test_report_reasons_are_categories_and_the_specifics_are_details():
    from visent import features

    source = Path(features.__file__).read_text() + Path(pipeline.__file__).read_text()
    assert 'f"cache shard recomputed: {why}"' not in source and 'f"adjective not in GloVe (' not in source


# 8. The detector is written atomically; timing after a resume.


def test_the_detector_is_saved_through_atomic_write(tmp_path, monkeypatch):
    from visent.model import detector

    written = []
    monkeypatch.setattr(detector, "atomic_write", lambda path, write: written.append(path))
    det = detector.AttributeDetector(["a", "b"], torch.zeros(2, 3), torch.zeros(2), torch.zeros(3), torch.ones(3))
    det.save(tmp_path / "d.pt")
    assert written == [tmp_path / "d.pt"]


def test_a_resumed_fit_reports_the_seconds_trained_before_the_resume(tmp_path, monkeypatch):
    from tests.test_probe import _toy
    from visent.training import train

    data = _toy(n=120)
    config = RunConfig.from_dict(
        {"variant": "gap", "iterations_per_epoch": 2, "max_epochs": 3, "patience": 5, "batch_size": 8, "hidden_dim": 8}
    )
    real = train._val_loss
    epochs = []

    def crash_on_second(*args):
        epochs.append(1)
        if len(epochs) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(train, "_val_loss", crash_on_second)
    model = build_model("gap", region_dim=6, hidden_dim=8)
    with pytest.raises(KeyboardInterrupt):
        train.fit(
            model,
            data,
            config.training,
            torch.device("cpu"),
            train.Checkpoint(tmp_path / "c.pt", config),
            progress=False,
        )
    monkeypatch.setattr(train, "_val_loss", real)
    outcome = train.fit(
        build_model("gap", region_dim=6, hidden_dim=8),
        data,
        config.training,
        torch.device("cpu"),
        train.Checkpoint(tmp_path / "c.pt", config),
        progress=False,
    )
    assert outcome.epochs == 3 and 0 < outcome.resumed_seconds < outcome.seconds


# 9. Splits a user gives.


def _manifest(tmp_path, make_tree, splits):
    names = [f"{i}.jpg" for i in range(len(splits))]
    make_tree(tmp_path / "img", {"x": names})
    rows = "".join(f"x/{n},{i % 2},{s}\n" for i, (n, s) in enumerate(zip(names, splits)))
    (tmp_path / "img" / "manifest.csv").write_text("path,label,split\n" + rows)
    return RunConfig.from_dict(
        {
            "dataset": "manifest",
            "data_root": str(tmp_path / "img" / "manifest.csv"),
            "variant": "gap",
            "index_cache": False,
            "split": "given",
        }
    )


def test_train_and_test_without_val_carves_val_from_train_and_says_so(tmp_path, make_tree):
    config = _manifest(tmp_path, make_tree, ["train"] * 16 + ["test"] * 4)
    dataset = pipeline.load_data(config)
    pipeline.settle_splits(config, dataset)
    split = dataset.samples["split"].to_numpy()
    assert (split[16:] == "test").all() and (split[:16] == "val").sum() == 2
    assert "stratified 10% of the train rows" in dataset.meta["val"]


def test_blank_split_cells_are_assigned_and_given_ones_kept_and_counted(tmp_path, make_tree):
    config = _manifest(tmp_path, make_tree, ["test"] * 4 + [""] * 16)
    dataset = pipeline.load_data(config)
    split = dataset.samples["split"].to_numpy()
    assert (split[:4] == "test").all() and set(split[4:]) <= {"train", "val", "test"} and (split[4:] == "train").any()
    assert dataset.meta["split"] == "4 rows' split given, 16 blank ones assigned by visent (random)"
    [note] = [p for p in dataset.report.problems if p.reason == "split assigned by visent"]
    assert note.path == str(tmp_path / "img" / "manifest.csv") and note.detail == "16 of 20 rows had a blank split cell"


def test_a_given_split_is_named_given_in_the_run_id_and_the_config():
    config = RunConfig.from_dict(
        {"dataset": "manifest", "data_root": "m/manifest.csv", "split": "given", "variant": "gap"}
    )
    assert config.run_id == "manifest-given-gap-s0" and config.to_dict()["split"] == "given"
    assert RunConfig(variant="gap", split="heldout-adjectives").run_id == "synthetic-heldout-adjectives-gap-s0"


def test_a_split_column_under_a_split_visent_draws_stops_naming_the_flag(tmp_path, make_tree):
    config = _manifest(tmp_path, make_tree, ["train"] * 8 + ["test"] * 2).replace(split="random")
    with pytest.raises(
        ValueError, match=r"manifest.csv has a split column \(10 of 10 rows filled\): pass --split given"
    ):
        pipeline.load_data(config)


@pytest.mark.parametrize("layout", ["synthetic", "vso", "twitter", "folders"])
def test_split_given_on_a_layout_without_a_split_column_is_refused(layout):
    with pytest.raises(
        ConfigError, match=f"reads the split column of the manifest layout; the '{layout}' layout has none"
    ):
        RunConfig.from_dict({"dataset": layout, "split": "given", "variant": "gap"})


def test_a_train_split_without_one_class_stops_before_any_work(tmp_path, make_tree):
    config = _manifest(tmp_path, make_tree, ["train", "test"] * 6)  # every train row has label 0
    dataset = pipeline.load_data(config)
    with pytest.raises(ValueError, match="the train split has no positive image"):
        pipeline.settle_splits(config, dataset)


def test_no_test_rows_stops_before_any_work(tmp_path, make_tree):
    config = _manifest(tmp_path, make_tree, ["train"] * 6 + ["val"] * 2)
    dataset = pipeline.load_data(config)
    with pytest.raises(ValueError, match="no image is in the test split"):
        pipeline.settle_splits(config, dataset)


def test_an_unknown_split_name_is_reported_and_its_row_left_out(tmp_path, make_tree):
    config = _manifest(tmp_path, make_tree, ["train"] * 8 + ["test"] * 2 + ["holdout"])
    dataset = pipeline.load_data(config)
    assert len(dataset.samples) == 10
    assert [p.reason for p in dataset.report.problems] == ["malformed row"]
    assert "'holdout' is not one of train, val, test" in dataset.report.problems[0].detail
    assert np.isin(dataset.samples["split"].to_numpy(), ["train", "val", "test"]).all()


def test_every_bad_input_of_the_data_chapter_names_a_test_that_exists():
    import re

    root = Path(__file__).resolve().parents[1]
    chapter = (root / "book" / "data.md").read_text()
    section = chapter.split("## What happens to bad inputs", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"^\|[^|]+\|[^|]+\| `(test_\w+)` \|$", section, flags=re.MULTILINE)
    defined = set(
        re.findall(
            r"^def (test_\w+)", "\n".join(p.read_text() for p in (root / "tests").glob("test_*.py")), flags=re.MULTILINE
        )
    )
    assert len(named) >= 19
    assert [t for t in named if t not in defined] == []


# 10. Each command validates only the settings it reads.


def test_extract_works_on_twitter_without_a_variant(tmp_path, capsys, make_tree):
    make_tree(tmp_path / "tw", {"images": [f"{i}.jpg" for i in range(4)]})
    (tmp_path / "tw" / "twitter_five_agrees.txt").write_text("".join(f"{i}.jpg {i % 2}\n" for i in range(4)))
    argv = [
        *("extract", "--dataset", "twitter", "--data-root", str(tmp_path / "tw")),
        *("--weights", "random", "--image-size", "32", "--cache-dir", str(tmp_path / "c"), "--quiet"),
    ]
    code, out = main(argv), capsys.readouterr()
    assert code == 0 and "(4 rows, 0 unreadable images)" in out.out and "Traceback" not in out.err
    # the cache holds every Twitter image (the subsets' source): what its extraction notes reaches the subset's report
    next((tmp_path / "c").glob("*/shard-*.npy")).write_bytes(b"")
    code, out = main(argv), capsys.readouterr()
    assert code == 0 and "1 problem: 1 damaged feature cache file" in out.out


# 11. Output folders where no file can be created are refused before any work (issue 26).


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    """A 32-image synthetic set at 64 px: a real dataset for the runs below, trained at 32 px in seconds."""
    from visent.data.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("syn") / "syn"
    generate(root, SynthConfig(n_images=32, image_size=64), progress=False)
    return root


def _train(tmp, data, *extra):
    """``visent train`` of gap at 32 px on random weights, writing under ``tmp`` (``c``, ``r``, ``k``)."""
    return ["train", "--data-root", str(data), "--variant", "gap", "--image-size", "32", *fast_run_flags(tmp), *extra]


def _read_only(monkeypatch, folder: Path) -> None:
    """Make ``folder`` behave as on a read-only mount for every writer: visent creates each file
    through ``tempfile.mkstemp`` (atomic_write, and the writability probe), which fails there."""
    import errno
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).absolute().is_relative_to(folder):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("flag, name", [("--results-dir", "r"), ("--checkpoint-dir", "k"), ("--cache-dir", "c")])
def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch, syn, flag, name):
    (tmp_path / name).mkdir()
    _read_only(monkeypatch, tmp_path / name)
    code, err = _cli(capsys, *_train(tmp_path, syn))
    assert code == 2 and f"no file can be created in {tmp_path / name} (Read-only file system)" in err
    assert f"give another {flag} or make it writable" in err
    assert _files(tmp_path) == []  # nothing extracted, trained or written


@pytest.mark.skipif(os.geteuid() == 0, reason="root creates files in a 0555 folder; the read-only test above covers it")
def test_a_folder_without_write_permission_is_refused_before_any_work(tmp_path, capsys, syn):
    (tmp_path / "r").mkdir(mode=0o555)
    code, err = _cli(capsys, *_train(tmp_path, syn))
    assert code == 2 and f"no file can be created in {tmp_path / 'r'} (Permission denied)" in err
    assert _files(tmp_path) == []


# 12. A symbolic link that points to itself is listed and skipped, not a traceback (issue 26).


def _loop(folder: Path) -> Path:
    (folder / "loop.jpg").symlink_to("loop.jpg")
    return folder / "loop.jpg"


@pytest.mark.parametrize("layout", ["folders", "vso", "synthetic"])
def test_a_symlink_to_itself_is_listed_and_skipped_by_every_folder_layout(tmp_path, make_tree, request, layout):
    from visent.data.layouts import load_dataset
    from visent.data.synth import SynthConfig, generate

    if layout == "synthetic":
        root = tmp_path / "syn"
        generate(root, SynthConfig(n_images=8, image_size=64), progress=False)
        folder, options = next(p for p in sorted(root.iterdir()) if p.is_dir()), {}
    else:
        root = make_tree(tmp_path / layout, {"beautiful_flower" if layout == "vso" else "positive": ["a.jpg"]})
        folder = next(root.iterdir())
        options = {"ontology": request.getfixturevalue("vso_ontology")} if layout == "vso" else {}
    _loop(folder)
    _loop(root)
    dataset = load_dataset(layout, root, **options)  # the index cache lists the folders too
    listed = {(p.path, p.reason) for p in dataset.report.problems}
    assert {(f"{folder.name}/loop.jpg", "unreadable entry"), ("loop.jpg", "unreadable entry")} <= listed
    assert "Too many levels of symbolic links" in dataset.report.problems[0].detail
    assert len(dataset.samples) == (8 if layout == "synthetic" else 1)


def test_a_run_over_a_tree_with_a_symlink_loop_finishes_and_reports_it(tmp_path, capsys, syn):
    import shutil

    data = shutil.copytree(syn, tmp_path / "syn")
    _loop(next(p for p in sorted(data.iterdir()) if p.is_dir()))
    code, err = _cli(capsys, *_train(tmp_path, data))
    result = json.loads(next((tmp_path / "r").glob("*.json")).read_text())
    assert code == 0 and result["dataset"]["report"]["by_reason"]["unreadable entry"] == 1


# 13. An image over the pixel limit says so and names the flag that sets it (issue 26).


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` pixels and holds none: what opening it reads, in 45 bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_an_image_over_the_pixel_limit_is_skipped_naming_the_limit_and_the_flag(tmp_path, capsys, syn):
    import shutil

    data = shutil.copytree(syn, tmp_path / "syn")
    big = _png_header(next(p for p in sorted(data.iterdir()) if p.is_dir()) / "big.png", 12000, 12000)
    code, _ = _cli(capsys, *_train(tmp_path, data))
    result = json.loads(next((tmp_path / "r").glob("*.json")).read_text())
    [skipped] = [p for p in result["dataset"]["report"]["problems"] if p["path"] == str(big.relative_to(data))]
    assert code == 0 and skipped["reason"] == "unreadable image"
    assert skipped["detail"].startswith("12000x12000 = 144,000,000 pixels, over the limit of 89,478,485")
    assert "pass --max-pixels 144000000" in skipped["detail"] and "download it again" not in skipped["detail"]
    with pytest.raises(ConfigError, match=r"max_pixels must be an integer in \[1, 178956970\]"):
        RunConfig(max_pixels=200_000_000)


# 14. A checkpoint works from any folder (issue 26).


def test_evaluate_gives_the_same_metrics_from_any_folder_and_reuses_the_cache(tmp_path, capsys, monkeypatch, syn):
    import shutil

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    shutil.copytree(syn, project / "data")
    elsewhere.mkdir()
    monkeypatch.chdir(project)  # every path below as a user types it: relative to the project
    relative = ["--data-root", "data", "--cache-dir", "c", "--results-dir", "r", "--checkpoint-dir", "k"]
    assert main([*_train(tmp_path, "data"), *relative, "--run-id", "x"]) == 0
    capsys.readouterr()

    def evaluate(checkpoint):
        code, out = main(["evaluate", str(checkpoint), "--quiet"]), capsys.readouterr()
        assert code == 0 and "Traceback" not in out.err, out.err
        return json.loads(out.out)

    shards = {p: p.stat().st_mtime_ns for p in (project / "c").rglob("*")}
    at_root = evaluate("k/x.pt")
    monkeypatch.chdir(elsewhere)
    assert evaluate(project / "k" / "x.pt") == at_root
    assert list(elsewhere.iterdir()) == [] and {p: p.stat().st_mtime_ns for p in (project / "c").rglob("*")} == shards
    (project).rename(tmp_path / "moved")  # the recorded absolute paths are gone; the run folder is found again
    assert evaluate(tmp_path / "moved" / "k" / "x.pt") == at_root
    assert list(elsewhere.iterdir()) == [] and not project.exists()


# 15. A finished cache with damaged files heals itself in the next run (issues 24 and 26).


CACHE_DAMAGE = {
    "a 0-byte shard": lambda shard, manifest: shard.write_bytes(b""),
    "a shard cut in its header": lambda shard, manifest: shard.write_bytes(shard.read_bytes()[:40]),
    "a shard zeroed at its size": lambda shard, manifest: shard.write_bytes(bytes(shard.stat().st_size)),
    "a truncated manifest": lambda shard, manifest: manifest.write_text(manifest.read_text()[:300]),
}


@pytest.mark.parametrize("damage", CACHE_DAMAGE)
def test_a_damaged_cache_file_is_named_in_the_result_and_the_run_goes_on(tmp_path, capsys, syn, damage):
    from visent.features import DAMAGED

    assert _cli(capsys, *_train(tmp_path, syn))[0] == 0
    [folder] = (tmp_path / "c").iterdir()
    shard, manifest = next(folder.glob("shard-*.npy")), folder / "manifest.json"
    CACHE_DAMAGE[damage](shard, manifest)
    code, _ = _cli(capsys, *_train(tmp_path, syn, "--run-id", "again"))
    report = json.loads((tmp_path / "r" / "again.json").read_text())["dataset"]["report"]
    [named] = [p for p in report["problems"] if p["reason"] == DAMAGED]
    assert code == 0 and named["path"] in (str(shard), str(manifest))
    assert report["by_reason"][DAMAGED] == 1
