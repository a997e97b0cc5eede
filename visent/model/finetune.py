"""A VGG-16 block trained together with the head: the paper's "learned end-to-end" on a cache.

The frozen part of the trunk (up to pool4) runs once into the feature cache; every training step
then runs the trainable block (conv5_1 .. conv5_3, from the ImageNet weights) on the cached maps
and the head of eqs. (1)-(6) on the block's output, and the gradient reaches both. A step costs
the block's forward and backward (about 2.8 GFLOP forward per image at 224 px), not VGG-16's
whole forward and backward from pixels.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from visent.backbone.trunk import to_regions


class FineTuned(nn.Module):
    """``head(block(V))``: cached regions ``V`` ``(B, N, C)`` of the block's input (pool4), reshaped
    to their square grid, through the trainable ``block``, then its regions through ``head``.

    The state dict holds both (``block.24.weight`` ..., numbered as in the trunk, and ``head.*``),
    so a checkpoint carries the fine-tuned block to evaluation and to the attention maps.
    """

    def __init__(self, block: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.block = block
        self.head = head

    @property
    def classifier(self) -> nn.Module:
        """The head's eq. (6) layer (``predict`` reads its ``out_features``)."""
        return self.head.get_submodule("classifier")

    def regions(self, V: Tensor) -> Tensor:
        """The block's output regions ``(B, N, C')`` for cached input regions ``(B, N, C)``."""
        B, N, C = V.shape
        side = math.isqrt(N)
        if side * side != N:
            raise ValueError(f"fine-tuning needs a square grid of regions, got N={N}")
        weight = next(self.block.parameters())
        x = V.to(weight.dtype).transpose(1, 2).reshape(B, C, side, side)  # (B, 512, 14, 14) pool4
        return to_regions(self.block(x))  # (B, 196, 512) conv5_3 of the fine-tuned block

    def forward(self, V: Tensor, a: Tensor | None = None, return_attention: bool = False):
        return self.head(self.regions(V), a, return_attention=return_attention)
