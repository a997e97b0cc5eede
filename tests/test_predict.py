"""``visent predict`` and ``visent.load(checkpoint).predict(images)``: a trained model on new photographs."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

import visent
from tests.conftest import PHOTO_NAMES, fast_run_flags
from visent.cli import main
from visent.data.layouts import load_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """attention-truth trained for one short epoch at 32 px on random weights over 32 synthetic images:
    ``(data root, checkpoint, result file)``."""
    from visent.data.synth import SynthConfig, generate

    tmp = tmp_path_factory.mktemp("trained")
    root = tmp / "syn"
    generate(root, SynthConfig(n_images=32, image_size=64), progress=False)
    argv = ["train", "--data-root", str(root), "--variant", "attention-truth", "--image-size", "32"]
    assert main([*argv, *fast_run_flags(tmp), "--run-id", "truth"]) == 0
    return root, tmp / "k" / "truth.pt", json.loads((tmp / "r" / "truth.json").read_text())


@pytest.fixture
def test_manifest(trained, tmp_path):
    """A manifest CSV of the run's test images (absolute paths) with their adjectives, and the test labels."""
    root, _, result = trained
    attribute = dict(load_dataset("synthetic", root, cache=False).samples[["path", "attribute"]].to_numpy())
    paths = result["predictions"]["path"]
    manifest = tmp_path / "test.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "attribute"])
        writer.writerows([str(root / p), attribute[p]] for p in paths)
    return manifest, [str(root / p) for p in paths], np.array(result["predictions"]["label"])


@pytest.fixture
def photo_folder(tmp_path, write_photo):
    """The CC0 photos as small JPEGs in one folder."""
    for name in PHOTO_NAMES:
        write_photo(tmp_path / "photos" / f"{name}.jpg", name, size=(64, 48))
    return tmp_path / "photos"


def test_predictions_equal_those_of_evaluate_on_the_same_images(trained, test_manifest, capsys):
    _, checkpoint, result = trained
    manifest, paths, labels = test_manifest

    predictions = visent.load(checkpoint).predict(manifest)

    assert [r.path for r in predictions] == paths
    np.testing.assert_allclose([r.p_positive for r in predictions], result["predictions"]["p_positive"], atol=2e-5)
    assert main(["evaluate", str(checkpoint), "--quiet"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    predicted = np.array([r.label == "positive" for r in predictions], dtype=int)
    assert metrics["accuracy"] == pytest.approx(float(np.mean(predicted == labels)))
    assert metrics["confusion"] == [[int(((labels == t) & (predicted == p)).sum()) for p in (0, 1)] for t in (0, 1)]


def test_each_prediction_carries_its_adjective_and_an_attention_map_over_the_grid(trained, test_manifest):
    _, checkpoint, _ = trained
    manifest, paths, _ = test_manifest
    attribute = {row["path"]: row["attribute"] for row in csv.DictReader(manifest.open())}

    for record in visent.load(checkpoint).predict(manifest):
        assert record.attribute == attribute[record.path]
        assert record.o is not None and record.o.shape == (4,)  # 32 px: a 2 x 2 grid
        assert record.o.sum() == pytest.approx(1.0, abs=1e-3)
        assert record.label == ("positive" if record.p_positive > 0.5 else "negative")


def test_the_cli_writes_the_same_records_as_csv_and_json_with_the_config(trained, test_manifest, tmp_path, capsys):
    _, checkpoint, _ = trained
    manifest, paths, _ = test_manifest
    out = ["--out", str(tmp_path / "p.csv"), "--out", str(tmp_path / "p.json")]

    assert main(["predict", "--checkpoint", str(checkpoint), str(manifest), *out, "--quiet"]) == 0

    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    saved = json.loads((tmp_path / "p.json").read_text())
    assert [r["path"] for r in rows] == [r["path"] for r in saved["predictions"]] == paths
    assert [float(r["p_positive"]) for r in rows] == [r["p_positive"] for r in saved["predictions"]]
    assert saved["config"]["variant"] == "attention-truth" and saved["run_id"] == "truth"
    assert f"{len(paths)} images predicted by truth, 0 skipped" in capsys.readouterr().err


def test_one_attribute_steers_every_photograph_of_a_folder(trained, photo_folder, capsys):
    _, checkpoint, _ = trained

    code = main(["predict", "--checkpoint", str(checkpoint), str(photo_folder), "--attribute", "happy", "--quiet"])

    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert code == 0
    assert [Path(r["path"]).stem for r in rows] == sorted(PHOTO_NAMES)
    assert {r["attribute"] for r in rows} == {"happy"}


def test_maps_writes_one_overlay_per_photograph_named_in_the_csv(trained, photo_folder, tmp_path, capsys):
    from PIL import Image

    _, checkpoint, _ = trained
    argv = ["predict", "--checkpoint", str(checkpoint), str(photo_folder), "--attribute", "happy"]

    assert main([*argv, "--maps", str(tmp_path / "maps"), "--quiet"]) == 0

    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == sorted(f"{n}.png" for n in PHOTO_NAMES)
    for row in rows:
        assert Path(row["map"]).parent == tmp_path / "maps" and Path(row["map"]).stem == Path(row["path"]).stem
        pixels = np.asarray(Image.open(row["map"]).convert("RGB"))
        assert pixels.shape == (400, 400, 3) and pixels.std() > 10  # the 4-inch figure at 100 dpi, not blank


def test_two_photographs_of_one_name_get_two_maps(trained, write_photo, tmp_path, capsys):
    _, checkpoint, _ = trained
    for folder in ("a", "b"):
        write_photo(tmp_path / "in" / folder / "cat.jpg", "chelsea", size=(48, 32))
    argv = ["predict", "--checkpoint", str(checkpoint), str(tmp_path / "in"), "--attribute", "happy", "--quiet"]

    assert main([*argv, "--maps", str(tmp_path / "maps")]) == 0

    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["cat-2.png", "cat.png"]


# The gallery, as a reader opens it from disk in a browser.

from tests import test_book  # noqa: E402

chromium = test_book.chromium  # the fixture that finds Chromium, or skips


def _console(binary: Path, profile: Path, url: str) -> tuple[str, str]:
    """The DOM after the page's script ran, and what the page wrote to the console (Chromium's log)."""
    done = test_book._chromium(binary, profile, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    return done.stdout, "\n".join(line for line in done.stderr.splitlines() if "CONSOLE" in line)


@pytest.fixture
def gallery(trained, photo_folder, tmp_path, capsys):
    _, checkpoint, _ = trained
    page = tmp_path / "out" / "gallery.html"
    argv = ["predict", "--checkpoint", str(checkpoint), str(photo_folder), "--attribute", "happy", "--quiet"]
    assert main([*argv, "--html", str(page), "--out", str(tmp_path / "p.csv")]) == 0
    return page, list(csv.DictReader((tmp_path / "p.csv").open()))


def test_the_gallery_is_one_file_that_fetches_nothing(gallery):
    page, rows = gallery
    text = page.read_text()
    assert list(page.parent.iterdir()) == [page]
    assert re.findall(r'(?:src|href)="(?!data:)([^"]*)"', text) == []  # every image inline, no script or style fetched
    assert text.count('<article class="card"') == len(rows) == len(PHOTO_NAMES)


def test_the_gallery_shows_one_card_per_photograph_in_chromium_without_console_errors(gallery, chromium, tmp_path):
    page, rows = gallery

    dom, console = _console(chromium, tmp_path / "profile", page.as_uri())

    assert console == ""
    assert dom.count('<article class="card"') == len(rows)
    shown = [float(p) for p in re.findall(r'<article class="card" data-label="\w+" data-p="([\d.]+)"', dom)]
    assert shown == sorted((float(r["p_positive"]) for r in rows), reverse=True)  # highest p(positive) first
    assert f"{len(rows)} of {len(rows)} photographs" in dom


def test_the_gallery_filters_by_label_and_sorts_from_its_address(gallery, chromium, tmp_path):
    page, rows = gallery
    label = rows[0]["label"]

    dom, console = _console(chromium, tmp_path / "profile", page.as_uri() + f"#sort=p-asc&label={label}")

    cards = re.findall(r'<article class="card" data-label="(\w+)" data-p="([\d.]+)"[^>]*?( hidden="")?>', dom)
    visible = [(lab, float(p)) for lab, p, hidden in cards if not hidden]
    assert console == "" and {lab for lab, _ in visible} == {label}
    assert len(visible) == sum(r["label"] == label for r in rows)
    assert [p for _, p in visible] == sorted(p for _, p in visible)


def test_the_console_check_sees_a_script_error(chromium, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")

    _, console = _console(chromium, tmp_path / "profile", broken.as_uri())

    assert "undefinedFunction" in console


# Bad inputs: each reported, the rest predicted; a bad checkpoint or a missing adjective named.


def _predict(capsys, checkpoint, *args):
    """``visent predict`` in process: (exit code, stdout, stderr); never a traceback."""
    code = main(["predict", "--checkpoint", str(checkpoint), *map(str, args), "--quiet"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_unreadable_truncated_non_image_and_huge_files_are_reported_one_by_one_and_skipped(
    trained, photo_folder, tmp_path, capsys
):
    from tests.test_user_errors import _png_header

    _, checkpoint, _ = trained
    jpeg = (photo_folder / "chelsea.jpg").read_bytes()
    bad = {
        "empty.jpg": b"",
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "page.jpg": b"<html>404 not found</html>",
    }
    for name, data in bad.items():
        (photo_folder / name).write_bytes(data)
    _png_header(photo_folder / "huge.png", 12000, 12000)
    (photo_folder / "notes.txt").write_text("not an image")

    code, out, err = _predict(capsys, checkpoint, photo_folder, "--attribute", "happy", "--out", tmp_path / "p.json")

    saved = json.loads((tmp_path / "p.json").read_text())
    skipped = {Path(p["path"]).name: p for p in saved["skipped"]["problems"]}
    assert code == 0 and sorted(Path(r["path"]).stem for r in saved["predictions"]) == sorted(PHOTO_NAMES)
    assert sorted(skipped) == sorted([*bad, "huge.png", "notes.txt"])
    assert {skipped[n]["reason"] for n in [*bad, "huge.png"]} == {"unreadable image"}
    assert skipped["notes.txt"]["reason"] == "not an image file"
    assert "over the limit of 89,478,485" in skipped["huge.png"]["detail"]
    for name in skipped:
        assert f"skipped {photo_folder / name}: {skipped[name]['reason']}" in err
    assert f"{len(PHOTO_NAMES)} images predicted by truth, 5 skipped" in err


def test_the_pixel_limit_of_the_checkpoint_can_be_raised_for_one_prediction(trained, photo_folder, capsys):
    _, checkpoint, _ = trained
    argv = (photo_folder / "astronaut.jpg", "--attribute", "happy")

    assert _predict(capsys, checkpoint, *argv, "--max-pixels", "1000")[0] == 1  # 512 x 512 is over 1000 pixels
    assert _predict(capsys, checkpoint, *argv)[0] == 0


def test_manifest_rows_without_an_image_or_an_adjective_are_reported_one_by_one(trained, photo_folder, capsys):
    _, checkpoint, _ = trained
    manifest = photo_folder.parent / "photos.csv"
    rows = ["chelsea.jpg,happy", "gone.jpg,happy", "coffee.jpg,", "rocket.jpg,zorblaxian"]
    manifest.write_text("path,attribute\n" + "\n".join(f"photos/{row}" for row in rows) + "\n")

    code, out, err = _predict(capsys, checkpoint, manifest, photo_folder / "nowhere")

    assert code == 0 and [r["path"] for r in csv.DictReader(out.splitlines())] == [str(photo_folder / "chelsea.jpg")]
    assert "skipped photos.csv:3: listed image missing" in err
    assert f"skipped {photo_folder / 'coffee.jpg'}: no adjective" in err
    assert f"skipped {photo_folder / 'rocket.jpg'}: adjective not in GloVe ('zorblaxian'" in err
    assert f"skipped {photo_folder / 'nowhere'}: missing file" in err


def test_a_variant_attending_to_the_adjective_without_one_says_how_to_give_it(trained, photo_folder, capsys):
    _, checkpoint, _ = trained

    code, _, err = _predict(capsys, checkpoint, photo_folder)

    assert code == 2
    assert "attention-truth attends to the image's own adjective: give it with --attribute WORD" in err
    assert "or a manifest CSV with path,attribute columns" in err


def test_a_checkpoint_of_another_version_is_named(trained, tmp_path, capsys):
    import torch

    _, checkpoint, _ = trained
    state = torch.load(checkpoint, weights_only=True)
    state.pop("crc32")
    state["config"]["attention_temperature"] = 2.0  # a setting this version does not know
    torch.save(state, tmp_path / "future.pt")

    code, _, err = _predict(capsys, tmp_path / "future.pt", tmp_path)

    assert code == 2
    assert f"{tmp_path / 'future.pt'} was written by another version of visent (unknown config key" in err
    assert "'attention_temperature'" in err


def test_a_garbage_file_given_as_checkpoint_is_named(tmp_path, capsys):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")

    code, _, err = _predict(capsys, tmp_path / "junk.pt", tmp_path)

    assert code == 2 and f"{tmp_path / 'junk.pt'} is not a checkpoint written by visent" in err


def test_a_variant_whose_query_a_photograph_cannot_give_is_refused_naming_those_that_can(trained, capsys):
    root, checkpoint, _ = trained
    tmp = checkpoint.parent.parent
    argv = ["train", "--data-root", str(root), "--variant", "attention-shuffled", "--image-size", "32"]
    assert main([*argv, *fast_run_flags(tmp), "--run-id", "shuffled"]) == 0

    code, _, err = _predict(capsys, tmp / "k" / "shuffled.pt", root)

    assert code == 2
    assert "attention-shuffled attends to a random other adjective, which a photograph alone does not give" in err
    assert "visent predict applies" in err and "attention-truth" in err and "attention-shuffled," not in err


def test_attention_predicted_attends_to_the_adjective_its_saved_detector_finds(trained, photo_folder, capsys):
    root, checkpoint, _ = trained
    tmp = checkpoint.parent.parent
    argv = ["train", "--data-root", str(root), "--variant", "attention-predicted", "--image-size", "32"]
    assert main([*argv, *fast_run_flags(tmp), "--run-id", "predicted"]) == 0
    vocabulary = set(load_dataset("synthetic", root, cache=False).samples["attribute"])

    predictions = visent.load(tmp / "k" / "predicted.pt").predict(photo_folder)
    code, _, err = _predict(capsys, tmp / "k" / "predicted.pt", photo_folder, "--attribute", "happy")

    assert len(predictions) == len(PHOTO_NAMES) and {r.attribute for r in predictions} <= vocabulary
    assert code == 2 and "attention-predicted attends to" in err and "drop --attribute" in err


def test_a_head_without_attention_gets_maps_and_cards_of_the_photograph_alone(trained, photo_folder, tmp_path, capsys):
    root, checkpoint, _ = trained
    tmp = checkpoint.parent.parent
    argv = ["train", "--data-root", str(root), "--variant", "adjective-only", "--image-size", "32"]
    assert main([*argv, *fast_run_flags(tmp), "--run-id", "words"]) == 0
    out = ["--maps", tmp_path / "maps", "--html", tmp_path / "g.html", "--out", tmp_path / "p.json"]

    code, _, _ = _predict(capsys, tmp / "k" / "words.pt", photo_folder, "--attribute", "happy", *out)

    saved = json.loads((tmp_path / "p.json").read_text())["predictions"]
    assert code == 0 and [r["o"] for r in saved] == [None] * len(PHOTO_NAMES)
    assert len(list((tmp_path / "maps").glob("*.png"))) == len(PHOTO_NAMES)
    page = (tmp_path / "g.html").read_text()
    assert page.count('<article class="card"') == len(PHOTO_NAMES) and 'alt="attention over' not in page


def test_a_fine_tuned_checkpoint_predicts_through_its_block_what_its_run_computed(trained):
    root, checkpoint, _ = trained
    tmp = checkpoint.parent.parent
    argv = ["train", "--data-root", str(root), "--variant", "gap", "--finetune", "conv5", "--image-size", "32"]
    assert main([*argv, *fast_run_flags(tmp), "--run-id", "ft"]) == 0
    result = json.loads((tmp / "r" / "ft.json").read_text())["predictions"]

    predictions = visent.load(tmp / "k" / "ft.pt").predict([str(root / p) for p in result["path"]])

    np.testing.assert_allclose([r.p_positive for r in predictions], result["p_positive"], atol=2e-5)
