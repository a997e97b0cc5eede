"""Image -> normalised tensor, as the weights were trained (each weights entry carries one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from visent.backbone.errors import BackboneInputError, PreprocessSpecError, preview

#: The entry of a weights file that records its preprocessing (``Preprocess.describe()``).
PREPROCESS_KEY = "visent_preprocess"
#: The ImageNet input side of the backbones' weights, in pixels: a 14 x 14 conv5_3 grid for VGG-16.
DEFAULT_SIZE = 224

_FIXED_PREPROCESS = {
    "resize": "whole image to size (height, width), no crop",
    "interpolation": "bilinear, antialiased (PIL)",
    "channel_order": "RGB",
    "formula": "(x * scale - mean) / std, x = uint8 pixel 0..255",
}


@dataclass(frozen=True)
class Preprocess:
    """Image -> normalised tensor, split so DataLoader workers ship compact uint8 batches.

    The whole image is resized to ``size`` (no crop), so a box relative to the image maps
    linearly onto the conv5_3 grid; then ``(x * scale - mean) / std`` per RGB channel.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scale: float
    size: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE)  # (height, width)

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3:
            raise PreprocessSpecError(f"mean and std need 3 values (R, G, B); got mean={self.mean}, std={self.std}")
        if min(self.std) <= 0 or self.scale <= 0:
            raise PreprocessSpecError(f"std and scale must be positive; got std={self.std}, scale={self.scale}")
        if len(self.size) != 2 or min(self.size) < 32:
            raise PreprocessSpecError(
                f"size must be (height, width), each >= 32 (the backbones downsample 16x or more); got {self.size}"
            )

    @classmethod
    def from_dict(cls, entry: Any, source: str) -> Preprocess:
        """Read the dict written by ``describe()`` (e.g. a file's ``visent_preprocess`` entry)."""
        if not isinstance(entry, Mapping):
            raise PreprocessSpecError(
                f"{source}: {PREPROCESS_KEY!r} must be a dict with mean, std, scale; got {type(entry).__name__}"
            )
        allowed = {"mean", "std", "scale", "size", *_FIXED_PREPROCESS}
        unknown = set(entry) - allowed
        if unknown:
            raise PreprocessSpecError(
                f"{source}: unknown {PREPROCESS_KEY} keys {preview(unknown)}; allowed: {preview(allowed, 10)}"
            )
        for key, fixed in _FIXED_PREPROCESS.items():
            if key in entry and entry[key] != fixed:
                raise PreprocessSpecError(
                    f"{source}: {PREPROCESS_KEY}[{key!r}] = {entry[key]!r}, but visent only does {fixed!r}"
                    " (for BGR weights, reverse conv1_1's input-channel axis instead)"
                )
        missing = {"mean", "std", "scale"} - set(entry)
        if missing:
            raise PreprocessSpecError(f"{source}: {PREPROCESS_KEY} lacks {preview(missing)}")
        try:
            mean, std = (tuple(float(v) for v in entry[key]) for key in ("mean", "std"))
            size = tuple(int(v) for v in entry.get("size", cls.size))
            return cls(mean=mean, std=std, scale=float(entry["scale"]), size=size)  # type: ignore[arg-type]  # lengths: __post_init__
        except (TypeError, ValueError) as exc:
            raise PreprocessSpecError(f"{source}: bad {PREPROCESS_KEY} {dict(entry)!r}: {exc}") from exc

    def to_uint8(self, img: Image.Image) -> Tensor:
        """Resize an RGB PIL image to ``size``: uint8 ``(3, H, W)``, cheap to batch and ship."""
        if not isinstance(img, Image.Image):
            raise BackboneInputError(
                f"to_uint8 needs a PIL image, got {type(img).__name__}; use PIL.Image.fromarray for arrays"
            )
        if img.mode != "RGB":
            raise BackboneInputError(
                f"to_uint8 needs an RGB image, got mode {img.mode!r}; load images with"
                " visent.data.images.load_image, which converts every mode to RGB"
            )
        height, width = self.size
        resized = img.resize((width, height), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.array(resized)).permute(2, 0, 1).contiguous()  # (3, H, W)

    def resize_tensors(self, images: Sequence[Tensor]) -> Tensor:
        """uint8 RGB images ``(3, h, w)`` of any sizes, on one device -> uint8 ``(B, 3, H, W)`` at ``size``.

        The tensor counterpart of :meth:`to_uint8` for images decoded on the device: torchvision's
        antialiased bilinear resize, within 1 grey level of PIL's (tests/test_decode.py measures it).
        Images of one input size share one resize call."""
        out = torch.empty((len(images), 3, *self.size), dtype=torch.uint8, device=images[0].device)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            by_shape.setdefault(tuple(image.shape), []).append(i)
        for members in by_shape.values():
            out[members] = TF.resize(torch.stack([images[i] for i in members]), list(self.size), antialias=True)
        return out

    def normalize(self, x: Tensor) -> Tensor:
        """uint8 ``(B, 3, H, W)`` on any device -> float32 ``(B, 3, H, W)`` on the same device."""
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
            raise BackboneInputError(
                f"normalize needs a uint8 batch (B, 3, H, W) from to_uint8; got {x.dtype} {tuple(x.shape)}"
            )
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        return (x.to(torch.float32) * self.scale - mean) / std

    def __call__(self, img: Image.Image) -> Tensor:
        """One RGB PIL image -> float32 ``(3, H, W)``."""
        return self.normalize(self.to_uint8(img).unsqueeze(0))[0]

    def describe(self) -> dict[str, Any]:
        """JSON-able description; ``Preprocess.from_dict`` reads it back."""
        return {
            "size": list(self.size),
            "mean": list(self.mean),
            "std": list(self.std),
            "scale": self.scale,
            **_FIXED_PREPROCESS,
        }

    def resized(self, side: int) -> Preprocess:
        """The same normalisation at ``side`` x ``side`` pixels."""
        return Preprocess(self.mean, self.std, self.scale, (side, side))
