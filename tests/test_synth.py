"""Specification of the synthetic VSO-style scene generator (visent.data.synth)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visent.data.ontology import load_ontology
from visent.data.synth import (
    DEFAULT_NOUNS,
    VSO_ADJECTIVE_SCORES,
    VSO_ANP_SCORES,
    SynthConfig,
    SynthConfigError,
    SynthFolderError,
    generate,
)

VSO_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "vso" / "3244ANPs.txt"

# Small scenes keep every test to a fraction of a second.
TINY = SynthConfig(n_images=32, image_size=64, n_clutter=2)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "synth.json"  # synth.json records the run time
    }


def _positive(adjective: str) -> bool:
    return VSO_ADJECTIVE_SCORES[adjective] > 0


def test_default_vocabulary_is_sixteen_vso_adjectives_half_positive_and_eight_nouns() -> None:
    config = SynthConfig()
    assert len(config.adjectives) == 16
    assert sum(_positive(a) for a in config.adjectives) == 8
    assert len(config.nouns) == 8


@pytest.mark.skipif(not VSO_FILE.exists(), reason=f"needs the VSO ontology at {VSO_FILE}")
def test_score_tables_are_the_vso_file_values_and_list_every_vso_pairing() -> None:
    vso = load_ontology(VSO_FILE)
    assert VSO_ADJECTIVE_SCORES == {a: vso.adjectives[a] for a in VSO_ADJECTIVE_SCORES}
    pairings = {
        f"{a}_{n}": vso.anps[f"{a}_{n}"][2]
        for a in VSO_ADJECTIVE_SCORES
        for n in DEFAULT_NOUNS
        if f"{a}_{n}" in vso.anps
    }
    assert VSO_ANP_SCORES == pairings


def test_generate_writes_jpegs_in_anp_folders_with_regions_noise_ontology_and_metadata(tmp_path: Path) -> None:
    summary = generate(tmp_path, TINY, progress=False)
    regions = _rows(tmp_path / "regions.csv")
    assert [row["path"].split("/")[1] for row in regions] == [f"{k:06d}.jpg" for k in range(32)]
    assert summary["n_images"] == 32
    for row in regions:
        folder, name = row["path"].split("/")
        adjective, noun = folder.split("_")
        assert adjective in VSO_ADJECTIVE_SCORES and noun in DEFAULT_NOUNS
        with Image.open(tmp_path / row["path"]) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (64, 64))
    assert list(regions[0]) == ["path", "x0", "y0", "x1", "y1", "width", "height"]
    assert _rows(tmp_path / "noise.csv") == []
    meta = json.loads((tmp_path / "synth.json").read_text())
    assert meta["config"] == TINY.to_dict() and meta["complete"] is True


def test_ontology_parses_with_every_adjective_half_positive_and_the_anps_used(tmp_path: Path) -> None:
    generate(tmp_path, TINY, progress=False)
    ontology = load_ontology(tmp_path / "ontology.txt")
    assert set(ontology.adjectives) == set(TINY.adjectives)
    assert sum(ontology.adjective_polarity(a) for a in ontology.adjectives) == 8
    folders = {row["path"].split("/")[0] for row in _rows(tmp_path / "regions.csv")}
    assert set(ontology.anps) == folders


def test_ontology_scores_are_real_anp_scores_else_the_adjective_score(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(n_images=200, image_size=64, n_clutter=0), progress=False)
    anps = load_ontology(tmp_path / "ontology.txt").anps
    in_vso = [name for name in anps if name in VSO_ANP_SCORES]
    assert in_vso and len(in_vso) < len(anps)
    for name, (adjective, _, score) in anps.items():
        assert score == VSO_ANP_SCORES.get(name, VSO_ADJECTIVE_SCORES[adjective])
        assert (score > 0) == _positive(adjective)


def test_boxes_lie_inside_the_image_and_cover_the_configured_area_fraction(tmp_path: Path) -> None:
    config = SynthConfig(n_images=40, image_size=128, n_clutter=0, region_frac=(0.15, 0.2))
    generate(tmp_path, config, progress=False)
    for row in _rows(tmp_path / "regions.csv"):
        x0, y0, x1, y1, width, height = (int(row[k]) for k in ("x0", "y0", "x1", "y1", "width", "height"))
        assert (width, height) == (128, 128)
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert 0.15 - 0.01 <= (x1 - x0) * (y1 - y0) / (width * height) <= 0.2 + 0.01


def test_same_config_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    config = SynthConfig(n_images=8, image_size=64, n_clutter=3, label_noise=0.25)
    generate(tmp_path / "a", config, progress=False)
    generate(tmp_path / "b", config, progress=False)
    generate(
        tmp_path / "c", SynthConfig(n_images=8, image_size=64, n_clutter=3, label_noise=0.25, seed=1), progress=False
    )
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    assert _hashes(tmp_path / "a") != _hashes(tmp_path / "c")


def test_balanced_classes_have_exactly_half_the_images_each(tmp_path: Path) -> None:
    summary = generate(tmp_path, SynthConfig(n_images=30, image_size=64, n_clutter=0), progress=False)
    labels = [_positive(row["path"].split("_")[0]) for row in _rows(tmp_path / "regions.csv")]
    assert sum(labels) == summary["n_positive"] == 15
    assert summary["n_negative"] == 15


def test_adjectives_take_turns_so_their_image_counts_differ_by_at_most_one(tmp_path: Path) -> None:
    generate(tmp_path, SynthConfig(n_images=36, image_size=64, n_clutter=0), progress=False)
    counts = {a: 0 for a in VSO_ADJECTIVE_SCORES}
    for row in _rows(tmp_path / "regions.csv"):
        counts[row["path"].split("_")[0]] += 1
    for polarity in (True, False):
        values = [c for a, c in counts.items() if _positive(a) == polarity]
        assert max(values) - min(values) <= 1 and sum(values) == 18


def test_label_noise_files_that_fraction_under_the_opposite_polarity_and_lists_them(tmp_path: Path) -> None:
    summary = generate(tmp_path, SynthConfig(n_images=40, image_size=64, n_clutter=0, label_noise=0.2), progress=False)
    noisy = _rows(tmp_path / "noise.csv")
    assert len(noisy) == summary["n_flipped"] == 8
    for row in noisy:
        assert row["path"].split("_")[0] == row["filed_adjective"]
        assert _positive(row["drawn_adjective"]) != _positive(row["filed_adjective"])
    # Half of the flips come from each label, so the classes stay balanced.
    assert sum(_positive(row["filed_adjective"]) for row in noisy) == 4
    assert (summary["n_positive"], summary["n_negative"]) == (20, 20)


def test_the_label_is_visible_in_the_object_box_more_than_in_the_whole_image(tmp_path: Path) -> None:
    # Positive looks are brighter and more saturated; clutter of both polarities blurs that cue
    # for the whole image but not inside the box.
    generate(tmp_path, SynthConfig(n_images=64, image_size=96), progress=False)
    box_cue, image_cue, labels = [], [], []
    for row in _rows(tmp_path / "regions.csv"):
        pixels = np.asarray(Image.open(tmp_path / row["path"]), dtype=np.float32) / 255  # (96, 96, 3)
        vividness = pixels.max(-1) + pixels.max(-1) - pixels.min(-1)  # HSV value + chroma
        x0, y0, x1, y1 = (int(row[k]) for k in ("x0", "y0", "x1", "y1"))
        box_cue.append(vividness[y0:y1, x0:x1].mean())
        image_cue.append(vividness.mean())
        labels.append(_positive(row["path"].split("_")[0]))

    def auc(scores: list[float]) -> float:
        s, y = np.array(scores), np.array(labels)
        return float((s[y][:, None] > s[~y][None, :]).mean())

    assert auc(box_cue) > 0.95
    assert auc(image_cue) < auc(box_cue) - 0.05


def test_rerun_with_the_same_config_is_a_no_op(tmp_path: Path) -> None:
    generate(tmp_path, TINY, progress=False)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    again = generate(tmp_path, TINY, progress=False)
    assert again["skipped"] is True and again["n_images"] == 32
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_another_config_into_a_dataset_folder_raises_unless_overwrite(tmp_path: Path) -> None:
    generate(tmp_path, TINY, progress=False)
    other = SynthConfig(n_images=4, image_size=64, n_clutter=2, seed=7)
    with pytest.raises(SynthFolderError, match="overwrite=True"):
        generate(tmp_path, other, progress=False)
    summary = generate(tmp_path, other, progress=False, overwrite=True)
    assert summary["n_images"] == 4 and len(list(tmp_path.rglob("*.jpg"))) == 4


def test_a_non_empty_folder_that_is_not_a_dataset_is_never_touched(tmp_path: Path) -> None:
    (tmp_path / "holiday.jpg").write_bytes(b"mine")
    with pytest.raises(SynthFolderError, match="no synth.json"):
        generate(tmp_path, TINY, progress=False, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["holiday.jpg"]


def test_an_interrupted_run_of_the_same_config_is_completed(tmp_path: Path) -> None:
    generate(tmp_path, TINY, progress=False)
    meta = json.loads((tmp_path / "synth.json").read_text())
    (tmp_path / "synth.json").write_text(json.dumps({**meta, "complete": False}))
    next(tmp_path.rglob("*.jpg")).unlink()
    assert generate(tmp_path, TINY, progress=False)["skipped"] is False
    assert len(list(tmp_path.rglob("*.jpg"))) == 32


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("n_images", 7, "must be even"),
        ("n_images", 0, r"integer in \[2, 1000000\]"),
        ("seed", -1, r"integer in \[0, "),
        ("image_size", 32, r"integer in \[64, 1024\]"),
        ("region_frac", (0.3, 0.1), "low <= high"),
        ("region_frac", (0.1, 0.6), "<= 0.4"),
        ("n_clutter", 40, r"integer in \[0, 32\]"),
        ("clutter_salience", 1.5, r"number in \[0.0, 1.0\]"),
        ("label_noise", 0.7, r"number in \[0.0, 0.5\]"),
        ("balanced", "yes", "True or False"),
        ("adjectives", ("beautiful", "awesome"), r"\['awesome'\] have no look"),
        ("adjectives", ("beautiful", "dark"), "at least 2 positive"),
        ("adjectives", ("beautiful", "beautiful", "dark"), "repeat"),
        ("nouns", ("dog", "spaceship"), r"\['spaceship'\] have no shape"),
        ("nouns", (), "non-empty"),
    ],
)
def test_invalid_fields_are_rejected_naming_the_field_and_the_allowed_values(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(SynthConfigError, match=message) as error:
        SynthConfig(**{field: value})
    assert f"SynthConfig.{field} = " in str(error.value)


def test_lists_from_json_are_accepted_as_tuples() -> None:
    config = SynthConfig(region_frac=[0.1, 0.2], nouns=["dog", "cat"])
    assert config.region_frac == (0.1, 0.2) and config.nouns == ("dog", "cat")
    assert SynthConfig(**config.to_dict()) == config
