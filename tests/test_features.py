"""The conv5_3 feature cache: no-op reruns, resume, atomic shards, foreign, truncated and damaged
shards (each named and extracted again alone), unreadable images kept as reported rows."""

import json
import warnings

import numpy as np
import pytest

from visent.backbone import Trunk, get_weights, to_regions
from visent.data.layouts import load_dataset
from visent.features import (
    DAMAGED,
    CacheDamaged,
    CacheError,
    FeatureCache,
    extract_features,
    features_fingerprint,
)
from visent.precision import PrecisionWarning


@pytest.fixture
def dataset(tmp_path, make_tree):
    root = make_tree(tmp_path / "ds", {"positive": ["a.jpg", "b.jpg", "c.png"], "negative": ["d.jpg", "e.jpg"]})
    (root / "negative" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "negative" / "empty.jpg").write_bytes(b"")
    return load_dataset("folders", root)


@pytest.fixture(scope="module")
def weights():
    return get_weights("random")


@pytest.fixture(scope="module")
def small(weights):
    """Random weights at 64 px (4 x 4 regions): for tests of the cache files, not of the features."""
    return weights.resized(64)


def extract(dataset, weights, cache_dir, **kw):
    return extract_features(dataset, weights, cache_dir, batch_size=3, shard_size=3, progress=False, **kw)


def test_cache_holds_the_backbone_regions_of_every_row(dataset, weights, tmp_path):
    cache = extract(dataset, weights, tmp_path / "cache")
    assert len(cache) == len(dataset.samples) == 7
    row = int(np.nonzero(dataset.samples["path"].to_numpy() == "positive/a.jpg")[0][0])
    from visent.data.images import load_image

    x = weights.transform(load_image(dataset.root / "positive/a.jpg"))[None]
    expected = to_regions(Trunk(weights)(x)).numpy()[0]
    got = cache.regions(np.array([row])).numpy()[0].astype(np.float32)
    assert got.shape == (196, 512)
    assert np.allclose(got, expected, rtol=1e-2, atol=1e-2 * np.abs(expected).max())


def test_unreadable_images_keep_their_row_and_are_listed_with_the_reason(dataset, weights, tmp_path):
    cache = extract(dataset, weights, tmp_path / "cache")
    failed = {dataset.samples["path"].iat[r]: reason for r, reason in cache.failed.items()}
    assert set(failed) == {"negative/broken.jpg", "negative/empty.jpg"}
    assert all(failed.values())
    rows = sorted(cache.failed)
    assert not cache.regions(np.array(rows)).any()


def test_second_extraction_of_the_same_inputs_is_a_no_op(dataset, weights, tmp_path):
    first = extract(dataset, weights, tmp_path / "cache")
    stamp = {p.name: p.stat().st_mtime_ns for p in first.root.iterdir()}
    again = extract(dataset, weights, tmp_path / "cache")
    assert again.root == first.root
    assert {p.name: p.stat().st_mtime_ns for p in again.root.iterdir()} == stamp


def test_interrupted_extraction_resumes_from_finished_shards(dataset, weights, tmp_path):
    cache = extract(dataset, weights, tmp_path / "cache")
    reference = cache.regions(np.arange(len(cache))).numpy()
    (cache.root / "manifest.json").unlink()  # as if the run died before the end
    (cache.root / "shard-00000003-00000006.npy").unlink()
    kept = (cache.root / "shard-00000000-00000003.npy").stat().st_mtime_ns
    resumed = extract(dataset, weights, tmp_path / "cache")
    assert (resumed.root / "shard-00000000-00000003.npy").stat().st_mtime_ns == kept
    assert np.array_equal(resumed.regions(np.arange(len(resumed))).numpy(), reference)


def test_truncated_or_foreign_shards_are_detected_and_recomputed(dataset, weights, tmp_path):
    cache = extract(dataset, weights, tmp_path / "cache")
    reference = cache.regions(np.arange(len(cache))).numpy()
    (cache.root / "manifest.json").unlink()
    shard = cache.root / "shard-00000000-00000003.npy"
    shard.write_bytes(shard.read_bytes()[:1000])
    side = cache.root / "shard-00000003-00000006.json"
    meta = json.loads(side.read_text())
    side.write_text(json.dumps(meta | {"dataset_fingerprint": "someone-else"}))
    resumed = extract(dataset, weights, tmp_path / "cache")
    assert np.array_equal(resumed.regions(np.arange(len(resumed))).numpy(), reference)
    reasons = " ".join(p.reason + p.detail for p in dataset.report.problems)
    assert "unreadable" in reasons or "truncated" in reasons
    assert "another dataset" in reasons


DAMAGE = {
    "cut in half": lambda b: b[: len(b) // 2],
    "emptied": lambda b: b"",
    "cut in its header": lambda b: b[:40],
    "zeroed at the same size": lambda b: bytes(len(b)),
    "bytes overwritten in the data": lambda b: b[:-600] + b"\x7f" * 500 + b[-100:],
}
WHY = {
    "cut in half": "truncated",
    "emptied": "unreadable header",
    "cut in its header": "unreadable header",
    "zeroed at the same size": "unreadable header",
    "bytes overwritten in the data": "checksum mismatch",
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_shard_of_a_finished_cache_is_named_and_only_it_is_extracted_again(dataset, small, tmp_path, damage):
    cache = extract(dataset, small, tmp_path / "cache")
    reference = cache.regions(np.arange(len(cache))).numpy()
    shard = cache.root / "shard-00000003-00000006.npy"
    shard.write_bytes(DAMAGE[damage](shard.read_bytes()))
    with pytest.raises(CacheDamaged, match=f"{shard} is damaged \\({WHY[damage]}"):
        FeatureCache.open(cache.root)
    others = {p.name: p.stat().st_mtime_ns for p in cache.root.glob("shard-*") if not p.name.startswith(shard.stem)}
    healed = extract(dataset, small, tmp_path / "cache")
    assert np.array_equal(healed.regions(np.arange(len(healed))).numpy(), reference)
    assert {name: (cache.root / name).stat().st_mtime_ns for name in others} == others
    [problem] = [p for p in dataset.report.problems if p.reason == DAMAGED]
    assert problem.path == str(shard) and WHY[damage] in problem.detail
    assert problem.detail.endswith("re-extracted from the images")


@pytest.mark.parametrize("damage", ["cut in half", "bytes overwritten in the data"])
def test_a_damaged_manifest_is_rebuilt_from_its_shards_without_extracting(dataset, small, tmp_path, damage):
    cache = extract(dataset, small, tmp_path / "cache")
    manifest = cache.root / "manifest.json"
    text = manifest.read_bytes()
    manifest.write_bytes(DAMAGE[damage](text) if damage == "cut in half" else text.replace(b'"shards"', b'"sh\x00ds"'))
    shards = {p.name: p.stat().st_mtime_ns for p in cache.root.glob("shard-*")}
    healed = extract(dataset, small, tmp_path / "cache")
    assert healed.manifest == cache.manifest
    assert {p.name: p.stat().st_mtime_ns for p in cache.root.glob("shard-*")} == shards
    [problem] = [p for p in dataset.report.problems if p.reason == DAMAGED]
    assert problem.path == str(manifest) and problem.detail.endswith("rebuilt from the shards")


def test_a_cache_written_before_checksums_is_served_unchanged(dataset, small, tmp_path):
    cache = extract(dataset, small, tmp_path / "cache")
    for side in [*cache.root.glob("shard-*.json"), cache.root / "manifest.json"]:  # as an earlier version wrote them
        text = json.loads(side.read_text())
        for entry in text.get("shards", [text]):
            entry.pop("crc32")
        side.write_text(json.dumps(text))
    stamp = {p.name: p.stat().st_mtime_ns for p in cache.root.iterdir()}
    served = extract(dataset, small, tmp_path / "cache")
    assert {p.name: p.stat().st_mtime_ns for p in cache.root.iterdir()} == stamp
    assert "crc32" not in served.manifest["shards"][0]
    assert [p for p in dataset.report.problems if p.reason == DAMAGED] == []


def test_opening_an_unfinished_cache_says_how_to_finish_it(tmp_path):
    with pytest.raises(CacheError, match="visent extract"):
        FeatureCache.open(tmp_path)


def test_labels_and_splits_do_not_change_the_cache_key(dataset):
    before = features_fingerprint(dataset)
    dataset.samples["split"] = "train"
    dataset.samples["label"] = 1 - dataset.samples["label"]
    assert features_fingerprint(dataset) == before


def test_bf16_features_get_their_own_cache_close_to_the_fp32_ones(dataset, weights, tmp_path):
    small = weights.resized(64)  # bf16 may be emulated on this CPU: keep the images small
    fp32 = extract(dataset, small, tmp_path / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)  # an emulating CPU warns; tested in test_precision
        bf16 = extract(dataset, small, tmp_path / "cache", amp="bf16")
    assert bf16.root != fp32.root and bf16.root.name.endswith("-bf16")
    assert (fp32.manifest["precision"], bf16.manifest["precision"]) == ("fp32", "bf16")
    rows = np.setdiff1d(np.arange(len(fp32)), sorted(fp32.failed))
    a, b = (c.regions(rows).numpy().astype(np.float32) for c in (fp32, bf16))
    assert np.abs(a - b).max() <= 0.05 * np.abs(a).max()  # bf16 keeps 8 bits of mantissa


def test_max_pixels_reaches_every_image_and_gets_a_cache_of_its_own(dataset, small, tmp_path):
    default = extract(dataset, small, tmp_path / "cache")
    strict = extract(dataset, small, tmp_path / "cache", max_pixels=48 * 32 - 1)  # the fixture's smallest photo
    assert strict.root != default.root and strict.root.name.endswith("-px1535")
    reasons = [reason for row, reason in strict.failed.items() if row not in default.failed]
    assert len(reasons) == 5 and all("over the limit of 1,535" in r for r in reasons)
