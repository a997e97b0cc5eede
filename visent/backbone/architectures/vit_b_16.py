"""``vit_b_16``: ViT-B/16's patch tokens after the last encoder block and its layer norm, the class
token dropped: 768 channels on a grid of 16 x 16-pixel patches (14 x 14 = 196 regions at 224 px),
with torchvision's ``ViT_B_16_Weights.IMAGENET1K_V1``. Other input sides interpolate the position
embeddings as torchvision does (``interpolate_embeddings``)."""

from __future__ import annotations

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models.vision_transformer import VisionTransformer, interpolate_embeddings

from visent.backbone.architecture import Backbone, register_backbone

PATCH = 16


class PatchTokens(VisionTransformer):
    """torchvision's ViT-B/16 without its classification head: images ``(B, 3, H, W)`` -> patch
    tokens as a map ``(B, 768, H / 16, W / 16)``, patch i at row i // (W / 16) as in ``to_regions``."""

    def __init__(self, size: tuple[int, int]) -> None:
        if size[0] != size[1]:
            raise ValueError(f"vit_b_16 takes square inputs, got {size}")
        super().__init__(
            image_size=size[0], patch_size=PATCH, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072
        )
        del self.heads

    def forward(self, images: Tensor) -> Tensor:
        tokens = self._process_input(images)  # (B, 196, 768) at 224 px
        cls = self.class_token.expand(len(tokens), -1, -1)
        tokens = self.encoder(torch.cat([cls, tokens], dim=1))[:, 1:]  # the class token dropped
        rows, columns = images.shape[2] // PATCH, images.shape[3] // PATCH
        return tokens.transpose(1, 2).reshape(len(tokens), -1, rows, columns)  # (B, 768, 14, 14)


@register_backbone
class ViTB16(Backbone):
    name = "vit_b_16"
    title = "ViT-B/16"
    description = "ViT-B/16 patch tokens, the class token dropped"
    rank = 2
    stride = PATCH
    layers = {"patch_tokens": 1}
    finetune = {"none": "patch_tokens"}
    torchvision_weights = torchvision.models.ViT_B_16_Weights.IMAGENET1K_V1
    head_prefixes = ("heads.",)

    def build(self, size: tuple[int, int]) -> nn.Module:
        return PatchTokens(size)

    def cut(self, trunk: nn.Module, start: str | None, stop: str | None) -> nn.Module:
        assert start is None, "vit_b_16 has no trainable block"
        return trunk

    def adapt(self, state: dict[str, Tensor], size: tuple[int, int]) -> dict[str, Tensor]:
        if size == self.native_size:
            return state
        return interpolate_embeddings(size[0], PATCH, state)
