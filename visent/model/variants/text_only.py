"""``text-only``: no image at all, the classifier on the text's vector: how much of the label the words carry."""

from torch import nn

from visent.model.heads import LinearProbe
from visent.model.variants import Variant, register


def _build(region_dim: int, word_dim: int | None, hidden_dim: int, num_classes: int) -> nn.Module:
    return LinearProbe(word_dim or 0, num_classes, reads="query")  # word_dim is checked by build_model


register(
    Variant(
        "text-only",
        _build,
        attends="no attention: the text's vector is the input",
        purpose="no image: logistic regression on the text's vector, L2 chosen on val (the words' leak)",
        attribute_source="text",
        uses_image=False,
        trainer="probe",
        rank=76,
        default_run=True,
    )
)
