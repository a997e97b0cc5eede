"""``vso-adjective-only``: no image, the classifier on the VSO adjectives of the text: their leak alone."""

from torch import nn

from visent.model.heads import LinearProbe
from visent.model.variants import Variant, register


def _build(region_dim: int, word_dim: int | None, hidden_dim: int, num_classes: int) -> nn.Module:
    return LinearProbe(word_dim or 0, num_classes, reads="query")  # word_dim is checked by build_model


register(
    Variant(
        "vso-adjective-only",
        _build,
        attends="no attention: the VSO adjectives' vector is the input",
        purpose="no image: logistic regression on the text's VSO adjectives, L2 chosen on val",
        attribute_source="vso-adjective",
        uses_image=False,
        trainer="probe",
        rank=78,
        default_run=True,
    )
)
