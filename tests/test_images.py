"""Specification of visent.data.images: any image file in, upright 8-bit RGB out, or a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from visent.data.images import (
    ImageError,
    high_depth_to_uint8,
    image_size,
    load_image,
    small_image_warnings,
    to_rgb,
)


def test_load_image_returns_rgb_photo_at_its_own_size(tmp_path, write_photo):
    path = write_photo(tmp_path / "cat.jpg", "chelsea")

    img = load_image(path)

    assert img.mode == "RGB"
    assert img.size == (451, 300)


def test_image_error_is_a_value_error_carrying_path_and_reason(tmp_path):
    with pytest.raises(ValueError) as caught:
        load_image(tmp_path / "gone.jpg")

    assert isinstance(caught.value, ImageError)
    assert caught.value.path == str(tmp_path / "gone.jpg")
    assert "does not exist" in caught.value.reason
    assert str(caught.value).startswith(str(tmp_path / "gone.jpg"))


def test_zero_byte_file_is_rejected_as_empty(tmp_path):
    path = tmp_path / "empty.jpg"
    path.touch()

    with pytest.raises(ImageError, match=r"empty file \(0 bytes\)"):
        load_image(path)


def test_text_file_named_jpg_is_rejected_as_not_an_image(tmp_path):
    path = tmp_path / "error_page.jpg"
    path.write_text("<html><body>404 Not Found</body></html>")

    with pytest.raises(ImageError, match="not an image"):
        load_image(path)


def test_truncated_jpeg_is_rejected_when_decoded(tmp_path, write_photo):
    path = write_photo(tmp_path / "cut.jpg", "astronaut")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(path)


def test_grayscale_jpeg_becomes_rgb_with_three_equal_channels(tmp_path, write_photo):
    path = write_photo(tmp_path / "camera.jpg", "camera")

    pixels = np.asarray(load_image(path))

    assert pixels.shape == (512, 512, 3)
    assert np.array_equal(pixels[..., 0], pixels[..., 1])
    assert np.array_equal(pixels[..., 1], pixels[..., 2])


def test_cmyk_jpeg_becomes_rgb_close_to_the_original(tmp_path, photos):
    path = tmp_path / "print.jpg"
    Image.fromarray(photos["coffee"]).convert("CMYK").save(path)

    img = load_image(path)

    assert img.mode == "RGB"
    difference = np.abs(np.asarray(img, dtype=np.int16) - photos["coffee"].astype(np.int16))
    assert difference.mean() < 10


def test_rgba_png_is_composited_on_white(tmp_path):
    pixels = np.zeros((8, 8, 4), dtype=np.uint8)
    pixels[:4] = (200, 30, 40, 255)  # opaque red top half
    pixels[4:] = (0, 0, 0, 0)  # fully transparent black bottom half
    path = tmp_path / "sticker.png"
    Image.fromarray(pixels, "RGBA").save(path)

    rgb = np.asarray(load_image(path))

    assert tuple(rgb[0, 0]) == (200, 30, 40)
    assert tuple(rgb[7, 7]) == (255, 255, 255)


def test_palette_png_with_transparent_index_is_composited_on_white(tmp_path):
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    img.putpixel((0, 0), 1)
    path = tmp_path / "icon.png"
    img.save(path, transparency=0)

    rgb = np.asarray(load_image(path))

    assert tuple(rgb[0, 0]) == (10, 200, 10)
    assert tuple(rgb[3, 3]) == (255, 255, 255)


def test_16_bit_png_is_scaled_to_8_bit_not_clipped(tmp_path):
    levels = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    path = tmp_path / "scan16.png"
    Image.fromarray(levels).save(path)

    rgb = np.asarray(load_image(path))

    assert rgb[0, :, 0].tolist() == [0, 100, 255]


@pytest.mark.parametrize(
    ("values", "mode", "expected"),
    [
        (np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "F", [0, 128, 255]),
        (np.array([[0, 100, 255]], dtype=np.int32), "I", [0, 100, 255]),
        (np.array([[0, 257 * 50, 65535]], dtype=np.int32), "I", [0, 50, 255]),
        (np.array([[-100, 0, 300]], dtype=np.int32), "I", [0, 64, 255]),
        (np.array([[-7, -7]], dtype=np.int32), "I", [0, 0]),
        (np.array([[0, 514]], dtype=np.uint16), "I;16", [0, 2]),
    ],
)
def test_high_depth_values_map_onto_0_255_by_their_range(values, mode, expected):
    assert high_depth_to_uint8(values, mode)[0].tolist() == expected


def test_exif_orientation_6_returns_the_photo_rotated_upright(tmp_path, photos):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    path = tmp_path / "portrait.jpg"
    Image.fromarray(photos["chelsea"]).save(path, exif=exif)

    assert load_image(path).size == (300, 451)
    assert image_size(path) == (300, 451)


def test_decompression_bomb_guard_refuses_images_above_max_pixels(tmp_path, write_photo):
    path = write_photo(tmp_path / "big.png", "rocket")  # 640 x 427

    with pytest.raises(ImageError) as refused:
        load_image(path, max_pixels=640 * 427 - 1)
    assert refused.value.reason == (
        "640x427 = 273,280 pixels, over the limit of 273,279 that guards against decompression bombs;"
        " if the file is trusted, pass --max-pixels 273280 (at most 178,956,970) or downscale it"
    )
    assert load_image(path, max_pixels=640 * 427).size == (640, 427)


def test_small_images_are_read_and_noted_not_skipped(tmp_path, write_photo):
    small = write_photo(tmp_path / "thumb.jpg", "coffee", size=(120, 90))
    large = write_photo(tmp_path / "full.jpg", "coffee")

    assert load_image(small).size == (120, 90)
    report = small_image_warnings([small, large])

    assert [(p.path, p.reason) for p in report.problems] == [(str(small), "small image (upsampled)")]
    assert "120x90" in report.problems[0].detail


def test_small_image_warnings_note_unreadable_headers(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")

    report = small_image_warnings([bad])

    assert report.counts() == {"unreadable image": 1}


def test_pixel_modes_without_rgb_meaning_are_rejected_naming_the_mode():
    with pytest.raises(ImageError, match="unsupported pixel mode 'LAB'"):
        to_rgb(Image.new("LAB", (2, 2)), "lab.tif")
