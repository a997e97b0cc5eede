"""``attention-learned``: one learned vector in place of the adjective: attention on pixels alone."""

from visent.model.variants import Variant, attention, register

register(
    Variant(
        "attention-learned",
        attention("learned"),
        attends="one learned vector",
        purpose="image-only attention, one learned query",
        rank=40,
        default_run=True,
    )
)
