"""``attention-truth``: eqs. (1)-(6) steered by the image's own adjective: the paper's model."""

from visent.model.variants import Variant, attention, register

register(
    Variant(
        "attention-truth",
        attention("attribute"),
        attends="the image's own adjective",
        purpose="the paper's model (the 99% row)",
        attribute_source="truth",
        rank=10,
        default_run=True,
    )
)
