"""Specification of visent.data.index_cache: an unchanged dataset is indexed once, any change is seen."""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from visent.config import RunConfig
from visent.data import index_cache
from visent.data.index_cache import IndexCacheWarning, index_cache_dir
from visent.data.layouts import LAYOUTS, files, load_dataset
from visent.data.ontology import write_vso_ontology
from visent.data.table import Dataset
from visent.pipeline import load_data

HOUR_AGO = time.time() - 3600


def settle(*paths: Path) -> None:
    """Date every folder below ``paths`` (and every given file) an hour back: a tree at rest.

    Trees written moments ago are never cached (see the racy-entry rule), and tests write theirs
    moments before indexing them.
    """
    for path in paths:
        os.utime(path, (HOUR_AGO, HOUR_AGO))
        if path.is_dir():
            for folder, _, _ in os.walk(path):
                os.utime(folder, (HOUR_AGO, HOUR_AGO))


@pytest.fixture
def builds(monkeypatch) -> dict[str, int]:
    """layout -> how many times its indexer ran (a served index does not run it)."""
    counts: dict[str, int] = {}
    for name, layout in LAYOUTS.items():

        @functools.wraps(layout.load)  # keeps the signature, from which load_dataset reads the options
        def counted(*args, _loader=layout.load, _name=name, **kwargs):
            counts[_name] = counts.get(_name, 0) + 1
            return _loader(*args, **kwargs)

        monkeypatch.setitem(LAYOUTS._entries, name, dataclasses.replace(layout, load=counted))
    return counts


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch) -> Path:
    """An empty index cache per test, so entries can be counted."""
    monkeypatch.setenv("VISENT_CACHE", str(tmp_path / "user-cache"))
    return tmp_path / "user-cache"


def entries() -> list[Path]:
    folder = index_cache_dir()
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def assert_same(served: Dataset, fresh: Dataset) -> None:
    pd.testing.assert_frame_equal(served.samples, fresh.samples, check_exact=True)
    for column in ("attribute", "noun", "anp", "group"):
        assert [v is None for v in served.samples[column]] == [v is None for v in fresh.samples[column]]
    assert served.report.problems == fresh.report.problems
    assert (served.name, served.root, served.meta, served.inputs) == (fresh.name, fresh.root, fresh.meta, fresh.inputs)


@pytest.fixture
def vso_tree(tmp_path, make_tree) -> Path:
    root = make_tree(
        tmp_path / "vso",
        {
            "beautiful_sky": ["1.jpg", "2.png", "notes.txt"],
            "dark_night": ["3.jpg"],
            "purple_unicorn": ["4.jpg"],
            "calm_lake": [],
        },
    )
    (root / "README.md").write_text("stray")
    settle(root)
    return root


# ----------------------------------------------------------------------------- served


def test_a_second_load_of_an_unchanged_tree_is_served_without_listing_a_folder(vso_tree, vso_ontology, monkeypatch):
    first = load_dataset("vso", vso_tree, ontology=vso_ontology)

    def no_listing(*args, **kwargs):
        raise AssertionError("the tree was listed again")

    monkeypatch.setattr(files, "scan", no_listing)
    served = load_dataset("vso", vso_tree, ontology=vso_ontology)

    assert_same(served, first)
    assert len(entries()) == 1


def _synthetic(root: Path, make_tree) -> tuple[Path, dict]:
    make_tree(root, {"sunny_beach": ["0.jpg", "1.jpg"], "gloomy_beach": ["0.jpg"]})
    write_vso_ontology(
        root / "ontology.txt",
        {"sunny_beach": ("sunny", "beach", 1.5), "gloomy_beach": ("gloomy", "beach", -1.2)},
        {"sunny": 1.0, "gloomy": -1.0},
    )
    (root / "regions.csv").write_text(
        "path,x0,y0,x1,y1,width,height\nsunny_beach/0.jpg,0,0,24,16,48,32\nsunny_beach/0.jpg,0,0,1,1,48,32\n"
    )
    (root / "synth.json").write_text(json.dumps({"n_images": 3, "seed": 7, "sizes": [1, 2]}))
    settle(root, *root.iterdir())
    return root, {}


def _twitter(root: Path, make_tree) -> tuple[Path, dict]:
    make_tree(root, {"images": ["1.jpg", "2.jpg"]})
    (root / "twitter_five_agrees.txt").write_text("1.jpg 1\n2.jpg 0\ngarbage\n9.jpg 1\n1.jpg 0\n")
    settle(root, *root.iterdir())
    return root, {}


def _folders(root: Path, make_tree) -> tuple[Path, dict]:
    make_tree(root, {"good": ["1.jpg"], "bad": ["2.jpg"], "misc": ["3.jpg"], "good/deeper": ["4.jpg"]})
    settle(root)
    return root, {"mapping": {"good": "positive", "bad": 0}}


def _manifest(root: Path, make_tree) -> tuple[Path, dict]:
    make_tree(root, {"pics": ["a.jpg", "b.jpg"]})
    (root / "manifest.csv").write_text(
        "path,label,attribute,split,source\npics/a.jpg,1,sunny,train,x\n"
        "pics/b.jpg,neg,,,y\npics/c.jpg,1,,,z\n/elsewhere/d.jpg,0,,test,w\n"
    )
    settle(root, *root.iterdir())
    return root, {}


@pytest.mark.parametrize(
    "layout, make", [("synthetic", _synthetic), ("twitter", _twitter), ("folders", _folders), ("manifest", _manifest)]
)
def test_every_layout_is_served_equal_to_a_fresh_index_problems_included(layout, make, tmp_path, make_tree, builds):
    root, options = make(tmp_path / layout, make_tree)
    fresh = load_dataset(layout, root, cache=False, **options)

    load_dataset(layout, root, **options)
    served = load_dataset(layout, root, **options)

    assert builds[layout] == 2  # the uncached load and the one that saved the entry
    assert_same(served, fresh)
    assert fresh.report.problems  # the round trip carries a real report


def test_vso_problems_and_boxes_round_trip_exactly(vso_tree, vso_ontology, tmp_path, builds):
    regions = tmp_path / "regions.csv"
    regions.write_text("path,x0,y0,x1,y1,width,height\nbeautiful_sky/1.jpg,1,2,30,20,48,32\nnowhere.jpg,0,0,1,1,2,2\n")
    settle(regions)
    fresh = load_dataset("vso", vso_tree, ontology=vso_ontology, regions=regions, cache=False)

    load_dataset("vso", vso_tree, ontology=vso_ontology, regions=regions)
    served = load_dataset("vso", vso_tree, ontology=vso_ontology, regions=regions)

    assert builds["vso"] == 2
    assert_same(served, fresh)
    assert [p.reason for p in served.report.problems] == [
        "stray file",
        "not an image file",
        "empty folder",
        "ANP not in ontology",
        "image of an ANP not in ontology",
        "region for unknown image",
    ]
    assert served.report.to_dict() == fresh.report.to_dict()


# ----------------------------------------------------------------------------- invalidation


@pytest.mark.parametrize(
    "change, paths",
    [
        (
            lambda root: (root / "dark_night" / "5.jpg").write_bytes(b""),
            ["beautiful_sky/1.jpg", "beautiful_sky/2.png", "dark_night/3.jpg", "dark_night/5.jpg"],
        ),
        (lambda root: (root / "beautiful_sky" / "2.png").unlink(), ["beautiful_sky/1.jpg", "dark_night/3.jpg"]),
        (
            lambda root: (root / "dark_night" / "3.jpg").rename(root / "dark_night" / "6.jpg"),
            ["beautiful_sky/1.jpg", "beautiful_sky/2.png", "dark_night/6.jpg"],
        ),
        (
            lambda root: (root / "dark_night").rename(root / "dark_clouds"),
            ["beautiful_sky/1.jpg", "beautiful_sky/2.png", "dark_clouds/3.jpg"],
        ),
    ],
    ids=["file added", "file removed", "file renamed", "folder renamed"],
)
def test_adding_removing_or_renaming_a_file_or_folder_reindexes(vso_tree, vso_ontology, builds, change, paths):
    load_dataset("vso", vso_tree, ontology=vso_ontology)
    change(vso_tree)

    changed = load_dataset("vso", vso_tree, ontology=vso_ontology)

    assert builds["vso"] == 2
    assert changed.samples["path"].tolist() == paths


def test_editing_the_ontology_reindexes_with_the_new_labels(vso_tree, tmp_path, builds):
    ontology = tmp_path / "mini.csv"
    ontology.write_text("beautiful_sky,0.8\ndark_night,-0.5\n")
    settle(ontology)
    before = load_dataset("vso", vso_tree, ontology=ontology)
    ontology.write_text("beautiful_sky,-0.8\ndark_night,-0.5\n")

    after = load_dataset("vso", vso_tree, ontology=ontology)

    assert before.samples["label"].tolist() == [1, 1, 0]
    assert after.samples["label"].tolist() == [0, 0, 0]
    assert builds["vso"] == 2


def test_editing_a_twitter_label_file_or_synthetic_regions_reindexes(tmp_path, make_tree, builds):
    twitter, _ = _twitter(tmp_path / "twitter", make_tree)
    synthetic, _ = _synthetic(tmp_path / "synthetic", make_tree)
    load_dataset("twitter", twitter), load_dataset("synthetic", synthetic)

    (twitter / "twitter_five_agrees.txt").write_text("1.jpg 0\n2.jpg 0\n")
    (synthetic / "regions.csv").write_text("path,x0,y0,x1,y1,width,height\n")

    assert load_dataset("twitter", twitter).samples["label"].tolist() == [0, 0]
    assert load_dataset("synthetic", synthetic).samples["x0"].isna().all()
    assert builds == {"twitter": 2, "synthetic": 2}


def test_a_manifest_entry_appearing_in_a_subfolder_or_outside_the_root_reindexes(tmp_path, make_tree, builds):
    root = make_tree(tmp_path / "m", {"pics/deep": ["a.jpg"]})
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "manifest.csv").write_text(f"path,label\npics/deep/a.jpg,1\npics/deep/b.jpg,0\n{outside}/c.jpg,1\n")
    settle(root, root / "manifest.csv", outside)
    assert len(load_dataset("manifest", root)) == 1

    (root / "pics" / "deep" / "b.jpg").write_bytes((root / "pics" / "deep" / "a.jpg").read_bytes())
    assert len(load_dataset("manifest", root)) == 2
    settle(root)
    load_dataset("manifest", root)
    (outside / "c.jpg").write_bytes(b"")
    assert len(load_dataset("manifest", root)) == 3
    assert builds["manifest"] == 4


def test_other_options_or_another_root_are_other_entries(vso_tree, vso_ontology, mvso_ontology, builds):
    vso = load_dataset("vso", vso_tree, ontology=vso_ontology)
    mvso = load_dataset("vso", vso_tree, ontology=mvso_ontology)
    renamed = load_dataset("vso", vso_tree, ontology=vso_ontology, name="other")

    assert vso.meta["ontology_source"] != mvso.meta["ontology_source"] and renamed.name == "other"
    assert builds["vso"] == 3 and len(entries()) == 3


def test_an_index_built_by_other_code_is_not_served(vso_tree, vso_ontology, builds, monkeypatch):
    load_dataset("vso", vso_tree, ontology=vso_ontology)
    monkeypatch.setattr(index_cache, "code_digest", lambda: "other code")

    load_dataset("vso", vso_tree, ontology=vso_ontology)

    assert builds["vso"] == 2


def test_a_tree_changed_within_the_racy_window_is_not_cached(tmp_path, make_tree, vso_ontology, builds):
    fresh = make_tree(tmp_path / "fresh", {"beautiful_sky": ["1.jpg"]})  # written just now

    load_dataset("vso", fresh, ontology=vso_ontology)
    load_dataset("vso", fresh, ontology=vso_ontology)

    assert builds["vso"] == 2 and entries() == []


# ----------------------------------------------------------------------------- bad cache files


def test_a_truncated_cache_file_is_rebuilt_with_a_warning_and_then_served(vso_tree, vso_ontology, builds):
    first = load_dataset("vso", vso_tree, ontology=vso_ontology)
    [entry] = entries()
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])

    with pytest.warns(IndexCacheWarning, match=f"rebuilding the unreadable index cache {entry}"):
        rebuilt = load_dataset("vso", vso_tree, ontology=vso_ontology)
    served = load_dataset("vso", vso_tree, ontology=vso_ontology)

    assert builds["vso"] == 2
    assert_same(rebuilt, first)
    assert_same(served, first)


def test_a_foreign_file_under_the_entry_name_is_not_trusted(vso_tree, vso_ontology, tmp_path, make_tree, builds):
    other = make_tree(tmp_path / "other", {"dark_night": ["9.jpg"]})
    settle(other)
    load_dataset("vso", other, ontology=vso_ontology)
    [foreign] = entries()
    first = load_dataset("vso", vso_tree, ontology=vso_ontology)
    [mine] = [e for e in entries() if e != foreign]
    mine.write_bytes(foreign.read_bytes())

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a well-formed entry of another dataset is a miss, not damage
        again = load_dataset("vso", vso_tree, ontology=vso_ontology)

    assert builds["vso"] == 3
    assert_same(again, first)


def test_an_unwritable_cache_folder_costs_a_warning_not_the_index(vso_tree, vso_ontology, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("VISENT_CACHE", str(blocker))

    with pytest.warns(IndexCacheWarning, match="could not save the index.*--no-index-cache"):
        dataset = load_dataset("vso", vso_tree, ontology=vso_ontology)

    assert len(dataset) == 3


# ----------------------------------------------------------------------------- disabling


def test_cache_false_neither_reads_nor_writes_the_cache(vso_tree, vso_ontology, builds):
    load_dataset("vso", vso_tree, ontology=vso_ontology, cache=False)
    assert entries() == []
    load_dataset("vso", vso_tree, ontology=vso_ontology)

    load_dataset("vso", vso_tree, ontology=vso_ontology, cache=False)

    assert builds["vso"] == 3 and len(entries()) == 1


def test_the_no_index_cache_setting_reaches_the_layout(vso_tree, vso_ontology, builds):
    config = RunConfig(dataset="vso", data_root=str(vso_tree), ontology=str(vso_ontology), index_cache=False)

    load_data(config), load_data(config)

    assert builds["vso"] == 2 and entries() == []


def _header_copy_overwritten(data: bytes) -> bytes:
    """A letter of the header changed in the Arrow schema's base64 copy of it, which is what pyarrow reads."""
    import base64

    import pyarrow.parquet as pq

    copy = pq.ParquetFile(io.BytesIO(data)).metadata.metadata[b"ARROW:schema"]
    changed = base64.b64encode(base64.b64decode(copy).replace(b"purple_unicorn", b"purple_unicorX"))
    assert len(changed) == len(copy) and changed != copy
    return data.replace(copy, changed)


OVERWRITE = {
    "in a data page": lambda data: data.replace(b"beautiful_sky/1.jpg", b"beautiful_sky/X.jpg", 1),
    "in the header": _header_copy_overwritten,
}


@pytest.mark.parametrize("where", OVERWRITE)
def test_an_entry_with_bytes_overwritten_is_rebuilt_with_a_warning(vso_tree, vso_ontology, builds, where):
    first = load_dataset("vso", vso_tree, ontology=vso_ontology)
    [entry] = entries()
    data = entry.read_bytes()
    entry.write_bytes(OVERWRITE[where](data))
    assert entry.stat().st_size == len(data)

    with pytest.warns(IndexCacheWarning, match=f"rebuilding the unreadable index cache {entry}"):
        rebuilt = load_dataset("vso", vso_tree, ontology=vso_ontology)

    assert builds["vso"] == 2
    assert_same(rebuilt, first)
