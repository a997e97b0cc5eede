"""``attention-text-shuffled``: ``attention-text`` with every image given another image's text."""

from visent.model.variants import Variant, attention, register

register(
    Variant(
        "attention-text-shuffled",
        attention("attribute"),
        attends="another image's text",
        purpose="control: the texts shuffled among the images",
        attribute_source="text-shuffled",
        rank=72,
        default_run=True,
    )
)
