"""Decoding for extraction (visent.data.decode): the tensor path (batched ``decode_jpeg``, the resize
on the device) gives the PIL path's pixels and features within a stated tolerance, and every file it
cannot take goes through PIL, reported. On the CPU the tensor path runs torchvision's CPU decoder."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

import visent.data.decode as decode
from tests.conftest import PHOTO_NAMES
from visent.backbone import get_weights, uses_compile
from visent.backbone.preprocess import Preprocess
from visent.config import ConfigError, RunConfig
from visent.data.decode import FALLBACK, choose_decoder, image_batches
from visent.data.layouts import load_dataset
from visent.data.table import Dataset
from visent.features import extract_features

CPU = torch.device("cpu")
#: Measured on the five CC0 photos at 224 px, oxford-imagenet, fp32: libjpeg-turbo decodes them
#: bit-equal to PIL, torchvision's antialiased resize moves 0.08% of the pixels by one grey level, and
#: the features then differ by at most 1.1e-3 of their largest value (0.31 of 281.0), 2.4e-3 in
#: relative L2 norm per image. The tolerances leave about twice that, far below bf16's 5e-2 (test_features).
FEATURE_MAX_DIFF = 2e-3  # of the largest feature
FEATURE_L2_DIFF = 5e-3  # per image, relative
#: nvJPEG's IDCT may round unlike libjpeg-turbo's (not yet measured here): +-1 grey level on 60% of the
#: pixels moves the features by 3e-2 of their largest value (measured on the CPU), so the GPU bound is
#: bf16's own 5e-2, what the cache of a CUDA extraction holds anyway.
NVJPEG_FEATURE_MAX_DIFF = 5e-2


@pytest.fixture
def photo_folder(tmp_path, write_photo):
    """The CC0 photos at full size as JPEG files of a ``folders`` dataset."""
    root = tmp_path / "photos"
    for k, name in enumerate(PHOTO_NAMES):
        write_photo(root / ("positive" if k % 2 else "negative") / f"{name}.jpg", name)
    return root


def folders(root) -> Dataset:
    return load_dataset("folders", root, cache=False)


def decode_all(dataset: Dataset, decoder: str, size: int = 224, **loader) -> tuple[np.ndarray, list[str]]:
    """Every row through ``image_batches``: uint8 ``(N, 3, size, size)`` in row order, and the reasons."""
    transform = get_weights("random").transform.resized(size)
    rows = np.arange(len(dataset.samples))
    images, reasons = np.zeros((len(rows), 3, size, size), np.uint8), [""] * len(rows)
    options = {"batch_size": 4, "num_workers": 0} | loader
    for batch_rows, batch, why in image_batches(dataset, rows, transform, CPU, decoder, **options):
        images[batch_rows] = batch.numpy()
        for row, reason in zip(batch_rows, why):
            reasons[row] = reason
    return images, reasons


def fallbacks(dataset: Dataset) -> dict[str, str]:
    return {p.path: p.detail for p in dataset.report.problems if p.reason == FALLBACK}


def test_auto_decodes_on_the_device_under_cuda_and_with_pil_on_the_cpu():
    assert choose_decoder("auto", torch.device("cuda")) == "tensor"
    assert choose_decoder("auto", CPU) == "pil"
    assert choose_decoder("tensor", CPU) == "tensor" and choose_decoder("pil", torch.device("cuda")) == "pil"


def test_an_unknown_decoder_or_compile_mode_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match=r"decoder='gpu' is not allowed; choose one of \['auto', 'pil', 'tensor'\]"):
        RunConfig(decoder="gpu")
    with pytest.raises(ConfigError, match=r"compile='yes' is not allowed; choose one of \['auto', 'on', 'off'\]"):
        RunConfig(compile="yes")


def test_the_trunk_is_compiled_only_for_long_cuda_extractions_unless_asked():
    cuda = torch.device("cuda")
    assert uses_compile("auto", cuda, 20_000) and not uses_compile("auto", cuda, 19_999)
    assert not uses_compile("auto", CPU, 10**7) and uses_compile("on", CPU, 1) and not uses_compile("off", cuda, 10**7)


def test_tensor_path_gives_the_pil_pixels_within_one_grey_level(photo_folder):
    dataset = folders(photo_folder)
    pil, _ = decode_all(dataset, "pil")
    tensor, reasons = decode_all(dataset, "tensor", num_workers=2)  # the workers ship the files' bytes
    diff = np.abs(pil.astype(int) - tensor.astype(int))
    assert diff.max() == 1 and (diff == 0).mean() > 0.998
    assert reasons == [""] * 5 and fallbacks(dataset) == {}


def test_tensor_path_features_agree_with_the_pil_path_on_the_cc0_photos(photo_folder, tmp_path):
    dataset, weights = folders(photo_folder), get_weights("oxford-imagenet")
    caches = {
        decoder: extract_features(dataset, weights, tmp_path / decoder, decoder=decoder, batch_size=5, progress=False)
        for decoder in ("pil", "tensor")
    }
    assert {d: c.manifest["decoder"] for d, c in caches.items()} == {"pil": "pil", "tensor": "tensor"}
    pil, tensor = (c.regions(np.arange(5)).numpy().astype(np.float32) for c in caches.values())
    assert np.abs(pil - tensor).max() <= FEATURE_MAX_DIFF * np.abs(pil).max()
    relative_l2 = np.linalg.norm((pil - tensor).reshape(5, -1), axis=1) / np.linalg.norm(pil.reshape(5, -1), axis=1)
    assert relative_l2.max() <= FEATURE_L2_DIFF


@pytest.mark.skipif(not torch.cuda.is_available(), reason="nvJPEG needs a CUDA device")
def test_nvjpeg_features_agree_with_the_pil_path_on_the_cc0_photos(photo_folder, tmp_path):
    dataset, weights = folders(photo_folder), get_weights("oxford-imagenet")
    pil, tensor = (
        extract_features(dataset, weights, tmp_path / d, device="cuda", amp="off", decoder=d, progress=False)
        .regions(np.arange(5))
        .numpy()
        .astype(np.float32)
        for d in ("pil", "tensor")
    )
    assert fallbacks(dataset) == {}
    assert np.abs(pil - tensor).max() <= NVJPEG_FEATURE_MAX_DIFF * np.abs(pil).max()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_decoded_tensor_as_pil_turns_the_image(tmp_path, photos, orientation):
    path = tmp_path / "ds" / "positive" / "turned.jpg"
    path.parent.mkdir(parents=True)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(photos["chelsea"][:, :300]).save(path, exif=exif)  # not square: a quarter turn shows
    dataset = folders(tmp_path / "ds")
    pil, _ = decode_all(dataset, "pil", size=64)
    tensor, _ = decode_all(dataset, "tensor", size=64)
    assert np.abs(pil.astype(int) - tensor.astype(int)).max() <= 1
    assert fallbacks(dataset) == {}


def test_a_png_is_decoded_by_pil_and_reported(tmp_path, write_photo):
    write_photo(tmp_path / "ds" / "positive" / "a.png", "coffee")
    dataset = folders(tmp_path / "ds")
    pil, _ = decode_all(dataset, "pil")
    tensor, reasons = decode_all(dataset, "tensor")
    assert np.array_equal(pil, tensor) and reasons == [""]
    assert fallbacks(dataset) == {"positive/a.png": "not a JPEG (PNG)"}


def test_corrupt_and_truncated_jpegs_fail_with_the_reasons_of_the_pil_path(tmp_path, photos):
    folder = tmp_path / "ds" / "negative"
    folder.mkdir(parents=True)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    whole = io.BytesIO()
    Image.fromarray(photos["rocket"]).save(whole, format="JPEG")
    (folder / "truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    dataset = folders(tmp_path / "ds")
    _, pil_reasons = decode_all(dataset, "pil")
    tensor, reasons = decode_all(dataset, "tensor")
    assert reasons == pil_reasons and all("truncated or corrupt" in reason for reason in reasons)
    assert not tensor.any() and fallbacks(dataset) == {}  # failed rows, reported as unreadable by the pipeline


def test_a_jpeg_the_device_decoder_refuses_is_decoded_by_pil_and_reported(photo_folder, monkeypatch):
    refused = (photo_folder / "positive" / "coffee.jpg").read_bytes()
    real_decode = decode.decode_jpeg

    def picky(data, **options):
        batch = data if isinstance(data, list) else [data]
        if any(bytes(d.numpy()) == refused for d in batch):
            raise RuntimeError("decode_jpeg, nvjpeg.cpp:1, nvjpegDecode failed: 7")
        return real_decode(data, **options)

    monkeypatch.setattr(decode, "decode_jpeg", picky)
    dataset = folders(photo_folder)
    pil, _ = decode_all(dataset, "pil")
    tensor, reasons = decode_all(dataset, "tensor")
    assert reasons == [""] * 5 and np.abs(pil.astype(int) - tensor.astype(int)).max() == 1
    coffee = int(np.nonzero(dataset.samples["path"].to_numpy() == "positive/coffee.jpg")[0][0])
    assert np.array_equal(pil[coffee], tensor[coffee])
    assert fallbacks(dataset) == {
        "positive/coffee.jpg": "the device decoder refused it (decode_jpeg, nvjpeg.cpp:1, nvjpegDecode failed: 7)"
    }


def test_augmented_rows_keep_the_pil_augmentations_on_the_tensor_path(photo_folder):
    dataset = folders(photo_folder)
    dataset.samples["augment"] = np.arange(5, dtype=np.int16)  # row 0 as it is, rows 1-4 augmented
    pil, _ = decode_all(dataset, "pil", size=64)
    tensor, _ = decode_all(dataset, "tensor", size=64)
    assert np.array_equal(pil[1:], tensor[1:]) and np.abs(pil[0].astype(int) - tensor[0].astype(int)).max() <= 1
    assert fallbacks(dataset) == {}  # augmentation is the design, not a fallback


def test_resize_tensors_takes_images_of_several_sizes_in_one_batch():
    transform = Preprocess(mean=(0, 0, 0), std=(1, 1, 1), scale=1.0, size=(32, 48))
    images = [torch.full((3, 64, 64), 7, dtype=torch.uint8), torch.full((3, 40, 90), 200, dtype=torch.uint8)]
    out = transform.resize_tensors(images)
    assert out.shape == (2, 3, 32, 48) and out.dtype == torch.uint8
    assert out[0].unique().tolist() == [7] and out[1].unique().tolist() == [200]
