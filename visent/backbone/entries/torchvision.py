"""``torchvision-imagenet``: each architecture's torchvision ImageNet weights, read from torch hub's
cache (``torch.hub.get_dir()/checkpoints``) and downloaded there on first use when the network
allows, as torchvision does; offline, the error names the file and the folder to put it in."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from torchvision.models import WeightsEnum

from visent.backbone.architecture import get_backbone
from visent.backbone.errors import WeightsUnavailableError
from visent.backbone.preprocess import Preprocess
from visent.backbone.trunk import trunk_keys, validate_trunk
from visent.backbone.weights import Weights, register_weights, weights_id

#: x / 255, then the ImageNet mean and std.
TORCHVISION_PREPROCESS = Preprocess(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), scale=1 / 255)


def hub_file(source: WeightsEnum) -> Path:
    """Where torchvision reads (and downloads) ``source``'s file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / source.url.rsplit("/", 1)[-1]


def _load_torchvision(source: WeightsEnum, backbone: str) -> dict[str, Tensor]:
    path = hub_file(source)
    try:
        full = source.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as exc:
        other = " Or use the default weights 'oxford-imagenet', which need no network." if backbone == "vgg16" else ""
        raise WeightsUnavailableError(
            f"torchvision-imagenet weights of {backbone}: {path.name} could not be read from {path.parent}"
            f" nor downloaded from {source.url} ({type(exc).__name__}: {exc}). Offline? Download that file"
            f" elsewhere and copy it into {path.parent} (or set $TORCH_HOME).{other}"
        ) from exc
    return validate_trunk(trunk_keys(full, backbone), f"torchvision {source} ({path})", backbone)


@register_weights("torchvision-imagenet", "torchvision's ImageNet weights (from torch hub's cache, else downloads)")
def torchvision_imagenet(argument: str | None, backbone: str) -> Weights:
    source = get_backbone(backbone).torchvision_weights
    return Weights(
        id=weights_id("torchvision-imagenet", backbone),
        is_random=False,
        transform=TORCHVISION_PREPROCESS,
        source=f"torchvision {type(source).__name__}.{source.name}",
        loader=lambda: _load_torchvision(source, backbone),
        backbone=backbone,
    )
