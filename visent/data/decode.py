"""Dataset rows -> uint8 batches ``(B, 3, H, W)`` at the backbone's size, on the device that runs it.

Two decoders, chosen by :func:`choose_decoder`:

``pil``
    DataLoader workers decode each file with :func:`~visent.data.images.load_image` (PIL) and resize it
    with ``Preprocess.to_uint8``: the reference, and the CPU's path.
``tensor``
    workers only read the file's bytes and header; JPEGs are decoded in batches by torchvision's
    ``decode_jpeg`` on the device (nvJPEG under CUDA, libjpeg-turbo on the CPU) and resized there by
    ``Preprocess.resize_tensors``. Files it cannot take (not a JPEG, CMYK, no end-of-image marker, refused
    by the decoder) go through PIL instead and each is reported in the dataset's report; augmented rows
    go through PIL too, as the augmentations are PIL operations.

Both give the same rows the same failure reasons (a file PIL cannot read fails on either path), and
features within the tolerance that tests/test_decode.py states.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import ExifTags, Image
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torchvision.io import ImageReadMode, decode_jpeg

from visent.data.augment import augment_image
from visent.data.images import DEFAULT_MAX_PIXELS, ImageError, load_image
from visent.data.table import Dataset

if TYPE_CHECKING:
    from visent.backbone import Preprocess

#: ``decoder`` choices; ``auto`` is :func:`choose_decoder`'s rule.
DECODERS = ("auto", "pil", "tensor")
#: What the report says of a file that the tensor decoder passed to PIL.
FALLBACK = "decoded by PIL"

#: EXIF orientation -> the tensor operation on ``(C, H, W)`` that PIL's ``ImageOps.exif_transpose`` does.
_UPRIGHT: dict[int, Callable[[Tensor], Tensor]] = {
    2: lambda x: x.flip(-1),
    3: lambda x: x.flip(-2, -1),
    4: lambda x: x.flip(-2),
    5: lambda x: x.transpose(-2, -1),
    6: lambda x: torch.rot90(x, -1, (-2, -1)),
    7: lambda x: x.transpose(-2, -1).flip(-2, -1),
    8: lambda x: torch.rot90(x, 1, (-2, -1)),
}

Batch = tuple[list[int], Tensor, list[str]]  # dataset rows, uint8 (B, 3, H, W) on the device, failure reasons


def choose_decoder(decoder: str, device: torch.device) -> str:
    """``pil`` or ``tensor``. ``auto``: tensor on CUDA, where PIL in CPU workers cannot keep up with the
    trunk; PIL on the CPU, whose features stay exactly those of earlier releases."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder={decoder!r} is not one of {DECODERS}")
    if decoder == "auto":
        return "tensor" if device.type == "cuda" else "pil"
    return decoder


def upright(image: Tensor, orientation: int) -> Tensor:
    """A decoded ``(C, H, W)`` image turned as its EXIF ``orientation`` (1..8) says, as PIL would."""
    turn = _UPRIGHT.get(orientation)
    return turn(image) if turn else image


class _Rows(TorchDataset):
    """Rows of a dataset, and their PIL decode: ``(row, uint8 (3, H, W), reason)``, zeros and the reason
    for a file that cannot be read."""

    def __init__(
        self, dataset: Dataset, rows: np.ndarray, transform: Preprocess, augment_seed: int, max_pixels: int
    ) -> None:
        self.root = Path(dataset.root)
        self.paths = dataset.samples["path"].to_numpy()
        self.augment = dataset.samples["augment"].to_numpy() if "augment" in dataset.samples else None
        self.rows = rows
        self.transform = transform
        self.augment_seed = augment_seed
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.rows)

    def augmentation(self, row: int) -> int:
        return 0 if self.augment is None else int(self.augment[row])

    def decode(self, row: int) -> tuple[int, Tensor, str]:
        try:
            img = load_image(self.root / self.paths[row], self.max_pixels)
            if self.augmentation(row) > 0:
                img = augment_image(img, self.augmentation(row), self.augment_seed)
            return row, self.transform.to_uint8(img), ""
        except ImageError as err:
            return row, torch.zeros(3, *self.transform.size, dtype=torch.uint8), err.reason


class _ImageRows(_Rows):
    """PIL path, in the workers."""

    def __getitem__(self, i: int) -> tuple[int, Tensor, str]:
        return self.decode(int(self.rows[i]))


class _EncodedRows(_Rows):
    """Tensor path, in the workers: ``(row, bytes, "", orientation)`` for a JPEG the device can decode,
    else the PIL path's ``(row, image, reason)`` and why PIL was used ("" when not to be reported)."""

    def __getitem__(self, i: int) -> tuple[int, Tensor, str, int | str]:
        row = int(self.rows[i])
        if self.augmentation(row) > 0:
            return (*self.decode(row), "")  # augmentation is by design, not a fallback: not reported
        try:
            data = (self.root / self.paths[row]).read_bytes()
            refusal, orientation = _device_refusal(data, self.max_pixels)
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
            refusal, orientation = f"unreadable header ({err})", 1
        if refusal:
            row, image, reason = self.decode(row)
            return row, image, reason, "" if reason else refusal  # a file PIL cannot read fails, as on PIL's path
        return row, torch.frombuffer(bytearray(data), dtype=torch.uint8), "", orientation


def _device_refusal(data: bytes, max_pixels: int) -> tuple[str, int]:
    """Why ``data`` should not go to ``decode_jpeg`` ("" if it may), and its EXIF orientation."""
    with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as img:  # reads the header only
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size check below decides
        width, height = img.size
        if img.format != "JPEG":
            return f"not a JPEG ({img.format})", 1
        if img.mode not in ("RGB", "L"):
            return f"{img.mode} JPEG, converted to RGB as PIL converts it on the CPU", 1
        if width * height > max_pixels:
            return "above the decompression-bomb guard (PIL reports it)", 1
        orientation = int(img.getexif().get(ExifTags.Base.Orientation, 1))
    # A truncated file must fail as it does under PIL, not decode grey. The rare file with bytes after
    # the marker goes to PIL too, which reads it.
    if not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        return "no end-of-image marker at the end of the file", orientation
    return "", orientation


def _decode_jpegs(encoded: list[Tensor], device: torch.device) -> list[Tensor | str]:
    """Each JPEG decoded to RGB on ``device``, or the decoder's error: one call for the batch, one per
    file only when the batch call fails."""
    with warnings.catch_warnings():
        # torchvision 0.29 deprecates its decoders for TorchCodec, which has no batched nvJPEG decode.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return list(decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device))
        except RuntimeError:
            out: list[Tensor | str] = []
            for data in encoded:
                try:
                    out.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
                except RuntimeError as err:
                    out.append(str(err).splitlines()[-1])
            return out


def _lists(items: list[tuple]) -> tuple[list, ...]:
    """DataLoader collate for items of different sizes: one list per field."""
    return tuple(list(field) for field in zip(*items))


def image_batches(
    dataset: Dataset,
    rows: np.ndarray,
    transform: Preprocess,
    device: torch.device,
    decoder: str,
    *,
    batch_size: int,
    num_workers: int,
    augment_seed: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[Batch]:
    """Batches of ``rows`` of ``dataset`` as ``(rows, uint8 (B, 3, H, W) on device, reasons)``, decoded by
    ``decoder`` (``pil`` or ``tensor``); a row that cannot be read is zeros with its reason."""
    on_pil = decoder == "pil"
    files = (_ImageRows if on_pil else _EncodedRows)(dataset, rows, transform, augment_seed, max_pixels)
    loader = DataLoader(
        files,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=None if on_pil else _lists,
        pin_memory=on_pil and device.type == "cuda",  # the tensor path ships bytes, decoded on the device
    )
    if on_pil:
        for batch_rows, images, reasons in loader:
            yield batch_rows.tolist(), images.to(device, non_blocking=True), list(reasons)
        return
    for batch_rows, payloads, reasons, notes in loader:
        on_device = [k for k, note in enumerate(notes) if isinstance(note, int)]
        decoded = _decode_jpegs([payloads[k] for k in on_device], device) if on_device else []
        good: dict[int, Tensor] = {}
        for k, image in zip(on_device, decoded):
            if isinstance(image, str):
                _, payloads[k], reasons[k] = files.decode(batch_rows[k])
                notes[k] = "" if reasons[k] else f"the device decoder refused it ({image})"
            else:
                good[k] = upright(image, notes[k])
        images = torch.empty((len(batch_rows), 3, *transform.size), dtype=torch.uint8, device=device)
        if good:
            images[list(good)] = transform.resize_tensors(list(good.values()))
        for k, note in enumerate(notes):
            if k not in good:
                images[k] = payloads[k].to(device, non_blocking=True)
                if note:
                    dataset.report.add(dataset.samples["path"].iat[batch_rows[k]], FALLBACK, note)
        yield batch_rows, images, reasons
