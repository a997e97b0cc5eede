"""The naive reference: how the paper's pipeline is usually first written.

Each image is opened with PIL and run through torchvision transforms one at a time, and the
VGG-16 trunk runs in fp32 (NCHW) without ``inference_mode``. It computes the same features as
visent: the transforms reproduce the weights' preprocessing (whole-image resize, no crop), so the
benchmarks can check that ours and naive agree before comparing their speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor, nn
from torchvision import transforms

from visent.backbone import Preprocess, Trunk, Weights, to_regions


def naive_transform(preprocess: Preprocess) -> transforms.Compose:
    """torchvision transforms equal to ``preprocess``: ToTensor divides by 255, so the mean and std
    are rescaled to give ``(x * scale - mean) / std`` on the 0..255 pixel ``x``."""
    unit = 255.0 * preprocess.scale
    return transforms.Compose(
        [
            transforms.Resize(preprocess.size),  # (height, width): the whole image, no crop
            transforms.ToTensor(),
            transforms.Normalize([m / unit for m in preprocess.mean], [s / unit for s in preprocess.std]),
        ]
    )


def naive_trunk(weights: Weights) -> nn.Module:
    """The same frozen trunk module as ours (torchvision's ``vgg16().features[:30]``): what is naive
    is how it is fed and run, not the module."""
    return Trunk(weights)


def naive_regions(
    paths: Sequence[Path], trunk: nn.Module, transform: transforms.Compose, device: torch.device = torch.device("cpu")
) -> Tensor:
    """Regions ``(B, 196, 512)`` of ``paths``: open, transform and stack each file, then the trunk on
    ``device`` (no ``inference_mode``, as naive code runs it)."""
    x = torch.stack([transform(Image.open(path).convert("RGB")) for path in paths])  # (B, 3, 224, 224) fp32
    return to_regions(trunk(x.to(device)))
