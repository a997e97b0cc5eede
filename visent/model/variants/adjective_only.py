"""``adjective-only``: no image at all, logistic regression on the adjective's word vector: the leak's ceiling."""

from torch import nn

from visent.model.heads import AdjectiveOnly
from visent.model.variants import Variant, register


def _build(region_dim: int, word_dim: int | None, hidden_dim: int, num_classes: int) -> nn.Module:
    return AdjectiveOnly(word_dim=word_dim or 0, num_classes=num_classes)  # word_dim is checked by build_model


register(
    Variant(
        "adjective-only",
        _build,
        attends="no attention: the adjective is the input",
        purpose="no image: the leak's ceiling",
        attribute_source="truth",
        uses_image=False,
        rank=50,
        default_run=True,
    )
)
