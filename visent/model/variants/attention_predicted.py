"""``attention-predicted``: the adjective an attribute detector predicts from the image (You et al. 2017)."""

from visent.model.variants import Variant, attention, register

register(
    Variant(
        "attention-predicted",
        attention("attribute"),
        attends="an adjective predicted from the image",
        purpose="adjective predicted from the image (You et al. 2017), no label leak",
        attribute_source="predicted",
        rank=30,
        default_run=True,
    )
)
