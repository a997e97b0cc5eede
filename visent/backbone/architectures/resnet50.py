"""``resnet50``: ResNet-50 up to layer4, 2048 channels at 32x downsampling (7 x 7 = 49 regions at
224 px), with torchvision's ``ResNet50_Weights.IMAGENET1K_V2``. The trunk is torchvision's network
without its pooling and ``fc`` head, parameters named as there, frozen in eval mode (batch norm
uses its running statistics)."""

from __future__ import annotations

from collections import OrderedDict

import torchvision
from torch import nn

from visent.backbone.architecture import Backbone, register_backbone

_CHILDREN = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


@register_backbone
class ResNet50(Backbone):
    name = "resnet50"
    title = "ResNet-50"
    description = "ResNet-50 to layer4"
    rank = 1
    stride = 32
    layers = {"layer3": 7, "layer4": 8}
    finetune = {"none": "layer4"}
    torchvision_weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V2
    head_prefixes = ("fc.",)

    def build(self, size: tuple[int, int]) -> nn.Module:
        net = torchvision.models.resnet50(weights=None)
        return nn.Sequential(OrderedDict((name, getattr(net, name)) for name in _CHILDREN))
