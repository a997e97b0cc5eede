"""``attention-text``: eqs. (1)-(6) steered by the words people wrote about the image (a tweet and its
comments): the paper's mechanism with a real, human-given attribute."""

from visent.model.variants import Variant, attention, register

register(
    Variant(
        "attention-text",
        attention("attribute"),
        attends="the image's own text: the weighted mean of its words' vectors",
        purpose="the paper's mechanism on real words: attention steered by the image's text",
        attribute_source="text",
        rank=70,
        default_run=True,
    )
)
