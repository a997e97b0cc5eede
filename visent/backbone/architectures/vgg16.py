"""``vgg16``: the paper's backbone, VGG-16 up to conv5_3 + ReLU.

At 224 x 224 input a 14 x 14 grid of 512-d vectors, the 196 regions ``V_i`` of eq. (1); the trunk is
fully convolutional, so 448 px give 28 x 28 = 784. Fine-tuning (``--finetune conv5``) cuts it at
pool4: the frozen part runs once into the feature cache and block 5 (conv5_1 .. conv5_3) trains
with the head.
"""

from __future__ import annotations

import torch
import torchvision
from torch import Tensor, nn

from visent.backbone.architecture import Backbone, register_backbone, skeleton_state

TRUNK_LAYERS = 30  # vgg16().features[:30]: 13 convs and their ReLUs, 4 max-pools, no pool after conv5_3


@register_backbone
class VGG16(Backbone):
    name = "vgg16"
    title = "VGG-16"
    description = "VGG-16 to conv5_3, the paper's"
    rank = 0
    stride = 16
    layers = {"pool4": 24, "conv5_3": TRUNK_LAYERS}  # vgg16().features[:n]
    finetune = {"none": "conv5_3", "conv5": "pool4"}
    torchvision_weights = torchvision.models.VGG16_Weights.IMAGENET1K_V1
    default_weights = "oxford-imagenet"
    head_prefixes = ("classifier.",)  # VGG-16's fully connected head, which the conv5_3 trunk never uses

    def build(self, size: tuple[int, int]) -> nn.Module:
        return torchvision.models.vgg16(weights=None).features[:TRUNK_LAYERS]

    def random_state(self, seed: int) -> dict[str, Tensor]:
        """torchvision's VGG init (Kaiming fan-out, zero bias) from a generator of its own."""
        generator = torch.Generator().manual_seed(seed)
        state = {}
        for key, (shape, _) in skeleton_state(self.name).items():
            tensor = torch.zeros(shape)
            if key.endswith(".weight"):
                nn.init.kaiming_normal_(tensor, mode="fan_out", nonlinearity="relu", generator=generator)
            state[key] = tensor
        return state
