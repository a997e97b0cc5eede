"""``torchvision-imagenet``: torchvision's ``VGG16_Weights.IMAGENET1K_V1`` (downloaded on first use)."""

from __future__ import annotations

import torchvision
from torch import Tensor

from visent.backbone.errors import WeightsUnavailableError
from visent.backbone.preprocess import Preprocess
from visent.backbone.trunk import trunk_keys, validate_trunk
from visent.backbone.weights import Weights, register_weights

#: x / 255, then the ImageNet mean and std.
TORCHVISION_PREPROCESS = Preprocess(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), scale=1 / 255)


def _load_torchvision() -> dict[str, Tensor]:
    source = torchvision.models.VGG16_Weights.IMAGENET1K_V1
    try:
        full = source.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as exc:
        raise WeightsUnavailableError(
            f"torchvision-imagenet weights could not be downloaded from {source.url} ({type(exc).__name__}: {exc})."
            " Offline? Use the default weights 'oxford-imagenet', which need no network."
        ) from exc
    return validate_trunk(trunk_keys(full), f"torchvision {source}")


@register_weights("torchvision-imagenet", "torchvision VGG16_Weights.IMAGENET1K_V1 (downloads)")
def torchvision_imagenet(argument: str | None) -> Weights:
    return Weights(
        id="torchvision-imagenet",
        is_random=False,
        transform=TORCHVISION_PREPROCESS,
        source="torchvision VGG16_Weights.IMAGENET1K_V1",
        loader=_load_torchvision,
    )
