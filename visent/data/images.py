"""Reading one image file into an upright 8-bit RGB ``PIL.Image``.

Every failure mode of a photo collection scraped from the web (empty downloads, truncated
transfers, HTML error pages saved as ``.jpg``, decompression bombs) becomes an
:class:`ImageError` naming the file, so that callers can report it instead of crashing
half-way through a feature extraction run.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from visent.data.table import DataReport

#: Pillow's own default: about 89.5 megapixels (a 9459 x 9459 image); ``--max-pixels`` changes it.
DEFAULT_MAX_PIXELS: int = 89_478_485
#: The most ``max_pixels`` may be: Pillow refuses to open anything above twice its default.
PILLOW_MAX_PIXELS: int = 2 * DEFAULT_MAX_PIXELS

#: VGG-16 input side. Smaller images are still used, but upsampled by the transform.
MIN_SIDE: int = 224

#: Background that transparent pixels are composited onto. White, because transparent
#: regions of web graphics (logos, stickers) are designed to be seen on a white page.
BACKGROUND: tuple[int, int, int] = (255, 255, 255)

_TRANSPARENT_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_DIRECT_RGB_MODES = {"RGB", "L", "1", "CMYK", "YCbCr", "HSV", "RGBX"}
_HIGH_DEPTH_MODES = {"I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)


class ImageError(ValueError):
    """A file that cannot be used as an image; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def load_image(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``path`` fully and return it as an upright 8-bit RGB image.

    EXIF orientation is applied, so a portrait photo stored sideways comes back portrait.
    Only the first frame of animated GIF/WebP/multi-page TIFF files is used.

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).
            ``None`` leaves the decision to Pillow's global ``Image.MAX_IMAGE_PIXELS``, which
            also still rejects anything above twice its own value.

    Raises:
        ImageError: missing, empty, not an image, truncated or corrupt, too large, or in a
            pixel mode with no RGB meaning.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageError(path, "file does not exist; re-index the dataset") from None
    if size == 0:
        raise ImageError(path, "empty file (0 bytes); delete it or download it again")
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check below replaces Pillow's warning-level threshold.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_pixels(path, img.size, max_pixels)
                # Image.open only reads the header; truncation shows up when decoding.
                img.load()
                upright = ImageOps.exif_transpose(img)
    except ImageError:  # our own verdict (the pixel limit), not a decoding error
        raise
    except Image.DecompressionBombError as err:
        raise ImageError(path, f"decompression bomb refused by Pillow ({err})") from None
    except UnidentifiedImageError:
        raise ImageError(path, "not an image Pillow can read (wrong extension, or an HTML/text file?)") from None
    except _DECODE_ERRORS as err:
        raise ImageError(path, f"truncated or corrupt image data ({err}); download it again") from None
    return to_rgb(upright, path)


def _check_pixels(path: Path, size: tuple[int, int], max_pixels: int | None) -> None:
    """Raise :class:`ImageError` when ``size`` exceeds the decompression-bomb limit."""
    width, height = size
    if max_pixels is not None and width * height > max_pixels:
        raise ImageError(
            path,
            f"{width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,} that guards against"
            f" decompression bombs; if the file is trusted, pass --max-pixels {width * height} (at most"
            f" {PILLOW_MAX_PIXELS:,}) or downscale it",
        )


def to_rgb(img: Image.Image, path: str | os.PathLike[str] = "<image>") -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB.

    - transparency (RGBA, LA, PA, palette with a transparent index) is composited onto
      :data:`BACKGROUND` (white), not dropped, which would expose arbitrary hidden colours;
    - 16-bit, 32-bit integer and float images are rescaled to 0..255 by
      :func:`high_depth_to_uint8` rather than clipped (clipping turns a 16-bit photo white);
    - CMYK uses Pillow's profile-free conversion, adequate for sentiment features.
    """
    mode = img.mode
    if mode == "P":
        mode = "RGBA" if "transparency" in img.info else "RGB"
        img = img.convert(mode)
    if mode in _TRANSPARENT_MODES:
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    if mode in _DIRECT_RGB_MODES:
        return img.convert("RGB")
    if mode in _HIGH_DEPTH_MODES:
        return Image.fromarray(high_depth_to_uint8(np.asarray(img), mode)).convert("RGB")
    raise ImageError(path, f"unsupported pixel mode {img.mode!r}; convert the file to RGB JPEG or PNG")


def high_depth_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map a single-channel 16-bit, 32-bit integer or float array onto 0..255 without clipping.

    ``I;16*`` modes are 16-bit by definition and are divided by 257 (65535 -> 255 exactly).
    Pillow's ``I`` and ``F`` modes do not record the original depth, so their range is read
    from the values: 0..255 is kept, float 0..1 is multiplied by 255, 0..65535 is treated as
    16-bit, and anything else is min-max rescaled.
    """
    is_float = values.dtype.kind == "f"
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if mode.startswith("I;16"):
        scaled = values / 257.0
    elif is_float and low >= 0 and high <= 1:
        scaled = values * 255.0
    elif low >= 0 and high <= 255:
        scaled = values
    elif low >= 0 and high <= 65535:
        scaled = values / 257.0
    else:
        scaled = (values - low) * (255.0 / (high - low or 1.0))
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of ``path`` after EXIF orientation, reading only the header."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            # Orientations 5-8 rotate by 90 degrees, swapping the sides.
            if img.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8):
                return height, width
            return width, height
    except FileNotFoundError:
        raise ImageError(path, "file does not exist; re-index the dataset") from None
    except UnidentifiedImageError:
        raise ImageError(path, "not an image Pillow can read (wrong extension, or an HTML/text file?)") from None
    except _DECODE_ERRORS as err:
        raise ImageError(path, f"unreadable image header ({err})") from None


def small_image_warnings(paths: Iterable[str | os.PathLike[str]], min_side: int = MIN_SIDE) -> DataReport:
    """Note every image whose shorter side is below ``min_side`` pixels.

    Such images are kept (the transform upsamples them to 224 x 224); the notes let a
    reader judge how many of the 196 regions carry interpolated rather than real detail.
    Unreadable headers are noted too. Only headers are read, so this is cheap.
    """
    report = DataReport()
    for path in paths:
        try:
            width, height = image_size(path)
        except ImageError as err:
            report.add(str(path), "unreadable image", err.reason)
            continue
        if min(width, height) < min_side:
            report.add(
                str(path),
                "small image (upsampled)",
                f"{width}x{height} px, shorter side below {min_side} px",
            )
    return report
