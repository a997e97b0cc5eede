"""``linear-probe``: the standard frozen-feature baseline, logistic regression on the regions' mean."""

from torch import nn

from visent.model.heads import LinearProbe
from visent.model.variants import Variant, register


def _build(region_dim: int, word_dim: int | None, hidden_dim: int, num_classes: int) -> nn.Module:
    return LinearProbe(region_dim, num_classes, reads="regions")


register(
    Variant(
        "linear-probe",
        _build,
        attends="no attention: the regions' mean",
        purpose="frozen-feature baseline: logistic regression on mean conv5_3, L2 chosen on val",
        trainer="probe",
        rank=60,
    )
)
