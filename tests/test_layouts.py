"""Specification of visent.data.layouts and the Dataset table it produces (visent.data.table)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from visent.data.layouts import DatasetNotFoundError, LayoutError, load_dataset
from visent.data.ontology import write_vso_ontology
from visent.data.table import COLUMNS, DataReport, Dataset, DatasetError, Problem


def problems(dataset: Dataset) -> list[tuple[str, str]]:
    return [(p.path, p.reason) for p in dataset.report.problems]


# ----------------------------------------------------------------------------- vso


def test_vso_layout_labels_images_by_anp_polarity_of_the_vso_ontology(tmp_path, make_tree, vso_ontology):
    make_tree(tmp_path, {"beautiful_flower": ["b.png", "a.jpg"], "dark_clouds": ["c.jpg"]})

    ds = load_dataset("vso", tmp_path, ontology=vso_ontology)

    rows = ds.samples[["path", "label", "attribute", "noun", "anp", "group", "augment"]].values.tolist()
    assert rows == [
        ["beautiful_flower/a.jpg", 1, "beautiful", "flower", "beautiful_flower", "beautiful_flower", 0],
        ["beautiful_flower/b.png", 1, "beautiful", "flower", "beautiful_flower", "beautiful_flower", 0],
        ["dark_clouds/c.jpg", 0, "dark", "clouds", "dark_clouds", "dark_clouds", 0],
    ]
    assert ds.samples[["x0", "y0", "x1", "y1"]].isna().all().all()
    assert {c: str(t) for c, t in ds.samples.dtypes.items()} == COLUMNS
    assert ds.report.problems == []
    assert ds.name == tmp_path.name
    assert ds.meta["layout"] == "vso"


def test_vso_layout_reads_the_mvso_csv_ontology(tmp_path, make_tree, mvso_ontology):
    make_tree(tmp_path, {"happy_dog": ["1.jpg"], "sad_face": ["2.jpg", "3.jpg"]})

    ds = load_dataset("vso", tmp_path, ontology=mvso_ontology)

    assert ds.samples["label"].tolist() == [1, 0, 0]
    assert ds.samples["attribute"].tolist() == ["happy", "sad", "sad"]
    assert ds.meta["ontology_source"] == str(mvso_ontology)


def test_vso_layout_reports_anp_folders_missing_from_the_ontology_with_their_file_count(
    tmp_path, make_tree, vso_ontology
):
    make_tree(tmp_path, {"beautiful_sky": ["1.jpg"], "purple_unicorn": ["1.jpg", "2.jpg"]})

    ds = load_dataset("vso", tmp_path, ontology=vso_ontology)

    assert ds.samples["path"].tolist() == ["beautiful_sky/1.jpg"]
    assert problems(ds) == [
        ("purple_unicorn", "ANP not in ontology"),
        ("purple_unicorn/1.jpg", "image of an ANP not in ontology"),
        ("purple_unicorn/2.jpg", "image of an ANP not in ontology"),
    ]
    assert ds.report.problems[0].detail.startswith("2 files skipped")


def test_vso_layout_reports_empty_folders_nested_folders_stray_and_non_image_files(tmp_path, make_tree, vso_ontology):
    make_tree(tmp_path, {"beautiful_sky": ["1.JPG", "notes.txt"], "dark_night": [], "beautiful_sky/old": ["x.jpg"]})
    (tmp_path / "README.md").write_text("about")

    ds = load_dataset("vso", tmp_path, ontology=vso_ontology)

    assert ds.samples["path"].tolist() == ["beautiful_sky/1.JPG"]
    assert sorted(problems(ds)) == [
        ("README.md", "stray file"),
        ("beautiful_sky/notes.txt", "not an image file"),
        ("beautiful_sky/old", "nested folder (not searched)"),
        ("dark_night", "empty folder"),
    ]


def test_vso_layout_skips_and_reports_zero_score_anps(tmp_path, make_tree):
    ontology = tmp_path / "mini.csv"
    ontology.write_text("happy_dog,0.6\ncalm_lake,0\n")
    make_tree(tmp_path / "images", {"happy_dog": ["1.jpg"], "calm_lake": ["1.jpg", "2.jpg"]})

    ds = load_dataset("vso", tmp_path / "images", ontology=ontology)

    assert ds.samples["anp"].tolist() == ["happy_dog"]
    assert problems(ds) == [("calm_lake", "neutral ANP (score 0)")]
    assert ds.report.problems[0].detail.startswith("2 images skipped")


def test_vso_indexing_lists_paths_without_decoding_images(tmp_path, vso_ontology):
    (tmp_path / "beautiful_sky").mkdir()
    (tmp_path / "beautiful_sky" / "not_really.jpg").write_text("decoding would fail later, in load_image")

    ds = load_dataset("vso", tmp_path, ontology=vso_ontology)

    assert ds.samples["path"].tolist() == ["beautiful_sky/not_really.jpg"]


def test_undecodable_file_names_are_reported_not_crashing(tmp_path, make_tree, vso_ontology):
    make_tree(tmp_path, {"beautiful_sky": ["ok.jpg"]})
    raw_name = os.fsencode(tmp_path / "beautiful_sky") + b"/caf\xe9.jpg"
    try:
        with open(raw_name, "wb") as handle:
            handle.write(b"x")
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 names")

    ds = load_dataset("vso", tmp_path, ontology=vso_ontology)

    assert ds.samples["path"].tolist() == ["beautiful_sky/ok.jpg"]
    assert problems(ds) == [("beautiful_sky/caf\\xe9.jpg", "undecodable file name")]
    json.dumps(ds.report.to_dict())


def test_vso_regions_become_relative_boxes_and_bad_rows_are_reported(tmp_path, make_tree, vso_ontology):
    make_tree(tmp_path / "img", {"beautiful_sky": ["1.jpg", "2.jpg", "3.jpg"]})
    regions = tmp_path / "regions.csv"
    regions.write_text(
        "path,x0,y0,x1,y1,width,height\n"
        "beautiful_sky/1.jpg,10,20,30,40,100,80\n"  # line 2: good
        "beautiful_sky/1.jpg,0,0,5,5,100,80\n"  # line 3: duplicate
        "beautiful_sky/2.jpg,90,0,10,40,100,80\n"  # line 4: x1 < x0
        "beautiful_sky/3.jpg,a,0,10,40,100,80\n"  # line 5: not a number
        "dark_night/9.jpg,0,0,1,1,2,2\n"  # line 6: unknown image
    )

    ds = load_dataset("vso", tmp_path / "img", ontology=vso_ontology, regions=regions)

    box = ds.samples.loc[0, ["x0", "y0", "x1", "y1"]].tolist()
    assert box == pytest.approx([0.1, 0.25, 0.3, 0.5])
    assert ds.samples.loc[1:, "x0"].isna().all()
    assert problems(ds) == [
        ("regions.csv:3", "duplicate region row"),
        ("regions.csv:4", "bad region box"),
        ("regions.csv:5", "malformed region row"),
        ("regions.csv:6", "region for unknown image"),
    ]


def test_regions_file_without_its_header_columns_is_an_error_naming_them(tmp_path, make_tree, vso_ontology):
    make_tree(tmp_path / "img", {"beautiful_sky": ["1.jpg"]})
    regions = tmp_path / "regions.csv"
    regions.write_text("file,box\nbeautiful_sky/1.jpg,1\n")

    with pytest.raises(LayoutError, match="lacks column.*x0"):
        load_dataset("vso", tmp_path / "img", ontology=vso_ontology, regions=regions)


# ----------------------------------------------------------------------------- synthetic


def _synth_folder(root, make_tree):
    make_tree(root, {"sunny_beach": ["0.jpg", "1.jpg"], "gloomy_beach": ["0.jpg"]})
    write_vso_ontology(
        root / "ontology.txt",
        {"sunny_beach": ("sunny", "beach", 1.5), "gloomy_beach": ("gloomy", "beach", -1.2)},
        {"sunny": 1.0, "gloomy": -1.0},
    )
    (root / "regions.csv").write_text(
        "path,x0,y0,x1,y1,width,height\nsunny_beach/0.jpg,0,0,24,16,48,32\ngloomy_beach/0.jpg,24,16,48,32,48,32\n"
    )
    (root / "noise.csv").write_text("path,drawn_adjective,filed_adjective\n")
    (root / "synth.json").write_text(json.dumps({"n_images": 3, "seed": 7}))
    return root


def test_synthetic_layout_reads_its_own_ontology_regions_and_config(tmp_path, make_tree):
    root = _synth_folder(tmp_path / "synth", make_tree)

    ds = load_dataset("synthetic", root)

    assert ds.samples["path"].tolist() == ["gloomy_beach/0.jpg", "sunny_beach/0.jpg", "sunny_beach/1.jpg"]
    assert ds.samples["label"].tolist() == [0, 1, 1]
    assert ds.samples.loc[0, ["x0", "y0", "x1", "y1"]].tolist() == [0.5, 0.5, 1.0, 1.0]
    assert math.isnan(ds.samples.loc[2, "x0"])
    assert ds.meta["synth"] == {"n_images": 3, "seed": 7}
    assert ds.meta["layout"] == "synthetic"
    assert ds.meta["noise"] == str(root / "noise.csv")
    assert ds.report.problems == []


def test_synthetic_layout_indexes_a_folder_written_by_visent_synth(tmp_path):
    from visent.data.synth import SynthConfig, generate

    written = generate(tmp_path / "synth", SynthConfig(n_images=8, image_size=64), progress=False)

    ds = load_dataset("synthetic", tmp_path / "synth")

    assert ds.summary()["classes"] == {"positive": written["n_positive"], "negative": written["n_negative"]}
    assert ds.samples[["x0", "y0", "x1", "y1"]].notna().all().all()
    assert ((ds.samples["x0"] < ds.samples["x1"]) & (ds.samples["y1"] <= 1)).all()
    assert ds.report.problems == []
    assert ds.meta["synth"]["config"]["n_images"] == 8


def test_synthetic_layout_refuses_an_unfinished_generation(tmp_path, make_tree):
    root = _synth_folder(tmp_path / "synth", make_tree)
    (root / "synth.json").write_text(json.dumps({"complete": False}))

    with pytest.raises(LayoutError, match="generation did not finish"):
        load_dataset("synthetic", root)


def test_synthetic_layout_without_synth_json_says_how_to_create_it(tmp_path, make_tree):
    root = _synth_folder(tmp_path / "synth", make_tree)
    (root / "synth.json").unlink()

    with pytest.raises(DatasetNotFoundError, match="synth.json is missing.*visent synth"):
        load_dataset("synthetic", root)


# ----------------------------------------------------------------------------- twitter


def _twitter_folder(root, make_tree):
    make_tree(root, {"images": ["1.jpg", "2.jpg", "3.jpg"]})
    lines = ["1.jpg 1", "2.jpg 0", "garbage", "3.jpg 2", "4.jpg 1", "1.jpg 1", "2.jpg 1", "", "3.jpg 0"]
    (root / "twitter_five_agrees.txt").write_bytes("\r\n".join(lines).encode())
    (root / "twitter_four_agrees.txt").write_text("1.jpg 1\n")
    return root


def test_twitter_layout_reports_malformed_missing_duplicate_and_conflicting_lines(tmp_path, make_tree):
    root = _twitter_folder(tmp_path, make_tree)

    ds = load_dataset("twitter", root)

    assert ds.samples[["path", "label"]].values.tolist() == [
        ["images/1.jpg", 1],
        ["images/2.jpg", 0],
        ["images/3.jpg", 0],
    ]
    assert ds.samples["attribute"].tolist() == [None, None, None]
    assert ds.samples["group"].tolist() == ["1", "0", "0"]
    assert problems(ds) == [
        ("twitter_five_agrees.txt:3", "malformed line"),
        ("twitter_five_agrees.txt:4", "malformed line"),
        ("twitter_five_agrees.txt:5", "listed image missing"),
        ("twitter_five_agrees.txt:6", "duplicate line"),
        ("twitter_five_agrees.txt:7", "conflicting labels"),
    ]
    assert "first listed at line 2 with label 0" in ds.report.problems[-1].detail
    assert ds.name == "twitter-five"


def test_twitter_subset_option_picks_the_label_file(tmp_path, make_tree):
    root = _twitter_folder(tmp_path, make_tree)

    ds = load_dataset("twitter", root, subset="four")

    assert ds.samples["path"].tolist() == ["images/1.jpg"]
    with pytest.raises(DatasetNotFoundError, match=r"twitter_three_agrees.txt does not exist.*twitter_five_agrees.txt"):
        load_dataset("twitter", root, subset="three")
    with pytest.raises(ValueError, match="'two' is not one of five, four, three"):
        load_dataset("twitter", root, subset="two")


# ----------------------------------------------------------------------------- folders


def test_folders_layout_maps_the_eight_emotions_to_polarity_and_reports_unknown_folders(tmp_path, make_tree):
    make_tree(tmp_path, {"Amusement": ["1.jpg"], "fear": ["2.jpg"], "awe": ["3.png"], "misc": ["4.jpg"]})

    ds = load_dataset("folders", tmp_path)

    assert ds.samples[["path", "label", "group"]].values.tolist() == [
        ["Amusement/1.jpg", 1, "Amusement"],
        ["awe/3.png", 1, "awe"],
        ["fear/2.jpg", 0, "fear"],
    ]
    assert problems(ds) == [("misc", "unknown class folder"), ("misc/4.jpg", "image of an unknown class folder")]


def test_folders_layout_accepts_a_custom_mapping_and_rejects_non_polarities(tmp_path, make_tree):
    make_tree(tmp_path, {"good": ["1.jpg"], "bad": ["2.jpg"]})

    ds = load_dataset("folders", tmp_path, mapping={"good": "positive", "bad": 0})

    assert ds.samples["label"].tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"mapping\['bad'\] = 'awful' is not a polarity"):
        load_dataset("folders", tmp_path, mapping={"good": 1, "bad": "awful"})


# ----------------------------------------------------------------------------- manifest


def test_manifest_layout_reads_relative_and_absolute_paths_and_reports_bad_rows(tmp_path, make_tree):
    make_tree(tmp_path / "data", {"pics": ["a.jpg", "b.jpg", "c.jpg"]})
    outside = make_tree(tmp_path / "elsewhere", {"x": ["d.jpg"]}) / "x" / "d.jpg"
    manifest = tmp_path / "data" / "list.csv"
    manifest.write_text(
        "path,label,attribute,split\n"
        "pics/a.jpg,positive,sunny,train\n"  # 2
        f"{outside},0,,\n"  # 3
        "pics/b.jpg,2,,\n"  # 4: bad label
        "pics/missing.jpg,1,,\n"  # 5: no such file
        "./pics/a.jpg,0,,\n"  # 6: conflicting repeat of line 2
        "pics/c.jpg,neg,gloomy,holdout\n"  # 7: bad split
        f"{tmp_path / 'data' / 'pics' / 'c.jpg'},NEGATIVE,gloomy,test\n"  # 8: absolute inside
    )

    ds = load_dataset("manifest", manifest)

    assert ds.root == tmp_path / "data"
    assert ds.samples[["path", "label", "attribute", "split"]].values.tolist() == [
        ["pics/a.jpg", 1, "sunny", "train"],
        [outside.as_posix(), 0, None, None],
        ["pics/c.jpg", 0, "gloomy", "test"],
    ]
    assert problems(ds) == [
        ("list.csv:4", "malformed row"),
        ("list.csv:5", "listed image missing"),
        ("list.csv:6", "conflicting labels"),
        ("list.csv:7", "malformed row"),
    ]
    assert all(path.is_file() for path in ds.absolute_paths())


def test_manifest_folder_root_uses_its_manifest_csv_and_requires_path_and_label(tmp_path):
    (tmp_path / "manifest.csv").write_text("file,sentiment\na.jpg,1\n")

    with pytest.raises(LayoutError, match=r"manifest .*manifest.csv lacks column\(s\) path, label"):
        load_dataset("manifest", tmp_path)


def test_manifest_reports_unused_columns_and_rows_with_extra_fields(tmp_path, make_tree):
    make_tree(tmp_path, {"p": ["a.jpg"]})
    (tmp_path / "manifest.csv").write_text("path,label,source\np/a.jpg,1,flickr\np/a.jpg,1,x,y\n")

    ds = load_dataset("manifest", tmp_path)

    assert len(ds) == 1
    assert problems(ds) == [("manifest.csv:1", "ignored column"), ("manifest.csv:3", "malformed row")]


# ----------------------------------------------------------------------------- load_dataset


def test_unknown_layout_lists_the_valid_ones(tmp_path):
    with pytest.raises(
        ValueError,
        match="unknown dataset layout 'coco'; valid layouts: folders, manifest, synthetic, twitter, twitter2, vso",
    ):
        load_dataset("coco", tmp_path)


def test_unknown_and_missing_options_name_the_valid_ones(tmp_path, vso_ontology):
    with pytest.raises(ValueError, match="layout 'twitter' has no option ontology; valid options: subset, name"):
        load_dataset("twitter", tmp_path, ontology=vso_ontology)
    with pytest.raises(ValueError, match="layout 'vso' needs option ontology="):
        load_dataset("vso", tmp_path)


def test_missing_root_is_an_error_naming_it(tmp_path, vso_ontology):
    with pytest.raises(DatasetNotFoundError, match=f"dataset root {tmp_path / 'nope'} does not exist"):
        load_dataset("vso", tmp_path / "nope", ontology=vso_ontology)


# ----------------------------------------------------------------------------- Dataset, DataReport


@pytest.fixture
def four_images(tmp_path, make_tree, vso_ontology) -> Dataset:
    make_tree(tmp_path, {"beautiful_sky": ["1.jpg", "2.jpg"], "dark_night": ["3.jpg"], "dark_clouds": ["4.jpg"]})
    (tmp_path / "purple_unicorn").mkdir()
    return load_dataset("vso", tmp_path, ontology=vso_ontology)


def test_fingerprint_is_stable_and_changes_with_labels_and_file_contents(four_images):
    first = four_images.fingerprint()
    assert four_images.fingerprint() == first

    relabelled = four_images.subset(np.arange(4))
    relabelled.samples.loc[0, "label"] = 0
    assert relabelled.fingerprint() != first

    target = four_images.root / "dark_night" / "3.jpg"
    target.write_bytes(target.read_bytes() + b"\0")
    assert four_images.fingerprint() != first


def test_fingerprint_of_a_vanished_file_says_to_reindex(four_images):
    (four_images.root / "dark_night" / "3.jpg").unlink()

    with pytest.raises(DatasetError, match="3.jpg no longer exists; index the dataset again"):
        four_images.fingerprint()


def test_subset_takes_a_mask_or_positions_and_keeps_report_and_meta(four_images):
    by_mask = four_images.subset(four_images.samples["label"].to_numpy() == 0)
    by_index = four_images.subset([3, 0])

    assert by_mask.samples["path"].tolist() == ["dark_clouds/4.jpg", "dark_night/3.jpg"]
    assert by_index.samples["path"].tolist() == ["dark_night/3.jpg", "beautiful_sky/1.jpg"]
    assert by_index.samples.index.tolist() == [0, 1]
    assert by_mask.report.problems == four_images.report.problems
    assert by_mask.meta == four_images.meta
    with pytest.raises(DatasetError, match="mask has 2 entries for 4 rows"):
        four_images.subset([True, False])


def test_summary_counts_classes_attributes_anps_and_problems(four_images):
    assert four_images.summary() == {
        "name": four_images.root.name,
        "n": 4,
        "n_images": 4,
        "classes": {"positive": 2, "negative": 2},
        "n_attributes": 2,
        "n_anps": 3,
        "n_augmented": 0,
        "problems": {"ANP not in ontology": 1},
    }


def test_data_report_counts_by_reason_and_summarises_in_one_line():
    report = DataReport()
    report.add("a.jpg", "missing")
    report.add("b.jpg", "missing")
    other = DataReport([Problem("c", "empty folder", "no images")])
    report.extend(other)

    assert report.summary() == "3 problems: 2 missing, 1 empty folder"
    assert report.to_dict()["by_reason"] == {"missing": 2, "empty folder": 1}
    assert report.to_dict()["problems"][2] == {"path": "c", "reason": "empty folder", "detail": "no images"}
    assert DataReport().summary() == "no problems"


def test_dataset_rejects_tables_missing_columns_or_with_non_binary_labels(four_images):
    with pytest.raises(DatasetError, match=r"missing columns \['group'\]"):
        Dataset("broken", four_images.root, four_images.samples.drop(columns="group"))
    bad = four_images.samples.copy()
    bad.loc[0, "label"] = 3
    with pytest.raises(DatasetError, match=r"labels must be 0 \(negative\) or 1 \(positive\), found \[3\]"):
        Dataset("broken", four_images.root, bad)
