"""``random``: seeded random initialisation (each architecture's own, torchvision's), flagged
``is_random``: for tests only, never for reported results."""

from __future__ import annotations

import functools

from visent.backbone.architecture import get_backbone
from visent.backbone.weights import Weights, get_weights, register_weights, weights_id

RANDOM_SEED = 0


@register_weights("random", "seeded random weights (tests only)")
def random_weights(argument: str | None, backbone: str) -> Weights:
    arch = get_backbone(backbone)
    return Weights(
        id=weights_id("random", backbone),
        is_random=True,
        # the preprocessing of the architecture's default weights, which random weights stand in for
        transform=get_weights(None, backbone).transform,
        source=f"random init, seed {RANDOM_SEED} (tests only)",
        loader=functools.partial(arch.random_state, RANDOM_SEED),
        backbone=backbone,
    )
