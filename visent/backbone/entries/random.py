"""``random``: seeded random initialisation (torchvision's VGG init), flagged ``is_random``:
for tests only, never for reported results."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from visent.backbone.entries.oxford import OXFORD_PREPROCESS
from visent.backbone.trunk import trunk_shapes
from visent.backbone.weights import Weights, register_weights

RANDOM_SEED = 0


def random_state_dict(seed: int = RANDOM_SEED) -> dict[str, Tensor]:
    """Seeded trunk parameters with torchvision's VGG init (Kaiming fan-out, zero bias)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in trunk_shapes().items():
        tensor = torch.zeros(shape)
        if key.endswith(".weight"):
            nn.init.kaiming_normal_(tensor, mode="fan_out", nonlinearity="relu", generator=generator)
        state[key] = tensor
    return state


@register_weights("random", "seeded random weights (tests only)")
def random_weights(argument: str | None) -> Weights:
    return Weights(
        id="random",
        is_random=True,
        transform=OXFORD_PREPROCESS,
        source=f"random init, seed {RANDOM_SEED} (tests only)",
        loader=random_state_dict,
    )
